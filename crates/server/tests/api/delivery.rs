//! SMS and email codes end to end: enrollment, sign-in, resend, expiry, send limits, the
//! country list, provider faults, fallback, and the provider admin API. SMS goes through a
//! real HTTP provider (the signed webhook, Twilio's API) to a stand-in gateway on loopback.

use crate::both_stores;
use crate::gateway::{self, Gateway};
use crate::helpers::*;
use serde_json::{json, Value};

both_stores!(
    sms_enroll_confirm_and_sign_in,
    twilio_provider_end_to_end,
    resend_replaces_the_code_after_a_cooldown,
    codes_expire_and_are_bound_to_their_challenge,
    send_limits_refuse_before_any_provider_call,
    country_list_refuses_before_any_provider_call,
    phone_numbers_are_validated,
    risky_number_types_are_refused_until_allowed,
    transient_failures_are_retried,
    fallback_provider_is_used_when_the_primary_fails,
    a_slow_provider_never_holds_the_request,
    admin_may_create_a_factor_for_a_verified_phone,
    provider_configuration_is_sealed_and_redacted,
    console_provider_is_the_default,
    email_otp_with_the_console_provider,
    sms_through_aws_sns,
    email_otp_through_smtp,
    user_and_address_limits,
    internal_provider_destinations_are_refused_unless_allowed,
    stored_destinations_are_checked_again_at_send_time,
    stored_delivery_errors_do_not_tell_ports_apart,
    sns_sender_settings_round_trip,
);

pub(crate) const PHONE: &str = "+14155552671";

