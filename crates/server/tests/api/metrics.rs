//! `GET /metrics`: scraped after a real sign-in journey and read by the Prometheus project's
//! own Python parsers (`prometheus_client`, OpenMetrics and classic text), the counters and
//! the latency histogram checked series by series; who may scrape; no user identifier in
//! any label.

use crate::both_stores;
use crate::helpers::*;
use crate::mfa::code;
use serde_json::{json, Value};
use std::io::Write as _;
use std::process::{Command, Stdio};

both_stores!(
    a_scrape_shows_the_mfa_funnel_and_route_latencies,
    only_loopback_or_the_token_may_scrape,
    deliveries_and_fraud_refusals_are_counted,
    a_separate_metrics_address_serves_only_the_metrics,
);

const METRICS_TOKEN: &str = "mtok_0123456789abcdef0123456789abcdef";

/// One sample as the parser read it.
#[derive(Debug)]
struct Sample {
    name: String,
    labels: serde_json::Map<String, Value>,
    value: f64,
}

/// Parses an exposition with `prometheus_client` (both its OpenMetrics parser, which is
/// strict, and its classic text parser). `None` when the module is missing outside CI.
fn parse(text: &str) -> Option<Vec<Sample>> {
    if !latchkey_testkit::process::python_module_or_skip("prometheus_client") {
        return None;
    }
    const SCRIPT: &str = r#"
import json, sys
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics
from prometheus_client.parser import text_string_to_metric_families as classic
text = sys.stdin.read()
samples = [
    {"name": s.name, "labels": s.labels, "value": s.value}
    for family in openmetrics(text) for s in family.samples
]
classic_count = sum(len(f.samples) for f in classic(text))
print(json.dumps({"samples": samples, "classic": classic_count}))
"#;
    let mut child = Command::new("python3")
        .args(["-c", SCRIPT])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "the parser refused the exposition: {}\n{text}",
        String::from_utf8_lossy(&out.stderr)
    );
    let parsed: Value = serde_json::from_slice(&out.stdout).unwrap();
    let samples: Vec<Sample> = parsed["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| Sample {
            name: s["name"].as_str().unwrap().to_owned(),
            labels: s["labels"].as_object().unwrap().clone(),
            value: s["value"].as_f64().unwrap(),
        })
        .collect();
    assert!(
        parsed["classic"].as_u64().unwrap() > 0,
        "the classic parser read nothing"
    );
    Some(samples)
}

/// The value of the sample `name` whose labels include `labels` (0 when there is none).
fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.name == name)
        .filter(|s| {
            labels
                .iter()
                .all(|(k, v)| s.labels.get(*k).and_then(Value::as_str) == Some(*v))
        })
        .map(|s| s.value)
        .sum()
}

async fn scrape(s: &TestServer) -> String {
    let resp = s.get("/metrics").send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        resp.headers()
    );
    resp.text().await.unwrap()
}

