//! WebAuthn: passkeys and security keys as a second factor and as passwordless sign-in,
//! driven by the software authenticator in `latchkey_testkit::webauthn`, and every ceremony
//! check of SECURITY.md section G forged against the server (tests 46 to 52).

use crate::both_stores;
use crate::helpers::*;
use latchkey_testkit::webauthn::{AttestationCa, Base64Style, Forge, SoftAuthenticator};
use serde_json::{json, Value};

both_stores!(
    passkey_as_second_factor_and_passwordless,
    the_overview_tenant_example_is_accepted,
    ceremony_state_is_single_use_bound_and_expires,
    client_data_origin_and_rp_id_are_checked,
    flags_follow_the_tenant_policy,
    signature_counter_regression_flags_the_credential,
    registration_checks,
    credentials_belong_to_their_users,
    malformed_responses_are_refused_cleanly,
    webauthn_attempts_are_throttled,
    a_second_replica_finishes_what_the_first_began,
    a_pending_passkey_is_inert_and_adding_one_needs_step_up,
    forced_enrollment_with_a_passkey,
    an_assertion_proves_only_its_own_factor,
);

const ORIGIN: &str = "https://id.test";

async fn allow_webauthn(s: &TestServer, extra: Value) {
    let mut body = json!({ "mfa_allowed_factors": ["totp", "webauthn", "backup_codes"] });
    if !extra.is_null() {
        body["webauthn"] = extra;
    }
    let (status, cfg) = send(s.admin(s.patch("/v1/admin/config")).json(&body)).await;
    assert_eq!(status, 200, "{cfg}");
}

/// Signs up `email` (access token) and registers a credential of `auth` for them.
async fn user_with_key(
    s: &TestServer,
    email: &str,
    auth: &mut SoftAuthenticator,
) -> (String, String, String) {
    let body = s.signup(email).await;
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let token = body["access_token"].as_str().unwrap().to_owned();
    let fid = enroll(s, &token, auth, &Forge::default()).await.unwrap();
    (uid, token, fid)
}