pub(crate) async fn allow_all(s: &TestServer) {
    let (status, body) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_allowed_factors": ["totp", "sms", "email_otp", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn use_webhook(s: &TestServer, gw: &Gateway) {
    let (status, body) = send(
        s.mfa_admin(s.http.put(format!("{}/v1/admin/sms-provider", s.url)))
            .json(&json!({
                "provider": "webhook", "url": format!("{}/webhook", gw.url), "secret": gateway::WEBHOOK_SECRET
            })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

pub(crate) async fn sms_server(b: Backend) -> (TestServer, Gateway) {
    let s = spawn(b).await;
    let gw = Gateway::start().await;
    allow_all(&s).await;
    use_webhook(&s, &gw).await;
    (s, gw)
}

/// Signs up and enrolls + confirms an SMS factor; returns (token, factor id, messages so far).
pub(crate) async fn sms_user(s: &TestServer, gw: &Gateway, email: &str, phone: &str) -> (String, String) {
    let body = s.signup(email).await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let before = gw.received().len();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&token)
            .json(&json!({ "type": "sms", "phone_number": phone })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let code = gw.code(before + 1).await;
    let (status, c) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&token)
            .json(&json!({ "code": code })),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    (token, fid)
}

async fn mfa_signin(s: &TestServer, email: &str) -> Value {
    let (status, body) = s.signin(email, PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    body["error"].clone()
}

async fn challenge(s: &TestServer, ch: &Value, factor: &str) -> (u16, Value) {
    s.post_json(
        "/v1/mfa/challenge",
        json!({ "challenge_id": ch["challenge_id"], "factor_id": factor }),
    )
    .await
}

async fn verify(s: &TestServer, ch: &Value, factor: &str, code: &str) -> (u16, Value) {
    s.post_json(
        "/v1/mfa/verify",
        json!({ "challenge_id": ch["challenge_id"], "factor_id": factor, "code": code }),
    )
    .await
}

/// Lets the outbox worker run a pass (it polls every 500 ms of real time).
pub(crate) async fn settle() {
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
}

async fn sms_enroll_confirm_and_sign_in(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let body = s.signup("alice@example.com").await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&token)
            .json(&json!({ "type": "sms", "phone_number": "+1 (415) 555-2671" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(e["type"], "sms");
    assert_eq!(e["status"], "pending");
    assert_eq!(e["phone_number"], "+1***2671");
    assert!(e["notice"].as_str().unwrap().contains("SMS"));
    assert!(e.get("secret").is_none());
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let code = gw.code(1).await;
    assert_eq!(gw.received()[0].to, PHONE, "normalised to E.164");
    assert!(gw.received()[0].body.contains("Latchkey"));

    // A pending SMS factor is not offered at sign-in.
    assert_eq!(s.signin("alice@example.com", PASSWORD).await.0, 200);
    let confirm = format!("/v1/users/me/mfa/factors/{fid}/confirm");
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let (status, _) = send(
        s.post(&confirm)
            .bearer_auth(&token)
            .json(&json!({ "code": wrong })),
    )
    .await;
    assert_eq!(status, 401);
    let (status, c) = send(
        s.post(&confirm)
            .bearer_auth(&token)
            .json(&json!({ "code": code })),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(c["backup_codes"].as_array().unwrap().len(), 10);

    let ch = mfa_signin(&s, "alice@example.com").await;
    let sms = ch["available_factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "sms")
        .unwrap()
        .clone();
    assert_eq!(sms["destination"], "+1***2671");
    let (status, sel) = challenge(&s, &ch, &fid).await;
    assert_eq!(status, 200, "{sel}");
    assert_eq!(sel["destination"], "+1***2671");
    assert_eq!(sel["type"], "sms");
    let code = gw.code(2).await;
    let (status, tokens) = verify(&s, &ch, &fid, &code).await;
    assert_eq!(status, 200, "{tokens}");
    let c = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(c["amr"], json!(["pwd", "sms", "mfa"]));
    assert_eq!(c["acr"], "aal2");
    // The code worked once.
    let ch2 = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(verify(&s, &ch2, &fid, &code).await.0, 401);
    // The admin sees the delivery.
    let uid = body["user"]["id"].as_str().unwrap();
    let (_, view) = send(s.admin(s.get(&format!("/v2/admin/users/{uid}/mfa")))).await;
    let f = view["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "sms")
        .unwrap();
    assert_eq!(f["last_delivery"]["status"], "sent");
    assert_eq!(f["last_delivery"]["provider"], "webhook");
    assert_eq!(f["destination"], "+1***2671");
    // No code in any log line (only the console provider would print one).
    let logs = logs();
    assert!(!logs.contains(&code), "a code reached the log");
    s.stop().await;
}

async fn twilio_provider_end_to_end(b: Backend) {
    let s = spawn(b).await;
    let gw = Gateway::start().await;
    allow_all(&s).await;
    let (status, view) = send(
        s.mfa_admin(s.http.put(format!("{}/v1/admin/sms-provider", s.url)))
            .json(&json!({
                "provider": "twilio", "account_sid": gateway::TWILIO_SID, "auth_token": gateway::TWILIO_TOKEN,
                "from_number": "+15005550006", "base_url": gw.url
            })),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    let (_, fid) = sms_user(&s, &gw, "alice@example.com", PHONE).await;
    assert_eq!(gw.received()[0].api, "twilio");
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(challenge(&s, &ch, &fid).await.0, 200);
    let code = gw.code(2).await;
    assert_eq!(verify(&s, &ch, &fid, &code).await.0, 200);
    let (_, stats) = send(s.admin(s.get("/v1/admin/delivery-stats"))).await;
    let counters = stats["counters"].as_array().unwrap();
    assert!(
        counters.contains(&json!({ "metric": "sent_by_provider", "label": "twilio", "count": 2 })),
        "{stats}"
    );
    assert!(
        counters.contains(&json!({ "metric": "sms_by_country", "label": "US", "count": 2 })),
        "{stats}"
    );
    s.stop().await;
}

async fn resend_replaces_the_code_after_a_cooldown(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let (_, fid) = sms_user(&s, &gw, "alice@example.com", PHONE).await;
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(challenge(&s, &ch, &fid).await.0, 200);
    let first = gw.code(2).await;
    // Resending at once is refused, and nothing is sent.
    let resp = s
        .post("/v1/mfa/challenge")
        .json(&json!({ "challenge_id": ch["challenge_id"], "factor_id": fid }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let err: Value = resp.json().await.unwrap();
    assert_eq!(error_code(&err), "rate_limited");
    // Two wrong codes count…
    for _ in 0..2 {
        assert_eq!(verify(&s, &ch, &fid, "000001").await.0, 401);
    }
    s.clock.advance_secs(61);
    assert_eq!(challenge(&s, &ch, &fid).await.0, 200);
    let second = gw.code(3).await;
    // …and a resend does not reset them; the old code is dead.
    assert_eq!(verify(&s, &ch, &fid, &first).await.0, 401, "superseded");
    assert_eq!(verify(&s, &ch, &fid, "000002").await.0, 401);
    assert_eq!(verify(&s, &ch, &fid, "000003").await.0, 401);
    let (status, _) = verify(&s, &ch, &fid, &second).await;
    assert_eq!(status, 429, "five failures across the resend lock the factor");
    // A new sign-in right after gets its own code (the cooldown is per challenge).
    s.clock.advance_secs(30);
    let ch2 = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(challenge(&s, &ch2, &fid).await.0, 200);
    s.stop().await;
}

async fn codes_expire_and_are_bound_to_their_challenge(b: Backend) {
    let (s, gw) = sms_server(b).await;
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "sms_otp_expiry": "5m", "challenge_ttl": "10m" })),
    )
    .await;
    let (_, fid) = sms_user(&s, &gw, "alice@example.com", PHONE).await;
    let ch1 = mfa_signin(&s, "alice@example.com").await;
    let ch2 = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(challenge(&s, &ch1, &fid).await.0, 200);
    let code1 = gw.code(2).await;
    // A code for one challenge does not complete another.
    assert_eq!(verify(&s, &ch2, &fid, &code1).await.0, 401);
    // Past its lifetime it does not work even on its own challenge.
    s.clock.advance_secs(5 * 60 + 1);
    assert_eq!(verify(&s, &ch1, &fid, &code1).await.0, 401);
    assert_eq!(challenge(&s, &ch1, &fid).await.0, 200);
    let code2 = gw.code(3).await;
    assert_eq!(verify(&s, &ch1, &fid, &code2).await.0, 200);
    let (status, err) = s
        .admin(s.patch("/v1/admin/config"))
        .json(&json!({ "sms_otp_expiry": "11m" }))
        .send()
        .await
        .map(|r| r.status().as_u16())
        .map(|st| (st, ()))
        .unwrap();
    assert_eq!((status, err), (400, ()), "never longer than 10 minutes");
    s.stop().await;
}

async fn send_limits_refuse_before_any_provider_call(b: Backend) {
    let (s, gw) = sms_server(b).await;
    // Limits count in fixed UTC windows: start at 01:00 so the two hours below stay within
    // one day whatever the time the test runs (it failed between 22:00 and midnight).
    let now = latchkey_core::clock::Clock::now_ms(&s.clock);
    let day = 86_400_000;
    s.clock.set_ms(now - now.rem_euclid(day) + day + 3_600_000);
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "send_limits": { "destination_hourly": 2, "destination_daily": 3 } })),
    )
    .await;
    let (_, fid) = sms_user(&s, &gw, "alice@example.com", PHONE).await;
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(challenge(&s, &ch, &fid).await.0, 200);
    gw.code(2).await;
    let ch = mfa_signin(&s, "alice@example.com").await;
    let (status, err) = challenge(&s, &ch, &fid).await;
    assert_eq!((status, error_code(&err)), (429, "rate_limited"));
    settle().await;
    assert_eq!(gw.requests(), 2, "no provider call over the limit");
    // The next hour allows again, until the daily limit.
    s.clock.advance_secs(3600);
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(challenge(&s, &ch, &fid).await.0, 200);
    s.clock.advance_secs(3600);
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(challenge(&s, &ch, &fid).await.0, 429, "daily limit");
    // Tenant-wide limits hold across users.
    send(s.admin(s.patch("/v1/admin/config")).json(&json!({ "send_limits": { "tenant_hourly": 1, "tenant_daily": 100, "destination_daily": 100, "destination_hourly": 100 } })))
        .await;
    s.clock.advance_secs(3600);
    let body = s.signup("bob@example.com").await;
    let t = body["access_token"].as_str().unwrap();
    let (status, _) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(t)
            .json(&json!({ "type": "sms", "phone_number": "+14155550100" })),
    )
    .await;
    assert_eq!(status, 201);
    let body = s.signup("carol@example.com").await;
    let t = body["access_token"].as_str().unwrap();
    let (status, err) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(t)
            .json(&json!({ "type": "sms", "phone_number": "+14155550101" })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (429, "rate_limited"));
    let (_, stats) = send(s.admin(s.get("/v1/admin/delivery-stats"))).await;
    let counters = stats["counters"].as_array().unwrap();
    assert!(
        counters
            .iter()
            .any(|c| c["metric"] == "codes_refused" && c["label"] == "destination_hourly"),
        "{stats}"
    );
    assert!(
        counters
            .iter()
            .any(|c| c["metric"] == "codes_refused" && c["label"] == "tenant_hourly"),
        "{stats}"
    );
    s.stop().await;
}

async fn country_list_refuses_before_any_provider_call(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let (status, cfg) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "sms_allowed_countries": ["ca", "GB"] })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(cfg["sms_allowed_countries"], json!(["CA", "GB"]));
    let body = s.signup("alice@example.com").await;
    let t = body["access_token"].as_str().unwrap();
    let enroll = |phone: &'static str| {
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(t)
            .json(&json!({ "type": "sms", "phone_number": phone }))
    };
    let (status, err) = send(enroll(PHONE)).await;
    assert_eq!((status, error_code(&err)), (400, "country_not_allowed"));
    let (status, e) = send(enroll("+44 20 7946 0958")).await;
    assert_eq!(status, 201, "{e}");
    // An empty list allows none; null allows all again.
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "sms_allowed_countries": [] })),
    )
    .await;
    s.clock.advance_secs(120);
    assert_eq!(send(enroll("+44 20 7946 0959")).await.0, 400);
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "sms_allowed_countries": null })),
    )
    .await;
    assert_eq!(send(enroll(PHONE)).await.0, 201);
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "sms_allowed_countries": ["USA"] })),
    )
    .await;
    assert_eq!(status, 400);
    settle().await;
    assert!(gw
        .received()
        .iter()
        .all(|m| m.to != "+14155552671" || gw.received().len() == 2));
    assert_eq!(
        gw.received().len(),
        2,
        "refused numbers never reached the provider"
    );
    s.stop().await;
}

