//! Auth0's MFA API over HTTP: the password and password-realm grants, `403 mfa_required`
//! with its `mfa_token`, `/mfa/authenticators`, `/mfa/challenge`, `/mfa/associate`, the
//! mfa-otp, mfa-oob and mfa-recovery-code grants, and removing an authenticator with the
//! user's token; each onto the sign-in use cases `/v1` uses, so its rules hold here too
//! (single-use codes, the challenge bound to its user and now to its application). The same
//! calls made by Auth0's own client, `@auth0/auth0-auth-js`, are in `tests/compat/`.

use crate::both_stores;
use crate::delivery::{sms_server, sms_user, PHONE};
use crate::helpers::*;
use crate::mfa::{code, user_with_totp};
use crate::oidc::ISSUER;
use serde_json::{json, Value};

both_stores!(
    password_grant_signs_in_without_a_second_factor,
    mfa_required_then_an_authenticator_app_code,
    mfa_oob_by_text_message,
    a_recovery_code_answers_mfa_required,
    associate_enrolls_the_first_authenticator,
    the_mfa_token_is_bound_single_use_and_lapses,
    removing_an_authenticator_takes_the_users_token,
);

const OTP: &str = "http://auth0.com/oauth/grant-type/mfa-otp";
const OOB: &str = "http://auth0.com/oauth/grant-type/mfa-oob";
const RECOVERY: &str = "http://auth0.com/oauth/grant-type/mfa-recovery-code";
const REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";

/// A confidential application allowed the password and MFA grants: (id, secret).
pub(crate) async fn ropg_app(s: &TestServer) -> (String, String) {
    let (status, app) = send(s.admin(s.post("/v1/admin/applications")).json(&json!({
        "name": "Acme native",
        "type": "confidential",
        "grant_types": ["password", REALM, OTP, OOB, RECOVERY, "refresh_token"],
    })))
    .await;
    assert_eq!(status, 201, "{app}");
    (
        app["client_id"].as_str().unwrap().to_owned(),
        app["client_secret"].as_str().unwrap().to_owned(),
    )
}

async fn token(s: &TestServer, form: &[(&str, &str)]) -> (u16, Value, reqwest::header::HeaderMap) {
    let r = s.post("/oauth/token").form(form).send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body: Value = r.json().await.unwrap_or(Value::Null);
    (status, body, headers)
}

async fn password(s: &TestServer, (id, secret): &(String, String), email: &str) -> (u16, Value) {
    let (status, body, headers) = token(
        s,
        &[
            ("grant_type", "password"),
            ("username", email),
            ("password", PASSWORD),
            ("scope", "openid email offline_access"),
            ("client_id", id),
            ("client_secret", secret),
        ],
    )
    .await;
    if status == 403 {
        // Auth0's clients read the body only when there is no challenge header.
        assert!(headers.get("www-authenticate").is_none());
    }
    (status, body)
}

async fn mfa_token(s: &TestServer, app: &(String, String), email: &str) -> (String, Value) {
    let (status, body) = password(s, app, email).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("mfa_required")),
        "{body}"
    );
    (body["mfa_token"].as_str().unwrap().to_owned(), body)
}

fn jwt_claims(jwt: &str) -> Value {
    claims(jwt)
}