async fn a_scrape_shows_the_mfa_funnel_and_route_latencies(b: Backend) {
    let s = spawn(b).await;
    let tenant = s.app.default_tenant.to_string();
    let email = "metrics-alice@example.com";
    // Enrollment: started and confirmed.
    let body = s.signup(email).await;
    let uid = body["user"]["id"].as_str().unwrap().to_owned();
    let token = body["access_token"].as_str().unwrap().to_owned();
    let (status, e) = send(
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(&token)
            .json(&json!({ "type": "totp", "name": "phone" })),
    )
    .await;
    assert_eq!(status, 201, "{e}");
    let fid = e["factor_id"].as_str().unwrap().to_owned();
    let secret = e["secret"].as_str().unwrap().to_owned();
    let (status, c) = send(
        s.post(&format!("/v1/users/me/mfa/factors/{fid}/confirm"))
            .bearer_auth(&token)
            .json(&json!({ "code": code(&s, &secret, 0) })),
    )
    .await;
    assert_eq!(status, 200, "{c}");
    s.clock.advance_secs(30);
    // Sign-in: a challenge, a wrong code, then the right one.
    let (status, ch) = s.signin(email, PASSWORD).await;
    assert_eq!((status, error_code(&ch)), (401, "mfa_required"), "{ch}");
    let verify = |code: String| {
        s.post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": ch["error"]["challenge_id"], "factor_id": fid, "code": code }),
        )
    };
    let right = code(&s, &secret, 0);
    let wrong = if right == "000000" { "000001" } else { "000000" };
    assert_eq!(verify(wrong.to_owned()).await.0, 401);
    let (status, done) = verify(right).await;
    assert_eq!(status, 200, "{done}");
    // A lockout: five wrong codes lock the factor; the sixth attempt meets the lock.
    s.clock.advance_secs(30);
    let (_, ch) = s.signin(email, PASSWORD).await;
    let attempt = || {
        s.post_json(
            "/v1/mfa/verify",
            json!({ "challenge_id": ch["error"]["challenge_id"], "factor_id": fid, "code": wrong }),
        )
    };
    for _ in 0..5 {
        assert_eq!(attempt().await.0, 401);
    }
    assert_eq!(attempt().await.0, 429);
    // A path no route has.
    assert_eq!(send(s.get(&format!("/v1/nowhere/{uid}"))).await.0, 404);

    let text = scrape(&s).await;
    let Some(samples) = parse(&text) else {
        s.stop().await;
        return;
    };
    let t = ("tenant", tenant.as_str());
    let totp = ("kind", "totp");
    for (name, labels, want) in [
        ("latchkey_mfa_enrollments_started_total", vec![t, totp], 1.0),
        ("latchkey_mfa_enrollments_confirmed_total", vec![t, totp], 1.0),
        (
            "latchkey_mfa_challenges_total",
            vec![t, ("purpose", "signin")],
            2.0,
        ),
        (
            "latchkey_mfa_verifications_total",
            vec![t, totp, ("outcome", "failure")],
            6.0,
        ),
        (
            "latchkey_mfa_verifications_total",
            vec![t, totp, ("outcome", "success")],
            1.0,
        ),
        ("latchkey_mfa_lockouts_total", vec![t, totp], 1.0),
        ("latchkey_hash_queue_depth", vec![], 0.0),
        // No SMS or email in this journey: nothing waits in the outbox.
        ("latchkey_outbox_depth", vec![], 0.0),
        ("latchkey_outbox_oldest_age_seconds", vec![], 0.0),
    ] {
        assert_eq!(value(&samples, name, &labels), want, "{name} {labels:?}\n{text}");
    }
    assert!(value(&samples, "latchkey_hash_queue_capacity", &[]) >= 64.0);
    // The database pool: some connection exists, none beyond the most allowed.
    let (in_use, idle) = (
        value(&samples, "latchkey_db_connections", &[("state", "in_use")]),
        value(&samples, "latchkey_db_connections", &[("state", "idle")]),
    );
    let max = value(&samples, "latchkey_db_connections_max", &[]);
    assert!(
        max >= 1.0 && in_use + idle <= max && in_use + idle >= 1.0,
        "{in_use} {idle} {max}\n{text}"
    );
    for gauge in [
        "latchkey_hash_queue_depth",
        "latchkey_outbox_depth",
        "latchkey_outbox_oldest_age_seconds",
        "latchkey_db_connections",
        "latchkey_db_connections_max",
    ] {
        assert!(samples.iter().any(|s| s.name == gauge), "{gauge} missing\n{text}");
    }

    // The histogram: one series per route template, method and status class, with its
    // buckets; `+Inf` counts every request.
    let hist = "latchkey_http_request_duration_seconds";
    for (route, method, status, count) in [
        ("/v1/auth/signup", "POST", "2xx", 1.0),
        ("/v1/users/{user_id}/mfa/factors", "POST", "2xx", 1.0),
        (
            "/v1/users/{user_id}/mfa/factors/{factor_id}/confirm",
            "POST",
            "2xx",
            1.0,
        ),
        ("/v1/auth/signin", "POST", "4xx", 2.0),
        ("/v1/mfa/verify", "POST", "4xx", 7.0),
        ("/v1/mfa/verify", "POST", "2xx", 1.0),
        ("unmatched", "GET", "4xx", 1.0),
    ] {
        let labels = [("route", route), ("method", method), ("status", status)];
        assert_eq!(
            value(&samples, &format!("{hist}_count"), &labels),
            count,
            "{labels:?}\n{text}"
        );
        let buckets: Vec<&Sample> = samples
            .iter()
            .filter(|s| s.name == format!("{hist}_bucket"))
            .filter(|s| labels.iter().all(|(k, v)| s.labels[*k] == *v))
            .collect();
        assert!(buckets.len() >= 10, "{labels:?} has {} buckets", buckets.len());
        let inf = buckets.iter().find(|s| s.labels["le"] == "+Inf").unwrap();
        assert_eq!(inf.value, count);
        assert!(value(&samples, &format!("{hist}_sum"), &labels) > 0.0);
    }

    // No user identifier anywhere in a label: not the id, not the email, not a raw path.
    for sample in &samples {
        for (k, v) in &sample.labels {
            let v = v.as_str().unwrap();
            assert!(
                !v.contains(&uid) && !v.contains('@') && !v.contains("usr_") && !v.contains(&fid),
                "{} has {k}={v}",
                sample.name
            );
        }
    }
    assert!(!text.contains(&uid) && !text.contains(email) && !text.contains(&fid));
    s.stop().await;
}