async fn phone_numbers_are_validated(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let body = s.signup("alice@example.com").await;
    let t = body["access_token"].as_str().unwrap();
    for bad in [
        "4155552671",
        "+0123456789",
        "+1415555267112345678",
        "+1-415-555-2671 ext 12",
        "+1 415 CALL NOW",
        "",
    ] {
        let (status, err) = send(
            s.post("/v1/users/me/mfa/factors")
                .bearer_auth(t)
                .json(&json!({ "type": "sms", "phone_number": bad })),
        )
        .await;
        assert_eq!(
            (status, error_code(&err)),
            (400, "invalid_phone_number"),
            "{bad:?}"
        );
    }
    let (status, err) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(t)
            .json(&json!({ "type": "sms" })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "invalid_phone_number"));
    settle().await;
    assert_eq!(gw.requests(), 0);
    s.stop().await;
}

/// SECURITY.md test 76: with no country list, satellite, international-network, universal
/// and premium numbers are refused before anything is queued, counted, and accepted only
/// once the tenant allows the class by name (checked again at every send).
async fn risky_number_types_are_refused_until_allowed(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let body = s.signup("alice@example.com").await;
    let t = body["access_token"].as_str().unwrap();
    let enroll = |phone: &str| {
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(t)
            .json(&json!({ "type": "sms", "phone_number": phone }))
    };
    for (phone, class) in [
        ("+881 6 12345678", "satellite"),
        ("+870 301 234 567", "satellite"),
        ("+883 510 012345", "international_network"),
        ("+882 34 21234", "international_network"),
        ("+800 1234 5678", "universal"),
        ("+808 1234 5678", "shared_cost"),
        ("+979 1 2345 6789", "premium_rate"),
        ("+44 909 879 0000", "premium_rate"),
    ] {
        let (status, err) = send(enroll(phone)).await;
        assert_eq!(
            (status, error_code(&err)),
            (400, "number_type_not_allowed"),
            "{phone}: {err}"
        );
        assert_eq!(err["error"]["number_type"], class, "{phone}");
    }
    // Nor may sign-up store one.
    let (status, err) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "b@example.com", "password": PASSWORD, "phone_number": "+881612345678" }),
        )
        .await;
    assert_eq!(
        (status, error_code(&err)),
        (400, "number_type_not_allowed"),
        "{err}"
    );
    settle().await;
    assert_eq!(gw.requests(), 0, "nothing reached the provider");
    let (_, stats) = send(s.admin(s.get("/v1/admin/delivery-stats"))).await;
    let counters = stats["counters"].as_array().unwrap();
    assert!(
        !counters.iter().any(|c| c["metric"] == "codes_issued"),
        "no message was queued: {stats}"
    );
    for label in ["satellite", "international_network", "universal", "premium_rate"] {
        assert!(
            counters
                .iter()
                .any(|c| c["metric"] == "sms_refused" && c["label"] == label),
            "{label}: {stats}"
        );
    }

    // Unknown classes are refused; a named class is allowed, and only that one.
    let (status, err) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "sms_allowed_number_classes": ["satellite", "moon"] })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "invalid_settings"), "{err}");
    let (status, cfg) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "sms_allowed_number_classes": ["satellite", "satellite"] })),
    )
    .await;
    assert_eq!(status, 200, "{cfg}");
    assert_eq!(cfg["sms_allowed_number_classes"], json!(["satellite"]));
    let (_, cfg) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(cfg["sms_allowed_number_classes"], json!(["satellite"]));
    let (status, e) = send(enroll("+881 6 12345678")).await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let code = gw.code(1).await;
    assert_eq!(gw.received()[0].to, "+881612345678");
    s.clock.advance_secs(120);
    let (status, err) = send(enroll("+883 510 012345")).await;
    assert_eq!(
        (status, error_code(&err)),
        (400, "number_type_not_allowed"),
        "{err}"
    );
    let (status, c) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(t)
            .json(&json!({ "code": code })),
    )
    .await;
    assert_eq!(status, 200, "{c}");

    // Withdrawn again: the next send (a sign-in code) is refused before the provider.
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "sms_allowed_number_classes": [] })),
    )
    .await;
    let ch = mfa_signin(&s, "alice@example.com").await;
    let (status, err) = challenge(&s, &ch, &fid).await;
    assert_eq!(
        (status, error_code(&err)),
        (400, "number_type_not_allowed"),
        "{err}"
    );
    settle().await;
    assert_eq!(
        gw.received().len(),
        1,
        "only the allowed enrollment code was sent"
    );
    s.stop().await;
}