async fn password_grant_signs_in_without_a_second_factor(b: Backend) {
    let s = spawn(b).await;
    let app = ropg_app(&s).await;
    s.signup("ada@example.com").await;
    let (status, t) = password(&s, &app, "ada@example.com").await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["token_type"], "Bearer");
    assert!(t["refresh_token"].as_str().unwrap().starts_with("rt_"));
    let id = jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["iss"], ISSUER);
    assert_eq!(id["aud"], app.0.as_str());
    assert_eq!(id["email"], "ada@example.com");
    assert_eq!(id["acr"], "aal1");
    // The access token is one the rest of the API takes (userinfo here).
    let (status, info) = send(
        s.get("/userinfo")
            .bearer_auth(t["access_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!((status, info["email"].as_str()), (200, Some("ada@example.com")));

    // JSON, as Auth0's clients send it; and the realm grant with Auth0's database name.
    let (status, t) = send(s.post("/oauth/token").json(&json!({
        "grant_type": REALM, "realm": "Username-Password-Authentication",
        "username": "ada@example.com", "password": PASSWORD, "scope": "openid",
        "client_id": app.0, "client_secret": app.1,
    })))
    .await;
    assert_eq!(status, 200, "{t}");
    assert!(
        t.get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );

    // Refusals: the same message for a wrong password and an unknown user.
    for (user, pw) in [
        ("ada@example.com", "wrong-password-1"),
        ("nobody@example.com", PASSWORD),
    ] {
        let (status, e, _) = token(
            &s,
            &[
                ("grant_type", "password"),
                ("username", user),
                ("password", pw),
                ("client_id", &app.0),
                ("client_secret", &app.1),
            ],
        )
        .await;
        assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
        assert_eq!(e["error_description"], "Wrong email or password.");
    }
    let (status, e, _) = token(
        &s,
        &[
            ("grant_type", REALM),
            ("realm", "other-db"),
            ("username", "ada@example.com"),
            ("password", PASSWORD),
            ("client_id", &app.0),
            ("client_secret", &app.1),
        ],
    )
    .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_request")),
        "{e}"
    );
    let (status, e, _) = token(
        &s,
        &[
            ("grant_type", "password"),
            ("password", PASSWORD),
            ("client_id", &app.0),
            ("client_secret", &app.1),
        ],
    )
    .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_request")),
        "{e}"
    );
    let (status, e, _) = token(
        &s,
        &[
            ("grant_type", "password"),
            ("username", "ada@example.com"),
            ("password", PASSWORD),
            ("scope", "openid admin"),
            ("client_id", &app.0),
            ("client_secret", &app.1),
        ],
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_scope")), "{e}");
    // A wrong client secret is a client failure, before any password is looked at.
    let (status, e, _) = token(
        &s,
        &[
            ("grant_type", "password"),
            ("username", "ada@example.com"),
            ("password", PASSWORD),
            ("client_id", &app.0),
            ("client_secret", "cs_wrong"),
        ],
    )
    .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (401, Some("invalid_client")),
        "{e}"
    );
    // The sign-ins are in the audit log as any password sign-in.
    let (_, events) = send(s.admin(s.get("/v1/admin/audit-events")).query(&[("limit", "50")])).await;
    let signins = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "signin")
        .count();
    assert!(signins >= 4, "{events}");
}

