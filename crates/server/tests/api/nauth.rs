//! nauth-toolkit's routes (`/auth/*`), with every request body of nauth's SMS MFA guide
//! (`nauth-sms-mfa.txt`) sent as the guide writes it, only the session, token and device
//! ids filled in: the login and its three challenges, the verified-phone auto-completion,
//! resend, the protected device routes, the preferred device, the tenant's settings in
//! nauth's names, nauth's error shape, and that every change shows through `/v1` too.
//! SMS codes are read from the stand-in gateway, as the delivery tests do.

use crate::both_stores;
use crate::delivery::{sms_server, sms_user, PHONE};
use crate::gateway::Gateway;
use crate::helpers::*;
use crate::mfa::code as totp_code;
use serde_json::{json, Value};

both_stores!(
    the_sms_guide_end_to_end,
    forced_setup_auto_completes_from_the_verified_phone,
    forced_setup_sends_a_code_to_an_unverified_phone,
    verify_phone_collects_a_number,
    resend_keeps_the_cooldown_and_wrong_codes_are_throttled,
    the_preferred_device_decides_where_the_code_goes,
    protected_routes_and_both_surfaces_agree,
    totp_and_email_through_the_same_routes,
    mfa_settings_in_nauth_names,
    every_bad_input_is_a_clear_nauth_error,
);

async fn login(s: &TestServer, email: &str) -> (u16, Value) {
    s.post_json(
        "/auth/login",
        json!({ "identifier": email, "password": PASSWORD }),
    )
    .await
}

async fn as_user(token: &str, req: reqwest::RequestBuilder) -> (u16, Value) {
    send(req.bearer_auth(token)).await
}

/// nauth's error body: the status repeated, an upper-case code, a message and a time.
fn nauth_error(status: u16, body: &Value) -> &str {
    assert_eq!(body["statusCode"], status, "{body}");
    assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()), "{body}");
    assert!(
        body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
        "{body}"
    );
    body["code"].as_str().unwrap()
}

fn wrong(code: &str) -> &'static str {
    if code == "000000" {
        "111111"
    } else {
        "000000"
    }
}

async fn require_sms(s: &TestServer) {
    let (status, body) = send(s.admin(s.patch("/auth/admin/mfa-config")).json(&json!({
        "enforcement": "REQUIRED", "allowedMethods": ["sms", "backup"]
    })))
    .await;
    assert_eq!(status, 200, "{body}");
}

async fn audit(s: &TestServer) -> Vec<Value> {
    let (status, body) = send(
        s.admin(s.get("/v1/admin/audit-events"))
            .query(&[("limit", "200")]),
    )
    .await;
    assert_eq!(status, 200);
    body["events"].as_array().unwrap().clone()
}