async fn transient_failures_are_retried(b: Backend) {
    let (s, gw) = sms_server(b).await;
    gw.fail_next(2);
    let body = s.signup("alice@example.com").await;
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let t = body["access_token"].as_str().unwrap().to_owned();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&t)
            .json(&json!({ "type": "sms", "phone_number": PHONE })),
    )
    .await;
    assert_eq!(status, 201, "the request does not wait for the provider");
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    settle().await;
    let (_, view) = send(s.admin(s.get(&format!("/v2/admin/users/{uid}/mfa")))).await;
    let delivery = &view["factors"][0]["last_delivery"];
    assert_eq!(delivery["status"], "queued", "{view}");
    assert!(!delivery["last_error"].as_str().unwrap().is_empty());
    // Backoff: the retry waits for the clock.
    for _ in 0..3 {
        s.clock.advance_secs(10);
        settle().await;
    }
    let code = gw.code(1).await;
    let (_, view) = send(s.admin(s.get(&format!("/v2/admin/users/{uid}/mfa")))).await;
    assert_eq!(view["factors"][0]["last_delivery"]["status"], "sent");
    assert_eq!(view["factors"][0]["last_delivery"]["attempts"], 3);
    let (status, _) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&t)
            .json(&json!({ "code": code })),
    )
    .await;
    assert_eq!(status, 200);
    // A provider that stays down: the message is abandoned once the code expires.
    gw.always_fail(true);
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(challenge(&s, &ch, &fid).await.0, 200);
    for _ in 0..12 {
        s.clock.advance_secs(60);
        settle().await;
    }
    let (_, view) = send(s.admin(s.get(&format!("/v2/admin/users/{uid}/mfa")))).await;
    let sms = view["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "sms")
        .unwrap();
    assert_eq!(sms["last_delivery"]["status"], "abandoned", "{view}");
    s.stop().await;
}

async fn fallback_provider_is_used_when_the_primary_fails(b: Backend) {
    let s = spawn(b).await;
    let primary = Gateway::start().await;
    let fallback = Gateway::start().await;
    primary.always_fail(true);
    allow_all(&s).await;
    let (status, view) = send(s.mfa_admin(s.http.put(format!("{}/v1/admin/sms-provider", s.url))).json(&json!({
        "provider": "twilio", "account_sid": gateway::TWILIO_SID, "auth_token": gateway::TWILIO_TOKEN,
        "from_number": "+15005550006", "base_url": primary.url,
        "fallback": { "provider": "webhook", "url": format!("{}/webhook", fallback.url), "secret": gateway::WEBHOOK_SECRET }
    })))
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["fallback"]["provider"], "webhook");
    let (_, fid) = sms_user(&s, &fallback, "alice@example.com", PHONE).await;
    assert!(primary.requests() >= 1, "the primary was tried first");
    assert!(primary.received().is_empty());
    let _ = fid;
    let (_, stats) = send(s.admin(s.get("/v1/admin/delivery-stats"))).await;
    assert!(
        stats["counters"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["metric"] == "fallback_used"),
        "{stats}"
    );
    s.stop().await;
}

async fn a_slow_provider_never_holds_the_request(b: Backend) {
    let (s, gw) = sms_server(b).await;
    gw.hold(true);
    let body = s.signup("alice@example.com").await;
    let t = body["access_token"].as_str().unwrap();
    let (status, _) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(t)
            .json(&json!({ "type": "sms", "phone_number": PHONE })),
    )
    .await;
    // The response came back while the provider is still holding the delivery.
    assert_eq!(status, 201);
    settle().await;
    assert_eq!(gw.requests(), 1);
    assert!(gw.received().is_empty());
    // Other requests are served meanwhile.
    assert_eq!(send(s.get("/healthz")).await.0, 200);
    assert_eq!(s.signin("alice@example.com", PASSWORD).await.0, 200);
    gw.hold(false);
    gw.code(1).await;
    s.stop().await;
}