async fn mfa_required_then_an_authenticator_app_code(b: Backend) {
    let s = spawn(b).await;
    let app = ropg_app(&s).await;
    let (_, _, fid, secret, _) = user_with_totp(&s, "bob@example.com").await;
    let (mfa, body) = mfa_token(&s, &app, "bob@example.com").await;
    assert!(mfa.starts_with("mft_"), "{body}");
    assert!(body.get("access_token").is_none());
    let wanted: Vec<&str> = body["mfa_requirements"]["challenge"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert_eq!(wanted, ["otp", "recovery-code"], "{body}");

    // The authenticators the token may use.
    let (status, list) = send(s.get("/mfa/authenticators").bearer_auth(&mfa)).await;
    assert_eq!(status, 200, "{list}");
    let list = list.as_array().unwrap();
    assert!(list.iter().any(|a| a["id"] == format!("totp|{fid}")
        && a["authenticator_type"] == "otp"
        && a["active"] == true));
    assert!(list.iter().any(|a| a["authenticator_type"] == "recovery-code"));

    // challenge: client credentials in the body, no Authorization header.
    let (status, c) = send(s.post("/mfa/challenge").json(&json!({
        "client_id": app.0, "client_secret": app.1, "mfa_token": mfa, "challenge_type": "otp",
    })))
    .await;
    assert_eq!((status, c), (200, json!({ "challenge_type": "otp" })));

    // A wrong code, then the right one.
    let otp_grant = |otp: String| {
        vec![
            ("grant_type".to_owned(), OTP.to_owned()),
            ("mfa_token".to_owned(), mfa.clone()),
            ("otp".to_owned(), otp),
            ("client_id".to_owned(), app.0.clone()),
            ("client_secret".to_owned(), app.1.clone()),
        ]
    };
    let wrong = if code(&s, &secret, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let r = s
        .post("/oauth/token")
        .form(&otp_grant(wrong.into()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let e: Value = r.json().await.unwrap();
    assert_eq!(
        (e["error"].as_str(), e["error_description"].as_str()),
        (Some("invalid_grant"), Some("Invalid otp_code."))
    );
    let r = s
        .post("/oauth/token")
        .form(&otp_grant(code(&s, &secret, 0)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let t: Value = r.json().await.unwrap();
    for field in [
        "access_token",
        "id_token",
        "token_type",
        "expires_in",
        "refresh_token",
    ] {
        assert!(t.get(field).is_some(), "{field} in {t}");
    }
    let id = jwt_claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["acr"], "aal2");
    assert!(id["amr"].as_array().unwrap().iter().any(|m| m == "otp"), "{id}");
    // The refresh token rotates as any application's does.
    let (status, r2, _) = token(
        &s,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", t["refresh_token"].as_str().unwrap()),
            ("client_id", &app.0),
            ("client_secret", &app.1),
        ],
    )
    .await;
    assert_eq!(status, 200, "{r2}");
}

async fn mfa_oob_by_text_message(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let app = ropg_app(&s).await;
    let (_, fid) = sms_user(&s, &gw, "cy@example.com", PHONE).await;
    let (mfa, body) = mfa_token(&s, &app, "cy@example.com").await;
    assert_eq!(
        body["mfa_requirements"]["challenge"][0]["type"], "phone",
        "{body}"
    );
    let (status, list) = send(s.get("/mfa/authenticators").bearer_auth(&mfa)).await;
    assert_eq!(status, 200);
    let sms = list
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["oob_channel"] == "sms")
        .unwrap()
        .clone();
    assert_eq!(sms["id"], format!("sms|{fid}"));
    assert_eq!(sms["oob_channels"], json!(["sms"]));
    assert_eq!(sms["name"], "+1***2671");

    let before = gw.received().len();
    let (status, c) = send(s.post("/mfa/challenge").json(&json!({
        "client_id": app.0, "client_secret": app.1, "mfa_token": mfa,
        "challenge_type": "oob", "authenticator_id": sms["id"],
    })))
    .await;
    assert_eq!(status, 200, "{c}");
    assert_eq!(
        (c["challenge_type"].as_str(), c["binding_method"].as_str()),
        (Some("oob"), Some("prompt"))
    );
    let oob = c["oob_code"].as_str().unwrap().to_owned();
    let sent = gw.code(before + 1).await;
    let oob_grant = |binding: &str| {
        json!({
            "grant_type": OOB, "mfa_token": mfa, "oob_code": oob, "binding_code": binding,
            "client_id": app.0, "client_secret": app.1,
        })
    };
    let wrong = if sent == "000000" { "111111" } else { "000000" };
    let (status, e) = send(s.post("/oauth/token").json(&oob_grant(wrong))).await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (400, Some("Invalid binding_code."))
    );
    let (status, e) = send(s.post("/oauth/token").json(&json!({
        "grant_type": OOB, "mfa_token": mfa, "oob_code": oob,
        "client_id": app.0, "client_secret": app.1,
    })))
    .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_request")),
        "binding_code is required"
    );
    let (status, t) = send(s.post("/oauth/token").json(&oob_grant(&sent))).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(jwt_claims(t["id_token"].as_str().unwrap())["acr"], "aal2");
    // The code was single use: the same grant again fails.
    let (status, _) = send(s.post("/oauth/token").json(&oob_grant(&sent))).await;
    assert_eq!(status, 400);
}

async fn a_recovery_code_answers_mfa_required(b: Backend) {
    let s = spawn(b).await;
    let app = ropg_app(&s).await;
    let (_, _, _, _, backup) = user_with_totp(&s, "dee@example.com").await;
    let (mfa, _) = mfa_token(&s, &app, "dee@example.com").await;
    let grant = |rc: &str| json!({ "grant_type": RECOVERY, "mfa_token": mfa, "recovery_code": rc, "client_id": app.0, "client_secret": app.1 });
    let (status, e) = send(s.post("/oauth/token").json(&grant("AAAA-BBBB-CCCC"))).await;
    assert_eq!(
        (status, e["error_description"].as_str()),
        (400, Some("Invalid recovery_code.")),
        "{e}"
    );
    let (status, t) = send(s.post("/oauth/token").json(&grant(&backup[0]))).await;
    assert_eq!(status, 200, "{t}");
    // A used code is refused at the next sign-in.
    let (mfa2, _) = mfa_token(&s, &app, "dee@example.com").await;
    let (status, _) = send(s.post("/oauth/token").json(&json!({
        "grant_type": RECOVERY, "mfa_token": mfa2, "recovery_code": backup[0], "client_id": app.0, "client_secret": app.1,
    })))
    .await;
    assert_eq!(status, 400);
}

async fn associate_enrolls_the_first_authenticator(b: Backend) {
    let s = spawn(b).await;
    let app = ropg_app(&s).await;
    s.signup("eve@example.com").await;
    let (status, body) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_required": true })),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (mfa, body) = mfa_token(&s, &app, "eve@example.com").await;
    let enroll: Vec<&str> = body["mfa_requirements"]["enroll"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["type"].as_str().unwrap())
        .collect();
    assert!(enroll.contains(&"otp"), "{body}");
    assert!(body["mfa_requirements"].get("challenge").is_none(), "{body}");

    // Only otp or oob, one at a time.
    let (status, e) = send(
        s.post("/mfa/associate")
            .bearer_auth(&mfa)
            .json(&json!({ "authenticator_types": ["push"] })),
    )
    .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_request")),
        "{e}"
    );
    let (status, a) = send(
        s.post("/mfa/associate")
            .bearer_auth(&mfa)
            .json(&json!({ "authenticator_types": ["otp"] })),
    )
    .await;
    assert_eq!(status, 200, "{a}");
    assert_eq!(a["authenticator_type"], "otp");
    let secret = a["secret"].as_str().unwrap().to_owned();
    assert!(
        a["barcode_uri"].as_str().unwrap().starts_with("otpauth://totp/"),
        "{a}"
    );
    // Confirmed by the mfa-otp grant: the tokens, and the recovery codes, once.
    let (status, t) = send(s.post("/oauth/token").json(&json!({
        "grant_type": OTP, "mfa_token": mfa, "otp": code(&s, &secret, 0), "client_id": app.0, "client_secret": app.1,
    })))
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["recovery_codes"].as_array().map(Vec::len), Some(10), "{t}");
    assert_eq!(jwt_claims(t["id_token"].as_str().unwrap())["acr"], "aal2");

    // Now enrolled: the next password grant is a challenge, and associate is refused (a
    // password alone never binds another factor).
    s.clock.advance_secs(30);
    let (mfa2, body) = mfa_token(&s, &app, "eve@example.com").await;
    assert!(body["mfa_requirements"].get("challenge").is_some(), "{body}");
    let (status, e) = send(
        s.post("/mfa/associate")
            .bearer_auth(&mfa2)
            .json(&json!({ "authenticator_types": ["otp"] })),
    )
    .await;
    assert_eq!(
        (status, e["error"].as_str(), e["error_description"].as_str()),
        (403, Some("access_denied"), Some("User is already enrolled."))
    );
}