/// The guide's Steps 4 and 5 in order: setup (code by SMS), verify-setup, then a login
/// that gets `MFA_REQUIRED` with the code already sent, and `respond-challenge`.
async fn the_sms_guide_end_to_end(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let (status, up) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "alice@example.com", "password": PASSWORD, "phone_number": PHONE }),
        )
        .await;
    assert_eq!(status, 201, "{up}");
    // No MFA yet: tokens as nauth names them.
    let (status, t) = login(&s, "alice@example.com").await;
    assert_eq!(status, 200, "{t}");
    let token = t["accessToken"].as_str().unwrap().to_owned();
    assert!(t["refreshToken"].as_str().unwrap().starts_with("rt_"));
    assert!(
        t["accessTokenExpiresAt"].as_i64().unwrap() > 1_600_000_000_000,
        "milliseconds"
    );
    assert_eq!(t["user"]["email"], "alice@example.com");
    assert_eq!(t["user"]["sub"], up["user"]["id"]);
    assert_eq!(t["user"]["isPhoneVerified"], false);
    // The same access token works on /v1.
    let (status, me) = as_user(&token, s.get("/v1/users/me")).await;
    assert_eq!(status, 200, "{me}");

    // POST /auth/mfa/setup-data {"methodName":"sms"}: the account's phone, a code sent.
    let (status, setup) = as_user(
        &token,
        s.post("/auth/mfa/setup-data")
            .json(&json!({ "methodName": "sms" })),
    )
    .await;
    assert_eq!(status, 200, "{setup}");
    assert_eq!(setup, json!({ "setupData": { "maskedPhone": "+1***2671" } }));
    let code = gw.code(1).await;
    assert_eq!(gw.received()[0].to, PHONE);
    // POST /auth/mfa/verify-setup {"methodName":"sms","setupData":{"code"}} → {"deviceId"}.
    let (status, bad) = as_user(
        &token,
        s.post("/auth/mfa/verify-setup")
            .json(&json!({ "methodName": "sms", "setupData": { "code": wrong(&code) } })),
    )
    .await;
    assert_eq!(nauth_error(status, &bad), "VERIFY_CODE_INVALID");
    let (status, v) = as_user(
        &token,
        s.post("/auth/mfa/verify-setup")
            .json(&json!({ "methodName": "sms", "setupData": { "code": code } })),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let device = v["deviceId"].as_str().unwrap().to_owned();
    assert!(device.starts_with("fac_"));
    assert_eq!(
        v["backupCodes"].as_array().unwrap().len(),
        10,
        "the first factor's, once"
    );

    // The next login: MFA_REQUIRED, the code sent automatically.
    let (status, ch) = login(&s, "alice@example.com").await;
    assert_eq!(status, 200, "{ch}");
    assert_eq!(ch["challengeName"], "MFA_REQUIRED");
    assert_eq!(
        ch["challengeParameters"],
        json!({
            "availableMethods": ["sms", "backup"],
            "preferredMethod": "sms",
            "destination": "+1***2671",
            "deliveryMedium": "SMS"
        })
    );
    let session = ch["session"].as_str().unwrap().to_owned();
    assert!(session.starts_with("chl_"));
    let code = gw.code(2).await;
    // POST /auth/respond-challenge, the guide's body.
    let (status, done) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": session, "type": "MFA_REQUIRED", "method": "sms", "code": code }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    let access = done["accessToken"].as_str().unwrap();
    let c = claims(access);
    assert_eq!(c["amr"], json!(["pwd", "sms", "mfa"]));
    assert_eq!(c["acr"], "aal2");
    // The session is spent.
    let (status, again) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": session, "type": "MFA_REQUIRED", "method": "sms", "code": code }),
        )
        .await;
    assert_eq!(nauth_error(status, &again), "CHALLENGE_EXPIRED");
    // Status and devices, in nauth's shapes.
    let (status, st) = as_user(access, s.get("/auth/mfa/status")).await;
    assert_eq!(status, 200, "{st}");
    assert_eq!(st["enabled"], true);
    assert_eq!(st["configuredMethods"], json!(["sms"]));
    assert_eq!(st["hasBackupCodes"], true);
    let (status, list) = as_user(access, s.get("/auth/mfa/devices")).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list["devices"][0]["id"], device.as_str());
    assert_eq!(list["devices"][0]["type"], "sms");
    assert_eq!(list["devices"][0]["isActive"], true);
    // The device is the /v1 factor.
    let (_, factors) = as_user(access, s.get("/v1/users/me/mfa/factors")).await;
    assert!(factors["factors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["factor_id"] == device.as_str() && f["status"] == "active"));
    s.stop().await;
}

/// Signs up with `PHONE`, proves it with an SMS factor through /v1, and has an admin reset
/// the user's MFA: a verified phone and no factor.
async fn verified_phone_without_factors(s: &TestServer, gw: &Gateway, email: &str) -> String {
    let (status, up) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": email, "password": PASSWORD, "phone_number": PHONE }),
        )
        .await;
    assert_eq!(status, 201, "{up}");
    let token = up["access_token"].as_str().unwrap().to_owned();
    let uid = up["user"]["id"].as_str().unwrap().to_owned();
    let before = gw.received().len();
    let (status, e) = as_user(
        &token,
        s.post("/v1/users/me/mfa/factors").json(&json!({ "type": "sms" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap();
    let code = gw.code(before + 1).await;
    let (status, _) = as_user(
        &token,
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .json(&json!({ "code": code })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = send(s.mfa_admin(s.http.delete(format!("{}/v2/admin/users/{uid}/mfa", s.url)))).await;
    assert_eq!(status, 204);
    uid
}

async fn forced_setup_auto_completes_from_the_verified_phone(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let uid = verified_phone_without_factors(&s, &gw, "bob@example.com").await;
    require_sms(&s).await;
    let (status, ch) = login(&s, "bob@example.com").await;
    assert_eq!(status, 200, "{ch}");
    assert_eq!(ch["challengeName"], "MFA_SETUP_REQUIRED");
    assert_eq!(ch["challengeParameters"], json!({ "allowedMethods": ["sms"] }));
    let session = ch["session"].as_str().unwrap().to_owned();
    let sent = gw.received().len();
    // POST /auth/challenge/setup-data {"session","method":"sms"}: the phone is verified.
    let (status, setup) = s
        .post_json(
            "/auth/challenge/setup-data",
            json!({ "session": session, "method": "sms" }),
        )
        .await;
    assert_eq!(status, 200, "{setup}");
    assert_eq!(setup["setupData"]["autoCompleted"], true);
    let device = setup["setupData"]["deviceId"].as_str().unwrap().to_owned();
    // Another session's, or a made-up, device completes nothing.
    let (status, err) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": session, "type": "MFA_SETUP_REQUIRED", "method": "sms",
                    "setupData": { "deviceId": "fac_01HZZZZZZZZZZZZZZZZZZZZZZZ" } }),
        )
        .await;
    assert_eq!(nauth_error(status, &err), "VERIFY_CODE_INVALID");
    // The guide's auto-completed body.
    let (status, done) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": session, "type": "MFA_SETUP_REQUIRED", "method": "sms",
                    "setupData": { "deviceId": device } }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    settle_gateway().await;
    assert_eq!(gw.received().len(), sent, "no code was sent");
    // Nothing was proven now but the password: aal2 as a remembered device would give,
    // the second factor dating from the phone's verification.
    let c = claims(done["accessToken"].as_str().unwrap());
    assert_eq!(c["amr"], json!(["pwd", "mfa"]));
    assert_eq!(c["acr"], "aal2");
    assert_eq!(done["backupCodes"].as_array().unwrap().len(), 10);
    // Active on /v1 as well; audited with what completed it.
    let (_, view) = send(s.admin(s.get(&format!("/v2/admin/users/{uid}/mfa")))).await;
    assert!(view["factors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["factor_id"] == device.as_str() && f["status"] == "active"));
    assert!(audit(&s).await.iter().any(|e| e["action"] == "factor.confirm"
        && e["outcome"] == "success"
        && e["detail"] == "sms, verified account phone"));
    // The session is spent.
    let (status, err) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": session, "type": "MFA_SETUP_REQUIRED", "method": "sms",
                    "setupData": { "deviceId": device } }),
        )
        .await;
    assert_eq!(nauth_error(status, &err), "CHALLENGE_EXPIRED");
    // And the next login asks for the SMS code.
    let (_, ch) = login(&s, "bob@example.com").await;
    assert_eq!(ch["challengeName"], "MFA_REQUIRED");
    s.stop().await;
}

async fn settle_gateway() {
    tokio::time::sleep(std::time::Duration::from_millis(700)).await;
}

async fn forced_setup_sends_a_code_to_an_unverified_phone(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let (status, _) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "carol@example.com", "password": PASSWORD, "phone_number": PHONE }),
        )
        .await;
    assert_eq!(status, 201);
    require_sms(&s).await;
    let (_, ch) = login(&s, "carol@example.com").await;
    assert_eq!(ch["challengeName"], "MFA_SETUP_REQUIRED", "{ch}");
    let session = ch["session"].as_str().unwrap().to_owned();
    let (status, setup) = s
        .post_json(
            "/auth/challenge/setup-data",
            json!({ "session": session, "method": "sms" }),
        )
        .await;
    assert_eq!(status, 200, "{setup}");
    assert_eq!(setup, json!({ "setupData": { "maskedPhone": "+1***2671" } }));
    let code = gw.code(1).await;
    let (status, err) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": session, "type": "MFA_SETUP_REQUIRED", "method": "sms",
                    "setupData": { "code": wrong(&code) } }),
        )
        .await;
    assert_eq!(nauth_error(status, &err), "VERIFY_CODE_INVALID");
    // The guide's code body.
    let (status, done) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": session, "type": "MFA_SETUP_REQUIRED", "method": "sms",
                    "setupData": { "code": code } }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        claims(done["accessToken"].as_str().unwrap())["amr"],
        json!(["pwd", "sms", "mfa"])
    );
    assert_eq!(
        done["user"]["isPhoneVerified"], true,
        "the code proved the number"
    );
    s.stop().await;
}