async fn admin_may_create_a_factor_for_a_verified_phone(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let (status, body) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "alice@example.com", "password": PASSWORD, "phone_number": PHONE }),
        )
        .await;
    assert_eq!(status, 201);
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let t = body["access_token"].as_str().unwrap().to_owned();
    let create = || {
        s.mfa_admin(s.post(&format!("/v1/users/{uid}/mfa/factors")))
            .json(&json!({ "type": "sms", "phone_number": PHONE, "confirmed": true }))
    };
    let (status, err) = send(create()).await;
    assert_eq!((status, error_code(&err)), (409, "phone_not_verified"));
    // A user cannot use `confirmed` for themselves.
    let (status, _) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&t)
            .json(&json!({ "type": "sms", "phone_number": PHONE, "confirmed": true })),
    )
    .await;
    assert_eq!(status, 403);
    // Confirming an SMS factor to that number verifies the phone.
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&t)
            .json(&json!({ "type": "sms", "phone_number": PHONE })),
    )
    .await;
    assert_eq!(status, 201);
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let code = gw.code(1).await;
    send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&t)
            .json(&json!({ "code": code })),
    )
    .await;
    let (_, me) = send(s.get("/v1/users/me").bearer_auth(&t)).await;
    assert_eq!(me["phone_verified"], true);
    // Now the admin may back a (second) SMS factor with it, no code needed: with a key
    // given `mfa:admin`, not with an everyday one (refused and audited).
    let (status, err) = send(
        s.admin(s.post(&format!("/v1/users/{uid}/mfa/factors")))
            .json(&json!({ "type": "sms", "phone_number": PHONE, "confirmed": true })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (403, "insufficient_scope"), "{err}");
    let (_, events) = send(s.admin(s.get(&format!("/v1/admin/audit-events?user_id={uid}")))).await;
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "factor.create_confirmed" && e["outcome"] == "refused"),
        "{events}"
    );
    let (status, created) = send(create()).await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["status"], "active");
    assert_eq!(created["phone_number"], "+1***2671");
    settle().await;
    assert_eq!(gw.requests(), 1, "no code was sent for the admin-created factor");
    // A different number is not verified.
    let (status, _) = send(
        s.mfa_admin(s.post(&format!("/v1/users/{uid}/mfa/factors")))
            .json(&json!({ "type": "sms", "phone_number": "+14155550100", "confirmed": true })),
    )
    .await;
    assert_eq!(status, 409);
    s.stop().await;
}

async fn provider_configuration_is_sealed_and_redacted(b: Backend) {
    let s = spawn(b).await;
    let (status, view) = send(s.admin(s.get("/v1/admin/sms-provider"))).await;
    assert_eq!(
        (status, view["provider"].clone(), view["source"].clone()),
        (200, json!("console"), json!("default"))
    );
    // Whoever sets the provider reads every code: an everyday key may not (audited).
    for (method, channel) in [
        ("PUT", "sms"),
        ("PUT", "email"),
        ("DELETE", "sms"),
        ("DELETE", "email"),
    ] {
        let url = format!("{}/v1/admin/{channel}-provider", s.url);
        let req = match method {
            "PUT" => s.http.put(url).json(&json!({ "provider": "console" })),
            _ => s.http.delete(url),
        };
        let (status, err) = send(s.admin(req)).await;
        assert_eq!(
            (status, error_code(&err)),
            (403, "insufficient_scope"),
            "{method} {channel}"
        );
    }
    let (_, events) = send(s.admin(s.get("/v1/admin/audit-events"))).await;
    let refused: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "provider.changed")
        .collect();
    assert_eq!(refused.len(), 4);
    assert!(refused.iter().all(|e| e["outcome"] == "refused"));
    let (status, view) = send(s.mfa_admin(s.http.put(format!("{}/v1/admin/sms-provider", s.url))).json(&json!({
        "provider": "twilio", "account_sid": gateway::TWILIO_SID, "auth_token": gateway::TWILIO_TOKEN, "from_number": "+15005550006"
    })))
    .await;
    assert_eq!(status, 200, "{view}");
    let (_, view) = send(s.admin(s.get("/v1/admin/sms-provider"))).await;
    assert_eq!(view["provider"], "twilio");
    assert_eq!(view["source"], "tenant");
    assert_eq!(view["account_sid"], gateway::TWILIO_SID);
    assert!(!view.to_string().contains(gateway::TWILIO_TOKEN), "{view}");
    // Sealed at rest.
    let sealed = s
        .app
        .store
        .list_sealed(latchkey_store::model::SealedColumn::ProviderConfig)
        .await
        .unwrap();
    assert_eq!(sealed.len(), 1);
    assert!(!sealed[0].1.contains(gateway::TWILIO_TOKEN) && !sealed[0].1.contains("twilio"));
    // Every problem is listed, without echoing secrets.
    let (status, err) = send(
        s.mfa_admin(s.http.put(format!("{}/v1/admin/sms-provider", s.url)))
            .json(&json!({
                "provider": "twilio", "account_sid": "", "auth_token": "", "from_number": "nope"
            })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "invalid_provider"));
    assert!(err["error"]["problems"].as_array().unwrap().len() >= 2, "{err}");
    for bad in [
        json!({ "provider": "carrier_pigeon" }),
        json!({ "provider": "twilio" }),
        json!({ "provider": "console", "extra": 1 }),
    ] {
        let (status, err) = send(
            s.mfa_admin(s.http.put(format!("{}/v1/admin/sms-provider", s.url)))
                .json(&bad),
        )
        .await;
        assert_eq!((status, error_code(&err)), (400, "invalid_provider"), "{bad}");
    }
    // Email: SMTP password redacted.
    let (status, view) = send(s.mfa_admin(s.http.put(format!("{}/v1/admin/email-provider", s.url))).json(&json!({
        "provider": "smtp", "host": "127.0.0.1", "port": 2525, "tls": "none", "username": "u", "password": "smtp-password-secret", "from": "Acme <no-reply@acme.test>"
    })))
    .await;
    assert_eq!(status, 200, "{view}");
    assert!(!view.to_string().contains("smtp-password-secret"));
    // Deleting returns to the default.
    assert_eq!(
        send(s.mfa_admin(s.http.delete(format!("{}/v1/admin/sms-provider", s.url))))
            .await
            .0,
        204
    );
    let (_, view) = send(s.admin(s.get("/v1/admin/sms-provider"))).await;
    assert_eq!(view["source"], "default");
    // Only with a secret key.
    assert_eq!(send(s.get("/v1/admin/sms-provider")).await.0, 401);
    s.stop().await;
}

