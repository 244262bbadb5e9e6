//! The admin API: secret keys, tenant settings, user look-up, tenant isolation.

use crate::both_stores;
use crate::helpers::*;
use serde_json::json;

both_stores!(
    secret_keys_are_required_and_checked,
    config_reads_and_patches,
    users_are_found_by_id_and_email_within_the_tenant,
    tenants_are_isolated,
    totp_algorithm_and_number_classes_are_settings,
);

async fn secret_keys_are_required_and_checked(b: Backend) {
    let s = spawn(b).await;
    let (status, err) = send(s.get("/v1/admin/config")).await;
    assert_eq!((status, error_code(&err)), (401, "missing_credentials"));
    let (status, err) = send(s.get("/v1/admin/config").bearer_auth("sk_live_wrong")).await;
    assert_eq!((status, error_code(&err)), (401, "invalid_api_key"));
    let (status, err) = send(s.get("/v1/admin/config").header("authorization", "Basic abc")).await;
    assert_eq!((status, error_code(&err)), (401, "invalid_credentials_format"));
    // A user's access token is not a secret key.
    let body = s.signup("alice@example.com").await;
    let (status, _) = send(
        s.get("/v1/admin/config")
            .bearer_auth(body["access_token"].as_str().unwrap()),
    )
    .await;
    assert_eq!(status, 401);
    // A new key works until revoked.
    let (record, key) = s
        .app
        .create_api_key(&s.app.default_tenant, "ci", &[])
        .await
        .unwrap();
    assert_eq!(
        send(s.get("/v1/admin/config").bearer_auth(key.expose())).await.0,
        200
    );
    assert!(s.app.revoke_api_key(record.id.as_str()).await.unwrap());
    let (status, err) = send(s.get("/v1/admin/config").bearer_auth(key.expose())).await;
    assert_eq!((status, error_code(&err)), (401, "invalid_api_key"));
    s.stop().await;
}

async fn config_reads_and_patches(b: Backend) {
    let s = spawn(b).await;
    let (status, cfg) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(status, 200);
    for (key, value) in [
        ("access_token_ttl", json!("15m")),
        ("refresh_token_ttl", json!("30d")),
        ("signup_enabled", json!(true)),
        ("mfa_required", json!(false)),
        ("mfa_allowed_factors", json!(["totp", "backup_codes"])),
        ("totp_window", json!(1)),
        ("mfa_max_attempts", json!(5)),
        ("challenge_ttl", json!("5m")),
        ("sms_otp_expiry", json!("10m")),
        ("email_otp_expiry", json!("10m")),
        ("otp_resend_cooldown", json!("1m")),
        ("sms_allowed_countries", json!(null)),
        ("app_name", json!(null)),
    ] {
        assert_eq!(cfg[key], value, "{key}");
    }
    assert_eq!(cfg["send_limits"]["destination_hourly"], 5);
    assert!(cfg["sms_template"].as_str().unwrap().contains("{code}"));

    let (status, cfg) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "access_token_ttl": "5m", "refresh_token_ttl": 7200 })),
    )
    .await;
    assert_eq!(status, 200, "{cfg}");
    assert_eq!(cfg["access_token_ttl"], "5m");
    assert_eq!(cfg["refresh_token_ttl"], "2h");
    let body = s.signup("alice@example.com").await;
    assert_eq!(body["expires_in"], 300);
    let c = claims(body["access_token"].as_str().unwrap());
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 300);

    // Every problem is listed, and nothing changes.
    let (status, err) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "access_token_ttl": "5 minutes", "refresh_token_ttl": "400d" })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "invalid_settings"));
    assert_eq!(err["error"]["problems"].as_array().unwrap().len(), 2, "{err}");
    let (status, err) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "access_token_ttl": "1s", "refresh_token_ttl": "400d" })),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(err["error"]["problems"].as_array().unwrap().len(), 2, "{err}");
    let (status, err) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "colour": "blue" })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "unknown_field"));
    let (_, cfg) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(cfg["access_token_ttl"], "5m");
    s.stop().await;
}