async fn verify_phone_collects_a_number(b: Backend) {
    let (s, gw) = sms_server(b).await;
    s.signup("dave@example.com").await;
    require_sms(&s).await;
    let (_, ch) = login(&s, "dave@example.com").await;
    assert_eq!(ch["challengeName"], "VERIFY_PHONE", "{ch}");
    let session = ch["session"].as_str().unwrap().to_owned();
    // {"session","type":"VERIFY_PHONE","phone"}: a code goes to the number.
    let (status, err) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": session, "type": "VERIFY_PHONE", "phone": "12" }),
        )
        .await;
    assert_eq!(nauth_error(status, &err), "VALIDATION_FAILED");
    let (status, next) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": session, "type": "VERIFY_PHONE", "phone": PHONE }),
        )
        .await;
    assert_eq!(status, 200, "{next}");
    assert_eq!(next["challengeName"], "VERIFY_PHONE");
    assert_eq!(next["session"], session.as_str());
    assert_eq!(
        next["challengeParameters"]["codeDeliveryDestination"],
        "+1***2671"
    );
    let first = gw.code(1).await;
    // Resend: the enrollment starts anew for the same number; the old code is dead.
    let (status, r) = s
        .post_json("/auth/challenge/resend", json!({ "session": session }))
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r, json!({ "destination": "+1***2671", "deliveryMedium": "SMS" }));
    let second = gw.code(2).await;
    assert_eq!(gw.received()[1].to, PHONE);
    if first != second {
        let (status, err) = s
            .post_json(
                "/auth/respond-challenge",
                json!({ "session": session, "type": "VERIFY_PHONE", "code": first }),
            )
            .await;
        assert_eq!(nauth_error(status, &err), "VERIFY_CODE_INVALID");
    }
    let (status, done) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": session, "type": "VERIFY_PHONE", "code": second }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    let access = done["accessToken"].as_str().unwrap();
    let (_, devices) = as_user(access, s.get("/auth/mfa/devices")).await;
    assert_eq!(devices["devices"][0]["type"], "sms");
    assert_eq!(devices["devices"][0]["destination"], "+1***2671");
    s.stop().await;
}