async fn the_mfa_token_is_bound_single_use_and_lapses(b: Backend) {
    let s = spawn(b).await;
    let app = ropg_app(&s).await;
    let other = ropg_app(&s).await;
    let (_, _, _, secret, _) = user_with_totp(&s, "fay@example.com").await;
    let (mfa, _) = mfa_token(&s, &app, "fay@example.com").await;
    let grant = |client: &(String, String), tok: &str, otp: String| json!({ "grant_type": OTP, "mfa_token": tok, "otp": otp, "client_id": client.0, "client_secret": client.1 });
    // Another application cannot use it, at the grant or at challenge.
    let (status, e) = send(
        s.post("/oauth/token")
            .json(&grant(&other, &mfa, code(&s, &secret, 0))),
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    let (status, e) = send(s.post("/mfa/challenge").json(&json!({
        "client_id": other.0, "client_secret": other.1, "mfa_token": mfa, "challenge_type": "otp",
    })))
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");
    // Tampered or foreign tokens are refused the same way; no bearer is 401.
    let mut bytes = mfa.clone().into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(bytes).unwrap();
    for bad in [forged.as_str(), "mft_x", "chl_01HZX3Q4P5R6S7T8V9W0XYZABC"] {
        let (status, e) = send(
            s.post("/oauth/token")
                .json(&grant(&app, bad, code(&s, &secret, 0))),
        )
        .await;
        assert_eq!(
            (status, e["error"].as_str()),
            (400, Some("invalid_grant")),
            "{bad}: {e}"
        );
    }
    let r = s.get("/mfa/authenticators").send().await.unwrap();
    assert_eq!(r.status(), 401);
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .starts_with("Bearer"));
    let (status, _) = send(s.get("/mfa/authenticators").bearer_auth("not-a-token")).await;
    assert_eq!(status, 401);

    // Used once, it is spent.
    let (status, t) = send(
        s.post("/oauth/token")
            .json(&grant(&app, &mfa, code(&s, &secret, 0))),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    s.clock.advance_secs(30);
    let (status, e) = send(
        s.post("/oauth/token")
            .json(&grant(&app, &mfa, code(&s, &secret, 0))),
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")), "{e}");

    // It lapses with its challenge.
    let (mfa, _) = mfa_token(&s, &app, "fay@example.com").await;
    s.clock.advance_secs(60 * 60);
    let (status, e) = send(
        s.post("/oauth/token")
            .json(&grant(&app, &mfa, code(&s, &secret, 0))),
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("expired_token")), "{e}");
}

async fn removing_an_authenticator_takes_the_users_token(b: Backend) {
    let (s, gw) = sms_server(b).await;
    let app = ropg_app(&s).await;
    let (_, sms) = sms_user(&s, &gw, "gus@example.com", PHONE).await;
    let (mfa, _) = mfa_token(&s, &app, "gus@example.com").await;
    // An mfa_token (a password alone) never removes anything.
    let (status, e) = send(
        s.http
            .delete(format!("{}/mfa/authenticators/sms|{sms}", s.url))
            .bearer_auth(&mfa),
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (403, Some("access_denied")), "{e}");
    // Finish the sign-in by text message, then remove with the access token.
    let before = gw.received().len();
    let (status, c) = send(s.post("/mfa/challenge").json(&json!({
        "client_id": app.0, "client_secret": app.1, "mfa_token": mfa, "challenge_type": "oob",
    })))
    .await;
    assert_eq!(status, 200, "{c}");
    let sent = gw.code(before + 1).await;
    let (status, t) = send(s.post("/oauth/token").json(&json!({
        "grant_type": OOB, "mfa_token": mfa, "oob_code": c["oob_code"], "binding_code": sent,
        "client_id": app.0, "client_secret": app.1,
    })))
    .await;
    assert_eq!(status, 200, "{t}");
    let access = t["access_token"].as_str().unwrap();
    let (status, list) = send(s.get("/mfa/authenticators").bearer_auth(access)).await;
    assert_eq!(status, 200, "{list}");
    assert!(list
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a["id"] == format!("sms|{sms}")));
    let (status, _) = send(
        s.http
            .delete(format!("{}/mfa/authenticators/sms%7C{sms}", s.url))
            .bearer_auth(access),
    )
    .await;
    assert_eq!(status, 204);
    let (status, e) = send(
        s.http
            .delete(format!("{}/mfa/authenticators/sms%7C{sms}", s.url))
            .bearer_auth(access),
    )
    .await;
    assert_eq!((status, e["error"].as_str()), (404, Some("not_found")), "{e}");
    // The factor is gone for /v1 too.
    let (status, f) = send(s.admin(s.get(&format!(
        "/v1/users/{}/mfa/factors",
        jwt_claims(access)["sub"].as_str().unwrap()
    ))))
    .await;
    assert_eq!(status, 200, "{f}");
    assert!(!f.to_string().contains(&sms), "{f}");
}
