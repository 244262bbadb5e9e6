//! Password reset and email verification through `/v1`, with the emails read back from a
//! real SMTP server (aiosmtpd): no account enumeration, single use, expiry, binding to the
//! account and purpose, throttles, sessions ended, links built from the public URL whatever
//! the request's Host header, concurrent spends.

use crate::both_stores;
use crate::helpers::*;
use latchkey_testkit::smtpd::{read_message, Smtpd};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Mutex;

both_stores!(
    forgot_password_does_not_enumerate_accounts,
    a_reset_link_works_once_and_ends_every_session,
    a_reset_code_works_only_for_its_account_and_is_throttled,
    links_expire,
    a_new_link_ends_the_earlier_one,
    links_use_the_public_url_whatever_the_host_header,
    reset_requests_are_throttled_per_address_and_client,
    email_verification_by_link_and_by_code,
    concurrent_resets_with_one_link_one_wins,
    bad_requests_get_clear_errors,
    a_reset_does_not_bypass_the_second_factor,
);

/// A real SMTP server the tenant's email provider points at, and the messages it received.
pub struct Mailbox {
    smtpd: Smtpd,
    seen: Mutex<Vec<PathBuf>>,
}

impl Mailbox {
    /// The SMTP server's port (for another tenant's email provider).
    pub fn port(&self) -> u16 {
        self.smtpd.port
    }

