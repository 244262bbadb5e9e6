//! Cross-origin calls from listed browser apps (`cors_allowed_origins`): the user's routes
//! of `/v1` answer a listed origin and its preflight, exactly and without credentials; an
//! origin not listed, the admin routes, and a server with no list answer no CORS header.

use crate::both_stores;
use crate::helpers::*;
use latchkey_server::http::common::cors::AllowedOrigins;

both_stores!(listed_origins_may_call_the_users_routes);

const APP: &str = "https://app.example.com";

fn preflight(s: &TestServer, path: &str, origin: &str) -> reqwest::RequestBuilder {
    s.http
        .request(reqwest::Method::OPTIONS, format!("{}{path}", s.url))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "authorization, content-type")
}

async fn listed_origins_may_call_the_users_routes(b: Backend) {
    let s = spawn_tweaked(b, |c| {
        c.cors_allowed_origins = AllowedOrigins::parse(APP).unwrap();
    })
    .await;
    let r = preflight(&s, "/v1/auth/signin", APP).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let h = r.headers();
    assert_eq!(h["access-control-allow-origin"], APP);
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("POST"));
    let allowed = h["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(
        allowed.contains("authorization") && allowed.contains("content-type"),
        "{allowed}"
    );
    assert!(h.get("access-control-allow-credentials").is_none());
    assert_eq!(h["vary"], "Origin");

    // The call itself, an error included, names the origin; the body is unchanged.
    let r = s
        .post("/v1/auth/signin")
        .header("origin", APP)
        .json(&serde_json::json!({ "email": "nobody@example.com", "password": PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(r.headers()["access-control-allow-origin"], APP);
    assert!(r.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("Retry-After"));
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(error_code(&body), "invalid_credentials");
    let r = s.get("/v1/users/me").header("origin", APP).send().await.unwrap();
    assert_eq!(
        (
            r.status().as_u16(),
            r.headers()["access-control-allow-origin"].to_str().unwrap()
        ),
        (401, APP)
    );

    // Another origin, a near miss, and the admin routes: no CORS header at all.
    for origin in [
        "https://evil.example.com",
        "http://app.example.com",
        "https://app.example.com.evil.test",
    ] {
        let r = preflight(&s, "/v1/auth/signin", origin).send().await.unwrap();
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{origin}"
        );
        let r = s
            .post("/v1/auth/signin")
            .header("origin", origin)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert!(
            r.headers().get("access-control-allow-origin").is_none(),
            "{origin}"
        );
    }
    let r = preflight(&s, "/v1/admin/config", APP).send().await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
    let r = s
        .admin(s.get("/v1/admin/config"))
        .header("origin", APP)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers().get("access-control-allow-origin").is_none());
    s.stop().await;

    // No list, no CORS.
    let s = spawn(b).await;
    let r = preflight(&s, "/v1/auth/signin", APP).send().await.unwrap();
    assert!(r.headers().get("access-control-allow-origin").is_none());
}