async fn resend_keeps_the_cooldown_and_wrong_codes_are_throttled(b: Backend) {
    let (s, gw) = sms_server(b).await;
    sms_user(&s, &gw, "erin@example.com", PHONE).await;
    let (_, ch) = login(&s, "erin@example.com").await;
    assert_eq!(ch["challengeName"], "MFA_REQUIRED", "{ch}");
    let session = ch["session"].as_str().unwrap().to_owned();
    let first = gw.code(2).await;
    // Within the cooldown: refused, with when to try again.
    let resp = s
        .post("/auth/challenge/resend")
        .json(&json!({ "session": session }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 429);
    let retry: u64 = resp.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    let err: Value = resp.json().await.unwrap();
    assert_eq!(nauth_error(429, &err), "RATE_LIMIT_RESEND");
    assert_eq!(err["details"]["retryAfter"], retry);
    s.clock.advance_secs(61);
    let (status, r) = s
        .post_json("/auth/challenge/resend", json!({ "session": session }))
        .await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(r["deliveryMedium"], "SMS");
    let second = gw.code(3).await;
    let respond = |code: String| {
        s.post_json(
            "/auth/respond-challenge",
            json!({ "session": session, "type": "MFA_REQUIRED", "method": "sms", "code": code }),
        )
    };
    if first != second {
        let (status, err) = respond(first.clone()).await;
        assert_eq!(nauth_error(status, &err), "VERIFY_CODE_INVALID", "superseded");
    }
    // Wrong codes count (the factor's throttle, as on /v1) until even the right one waits.
    for _ in 0..5 {
        let (status, err) = respond(wrong(&second).to_owned()).await;
        if status == 429 {
            assert_eq!(nauth_error(status, &err), "CHALLENGE_MAX_ATTEMPTS");
            break;
        }
        assert_eq!(nauth_error(status, &err), "VERIFY_CODE_INVALID");
    }
    let (status, err) = respond(second).await;
    assert_eq!(nauth_error(status, &err), "CHALLENGE_MAX_ATTEMPTS");
    assert!(err["details"]["retryAfter"].as_u64().unwrap() >= 1);
    s.stop().await;
}

async fn the_preferred_device_decides_where_the_code_goes(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let (token, sms) = sms_user(&s, &gw, "frank@example.com", PHONE).await;
    // A TOTP factor too, through nauth's routes (a recent second factor is needed now).
    let (_, ch) = login(&s, "frank@example.com").await;
    let code = gw.code(2).await;
    let (_, done) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": ch["session"], "type": "MFA_REQUIRED", "method": "sms", "code": code }),
        )
        .await;
    let access = done["accessToken"].as_str().unwrap().to_owned();
    let (status, setup) = as_user(
        &access,
        s.post("/auth/mfa/setup-data")
            .json(&json!({ "methodName": "totp" })),
    )
    .await;
    assert_eq!(status, 200, "{setup}");
    let secret = setup["setupData"]["secret"].as_str().unwrap().to_owned();
    assert!(setup["setupData"]["qrCode"]
        .as_str()
        .unwrap()
        .starts_with("data:image/svg+xml;base64,"));
    let (status, v) = as_user(
        &access,
        s.post("/auth/mfa/verify-setup")
            .json(&json!({ "methodName": "totp", "setupData": { "code": totp_code(&s, &secret, 0) } })),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let totp = v["deviceId"].as_str().unwrap().to_owned();
    s.clock.advance_secs(30);

    // Preferred through nauth: TOTP. The login sends nothing and says so.
    let (status, ok) = as_user(&access, s.post(&format!("/auth/mfa/devices/{totp}/preferred"))).await;
    assert_eq!(status, 200, "{ok}");
    assert_eq!(ok["message"], "Preferred MFA device updated");
    let (_, factors) = as_user(&token, s.get("/v1/users/me/mfa/factors")).await;
    let preferred: Vec<&Value> = factors["factors"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["preferred"] == true)
        .collect();
    assert_eq!(preferred.len(), 1, "{factors}");
    assert_eq!(
        preferred[0]["factor_id"],
        totp.as_str(),
        "/v1 shows nauth's choice"
    );
    let sent = gw.received().len();
    let (_, ch) = login(&s, "frank@example.com").await;
    assert_eq!(ch["challengeParameters"]["preferredMethod"], "totp", "{ch}");
    assert!(ch["challengeParameters"].get("destination").is_none());
    settle_gateway().await;
    assert_eq!(gw.received().len(), sent, "no SMS for a TOTP login");
    let (status, done) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": ch["session"], "type": "MFA_REQUIRED", "method": "totp",
                    "code": totp_code(&s, &secret, 0) }),
        )
        .await;
    assert_eq!(status, 200, "{done}");

    // Preferred through /v1: SMS again. nauth's devices and login follow.
    let (status, view) = as_user(
        &token,
        s.post(&format!("/v1/users/me/mfa/factors/{sms}/preferred")),
    )
    .await;
    assert_eq!(status, 200, "{view}");
    assert_eq!(view["preferred"], true);
    let (_, devices) = as_user(&access, s.get("/auth/mfa/devices")).await;
    for d in devices["devices"].as_array().unwrap() {
        assert_eq!(d["isPreferred"], d["id"] == sms.as_str(), "{devices}");
    }
    let (_, st) = as_user(&access, s.get("/auth/mfa/status")).await;
    assert_eq!(st["preferredMethod"], "sms");
    let (_, ch) = login(&s, "frank@example.com").await;
    assert_eq!(ch["challengeParameters"]["preferredMethod"], "sms");
    assert_eq!(ch["challengeParameters"]["deliveryMedium"], "SMS");
    assert!(audit(&s).await.iter().any(|e| e["action"] == "factor.preferred"));
    // Backup codes, another user's factor or nonsense cannot be preferred.
    let (status, err) = as_user(
        &access,
        s.post("/auth/mfa/devices/fac_01HZZZZZZZZZZZZZZZZZZZZZZZ/preferred"),
    )
    .await;
    assert_eq!(nauth_error(status, &err), "MFA_DEVICE_NOT_FOUND");
    let (status, err) = as_user(&access, s.post("/auth/mfa/devices/43/preferred")).await;
    assert_eq!(nauth_error(status, &err), "MFA_DEVICE_NOT_FOUND");
    s.stop().await;
}