async fn console_provider_is_the_default(b: Backend) {
    let s = spawn(b).await;
    allow_all(&s).await;
    let body = s.signup("console@example.com").await;
    let t = body["access_token"].as_str().unwrap();
    // Unique per run: every test of this process writes to one log buffer.
    let phone = format!("+1415555{:04}", (std::process::id() + b as u32) % 10_000);
    let (status, _) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(t)
            .json(&json!({ "type": "sms", "phone_number": phone })),
    )
    .await;
    assert_eq!(status, 201);
    for _ in 0..40 {
        if logs().contains(&phone) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let logs = logs();
    let line = logs
        .lines()
        .find(|l| l.contains("DEVELOPMENT-ONLY") && l.contains(&phone))
        .expect("console SMS logged");
    gateway::extract_code(line.split_once("body=").unwrap().1);
    s.stop().await;
}

async fn email_otp_with_the_console_provider(b: Backend) {
    let s = spawn(b).await;
    allow_all(&s).await;
    // Unique per run: every test of this process writes to one log buffer.
    let email = format!("mailer{}@example.com", std::process::id() as u64 * 10 + b as u64);
    let body = s.signup(&email).await;
    let t = body["access_token"].as_str().unwrap().to_owned();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&t)
            .json(&json!({ "type": "email_otp", "name": "Email OTP" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(e["email"], "m***@example.com");
    let _ = &email;
    assert!(e["notice"].as_str().unwrap().contains("weakest"));
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let code = wait_for_console_email(&s, &email, 1).await;
    let (status, _) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&t)
            .json(&json!({ "code": code })),
    )
    .await;
    assert_eq!(status, 200);
    let ch = mfa_signin(&s, &email).await;
    let (status, sel) = challenge(&s, &ch, &fid).await;
    assert_eq!(status, 200);
    assert_eq!(sel["destination"], "m***@example.com");
    let code = wait_for_console_email(&s, &email, 2).await;
    let (status, tokens) = verify(&s, &ch, &fid, &code).await;
    assert_eq!(status, 200);
    let c = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(c["amr"], json!(["pwd", "email", "mfa"]));
    assert_eq!(c["acr"], "aal1", "an email code never reaches AAL2");
    s.stop().await;
}

