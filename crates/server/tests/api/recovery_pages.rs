//! Sign-up, the forgotten-password pages and email verification as a browser meets them:
//! forms with the right fields, anti-forgery on every POST, links that a GET never spends,
//! the same answer for every address, the API's throttles with the wait shown, errors tied
//! to their field. Emails are read back from a real SMTP server.

use crate::both_stores;
use crate::helpers::*;
use crate::pages::{check_headers, Browser, Page};
use crate::recovery::{code, link, mail_server};
use serde_json::json;

both_stores!(
    signup_on_the_pages_signs_in_and_verifies_the_address,
    signup_closed_and_the_links_on_the_sign_in_page,
    signup_with_mfa_required_leads_to_forced_enrollment,
    forgot_and_reset_by_link_on_the_pages,
    reset_by_code_on_the_pages_is_throttled,
    reset_requests_on_the_pages_are_throttled,
    verification_from_the_signed_in_page,
    every_new_form_refuses_forgery,
);

const NEW_PASSWORD: &str = "a brand new passphrase";

/// The path and query of a link in an email (`https://id.test/…`).
fn path_of(l: &str) -> String {
    l.strip_prefix("https://id.test")
        .expect("a link to the public URL")
        .to_owned()
}

fn has_error_on(p: &Page, field: &str) {
    let marker = format!("id=\"{field}\"");
    let at = p
        .body
        .find(&marker)
        .unwrap_or_else(|| panic!("no {field}: {}", p.body));
    let input = &p.body[at..at + p.body[at..].find('>').unwrap()];
    assert!(input.contains("aria-invalid=\"true\""), "{input}");
    assert!(
        input.contains(&format!("{field}-error")),
        "error tied to the field: {input}"
    );
}

