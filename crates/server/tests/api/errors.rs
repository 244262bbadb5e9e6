//! Every bad input gets a JSON error with a fitting status, and nothing submitted is echoed.

use crate::both_stores;
use crate::helpers::*;

both_stores!(malformed_requests_get_json_errors, unknown_routes_and_methods);

async fn raw(s: &TestServer, content_type: Option<&str>, body: Vec<u8>) -> (u16, serde_json::Value) {
    let mut req = s.post("/v1/auth/signin").body(body);
    if let Some(ct) = content_type {
        req = req.header("content-type", ct);
    }
    send(req).await
}

async fn malformed_requests_get_json_errors(b: Backend) {
    let s = spawn(b).await;
    let json = Some("application/json");
    let cases: Vec<(Option<&str>, Vec<u8>, u16, &str)> = vec![
        (json, b"{not json".to_vec(), 400, "invalid_json"),
        (
            json,
            b"{\"email\":\"a@x.com\",\"password\":\"p\"} trailing".to_vec(),
            400,
            "invalid_json",
        ),
        (json, b"".to_vec(), 400, "invalid_json"),
        (json, b"null".to_vec(), 400, "invalid_field"),
        (json, b"[]".to_vec(), 400, "invalid_field"),
        (json, b"{\"email\":\"a@x.com\"}".to_vec(), 400, "missing_field"),
        (
            json,
            b"{\"email\":\"a@x.com\",\"password\":\"12345678\",\"password\":\"x\"}".to_vec(),
            400,
            "duplicate_field",
        ),
        (
            json,
            b"{\"email\":\"a@x.com\",\"password\":\"12345678\",\"extra\":1}".to_vec(),
            400,
            "unknown_field",
        ),
        (
            json,
            b"{\"email\":\"a@x.com\",\"password\":98765432}".to_vec(),
            400,
            "invalid_field",
        ),
        (
            json,
            b"{\"email\":\"a@x.com\",\"password\":[\"98765432\"]}".to_vec(),
            400,
            "invalid_field",
        ),
        (
            json,
            b"{\"email\":\"a@x.com\",\"password\":\"\\ud800\"}".to_vec(),
            400,
            "invalid_json",
        ),
        (
            json,
            b"{\"email\":\"a@x.com\",\"password\":\"\xff\xfe\"}".to_vec(),
            400,
            "invalid_json",
        ),
        (Some("text/plain"), b"{}".to_vec(), 415, "unsupported_media_type"),
        (
            Some("application/x-www-form-urlencoded"),
            b"email=a".to_vec(),
            415,
            "unsupported_media_type",
        ),
        (None, b"{}".to_vec(), 415, "unsupported_media_type"),
        (json, vec![b' '; 70 * 1024], 413, "payload_too_large"),
        (
            json,
            format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)).into_bytes(),
            413,
            "payload_too_large",
        ),
        // Deep nesting is refused at the first wrong type, before any recursion.
        (
            json,
            format!("{}{}", "[".repeat(5_000), "]".repeat(5_000)).into_bytes(),
            400,
            "invalid_field",
        ),
    ];
    for (ct, body, status, code) in cases {
        let shown = String::from_utf8_lossy(&body[..body.len().min(60)]).into_owned();
        let (got, err) = raw(&s, ct, body).await;
        assert_eq!((got, error_code(&err)), (status, code), "{ct:?} {shown}: {err}");
        assert!(err["error"]["request_id"].as_str().unwrap().starts_with("req_"));
        let text = err.to_string();
        assert!(!text.contains("98765432"), "a submitted value was echoed: {text}");
    }
    s.stop().await;
}

async fn unknown_routes_and_methods(b: Backend) {
    let s = spawn(b).await;
    let (status, err) = send(s.get("/v1/nope")).await;
    assert_eq!((status, error_code(&err)), (404, "not_found"));
    let (status, err) = send(s.http.put(format!("{}/healthz", s.url))).await;
    assert_eq!((status, error_code(&err)), (405, "method_not_allowed"));
    let (status, _) = send(
        s.http
            .request(reqwest::Method::TRACE, format!("{}/v1/auth/signin", s.url)),
    )
    .await;
    assert_eq!(status, 405);
    let (status, _) = send(s.get("/v1/auth/signin")).await;
    assert_eq!(status, 405);
    // A client's request id is kept when plain, replaced when not.
    let resp = s
        .get("/healthz")
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-request-id"], "abc-123");
    let resp = s
        .get("/healthz")
        .header("x-request-id", "bad id\twith tab")
        .send()
        .await
        .unwrap();
    assert!(resp.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .starts_with("req_"));
    assert_eq!(resp.headers()["cache-control"], "no-store");
    s.stop().await;
}
