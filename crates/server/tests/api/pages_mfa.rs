//! The second-factor step of the pages with codes sent by SMS or email: the code sent when
//! the factor is first shown and never again on a reload, the resend cooldown shown and
//! enforced, and "try another method". SMS goes through the signed webhook provider to the
//! stand-in gateway (`gateway.rs`), email through the console provider.

use crate::both_stores;
use crate::delivery::{allow_all, settle, sms_server, sms_user, wait_for_console_email, PHONE};
use crate::gateway::Gateway;
use crate::helpers::*;
use crate::pages::{inputs_are_styled, Browser};
use serde_json::{json, Value};

both_stores!(
    an_sms_code_is_sent_on_arrival_once,
    another_method_is_one_link_away,
    an_email_code_is_sent_on_arrival_once,
    sms_enrollment_on_the_pages,
    sms_enrollment_only_where_allowed,
    email_enrollment_on_the_pages,
);

/// Whether the page's resend button is disabled (no script: the HTML attribute).
fn resend_disabled(body: &str) -> bool {
    body.contains("disabled aria-describedby=\"wait-")
}

async fn an_sms_code_is_sent_on_arrival_once(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let (_, fid) = sms_user(&s, &gw, "alice@example.com", PHONE).await;
    let mut br = Browser::new(&s);
    let p = br.login("alice@example.com", PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/login/mfa"), "{}", p.body);
    assert_eq!(gw.received().len(), 1, "nothing sent before the page is shown");

    let mfa = br.get("/login/mfa").await;
    assert_eq!(mfa.status, 200, "{}", mfa.body);
    mfa.is_html();
    assert!(mfa.body.contains("We sent a code to +1***2671"), "{}", mfa.body);
    assert!(
        mfa.body.contains("You can ask for a new code in 60 seconds."),
        "{}",
        mfa.body
    );
    assert!(resend_disabled(&mfa.body), "{}", mfa.body);
    assert_eq!(mfa.field("factor_id"), fid);
    let first = gw.code(2).await;

    // A reload shows the code form again and sends nothing.
    s.clock.advance_secs(5);
    let again = br.get("/login/mfa").await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("We sent a code to +1***2671"));
    assert!(
        again.body.contains("You can ask for a new code in 55 seconds."),
        "{}",
        again.body
    );
    settle().await;
    assert_eq!(gw.received().len(), 2, "a reload sent a code");

    // Asking again before the cooldown: the page with the wait, and nothing sent.
    s.clock.advance_secs(15);
    let early = br
        .post("/login/mfa/send", &[("csrf", &mfa.csrf()), ("factor_id", &fid)])
        .await;
    assert_eq!(early.status, 429, "{}", early.body);
    early.is_html();
    assert_eq!(early.headers["retry-after"], "40");
    assert!(
        early.body.contains("Wait 40 seconds before asking for another."),
        "{}",
        early.body
    );
    assert!(early.body.contains("You can ask for a new code in 40 seconds."));
    assert!(resend_disabled(&early.body));
    assert!(early.body.contains("name=\"code\""), "the code form stays open");
    settle().await;
    assert_eq!(gw.received().len(), 2, "a resend inside the cooldown sent a code");

    // After the cooldown the button is live and sends a new code, which replaces the first.
    s.clock.advance_secs(41);
    let ready = br.get("/login/mfa").await;
    assert!(!resend_disabled(&ready.body), "{}", ready.body);
    assert!(!ready.body.contains("You can ask for a new code"));
    let resent = br
        .post("/login/mfa/send", &[("csrf", &ready.csrf()), ("factor_id", &fid)])
        .await;
    assert_eq!(
        (resent.status, resent.location()),
        (303, format!("/login/mfa?factor={fid}").as_str())
    );
    let second = gw.code(3).await;
    let shown = br.get(resent.location()).await;
    assert!(shown.body.contains("You can ask for a new code in 60 seconds."));
    settle().await;
    assert_eq!(gw.received().len(), 3);

    let csrf = shown.csrf();
    let p = br
        .post(
            "/login/mfa/verify",
            &[("csrf", &csrf), ("factor_id", &fid), ("code", &first)],
        )
        .await;
    assert_eq!(p.status, 401, "the first code was superseded");
    let p = br
        .post(
            "/login/mfa/verify",
            &[("csrf", &csrf), ("factor_id", &fid), ("code", &second)],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
    s.stop().await;
}

/// The id of the user's factor of `kind`.
async fn factor_id(s: &TestServer, token: &str, kind: &str) -> String {
    let (status, list) = send(s.get("/v1/users/me/mfa/factors").bearer_auth(token)).await;
    assert_eq!(status, 200, "{list}");
    list["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == kind)
        .and_then(|f| f["factor_id"].as_str())
        .unwrap_or_else(|| panic!("no {kind} factor in {list}"))
        .to_owned()
}

async fn another_method_is_one_link_away(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let (token, sms) = sms_user(&s, &gw, "bob@example.com", PHONE).await;
    let backup = factor_id(&s, &token, "backup_codes").await;
    let mut br = Browser::new(&s);
    let p = br.login("bob@example.com", PASSWORD).await;
    assert_eq!(p.location(), "/login/mfa");

    // Backup codes asked for first: one form, the SMS a link away, no text sent.
    let p = br.get(&format!("/login/mfa?factor={backup}")).await;
    assert_eq!(p.status, 200, "{}", p.body);
    assert_eq!(p.field("factor_id"), backup);
    assert!(p.body.contains("One of the backup codes you saved"));
    assert!(p.body.contains("Try another method"));
    assert!(
        p.body.contains(&format!("href=\"/login/mfa?factor={sms}\"")),
        "{}",
        p.body
    );
    assert!(!p.body.contains("We sent a code"));
    settle().await;
    assert_eq!(gw.received().len(), 1, "showing backup codes sent a text");

    // Picking the SMS factor sends its code; switching away and back sends nothing more.
    let p = br.get(&format!("/login/mfa?factor={sms}")).await;
    assert_eq!(p.field("factor_id"), sms);
    assert!(p.body.contains("We sent a code to +1***2671"));
    assert!(p.body.contains(&format!("href=\"/login/mfa?factor={backup}\"")));
    let code = gw.code(2).await;
    br.get(&format!("/login/mfa?factor={backup}")).await;
    let back = br.get(&format!("/login/mfa?factor={sms}")).await;
    assert!(back.body.contains("We sent a code to +1***2671"));

    // An unknown or foreign id is no error: the default view (the factor last sent a code).
    for junk in ["fac_nope", "%3Cscript%3E", ""] {
        let p = br.get(&format!("/login/mfa?factor={junk}")).await;
        assert_eq!(p.status, 200, "{junk}: {}", p.body);
        assert_eq!(p.field("factor_id"), sms, "{junk}");
        assert!(!p.body.contains("<script>"));
    }
    let p = br.get("/login/mfa?factor=a&factor=b&%ZZ").await;
    assert_eq!(p.status, 200, "{}", p.body);
    settle().await;
    assert_eq!(gw.received().len(), 2, "switching back sent a code again");

    // A send for a factor the sign-in does not offer does nothing.
    let p = br
        .post(
            "/login/mfa/send",
            &[("csrf", &back.csrf()), ("factor_id", &backup)],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/login/mfa"));

    // The code sent before the switches still signs in.
    let p = br
        .post(
            "/login/mfa/verify",
            &[("csrf", &back.csrf()), ("factor_id", &sms), ("code", &code)],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
    s.stop().await;
}

async fn an_email_code_is_sent_on_arrival_once(b: Backend) {
    let s = spawn(b).await;
    allow_all(&s).await;
    // Unique per run: every test of this process writes to one log buffer.
    let email = format!("pages{}@example.com", std::process::id() as u64 * 10 + b as u64);
    let body = s.signup(&email).await;
    let t = body["access_token"].as_str().unwrap().to_owned();
    let (status, e): (u16, Value) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&t)
            .json(&json!({ "type": "email_otp" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let code = wait_for_console_email(&s, &email, 1).await;
    let (status, _) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&t)
            .json(&json!({ "code": code })),
    )
    .await;
    assert_eq!(status, 200);

    let mut br = Browser::new(&s);
    assert_eq!(br.login(&email, PASSWORD).await.location(), "/login/mfa");
    let mfa = br.get("/login/mfa").await;
    assert!(
        mfa.body.contains("We sent a code to p***@example.com"),
        "{}",
        mfa.body
    );
    assert!(resend_disabled(&mfa.body));
    let code = wait_for_console_email(&s, &email, 2).await;
    br.get("/login/mfa").await;
    settle().await;
    let sent = logs()
        .lines()
        .filter(|l| l.contains("DEVELOPMENT-ONLY console email") && l.contains(&email))
        .count();
    assert_eq!(sent, 2, "a reload sent another email");
    let p = br
        .post(
            "/login/mfa/verify",
            &[("csrf", &mfa.csrf()), ("factor_id", &fid), ("code", &code)],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
    s.stop().await;
}

/// Forced enrollment for a user who signed up with `PHONE` and had it verified by an SMS
/// factor, which an admin then removed: sign-in must set up a factor of `allowed` again.
async fn must_enroll_again(s: &TestServer, gw: &Gateway, email: &str, allowed: Value) {
    let (status, body) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": email, "password": PASSWORD, "phone_number": PHONE }),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let token = body["access_token"].as_str().unwrap();
    let before = gw.received().len();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(token)
            .json(&json!({ "type": "sms", "phone_number": PHONE })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap();
    let code = gw.code(before + 1).await;
    let (status, c) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(token)
            .json(&json!({ "code": code })),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    let (status, _) = send(s.mfa_admin(s.http.delete(format!("{}/v2/admin/users/{uid}/mfa", s.url)))).await;
    assert!(status < 300, "{status}");
    let (status, cfg) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_required": true, "mfa_allowed_factors": allowed })),
    )
    .await;
    assert_eq!(status, 200, "{cfg}");
}

async fn sms_enrollment_on_the_pages(b: Backend) {
    let (s, gw) = sms_server(b).await;
    must_enroll_again(
        &s,
        &gw,
        "carol@example.com",
        json!(["totp", "sms", "backup_codes"]),
    )
    .await;
    let mut br = Browser::new(&s);
    let p = br.login("carol@example.com", PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/login/enroll"), "{}", p.body);
    let page = br.get("/login/enroll").await;
    assert!(page.body.contains("Text message"), "{}", page.body);
    assert!(page.body.contains("href=\"/u2/mfa/phone\""));
    // No number yet: the code step sends back to the number.
    assert_eq!(br.get("/u2/mfa/sms").await.location(), "/u2/mfa/phone");

    // The account's verified phone is offered.
    let form = br.get("/u2/mfa/phone").await;
    assert_eq!(form.status, 200, "{}", form.body);
    form.is_html();
    assert!(form.body.contains(&format!("value=\"{PHONE}\"")), "{}", form.body);
    assert!(form.body.contains("autocomplete=\"tel\""));
    // The number's field is styled as every other field (`tel` once was not).
    inputs_are_styled(&mut br, &form).await;
    let csrf = form.csrf();

    // Refusals come back on the field, and nothing is sent.
    let forged = br.post("/u2/mfa/phone", &[("phone_number", PHONE)]).await;
    assert_eq!(forged.status, 403);
    for (number, status, says) in [
        ("", 400, "Enter your mobile number."),
        ("not a number", 400, "That is not a mobile number we can send to."),
        (
            "+881 6 12345678",
            400,
            "Text messages to this kind of number are not available.",
        ),
    ] {
        let p = br
            .post("/u2/mfa/phone", &[("csrf", &csrf), ("phone_number", number)])
            .await;
        assert_eq!(p.status, status, "{number}: {}", p.body);
        p.is_html();
        assert!(p.body.contains(says), "{number}: {}", p.body);
        assert!(p.body.contains("aria-invalid=\"true\""), "{number}");
    }
    settle().await;
    assert_eq!(gw.received().len(), 1, "a refused number reached the provider");

    let sent = br
        .post(
            "/u2/mfa/phone",
            &[("csrf", &csrf), ("phone_number", "+1 (415) 555-2671")],
        )
        .await;
    assert_eq!(
        (sent.status, sent.location()),
        (303, "/u2/mfa/sms"),
        "{}",
        sent.body
    );
    let code = gw.code(2).await;
    assert_eq!(gw.received()[1].to, PHONE);
    // Another number at once: the send cooldown, shown on the field.
    let again = br
        .post("/u2/mfa/phone", &[("csrf", &csrf), ("phone_number", PHONE)])
        .await;
    assert_eq!(again.status, 429, "{}", again.body);
    assert!(
        again.body.contains("A code was sent very recently."),
        "{}",
        again.body
    );
    assert_eq!(again.headers["retry-after"], "60");
    settle().await;
    assert_eq!(
        gw.received().len(),
        2,
        "a second number inside the cooldown was sent a code"
    );

    let form = br.get("/u2/mfa/sms").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(form.body.contains("We sent a code to +1***2671"), "{}", form.body);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let p = br
        .post("/u2/mfa/sms", &[("csrf", &form.csrf()), ("code", wrong)])
        .await;
    assert_eq!(p.status, 401, "{}", p.body);
    assert!(p.body.contains("That code is not right."));
    let done = br
        .post("/u2/mfa/sms", &[("csrf", &form.csrf()), ("code", &code)])
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Save your backup codes"));
    assert!(done.headers.contains_key("set-cookie"), "signed in");
    assert_eq!(br.get("/account/security").await.status, 200);

    // The next sign-in asks for the new factor's code, sent on arrival.
    let mut next = Browser::new(&s);
    assert_eq!(
        next.login("carol@example.com", PASSWORD).await.location(),
        "/login/mfa"
    );
    let mfa = next.get("/login/mfa").await;
    assert!(mfa.body.contains("We sent a code to +1***2671"), "{}", mfa.body);
    gw.code(3).await;
    s.stop().await;
}

async fn sms_enrollment_only_where_allowed(b: Backend) {
    let (s, gw) = sms_server(b).await;
    must_enroll_again(&s, &gw, "dave@example.com", json!(["totp", "backup_codes"])).await;
    let mut br = Browser::new(&s);
    assert_eq!(
        br.login("dave@example.com", PASSWORD).await.location(),
        "/login/enroll"
    );
    let page = br.get("/login/enroll").await;
    assert!(!page.body.contains("/u2/mfa/phone"), "{}", page.body);
    assert_eq!(br.get("/u2/mfa/phone").await.location(), "/login/enroll");
    let p = br
        .post(
            "/u2/mfa/phone",
            &[("csrf", &page.csrf()), ("phone_number", PHONE)],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/login/enroll"));
    settle().await;
    assert_eq!(gw.received().len(), 1);
    s.stop().await;
}

async fn email_enrollment_on_the_pages(b: Backend) {
    let s = spawn(b).await;
    allow_all(&s).await;
    // Unique per run: every test of this process writes to one log buffer.
    let email = format!("enroll{}@example.com", std::process::id() as u64 * 10 + b as u64);
    s.signup(&email).await;
    let (status, cfg) = send(s.admin(s.patch("/v1/admin/config")).json(
        &json!({ "mfa_required": true, "mfa_allowed_factors": ["totp", "email_otp", "backup_codes"] }),
    ))
    .await;
    assert_eq!(status, 200, "{cfg}");
    let mut br = Browser::new(&s);
    assert_eq!(br.login(&email, PASSWORD).await.location(), "/login/enroll");
    // No code started yet: the code step sends back to the choice.
    assert_eq!(br.get("/u2/mfa/email").await.location(), "/login/enroll");
    let page = br.get("/login/enroll").await;
    assert!(
        page.body.contains("action=\"/login/enroll/email\""),
        "{}",
        page.body
    );
    assert!(!page.body.contains("/u2/mfa/phone"), "sms is not allowed here");
    let forged = br.post("/login/enroll/email", &[]).await;
    assert_eq!(forged.status, 403);
    let started = br.post("/login/enroll/email", &[("csrf", &page.csrf())]).await;
    assert_eq!(
        (started.status, started.location()),
        (303, "/u2/mfa/email"),
        "{}",
        started.body
    );
    let code = wait_for_console_email(&s, &email, 1).await;
    // Starting again at once: the wait, under the email's button, and no email.
    let again = br.post("/login/enroll/email", &[("csrf", &page.csrf())]).await;
    assert_eq!(again.status, 429, "{}", again.body);
    assert!(
        again.body.contains("A code was sent very recently."),
        "{}",
        again.body
    );

    let form = br.get("/u2/mfa/email").await;
    assert_eq!(form.status, 200, "{}", form.body);
    let masked = format!("We sent a code to {}***@example.com", &email[..1]);
    assert!(form.body.contains(&masked), "{}", form.body);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let p = br
        .post("/u2/mfa/email", &[("csrf", &form.csrf()), ("code", wrong)])
        .await;
    assert_eq!(p.status, 401, "{}", p.body);
    let done = br
        .post("/u2/mfa/email", &[("csrf", &form.csrf()), ("code", &code)])
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    assert!(done.body.contains("Save your backup codes"));
    settle().await;
    let sent = logs()
        .lines()
        .filter(|l| l.contains("DEVELOPMENT-ONLY console email") && l.contains(&email))
        .count();
    assert_eq!(sent, 1, "one code");
    s.stop().await;
}
