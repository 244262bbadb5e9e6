//! Health, JWKS, the OpenAPI document, and graceful shutdown.

use crate::both_stores;
use crate::helpers::*;

both_stores!(
    health_and_readiness,
    openapi_covers_every_route,
    shutdown_finishes_requests_in_flight,
    shutdown_answers_a_request_sent_as_it_begins
);

async fn health_and_readiness(b: Backend) {
    let s = spawn(b).await;
    assert_eq!(
        send(s.get("/healthz")).await,
        (200, serde_json::json!({ "status": "ok" }))
    );
    assert_eq!(send(s.get("/readyz")).await.0, 200);
    let resp = s.get("/.well-known/jwks.json").send().await.unwrap();
    assert_eq!(resp.headers()["cache-control"], "public, max-age=300");
    let jwks: serde_json::Value = resp.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let okp = keys.iter().find(|k| k["kty"] == "OKP").unwrap();
    assert_eq!(okp["crv"], "Ed25519");
    assert!(keys.iter().all(|k| k.get("d").is_none()), "no private part");
    s.stop().await;
}

/// Every route answers something other than 404/405 for every method the document lists,
/// and every route we serve is in the document.
async fn openapi_covers_every_route(b: Backend) {
    let s = spawn(b).await;
    let (status, doc) = send(s.get("/openapi.json")).await;
    assert_eq!(status, 200);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    let expected = [
        "/v1/auth/signup",
        "/v1/auth/signin",
        "/v1/auth/refresh",
        "/v1/auth/signout",
        "/v1/users/me",
        "/v1/admin/config",
        "/v1/admin/users",
        "/v1/admin/users/{user_id}",
        "/healthz",
        "/readyz",
        "/.well-known/jwks.json",
        "/openapi.json",
        "/v1/admin/audit-events",
        "/v2/admin/users/{user_id}/mfa",
        "/v2/admin/tenants/{tenant_id}/auth/config",
        "/v1/users/{user_id}/mfa/factors",
        "/v1/users/{user_id}/mfa/factors/{factor_id}",
        "/v1/users/{user_id}/mfa/factors/{factor_id}/confirm",
        "/v1/users/{user_id}/mfa/backup-codes",
        "/v1/mfa/challenge",
        "/v1/mfa/verify",
        "/v1/mfa/enroll",
        "/v1/admin/sms-provider",
        "/v1/admin/email-provider",
        "/v1/admin/delivery-stats",
        "/v1/auth/passkey/options",
        "/v1/auth/passkey/signin",
        "/v1/admin/applications",
        "/v1/admin/applications/{application_id}",
        "/v1/admin/applications/{application_id}/secret",
        "/v1/admin/webhooks",
        "/v1/admin/webhooks/{webhook_id}",
        "/v1/admin/webhooks/{webhook_id}/rotate-secret",
        "/v1/admin/webhooks/{webhook_id}/deliveries",
        "/v1/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver",
        "/v1/auth/password/forgot",
        "/v1/auth/password/reset",
        "/v1/auth/email/verify/send",
        "/v1/auth/email/verify",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server",
        "/oauth/token",
        "/oauth/revoke",
        "/userinfo",
        "/v1/admin/organizations",
        "/v1/admin/organizations/{organization_id}",
        "/v1/admin/organizations/{organization_id}/members",
        "/v1/admin/organizations/{organization_id}/members/{user_id}",
        "/v1/admin/roles",
        "/v1/admin/roles/{role_id}",
        "/v1/admin/users/{user_id}/roles/{role_id}",
        "/v1/admin/mfa-rules/{level}/{target_id}",
        "/v1/admin/users/{user_id}/mfa/enrollment-tickets",
        "/v1/admin/users/{user_id}/mfa/policy",
        "/v1/users/{user_id}/devices",
        "/v1/users/{user_id}/devices/{device_id}",
        "/api/v2/guardian/factors",
        "/api/v2/guardian/factors/{name}",
        "/api/v2/guardian/factors/{name}/selected-provider",
        "/api/v2/guardian/factors/{name}/providers/twilio",
        "/api/v2/guardian/factors/phone/message-types",
        "/api/v2/guardian/factors/sms/templates",
        "/api/v2/guardian/policies",
        "/api/v2/guardian/enrollments/ticket",
        "/api/v2/guardian/enrollments/{factor_id}",
        "/api/v2/users/{user_id}/authentication-methods",
        "/api/v2/users/{user_id}/authentication-methods/{factor_id}",
        "/api/v2/users/{user_id}/authenticators",
        "/api/v2/users/{user_id}/enrollments",
        "/mfa/authenticators",
        "/mfa/authenticators/{authenticator_id}",
        "/mfa/associate",
        "/mfa/challenge",
        "/v1/users/{user_id}/mfa/factors/{factor_id}/preferred",
        "/auth/login",
        "/auth/respond-challenge",
        "/auth/challenge/setup-data",
        "/auth/challenge/resend",
        "/auth/mfa/status",
        "/auth/mfa/setup-data",
        "/auth/mfa/verify-setup",
        "/auth/mfa/devices",
        "/auth/mfa/devices/{id}/preferred",
        "/auth/mfa/devices/{id}",
        "/auth/admin/mfa-config",
    ];
    let mut listed: Vec<&str> = paths.keys().map(String::as_str).collect();
    listed.sort_unstable();
    let mut want = expected.to_vec();
    want.sort_unstable();
    assert_eq!(listed, want);
    // Operation ids are unique (OpenAPI 3 requires it; generated clients name methods by them).
    let mut ids: Vec<&str> = paths
        .values()
        .flat_map(|item| item.as_object().unwrap().values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    ids.sort_unstable();
    let dupes: Vec<&&str> = ids.windows(2).filter(|w| w[0] == w[1]).map(|w| &w[0]).collect();
    assert!(dupes.is_empty(), "operationIds used twice: {dupes:?}");
    for (path, item) in paths {
        let concrete = path
            .replace("{user_id}", "usr_01HZZZZZZZZZZZZZZZZZZZZZZZ")
            .replace("{factor_id}", "fac_01HZZZZZZZZZZZZZZZZZZZZZZZ")
            .replace("{tenant_id}", "tnt_01HZZZZZZZZZZZZZZZZZZZZZZZ")
            .replace("{application_id}", "app_01HZZZZZZZZZZZZZZZZZZZZZZZ")
            .replace("{organization_id}", "org_01HZZZZZZZZZZZZZZZZZZZZZZZ")
            .replace("{role_id}", "rol_01HZZZZZZZZZZZZZZZZZZZZZZZ")
            .replace("{level}", "role")
            .replace("{name}", "sms")
            .replace("{target_id}", "rol_01HZZZZZZZZZZZZZZZZZZZZZZZ")
            .replace("{webhook_id}", "whk_01HZZZZZZZZZZZZZZZZZZZZZZZ")
            .replace("{device_id}", "dev_01HZZZZZZZZZZZZZZZZZZZZZZZ")
            .replace("{authenticator_id}", "totp%7Cfac_01HZZZZZZZZZZZZZZZZZZZZZZZ")
            .replace("{id}", "fac_01HZZZZZZZZZZZZZZZZZZZZZZZ")
            .replace(
                "{delivery_id}",
                "msg_01HZZZZZZZZZZZZZZZZZZZZZZZ01HZZZZZZZZZZZZZZZZZZZZZZZ",
            );
        for (method, op) in item.as_object().unwrap() {
            // A parameter documented `in: path` must be in the path template (query structs
            // need `#[into_params(parameter_in = Query)]`, or they are listed as required path
            // parameters that no client can send).
            for p in op["parameters"].as_array().into_iter().flatten() {
                if p["in"] == "path" {
                    let name = p["name"].as_str().unwrap();
                    assert!(
                        path.contains(&format!("{{{name}}}")),
                        "{method} {path}: parameter {name} is documented in the path but is not in it"
                    );
                }
            }
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let resp = s
                .http
                .request(m, format!("{}{concrete}", s.url))
                .send()
                .await
                .unwrap();
            let status = resp.status().as_u16();
            let body: serde_json::Value = resp.json().await.unwrap_or_default();
            assert!(
                !(status == 405
                    || (status == 404
                        && (body["error"]["code"] == "not_found" || body["errorCode"] == "not_found"))),
                "{method} {path} is documented but not served"
            );
        }
    }
    s.stop().await;
}

async fn shutdown_finishes_requests_in_flight(b: Backend) {
    let s = spawn(b).await;
    s.signup("alice@example.com").await;
    // Sign-ins queue behind the hashing pool; stop while they are in flight.
    let in_flight: Vec<_> = (0..4)
        .map(|_| {
            let req = s
                .post("/v1/auth/signin")
                .json(&serde_json::json!({ "email": "alice@example.com", "password": PASSWORD }));
            tokio::spawn(async move { req.send().await.map(|r| r.status().as_u16()) })
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let url = s.url.clone();
    s.stop().await;
    for task in in_flight {
        assert_eq!(
            task.await.unwrap().unwrap(),
            200,
            "a request in flight was dropped"
        );
    }
    // New connections are refused once stopped.
    assert!(reqwest::get(format!("{url}/healthz")).await.is_err());
}

/// A client that connected just before shutdown and sends its request just after it began
/// is answered, not cut off: the server cannot tell it from a request already on its way.
async fn shutdown_answers_a_request_sent_as_it_begins(b: Backend) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let s = spawn(b).await;
    let addr = s.url.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    // Accepted, no byte sent yet.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let stopping = tokio::spawn(s.stop());
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: latchkey.test\r\n\r\n")
        .await
        .unwrap();
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        answer.starts_with("HTTP/1.1 200"),
        "the request was cut off: {answer:?}"
    );
    stopping.await.unwrap();
}

/// The OpenAPI document is the API's contract (SDKs are generated from or checked against
/// it): any change to it shows up as a diff of `docs/openapi.json`, reviewed with the change
/// that made it. `LATCHKEY_UPDATE_OPENAPI=1 cargo test -p latchkey-server --test api
/// openapi_document` rewrites the file. Store-independent: runs once.
#[test]
fn openapi_document_matches_the_snapshot() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.json");
    let current = latchkey_server::http::openapi_json();
    let pretty = serde_json::to_string_pretty(&current).unwrap() + "\n";
    if std::env::var_os("LATCHKEY_UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &pretty).unwrap();
        return;
    }
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).expect("docs/openapi.json")).unwrap();
    assert!(
        saved == current,
        "/openapi.json changed; if intended, rerun with LATCHKEY_UPDATE_OPENAPI=1 and review the diff of docs/openapi.json"
    );
}

/// The error envelope's `code` is the `ErrorCode` enum, and the enum lists every code the
/// server declares (the one list in `service/failure.rs`); `send` checks every error a test
/// receives against it. Store-independent: runs once.
#[test]
fn the_error_code_enum_lists_every_code() {
    let doc = latchkey_server::http::openapi_json();
    let detail = &doc["components"]["schemas"]["ErrorDetail"]["properties"]["code"];
    assert_eq!(
        detail["$ref"], "#/components/schemas/ErrorCode",
        "ErrorDetail.code: {detail}"
    );
    let declared: std::collections::BTreeSet<String> = latchkey_server::service::ErrorCode::ALL
        .iter()
        .map(|c| c.as_str().to_owned())
        .collect();
    assert_eq!(documented_error_codes(), &declared);
    for code in [
        "mfa_required",
        "invalid_code",
        "invalid_json",
        "rate_limited",
        "internal_error",
    ] {
        assert!(declared.contains(code), "{code}");
    }
}
