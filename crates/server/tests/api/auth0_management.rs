//! The Auth0 / AuthHero Management API v2 (`/api/v2`): every curl of the AuthHero MFA
//! set-up guide as written there (host, token and ids filled in), management tokens and
//! their scopes, the privilege rule for granting them, Auth0's error shape, paging, and
//! that what changes through `/api/v2` shows through `/v1/admin` and `/v2/admin` and back.

use crate::delivery::{allow_all, settle, sms_server, sms_user, PHONE};
use crate::helpers::*;
use serde_json::{json, Value};

crate::both_stores!(
    authhero_guide_curls_work_verbatim,
    management_tokens_are_rs256_for_the_management_audience,
    scopes_are_enforced_per_route,
    weakening_scopes_are_granted_only_with_mfa_admin,
    secret_keys_work_and_keep_their_limits,
    errors_are_shaped_as_auth0_shapes_them,
    authentication_methods_page_as_auth0_pages,
    changes_show_through_every_surface,
    sms_templates_word_the_messages,
    guardian_enrollments_and_authenticators,
);

/// Every management scope this surface knows.
const ALL_SCOPES: [&str; 12] = [
    "read:guardian_factors",
    "update:guardian_factors",
    "read:mfa_policies",
    "update:mfa_policies",
    "read:authentication_methods",
    "create:authentication_methods",
    "update:authentication_methods",
    "delete:authentication_methods",
    "read:users",
    "read:guardian_enrollments",
    "delete:guardian_enrollments",
    "create:guardian_enrollment_tickets",
];

const TWILIO_SID: &str = "AC0123456789abcdef0123456789abcdef";

/// The management audience of the default tenant of the test server.
fn audience() -> &'static str {
    "https://id.test/api/v2/"
}

/// Registers a machine application granted `scopes` on the management API (with the
/// `mfa:admin` key, which may grant them all); returns its client id and secret.
async fn management_app(s: &TestServer, scopes: &[&str]) -> (String, String) {
    let (status, app) = send(s.mfa_admin(s.post("/v1/admin/applications")).json(&json!({
        "name": "Management",
        "type": "confidential",
        "grant_types": ["client_credentials"],
        "audience": audience(),
        "scopes": scopes,
    })))
    .await;
    assert_eq!(status, 201, "{app}");
    (
        app["client_id"].as_str().unwrap().to_owned(),
        app["client_secret"].as_str().unwrap().to_owned(),
    )
}

/// A management token, as Auth0's SDKs ask for one.
async fn token_for(s: &TestServer, client_id: &str, secret: &str) -> String {
    let (status, t) = send(s.post("/oauth/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_id", client_id),
        ("client_secret", secret),
        ("audience", audience()),
    ]))
    .await;
    assert_eq!(status, 200, "{t}");
    t["access_token"].as_str().unwrap().to_owned()
}

async fn management_token(s: &TestServer, scopes: &[&str]) -> String {
    let (id, secret) = management_app(s, scopes).await;
    token_for(s, &id, &secret).await
}

fn url(s: &TestServer, path: &str) -> String {
    format!("{}{path}", s.url)
}

/// `curl -X {method} {path} -H "Authorization: Bearer $TOKEN" [-H "Content-Type: application/json" -d {body}]`.
async fn curl(s: &TestServer, method: &str, path: &str, token: &str, body: Option<&str>) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut req = s
        .http
        .request(method, url(s, path))
        .header("Authorization", format!("Bearer {token}"));
    if let Some(b) = body {
        req = req.header("Content-Type", "application/json").body(b.to_owned());
    }
    send(req).await
}

fn is_auth0_error(body: &Value, status: u16, code: &str) {
    assert_eq!(body["statusCode"], status, "{body}");
    assert_eq!(body["errorCode"], code, "{body}");
    assert!(body["error"].is_string() && body["message"].is_string(), "{body}");
}

fn iso_millis(v: &Value) -> bool {
    let t = v.as_str().unwrap_or("");
    t.len() == 24 && t.ends_with('Z') && t.as_bytes()[19] == b'.' && t.as_bytes()[10] == b'T'
}