async fn users_are_found_by_id_and_email_within_the_tenant(b: Backend) {
    let s = spawn(b).await;
    let alice = s.signup("alice@example.com").await["user"].clone();
    for i in 0..3 {
        s.signup(&format!("user{i}@example.com")).await;
    }
    let id = alice["id"].as_str().unwrap();
    let (status, user) = send(s.admin(s.get(&format!("/v1/admin/users/{id}")))).await;
    assert_eq!(status, 200);
    assert_eq!(user, alice);
    let (status, err) = send(s.admin(s.get("/v1/admin/users/usr_01HZZZZZZZZZZZZZZZZZZZZZZZ"))).await;
    assert_eq!((status, error_code(&err)), (404, "user_not_found"));
    let (status, _) = send(s.admin(s.get("/v1/admin/users/not-an-id"))).await;
    assert_eq!(status, 404);

    let (status, list) = send(
        s.admin(s.get("/v1/admin/users"))
            .query(&[("email", "ALICE@example.com")]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["users"], json!([alice]));
    let (_, list) = send(
        s.admin(s.get("/v1/admin/users"))
            .query(&[("email", "nobody@example.com")]),
    )
    .await;
    assert_eq!(list["users"], json!([]));

    let (_, page) = send(s.admin(s.get("/v1/admin/users")).query(&[("limit", "3")])).await;
    assert_eq!(page["users"].as_array().unwrap().len(), 3);
    let after = page["next_after"].as_str().unwrap();
    let (_, page2) = send(
        s.admin(s.get("/v1/admin/users"))
            .query(&[("limit", "3"), ("after", after)]),
    )
    .await;
    assert_eq!(page2["users"].as_array().unwrap().len(), 1);
    assert!(page2["next_after"].is_null());
    let (status, err) = send(s.admin(s.get("/v1/admin/users")).query(&[("sort", "x")])).await;
    assert_eq!((status, error_code(&err)), (400, "invalid_query"));
    s.stop().await;
}

async fn tenants_are_isolated(b: Backend) {
    let s = spawn(b).await;
    let alice = s.signup("alice@example.com").await;
    let (other, other_key) = s.app.create_tenant("Other").await.unwrap();
    let other_id = other.id.to_string();

    // The same email is a separate account in the other tenant.
    let (status, body) = send(
        s.post("/v1/auth/signup")
            .header("x-tenant-id", &other_id)
            .json(&json!({ "email": "alice@example.com", "password": "another password" })),
    )
    .await;
    assert_eq!(status, 201);
    assert_ne!(body["user"]["id"], alice["user"]["id"]);
    assert_eq!(claims(body["access_token"].as_str().unwrap())["tid"], other_id);
    // Sign-in picks the tenant by header.
    let (status, _) = s.signin("alice@example.com", "another password").await;
    assert_eq!(status, 401);

    // The other tenant's key cannot see the default tenant's user.
    let id = alice["user"]["id"].as_str().unwrap();
    let (status, _) = send(
        s.get(&format!("/v1/admin/users/{id}"))
            .bearer_auth(other_key.expose()),
    )
    .await;
    assert_eq!(status, 404);
    // Naming a tenant the key does not belong to is refused.
    let (status, err) = send(
        s.get("/v1/admin/config")
            .bearer_auth(other_key.expose())
            .header("x-tenant-id", s.app.default_tenant.to_string()),
    )
    .await;
    assert_eq!((status, error_code(&err)), (403, "tenant_mismatch"));
    // A user's token in another tenant's context too.
    let (status, err) = send(
        s.get("/v1/users/me")
            .bearer_auth(alice["access_token"].as_str().unwrap())
            .header("x-tenant-id", &other_id),
    )
    .await;
    assert_eq!((status, error_code(&err)), (403, "tenant_mismatch"));
    // Unknown and malformed tenants.
    let (status, err) = send(
        s.post("/v1/auth/signin")
            .header("x-tenant-id", "tnt_01HZZZZZZZZZZZZZZZZZZZZZZZ")
            .json(&json!({ "email": "a@example.com", "password": PASSWORD })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (404, "unknown_tenant"));
    let (status, err) = send(
        s.post("/v1/auth/signin")
            .header("x-tenant-id", "acme")
            .json(&json!({ "email": "a@example.com", "password": PASSWORD })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "invalid_tenant_id"));
    s.stop().await;
}

async fn totp_algorithm_and_number_classes_are_settings(b: Backend) {
    let s = spawn(b).await;
    let (_, cfg) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(cfg["totp_algorithm"], "SHA1");
    assert_eq!(cfg["sms_allowed_number_classes"], json!([]));
    let (status, cfg) =
        send(s.admin(s.patch("/v1/admin/config")).json(
            &json!({ "totp_algorithm": "SHA512", "sms_allowed_number_classes": ["uan", "premium_rate"] }),
        ))
        .await;
    assert_eq!(status, 200, "{cfg}");
    assert_eq!(cfg["totp_algorithm"], "SHA512");
    assert_eq!(cfg["sms_allowed_number_classes"], json!(["uan", "premium_rate"]));
    // Both problems are listed, and nothing changes.
    let (status, err) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "totp_algorithm": "sha-1", "sms_allowed_number_classes": ["Satellite"] })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "invalid_settings"), "{err}");
    let fields: Vec<&str> = err["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["field"].as_str())
        .collect();
    assert_eq!(fields, ["sms_allowed_number_classes", "totp_algorithm"], "{err}");
    let (_, cfg) = send(s.admin(s.get("/v1/admin/config"))).await;
    assert_eq!(cfg["totp_algorithm"], "SHA512");
    s.stop().await;
}