/// The code of the `n`-th console email to `to`.
pub(crate) async fn wait_for_console_email(_s: &TestServer, to: &str, n: usize) -> String {
    for _ in 0..100 {
        let logs = logs();
        let lines: Vec<&str> = logs
            .lines()
            .filter(|l| l.contains("DEVELOPMENT-ONLY console email") && l.contains(to))
            .collect();
        if let Some(line) = lines.get(n - 1) {
            // Past the timestamp, whose microseconds are six digits too.
            return gateway::extract_code(line.split_once("text=").unwrap().1);
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("console email {n} to {to} never logged");
}

/// SMS through AWS SNS, with moto (the AWS emulator, checking every SigV4 signature) as AWS.
async fn sms_through_aws_sns(b: Backend) {
    use latchkey_testkit::moto::{published, publisher_key, start_moto};
    if !latchkey_testkit::process::python_module_or_skip("moto") {
        return;
    }
    let moto = start_moto();
    let (key_id, secret) = publisher_key(&moto).await;
    let s = spawn(b).await;
    allow_all(&s).await;
    let (status, view) = send(
        s.mfa_admin(s.http.put(format!("{}/v1/admin/sms-provider", s.url)))
            .json(&json!({
                "provider": "aws_sns", "region": "eu-west-1", "access_key_id": key_id,
                "secret_access_key": secret, "endpoint_url": moto.endpoint
            })),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert!(!view.to_string().contains(&secret));
    let sms_code = |n: usize| {
        let moto = &moto;
        async move {
            for _ in 0..200 {
                let sent = published(moto).await;
                if let Some((_, to, message)) = sent.get(n - 1) {
                    assert_eq!(to, PHONE);
                    return gateway::extract_code(message);
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("SMS {n} never reached SNS");
        }
    };
    let body = s.signup("alice@example.com").await;
    let t = body["access_token"].as_str().unwrap().to_owned();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&t)
            .json(&json!({ "type": "sms", "phone_number": PHONE })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let code = sms_code(1).await;
    let (status, _) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&t)
            .json(&json!({ "code": code })),
    )
    .await;
    assert_eq!(status, 200);
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(challenge(&s, &ch, &fid).await.0, 200);
    let code = sms_code(2).await;
    let (status, tokens) = verify(&s, &ch, &fid, &code).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        claims(tokens["access_token"].as_str().unwrap())["amr"],
        json!(["pwd", "sms", "mfa"])
    );
    s.stop().await;
}

/// Email OTP through SMTP, with aiosmtpd (a real SMTP server) receiving; the message is
/// read back with Python's MIME parser.
async fn email_otp_through_smtp(b: Backend) {
    use latchkey_testkit::smtpd::{read_message, Smtpd};
    if !latchkey_testkit::process::python_module_or_skip("aiosmtpd") {
        return;
    }
    let smtpd = Smtpd::start();
    let s = spawn(b).await;
    allow_all(&s).await;
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "app_name": "Acme" })),
    )
    .await;
    let (status, view) = send(s.mfa_admin(s.http.put(format!("{}/v1/admin/email-provider", s.url))).json(&json!({
        "provider": "smtp", "host": "127.0.0.1", "port": smtpd.port, "tls": "none", "from": "Acme <no-reply@acme.test>"
    })))
    .await;
    assert_eq!(status, 200, "{view}");
    // Maildir names do not sort by arrival, so each wait looks for a new file; the security
    // notice that confirming a factor sends (docs/events.md) is passed over.
    let seen = std::sync::Mutex::new(Vec::<std::path::PathBuf>::new());
    let mail = |_n: usize| {
        let (smtpd, seen) = (&smtpd, &seen);
        async move {
            for _ in 0..200 {
                let new: Vec<_> = {
                    let seen = seen.lock().unwrap();
                    smtpd
                        .delivered()
                        .into_iter()
                        .filter(|p| !seen.contains(p))
                        .collect()
                };
                for path in new {
                    let msg = read_message(&path);
                    if msg["headers"]["Subject"] == "Your Acme verification code" {
                        seen.lock().unwrap().push(path);
                        return msg;
                    }
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            panic!("no new code email arrived");
        }
    };
    let body = s.signup("alice@example.com").await;
    let t = body["access_token"].as_str().unwrap().to_owned();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&t)
            .json(&json!({ "type": "email_otp" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let msg = mail(1).await;
    assert_eq!(msg["type"], "multipart/alternative");
    assert_eq!(msg["headers"]["To"], "alice@example.com");
    assert!(msg["headers"]["From"]
        .as_str()
        .unwrap()
        .contains("no-reply@acme.test"));
    assert_eq!(msg["headers"]["Subject"], "Your Acme verification code");
    let text = msg["parts"][0]["content"].as_str().unwrap();
    let html = msg["parts"][1]["content"].as_str().unwrap();
    let code = gateway::extract_code(text);
    assert!(html.contains(&code) && text.contains("10 minutes"));
    let (status, _) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&t)
            .json(&json!({ "code": code })),
    )
    .await;
    assert_eq!(status, 200);
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(challenge(&s, &ch, &fid).await.0, 200);
    let msg = mail(2).await;
    let code = gateway::extract_code(msg["parts"][0]["content"].as_str().unwrap());
    let (status, tokens) = verify(&s, &ch, &fid, &code).await;
    assert_eq!(status, 200);
    let c = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(
        (c["amr"].clone(), c["acr"].clone()),
        (json!(["pwd", "email", "mfa"]), json!("aal1"))
    );
    s.stop().await;
}

async fn user_and_address_limits(b: Backend) {
    let (s, gw) = sms_server(b).await;
    // Send limits count in fixed hourly windows: start well inside one, so the test's few
    // minutes never straddle a boundary (it failed once in a run that crossed 17:00).
    let into_hour = latchkey_core::clock::Clock::now_ms(&s.clock).div_euclid(1000) % 3600;
    if into_hour > 3600 - 600 {
        s.clock.advance_secs(3600 - into_hour + 5);
    }
    send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "send_limits": { "user_hourly": 2, "ip_hourly": 3 } })),
    )
    .await;
    let (_, fid) = sms_user(&s, &gw, "alice@example.com", PHONE).await;
    let ch = mfa_signin(&s, "alice@example.com").await;
    assert_eq!(challenge(&s, &ch, &fid).await.0, 200);
    let ch = mfa_signin(&s, "alice@example.com").await;
    let (status, err) = challenge(&s, &ch, &fid).await;
    assert_eq!(
        (status, error_code(&err)),
        (429, "rate_limited"),
        "third code for one user in an hour"
    );
    // Another user from the same address: the address has one send left, then none.
    let body = s.signup("bob@example.com").await;
    let t = body["access_token"].as_str().unwrap();
    let enroll = |phone: &'static str| {
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(t)
            .json(&json!({ "type": "sms", "phone_number": phone }))
    };
    assert_eq!(send(enroll("+14155550100")).await.0, 201);
    s.clock.advance_secs(61);
    let (status, err) = send(enroll("+14155550101")).await;
    assert_eq!(
        (status, error_code(&err)),
        (429, "rate_limited"),
        "fourth code from one address in an hour"
    );
    settle().await;
    assert_eq!(gw.requests(), 3);
    let (_, stats) = send(s.admin(s.get("/v1/admin/delivery-stats"))).await;
    let counters = stats["counters"].as_array().unwrap();
    assert!(counters.iter().any(|c| c["label"] == "user_hourly"), "{stats}");
    assert!(counters.iter().any(|c| c["label"] == "ip_hourly"), "{stats}");
    s.stop().await;
}

async fn put_provider(s: &TestServer, channel: &str, body: Value) -> (u16, Value) {
    send(
        s.mfa_admin(s.http.put(format!("{}/v1/admin/{channel}-provider", s.url)))
            .json(&body),
    )
    .await
}