/// Enrolls and confirms a WebAuthn factor with `token`; the factor id, or the refusal.
async fn enroll(
    s: &TestServer,
    token: &str,
    auth: &mut SoftAuthenticator,
    forge: &Forge,
) -> Result<String, (u16, Value)> {
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(token)
            .json(&json!({ "type": "webauthn", "name": "YubiKey" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(
        (e["type"].as_str(), e["status"].as_str()),
        (Some("webauthn"), Some("pending"))
    );
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let credential = auth
        .register(&e["webauthn"], ORIGIN, forge)
        .expect("the authenticator registers");
    let (status, c) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(token)
            .json(&json!({ "credential": credential })),
    )
    .await;
    if status == 200 {
        assert_eq!(c["status"], "active");
        Ok(fid)
    } else {
        Err((status, c))
    }
}

/// Signs in with the password and starts the WebAuthn ceremony: (challenge id, options).
async fn second_factor_options(s: &TestServer, email: &str) -> (String, Value) {
    let (status, body) = s.signin(email, PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    let chl = body["error"]["challenge_id"].as_str().unwrap().to_owned();
    assert!(body["error"]["available_factors"]
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["type"] == "webauthn"));
    let (status, c) = s
        .post_json(
            "/v1/mfa/challenge",
            json!({ "challenge_id": chl, "type": "webauthn" }),
        )
        .await;
    assert_eq!(status, 200, "{c}");
    (chl, c["webauthn"].clone())
}

async fn verify(s: &TestServer, chl: &str, credential: &Value) -> (u16, Value) {
    s.post_json(
        "/v1/mfa/verify",
        json!({ "challenge_id": chl, "credential": credential }),
    )
    .await
}

async fn passkey_options(s: &TestServer) -> Value {
    let (status, o) = send(s.post("/v1/auth/passkey/options")).await;
    assert_eq!(status, 200, "{o}");
    o
}

async fn passkey_signin(s: &TestServer, credential: &Value) -> (u16, Value) {
    s.post_json("/v1/auth/passkey/signin", json!({ "credential": credential }))
        .await
}

fn challenge_bytes(options: &Value) -> Vec<u8> {
    latchkey_testkit::webauthn::decode_b64(options["publicKey"]["challenge"].as_str().unwrap()).unwrap()
}

fn amr(token_body: &Value) -> Vec<String> {
    serde_json::from_value(claims(token_body["access_token"].as_str().unwrap())["amr"].clone()).unwrap()
}

fn acr(token_body: &Value) -> String {
    claims(token_body["access_token"].as_str().unwrap())["acr"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn passkey_as_second_factor_and_passwordless(backend: Backend) {
    let s = spawn(backend).await;
    allow_webauthn(&s, Value::Null).await;
    let body = s.signup("alice@example.com").await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let mut auth = SoftAuthenticator::new();

    // Enroll: creation options with a 32-byte challenge, the user's handle, no PII in it.
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&token)
            .json(&json!({ "type": "webauthn", "name": "YubiKey" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let pk = &e["webauthn"]["publicKey"];
    assert_eq!(pk["rp"]["id"], "id.test");
    assert_eq!(challenge_bytes(&e["webauthn"]).len(), 32);
    assert_eq!(pk["authenticatorSelection"]["residentKey"], "preferred");
    assert_eq!(pk["authenticatorSelection"]["userVerification"], "required");
    assert!(!pk["user"]["id"].as_str().unwrap().contains("usr_"));
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let reg = auth.register(&e["webauthn"], ORIGIN, &Forge::default()).unwrap();
    let (status, c) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&token)
            .json(&json!({ "credential": reg })),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(
        c["backup_codes"].as_array().unwrap().len(),
        10,
        "first factor brings backup codes"
    );
    // The same registration again: the state was consumed.
    let (status, again) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&token)
            .json(&json!({ "credential": reg })),
    )
    .await;
    // (Refused before that: the account now has a factor, and this session has not proven one.)
    assert_eq!((status, error_code(&again)), (403, "mfa_verification_required"));

    // Listed with its kind of key.
    let (_, list) = send(s.get("/v1/users/me/mfa/factors").bearer_auth(&token)).await;
    let f = list["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["factor_id"] == fid.as_str())
        .unwrap()
        .clone();
    assert_eq!(f["name"], "YubiKey");
    assert_eq!(f["webauthn"]["synced"], false, "{f}");
    assert_eq!(f["webauthn"]["user_verified"], true);
    assert!(f["created_at"].is_string());

    // Second factor: options allow the user's credential; the credential names the factor.
    let (chl, options) = second_factor_options(&s, "alice@example.com").await;
    let allowed = options["publicKey"]["allowCredentials"].as_array().unwrap();
    assert_eq!(allowed.len(), 1);
    let assertion = auth.assert(&options, ORIGIN, &Forge::default()).unwrap();
    let (status, v) = verify(&s, &chl, &assertion).await;
    assert_eq!(status, 200, "{v}");
    let methods = amr(&v);
    for m in ["pwd", "hwk", "user", "mfa"] {
        assert!(methods.contains(&m.to_string()), "{methods:?}");
    }
    assert_eq!(
        acr(&v),
        "aal2_phr",
        "a passkey with user verification is phishing resistant"
    );
    let (_, list) = send(s.get("/v1/users/me/mfa/factors").bearer_auth(&token)).await;
    assert!(list["factors"][0]["last_used_at"].is_string());

    // Passwordless: empty allowCredentials (nothing said about any user), conditional UI.
    let options = passkey_options(&s).await;
    assert_eq!(options["mediation"], "conditional");
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .map_or(0, Vec::len),
        0
    );
    let assertion = auth.assert(&options, ORIGIN, &Forge::default()).unwrap();
    let (status, v) = passkey_signin(&s, &assertion).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["user"]["email"], "alice@example.com");
    let methods = amr(&v);
    assert!(methods.contains(&"hwk".to_string()) && methods.contains(&"user".to_string()));
    assert!(!methods.contains(&"pwd".to_string()));
    assert_eq!(acr(&v), "aal2_phr");
    let (status, _) = passkey_signin(&s, &assertion).await;
    assert_eq!(status, 401, "the ceremony was used");

    // A synced passkey says swk.
    let mut phone = SoftAuthenticator::synced();
    let _ = user_with_key(&s, "bob@example.com", &mut phone).await;
    let options = passkey_options(&s).await;
    let (status, v) = passkey_signin(&s, &phone.assert(&options, ORIGIN, &Forge::default()).unwrap()).await;
    assert_eq!(status, 200, "{v}");
    assert!(amr(&v).contains(&"swk".to_string()));
    // Removed, it no longer signs in.
    let (_, list) = send(
        s.get("/v1/users/me/mfa/factors")
            .bearer_auth(v["access_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(list["factors"][0]["webauthn"]["synced"], true);
    let bob_fid = list["factors"][0]["factor_id"].as_str().unwrap().to_owned();
    let (status, _) = send(
        s.http
            .delete(format!("{}/v1/users/me/mfa/factors/{bob_fid}", s.url))
            .bearer_auth(v["access_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 204);
    let options = passkey_options(&s).await;
    let (status, err) = passkey_signin(&s, &phone.assert(&options, ORIGIN, &Forge::default()).unwrap()).await;
    assert_eq!((status, error_code(&err)), (401, "invalid_credential"));
}

async fn the_overview_tenant_example_is_accepted(backend: Backend) {
    let s = spawn(backend).await;
    let tid = s.app.default_tenant.to_string();
    let path = format!("/v2/admin/tenants/{tid}/auth/config");
    let (status, v2) = send(
        s.admin(s.patch(&path))
            .json(&json!({ "mfa_methods": ["totp", "webauthn", "sms"] })),
    )
    .await;
    assert_eq!(status, 200, "{v2}");
    assert_eq!(v2["mfa_methods"], json!(["totp", "webauthn", "sms"]));
    // The relying-party settings, and their checks.
    let (status, cfg) = send(s.admin(s.patch("/v1/admin/config")).json(&json!({
        "webauthn": { "rp_id": "id.test", "rp_name": "Acme", "origins": ["https://id.test", "https://app.id.test"],
                      "user_verification": "preferred" }
    })))
    .await;
    assert_eq!(status, 200, "{cfg}");
    assert_eq!(cfg["webauthn"]["user_verification"], "preferred");
    assert_eq!(cfg["webauthn"]["attestation"], "none");
    for bad in [
        json!({ "rp_id": "https://id.test" }),
        json!({ "origins": ["https://evil.test"] }),
        json!({ "origins": ["http://id.test"] }),
        json!({ "user_verification": "sometimes" }),
        json!({ "attestation": "direct" }),
        json!({ "allowed_aaguids": ["nope"] }),
        json!({ "colour": "blue" }),
    ] {
        let (status, err) = send(
            s.admin(s.patch("/v1/admin/config"))
                .json(&json!({ "webauthn": bad })),
        )
        .await;
        assert_eq!(status, 400, "{bad} -> {err}");
    }
}

async fn ceremony_state_is_single_use_bound_and_expires(backend: Backend) {
    let s = spawn(backend).await;
    allow_webauthn(&s, Value::Null).await;
    let mut auth = SoftAuthenticator::new();
    user_with_key(&s, "alice@example.com", &mut auth).await;

    // Two ceremonies: an answer made for A does not answer B.
    let (chl_a, opt_a) = second_factor_options(&s, "alice@example.com").await;
    let (chl_b, opt_b) = second_factor_options(&s, "alice@example.com").await;
    assert_ne!(challenge_bytes(&opt_a), challenge_bytes(&opt_b));
    let for_a = auth.assert(&opt_a, ORIGIN, &Forge::default()).unwrap();
    let (status, err) = verify(&s, &chl_b, &for_a).await;
    assert_eq!((status, error_code(&err)), (401, "invalid_credential"));
    // B's state is gone now (taken by that answer): even its own answer fails.
    let for_b = auth.assert(&opt_b, ORIGIN, &Forge::default()).unwrap();
    assert_eq!(verify(&s, &chl_b, &for_b).await.0, 401);
    // A still works, once.
    assert_eq!(verify(&s, &chl_a, &for_a).await.0, 200);
    assert_eq!(verify(&s, &chl_a, &for_a).await.0, 401, "replay");

    // Past the challenge's lifetime.
    let (chl, opt) = second_factor_options(&s, "alice@example.com").await;
    let late = auth.assert(&opt, ORIGIN, &Forge::default()).unwrap();
    s.clock.advance_secs(301);
    let (status, err) = verify(&s, &chl, &late).await;
    assert_eq!(status, 401, "{err}");

    // Passwordless ceremonies: distinct 32-byte challenges, each answered once, expiring.
    let mut seen = std::collections::HashSet::new();
    for _ in 0..300 {
        let c = challenge_bytes(&passkey_options(&s).await);
        assert!(c.len() >= 16);
        assert!(seen.insert(c), "challenges are unique");
    }
    let opt = passkey_options(&s).await;
    let answer = auth.assert(&opt, ORIGIN, &Forge::default()).unwrap();
    s.clock.advance_secs(301);
    assert_eq!(passkey_signin(&s, &answer).await.0, 401, "expired");
    // A second-factor ceremony's answer cannot finish a passwordless one (other type of state).
    let (_, opt) = second_factor_options(&s, "alice@example.com").await;
    let answer = auth.assert(&opt, ORIGIN, &Forge::default()).unwrap();
    assert_eq!(passkey_signin(&s, &answer).await.0, 401);
}

async fn client_data_origin_and_rp_id_are_checked(backend: Backend) {
    let s = spawn(backend).await;
    allow_webauthn(&s, Value::Null).await;
    // Every forged answer below counts as a failed attempt on the factor.
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_max_attempts": 100 })),
    )
    .await;
    assert_eq!(status, 200);
    let mut auth = SoftAuthenticator::new();
    user_with_key(&s, "alice@example.com", &mut auth).await;
    let forged: Vec<(&str, Forge, &str)> = vec![
        (
            "type webauthn.create",
            Forge {
                client_data_type: Some("webauthn.create".into()),
                ..Forge::default()
            },
            ORIGIN,
        ),
        (
            "crossOrigin true",
            Forge {
                cross_origin: Some(true),
                ..Forge::default()
            },
            ORIGIN,
        ),
        (
            "topOrigin",
            Forge {
                top_origin: Some("https://evil.test".into()),
                ..Forge::default()
            },
            ORIGIN,
        ),
        (
            "rpIdHash of another RP",
            Forge {
                rp_id: Some("evil.test".into()),
                ..Forge::default()
            },
            ORIGIN,
        ),
        // webauthn-rs refuses a BOM outright (stricter than the catalogue, which would strip it).
        (
            "UTF-8 BOM",
            Forge {
                bom: true,
                ..Forge::default()
            },
            ORIGIN,
        ),
        ("http", Forge::default(), "http://id.test"),
        ("other port", Forge::default(), "https://id.test:8443"),
        ("subdomain", Forge::default(), "https://evil.id.test"),
        ("suffix", Forge::default(), "https://id.test.evil"),
        ("null", Forge::default(), "null"),
    ];
    for (what, forge, origin) in forged {
        let (chl, opt) = second_factor_options(&s, "alice@example.com").await;
        let answer = auth.assert(&opt, origin, &forge).unwrap();
        let (status, err) = verify(&s, &chl, &answer).await;
        assert_eq!((status, error_code(&err)), (401, "invalid_credential"), "{what}");
        let opt = passkey_options(&s).await;
        let answer = auth.assert(&opt, origin, &forge).unwrap();
        assert_eq!(passkey_signin(&s, &answer).await.0, 401, "passwordless: {what}");
    }
    // A tenant that is framed on purpose may allow crossOrigin.
    allow_webauthn(&s, json!({ "allow_cross_origin": true })).await;
    let (chl, opt) = second_factor_options(&s, "alice@example.com").await;
    let answer = auth
        .assert(
            &opt,
            ORIGIN,
            &Forge {
                cross_origin: Some(true),
                ..Forge::default()
            },
        )
        .unwrap();
    assert_eq!(verify(&s, &chl, &answer).await.0, 200);
    // Registration from a foreign frame is refused by the library itself.
    let body = s.signup("bob@example.com").await;
    let token = body["access_token"].as_str().unwrap();
    let refused = enroll(
        &s,
        token,
        &mut SoftAuthenticator::new(),
        &Forge {
            cross_origin: Some(true),
            ..Forge::default()
        },
    )
    .await;
    assert_eq!(refused.unwrap_err().0, 401);
}

async fn flags_follow_the_tenant_policy(backend: Backend) {
    let s = spawn(backend).await;
    allow_webauthn(&s, Value::Null).await;
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_max_attempts": 100 })),
    )
    .await;
    assert_eq!(status, 200);
    let mut auth = SoftAuthenticator::new();
    user_with_key(&s, "alice@example.com", &mut auth).await;
    for (what, forge) in [
        (
            "UP=0",
            Forge {
                up: Some(false),
                ..Forge::default()
            },
        ),
        (
            "UV=0 where required",
            Forge {
                uv: Some(false),
                ..Forge::default()
            },
        ),
        (
            "BE=0 BS=1",
            Forge {
                bs: Some(true),
                ..Forge::default()
            },
        ),
        (
            "BE flipped",
            Forge {
                be: Some(true),
                ..Forge::default()
            },
        ),
    ] {
        let (chl, opt) = second_factor_options(&s, "alice@example.com").await;
        let answer = auth.assert(&opt, ORIGIN, &forge).unwrap();
        assert_eq!(verify(&s, &chl, &answer).await.0, 401, "{what}");
    }
    // With user verification preferred, a key without a PIN is one factor: aal2, not phr.
    allow_webauthn(&s, json!({ "user_verification": "preferred" })).await;
    // Its registration asks for no credProtect policy, which browsers refuse beside
    // `userVerification: preferred` (Chromium: "protection policy inconsistent").
    let token = s.signup("carol@example.com").await["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&token)
            .json(&json!({ "type": "webauthn" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let pk = &e["webauthn"]["publicKey"];
    assert_eq!(
        pk["authenticatorSelection"]["userVerification"], "preferred",
        "{e}"
    );
    assert!(
        pk["extensions"].get("credentialProtectionPolicy").is_none(),
        "{e}"
    );
    assert!(
        pk["extensions"]
            .get("enforceCredentialProtectionPolicy")
            .is_none(),
        "{e}"
    );
    let mut key = SoftAuthenticator::new()
        .security_key()
        .without_user_verification();
    user_with_key(&s, "bob@example.com", &mut key).await;
    let (chl, opt) = second_factor_options(&s, "bob@example.com").await;
    let (status, v) = verify(&s, &chl, &key.assert(&opt, ORIGIN, &Forge::default()).unwrap()).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(acr(&v), "aal2");
    assert!(!amr(&v).contains(&"user".to_string()));
    // Nor can it sign in alone.
    let opt = passkey_options(&s).await;
    if let Ok(answer) = key.assert(&opt, ORIGIN, &Forge::default()) {
        assert_eq!(passkey_signin(&s, &answer).await.0, 401);
    }
}

async fn signature_counter_regression_flags_the_credential(backend: Backend) {
    let s = spawn(backend).await;
    allow_webauthn(&s, Value::Null).await;
    let mut auth = SoftAuthenticator::new();
    let (uid, _, fid) = user_with_key(&s, "alice@example.com", &mut auth).await;
    let id = auth.credential_ids()[0].clone();
    auth.set_counter(&id, 9);
    let (chl, opt) = second_factor_options(&s, "alice@example.com").await;
    assert_eq!(
        verify(&s, &chl, &auth.assert(&opt, ORIGIN, &Forge::default()).unwrap())
            .await
            .0,
        200
    );
    // Stored count 10: 10, 5 and 0 are all regressions (ceremonies begun before the first
    // answer, since the first regression already takes the credential out of the offer).
    let mut ceremonies = Vec::new();
    for _ in 0..3 {
        ceremonies.push(second_factor_options(&s, "alice@example.com").await);
    }
    for (n, (chl, opt)) in [10, 5, 0].into_iter().zip(ceremonies) {
        let answer = auth
            .assert(
                &opt,
                ORIGIN,
                &Forge {
                    counter: Some(n),
                    ..Forge::default()
                },
            )
            .unwrap();
        assert_eq!(verify(&s, &chl, &answer).await.0, 401, "counter {n}");
    }
    // Flagged: refused from now on, even with a counter that moves forward; the admin sees it.
    let (status, body) = s.signin("alice@example.com", PASSWORD).await;
    assert_eq!(status, 401);
    let chl = body["error"]["challenge_id"].as_str().unwrap();
    let (status, err) = s
        .post_json(
            "/v1/mfa/challenge",
            json!({ "challenge_id": chl, "factor_id": fid }),
        )
        .await;
    assert_eq!(status, 404, "a flagged credential is not offered: {err}");
    let (_, admin) = send(s.admin(s.get(&format!("/v1/users/{uid}/mfa/factors")))).await;
    assert!(admin.to_string().contains("clone_suspected_at"), "{admin}");
    let (_, audit) = send(s.admin(s.get("/v1/admin/audit-events"))).await;
    assert!(audit.to_string().contains("webauthn.clone_suspected"), "{audit}");
    let opt = passkey_options(&s).await;
    assert_eq!(
        passkey_signin(&s, &auth.assert(&opt, ORIGIN, &Forge::default()).unwrap())
            .await
            .0,
        401
    );

    // A passkey whose counter is always 0 is fine, again and again.
    let mut synced = SoftAuthenticator::synced();
    user_with_key(&s, "bob@example.com", &mut synced).await;
    for _ in 0..3 {
        let opt = passkey_options(&s).await;
        let (status, v) = passkey_signin(&s, &synced.assert(&opt, ORIGIN, &Forge::default()).unwrap()).await;
        assert_eq!(status, 200, "{v}");
    }

    // Concurrent answers to concurrent ceremonies with one counter value: one wins (and the
    // others, counters that did not move forward, flag the credential).
    let mut carol = SoftAuthenticator::new();
    user_with_key(&s, "carol@example.com", &mut carol).await;
    let cid = carol.credential_ids()[0].clone();
    let mut answers = Vec::new();
    for _ in 0..4 {
        let (chl, opt) = second_factor_options(&s, "carol@example.com").await;
        carol.set_counter(&cid, 41);
        answers.push((chl, carol.assert(&opt, ORIGIN, &Forge::default()).unwrap()));
    }
    let mut tasks = Vec::new();
    for (chl, answer) in answers {
        let (url, http) = (s.url.clone(), s.http.clone());
        tasks.push(tokio::spawn(async move {
            send(
                http.post(format!("{url}/v1/mfa/verify"))
                    .json(&json!({ "challenge_id": chl, "credential": answer })),
            )
            .await
            .0
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "one counter value signs in once");
}

async fn registration_checks(backend: Backend) {
    let s = spawn(backend).await;
    allow_webauthn(&s, Value::Null).await;
    let mut alice_key = SoftAuthenticator::new();
    user_with_key(&s, "alice@example.com", &mut alice_key).await;
    // Adding a second factor needs a session that proved the first.
    let (chl, opt) = second_factor_options(&s, "alice@example.com").await;
    let (status, v) = verify(
        &s,
        &chl,
        &alice_key.assert(&opt, ORIGIN, &Forge::default()).unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let alice = v["access_token"].as_str().unwrap().to_owned();
    let body = s.signup("bob@example.com").await;
    let bob = body["access_token"].as_str().unwrap().to_owned();

    let long = enroll(
        &s,
        &bob,
        &mut SoftAuthenticator::new(),
        &Forge {
            credential_id_len: Some(1024),
            ..Forge::default()
        },
    )
    .await;
    assert_eq!(long.unwrap_err().0, 401, "a 1024-byte credential id");
    let alg = enroll(
        &s,
        &bob,
        &mut SoftAuthenticator::new(),
        &Forge {
            alg: Some(-35),
            ..Forge::default()
        },
    )
    .await;
    assert_eq!(alg.unwrap_err().0, 401, "an algorithm not offered");
    // Alice's credential id registered to Bob.
    let stolen = Forge {
        credential_id: Some(alice_key.credential_ids()[0].clone()),
        ..Forge::default()
    };
    let (status, err) = enroll(&s, &bob, &mut SoftAuthenticator::new(), &stolen)
        .await
        .unwrap_err();
    assert_eq!((status, error_code(&err)), (409, "credential_taken"));
    // The same authenticator twice for Alice: excluded by the options, and refused anyway.
    let (_, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&alice)
            .json(&json!({ "type": "webauthn" })),
    )
    .await;
    assert_eq!(
        e["webauthn"]["publicKey"]["excludeCredentials"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let same = Forge {
        ignore_exclude_credentials: true,
        credential_id: Some(alice_key.credential_ids()[0].clone()),
        ..Forge::default()
    };
    let again = enroll(&s, &alice, &mut alice_key, &same).await;
    assert!(again.is_err(), "{again:?}");
    // A tenant requiring attestation: an allowed model chaining to its root registers; `none`,
    // an unlisted model of the same maker, and another maker's chain are refused.
    let maker = AttestationCa::new([0xcb; 16]);
    let other_model = AttestationCa::new([0x11; 16]);
    let (status, cfg) = send(s.admin(s.patch("/v1/admin/config")).json(&json!({ "webauthn": {
        "attestation": "direct",
        "allowed_aaguids": [maker.aaguid_string()],
        "attestation_ca_pems": [maker.root_pem.clone()]
    }})))
    .await;
    assert_eq!(status, 200, "{cfg}");
    let carol = s.signup("carol@example.com").await;
    let carol = carol["access_token"].as_str().unwrap().to_owned();
    for (what, mut auth) in [
        ("attestation none", SoftAuthenticator::new()),
        (
            "self attestation",
            SoftAuthenticator::new().packed_self_attestation(),
        ),
        (
            "a model not on the list, from another root",
            SoftAuthenticator::new().packed_attestation(&other_model),
        ),
    ] {
        let refused = enroll(&s, &carol, &mut auth, &Forge::default()).await;
        assert_eq!(refused.map_err(|e| e.0), Err(401), "{what}");
    }
    let mut attested = SoftAuthenticator::new().packed_attestation(&maker);
    let fid = enroll(&s, &carol, &mut attested, &Forge::default())
        .await
        .expect("an attested, allowed model");
    let (_, list) = send(s.get("/v1/users/me/mfa/factors").bearer_auth(&carol)).await;
    let f = list["factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["factor_id"] == fid.as_str())
        .unwrap()
        .clone();
    assert_eq!(f["webauthn"]["aaguid"], maker.aaguid_string(), "{f}");
    // A root that is not a certificate is refused when used, as settings, never a 500.
    let (status, _) = send(s.admin(s.patch("/v1/admin/config")).json(&json!({ "webauthn": {
        "attestation_ca_pems": ["-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"]
    }})))
    .await;
    assert_eq!(status, 200);
    let dave = s.signup("dave@example.com").await;
    let (status, err) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(dave["access_token"].as_str().unwrap())
            .json(&json!({ "type": "webauthn" })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "invalid_settings"), "{err}");
}

async fn credentials_belong_to_their_users(backend: Backend) {
    let s = spawn(backend).await;
    allow_webauthn(&s, Value::Null).await;
    let mut alice_key = SoftAuthenticator::new();
    user_with_key(&s, "alice@example.com", &mut alice_key).await;
    let mut bob_key = SoftAuthenticator::new();
    user_with_key(&s, "bob@example.com", &mut bob_key).await;
    // Alice's key on Bob's ceremony (the browser would not even offer it; forged here).
    let (chl, opt) = second_factor_options(&s, "bob@example.com").await;
    let mut opened = opt.clone();
    opened["publicKey"]["allowCredentials"] = json!([]);
    let answer = alice_key.assert(&opened, ORIGIN, &Forge::default()).unwrap();
    let (status, err) = verify(&s, &chl, &answer).await;
    assert_eq!((status, error_code(&err)), (401, "invalid_credential"));
    // Passwordless with another user's handle: refused (webauthn-rs does not compare it).
    let opt = passkey_options(&s).await;
    let bob_handle = bob_key
        .assert(&passkey_options(&s).await, ORIGIN, &Forge::default())
        .unwrap()["response"]["userHandle"]
        .as_str()
        .map(|h| latchkey_testkit::webauthn::decode_b64(h).unwrap());
    let answer = alice_key
        .assert(
            &opt,
            ORIGIN,
            &Forge {
                user_handle: Some(bob_handle),
                ..Forge::default()
            },
        )
        .unwrap();
    assert_eq!(passkey_signin(&s, &answer).await.0, 401);
    // Without a handle at all.
    let opt = passkey_options(&s).await;
    let answer = alice_key
        .assert(
            &opt,
            ORIGIN,
            &Forge {
                user_handle: Some(None),
                ..Forge::default()
            },
        )
        .unwrap();
    assert_eq!(passkey_signin(&s, &answer).await.0, 401);
    // An unknown credential and a bad signature answer alike.
    let opt = passkey_options(&s).await;
    let unknown = SoftAuthenticator::new().assert(&opt, ORIGIN, &Forge::default());
    let opt2 = passkey_options(&s).await;
    let bad_sig = alice_key
        .assert(
            &opt2,
            ORIGIN,
            &Forge {
                wrong_signing_key: true,
                ..Forge::default()
            },
        )
        .unwrap();
    let (s2, e2) = passkey_signin(&s, &bad_sig).await;
    if let Ok(unknown) = unknown {
        let (s1, e1) = passkey_signin(&s, &unknown).await;
        assert_eq!((s1, e1), (s2, e2.clone()));
    }
    assert_eq!((s2, error_code(&e2)), (401, "invalid_credential"));
}

async fn malformed_responses_are_refused_cleanly(backend: Backend) {
    let s = spawn(backend).await;
    allow_webauthn(&s, Value::Null).await;
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_max_attempts": 100 })),
    )
    .await;
    assert_eq!(status, 200);
    let mut auth = SoftAuthenticator::new();
    user_with_key(&s, "alice@example.com", &mut auth).await;
    let deep = (0..10_000).fold(String::from("0"), |acc, _| format!("[{acc}]"));
    let forged = [
        Forge {
            raw_authenticator_data: Some(vec![0; 10]),
            ..Forge::default()
        },
        Forge {
            raw_authenticator_data: Some(vec![0xff; 4096]),
            ..Forge::default()
        },
        Forge {
            base64: Base64Style::Invalid,
            ..Forge::default()
        },
        Forge {
            base64: Base64Style::UrlPadded,
            ..Forge::default()
        },
        Forge {
            raw_client_data_json: Some(b"{\"type\":".to_vec()),
            ..Forge::default()
        },
    ];
    for forge in forged {
        let (chl, opt) = second_factor_options(&s, "alice@example.com").await;
        let answer = auth.assert(&opt, ORIGIN, &forge).unwrap();
        let (status, err) = verify(&s, &chl, &answer).await;
        assert!((400..500).contains(&status), "{status} {err}");
        let opt = passkey_options(&s).await;
        let answer = auth.assert(&opt, ORIGIN, &forge).unwrap();
        let (status, _) = passkey_signin(&s, &answer).await;
        assert!((400..500).contains(&status));
    }
    for bad in [
        json!("nope"),
        json!({}),
        json!({ "id": 5 }),
        json!({ "response": { "clientDataJSON": "%%%" } }),
    ] {
        let (status, err) = passkey_signin(&s, &bad).await;
        assert_eq!(
            (status, error_code(&err)),
            (400, "invalid_credential_format"),
            "{bad}"
        );
    }
    let (status, _) = send(
        s.post("/v1/auth/passkey/signin")
            .header("content-type", "application/json")
            .body(format!("{{\"credential\":{deep}}}")),
    )
    .await;
    assert_eq!(status, 400, "deep nesting");
    // Registration: a truncated attestation object, CBOR that is not CBOR.
    let body = s.signup("bob@example.com").await;
    let token = body["access_token"].as_str().unwrap();
    for forge in [
        Forge {
            raw_attestation_object: Some(vec![0xa1]),
            ..Forge::default()
        },
        Forge {
            raw_attestation_object: Some(vec![0x9f; 2048]),
            ..Forge::default()
        },
    ] {
        let err = enroll(&s, token, &mut SoftAuthenticator::new(), &forge)
            .await
            .unwrap_err();
        assert!((400..500).contains(&err.0), "{err:?}");
    }
    // A code where a credential is due, and both at once.
    let (chl, _) = second_factor_options(&s, "alice@example.com").await;
    let (status, err) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": chl, "type": "webauthn", "code": "123456" }),
        )
        .await;
    assert_eq!((status, error_code(&err)), (400, "invalid_request"));
    let (status, _) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": chl, "code": "123456", "credential": {} }),
        )
        .await;
    assert_eq!(status, 400);
}

async fn webauthn_attempts_are_throttled(backend: Backend) {
    let s = spawn(backend).await;
    allow_webauthn(&s, Value::Null).await;
    let mut auth = SoftAuthenticator::new();
    user_with_key(&s, "alice@example.com", &mut auth).await;
    let bad = Forge {
        wrong_signing_key: true,
        ..Forge::default()
    };
    for _ in 0..5 {
        let (chl, opt) = second_factor_options(&s, "alice@example.com").await;
        assert_eq!(
            verify(&s, &chl, &auth.assert(&opt, ORIGIN, &bad).unwrap())
                .await
                .0,
            401
        );
    }
    let (chl, opt) = second_factor_options(&s, "alice@example.com").await;
    let (status, err) = verify(&s, &chl, &auth.assert(&opt, ORIGIN, &Forge::default()).unwrap()).await;
    assert_eq!(
        (status, error_code(&err)),
        (429, "too_many_attempts"),
        "even a right answer waits"
    );
    let opt = passkey_options(&s).await;
    let (status, _) = passkey_signin(&s, &auth.assert(&opt, ORIGIN, &Forge::default()).unwrap()).await;
    assert_eq!(status, 429, "the passwordless path shares the factor's throttle");
}

async fn a_second_replica_finishes_what_the_first_began(backend: Backend) {
    let s = spawn(backend).await;
    allow_webauthn(&s, Value::Null).await;
    let mut auth = SoftAuthenticator::new();
    let body = s.signup("alice@example.com").await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (_, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&token)
            .json(&json!({ "type": "webauthn" })),
    )
    .await;
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let reg = auth.register(&e["webauthn"], ORIGIN, &Forge::default()).unwrap();
    let opt = passkey_options(&s).await;
    // The first server stops; another starts on the same database.
    let (backend, dir, schema, clock) = s.stop().await;
    let s = spawn_with(backend, dir, schema, clock, |_| {}).await;
    let (status, c) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&token)
            .json(&json!({ "credential": reg })),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    let (status, v) = passkey_signin(&s, &auth.assert(&opt, ORIGIN, &Forge::default()).unwrap()).await;
    assert_eq!(status, 200, "{v}");
}

async fn a_pending_passkey_is_inert_and_adding_one_needs_step_up(backend: Backend) {
    let s = spawn(backend).await;
    allow_webauthn(&s, Value::Null).await;
    // Started and never confirmed: sign-in is unchanged (SECURITY.md test 34).
    let body = s.signup("alice@example.com").await;
    let token = body["access_token"].as_str().unwrap().to_owned();
    let start = || async {
        let (status, e) = send(
            s.post("/v1/users/me/mfa/factors")
                .bearer_auth(&token)
                .json(&json!({ "type": "webauthn" })),
        )
        .await;
        assert_eq!(status, 201, "{e}");
        e
    };
    let first = start().await;
    let (status, _) = s.signin("alice@example.com", PASSWORD).await;
    assert_eq!(status, 200, "a pending passkey asks nothing at sign-in");
    // Started again: the first ceremony's answer no longer confirms anything.
    let mut auth = SoftAuthenticator::new();
    let stale = auth
        .register(&first["webauthn"], ORIGIN, &Forge::default())
        .unwrap();
    let second = start().await;
    let old_id = first["factor_id"].as_str().unwrap();
    let (status, err) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{old_id}/confirm"))
            .bearer_auth(&token)
            .json(&json!({ "credential": stale })),
    )
    .await;
    assert!(status == 404 || status == 409, "{status} {err}");
    // Nor does it answer the new ceremony (another challenge).
    let new_id = second["factor_id"].as_str().unwrap();
    let (status, _) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{new_id}/confirm"))
            .bearer_auth(&token)
            .json(&json!({ "credential": stale })),
    )
    .await;
    assert_eq!(status, 401);
    // After it lapses (10 minutes), it is gone.
    s.clock.advance_secs(601);
    let (_, list) = send(s.get("/v1/users/me/mfa/factors").bearer_auth(&token)).await;
    assert_eq!(list["factors"].as_array().unwrap().len(), 0, "{list}");

    // With a factor, adding a passkey needs a session that proved one recently (test 35).
    let mut key = SoftAuthenticator::new();
    let (_, aal1, _) = user_with_key(&s, "bob@example.com", &mut key).await;
    let (status, err) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&aal1)
            .json(&json!({ "type": "webauthn" })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (403, "mfa_verification_required"));
    let (chl, opt) = second_factor_options(&s, "bob@example.com").await;
    let (_, v) = verify(&s, &chl, &key.assert(&opt, ORIGIN, &Forge::default()).unwrap()).await;
    let aal2 = v["access_token"].as_str().unwrap();
    let (status, _) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(aal2)
            .json(&json!({ "type": "webauthn" })),
    )
    .await;
    assert_eq!(status, 201);
    // A passwordless sign-in is a recent second factor too.
    let opt = passkey_options(&s).await;
    let (_, v) = passkey_signin(&s, &key.assert(&opt, ORIGIN, &Forge::default()).unwrap()).await;
    let (status, _) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(v["access_token"].as_str().unwrap())
            .json(&json!({ "type": "totp" })),
    )
    .await;
    assert_eq!(status, 201);
    s.clock.advance_secs(16 * 60);
    let (status, _) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(v["access_token"].as_str().unwrap())
            .json(&json!({ "type": "totp" })),
    )
    .await;
    assert!(
        status == 403 || status == 401,
        "stale after 15 minutes (or the access token expired)"
    );
}

async fn forced_enrollment_with_a_passkey(backend: Backend) {
    let s = spawn(backend).await;
    let (status, _) = send(s.admin(s.patch("/v1/admin/config")).json(&json!({
        "mfa_required": true, "mfa_allowed_factors": ["webauthn", "backup_codes"]
    })))
    .await;
    assert_eq!(status, 200);
    let (status, body) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "alice@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!((status, error_code(&body)), (401, "mfa_setup_required"), "{body}");
    let chl = body["error"]["challenge_id"].as_str().unwrap().to_owned();
    let (status, e) = s
        .post_json(
            "/v1/mfa/enroll",
            json!({ "challenge_id": chl, "type": "webauthn", "name": "Laptop" }),
        )
        .await;
    assert_eq!(status, 201, "{e}");
    let mut auth = SoftAuthenticator::new();
    let reg = auth.register(&e["webauthn"], ORIGIN, &Forge::default()).unwrap();
    // A forged registration first: refused, and the ceremony is still there for the real one.
    let forged = SoftAuthenticator::new()
        .register(
            &e["webauthn"],
            ORIGIN,
            &Forge {
                rp_id: Some("evil.test".into()),
                ..Forge::default()
            },
        )
        .unwrap();
    assert_eq!(verify(&s, &chl, &forged).await.0, 401);
    let (status, v) = verify(&s, &chl, &reg).await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["backup_codes"].as_array().unwrap().len(), 10);
    assert_eq!(acr(&v), "aal2_phr");
    assert!(amr(&v).contains(&"hwk".to_string()), "{:?}", amr(&v));
    // Then the passkey signs in alone.
    let opt = passkey_options(&s).await;
    assert_eq!(
        passkey_signin(&s, &auth.assert(&opt, ORIGIN, &Forge::default()).unwrap())
            .await
            .0,
        200
    );
}

async fn an_assertion_proves_only_its_own_factor(backend: Backend) {
    // Review finding: with `factor_id` given beside a credential, the assertion of key B was
    // checked against the whole ceremony but counted on factor A, so a clone of B (counter
    // behind B's) passed as A and B was never flagged.
    let s = spawn(backend).await;
    allow_webauthn(&s, Value::Null).await;
    let mut synced = SoftAuthenticator::synced();
    user_with_key(&s, "alice@example.com", &mut synced).await;
    let (chl, opt) = second_factor_options(&s, "alice@example.com").await;
    let (_, v) = verify(&s, &chl, &synced.assert(&opt, ORIGIN, &Forge::default()).unwrap()).await;
    let token = v["access_token"].as_str().unwrap().to_owned();
    let mut key = SoftAuthenticator::new();
    enroll(&s, &token, &mut key, &Forge::default()).await.unwrap();
    let (_, list) = send(s.get("/v1/users/me/mfa/factors").bearer_auth(&token)).await;
    let id_of = |synced_flag: bool| {
        list["factors"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["type"] == "webauthn" && f["webauthn"]["synced"] == synced_flag)
            .unwrap()["factor_id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let (synced_id, key_id) = (id_of(true), id_of(false));
    // The key signs in at counter 100.
    let kid = key.credential_ids()[0].clone();
    key.set_counter(&kid, 99);
    let (chl, opt) = second_factor_options(&s, "alice@example.com").await;
    let (status, _) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": chl, "factor_id": key_id, "credential": key.assert(&opt, ORIGIN, &Forge::default()).unwrap() }),
        )
        .await;
    assert_eq!(status, 200);
    // A clone of the key (counter 50) names the synced passkey's factor: refused.
    let (chl, opt) = second_factor_options(&s, "alice@example.com").await;
    let clone = key
        .assert(
            &opt,
            ORIGIN,
            &Forge {
                counter: Some(50),
                ..Forge::default()
            },
        )
        .unwrap();
    let (status, err) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": chl, "factor_id": synced_id, "credential": clone }),
        )
        .await;
    assert_eq!((status, error_code(&err)), (401, "invalid_credential"));
    // The synced passkey still works (its counter was not moved by the clone's).
    let (chl, opt) = second_factor_options(&s, "alice@example.com").await;
    let mut allowed = opt.clone();
    allowed["publicKey"]["allowCredentials"] = json!([]);
    let answer = synced.assert(&allowed, ORIGIN, &Forge::default()).unwrap();
    let (status, v) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": chl, "factor_id": synced_id, "credential": answer }),
        )
        .await;
    assert_eq!(status, 200, "{v}");
}
