//! The MFA policy engine end to end: organizations, roles and their members; rules at the
//! organization, role, application and user levels; the strictest winning at sign-in; the
//! explanation; exemptions and enrollment grace with the clock; step-up freshness; and
//! never a silent downgrade when a rule narrows the allowed kinds.

use crate::both_stores;
use crate::helpers::*;
use crate::mfa::code;
use crate::pages::{user_with_totp, Browser};
use serde_json::{json, Value};

both_stores!(
    organizations_roles_and_members,
    a_role_rule_requires_mfa_and_explains_why,
    narrowing_at_a_role_never_downgrades,
    exemptions_are_explicit_audited_and_expire,
    enrollment_grace_then_forced,
    a_shorter_step_up_freshness_holds,
    an_application_rule_asks_for_a_second_factor,
    rules_refuse_bad_input,
    tenant_level_policy_settings,
    weakening_the_tenant_needs_the_scope,
    a_rule_dry_run_lists_who_is_affected,
    a_settings_dry_run_lists_who_is_affected,
);

async fn admin(s: &TestServer, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
    let req = s.admin(s.http.request(method, format!("{}{path}", s.url)));
    let req = match body {
        Some(b) => req.json(&b),
        None => req,
    };
    send(req).await
}

async fn post(s: &TestServer, path: &str, body: Value) -> Value {
    let (status, v) = admin(s, reqwest::Method::POST, path, Some(body)).await;
    assert_eq!(status, 201, "{path}: {v}");
    v
}

async fn put(s: &TestServer, path: &str, body: Option<Value>) -> (u16, Value) {
    admin(s, reqwest::Method::PUT, path, body).await
}