/// The test server listens on loopback only, so a client from elsewhere is played by a
/// trusted proxy on loopback relaying one (`X-Forwarded-For`): a forwarding header can take
/// loopback access away, never grant it, and the token opens the endpoint to anyone. The
/// decision itself is unit-tested with real outside peers in `http::metrics`.
async fn only_loopback_or_the_token_may_scrape(b: Backend) {
    let s = spawn_tweaked(b, |c| {
        c.trusted_proxies =
            latchkey_server::http::common::forwarded::TrustedProxies::parse("127.0.0.1, ::1").unwrap();
        c.metrics_token = Some(latchkey_core::secret::SecretString::new(METRICS_TOKEN.into()));
    })
    .await;
    // Loopback, no token needed.
    let text = scrape(&s).await;
    assert!(text.trim_end().ends_with("# EOF"), "{text}");
    if let Some(samples) = parse(&text) {
        assert!(samples.iter().any(|s| s.name == "latchkey_hash_queue_capacity"));
    }
    let outside = || s.get("/metrics").header("x-forwarded-for", "203.0.113.9");
    for (req, want) in [
        (outside(), 404),
        (outside().bearer_auth("mtok_wrong"), 404),
        (
            outside().bearer_auth(&METRICS_TOKEN[..METRICS_TOKEN.len() - 1]),
            404,
        ),
        (
            outside().header("authorization", format!("Basic {METRICS_TOKEN}")),
            404,
        ),
        (outside().bearer_auth(BOOTSTRAP_KEY), 404),
        (outside().bearer_auth(METRICS_TOKEN), 200),
        // A loopback client behind the proxy is loopback.
        (s.get("/metrics").header("x-forwarded-for", "127.0.0.1"), 200),
    ] {
        let (status, body) = send(req).await;
        assert_eq!(status, want, "{body}");
        if status == 404 {
            // The same answer as a path that does not exist.
            assert_eq!(error_code(&body), "not_found", "{body}");
        }
    }
    s.stop().await;
}

/// An SMS to a country outside the tenant's list is refused (counted by reason); one to an
/// allowed country is delivered by the console provider (counted by provider, country and
/// outcome, the number itself nowhere).
async fn deliveries_and_fraud_refusals_are_counted(b: Backend) {
    let s = spawn(b).await;
    crate::delivery::allow_all(&s).await;
    let (status, cfg) = send(
        s.admin(s.patch("/v1/admin/config"))
            .json(&json!({ "sms_allowed_countries": ["GB"] })),
    )
    .await;
    assert_eq!(status, 200, "{cfg}");
    let tenant = s.app.default_tenant.to_string();
    let body = s.signup("metrics-sms@example.com").await;
    let t = body["access_token"].as_str().unwrap();
    let enroll = |phone: &'static str| {
        s.post("/v1/users/me/mfa/factors")
            .bearer_auth(t)
            .json(&json!({ "type": "sms", "phone_number": phone }))
    };
    let (status, err) = send(enroll("+1 415 555 2671")).await;
    assert_eq!((status, error_code(&err)), (400, "country_not_allowed"));
    let (status, e) = send(enroll("+44 20 7946 0958")).await;
    assert_eq!(status, 201, "{e}");
    // The outbox worker delivers in the background.
    let mut text = String::new();
    for _ in 0..60 {
        text = scrape(&s).await;
        if text.contains("outcome=\"sent\"") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let Some(samples) = parse(&text) else {
        s.stop().await;
        return;
    };
    let t = ("tenant", tenant.as_str());
    for (name, labels, want) in [
        ("latchkey_sms_refusals_total", vec![t, ("reason", "country")], 1.0),
        (
            "latchkey_mfa_enrollments_started_total",
            vec![t, ("kind", "sms")],
            1.0,
        ),
        (
            "latchkey_deliveries_total",
            vec![
                ("channel", "sms"),
                ("provider", "console"),
                ("country", "GB"),
                ("outcome", "sent"),
            ],
            1.0,
        ),
    ] {
        assert_eq!(value(&samples, name, &labels), want, "{name} {labels:?}\n{text}");
    }
    assert!(
        !text.contains("7946") && !text.contains("2671"),
        "no phone number: {text}"
    );
    s.stop().await;
}

async fn a_separate_metrics_address_serves_only_the_metrics(b: Backend) {
    let s = spawn_tweaked(b, |c| c.metrics_listen = Some("127.0.0.1:0".parse().unwrap())).await;
    s.signup("alice@example.com").await;
    let at = *s.app.metrics_bound.get().expect("the metrics listener is bound");
    assert_ne!(at.port(), 0);
    // Anyone who reaches it may scrape (no token, whatever a forwarding header says)...
    let resp = s
        .http
        .get(format!("http://{at}/metrics"))
        .header("x-forwarded-for", "203.0.113.9")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let text = resp.text().await.unwrap();
    if let Some(samples) = parse(&text) {
        assert!(
            value(
                &samples,
                "latchkey_http_request_duration_seconds_count",
                &[("route", "/v1/auth/signup")]
            ) >= 1.0,
            "{text}"
        );
    }
    // ...and nothing else is there: not the API, not the pages.
    for path in ["/v1/auth/signin", "/healthz", "/login", "/"] {
        let resp = s.http.get(format!("http://{at}{path}")).send().await.unwrap();
        assert_eq!(resp.status(), 404, "{path}");
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "not_found", "{path}");
    }
    s.stop().await;
    // Stopped with the server.
    assert!(s_is_closed(at).await, "the metrics listener outlived the server");
}

async fn s_is_closed(at: std::net::SocketAddr) -> bool {
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(at).await.is_err() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}