async fn authhero_guide_curls_work_verbatim(b: crate::helpers::Backend) {
    let (s, gw) = sms_server(b).await;
    // A user whose phone number is verified (an SMS factor confirmed by code).
    let (status, alice) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "alice@example.com", "password": PASSWORD, "phone_number": PHONE }),
        )
        .await;
    assert_eq!(status, 201, "{alice}");
    let user_id = alice["user"]["id"].as_str().unwrap().to_owned();
    let alice_token = alice["access_token"].as_str().unwrap();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(alice_token)
            .json(&json!({ "type": "sms" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let code = gw.code(1).await;
    let (status, _) = send(
        s.post(&format!(
            "/v1/users/me/mfa/factors/{}/confirm",
            e["factor_id"].as_str().unwrap()
        ))
        .bearer_auth(alice_token)
        .json(&json!({ "code": code })),
    )
    .await;
    assert_eq!(status, 200);
    let token = management_token(&s, &ALL_SCOPES).await;

    // 1. Configure SMS provider.
    let (status, body) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/factors/sms/selected-provider",
        &token,
        Some(r#"{"provider": "twilio"}"#),
    )
    .await;
    assert_eq!((status, &body), (200, &json!({ "provider": "twilio" })));
    let (status, body) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/factors/sms/providers/twilio",
        &token,
        Some(&format!(
            r#"{{
    "sid": "{TWILIO_SID}",
    "auth_token": "your_auth_token",
    "from": "+15551234567"
  }}"#
        )),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["sid"], TWILIO_SID);
    assert_eq!(body["from"], "+15551234567");
    assert!(!body.to_string().contains("your_auth_token"), "{body}");
    let (_, selected) = curl(
        &s,
        "GET",
        "/api/v2/guardian/factors/sms/selected-provider",
        &token,
        None,
    )
    .await;
    assert_eq!(selected["provider"], "twilio");

    // 2. Enable the SMS factor.
    let (status, body) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/factors/sms",
        &token,
        Some(r#"{"enabled": true}"#),
    )
    .await;
    assert_eq!((status, &body), (200, &json!({ "enabled": true })));

    // 3. Set the MFA policy, and switch it off again.
    let (status, body) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/policies",
        &token,
        Some(r#"["all-applications"]"#),
    )
    .await;
    assert_eq!((status, &body), (200, &json!(["all-applications"])));
    let (_, config) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(config["mfa_required"], true);
    let (status, body) = curl(&s, "PUT", "/api/v2/guardian/policies", &token, Some("[]")).await;
    assert_eq!((status, &body), (200, &json!([])));

    // Managing user enrollments: list.
    let path = format!("/api/v2/users/{user_id}/authentication-methods");
    let (status, list) = curl(&s, "GET", &path, &token, None).await;
    assert_eq!(status, 200, "{list}");
    let methods = list.as_array().unwrap();
    let phone = methods.iter().find(|m| m["type"] == "phone").unwrap();
    assert_eq!(phone["confirmed"], true);
    assert_eq!(phone["phone_number"], "+1***2671");
    assert!(phone["id"].as_str().unwrap().starts_with("fac_"));
    assert!(iso_millis(&phone["created_at"]), "{phone}");
    assert!(methods.iter().any(|m| m["type"] == "recovery-code"), "{list}");

    // Admin-create an enrollment for the user's verified number.
    let (status, created) = curl(
        &s,
        "POST",
        &path,
        &token,
        Some(&format!(
            r#"{{
    "type": "phone",
    "phone_number": "{PHONE}",
    "confirmed": true
  }}"#
        )),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (created["type"].as_str(), created["confirmed"].as_bool()),
        (Some("phone"), Some(true))
    );
    let (_, events) = send(s.admin(s.get(&format!("/v1/admin/audit-events?user_id={user_id}")))).await;
    let event = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "factor.create_confirmed" && e["outcome"] == "success")
        .cloned()
        .unwrap();
    assert!(
        event["actor"].as_str().unwrap().starts_with("client:app_"),
        "{event}"
    );

    // Remove a user's MFA enrollment.
    let method_id = created["id"].as_str().unwrap();
    let (status, _) = curl(&s, "DELETE", &format!("{path}/{method_id}"), &token, None).await;
    assert_eq!(status, 204);
    let (_, list) = curl(&s, "GET", &path, &token, None).await;
    assert!(
        !list.as_array().unwrap().iter().any(|m| m["id"] == method_id),
        "{list}"
    );

    // Troubleshooting.
    let (status, sms) = curl(&s, "GET", "/api/v2/guardian/factors/sms", &token, None).await;
    assert_eq!(
        (status, &sms),
        (
            200,
            &json!({ "name": "sms", "enabled": true, "trial_expired": false })
        )
    );
    let (status, policies) = curl(&s, "GET", "/api/v2/guardian/policies", &token, None).await;
    assert_eq!((status, &policies), (200, &json!([])));
    settle().await;
    s.stop().await;
}