async fn protected_routes_and_both_surfaces_agree(b: Backend) {
    let (s, gw) = sms_server(b).await;
    // No token, a bad token, a secret key: nauth's 401 / a clear refusal.
    let (status, err) = send(s.get("/auth/mfa/status")).await;
    assert_eq!(nauth_error(status, &err), "AUTH_TOKEN_INVALID");
    let (status, err) = as_user("nonsense", s.get("/auth/mfa/devices")).await;
    assert_eq!(nauth_error(status, &err), "AUTH_TOKEN_INVALID");
    let (status, err) = send(s.admin(s.get("/auth/mfa/devices"))).await;
    assert_eq!(
        nauth_error(status, &err),
        "VALIDATION_FAILED",
        "a user's route: {err}"
    );
    // A factor made through /v1 is a nauth device…
    let (token, sms) = sms_user(&s, &gw, "grace@example.com", PHONE).await;
    let (_, devices) = as_user(&token, s.get("/auth/mfa/devices")).await;
    assert_eq!(devices["devices"].as_array().unwrap().len(), 1, "{devices}");
    assert_eq!(devices["devices"][0]["id"], sms.as_str());
    // …removing it needs a recent second factor, as on /v1 (this session has none)…
    let (status, err) = as_user(&token, s.http.delete(format!("{}/auth/mfa/devices/{sms}", s.url))).await;
    assert_eq!(nauth_error(status, &err), "FORBIDDEN");
    assert_eq!(err["details"]["reason"], "mfa_verification_required");
    // …which a nauth login gives.
    let (_, ch) = login(&s, "grace@example.com").await;
    let code = gw.code(2).await;
    let (_, done) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": ch["session"], "type": "MFA_REQUIRED", "method": "sms", "code": code }),
        )
        .await;
    let access = done["accessToken"].as_str().unwrap().to_owned();
    let (status, gone) = as_user(
        &access,
        s.http.delete(format!("{}/auth/mfa/devices/{sms}", s.url)),
    )
    .await;
    assert_eq!(status, 200, "{gone}");
    assert_eq!(gone["message"], "MFA device removed");
    let (_, factors) = as_user(&access, s.get("/v1/users/me/mfa/factors")).await;
    assert!(
        !factors["factors"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["factor_id"] == sms.as_str()),
        "removed for /v1 too: {factors}"
    );
    let (status, err) = as_user(
        &access,
        s.http.delete(format!("{}/auth/mfa/devices/{sms}", s.url)),
    )
    .await;
    assert_eq!(nauth_error(status, &err), "MFA_DEVICE_NOT_FOUND");
    // A device made through nauth is a /v1 factor (after the enrollment cooldown).
    s.clock.advance_secs(61);
    let (status, _) = as_user(
        &access,
        s.post("/auth/mfa/setup-data")
            .json(&json!({ "methodName": "sms", "setupData": { "phone": "+14155550100" } })),
    )
    .await;
    assert_eq!(status, 200);
    let code = gw.code(3).await;
    let (status, v) = as_user(
        &access,
        s.post("/auth/mfa/verify-setup")
            .json(&json!({ "methodName": "sms", "setupData": { "code": code } })),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let (_, factors) = as_user(&access, s.get("/v1/users/me/mfa/factors")).await;
    let f = factors["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["factor_id"] == v["deviceId"])
        .unwrap()
        .clone();
    assert_eq!(
        (f["type"].as_str(), f["destination"].as_str()),
        (Some("sms"), Some("+1***0100"))
    );
    // The status in nauth's names.
    let (_, st) = as_user(&access, s.get("/auth/mfa/status")).await;
    assert_eq!(st["required"], false);
    assert_eq!(st["mfaExempt"], false);
    assert!(st["availableMethods"].as_array().unwrap().contains(&json!("sms")));
    s.stop().await;
}

async fn totp_and_email_through_the_same_routes(b: Backend) {
    let (s, _gw) = sms_server(b).await;
    // Unique per run: every test of this process writes to one log buffer.
    let heidi = format!("heidi{}@example.com", std::process::id() as u64 * 10 + b as u64);
    s.signup(&heidi).await;
    s.signup("ivan@example.com").await;
    let (status, err) = send(s.admin(s.patch("/auth/admin/mfa-config")).json(&json!({
        "enforcement": "REQUIRED", "allowedMethods": ["totp", "email", "backup"]
    })))
    .await;
    assert_eq!(status, 200, "{err}");
    let (_, ch) = login(&s, &heidi).await;
    assert_eq!(ch["challengeName"], "MFA_SETUP_REQUIRED", "{ch}");
    assert_eq!(
        ch["challengeParameters"]["allowedMethods"],
        json!(["totp", "email"])
    );
    let session = ch["session"].as_str().unwrap().to_owned();
    // Email: a code to the account's address, then the code.
    let (status, setup) = s
        .post_json(
            "/auth/challenge/setup-data",
            json!({ "session": session, "method": "email" }),
        )
        .await;
    assert_eq!(status, 200, "{setup}");
    assert!(setup["setupData"]["maskedEmail"].as_str().unwrap().contains('*'));
    let code = crate::delivery::wait_for_console_email(&s, &heidi, 1).await;
    let (status, done) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": session, "type": "MFA_SETUP_REQUIRED", "method": "email",
                    "setupData": { "code": code } }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    // The next login sends the email code by itself.
    let (_, ch) = login(&s, &heidi).await;
    assert_eq!(ch["challengeParameters"]["deliveryMedium"], "EMAIL", "{ch}");
    let code = crate::delivery::wait_for_console_email(&s, &heidi, 2).await;
    let (status, done) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": ch["session"], "type": "MFA_REQUIRED", "method": "email", "code": code }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    // TOTP at a forced setup: secret and code.
    let (_, ch) = login(&s, "ivan@example.com").await;
    let session = ch["session"].as_str().unwrap().to_owned();
    let (_, setup) = s
        .post_json(
            "/auth/challenge/setup-data",
            json!({ "session": session, "method": "totp" }),
        )
        .await;
    let secret = setup["setupData"]["secret"].as_str().unwrap().to_owned();
    assert!(setup["setupData"]["otpauthUrl"]
        .as_str()
        .unwrap()
        .starts_with("otpauth://totp/"));
    let (status, done) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": session, "type": "MFA_SETUP_REQUIRED", "method": "totp",
                    "setupData": { "secret": secret, "code": totp_code(&s, &secret, 0) } }),
        )
        .await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(
        claims(done["accessToken"].as_str().unwrap())["amr"],
        json!(["pwd", "otp", "mfa"])
    );
    s.stop().await;
}