async fn internal_provider_destinations_are_refused_unless_allowed(b: Backend) {
    let s = spawn_tweaked(b, |c| c.allow_private_destinations = false).await;
    let gw = Gateway::start().await;
    let webhook =
        |url: String| json!({ "provider": "webhook", "url": url, "secret": gateway::WEBHOOK_SECRET });
    let twilio = |base: &str| {
        json!({ "provider": "twilio", "account_sid": gateway::TWILIO_SID, "auth_token": gateway::TWILIO_TOKEN,
                "from_number": "+15005550006", "base_url": base })
    };
    for body in [
        webhook(format!("{}/webhook", gw.url)),
        webhook("http://169.254.169.254/latest/meta-data/".into()),
        webhook("http://10.0.0.1/sms".into()),
        webhook("http://[::1]:8080/sms".into()),
        webhook("https://localhost/sms".into()),
        twilio("http://0.0.0.0:80"),
        twilio("http://[::ffff:127.0.0.1]"),
        json!({ "provider": "aws_sns", "region": "eu-west-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "endpoint_url": "http://192.168.1.1" }),
    ] {
        let (status, err) = put_provider(&s, "sms", body.clone()).await;
        assert_eq!((status, error_code(&err)), (400, "invalid_provider"), "{body}");
        let problems = err["error"]["problems"].to_string();
        assert!(problems.contains("allow_private_destinations"), "{err}");
    }
    // A fallback is held to the same rule.
    let mut pair = twilio("https://api.twilio.com");
    pair["fallback"] = webhook(format!("{}/webhook", gw.url));
    let (status, err) = put_provider(&s, "sms", pair).await;
    assert_eq!((status, error_code(&err)), (400, "invalid_provider"));
    assert!(
        err["error"]["problems"][0]
            .as_str()
            .unwrap()
            .starts_with("fallback: url "),
        "{err}"
    );
    let (status, err) = put_provider(
        &s,
        "email",
        json!({ "provider": "smtp", "host": "127.0.0.1", "port": 25, "tls": "none", "from": "a@acme.test" }),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "invalid_provider"), "{err}");
    // Nothing was stored, and public destinations are fine.
    let (_, view) = send(s.admin(s.get("/v1/admin/sms-provider"))).await;
    assert_eq!(view["source"], "default");
    let (status, view) = put_provider(&s, "sms", webhook("https://sms-gateway.example/send".into())).await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(gw.requests(), 0);
    s.stop().await;
}

async fn stored_destinations_are_checked_again_at_send_time(b: Backend) {
    // Configured while the server allowed it; the operator then turned the switch off.
    let (s, gw) = sms_server(b).await;
    let (b, dir, schema, clock) = s.stop().await;
    let s = spawn_with(b, dir, schema, clock, |c| c.allow_private_destinations = false).await;
    let (_, view) = send(s.admin(s.get("/v1/admin/sms-provider"))).await;
    assert_eq!(view["source"], "tenant");
    let body = s.signup("alice@example.com").await;
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let t = body["access_token"].as_str().unwrap();
    let (status, _) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(t)
            .json(&json!({ "type": "sms", "phone_number": PHONE })),
    )
    .await;
    assert_eq!(status, 201);
    let delivery = last_delivery_error(&s, &uid).await;
    assert_eq!(delivery["status"], "failed", "refused for good: {delivery}");
    assert_eq!(delivery["last_error"], "webhook: destination not allowed");
    assert_eq!(gw.requests(), 0, "no connection was made");
    s.stop().await;
}

/// The first SMS factor's last delivery, once it carries an error.
async fn last_delivery_error(s: &TestServer, uid: &str) -> Value {
    for _ in 0..100 {
        let (_, view) = send(s.admin(s.get(&format!("/v2/admin/users/{uid}/mfa")))).await;
        let delivery = &view["factors"][0]["last_delivery"];
        if delivery["last_error"].is_string() {
            return delivery.clone();
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("no delivery error recorded for {uid}");
}

async fn stored_delivery_errors_do_not_tell_ports_apart(b: Backend) {
    // A closed port, one that accepts and never answers, one that answers garbage: a tenant
    // admin reading the factor's last delivery learns nothing about which is which.
    let s = spawn_tweaked(b, |c| c.delivery_timeout_secs = 1).await;
    allow_all(&s).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            held.push(socket);
        }
    });
    let junk = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let junk_addr = junk.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = junk.accept().await {
            let _ = socket.try_write(b"SSH-2.0-OpenSSH_9.6\r\n");
        }
    });
    let mut errors = Vec::new();
    for (i, addr) in [closed, silent_addr, junk_addr].into_iter().enumerate() {
        let (status, view) = put_provider(
            &s,
            "sms",
            json!({ "provider": "webhook", "url": format!("http://{addr}/hook"), "secret": gateway::WEBHOOK_SECRET }),
        )
        .await;
        assert_eq!(status, 200, "{view}");
        let body = s.signup(&format!("user{i}@example.com")).await;
        let uid = body["user"]["id"].as_str().unwrap().to_owned();
        let t = body["access_token"].as_str().unwrap();
        let (status, _) = send(
            s.post("/v1/users/me/mfa/factors")
                .bearer_auth(t)
                .json(&json!({ "type": "sms", "phone_number": PHONE })),
        )
        .await;
        assert_eq!(status, 201);
        let delivery = last_delivery_error(&s, &uid).await;
        assert_eq!(
            delivery["status"], "queued",
            "transient, retried later: {delivery}"
        );
        errors.push(delivery["last_error"].as_str().unwrap().to_owned());
    }
    assert_eq!(errors, ["webhook: unreachable"; 3]);
    s.stop().await;
}

async fn sns_sender_settings_round_trip(b: Backend) {
    let s = spawn(b).await;
    let sns = json!({ "provider": "aws_sns", "region": "eu-west-1", "access_key_id": "AKIAIOSFODNN7EXAMPLE",
                      "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
                      "origination_number": "+18005550100", "sender_id": "AcmeAuth" });
    let (status, view) = put_provider(&s, "sms", sns.clone()).await;
    assert_eq!(status, 200, "{view}");
    let (_, view) = send(s.admin(s.get("/v1/admin/sms-provider"))).await;
    assert_eq!(view["origination_number"], "+18005550100");
    assert_eq!(view["sender_id"], "AcmeAuth");
    assert_eq!(view["secret_access_key"], "****EKEY");
    let mut bad = sns;
    bad["origination_number"] = json!("18005550100");
    bad["sender_id"] = json!("Acme Authentication");
    let (status, err) = put_provider(&s, "sms", bad).await;
    assert_eq!((status, error_code(&err)), (400, "invalid_provider"));
    assert_eq!(err["error"]["problems"].as_array().unwrap().len(), 2, "{err}");
    s.stop().await;
}