async fn signup_on_the_pages_signs_in_and_verifies_the_address(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    s.signup("taken@example.com").await;
    let mut br = Browser::new(&s);
    let form = br.get("/signup").await;
    assert_eq!(form.status, 200);
    form.is_html();
    check_headers(&form, "/signup");
    assert!(form.body.contains("autocomplete=\"new-password\""));
    assert!(form.body.contains("<label for=\"password\""));
    let p = br
        .submit(
            "/signup",
            "/signup",
            &[("email", "nope"), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(p.status, 400);
    has_error_on(&p, "email");
    let p = br
        .submit(
            "/signup",
            "/signup",
            &[("email", "new@example.com"), ("password", "short")],
        )
        .await;
    assert_eq!(p.status, 400);
    has_error_on(&p, "password");
    assert!(p.body.contains("at least 8 characters"));
    let p = br
        .submit(
            "/signup",
            "/signup",
            &[("email", "taken@example.com"), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(p.status, 409);
    has_error_on(&p, "email");
    let p = br
        .submit(
            "/signup",
            "/signup",
            &[("email", "New@Example.com"), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
    let account = br.get("/account/security").await;
    assert_eq!(account.status, 200, "signed in");
    // The verification email: its page does not spend the link on GET.
    let msg = mail.next().await;
    assert_eq!(msg["headers"]["To"], "new@example.com");
    let path = path_of(&link(&msg));
    assert!(path.starts_with("/verify-email?token=ev_"), "{path}");
    let first = br.get(&path).await;
    let again = br.get(&path).await;
    assert_eq!((first.status, again.status), (200, 200));
    let p = br
        .post(
            "/verify-email",
            &[("csrf", &again.csrf()), ("token", &again.field("token"))],
        )
        .await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/account/security?notice=email_verified")
    );
    let account = br.get("/account/security?notice=email_verified").await;
    assert!(account.body.contains("Your email address is confirmed."));
    let (_, user) = send(s.admin(s.get("/v1/admin/users?email=new@example.com"))).await;
    assert_eq!(user["users"][0]["email_verified"], true, "{user}");
    // Spent: the link's page now says so.
    let spent = br.get(&path).await;
    assert_eq!(spent.status, 400);
    assert!(spent.body.contains("This link does not work"));
    s.stop().await;
}

async fn signup_closed_and_the_links_on_the_sign_in_page(b: Backend) {
    let s = spawn(b).await;
    let mut br = Browser::new(&s);
    let login = br.get("/login").await;
    assert!(login.body.contains("href=\"/password/forgot\""));
    assert!(login.body.contains("href=\"/signup\""), "open: offered");
    let token = br.get("/signup").await.csrf();
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "signup_enabled": false })),
    )
    .await;
    assert_eq!(status, 200);
    let login = br.get("/login").await;
    assert!(login.body.contains("href=\"/password/forgot\""));
    assert!(!login.body.contains("href=\"/signup\""), "closed: not offered");
    let closed = br.get("/signup").await;
    assert_eq!(closed.status, 200);
    assert!(closed.body.contains("Sign-up is closed"));
    assert!(!closed.body.contains("<form method=\"post\" action=\"/signup\""));
    let p = br
        .post(
            "/signup",
            &[
                ("csrf", &token),
                ("email", "new@example.com"),
                ("password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.status, 403);
    assert!(p.body.contains("Sign-up is closed"));
    s.stop().await;
}

async fn signup_with_mfa_required_leads_to_forced_enrollment(b: Backend) {
    let s = spawn(b).await;
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_required": true })),
    )
    .await;
    assert_eq!(status, 200);
    let mut br = Browser::new(&s);
    let p = br
        .submit(
            "/signup",
            "/signup",
            &[("email", "new@example.com"), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/login/enroll"), "{}", p.body);
    let enroll = br.get("/login/enroll").await;
    assert_eq!(enroll.status, 200);
    assert_eq!(br.get("/account/security").await.location(), "/login");
    s.stop().await;
}

async fn forgot_and_reset_by_link_on_the_pages(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    let tokens = s.signup("alice@example.com").await;
    let mut br = Browser::new(&s);
    let form = br.get("/password/forgot").await;
    assert_eq!(form.status, 200);
    check_headers(&form, "/password/forgot");
    let unknown = br
        .submit(
            "/password/forgot",
            "/password/forgot",
            &[("email", "nobody@example.com")],
        )
        .await;
    let known = br
        .submit(
            "/password/forgot",
            "/password/forgot",
            &[("email", "alice@example.com")],
        )
        .await;
    assert_eq!((unknown.status, known.status), (200, 200));
    assert_eq!(unknown.body, known.body, "the same page for both");
    assert!(known.body.contains("Check your email"));
    let msg = mail.next().await;
    assert_eq!(msg["headers"]["To"], "alice@example.com");
    let path = path_of(&link(&msg));
    assert!(path.starts_with("/password/reset?token=pr_"), "{path}");
    // Fetching the link (a mail scanner would) spends nothing.
    br.get(&path).await;
    let page = br.get(&path).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("autocomplete=\"new-password\""));
    let t = page.field("token");
    let p = br
        .post(
            "/password/reset",
            &[("csrf", &page.csrf()), ("token", &t), ("password", "short")],
        )
        .await;
    assert_eq!(p.status, 400);
    has_error_on(&p, "password");
    let p = br
        .post(
            "/password/reset",
            &[("csrf", &page.csrf()), ("token", &t), ("password", NEW_PASSWORD)],
        )
        .await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/login?notice=password_reset"),
        "{}",
        p.body
    );
    let login = br.get("/login?notice=password_reset").await;
    assert!(login.body.contains("Your password was changed"));
    // The API session from sign-up ended with the reset.
    let (status, _) = send(
        s.get("/v1/users/me")
            .bearer_auth(tokens["access_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 401);
    let p = br.login("alice@example.com", NEW_PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/account/security"));
    // Once only.
    let spent = br.get(&path).await;
    assert_eq!(spent.status, 400);
    let csrf = br.get("/password/reset").await.csrf();
    let p = br
        .post(
            "/password/reset",
            &[("csrf", &csrf), ("token", &t), ("password", "another passphrase")],
        )
        .await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("This link does not work"));
    s.stop().await;
}

async fn reset_by_code_on_the_pages_is_throttled(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    s.signup("alice@example.com").await;
    let mut br = Browser::new(&s);
    br.submit(
        "/password/forgot",
        "/password/forgot",
        &[("email", "alice@example.com")],
    )
    .await;
    let right = code(&mail.next().await);
    let wrong = if right == "000000" { "111111" } else { "000000" };
    let form = br.get("/password/reset").await;
    assert!(form.body.contains("autocomplete=\"one-time-code\""));
    let csrf = form.csrf();
    let fields = |c: &str| {
        vec![
            ("csrf", csrf.clone()),
            ("email", "alice@example.com".to_owned()),
            ("code", c.to_owned()),
            ("password", NEW_PASSWORD.to_owned()),
        ]
    };
    for _ in 0..5 {
        let f = fields(wrong);
        let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let p = br.post("/password/reset", &refs).await;
        assert_eq!(p.status, 400);
        has_error_on(&p, "code");
    }
    let f = fields(&right);
    let refs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let p = br.post("/password/reset", &refs).await;
    assert_eq!(p.status, 429, "{}", p.body);
    assert_eq!(p.headers["retry-after"], "30");
    assert!(p.body.contains("Wait 30 seconds"), "the wait is shown");
    has_error_on(&p, "code");
    s.clock.advance_secs(31);
    let p = br.post("/password/reset", &refs).await;
    assert_eq!((p.status, p.location()), (303, "/login?notice=password_reset"));
    s.stop().await;
}

async fn reset_requests_on_the_pages_are_throttled(b: Backend) {
    let s = spawn(b).await;
    let mut br = Browser::new(&s);
    for _ in 0..3 {
        let p = br
            .submit(
                "/password/forgot",
                "/password/forgot",
                &[("email", "who@example.com")],
            )
            .await;
        assert_eq!(p.status, 200);
    }
    let p = br
        .submit(
            "/password/forgot",
            "/password/forgot",
            &[("email", "who@example.com")],
        )
        .await;
    assert_eq!(p.status, 429);
    assert_eq!(p.headers["retry-after"], "60");
    assert!(p.body.contains("Wait 60 seconds"), "{}", p.body);
    has_error_on(&p, "email");
    s.stop().await;
}

async fn verification_from_the_signed_in_page(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    s.signup("alice@example.com").await;
    let mut br = Browser::new(&s);
    let p = br.login("alice@example.com", PASSWORD).await;
    assert_eq!(p.location(), "/account/security");
    let page = br.get("/verify-email").await;
    assert!(page.body.contains("Send me a new link"));
    assert!(page.body.contains("Signed in as alice@example.com"));
    let forged = br.post("/verify-email/send", &[("csrf", "forged")]).await;
    assert_eq!(forged.status, 403);
    let p = br.post("/verify-email/send", &[("csrf", &page.csrf())]).await;
    assert_eq!(p.status, 200);
    assert!(p.body.contains("We sent a link"));
    let p = br.post("/verify-email/send", &[("csrf", &page.csrf())]).await;
    assert_eq!(p.status, 429, "the resend cooldown");
    assert!(p.headers.get("retry-after").is_some());
    let c = code(&mail.next().await);
    let p = br
        .post(
            "/verify-email",
            &[
                ("csrf", &page.csrf()),
                ("email", "alice@example.com"),
                ("code", &c),
            ],
        )
        .await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/account/security?notice=email_verified")
    );
    let page = br.get("/verify-email").await;
    assert!(page.body.contains("Your email address is confirmed already."));
    assert!(!page.body.contains("Send me a new link"));
    s.stop().await;
}

async fn every_new_form_refuses_forgery(b: Backend) {
    let s = spawn(b).await;
    let mut br = Browser::new(&s);
    br.get("/signup").await;
    for path in ["/signup", "/password/forgot", "/password/reset", "/verify-email"] {
        let p = br
            .post(path, &[("email", "alice@example.com"), ("csrf", "forged")])
            .await;
        assert_eq!(p.status, 403, "{path}");
        p.is_html();
        check_headers(&p, path);
    }
    // A page that a link opens shows nothing but "does not work" for a token it does not know.
    for path in [
        "/password/reset?token=pr_unknown",
        "/verify-email?token=ev_unknown",
    ] {
        let p = br.get(path).await;
        assert_eq!(p.status, 400, "{path}");
        assert!(p.body.contains("This link does not work"));
    }
    s.stop().await;
}