async fn management_tokens_are_rs256_for_the_management_audience(b: crate::helpers::Backend) {
    let s = spawn(b).await;
    let (id, secret) = management_app(&s, &["read:guardian_factors", "read:users"]).await;
    let token = token_for(&s, &id, &secret).await;
    let header: Value = serde_json::from_slice(
        &latchkey_core::secret::b64url_decode(token.split('.').next().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(
        (header["alg"].as_str(), header["typ"].as_str()),
        (Some("RS256"), Some("at+jwt"))
    );
    let c = claims(&token);
    assert_eq!(c["aud"], audience());
    assert_eq!(c["iss"], "https://id.test");
    assert_eq!(c["scope"], "read:guardian_factors read:users");
    // It verifies against the published keys.
    let (_, jwks) = send(s.get("/.well-known/jwks.json")).await;
    assert!(jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["kid"] == header["kid"] && k["kty"] == "RSA"));
    // A narrower scope, and a JSON body, as Auth0's SDKs send them.
    let (status, t) = send(s.post("/oauth/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("audience", audience()),
        ("scope", "read:users"),
    ]))
    .await;
    assert_eq!((status, t["scope"].as_str()), (200, Some("read:users")), "{t}");
    let (status, t) = send(s.post("/oauth/token").json(&json!({
        "grant_type": "client_credentials",
        "client_id": id,
        "client_secret": secret,
        "audience": audience(),
    })))
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(claims(t["access_token"].as_str().unwrap())["aud"], audience());
    // Another audience is refused at the token endpoint.
    let (status, e) = send(s.post("/oauth/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_id", id.as_str()),
        ("client_secret", secret.as_str()),
        ("audience", "https://other.test/api/v2/"),
    ]))
    .await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_request")));
    // A management token is no user's token, and a user's token is no management token.
    let (status, _) = send(s.get("/v1/users/me").bearer_auth(&token)).await;
    assert_eq!(status, 401);
    let user = s.signup("bob@example.com").await;
    let (status, e) = curl(
        &s,
        "GET",
        "/api/v2/guardian/factors",
        user["access_token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(status, 401);
    is_auth0_error(&e, 401, "invalid_token");
    // A client-credentials token for another audience does not open the management API.
    let (status, other) = send(s.mfa_admin(s.post("/v1/admin/applications")).json(&json!({
        "name": "Reports", "type": "confidential", "grant_types": ["client_credentials"],
        "audience": "https://reports.test/", "scopes": ["read:guardian_factors"],
    })))
    .await;
    assert_eq!(status, 201);
    let (_, t) = send(s.post("/oauth/token").form(&[
        ("grant_type", "client_credentials"),
        ("client_id", other["client_id"].as_str().unwrap()),
        ("client_secret", other["client_secret"].as_str().unwrap()),
    ]))
    .await;
    let (status, _) = curl(
        &s,
        "GET",
        "/api/v2/guardian/factors",
        t["access_token"].as_str().unwrap(),
        None,
    )
    .await;
    assert_eq!(status, 401);
    // An expired token.
    s.clock.advance_secs(16 * 60);
    let (status, e) = curl(&s, "GET", "/api/v2/guardian/factors", &token, None).await;
    assert_eq!(status, 401, "{e}");
    s.stop().await;
}

async fn scopes_are_enforced_per_route(b: crate::helpers::Backend) {
    let s = spawn(b).await;
    let uid = s.signup("alice@example.com").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (id, secret) = management_app(&s, &["read:guardian_factors", "read:authentication_methods"]).await;
    let token = token_for(&s, &id, &secret).await;
    let (status, list) = curl(&s, "GET", "/api/v2/guardian/factors", &token, None).await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().unwrap().len(), 8);
    // Reading the policy is allowed with the factors' scope too.
    assert_eq!(
        curl(&s, "GET", "/api/v2/guardian/policies", &token, None).await.0,
        200
    );
    let (status, e) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/factors/otp",
        &token,
        Some(r#"{"enabled":false}"#),
    )
    .await;
    assert_eq!(status, 403);
    assert_eq!(
        e,
        json!({
            "statusCode": 403,
            "error": "Forbidden",
            "message": "Insufficient scope, expected any of: update:guardian_factors",
            "errorCode": "insufficient_scope",
        })
    );
    let path = format!("/api/v2/users/{uid}/authentication-methods");
    assert_eq!(curl(&s, "GET", &path, &token, None).await.0, 200);
    let (status, e) = curl(&s, "DELETE", &path, &token, None).await;
    assert_eq!(status, 403);
    is_auth0_error(&e, 403, "insufficient_scope");
    let (status, _) = curl(
        &s,
        "GET",
        &format!("/api/v2/users/{uid}/enrollments"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 403);
    // A grant taken away takes effect at once, for tokens already issued.
    let (status, _) = send(
        s.admin(s.patch(&format!("/v1/admin/applications/{id}")))
            .json(&json!({ "scopes": ["read:authentication_methods"] })),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        curl(&s, "GET", "/api/v2/guardian/factors", &token, None).await.0,
        403
    );
    // A removed application's tokens stop working.
    let (status, _) = send(s.admin(s.http.delete(url(&s, &format!("/v1/admin/applications/{id}"))))).await;
    assert_eq!(status, 204);
    assert_eq!(curl(&s, "GET", &path, &token, None).await.0, 401);
    s.stop().await;
}

async fn weakening_scopes_are_granted_only_with_mfa_admin(b: crate::helpers::Backend) {
    let s = spawn(b).await;
    let app = |scopes: &[&str]| {
        json!({
            "name": "M", "type": "confidential", "grant_types": ["client_credentials"],
            "audience": audience(), "scopes": scopes,
        })
    };
    // A plain key may grant reading, not weakening or removing.
    let (status, read_only) = send(
        s.admin(s.post("/v1/admin/applications"))
            .json(&app(&["read:guardian_factors"])),
    )
    .await;
    assert_eq!(status, 201, "{read_only}");
    for privileged in [
        "update:guardian_factors",
        "delete:authentication_methods",
        "create:authentication_methods",
    ] {
        let (status, e) = send(
            s.admin(s.post("/v1/admin/applications"))
                .json(&app(&["read:guardian_factors", privileged])),
        )
        .await;
        assert_eq!(
            (status, error_code(&e)),
            (403, "insufficient_scope"),
            "{privileged}: {e}"
        );
    }
    let rid = read_only["client_id"].as_str().unwrap();
    let (status, e) = send(
        s.admin(s.patch(&format!("/v1/admin/applications/{rid}")))
            .json(&json!({ "scopes": ["read:guardian_factors", "delete:guardian_enrollments"] })),
    )
    .await;
    assert_eq!((status, error_code(&e)), (403, "insufficient_scope"));
    // Refusals are audited.
    let (_, events) = send(s.admin(s.get("/v1/admin/audit-events"))).await;
    assert!(events["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "application.updated" && e["outcome"] == "refused"));
    // The mfa:admin key may; and then a plain key cannot take over the application by
    // giving it a new secret.
    let (id, _) = management_app(&s, &["update:guardian_factors"]).await;
    let (status, e) = send(s.admin(s.post(&format!("/v1/admin/applications/{id}/secret")))).await;
    assert_eq!((status, error_code(&e)), (403, "insufficient_scope"));
    let (status, _) = send(s.mfa_admin(s.post(&format!("/v1/admin/applications/{id}/secret")))).await;
    assert_eq!(status, 200);
    // A read-only application's secret stays an everyday matter.
    let (status, _) = send(s.admin(s.post(&format!("/v1/admin/applications/{rid}/secret")))).await;
    assert_eq!(status, 200);
    // With the privileged scope the token weakens the policy (as an mfa:admin key would).
    let token = management_token(&s, &["update:mfa_policies"]).await;
    assert_eq!(
        curl(
            &s,
            "PUT",
            "/api/v2/guardian/policies",
            &token,
            Some(r#"["all-applications"]"#)
        )
        .await
        .0,
        200
    );
    assert_eq!(
        curl(&s, "PUT", "/api/v2/guardian/policies", &token, Some("[]"))
            .await
            .0,
        200
    );
    s.stop().await;
}

async fn secret_keys_work_and_keep_their_limits(b: crate::helpers::Backend) {
    let s = spawn(b).await;
    let (status, list) = send(s.admin(s.get("/api/v2/guardian/factors"))).await;
    assert_eq!(status, 200, "{list}");
    // Requiring MFA is everyday administration; switching it off needs mfa:admin.
    let put = |body: &'static str| {
        s.http
            .put(url(&s, "/api/v2/guardian/policies"))
            .header("content-type", "application/json")
            .body(body)
    };
    assert_eq!(send(s.admin(put(r#"["all-applications"]"#))).await.0, 200);
    let (status, e) = send(s.admin(put("[]"))).await;
    assert_eq!(status, 403, "{e}");
    is_auth0_error(&e, 403, "insufficient_scope");
    let (status, body) = send(s.mfa_admin(put("[]"))).await;
    assert_eq!((status, body), (200, json!([])));
    // Provider changes, too.
    let (status, _) = send(
        s.admin(
            s.http
                .put(url(&s, "/api/v2/guardian/factors/sms/providers/twilio"))
                .json(&json!({ "sid": TWILIO_SID, "auth_token": "t0ken", "from": "+15551234567" })),
        ),
    )
    .await;
    assert_eq!(status, 403);
    let (status, _) = send(
        s.mfa_admin(
            s.http
                .put(url(&s, "/api/v2/guardian/factors/phone/providers/twilio"))
                .json(&json!({ "sid": TWILIO_SID, "auth_token": "t0ken", "from": "+15551234567" })),
        ),
    )
    .await;
    assert_eq!(status, 200);
    // The auth token is kept when left out, and never shown.
    let (status, body) = send(
        s.mfa_admin(
            s.http
                .put(url(&s, "/api/v2/guardian/factors/sms/providers/twilio"))
                .json(&json!({ "from": "+15557654321" })),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (_, provider) = send(s.admin(s.get("/v1/admin/sms-provider"))).await;
    assert_eq!(provider["provider"], "twilio", "{provider}");
    assert!(!provider.to_string().contains("t0ken"));
    let (_, twilio) = send(s.admin(s.get("/api/v2/guardian/factors/phone/providers/twilio"))).await;
    assert_eq!(
        twilio,
        json!({ "sid": TWILIO_SID, "from": "+15557654321", "messaging_service_sid": null })
    );
    // "auth0" returns to the server's provider.
    let (status, _) = send(
        s.mfa_admin(
            s.http
                .put(url(&s, "/api/v2/guardian/factors/sms/selected-provider"))
                .json(&json!({ "provider": "auth0" })),
        ),
    )
    .await;
    assert_eq!(status, 200);
    let (_, provider) = send(s.admin(s.get("/v1/admin/sms-provider"))).await;
    assert_ne!(provider["source"], "tenant", "{provider}");
    assert!(!logs().contains("t0ken"));
    s.stop().await;
}

async fn errors_are_shaped_as_auth0_shapes_them(b: crate::helpers::Backend) {
    let s = spawn(b).await;
    let token = management_token(&s, &ALL_SCOPES).await;
    let (status, e) = send(s.get("/api/v2/guardian/factors")).await;
    assert_eq!(status, 401);
    is_auth0_error(&e, 401, "invalid_token");
    let (status, e) = curl(&s, "GET", "/api/v2/guardian/factors", "not-a-token", None).await;
    assert_eq!(status, 401);
    is_auth0_error(&e, 401, "invalid_token");
    let (status, e) = curl(&s, "GET", "/api/v2/nothing/here", &token, None).await;
    assert_eq!(status, 404);
    is_auth0_error(&e, 404, "not_found");
    let (status, e) = curl(&s, "POST", "/api/v2/guardian/factors", &token, Some("{}")).await;
    assert_eq!(status, 405);
    is_auth0_error(&e, 405, "method_not_allowed");
    let (status, e) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/policies",
        &token,
        Some("[\"all-applications\""),
    )
    .await;
    assert_eq!(status, 400);
    is_auth0_error(&e, 400, "invalid_body");
    let (status, e) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/policies",
        &token,
        Some(r#"["sometimes"]"#),
    )
    .await;
    assert_eq!(status, 400);
    is_auth0_error(&e, 400, "invalid_body");
    let (status, e) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/factors/sms",
        &token,
        Some(r#"{"enabled":true,"x":1}"#),
    )
    .await;
    assert_eq!(status, 400);
    is_auth0_error(&e, 400, "invalid_body");
    let (status, e) = send(
        s.http
            .put(url(&s, "/api/v2/guardian/factors/sms"))
            .bearer_auth(&token)
            .header("content-type", "text/plain")
            .body(r#"{"enabled":true}"#),
    )
    .await;
    assert_eq!(status, 415);
    is_auth0_error(&e, 415, "unsupported_media_type");
    let (status, e) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/factors/voice",
        &token,
        Some(r#"{"enabled":true}"#),
    )
    .await;
    assert_eq!(status, 400);
    is_auth0_error(&e, 400, "invalid_uri");
    let (status, e) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/factors/push-notification",
        &token,
        Some(r#"{"enabled":true}"#),
    )
    .await;
    assert_eq!(status, 400);
    is_auth0_error(&e, 400, "unsupported_factor");
    let (status, body) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/factors/duo",
        &token,
        Some(r#"{"enabled":false}"#),
    )
    .await;
    assert_eq!((status, body), (200, json!({ "enabled": false })));
    for id in [
        "auth0%7C5f7c8ec7c33c6c004bbafe82",
        "usr_01ARZ3NDEKTSV4RRFFQ69G5FAV",
        "nobody",
    ] {
        let (status, e) = curl(
            &s,
            "GET",
            &format!("/api/v2/users/{id}/authentication-methods"),
            &token,
            None,
        )
        .await;
        assert_eq!(status, 404, "{id}");
        assert_eq!(
            e,
            json!({ "statusCode": 404, "error": "Not Found", "message": "The user does not exist.", "errorCode": "inexistent_user" })
        );
    }
    let uid = s.signup("alice@example.com").await["user"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/v2/users/{uid}/authentication-methods");
    let (status, e) = curl(&s, "GET", &format!("{path}?per_page=0"), &token, None).await;
    assert_eq!(status, 400);
    is_auth0_error(&e, 400, "invalid_query_string");
    let (status, e) = curl(&s, "GET", &format!("{path}?sort=1"), &token, None).await;
    assert_eq!(status, 400);
    is_auth0_error(&e, 400, "invalid_query_string");
    let (status, e) = curl(
        &s,
        "GET",
        &format!("{path}/fac_01ARZ3NDEKTSV4RRFFQ69G5FAV"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 404);
    is_auth0_error(&e, 404, "authentication_method_not_found");
    let (status, e) = curl(&s, "POST", &path, &token, Some(r#"{"type":"totp"}"#)).await;
    assert_eq!(status, 400);
    is_auth0_error(&e, 400, "unsupported_method_type");
    let (status, e) = curl(&s, "POST", &path, &token, Some(r#"{"type":"carrier-pigeon"}"#)).await;
    assert_eq!(status, 400);
    is_auth0_error(&e, 400, "invalid_body");
    s.stop().await;
}

async fn authentication_methods_page_as_auth0_pages(b: crate::helpers::Backend) {
    let s = spawn(b).await;
    allow_all(&s).await;
    let (uid, token_user, ..) = crate::mfa::user_with_totp(&s, "alice@example.com").await;
    // A second, pending factor: three methods in all (TOTP, backup codes, email pending).
    let (status, _) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&token_user)
            .json(&json!({ "type": "email_otp" })),
    )
    .await;
    assert!(status == 201 || status == 403, "{status}");
    let token = management_token(&s, &["read:authentication_methods"]).await;
    let encoded = format!("auth0%7C{uid}");
    let base = format!("/api/v2/users/{encoded}/authentication-methods");
    let (status, all) = curl(&s, "GET", &base, &token, None).await;
    assert_eq!(status, 200, "{all}");
    let all = all.as_array().unwrap().clone();
    assert!(all.len() >= 2, "{all:?}");
    let totp = all.iter().find(|m| m["type"] == "totp").unwrap();
    assert_eq!(
        (totp["confirmed"].as_bool(), totp["name"].as_str()),
        (Some(true), Some("My phone"))
    );
    let (status, page) = curl(
        &s,
        "GET",
        &format!("{base}?page=0&per_page=1&include_totals=true"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{page}");
    assert_eq!(
        (page["start"].as_u64(), page["limit"].as_u64()),
        (Some(0), Some(1))
    );
    assert_eq!(page["total"].as_u64(), Some(all.len() as u64));
    assert_eq!(page["authenticators"], json!([all[0].clone()]));
    let (_, page) = curl(
        &s,
        "GET",
        &format!("{base}?page=1&per_page=1&include_totals=true"),
        &token,
        None,
    )
    .await;
    assert_eq!(
        (page["start"].as_u64(), page["authenticators"].clone()),
        (Some(1), json!([all[1].clone()]))
    );
    let (_, page) = curl(
        &s,
        "GET",
        &format!("{base}?page=9&per_page=50&include_totals=true"),
        &token,
        None,
    )
    .await;
    assert_eq!(page["authenticators"], json!([]));
    // Without include_totals, a bare array of the page.
    let (_, bare) = curl(&s, "GET", &format!("{base}?page=1&per_page=1"), &token, None).await;
    assert_eq!(bare, json!([all[1].clone()]));
    // One method, by the id the list gave.
    let (status, one) = curl(
        &s,
        "GET",
        &format!("{base}/{}", totp["id"].as_str().unwrap()),
        &token,
        None,
    )
    .await;
    assert_eq!((status, &one), (200, totp));
    s.stop().await;
}

async fn changes_show_through_every_surface(b: crate::helpers::Backend) {
    let s = spawn(b).await;
    allow_all(&s).await;
    let (uid, ..) = crate::mfa::user_with_totp(&s, "alice@example.com").await;
    let token = management_token(&s, &ALL_SCOPES).await;
    let factors = |list: &Value| -> Vec<(String, bool)> {
        list.as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["name"].as_str().unwrap().to_owned(),
                    f["enabled"].as_bool().unwrap(),
                )
            })
            .collect()
    };
    // /v1 → /api/v2.
    let (status, _) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_allowed_factors": ["totp", "webauthn", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200);
    let (_, list) = curl(&s, "GET", "/api/v2/guardian/factors", &token, None).await;
    let on: Vec<String> = factors(&list).into_iter().filter(|f| f.1).map(|f| f.0).collect();
    assert_eq!(
        on,
        ["otp", "webauthn-roaming", "webauthn-platform", "recovery-code"]
    );
    // /api/v2 → /v1 and /v2.
    let (status, _) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/factors/email",
        &token,
        Some(r#"{"enabled":true}"#),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/factors/webauthn-platform",
        &token,
        Some(r#"{"enabled":false}"#),
    )
    .await;
    assert_eq!(status, 200);
    let (_, config) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(
        config["mfa_allowed_factors"],
        json!(["totp", "backup_codes", "email_otp"]),
        "{config}"
    );
    let tid = s.app.default_tenant.to_string();
    let (_, v2) = send(s.admin(s.get(&format!("/v2/admin/tenants/{tid}/auth/config")))).await;
    assert_eq!(v2["mfa_methods"], json!(["totp", "backup_codes", "email_otp"]));
    // Policies both ways, adaptive MFA included.
    let (status, _) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/policies",
        &token,
        Some(r#"["confidence-score"]"#),
    )
    .await;
    assert_eq!(status, 200);
    let (_, config) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(
        (
            config["adaptive"]["enabled"].as_bool(),
            config["mfa_required"].as_bool()
        ),
        (Some(true), Some(false))
    );
    let (status, _) = send(
        s.admin(s.patch(&format!("/v2/admin/tenants/{tid}/auth/config")))
            .json(&json!({ "mfa_required": true })),
    )
    .await;
    assert_eq!(status, 200);
    let (_, policies) = curl(&s, "GET", "/api/v2/guardian/policies", &token, None).await;
    assert_eq!(policies, json!(["all-applications", "confidence-score"]));
    // A user's factors: removed through /api/v2, gone from /v2/admin.
    let (_, mfa) = send(s.admin(s.get(&format!("/v2/admin/users/{uid}/mfa")))).await;
    assert_eq!(mfa["factors"].as_array().unwrap().len(), 2, "{mfa}");
    let (status, _) = curl(
        &s,
        "DELETE",
        &format!("/api/v2/users/{uid}/authentication-methods"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, mfa) = send(s.admin(s.get(&format!("/v2/admin/users/{uid}/mfa")))).await;
    assert_eq!(mfa["factors"], json!([]));
    s.stop().await;
}

async fn sms_templates_word_the_messages(b: crate::helpers::Backend) {
    let (s, gw) = sms_server(b).await;
    let token = management_token(&s, &ALL_SCOPES).await;
    let (status, t) = curl(&s, "GET", "/api/v2/guardian/factors/sms/templates", &token, None).await;
    assert_eq!(status, 200);
    assert_eq!(t["enrollment_message"], t["verification_message"]);
    assert!(
        t["verification_message"].as_str().unwrap().contains("{{code}}"),
        "{t}"
    );
    let body = r#"{"enrollment_message":"{{code}} enrolls you at {{tenant.friendly_name}}","verification_message":"{{code}} signs you in"}"#;
    let (status, t) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/factors/sms/templates",
        &token,
        Some(body),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t, serde_json::from_str::<Value>(body).unwrap());
    let (_, config) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(config["sms_template"], "{code} signs you in");
    assert_eq!(
        config["sms_enrollment_template"],
        "{code} enrolls you at {app_name}"
    );
    // Enrollment and sign-in codes are worded each their way.
    sms_user(&s, &gw, "alice@example.com", PHONE).await;
    let first = gw.received()[0].body.clone();
    assert!(first.ends_with(" enrolls you at Latchkey"), "{first}");
    let (status, e) = s.signin("alice@example.com", PASSWORD).await;
    assert_eq!(status, 401, "{e}");
    let ch = e["error"].clone();
    let fid = ch["available_factors"][0]["id"].as_str().unwrap();
    let (status, _) = s
        .post_json(
            "/v1/mfa/challenge",
            json!({ "challenge_id": ch["challenge_id"], "factor_id": fid }),
        )
        .await;
    assert_eq!(status, 200);
    gw.code(2).await;
    assert!(
        gw.received()[1].body.ends_with(" signs you in"),
        "{:?}",
        gw.received()
    );
    // A template without the code is refused.
    let (status, e) = curl(
        &s,
        "PUT",
        "/api/v2/guardian/factors/sms/templates",
        &token,
        Some(r#"{"enrollment_message":"hello","verification_message":"{{code}}"}"#),
    )
    .await;
    assert_eq!(status, 400);
    is_auth0_error(&e, 400, "invalid_settings");
    s.stop().await;
}

async fn guardian_enrollments_and_authenticators(b: crate::helpers::Backend) {
    let s = spawn(b).await;
    allow_all(&s).await;
    let (uid, _, fid, ..) = crate::mfa::user_with_totp(&s, "alice@example.com").await;
    let token = management_token(&s, &ALL_SCOPES).await;
    let (status, list) = curl(
        &s,
        "GET",
        &format!("/api/v2/users/{uid}/enrollments"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "recovery codes are not an enrollment: {list}"
    );
    assert_eq!(
        (
            list[0]["id"].as_str(),
            list[0]["status"].as_str(),
            list[0]["type"].as_str()
        ),
        (Some(fid.as_str()), Some("confirmed"), Some("authenticator"))
    );
    let (status, one) = curl(
        &s,
        "GET",
        &format!("/api/v2/guardian/enrollments/{fid}"),
        &token,
        None,
    )
    .await;
    assert_eq!((status, &one), (200, &list[0]));
    let (status, _) = curl(
        &s,
        "DELETE",
        &format!("/api/v2/guardian/enrollments/{fid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, e) = curl(
        &s,
        "GET",
        &format!("/api/v2/guardian/enrollments/{fid}"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 404);
    is_auth0_error(&e, 404, "enrollment_not_found");
    // Every authenticator at once.
    let (bob, ..) = crate::mfa::user_with_totp(&s, "bob@example.com").await;
    let (status, _) = curl(
        &s,
        "DELETE",
        &format!("/api/v2/users/{bob}/authenticators"),
        &token,
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (_, list) = curl(
        &s,
        "GET",
        &format!("/api/v2/users/{bob}/authentication-methods"),
        &token,
        None,
    )
    .await;
    assert_eq!(list, json!([]));
    let (_, events) = send(s.admin(s.get(&format!("/v1/admin/audit-events?user_id={bob}")))).await;
    assert!(
        events["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["action"] == "mfa.reset" && e["outcome"] == "success"),
        "{events}"
    );
    // The same through the user's enrollments (the issue's `DELETE …/enrollments`).
    let (cid, ..) = crate::mfa::user_with_totp(&s, "cid@example.com").await;
    let path = format!("/api/v2/users/auth0%7C{cid}/enrollments");
    let (_, before) = curl(&s, "GET", &path, &token, None).await;
    assert_eq!(before.as_array().unwrap().len(), 1, "{before}");
    let (status, _) = curl(&s, "DELETE", &path, &token, None).await;
    assert_eq!(status, 204);
    let (_, after) = curl(&s, "GET", &path, &token, None).await;
    assert_eq!(after, json!([]));
    s.stop().await;
}