async fn mfa_settings_in_nauth_names(b: Backend) {
    let s = spawn(b).await;
    let (status, cfg) = send(s.admin(s.get("/auth/admin/mfa-config"))).await;
    assert_eq!(status, 200, "{cfg}");
    assert_eq!(cfg["enforcement"], "OPTIONAL");
    assert_eq!(cfg["rememberDevices"], "user_opt_in");
    assert_eq!(cfg["bypassMFAForTrustedDevices"], true);
    // The guide's `mfa` block, as it is written there.
    let (status, cfg) = send(s.mfa_admin(s.patch("/auth/admin/mfa-config")).json(&json!({
        "enabled": true,
        "enforcement": "OPTIONAL",
        "allowedMethods": ["sms"],
        "rememberDevices": "user_opt_in",
        "rememberDeviceDays": 30,
        "bypassMFAForTrustedDevices": true
    })))
    .await;
    assert_eq!(status, 200, "{cfg}");
    assert_eq!(cfg["allowedMethods"], json!(["sms"]), "{cfg}");
    let (_, v1) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(v1["mfa_allowed_factors"], json!(["sms"]), "{v1}");
    assert_eq!(v1["remember_device"], "user_opt_in");
    assert_eq!(v1["remember_device_days"], 30);
    // REQUIRED and ADAPTIVE are the policy engine's switches.
    let (status, cfg) = send(s.admin(s.patch("/auth/admin/mfa-config")).json(&json!({
        "enforcement": "REQUIRED", "allowedMethods": ["sms", "totp", "passkey", "backup"]
    })))
    .await;
    assert_eq!(status, 200, "{cfg}");
    let (_, v1) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(v1["mfa_required"], true);
    assert_eq!(
        v1["mfa_allowed_factors"],
        json!(["sms", "totp", "webauthn", "backup_codes"])
    );
    // Weakening takes a key with `mfa:admin`, as on /v1.
    let (status, err) = send(
        s.admin(s.patch("/auth/admin/mfa-config"))
            .json(&json!({ "enforcement": "ADAPTIVE" })),
    )
    .await;
    assert_eq!(nauth_error(status, &err), "FORBIDDEN");
    assert_eq!(err["details"]["reason"], "insufficient_scope");
    let (status, cfg) = send(
        s.mfa_admin(s.patch("/auth/admin/mfa-config"))
            .json(&json!({ "enforcement": "ADAPTIVE", "bypassMFAForTrustedDevices": false })),
    )
    .await;
    assert_eq!(status, 200, "{cfg}");
    assert_eq!(cfg["enforcement"], "ADAPTIVE");
    assert_eq!(cfg["rememberDevices"], "never");
    let (_, v1) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(
        (v1["mfa_required"].clone(), v1["adaptive"]["enabled"].clone()),
        (json!(false), json!(true))
    );
    assert_eq!(v1["remember_device"], "never");
    // A change through /v1 shows here.
    let (status, body) = send(
        s.mfa_admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_required": true, "remember_device": "always", "remember_device_days": 7 })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, cfg) = send(s.admin(s.get("/auth/admin/mfa-config"))).await;
    assert_eq!(cfg["enforcement"], "REQUIRED");
    assert_eq!(
        (
            cfg["rememberDevices"].as_str(),
            cfg["rememberDeviceDays"].as_u64()
        ),
        (Some("always"), Some(7))
    );
    // Every bad value is a clear error, and nothing changes.
    for bad in [
        json!({ "enforcement": "SOMETIMES" }),
        json!({ "allowedMethods": ["carrier_pigeon"] }),
        json!({ "rememberDevices": "forever" }),
        json!({ "rememberDeviceDays": 0 }),
        json!({ "rememberDevices": "always", "bypassMFAForTrustedDevices": false }),
        json!({ "enabled": false }),
        json!({ "mfaRequired": true }),
    ] {
        let (status, err) = send(s.mfa_admin(s.patch("/auth/admin/mfa-config")).json(&bad)).await;
        assert_eq!(nauth_error(status, &err), "VALIDATION_FAILED", "{bad}: {err}");
    }
    let (_, after) = send(s.admin(s.get("/auth/admin/mfa-config"))).await;
    assert_eq!(after, cfg);
    let (status, err) = send(s.get("/auth/admin/mfa-config")).await;
    assert_eq!(nauth_error(status, &err), "AUTH_TOKEN_INVALID");
    s.stop().await;
}

async fn every_bad_input_is_a_clear_nauth_error(b: Backend) {
    let s = spawn(b).await;
    s.signup("judy@example.com").await;
    let (status, err) = s
        .post_json(
            "/auth/login",
            json!({ "identifier": "judy@example.com", "password": "wrong password!" }),
        )
        .await;
    assert_eq!(nauth_error(status, &err), "AUTH_INVALID_CREDENTIALS");
    let (status, err) = s
        .post_json(
            "/auth/login",
            json!({ "identifier": "nobody@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(
        nauth_error(status, &err),
        "AUTH_INVALID_CREDENTIALS",
        "indistinguishable"
    );
    for (path, body) in [
        ("/auth/login", json!({ "identifier": "judy@example.com" })),
        (
            "/auth/login",
            json!({ "email": "judy@example.com", "password": PASSWORD }),
        ),
        ("/auth/login", json!({ "identifier": 5, "password": PASSWORD })),
        (
            "/auth/respond-challenge",
            json!({ "session": "x", "type": "MAGIC", "code": "123456" }),
        ),
        (
            "/auth/respond-challenge",
            json!({ "session": "x", "type": "MFA_REQUIRED", "method": "fax", "code": "1" }),
        ),
        (
            "/auth/respond-challenge",
            json!({ "session": "x", "type": "MFA_REQUIRED", "method": "sms" }),
        ),
        (
            "/auth/respond-challenge",
            json!({ "session": "x", "type": "MFA_SETUP_REQUIRED", "method": "sms" }),
        ),
        (
            "/auth/respond-challenge",
            json!({ "session": "x", "type": "VERIFY_EMAIL", "code": "123456" }),
        ),
        (
            "/auth/challenge/setup-data",
            json!({ "session": "x", "method": "carrier_pigeon" }),
        ),
        (
            "/auth/challenge/resend",
            json!({ "session": "x", "method": "totp" }),
        ),
    ] {
        let (status, err) = s.post_json(path, body.clone()).await;
        assert_eq!(
            nauth_error(status, &err),
            "VALIDATION_FAILED",
            "{path} {body}: {err}"
        );
    }
    let resp = s
        .post("/auth/login")
        .body("identifier=judy")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 415);
    let err: Value = resp.json().await.unwrap();
    assert_eq!(nauth_error(415, &err), "VALIDATION_FAILED");
    let (status, err) = s
        .post_json(
            "/auth/respond-challenge",
            json!({ "session": "chl_01HZZZZZZZZZZZZZZZZZZZZZZZ", "type": "MFA_REQUIRED", "method": "sms", "code": "123456" }),
        )
        .await;
    assert_eq!(nauth_error(status, &err), "CHALLENGE_EXPIRED");
    let (status, err) = s
        .post_json(
            "/auth/challenge/setup-data",
            json!({ "session": "not-a-session", "method": "sms" }),
        )
        .await;
    assert_eq!(nauth_error(status, &err), "CHALLENGE_EXPIRED");
    // The password throttle answers in nauth's name.
    let mut last = (0, Value::Null);
    for _ in 0..12 {
        last = s
            .post_json(
                "/auth/login",
                json!({ "identifier": "judy@example.com", "password": "wrong password!" }),
            )
            .await;
        if last.0 == 429 {
            break;
        }
    }
    assert_eq!(nauth_error(last.0, &last.1), "RATE_LIMIT_LOGIN");
    s.stop().await;
}