async fn explain(s: &TestServer, user: &str, query: &str) -> Value {
    let (status, v) = admin(
        s,
        reqwest::Method::GET,
        &format!("/v1/admin/users/{user}/mfa/policy{query}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{v}");
    v
}

fn uid(body: &Value) -> String {
    body["user"]["id"].as_str().unwrap().to_owned()
}

async fn organizations_roles_and_members(b: Backend) {
    let s = spawn(b).await;
    let ann = uid(&s.signup("ann@example.com").await);
    let org = post(&s, "/v1/admin/organizations", json!({ "name": "Acme" })).await;
    let oid = org["id"].as_str().unwrap();
    assert!(oid.starts_with("org_"));
    let (status, e) = admin(
        &s,
        reqwest::Method::POST,
        "/v1/admin/organizations",
        Some(json!({ "name": "Acme" })),
    )
    .await;
    assert_eq!((status, error_code(&e)), (409, "name_taken"));
    let (status, e) = admin(
        &s,
        reqwest::Method::POST,
        "/v1/admin/organizations",
        Some(json!({ "name": " " })),
    )
    .await;
    assert_eq!((status, error_code(&e)), (400, "invalid_name"), "{e}");
    let (status, renamed) = admin(
        &s,
        reqwest::Method::PATCH,
        &format!("/v1/admin/organizations/{oid}"),
        Some(json!({ "name": "Acme Inc" })),
    )
    .await;
    assert_eq!((status, renamed["name"].as_str()), (200, Some("Acme Inc")));
    let (status, list) = admin(&s, reqwest::Method::GET, "/v1/admin/organizations", None).await;
    assert_eq!(
        (status, list["organizations"].as_array().unwrap().len()),
        (200, 1)
    );

    assert_eq!(
        put(&s, &format!("/v1/admin/organizations/{oid}/members/{ann}"), None)
            .await
            .0,
        204
    );
    assert_eq!(
        put(&s, &format!("/v1/admin/organizations/{oid}/members/{ann}"), None)
            .await
            .0,
        204,
        "again"
    );
    let (_, members) = admin(
        &s,
        reqwest::Method::GET,
        &format!("/v1/admin/organizations/{oid}/members"),
        None,
    )
    .await;
    assert_eq!(members["user_ids"], json!([ann]));
    let (status, e) = put(
        &s,
        &format!("/v1/admin/organizations/{oid}/members/usr_01J00000000000000000000000"),
        None,
    )
    .await;
    assert_eq!((status, error_code(&e)), (404, "user_not_found"));
    let (status, e) = put(
        &s,
        &format!("/v1/admin/organizations/org_nope/members/{ann}"),
        None,
    )
    .await;
    assert_eq!((status, error_code(&e)), (404, "organization_not_found"));

    let role = post(&s, "/v1/admin/roles", json!({ "name": "admin" })).await;
    let rid = role["id"].as_str().unwrap();
    assert!(rid.starts_with("rol_"));
    assert_eq!(
        put(
            &s,
            &format!("/v1/admin/users/{ann}/roles/{rid}?organization_id={oid}"),
            None
        )
        .await
        .0,
        204
    );
    assert_eq!(
        put(&s, &format!("/v1/admin/users/{ann}/roles/{rid}"), None)
            .await
            .0,
        204
    );
    let why = explain(&s, &ann, "").await;
    assert_eq!(why["organizations"][0]["name"], "Acme Inc");
    assert_eq!(why["roles"].as_array().unwrap().len(), 2);
    // Within an organization the user is not a member of: refused.
    let bob = uid(&s.signup("bob@example.com").await);
    let (status, e) = put(
        &s,
        &format!("/v1/admin/users/{bob}/roles/{rid}?organization_id={oid}"),
        None,
    )
    .await;
    assert_eq!((status, error_code(&e)), (400, "invalid_assignment"), "{e}");
    // Another tenant's key sees none of it.
    let (_, other_key) = s.app.create_tenant("Other").await.unwrap();
    let (status, _) = send(
        s.get(&format!("/v1/admin/organizations/{oid}"))
            .bearer_auth(other_key.expose()),
    )
    .await;
    assert_eq!(status, 404);
    // Deleting the organization takes its memberships and the roles given within it.
    let (status, _) = admin(
        &s,
        reqwest::Method::DELETE,
        &format!("/v1/admin/organizations/{oid}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let why = explain(&s, &ann, "").await;
    assert!(why["organizations"].as_array().unwrap().is_empty());
    assert_eq!(why["roles"], json!([{ "role_id": rid, "organization_id": null }]));
    let (status, _) = admin(
        &s,
        reqwest::Method::DELETE,
        &format!("/v1/admin/roles/{rid}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    assert!(explain(&s, &ann, "").await["roles"]
        .as_array()
        .unwrap()
        .is_empty());
    s.stop().await;
}

async fn a_role_rule_requires_mfa_and_explains_why(b: Backend) {
    let s = spawn(b).await;
    let ann = uid(&s.signup("ann@example.com").await);
    s.signup("bob@example.com").await;
    let role = post(&s, "/v1/admin/roles", json!({ "name": "admin" })).await;
    let rid = role["id"].as_str().unwrap();
    put(&s, &format!("/v1/admin/users/{ann}/roles/{rid}"), None).await;
    let (status, rule) = put(
        &s,
        &format!("/v1/admin/mfa-rules/role/{rid}"),
        Some(json!({ "mfa": "required" })),
    )
    .await;
    assert_eq!(status, 200, "{rule}");
    assert_eq!(rule["rule"], json!({ "mfa": "required" }));

    // The admin must enroll; Bob, without the role, signs in by password.
    let (status, body) = s.signin("ann@example.com", PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_setup_required"), "{body}");
    let (status, body) = s.signin("bob@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    // The same on the hosted pages (SECURITY.md test 28: every pathway).
    let mut br = Browser::new(&s);
    let p = br.login("ann@example.com", PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/login/enroll"), "{}", p.body);

    let why = explain(&s, &ann, "").await;
    assert_eq!(why["required"], true);
    assert_eq!(why["mfa"], "required");
    assert_eq!(why["min_aal"], "aal2");
    assert_eq!(
        why["because"],
        json!([{ "level": "role", "id": rid, "name": "admin", "rule": "required" }])
    );
    // The tenant's own requirement is cited as the tenant's.
    let (status, _) = admin(
        &s,
        reqwest::Method::PATCH,
        "/v1/admin/config",
        Some(json!({ "mfa_required": true })),
    )
    .await;
    assert_eq!(status, 200);
    let bob_id = s
        .app
        .find_user_by_email(
            &s.app.load_tenant(&s.app.default_tenant).await.unwrap(),
            "bob@example.com",
        )
        .await
        .unwrap()
        .unwrap()
        .id;
    let why = explain(&s, bob_id.as_str(), "").await;
    assert_eq!(why["because"][0]["level"], "tenant");
    // Removing the rule leaves the other levels to decide; the change is audited.
    let (status, _) = admin(
        &s,
        reqwest::Method::DELETE,
        &format!("/v1/admin/mfa-rules/role/{rid}"),
        None,
    )
    .await;
    assert_eq!(status, 204);
    let (status, e) = admin(
        &s,
        reqwest::Method::GET,
        &format!("/v1/admin/mfa-rules/role/{rid}"),
        None,
    )
    .await;
    assert_eq!((status, error_code(&e)), (404, "rule_not_found"));
    let (_, events) = send(
        s.admin(s.get("/v1/admin/audit-events"))
            .query(&[("limit", "100")]),
    )
    .await;
    let changes: Vec<&Value> = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "mfa_rule.changed")
        .collect();
    assert_eq!(changes.len(), 2, "{events}");
    s.stop().await;
}

async fn narrowing_at_a_role_never_downgrades(b: Backend) {
    let s = spawn(b).await;
    let (status, _) = admin(
        &s,
        reqwest::Method::PATCH,
        "/v1/admin/config",
        Some(json!({ "mfa_allowed_factors": ["totp", "sms", "email_otp", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200);
    let secret = user_with_totp(&s, "ann@example.com").await;
    let tenant = s.app.load_tenant(&s.app.default_tenant).await.unwrap();
    let ann = s
        .app
        .find_user_by_email(&tenant, "ann@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    let role = post(&s, "/v1/admin/roles", json!({ "name": "contractors" })).await;
    let rid = role["id"].as_str().unwrap();
    put(&s, &format!("/v1/admin/users/{ann}/roles/{rid}"), None).await;
    let (status, _) = put(
        &s,
        &format!("/v1/admin/mfa-rules/role/{rid}"),
        Some(json!({ "allowed_factors": ["email_otp", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200);
    let why = explain(&s, ann.as_str(), "").await;
    assert_eq!(why["allowed"], json!(["email_otp", "backup_codes"]));

    // The TOTP factor still must be proven (no password-only sign-in) and then an allowed
    // kind enrolled.
    let (status, body) = s.signin("ann@example.com", PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_required"), "{body}");
    let factor = body["error"]["available_factors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["type"] == "totp")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, v) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": body["error"]["challenge_id"], "factor_id": factor, "code": code(&s, &secret, 0) }),
        )
        .await;
    assert_eq!((status, error_code(&v)), (401, "mfa_setup_required"), "{v}");
    assert_eq!(v["error"]["allowed_factors"], json!(["email_otp"]));
    // Nor may the user enroll a kind the role leaves out.
    let (status, e) = s
        .post_json(
            "/v1/mfa/enroll",
            json!({ "challenge_id": v["error"]["challenge_id"], "type": "totp" }),
        )
        .await;
    assert_eq!(status, 400, "{e}");
    assert!(error_code(&e).contains("not_allowed"), "{e}");
    s.stop().await;
}

async fn exemptions_are_explicit_audited_and_expire(b: Backend) {
    let s = spawn(b).await;
    let ann = uid(&s.signup("ann@example.com").await);
    let (status, _) = admin(
        &s,
        reqwest::Method::PATCH,
        "/v1/admin/config",
        Some(json!({ "mfa_required": true })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = s.signin("ann@example.com", PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_setup_required"));

    // An exemption needs a reason and lasts at most 90 days; only users get one.
    let (status, e) = put(
        &s,
        &format!("/v1/admin/mfa-rules/user/{ann}"),
        Some(json!({ "exempt_days": 7 })),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    let (status, e) = put(
        &s,
        &format!("/v1/admin/mfa-rules/user/{ann}"),
        Some(json!({ "exempt_days": 91, "reason": "lost phone" })),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    let role = post(&s, "/v1/admin/roles", json!({ "name": "r" })).await;
    let (status, e) = put(
        &s,
        &format!("/v1/admin/mfa-rules/role/{}", role["id"].as_str().unwrap()),
        Some(json!({ "exempt_days": 7, "reason": "x" })),
    )
    .await;
    assert_eq!(status, 400, "{e}");
    let (status, rule) = put(
        &s,
        &format!("/v1/admin/mfa-rules/user/{ann}"),
        Some(json!({ "exempt_days": 7, "reason": "lost phone, new one on Monday" })),
    )
    .await;
    assert_eq!(status, 200, "{rule}");
    assert!(rule["exempt_until"].as_str().is_some());

    let (status, body) = s.signin("ann@example.com", PASSWORD).await;
    assert_eq!(status, 200, "exempt: {body}");
    let why = explain(&s, &ann, "").await;
    assert_eq!(why["required"], false);
    assert_eq!(why["because"][0]["rule"], "exempt");
    // Audited with its reason.
    let (_, events) = send(s.admin(s.get("/v1/admin/audit-events"))).await;
    let e = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "mfa_rule.changed")
        .unwrap()
        .clone();
    assert!(e["detail"].as_str().unwrap().contains("lost phone"), "{e}");
    assert_eq!(e["user_id"], ann.as_str());

    // Eight days on, it has expired.
    s.clock.advance_secs(8 * 86_400);
    let (status, body) = s.signin("ann@example.com", PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_setup_required"), "{body}");
    s.stop().await;
}

async fn enrollment_grace_then_forced(b: Backend) {
    let s = spawn(b).await;
    let ann = uid(&s.signup("ann@example.com").await);
    let org = post(&s, "/v1/admin/organizations", json!({ "name": "Acme" })).await;
    let oid = org["id"].as_str().unwrap();
    put(&s, &format!("/v1/admin/organizations/{oid}/members/{ann}"), None).await;
    let (status, _) = put(
        &s,
        &format!("/v1/admin/mfa-rules/organization/{oid}"),
        Some(json!({ "mfa": "required", "enrollment_grace_days": 7 })),
    )
    .await;
    assert_eq!(status, 200);
    let why = explain(&s, &ann, "").await;
    assert_eq!(why["required"], true);
    assert!(why["grace_until"].as_str().is_some(), "{why}");
    // Within the grace: the password still signs in, reminded each time that a second
    // factor is due, by when and of which kinds; on the pages too.
    s.clock.advance_secs(6 * 86_400);
    let (status, body) = s.signin("ann@example.com", PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["mfa_enrollment_due"]["until"], why["grace_until"], "{body}");
    assert!(
        body["mfa_enrollment_due"]["allowed"]
            .as_array()
            .unwrap()
            .contains(&json!("totp")),
        "{body}"
    );
    let mut br = crate::pages::Browser::new(&s);
    let p = br.login("ann@example.com", PASSWORD).await;
    assert_eq!(
        (p.status, p.location()),
        (303, "/account/security?notice=enroll_due"),
        "{}",
        p.body
    );
    let page = br.get("/account/security?notice=enroll_due").await;
    assert!(
        page.body.contains("will soon need a second step"),
        "{}",
        page.body
    );
    // Someone with nothing due hears nothing.
    let (_, bob) = {
        s.signup("bob@example.com").await;
        s.signin("bob@example.com", PASSWORD).await
    };
    assert!(bob.get("mfa_enrollment_due").is_none(), "{bob}");
    // After it: forced.
    s.clock.advance_secs(2 * 86_400);
    let (status, body) = s.signin("ann@example.com", PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_setup_required"), "{body}");
    s.stop().await;
}

async fn a_shorter_step_up_freshness_holds(b: Backend) {
    let s = spawn(b).await;
    let secret = user_with_totp(&s, "ann@example.com").await;
    let tenant = s.app.load_tenant(&s.app.default_tenant).await.unwrap();
    let ann = s
        .app
        .find_user_by_email(&tenant, "ann@example.com")
        .await
        .unwrap()
        .unwrap()
        .id;
    // A session that passed the second factor just now.
    let (_, body) = s.signin("ann@example.com", PASSWORD).await;
    let factor = body["error"]["available_factors"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, v) = s
        .post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": body["error"]["challenge_id"], "factor_id": factor, "code": code(&s, &secret, 0) }),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    let token = v["access_token"].as_str().unwrap().to_owned();
    let (status, _) = put(
        &s,
        &format!("/v1/admin/mfa-rules/user/{ann}"),
        Some(json!({ "step_up_secs": 60 })),
    )
    .await;
    assert_eq!(status, 200);
    // Two minutes on: within the default 15 minutes, beyond the rule's one.
    s.clock.advance_secs(120);
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&token)
            .json(&json!({ "type": "totp", "name": "Second phone" })),
    )
    .await;
    assert_eq!(
        (status, error_code(&e)),
        (403, "mfa_verification_required"),
        "{e}"
    );
    assert_eq!(explain(&s, ann.as_str(), "").await["step_up_secs"], 60);
    s.stop().await;
}

async fn an_application_rule_asks_for_a_second_factor(b: Backend) {
    let s = spawn(b).await;
    let (status, app) = send(s.admin(s.post("/v1/admin/applications")).json(&json!({
        "name": "Payroll", "type": "public", "redirect_uris": [crate::oidc::REDIRECT],
    })))
    .await;
    assert_eq!(status, 201, "{app}");
    let client = app["client_id"].as_str().unwrap().to_owned();
    let ann = uid(&s.signup("ann@example.com").await);
    let (status, _) = put(
        &s,
        &format!("/v1/admin/mfa-rules/application/{client}"),
        Some(json!({ "mfa": "required" })),
    )
    .await;
    assert_eq!(status, 200);
    // The explanation for a sign-in to it, and without it.
    let why = explain(&s, &ann, &format!("?application_id={client}")).await;
    assert_eq!(why["required"], true);
    assert_eq!(why["because"][0]["level"], "application");
    assert_eq!(why["because"][0]["name"], "Payroll");
    assert_eq!(explain(&s, &ann, "").await["required"], false);
    // The password alone still signs in elsewhere; signing in to Payroll means enrolling.
    assert_eq!(s.signin("ann@example.com", PASSWORD).await.0, 200);
    let mut br = Browser::new(&s);
    br.get(&crate::oidc::authorize(&client, &[])).await;
    let p = br.login("ann@example.com", PASSWORD).await;
    assert_eq!((p.status, p.location()), (303, "/login/enroll"), "{}", p.body);
    s.stop().await;
}

async fn rules_refuse_bad_input(b: Backend) {
    let s = spawn(b).await;
    let ann = uid(&s.signup("ann@example.com").await);
    for (path, body) in [
        (
            format!("/v1/admin/mfa-rules/tenant/{ann}"),
            json!({ "mfa": "required" }),
        ),
        (
            format!("/v1/admin/mfa-rules/user/{ann}"),
            json!({ "mfa": "sometimes" }),
        ),
        (
            format!("/v1/admin/mfa-rules/user/{ann}"),
            json!({ "allowed_factors": ["carrier_pigeon"] }),
        ),
        (
            format!("/v1/admin/mfa-rules/user/{ann}"),
            json!({ "allowed_factors": [] }),
        ),
        (
            format!("/v1/admin/mfa-rules/user/{ann}"),
            json!({ "step_up_secs": 5 }),
        ),
        (
            format!("/v1/admin/mfa-rules/user/{ann}"),
            json!({ "enrollment_grace_days": 365 }),
        ),
        (
            format!("/v1/admin/mfa-rules/user/{ann}"),
            json!({ "reason": "no exemption" }),
        ),
        (
            format!("/v1/admin/mfa-rules/user/{ann}"),
            json!({ "mfa": "required", "extra": 1 }),
        ),
    ] {
        let (status, e) = put(&s, &path, Some(body.clone())).await;
        assert_eq!(status, 400, "{path} {body}: {e}");
        assert!(
            ["invalid_rule", "invalid_field", "unknown_field"].contains(&error_code(&e)),
            "{path} {body}: {e}"
        );
        // Out of range (not mistyped): the rule's own code, naming the field.
        if body.get("step_up_secs").is_some() {
            assert_eq!(error_code(&e), "invalid_rule", "{e}");
            assert_eq!(e["error"]["problems"][0]["field"], "step_up_secs", "{e}");
        }
    }
    for path in [
        "/v1/admin/mfa-rules/user/usr_01J00000000000000000000000",
        "/v1/admin/mfa-rules/role/rol_nope",
        "/v1/admin/mfa-rules/organization/org_01J00000000000000000000000",
        "/v1/admin/mfa-rules/application/app_01J00000000000000000000000",
    ] {
        let (status, e) = put(&s, path, Some(json!({ "mfa": "required" }))).await;
        assert_eq!(status, 404, "{path}: {e}");
    }
    // A user's own role never turns MFA off under a tenant that requires it.
    let (status, _) = admin(
        &s,
        reqwest::Method::PATCH,
        "/v1/admin/config",
        Some(json!({ "mfa_required": true })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, _) = put(
        &s,
        &format!("/v1/admin/mfa-rules/user/{ann}"),
        Some(json!({ "mfa": "off" })),
    )
    .await;
    assert_eq!(status, 200);
    let (status, body) = s.signin("ann@example.com", PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_setup_required"), "{body}");
    s.stop().await;
}

async fn patch(s: &TestServer, path: &str, body: Value) -> (u16, Value) {
    admin(s, reqwest::Method::PATCH, path, Some(body)).await
}

async fn user_id(s: &TestServer, email: &str) -> String {
    let tenant = s.app.load_tenant(&s.app.default_tenant).await.unwrap();
    s.app
        .find_user_by_email(&tenant, email)
        .await
        .unwrap()
        .unwrap()
        .id
        .to_string()
}

/// The tenant's own assurance, grace and freshness: shown, checked, fed to the engine as
/// the tenant level and cited as such.
async fn tenant_level_policy_settings(b: Backend) {
    let s = spawn(b).await;
    let ann = uid(&s.signup("ann@example.com").await);
    let (status, cfg) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(status, 200);
    assert_eq!(
        (
            cfg["mfa_min_assurance"].clone(),
            cfg["mfa_enrollment_grace_days"].clone(),
            cfg["mfa_step_up_secs"].clone(),
            cfg["mfa_required_since"].clone()
        ),
        (json!("aal2"), Value::Null, Value::Null, Value::Null)
    );
    // Checked like a rule's fields, every problem at once.
    let (status, e) = patch(
        &s,
        "/v1/admin/config",
        json!({ "mfa_min_assurance": "strong", "mfa_enrollment_grace_days": 91, "mfa_step_up_secs": 30 }),
    )
    .await;
    assert_eq!((status, error_code(&e)), (400, "invalid_settings"), "{e}");
    let problems = e["error"]["problems"].to_string();
    for field in [
        "mfa_min_assurance",
        "mfa_enrollment_grace_days",
        "mfa_step_up_secs",
    ] {
        assert!(problems.contains(field), "{field}: {e}");
    }
    let (status, e) = patch(
        &s,
        "/v1/admin/config",
        json!({ "mfa_min_assurance": "phishing_resistant" }),
    )
    .await;
    assert_eq!(
        (status, error_code(&e)),
        (400, "invalid_settings"),
        "webauthn must be allowed: {e}"
    );

    // Required, with a week's grace counted from now (the tenant is older than that).
    s.clock.advance_secs(30 * 86_400);
    let (status, cfg) = patch(
        &s,
        "/v1/admin/config",
        json!({ "mfa_required": true, "mfa_enrollment_grace_days": 7, "mfa_step_up_secs": 300 }),
    )
    .await;
    assert_eq!(status, 200, "{cfg}");
    assert_eq!(cfg["mfa_enrollment_grace_days"], 7);
    assert_eq!(cfg["mfa_step_up_secs"], 300);
    assert!(cfg["mfa_required_since"].is_string(), "{cfg}");
    let why = explain(&s, &ann, "").await;
    assert_eq!(why["step_up_secs"], 300);
    assert!(why["grace_until"].is_string(), "{why}");
    let cited: Vec<(String, String)> = why["because"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["level"].as_str().unwrap().to_owned(),
                b["rule"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    for rule in ["required", "step_up_secs", "enrollment_grace_days"] {
        assert!(cited.contains(&("tenant".into(), rule.into())), "{rule}: {why}");
    }
    let (status, body) = s.signin("ann@example.com", PASSWORD).await;
    assert_eq!(status, 200, "within the tenant's grace: {body}");
    assert_eq!(body["mfa_enrollment_due"]["until"], why["grace_until"], "{body}");
    // Signing up within the grace is reminded too.
    let (status, joined) = s
        .post_json(
            "/v1/auth/signup",
            json!({ "email": "cid@example.com", "password": PASSWORD }),
        )
        .await;
    assert_eq!(status, 201, "{joined}");
    assert_eq!(
        joined["mfa_enrollment_due"]["until"], why["grace_until"],
        "{joined}"
    );
    s.clock.advance_secs(8 * 86_400);
    let (status, body) = s.signin("ann@example.com", PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_setup_required"), "{body}");

    // Phishing resistant at the tenant level: WebAuthn alone, cited as the tenant's.
    let (status, cfg) = patch(
        &s,
        "/v1/admin/config",
        json!({ "mfa_allowed_factors": ["totp", "webauthn", "backup_codes"], "mfa_min_assurance": "phishing_resistant" }),
    )
    .await;
    assert_eq!(status, 200, "{cfg}");
    let why = explain(&s, &ann, "").await;
    assert_eq!(
        (why["min_aal"].clone(), why["allowed"].clone()),
        (json!("phishing_resistant"), json!(["webauthn"]))
    );
    assert!(why["because"]
        .as_array()
        .unwrap()
        .iter()
        .any(|b| b["level"] == "tenant" && b["rule"] == "min_assurance"));
    let (status, body) = s.signin("ann@example.com", PASSWORD).await;
    assert_eq!((status, error_code(&body)), (401, "mfa_setup_required"));
    assert_eq!(body["error"]["allowed_factors"], json!(["webauthn"]), "{body}");
    s.stop().await;
}

/// Switching the tenant's MFA off, lowering its assurance or lengthening its grace needs a
/// key with `mfa:admin`; asking more, and dry runs, do not.
async fn weakening_the_tenant_needs_the_scope(b: Backend) {
    let s = spawn(b).await;
    let (status, cfg) = patch(
        &s,
        "/v1/admin/config",
        json!({
            "mfa_required": true,
            "mfa_allowed_factors": ["totp", "webauthn", "backup_codes"],
            "mfa_min_assurance": "phishing_resistant",
            "mfa_enrollment_grace_days": 2,
        }),
    )
    .await;
    assert_eq!(status, 200, "asking more needs no scope: {cfg}");
    for weaker in [
        json!({ "mfa_required": false }),
        json!({ "mfa_min_assurance": "aal2" }),
        json!({ "mfa_enrollment_grace_days": 30 }),
    ] {
        let (status, e) = patch(&s, "/v1/admin/config", weaker.clone()).await;
        assert_eq!(
            (status, error_code(&e)),
            (403, "insufficient_scope"),
            "{weaker}: {e}"
        );
        assert_eq!(e["error"]["scope"], "mfa:admin");
        // A dry run saves nothing, so it needs no scope.
        let (status, _) = patch(&s, "/v1/admin/config?dry_run=true", weaker.clone()).await;
        assert_eq!(status, 200, "{weaker}");
    }
    let (_, cfg) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(
        (
            cfg["mfa_required"].clone(),
            cfg["mfa_min_assurance"].clone(),
            cfg["mfa_enrollment_grace_days"].clone()
        ),
        (json!(true), json!("phishing_resistant"), json!(2)),
        "nothing changed"
    );
    let (_, events) = send(s.admin(s.get("/v1/admin/audit-events"))).await;
    let refused = events["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "tenant.settings_changed" && e["outcome"] == "refused")
        .count();
    assert_eq!(refused, 3, "{events}");
    // With the scope.
    let (status, cfg) = send(
        s.mfa_admin(s.patch("/v1/admin/config"))
            .json(&json!({ "mfa_required": false, "mfa_min_assurance": "aal2" })),
    )
    .await;
    assert_eq!(status, 200, "{cfg}");
    assert_eq!(cfg["mfa_required_since"], Value::Null);
    s.stop().await;
}

fn affected(v: &Value) -> Vec<(String, String)> {
    v["impact"]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| {
            (
                u["user_id"].as_str().unwrap().to_owned(),
                u["effect"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn a_rule_dry_run_lists_who_is_affected(b: Backend) {
    let s = spawn(b).await;
    let (status, _) = patch(
        &s,
        "/v1/admin/config",
        json!({ "mfa_allowed_factors": ["totp", "sms", "email_otp", "backup_codes"] }),
    )
    .await;
    assert_eq!(status, 200);
    let ann = uid(&s.signup("ann@example.com").await);
    user_with_totp(&s, "bob@example.com").await;
    let bob = user_id(&s, "bob@example.com").await;
    let carol = uid(&s.signup("carol@example.com").await);
    let role = post(&s, "/v1/admin/roles", json!({ "name": "staff" })).await;
    let rid = role["id"].as_str().unwrap();
    put(&s, &format!("/v1/admin/users/{ann}/roles/{rid}"), None).await;
    put(&s, &format!("/v1/admin/users/{bob}/roles/{rid}"), None).await;
    let path = format!("/v1/admin/mfa-rules/role/{rid}?dry_run=true");

    // Required: Ann (no factor) would be asked to enroll; Bob has one; Carol lacks the role.
    let (status, v) = put(
        &s,
        &path,
        Some(json!({ "mfa": "required", "enrollment_grace_days": 3 })),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v["rule"],
        json!({ "mfa": "required", "enrollment_grace_days": 3 })
    );
    assert_eq!(affected(&v), vec![(ann.clone(), "enroll".to_owned())]);
    assert!(v["impact"]["users"][0]["grace_until"].is_string(), "{v}");
    assert_eq!(
        (
            v["impact"]["users_to_enroll"].clone(),
            v["impact"]["users_to_reenroll"].clone()
        ),
        (json!(1), json!(0))
    );
    assert_eq!(
        (v["impact"]["evaluated"].clone(), v["impact"]["complete"].clone()),
        (json!(3), json!(true))
    );
    // Nothing was saved or audited: no rule there, Ann still signs in by password.
    let (status, e) = admin(
        &s,
        reqwest::Method::GET,
        &format!("/v1/admin/mfa-rules/role/{rid}"),
        None,
    )
    .await;
    assert_eq!((status, error_code(&e)), (404, "rule_not_found"));
    assert_eq!(s.signin("ann@example.com", PASSWORD).await.0, 200);
    let (_, events) = send(s.admin(s.get("/v1/admin/audit-events"))).await;
    assert!(!events.to_string().contains("mfa_rule.changed"), "{events}");

    // Narrowing the kinds: Bob's TOTP is left out, so he would prove it, then enroll an
    // allowed kind; Ann loses nothing (MFA stays optional for her).
    let (status, v) = put(
        &s,
        &path,
        Some(json!({ "allowed_factors": ["email_otp", "backup_codes"] })),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        affected(&v),
        vec![(bob.clone(), "enroll_allowed_kind".to_owned())]
    );
    assert_eq!(v["impact"]["users_to_reenroll"], 1);

    // A rule already in force, then changed: only the change counts.
    let (status, _) = put(
        &s,
        &format!("/v1/admin/mfa-rules/role/{rid}"),
        Some(json!({ "mfa": "required" })),
    )
    .await;
    assert_eq!(status, 200);
    let (_, v) = put(
        &s,
        &path,
        Some(json!({ "mfa": "required", "min_assurance": "aal2" })),
    )
    .await;
    assert_eq!(affected(&v), vec![]);
    let (_, v) = put(&s, &path, Some(json!({}))).await;
    assert_eq!(
        affected(&v),
        vec![],
        "removing a requirement asks nothing of anyone: {v}"
    );

    // A user's rule reaches that user alone; an organization's, its members.
    let (_, v) = put(
        &s,
        &format!("/v1/admin/mfa-rules/user/{carol}?dry_run=true"),
        Some(json!({ "mfa": "required" })),
    )
    .await;
    assert_eq!(affected(&v), vec![(carol.clone(), "enroll".to_owned())]);
    assert_eq!(v["impact"]["evaluated"], 1);
    let org = post(&s, "/v1/admin/organizations", json!({ "name": "Acme" })).await;
    let oid = org["id"].as_str().unwrap();
    put(
        &s,
        &format!("/v1/admin/organizations/{oid}/members/{carol}"),
        None,
    )
    .await;
    let (_, v) = put(
        &s,
        &format!("/v1/admin/mfa-rules/organization/{oid}?dry_run=true"),
        Some(json!({ "mfa": "required" })),
    )
    .await;
    assert_eq!(affected(&v), vec![(carol.clone(), "enroll".to_owned())]);
    assert_eq!(v["impact"]["evaluated"], 1);
    // A bad rule is refused as it would be without the dry run.
    let (status, e) = put(&s, &path, Some(json!({ "step_up_secs": 5 }))).await;
    assert_eq!(status, 400, "{e}");
    let (status, e) = put(
        &s,
        &format!("/v1/admin/mfa-rules/role/{rid}?dry_run=maybe"),
        Some(json!({ "mfa": "required" })),
    )
    .await;
    assert_eq!((status, error_code(&e)), (400, "invalid_query"), "{e}");
    s.stop().await;
}

async fn a_settings_dry_run_lists_who_is_affected(b: Backend) {
    let s = spawn(b).await;
    let ann = uid(&s.signup("ann@example.com").await);
    user_with_totp(&s, "bob@example.com").await;
    let (status, v) = patch(
        &s,
        "/v1/admin/config?dry_run=true",
        json!({ "mfa_required": true }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(affected(&v), vec![(ann.clone(), "enroll".to_owned())]);
    assert_eq!(
        (
            v["impact"]["evaluated"].clone(),
            v["impact"]["users_to_enroll"].clone()
        ),
        (json!(2), json!(1))
    );
    let (_, cfg) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(cfg["mfa_required"], false, "nothing saved");
    // A change outside the MFA policy reports no one.
    let (status, v) = patch(
        &s,
        "/v1/admin/config?dry_run=true",
        json!({ "access_token_ttl": "10m" }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(v["impact"], Value::Null, "{v}");
    s.stop().await;
}