    /// The next message not yet read (waits up to 10 s).
    pub async fn next(&self) -> Value {
        for _ in 0..200 {
            let new = {
                let seen = self.seen.lock().unwrap();
                self.smtpd.delivered().into_iter().find(|p| !seen.contains(p))
            };
            if let Some(path) = new {
                self.seen.lock().unwrap().push(path.clone());
                return read_message(&path);
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no new email arrived");
    }

    /// The next message not yet read whose subject contains `about` (waits up to 10 s),
    /// leaving others unread: for tests where a security notice (docs/events.md) arrives
    /// in between.
    pub async fn next_about(&self, about: &str) -> Value {
        for _ in 0..200 {
            let new: Vec<PathBuf> = {
                let seen = self.seen.lock().unwrap();
                self.smtpd
                    .delivered()
                    .into_iter()
                    .filter(|p| !seen.contains(p))
                    .collect()
            };
            for path in new {
                let msg = read_message(&path);
                if msg["headers"]["Subject"]
                    .as_str()
                    .is_some_and(|s| s.contains(about))
                {
                    self.seen.lock().unwrap().push(path);
                    return msg;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!("no new email about {about:?} arrived");
    }

    /// How many messages arrived so far.
    pub fn count(&self) -> usize {
        self.smtpd.delivered().len()
    }

    /// Waits long enough for a queued message to have been delivered (the outbox worker
    /// runs at least every 500 ms), then says how many arrived.
    pub async fn settled_count(&self) -> usize {
        tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
        self.count()
    }
}

/// A server whose default tenant sends email through aiosmtpd (as "Acme"); `None` (a
/// skip, or a failure in CI) without aiosmtpd.
pub async fn mail_server(b: Backend) -> Option<(TestServer, Mailbox)> {
    if !latchkey_testkit::process::python_module_or_skip("aiosmtpd") {
        return None;
    }
    let smtpd = Smtpd::start();
    let s = spawn(b).await;
    let (status, body) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "app_name": "Acme" })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = send(s.mfa_admin(s.http.put(format!("{}/v1/admin/email-provider", s.url))).json(&json!({
        "provider": "smtp", "host": "127.0.0.1", "port": smtpd.port, "tls": "none", "from": "Acme <no-reply@acme.test>"
    })))
    .await;
    assert_eq!(status, 200, "{body}");
    Some((
        s,
        Mailbox {
            smtpd,
            seen: Mutex::new(Vec::new()),
        },
    ))
}

/// The text part of a message.
pub fn text(msg: &Value) -> String {
    msg["parts"][0]["content"].as_str().unwrap().to_owned()
}

/// The link in a message (the first `https://id.test/…` URL).
pub fn link(msg: &Value) -> String {
    let t = text(msg);
    let at = t.find("https://").expect("a link");
    t[at..].split_whitespace().next().unwrap().to_owned()
}

/// The `token` parameter of the link in a message.
pub fn token(msg: &Value) -> String {
    link(msg).split_once("token=").unwrap().1.to_owned()
}

/// The six-digit code in a message (after "email address: ").
pub fn code(msg: &Value) -> String {
    let t = text(msg);
    let at = t.find("email address: ").expect("a code") + "email address: ".len();
    t[at..at + 6].to_owned()
}

async fn forgot(s: &TestServer, email: &str) -> (u16, Value) {
    s.post_json("/v1/auth/password/forgot", json!({ "email": email }))
        .await
}

async fn reset(s: &TestServer, body: Value) -> (u16, Value) {
    s.post_json("/v1/auth/password/reset", body).await
}

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn forgot_password_does_not_enumerate_accounts(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    s.signup("alice@example.com").await;
    let unknown = forgot(&s, "nobody@example.com").await;
    let known = forgot(&s, "Alice@Example.com").await;
    assert_eq!(unknown.0, 202);
    assert_eq!(known, unknown, "the same status and body for both");
    let msg = mail.next().await;
    assert_eq!(msg["headers"]["To"], "alice@example.com");
    assert_eq!(msg["headers"]["Subject"], "Reset your Acme password");
    assert_eq!(mail.settled_count().await, 1, "no email for the unknown address");
    // Neither token nor code reached the logs.
    let (t, c) = (token(&msg), code(&msg));
    let logs = logs();
    assert!(!logs.contains(&t) && !logs.contains(&format!("email address: {c}")));
    s.stop().await;
}

async fn a_reset_link_works_once_and_ends_every_session(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    let first = s.signup("alice@example.com").await;
    let (_, second) = s.signin("alice@example.com", PASSWORD).await;
    assert_eq!(forgot(&s, "alice@example.com").await.0, 202);
    let msg = mail.next().await;
    let t = token(&msg);
    assert!(t.starts_with("pr_"), "{t}");
    // Without the right password policy nothing is spent.
    let (status, body) = reset(&s, json!({ "token": t, "password": "short" })).await;
    assert_eq!((status, error_code(&body)), (400, "invalid_password"));
    let (status, body) = reset(&s, json!({ "token": t, "password": NEW_PASSWORD })).await;
    assert_eq!(status, 204, "{body}");
    // Every session ended: access tokens and refresh tokens of both sign-ins.
    for tokens in [&first, &second] {
        let (status, _) = send(
            s.get("/v1/users/me")
                .bearer_auth(tokens["access_token"].as_str().unwrap()),
        )
        .await;
        assert_eq!(status, 401);
        let (status, _) = s
            .post_json(
                "/v1/auth/refresh",
                json!({ "refresh_token": tokens["refresh_token"] }),
            )
            .await;
        assert_eq!(status, 401);
    }
    assert_eq!(s.signin("alice@example.com", PASSWORD).await.0, 401);
    let (status, body) = s.signin("alice@example.com", NEW_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["user"]["email_verified"], true,
        "the link proved the address"
    );
    // Once only, by the link or by its code.
    let (status, body) = reset(&s, json!({ "token": t, "password": "yet another passphrase" })).await;
    assert_eq!((status, error_code(&body)), (400, "invalid_link"));
    let (status, body) = reset(
        &s,
        json!({ "email": "alice@example.com", "code": code(&msg), "password": "yet another passphrase" }),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "invalid_link"));
    let (_, audit) = send(s.admin(s.get("/v1/admin/audit-events"))).await;
    assert!(
        audit["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "password.reset" && e["outcome"] == "success"),
        "{audit}"
    );
    s.stop().await;
}

async fn a_reset_code_works_only_for_its_account_and_is_throttled(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    s.signup("alice@example.com").await;
    s.signup("bob@example.com").await;
    forgot(&s, "alice@example.com").await;
    let alice = code(&mail.next().await);
    // Alice's code is not Bob's.
    let (status, body) = reset(
        &s,
        json!({ "email": "bob@example.com", "code": alice, "password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "invalid_link"));
    // Wrong codes are counted per address: the fifth (mfa_max_attempts) starts a wait.
    let wrong = if alice == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        let (status, _) = reset(
            &s,
            json!({ "email": "alice@example.com", "code": wrong, "password": NEW_PASSWORD }),
        )
        .await;
        assert_eq!(status, 400);
    }
    let (status, body) = reset(
        &s,
        json!({ "email": "alice@example.com", "code": alice, "password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (429, "too_many_attempts"),
        "even the right code waits"
    );
    // An address without an account is throttled the same way.
    for _ in 0..5 {
        let (status, body) = reset(
            &s,
            json!({ "email": "nobody@example.com", "code": wrong, "password": NEW_PASSWORD }),
        )
        .await;
        assert_eq!((status, error_code(&body)), (400, "invalid_link"));
    }
    let (status, _) = reset(
        &s,
        json!({ "email": "nobody@example.com", "code": wrong, "password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(status, 429);
    s.clock.advance_secs(31);
    let (status, body) = reset(
        &s,
        json!({ "email": "ALICE@example.com", "code": alice, "password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(s.signin("alice@example.com", NEW_PASSWORD).await.0, 200);
    assert_eq!(s.signin("bob@example.com", PASSWORD).await.0, 200);
    s.stop().await;
}

async fn links_expire(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    let body = s.signup("alice@example.com").await;
    forgot(&s, "alice@example.com").await;
    let reset_msg = mail.next().await;
    let access = body["access_token"].as_str().unwrap();
    let (status, _) = send(s.post("/v1/auth/email/verify/send").bearer_auth(access)).await;
    assert_eq!(status, 202);
    let verify_msg = mail.next().await;
    assert!(text(&verify_msg).contains("24 hours") && text(&reset_msg).contains("30 minutes"));
    s.clock.advance_secs(30 * 60);
    let (status, body) = reset(
        &s,
        json!({ "token": token(&reset_msg), "password": NEW_PASSWORD }),
    )
    .await;
    assert_eq!((status, error_code(&body)), (400, "invalid_link"), "30 minutes");
    s.clock.advance_secs(24 * 3600 - 30 * 60 - 1);
    let (status, body) = s
        .post_json("/v1/auth/email/verify", json!({ "token": token(&verify_msg) }))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email_verified"], true);
    s.stop().await;
}

async fn a_new_link_ends_the_earlier_one(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    s.signup("alice@example.com").await;
    forgot(&s, "alice@example.com").await;
    let old = mail.next().await;
    // Within the resend cooldown no second email goes out (and the answer is the same).
    assert_eq!(forgot(&s, "alice@example.com").await.0, 202);
    assert_eq!(mail.settled_count().await, 1);
    s.clock.advance_secs(61);
    assert_eq!(forgot(&s, "alice@example.com").await.0, 202);
    let new = mail.next().await;
    let (status, body) = reset(&s, json!({ "token": token(&old), "password": NEW_PASSWORD })).await;
    assert_eq!((status, error_code(&body)), (400, "invalid_link"));
    let (status, _) = reset(&s, json!({ "token": token(&new), "password": NEW_PASSWORD })).await;
    assert_eq!(status, 204);
    s.stop().await;
}

async fn links_use_the_public_url_whatever_the_host_header(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    s.signup("alice@example.com").await;
    let (status, _) = send(
        s.post("/v1/auth/password/forgot")
            .header("host", "evil.example")
            .header("x-forwarded-host", "evil.example")
            .json(&json!({ "email": "alice@example.com" })),
    )
    .await;
    assert_eq!(status, 202);
    let msg = mail.next().await;
    let l = link(&msg);
    assert!(l.starts_with("https://id.test/password/reset?token=pr_"), "{l}");
    let all = msg.to_string();
    assert!(!all.contains("evil.example"), "{all}");
    s.stop().await;
}

async fn reset_requests_are_throttled_per_address_and_client(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    for email in ["alice@example.com", "nobody@example.com"] {
        for _ in 0..3 {
            assert_eq!(forgot(&s, email).await.0, 202);
        }
        let resp = s
            .post("/v1/auth/password/forgot")
            .json(&json!({ "email": email }))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 429, "{email}");
        assert_eq!(resp.headers()["retry-after"], "60");
    }
    // Per client address: twenty requests, whatever the addresses.
    for i in 0..14 {
        assert_eq!(forgot(&s, &format!("u{i}@example.com")).await.0, 202);
    }
    let (status, body) = forgot(&s, "last@example.com").await;
    assert_eq!((status, error_code(&body)), (429, "too_many_attempts"));
    s.clock.advance_secs(61);
    assert_eq!(forgot(&s, "alice@example.com").await.0, 202);
    s.stop().await;
}

async fn email_verification_by_link_and_by_code(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    let body = s.signup("alice@example.com").await;
    assert_eq!(body["user"]["email_verified"], false);
    let access = body["access_token"].as_str().unwrap().to_owned();
    let verify_send = || send(s.post("/v1/auth/email/verify/send").bearer_auth(&access));
    assert_eq!(verify_send().await.0, 202);
    let msg = mail.next().await;
    assert_eq!(msg["headers"]["Subject"], "Confirm your email address for Acme");
    let l = link(&msg);
    assert!(l.starts_with("https://id.test/verify-email?token=ev_"), "{l}");
    // A verification link resets no password.
    let (status, body) = reset(&s, json!({ "token": token(&msg), "password": NEW_PASSWORD })).await;
    assert_eq!((status, error_code(&body)), (400, "invalid_link"));
    // Within the cooldown: refused, with the wait.
    let (status, body) = verify_send().await;
    assert_eq!((status, error_code(&body)), (429, "rate_limited"));
    s.clock.advance_secs(61);
    assert_eq!(verify_send().await.0, 202);
    let second = mail.next().await;
    // The first link died with the second; its code confirms.
    let (status, _) = s
        .post_json("/v1/auth/email/verify", json!({ "token": token(&msg) }))
        .await;
    assert_eq!(status, 400);
    let (status, user) = s
        .post_json(
            "/v1/auth/email/verify",
            json!({ "email": "alice@example.com", "code": code(&second) }),
        )
        .await;
    assert_eq!(status, 200, "{user}");
    assert_eq!(user["email_verified"], true);
    let (status, _) = s
        .post_json("/v1/auth/email/verify", json!({ "token": token(&second) }))
        .await;
    assert_eq!(status, 400, "spent with its code");
    let (_, me) = send(s.get("/v1/users/me").bearer_auth(&access)).await;
    assert_eq!(me["email_verified"], true);
    let (status, body) = verify_send().await;
    assert_eq!((status, error_code(&body)), (409, "email_already_verified"));
    let (_, audit) = send(s.admin(s.get("/v1/admin/audit-events"))).await;
    assert!(audit["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "email.verify"));
    s.stop().await;
}

async fn concurrent_resets_with_one_link_one_wins(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    s.signup("alice@example.com").await;
    forgot(&s, "alice@example.com").await;
    let t = token(&mail.next().await);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let req = s
                .post("/v1/auth/password/reset")
                .json(&json!({ "token": t, "password": format!("{NEW_PASSWORD} {i}") }));
            tokio::spawn(async move { req.send().await.unwrap().status().as_u16() })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 204).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 204 || *s == 400), "{statuses:?}");
    let signed_in = passwords_that_sign_in(&s).await;
    assert_eq!(signed_in, 1, "exactly one of the new passwords holds");
    s.stop().await;
}

/// How many of the concurrent test's passwords sign in (the password throttle's waits
/// passed on the clock between tries).
async fn passwords_that_sign_in(s: &TestServer) -> usize {
    let mut n = 0;
    for i in 0..8 {
        s.clock.advance_secs(61);
        if s.signin("alice@example.com", &format!("{NEW_PASSWORD} {i}"))
            .await
            .0
            == 200
        {
            n += 1;
        }
    }
    n
}

async fn bad_requests_get_clear_errors(b: Backend) {
    let s = spawn(b).await;
    let (status, body) = forgot(&s, "not an email").await;
    assert_eq!((status, error_code(&body)), (400, "invalid_email"));
    for body in [
        json!({ "password": NEW_PASSWORD }),
        json!({ "token": "pr_x", "email": "a@example.com", "code": "123456", "password": NEW_PASSWORD }),
        json!({ "email": "a@example.com", "password": NEW_PASSWORD }),
    ] {
        let (status, err) = reset(&s, body).await;
        assert_eq!((status, error_code(&err)), (400, "invalid_request"));
    }
    for t in ["pr_unknown", "ev_wrongpurpose", "", &"pr_".repeat(100)] {
        let (status, err) = reset(&s, json!({ "token": t, "password": NEW_PASSWORD })).await;
        assert_eq!((status, error_code(&err)), (400, "invalid_link"), "{t}");
    }
    let (status, err) = send(s.post("/v1/auth/email/verify/send")).await;
    assert_eq!((status, error_code(&err)), (401, "missing_credentials"));
    let (status, err) = s
        .post_json("/v1/auth/email/verify", json!({ "token": "ev_x", "extra": 1 }))
        .await;
    assert_eq!(status, 400, "{err}");
    s.stop().await;
}

/// SECURITY.md test 43: a reset gives no session, leaves the factors alone, and the next
/// sign-in still asks for the second factor.
async fn a_reset_does_not_bypass_the_second_factor(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    let body = s.signup("alice@example.com").await;
    let access = body["access_token"].as_str().unwrap().to_owned();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&access)
            .json(&json!({ "type": "totp", "name": "phone" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let totp = crate::mfa::code(&s, e["secret"].as_str().unwrap(), 0);
    let (status, _) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&access)
            .json(&json!({ "code": totp })),
    )
    .await;
    assert_eq!(status, 200);
    forgot(&s, "alice@example.com").await;
    let msg = mail.next_about("Reset your Acme password").await;
    let (status, body) = reset(&s, json!({ "token": token(&msg), "password": NEW_PASSWORD })).await;
    assert_eq!((status, &body), (204, &Value::Null), "no session, no token");
    let (status, body) = s.signin("alice@example.com", NEW_PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    let (_, factors) = send(s.admin(s.get(&format!("/v2/admin/users/{}/mfa", body_user(&s).await)))).await;
    assert!(factors.to_string().contains(&fid), "factors untouched: {factors}");
    s.stop().await;
}

async fn body_user(s: &TestServer) -> String {
    let (_, list) = send(s.admin(s.get("/v1/admin/users?email=alice@example.com"))).await;
    list["users"][0]["id"].as_str().unwrap().to_owned()
}
