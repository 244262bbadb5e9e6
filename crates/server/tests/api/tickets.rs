//! Enrollment tickets (Auth0's `POST /api/v2/guardian/enrollments/ticket`, `/v1`'s
//! `POST /v1/admin/users/{user_id}/mfa/enrollment-tickets`): a single-use link into the
//! hosted pages that signs the user in with their password and leads into enrolling a
//! second factor. The ticket is no credential: a user who has a factor proves it before
//! adding another (SECURITY.md 35); GET never spends it; it is bound to its user, ends with a
//! newer one and after five days.

use crate::helpers::*;
use crate::mfa::code;
use crate::pages::Browser;
use crate::recovery::{link, mail_server, text};
use serde_json::{json, Value};

crate::both_stores!(
    a_ticket_leads_a_user_without_a_factor_through_enrollment_once,
    a_user_with_a_factor_proves_it_before_adding_another,
    tickets_end_with_a_newer_one_and_after_five_days,
    a_ticket_is_spent_once_when_two_browsers_hold_it,
    bad_ticket_requests_get_clear_errors,
    send_mail_emails_the_link,
);

/// A ticket through Auth0's route with the tenant's secret key; its path on the server.
async fn auth0_ticket(s: &TestServer, body: Value) -> (u16, Value) {
    send(s.admin(s.post("/api/v2/guardian/enrollments/ticket")).json(&body)).await
}

fn path_of(url: &str) -> String {
    url.strip_prefix("https://id.test")
        .unwrap_or_else(|| panic!("the ticket's link is on the public URL: {url}"))
        .to_owned()
}

async fn actions(s: &TestServer, user_id: &str) -> Vec<String> {
    let (status, events) = send(s.admin(s.get(&format!("/v1/admin/audit-events?user_id={user_id}")))).await;
    assert_eq!(status, 200, "{events}");
    events["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["action"].as_str().unwrap(),
                e["outcome"].as_str().unwrap()
            )
        })
        .collect()
}

