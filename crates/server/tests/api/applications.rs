//! Applications (OAuth 2.0 / OpenID Connect clients): registration through the admin API,
//! every refusal with its code, changes, removal, secret rotation, tenant isolation, and
//! client authentication with its throttle.

use crate::both_stores;
use crate::helpers::*;
use latchkey_server::service::ServiceError;
use latchkey_store::model::Tenant;
use serde_json::{json, Value};

both_stores!(
    public_and_confidential_applications_are_registered,
    every_invalid_registration_is_refused_with_its_code,
    applications_change_only_in_the_fields_given,
    rotation_replaces_the_secret_and_deletion_ends_the_client,
    another_tenant_cannot_see_or_change_an_application,
    clients_authenticate_with_their_own_secret_only,
    failed_client_authentications_are_throttled,
);

async fn create(s: &TestServer, body: Value) -> (u16, Value) {
    send(s.admin(s.post("/v1/admin/applications")).json(&body)).await
}

async fn created(s: &TestServer, body: Value) -> Value {
    let (status, app) = create(s, body).await;
    assert_eq!(status, 201, "{app}");
    app
}

async fn default_tenant(s: &TestServer) -> Tenant {
    s.app.load_tenant(&s.app.default_tenant).await.unwrap()
}

fn delete(s: &TestServer, path: &str) -> reqwest::RequestBuilder {
    s.admin(s.http.delete(format!("{}{path}", s.url)))
}