async fn a_ticket_leads_a_user_without_a_factor_through_enrollment_once(b: Backend) {
    let s = spawn(b).await;
    let (status, body) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_allowed_factors": ["totp", "sms", "email_otp", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let body = s.signup("tia@example.com").await;
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let (status, t) = auth0_ticket(&s, json!({ "user_id": format!("auth0|{uid}"), "factor": "otp" })).await;
    assert_eq!(status, 200, "{t}");
    assert!(t["ticket_id"].as_str().unwrap().starts_with("etk_"), "{t}");
    let url = t["ticket_url"].as_str().unwrap();
    assert!(url.starts_with("https://id.test/enroll?ticket=et_"), "{url}");
    let path = path_of(url);

    let mut br = Browser::new(&s);
    let page = br.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    page.is_html();
    assert!(
        page.body.contains("tia@example.com"),
        "the ticket's account is shown"
    );
    // Opening the link spends nothing, however often (mail scanners fetch links).
    assert_eq!(br.get(&path).await.status, 200);
    let ticket = page.field("ticket");
    let wrong = br
        .post(
            "/enroll",
            &[
                ("csrf", &page.csrf()),
                ("ticket", &ticket),
                ("password", "not the password"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    wrong.is_html();
    assert_eq!(br.get(&path).await.status, 200, "a wrong password spends nothing");
    let p = br
        .post(
            "/enroll",
            &[
                ("csrf", &page.csrf()),
                ("ticket", &ticket),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/login/enroll"), "{}", p.body);
    // The ticket asked for an authenticator app: that is what is offered, though the tenant
    // allows text messages and email codes too (a ticket without `factor` offers them all:
    // `tickets_end_with_a_newer_one_and_after_five_days`).
    let enroll = br.get("/login/enroll").await;
    assert_eq!(enroll.status, 200, "{}", enroll.body);
    assert!(
        !enroll.body.contains("/u2/mfa/phone") && !enroll.body.contains("/login/enroll/email"),
        "{}",
        enroll.body
    );
    let p = br.post("/login/enroll", &[("csrf", &enroll.csrf())]).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let secret = p.totp_secret();
    let p = br
        .post(
            "/login/enroll/confirm",
            &[
                ("csrf", &p.csrf()),
                ("factor_id", &p.field("factor_id")),
                ("code", &code(&s, &secret, 0)),
            ],
        )
        .await;
    assert_eq!(p.status, 200, "the backup codes: {}", p.body);
    let (_, factors) = send(s.admin(s.get(&format!("/v1/users/{uid}/mfa/factors")))).await;
    assert!(
        factors["factors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["type"] == "totp" && f["status"] == "active"),
        "{factors}"
    );
    // Spent: the link no longer opens anything, and its form no longer signs in.
    let mut again = Browser::new(&s);
    let p = again.get(&path).await;
    assert_eq!(p.status, 400, "{}", p.body);
    p.is_html();
    let login = again.get("/login").await;
    let p = again
        .post(
            "/enroll",
            &[
                ("csrf", &login.csrf()),
                ("ticket", &ticket),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.status, 400, "{}", p.body);
    let done = actions(&s, &uid).await;
    for wanted in [
        "enrollment_ticket.created success",
        "enrollment_ticket.used success",
    ] {
        assert!(done.iter().any(|a| a == wanted), "{wanted}: {done:?}");
    }
    // The audit log names the ticket, never its link.
    let (_, events) = send(s.admin(s.get(&format!("/v1/admin/audit-events?user_id={uid}")))).await;
    assert!(!events.to_string().contains(ticket.as_str()));
    s.stop().await;
}

/// SECURITY.md 35 (Authelia #135): a password and a ticket's link are not enough to bind a
/// factor next to an existing one.
async fn a_user_with_a_factor_proves_it_before_adding_another(b: Backend) {
    let s = spawn(b).await;
    let (uid, _, _, secret, _) = crate::mfa::user_with_totp(&s, "tom@example.com").await;
    let (status, body) = auth0_ticket(&s, json!({ "user_id": uid })).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["errorCode"], "already_enrolled", "{body}");
    let (status, body) = send(
        s.admin(s.post(&format!("/v1/admin/users/{uid}/mfa/enrollment-tickets")))
            .json(&json!({})),
    )
    .await;
    assert_eq!((status, error_code(&body)), (409, "already_enrolled"), "{body}");
    let (status, t) = send(
        s.admin(s.post(&format!("/v1/admin/users/{uid}/mfa/enrollment-tickets")))
            .json(&json!({ "allow_multiple": true })),
    )
    .await;
    assert_eq!(status, 201, "{t}");
    assert!(t["id"].as_str().unwrap().starts_with("etk_"));
    assert_eq!(t["emailed"], false);
    let mut br = Browser::new(&s);
    let page = br.get(&path_of(t["url"].as_str().unwrap())).await;
    assert_eq!(page.status, 200, "{}", page.body);
    let p = br
        .post(
            "/enroll",
            &[
                ("csrf", &page.csrf()),
                ("ticket", &page.field("ticket")),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/login/mfa"),
        "the factor they have first, never enrollment: {}",
        p.body
    );
    assert_eq!(br.get("/login/enroll").await.location(), "/login");
    let mfa = br.get("/login/mfa").await;
    let p = br
        .post(
            "/login/mfa/verify",
            &[
                ("csrf", &mfa.csrf()),
                ("factor_id", &mfa.field("factor_id")),
                ("code", &code(&s, &secret, 1)),
            ],
        )
        .await;
    assert_eq!((p.status, p.location()), (303, "/account/security"), "{}", p.body);
    s.stop().await;
}

async fn tickets_end_with_a_newer_one_and_after_five_days(b: Backend) {
    let s = spawn(b).await;
    let (status, body) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_allowed_factors": ["totp", "sms", "email_otp", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let body = s.signup("una@example.com").await;
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let (_, first) = auth0_ticket(&s, json!({ "user_id": uid })).await;
    let (_, second) = auth0_ticket(&s, json!({ "user_id": uid })).await;
    let mut br = Browser::new(&s);
    let p = br.get(&path_of(first["ticket_url"].as_str().unwrap())).await;
    assert_eq!(p.status, 400, "a newer ticket ends the older: {}", p.body);
    let second = path_of(second["ticket_url"].as_str().unwrap());
    assert_eq!(br.get(&second).await.status, 200);
    // Without `factor`, whatever the tenant allows is offered.
    let (_, third) = send(
        s.admin(s.post(&format!("/v1/admin/users/{uid}/mfa/enrollment-tickets")))
            .json(&json!({})),
    )
    .await;
    let mut other = Browser::new(&s);
    let page = other.get(&path_of(third["url"].as_str().unwrap())).await;
    let p = other
        .post(
            "/enroll",
            &[
                ("csrf", &page.csrf()),
                ("ticket", &page.field("ticket")),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.location(), "/login/enroll", "{}", p.body);
    let enroll = other.get("/login/enroll").await;
    assert!(
        enroll.body.contains("/u2/mfa/phone") && enroll.body.contains("/login/enroll/email"),
        "{}",
        enroll.body
    );
    // That ticket was the newest: the second is ended by it.
    assert_eq!(br.get(&second).await.status, 400);
    let (_, fourth) = auth0_ticket(&s, json!({ "user_id": uid })).await;
    let second = path_of(fourth["ticket_url"].as_str().unwrap());
    s.clock.advance_secs(5 * 86_400 - 1);
    let page = br.get(&second).await;
    assert_eq!(page.status, 200, "{}", page.body);
    s.clock.advance_secs(1);
    assert_eq!(br.get(&second).await.status, 400, "five days");
    let p = br
        .post(
            "/enroll",
            &[
                ("csrf", &page.csrf()),
                ("ticket", &page.field("ticket")),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(p.status, 400, "expired, it signs no one in: {}", p.body);
    // Malformed or missing tickets: the same page, never JSON.
    for path in [
        "/enroll",
        "/enroll?ticket=",
        "/enroll?ticket=pr_abc",
        "/enroll?ticket=et_zzzz",
    ] {
        let p = br.get(path).await;
        assert_eq!(p.status, 400, "{path}");
        p.is_html();
    }
    s.stop().await;
}

async fn a_ticket_is_spent_once_when_two_browsers_hold_it(b: Backend) {
    let s = spawn(b).await;
    let body = s.signup("vic@example.com").await;
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let (_, t) = auth0_ticket(&s, json!({ "user_id": uid })).await;
    let path = path_of(t["ticket_url"].as_str().unwrap());
    let mut one = Browser::new(&s);
    let mut two = Browser::new(&s);
    let (a, b2) = (one.get(&path).await, two.get(&path).await);
    let form = |p: &crate::pages::Page| {
        vec![
            ("csrf".to_owned(), p.csrf()),
            ("ticket".to_owned(), p.field("ticket")),
            ("password".to_owned(), PASSWORD.to_owned()),
        ]
    };
    let (fa, fb) = (form(&a), form(&b2));
    let ra: Vec<(&str, &str)> = fa.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let rb: Vec<(&str, &str)> = fb.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (pa, pb) = tokio::join!(one.post("/enroll", &ra), two.post("/enroll", &rb));
    let mut statuses = [pa.status, pb.status];
    statuses.sort_unstable();
    assert_eq!(statuses, [303, 400], "{} / {}", pa.body, pb.body);
    s.stop().await;
}

async fn bad_ticket_requests_get_clear_errors(b: Backend) {
    let s = spawn(b).await;
    let body = s.signup("wes@example.com").await;
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    for (req, status, code) in [
        (json!({ "user_id": uid, "factor": "email" }), 400, "invalid_body"),
        (
            json!({ "user_id": uid, "factor": "push-notification" }),
            400,
            "invalid_body",
        ),
        (json!({ "user_id": uid, "factor": 7 }), 400, "invalid_body"),
        (json!({ "user_id": uid, "colour": "red" }), 400, "invalid_body"),
        (json!({ "factor": "otp" }), 400, "invalid_body"),
        (
            json!({ "user_id": "auth0|5f7c8ec7c33c6c004bbafe82" }),
            404,
            "inexistent_user",
        ),
        (
            json!({ "user_id": uid, "send_mail": true, "email": "not an address" }),
            400,
            "invalid_email",
        ),
    ] {
        let (got, answer) = auth0_ticket(&s, req.clone()).await;
        assert_eq!(got, status, "{req}: {answer}");
        assert_eq!(answer["statusCode"], status, "{answer}");
        assert_eq!(answer["errorCode"], code, "{req}: {answer}");
    }
    let v1 = |body: Value| {
        send(
            s.admin(s.post(&format!("/v1/admin/users/{uid}/mfa/enrollment-tickets")))
                .json(&body),
        )
    };
    let (status, body) = v1(json!({ "factor": "carrier-pigeon" })).await;
    assert_eq!(
        (status, error_code(&body)),
        (400, "unknown_factor_type"),
        "{body}"
    );
    let (status, body) = v1(json!({ "factor": "backup_codes" })).await;
    assert_eq!((status, error_code(&body)), (400, "factor_not_allowed"), "{body}");
    // A kind the tenant does not allow.
    let (status, body) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_allowed_factors": ["totp", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = v1(json!({ "factor": "sms" })).await;
    assert_eq!((status, error_code(&body)), (400, "factor_not_allowed"), "{body}");
    let (status, body) = send(
        s.admin(s.post("/v1/admin/users/usr_01HZZZZZZZZZZZZZZZZZZZZZZZ/mfa/enrollment-tickets"))
            .json(&json!({})),
    )
    .await;
    assert_eq!((status, error_code(&body)), (404, "user_not_found"), "{body}");
    // Without a key, or with a user's own token: no ticket.
    let (status, _) = send(
        s.post(&format!("/v1/admin/users/{uid}/mfa/enrollment-tickets"))
            .json(&json!({})),
    )
    .await;
    assert_eq!(status, 401);
    let user_token = body_token(&s, "wes@example.com").await;
    let (status, _) = send(
        s.post("/api/v2/guardian/enrollments/ticket")
            .bearer_auth(&user_token)
            .json(&json!({ "user_id": uid })),
    )
    .await;
    assert_eq!(status, 401, "a user's access token is no management token");
    s.stop().await;
}

async fn body_token(s: &TestServer, email: &str) -> String {
    let (status, body) = s.signin(email, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().unwrap().to_owned()
}

async fn send_mail_emails_the_link(b: Backend) {
    let Some((s, mail)) = mail_server(b).await else {
        return;
    };
    let body = s.signup("xan@example.com").await;
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let (status, t) = auth0_ticket(&s, json!({ "user_id": uid, "send_mail": true })).await;
    assert_eq!(status, 200, "{t}");
    let msg = mail.next().await;
    assert!(
        msg["headers"]["To"].as_str().unwrap().contains("xan@example.com"),
        "{msg}"
    );
    assert!(text(&msg).contains("5 days"), "{}", text(&msg));
    assert_eq!(link(&msg), t["ticket_url"].as_str().unwrap());
    let mut br = Browser::new(&s);
    assert_eq!(br.get(&path_of(&link(&msg))).await.status, 200);
    // Within the cooldown no second email (nor ticket) is made.
    let (status, body) = auth0_ticket(&s, json!({ "user_id": uid, "send_mail": true })).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        br.get(&path_of(&link(&msg))).await.status,
        200,
        "the first still works"
    );
    // To another address, when the administrator names one.
    s.clock.advance_secs(61);
    let (status, t) = send(
        s.admin(s.post(&format!("/v1/admin/users/{uid}/mfa/enrollment-tickets")))
            .json(&json!({ "send_email": true, "email": "xan.work@example.com" })),
    )
    .await;
    assert_eq!((status, t["emailed"].as_bool()), (201, Some(true)), "{t}");
    let msg = mail.next().await;
    assert!(
        msg["headers"]["To"]
            .as_str()
            .unwrap()
            .contains("xan.work@example.com"),
        "{msg}"
    );
    s.stop().await;
}