async fn audit_actions(s: &TestServer) -> Vec<(String, String)> {
    let (_, list) = send(s.admin(s.get("/v1/admin/audit-events"))).await;
    list["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["detail"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn public_and_confidential_applications_are_registered(b: Backend) {
    let s = spawn(b).await;
    let spa = created(
        &s,
        json!({
            "name": "Acme SPA",
            "type": "public",
            "redirect_uris": ["https://app.example.com/callback", "http://localhost:3000/cb"],
            "post_logout_redirect_uris": ["https://app.example.com/"]
        }),
    )
    .await;
    let id = spa["id"].as_str().unwrap();
    assert!(id.starts_with("app_01"), "{spa}");
    assert_eq!(spa["client_id"], spa["id"]);
    assert_eq!(spa["type"], "public");
    assert_eq!(spa["token_endpoint_auth_method"], "none");
    assert_eq!(spa["grant_types"], json!(["authorization_code", "refresh_token"]));
    assert_eq!(
        spa["redirect_uris"],
        json!(["https://app.example.com/callback", "http://localhost:3000/cb"])
    );
    assert_eq!(
        spa["post_logout_redirect_uris"],
        json!(["https://app.example.com/"])
    );
    assert_eq!(spa["access_token_ttl_secs"], Value::Null);
    assert_eq!(spa["refresh_token_ttl_secs"], Value::Null);
    assert_eq!(spa["id_token_ttl_secs"], 3600);
    assert_eq!(spa["id_token_signed_response_alg"], "RS256");
    assert_eq!(spa["audience"], Value::Null);
    assert_eq!(spa["scopes"], json!([]));
    assert!(spa.get("client_secret").is_none() && spa.get("client_secret_prefix").is_none());

    // Ids sort by creation time; within one millisecond (the test's clock stands still) the
    // order is random.
    s.clock.advance_secs(1);
    let machine = created(
        &s,
        json!({
            "name": "Billing worker",
            "type": "confidential",
            "grant_types": ["client_credentials"],
            "audience": "https://api.example.com",
            "scopes": ["read:invoices", "write:invoices"],
            "access_token_ttl_secs": 300,
            "id_token_signed_response_alg": "EdDSA"
        }),
    )
    .await;
    assert_eq!(machine["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(machine["grant_types"], json!(["client_credentials"]));
    assert_eq!(machine["audience"], "https://api.example.com");
    assert_eq!(machine["access_token_ttl_secs"], 300);
    assert_eq!(machine["id_token_signed_response_alg"], "EdDSA");
    let secret = machine["client_secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("cs_") && secret.len() == 55, "{secret}");
    assert_eq!(machine["client_secret_prefix"].as_str().unwrap(), &secret[..7]);

    // The secret is never shown again: not by GET, not in the list, not in the audit log,
    // not in the server's log.
    let mid = machine["id"].as_str().unwrap();
    let (status, got) = send(s.admin(s.get(&format!("/v1/admin/applications/{mid}")))).await;
    assert_eq!(status, 200);
    let mut without_secret = machine.clone();
    without_secret.as_object_mut().unwrap().remove("client_secret");
    assert_eq!(got, without_secret);
    let (status, list) = send(s.admin(s.get("/v1/admin/applications"))).await;
    assert_eq!(status, 200);
    let listed = list["applications"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1], without_secret, "oldest first");
    assert!(list["next_after"].is_null());
    let events = audit_actions(&s).await;
    assert!(events.contains(&("application.created".into(), format!("{id} (public)"))));
    assert!(events.contains(&("application.created".into(), format!("{mid} (confidential)"))));
    for text in [list.to_string(), got.to_string(), format!("{events:?}"), logs()] {
        assert!(!text.contains(&secret[3..]), "the secret leaked");
    }

    // Pages.
    let (_, page) = send(s.admin(s.get("/v1/admin/applications")).query(&[("limit", "1")])).await;
    assert_eq!(page["applications"][0]["id"], spa["id"]);
    let after = page["next_after"].as_str().unwrap();
    let (_, page2) = send(
        s.admin(s.get("/v1/admin/applications"))
            .query(&[("limit", "1"), ("after", after)]),
    )
    .await;
    assert_eq!(page2["applications"][0]["id"], machine["id"]);
    let (status, err) = send(
        s.admin(s.get("/v1/admin/applications"))
            .query(&[("after", "usr_x")]),
    )
    .await;
    assert_eq!((status, error_code(&err)), (400, "invalid_query"));

    // The secret authenticates the client; the public client needs none.
    let tenant = default_tenant(&s).await;
    let app = s
        .app
        .authenticate_client(&tenant, mid, Some(&secret))
        .await
        .unwrap();
    assert_eq!(app.id.as_str(), mid);
    assert_eq!(app.audience(), "https://api.example.com");
    s.app.authenticate_client(&tenant, id, None).await.unwrap();
    s.stop().await;
}

async fn every_invalid_registration_is_refused_with_its_code(b: Backend) {
    let s = spawn(b).await;
    let base = || json!({ "name": "A", "type": "public", "redirect_uris": ["https://a.example.com/cb"] });
    let with = |k: &str, v: Value| {
        let mut body = base();
        body[k] = v;
        body
    };
    // (body, code, and for redirect URIs: field, index, reason)
    let uri_cases = [
        (
            with("redirect_uris", json!(["https://a.example.com/cb#x"])),
            "redirect_uris",
            0,
            "fragment",
        ),
        (
            with(
                "redirect_uris",
                json!(["https://a.example.com/cb", "https://*.example.com/cb"]),
            ),
            "redirect_uris",
            1,
            "wildcard",
        ),
        (
            with("redirect_uris", json!(["http://a.example.com/cb"])),
            "redirect_uris",
            0,
            "insecure_http",
        ),
        (
            with("redirect_uris", json!(["javascript:alert(1)"])),
            "redirect_uris",
            0,
            "scheme",
        ),
        (
            with("redirect_uris", json!(["data:text/html,x"])),
            "redirect_uris",
            0,
            "scheme",
        ),
        (
            with("redirect_uris", json!(["file:///etc/passwd"])),
            "redirect_uris",
            0,
            "scheme",
        ),
        (
            with("redirect_uris", json!(["https://user@a.example.com/cb"])),
            "redirect_uris",
            0,
            "userinfo",
        ),
        (
            with("redirect_uris", json!(["/relative"])),
            "redirect_uris",
            0,
            "not_absolute",
        ),
        (
            with("redirect_uris", json!(["https://a.example.com/a b"])),
            "redirect_uris",
            0,
            "characters",
        ),
        (
            with(
                "redirect_uris",
                json!([format!("https://a.example.com/{}", "x".repeat(2048))]),
            ),
            "redirect_uris",
            0,
            "too_long",
        ),
        (
            with(
                "redirect_uris",
                json!(["https://a.example.com/", "https://a.example.com/"]),
            ),
            "redirect_uris",
            1,
            "duplicate",
        ),
        (
            with(
                "post_logout_redirect_uris",
                json!(["https://a.example.com/bye#x"]),
            ),
            "post_logout_redirect_uris",
            0,
            "fragment",
        ),
    ];
    for (body, field, index, reason) in uri_cases {
        let (status, err) = create(&s, body.clone()).await;
        assert_eq!(
            (status, error_code(&err)),
            (400, "invalid_redirect_uri"),
            "{body}: {err}"
        );
        assert_eq!(err["error"]["field"], field, "{err}");
        assert_eq!(err["error"]["index"], index, "{err}");
        assert_eq!(err["error"]["reason"], reason, "{err}");
        assert!(err["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{field}[{index}] ")));
        // What was sent is not repeated back.
        let sent = body[field][index].as_str().unwrap();
        assert!(!err.to_string().contains(sent), "{err}");
    }
    let many: Vec<String> = (0..51).map(|i| format!("https://a.example.com/{i}")).collect();
    let (status, err) = create(&s, with("redirect_uris", json!(many))).await;
    assert_eq!(
        (status, error_code(&err), err["error"]["reason"].clone()),
        (400, "invalid_redirect_uri", json!("too_many"))
    );

    let conf = |grants: Value| json!({ "name": "A", "type": "confidential", "grant_types": grants });
    for body in [
        with("grant_types", json!(["implicit"])),
        with("grant_types", json!(["passwords"])),
        with("grant_types", json!([])),
        with("grant_types", json!(["client_credentials"])),
        with("grant_types", json!(["authorization_code", "client_credentials"])),
        with("redirect_uris", json!([])),
        conf(json!(["refresh_token"])),
        conf(json!(["refresh_token", "client_credentials"])),
        // Auth0's MFA grants answer a password grant's mfa_required: alone they are useless.
        conf(json!([
            "http://auth0.com/oauth/grant-type/mfa-otp",
            "client_credentials"
        ])),
    ] {
        let (status, err) = create(&s, body.clone()).await;
        assert_eq!(
            (status, error_code(&err)),
            (400, "invalid_grant_types"),
            "{body}: {err}"
        );
    }

    let mut no_type = base();
    no_type.as_object_mut().unwrap().remove("type");
    let mut no_name = base();
    no_name.as_object_mut().unwrap().remove("name");
    for (body, code) in [
        (with("type", json!("spa")), "invalid_application"),
        (with("type", json!("Public")), "invalid_application"),
        (no_type, "missing_field"),
        (no_name, "missing_field"),
        (with("name", json!("")), "invalid_name"),
        (with("name", json!("  ")), "invalid_name"),
        (with("name", json!("a\u{202E}b")), "invalid_name"),
        (with("name", json!("x".repeat(101))), "invalid_name"),
        (with("client_secret", json!("mine")), "unknown_field"),
        (
            with("redirect_uris", json!("https://a.example.com/cb")),
            "invalid_field",
        ),
        (with("access_token_ttl_secs", json!(30)), "invalid_application"),
        (with("refresh_token_ttl_secs", json!(60)), "invalid_application"),
        (with("id_token_ttl_secs", json!(86_401)), "invalid_application"),
        (
            with("id_token_signed_response_alg", json!("none")),
            "invalid_application",
        ),
        (
            with("id_token_signed_response_alg", json!("rs256")),
            "invalid_application",
        ),
        (with("audience", json!("has space")), "invalid_application"),
        (with("scopes", json!(["read users"])), "invalid_application"),
        (with("scopes", json!(["read", "read"])), "invalid_application"),
    ] {
        let (status, err) = create(&s, body.clone()).await;
        assert_eq!((status, error_code(&err)), (400, code), "{body}: {err}");
    }
    // Every settings problem at once, each named.
    let mut body = base();
    body["access_token_ttl_secs"] = json!(1);
    body["id_token_signed_response_alg"] = json!("HS256");
    let (_, err) = create(&s, body).await;
    let fields: Vec<&str> = err["error"]["problems"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["id_token_signed_response_alg", "access_token_ttl_secs"],
        "{err}"
    );

    let (status, err) = send(
        s.admin(s.post("/v1/admin/applications"))
            .header("content-type", "text/plain")
            .body(base().to_string()),
    )
    .await;
    assert_eq!((status, error_code(&err)), (415, "unsupported_media_type"));
    let (status, err) = send(s.post("/v1/admin/applications").json(&base())).await;
    assert_eq!((status, error_code(&err)), (401, "missing_credentials"));

    // Nothing was stored.
    let (_, list) = send(s.admin(s.get("/v1/admin/applications"))).await;
    assert_eq!(list["applications"], json!([]));
    s.stop().await;
}

async fn applications_change_only_in_the_fields_given(b: Backend) {
    let s = spawn(b).await;
    let app = created(
        &s,
        json!({ "name": "Before", "type": "public", "redirect_uris": ["https://a.example.com/cb"], "scopes": ["x"] }),
    )
    .await;
    let path = format!("/v1/admin/applications/{}", app["id"].as_str().unwrap());
    let patch = |body: Value| send(s.admin(s.patch(&path)).json(&body));

    s.clock.advance_secs(5);
    let (status, renamed) = patch(json!({ "name": "After" })).await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "After");
    for key in [
        "redirect_uris",
        "grant_types",
        "scopes",
        "type",
        "created_at",
        "id_token_ttl_secs",
    ] {
        assert_eq!(renamed[key], app[key], "{key}");
    }
    assert_ne!(renamed["updated_at"], app["updated_at"]);

    let (_, v) =
        patch(json!({ "access_token_ttl_secs": 600, "audience": "urn:acme", "type": "public" })).await;
    assert_eq!(
        (v["access_token_ttl_secs"].clone(), v["audience"].clone()),
        (json!(600), json!("urn:acme"))
    );
    // null returns a lifetime or the audience to its default.
    let (_, v) = patch(json!({ "access_token_ttl_secs": null, "audience": null })).await;
    assert_eq!(
        (v["access_token_ttl_secs"].clone(), v["audience"].clone()),
        (Value::Null, Value::Null)
    );
    let (_, v) = patch(json!({ "redirect_uris": ["com.example.app:/cb", "https://b.example.com/cb"] })).await;
    assert_eq!(
        v["redirect_uris"],
        json!(["com.example.app:/cb", "https://b.example.com/cb"])
    );

    // Refusals change nothing.
    for (body, code) in [
        (json!({ "type": "confidential" }), "invalid_application"),
        (json!({ "redirect_uris": [] }), "invalid_grant_types"),
        (
            json!({ "redirect_uris": ["https://b.example.com/cb#x"], "name": "Never" }),
            "invalid_redirect_uri",
        ),
        (
            json!({ "grant_types": ["client_credentials"] }),
            "invalid_grant_types",
        ),
        (json!({ "id_token_ttl_secs": 10 }), "invalid_application"),
        (json!({ "name": "" }), "invalid_name"),
        (json!({ "secret": "x" }), "unknown_field"),
    ] {
        let (status, err) = patch(body.clone()).await;
        assert_eq!((status, error_code(&err)), (400, code), "{body}: {err}");
    }
    let (_, now) = send(s.admin(s.get(&path))).await;
    assert_eq!(now, v);

    // An empty change changes nothing, not even the time.
    s.clock.advance_secs(5);
    let (status, same) = patch(json!({})).await;
    assert_eq!((status, same), (200, v));
    let (status, err) = send(
        s.admin(s.patch("/v1/admin/applications/app_01HZZZZZZZZZZZZZZZZZZZZZZZ"))
            .json(&json!({ "name": "x" })),
    )
    .await;
    assert_eq!((status, error_code(&err)), (404, "application_not_found"));
    let mut updates: Vec<String> = audit_actions(&s)
        .await
        .into_iter()
        .filter(|(a, _)| a == "application.updated")
        .map(|(_, d)| d)
        .collect();
    // Events of the same millisecond (the test's clock stands still) have no set order.
    updates.sort_unstable();
    let id = app["id"].as_str().unwrap();
    assert_eq!(
        updates,
        [
            format!("{id}: name"),
            format!("{id}: redirect_uris"),
            format!("{id}: settings"),
            format!("{id}: settings"),
        ],
        "one per change that changed something, naming what it changed"
    );
    s.stop().await;
}

async fn rotation_replaces_the_secret_and_deletion_ends_the_client(b: Backend) {
    let s = spawn(b).await;
    let tenant = default_tenant(&s).await;
    let app = created(
        &s,
        json!({ "name": "Server", "type": "confidential", "redirect_uris": ["https://a.example.com/cb"] }),
    )
    .await;
    let id = app["id"].as_str().unwrap();
    let old = app["client_secret"].as_str().unwrap();
    let (status, rotated) = send(s.admin(s.post(&format!("/v1/admin/applications/{id}/secret")))).await;
    assert_eq!(status, 200, "{rotated}");
    let new = rotated["client_secret"].as_str().unwrap();
    assert!(new.starts_with("cs_") && new != old);
    assert_eq!(rotated["client_secret_prefix"].as_str().unwrap(), &new[..7]);
    assert!(matches!(
        s.app.authenticate_client(&tenant, id, Some(old)).await,
        Err(ServiceError::InvalidClient)
    ));
    s.app.authenticate_client(&tenant, id, Some(new)).await.unwrap();
    let (_, got) = send(s.admin(s.get(&format!("/v1/admin/applications/{id}")))).await;
    assert!(got.get("client_secret").is_none());
    assert_eq!(got["client_secret_prefix"], rotated["client_secret_prefix"]);

    let public = created(
        &s,
        json!({ "name": "SPA", "type": "public", "redirect_uris": ["https://a.example.com/cb"] }),
    )
    .await;
    let pid = public["id"].as_str().unwrap();
    let (status, err) = send(s.admin(s.post(&format!("/v1/admin/applications/{pid}/secret")))).await;
    assert_eq!((status, error_code(&err)), (400, "invalid_application"));

    let (status, _) = send(delete(&s, &format!("/v1/admin/applications/{id}"))).await;
    assert_eq!(status, 204);
    for (status, err) in [
        send(s.admin(s.get(&format!("/v1/admin/applications/{id}")))).await,
        send(delete(&s, &format!("/v1/admin/applications/{id}"))).await,
        send(s.admin(s.post(&format!("/v1/admin/applications/{id}/secret")))).await,
        send(s.admin(s.get("/v1/admin/applications/not-an-id"))).await,
        send(delete(&s, "/v1/admin/applications/app_")).await,
    ] {
        assert_eq!((status, error_code(&err)), (404, "application_not_found"));
    }
    assert!(matches!(
        s.app.authenticate_client(&tenant, id, Some(new)).await,
        Err(ServiceError::InvalidClient)
    ));
    let events = audit_actions(&s).await;
    assert!(events.contains(&("application.secret_rotated".into(), id.to_owned())));
    assert!(events.contains(&("application.deleted".into(), id.to_owned())));
    assert!(!format!("{events:?}").contains(&new[3..]));
    s.stop().await;
}

async fn another_tenant_cannot_see_or_change_an_application(b: Backend) {
    let s = spawn(b).await;
    let app = created(
        &s,
        json!({ "name": "Mine", "type": "confidential", "grant_types": ["client_credentials"] }),
    )
    .await;
    let id = app["id"].as_str().unwrap();
    let secret = app["client_secret"].as_str().unwrap();
    let (other, other_key) = s.app.create_tenant("Other").await.unwrap();
    let key = other_key.expose();
    let path = format!("/v1/admin/applications/{id}");
    for req in [
        s.get(&path),
        s.patch(&path)
            .json(&json!({ "name": "Theirs", "redirect_uris": ["https://evil.example/cb"] })),
        s.http.delete(format!("{}{path}", s.url)),
        s.post(&format!("{path}/secret")),
    ] {
        let (status, err) = send(req.bearer_auth(key)).await;
        assert_eq!((status, error_code(&err)), (404, "application_not_found"));
    }
    let (_, list) = send(s.get("/v1/admin/applications").bearer_auth(key)).await;
    assert_eq!(list["applications"], json!([]));
    let (status, err) = send(
        s.get("/v1/admin/applications")
            .bearer_auth(key)
            .header("x-tenant-id", s.app.default_tenant.to_string()),
    )
    .await;
    assert_eq!((status, error_code(&err)), (403, "tenant_mismatch"));
    // Untouched, and its credentials do not work in the other tenant.
    let (_, got) = send(s.admin(s.get(&path))).await;
    assert_eq!(got["name"], "Mine");
    assert_eq!(got["client_secret_prefix"], app["client_secret_prefix"]);
    assert!(matches!(
        s.app.authenticate_client(&other, id, Some(secret)).await,
        Err(ServiceError::InvalidClient)
    ));
    s.app
        .authenticate_client(&default_tenant(&s).await, id, Some(secret))
        .await
        .unwrap();
    s.stop().await;
}

async fn clients_authenticate_with_their_own_secret_only(b: Backend) {
    let s = spawn(b).await;
    let tenant = default_tenant(&s).await;
    let conf = created(
        &s,
        json!({ "name": "C", "type": "confidential", "grant_types": ["client_credentials"] }),
    )
    .await;
    let other = created(
        &s,
        json!({ "name": "D", "type": "confidential", "grant_types": ["client_credentials"] }),
    )
    .await;
    let public = created(
        &s,
        json!({ "name": "P", "type": "public", "redirect_uris": ["https://a.example.com/cb"] }),
    )
    .await;
    let (cid, secret) = (
        conf["id"].as_str().unwrap(),
        conf["client_secret"].as_str().unwrap(),
    );
    let pid = public["id"].as_str().unwrap();
    let auth = |id: &str, secret: Option<&str>| {
        let (app, tenant, id, secret) = (
            s.app.clone(),
            tenant.clone(),
            id.to_owned(),
            secret.map(str::to_owned),
        );
        async move { app.authenticate_client(&tenant, &id, secret.as_deref()).await }
    };

    assert_eq!(auth(cid, Some(secret)).await.unwrap().id.as_str(), cid);
    assert_eq!(auth(pid, None).await.unwrap().id.as_str(), pid);
    // An empty secret is no secret.
    assert_eq!(auth(pid, Some("")).await.unwrap().id.as_str(), pid);
    let mut wrong = secret.to_owned();
    wrong.replace_range(10..11, if &secret[10..11] == "a" { "b" } else { "a" });
    let long = format!("{secret}{}", "x".repeat(300));
    for (id, presented) in [
        (cid, Some(wrong.as_str())),
        (cid, None),
        (cid, Some("")),
        (cid, Some(&secret[..54])),
        (cid, Some(long.as_str())),
        // Another application's secret: hashes are bound to their application.
        (cid, Some(other["client_secret"].as_str().unwrap())),
        (pid, Some(secret)),
        (pid, Some("anything")),
        ("app_01HZZZZZZZZZZZZZZZZZZZZZZZ", Some(secret)),
        ("app_01HZZZZZZZZZZZZZZZZZZZZZZZ", None),
        ("not a client", None),
        ("", Some(secret)),
    ] {
        assert!(
            matches!(auth(id, presented).await, Err(ServiceError::InvalidClient)),
            "{id} {presented:?}"
        );
    }
    // The failures above were counted against C, not against the others.
    auth(cid, Some(secret)).await.unwrap();
    auth(other["id"].as_str().unwrap(), other["client_secret"].as_str())
        .await
        .unwrap();
    s.stop().await;
}

async fn failed_client_authentications_are_throttled(b: Backend) {
    let s = spawn(b).await;
    let tenant = default_tenant(&s).await;
    let conf = created(
        &s,
        json!({ "name": "C", "type": "confidential", "grant_types": ["client_credentials"] }),
    )
    .await;
    let other = created(
        &s,
        json!({ "name": "D", "type": "confidential", "grant_types": ["client_credentials"] }),
    )
    .await;
    let (cid, secret) = (
        conf["id"].as_str().unwrap(),
        conf["client_secret"].as_str().unwrap(),
    );
    let auth = |id: &str, secret: &str| {
        let (app, tenant, id, secret) = (s.app.clone(), tenant.clone(), id.to_owned(), secret.to_owned());
        async move { app.authenticate_client(&tenant, &id, Some(&secret)).await }
    };

    // Successes never add up to a lock, even all at once.
    let burst: Vec<_> = (0..30).map(|_| tokio::spawn(auth(cid, secret))).collect();
    for t in burst {
        t.await.unwrap().unwrap();
    }
    // Ten failures in a row, then a wait: even the right secret is refused until it ends.
    for _ in 0..10 {
        assert!(matches!(
            auth(cid, "cs_wrong").await,
            Err(ServiceError::InvalidClient)
        ));
    }
    match auth(cid, secret).await {
        Err(ServiceError::TooManyAttempts { retry_after_secs }) => assert_eq!(retry_after_secs, 1),
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        auth(cid, "cs_wrong").await,
        Err(ServiceError::TooManyAttempts { .. })
    ));
    // Another client is not affected.
    auth(
        other["id"].as_str().unwrap(),
        other["client_secret"].as_str().unwrap(),
    )
    .await
    .unwrap();
    // After the wait a wrong secret doubles it; the right one afterwards clears the count.
    s.clock.advance_secs(1);
    assert!(matches!(
        auth(cid, "cs_wrong").await,
        Err(ServiceError::InvalidClient)
    ));
    match auth(cid, secret).await {
        Err(ServiceError::TooManyAttempts { retry_after_secs }) => assert_eq!(retry_after_secs, 2),
        other => panic!("{other:?}"),
    }
    s.clock.advance_secs(2);
    auth(cid, secret).await.unwrap();
    for _ in 0..9 {
        assert!(matches!(
            auth(cid, "cs_wrong").await,
            Err(ServiceError::InvalidClient)
        ));
    }
    auth(cid, secret).await.unwrap();
    s.stop().await;
}
