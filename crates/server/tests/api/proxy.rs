//! Client addresses behind proxies (SECURITY.md test 33; authentik CVE-2024-47070):
//! forwarding headers change the address in the audit log and the per-address send-limit
//! bucket only when the TCP peer is a configured trusted proxy, and garbage from a trusted
//! proxy falls back to the peer. The test client's peer is always 127.0.0.1.

use crate::both_stores;
use crate::helpers::*;
use latchkey_core::clock::{Clock, ManualClock, SystemClock};
use latchkey_server::http::common::forwarded::ForwardedHeader;
use serde_json::{json, Value};
use std::sync::Arc;

both_stores!(
    spoofed_headers_from_an_untrusted_peer_are_ignored,
    a_trusted_proxy_names_the_client,
    garbage_from_a_trusted_proxy_falls_back_to_the_peer,
    the_configured_header_alone_is_read,
);

async fn server(b: Backend, trusted_proxies: &str) -> TestServer {
    server_with(b, trusted_proxies, ForwardedHeader::XForwardedFor).await
}

async fn server_with(b: Backend, trusted_proxies: &str, header: ForwardedHeader) -> TestServer {
    let dir = Arc::new(tempfile::tempdir().unwrap());
    let schema = match b {
        Backend::Postgres => Some(format!(
            "lk_test_{}",
            latchkey_core::ids::ulid(1_800_000_000_000, &latchkey_core::rand::OsRandom).to_lowercase()
        )),
        Backend::Sqlite => None,
    };
    let clock = ManualClock::new(SystemClock.now_ms());
    let trusted = latchkey_server::http::common::forwarded::TrustedProxies::parse(trusted_proxies).unwrap();
    let s = spawn_with(b, dir, schema, clock, |c| {
        c.trusted_proxies = trusted;
        c.forwarded_header = header;
    })
    .await;
    // SMS through the console provider, one code per address per hour.
    let (status, body) = send(s.admin(s.patch("/v1/admin/config")).json(&json!({
        "mfa_allowed_factors": ["totp", "sms", "backup_codes"],
        "send_limits": { "ip_hourly": 1 }
    })))
    .await;
    assert_eq!(status, 200, "{body}");
    s
}

/// Enrolls a factor for a new user with `headers`; returns the status and, when it was
/// accepted, the address the audit log recorded for it.
async fn enroll(s: &TestServer, n: u32, factor: Value, headers: &[(&str, &str)]) -> (u16, Option<String>) {
    let body = s.signup(&format!("user{n}@example.com")).await;
    let token = body["access_token"].as_str().unwrap();
    let user = body["user"]["id"].as_str().unwrap();
    let mut req = s
        .post("/v1/users/me/mfa/factors")
        .bearer_auth(token)
        .json(&factor);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let (status, body) = send(req).await;
    if status != 201 {
        return (status, Some(error_code(&body).to_owned()));
    }
    let (_, page) = send(
        s.admin(s.get("/v1/admin/audit-events"))
            .query(&[("user_id", user)]),
    )
    .await;
    let event = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "factor.enroll")
        .unwrap()
        .clone();
    (status, event["ip"].as_str().map(str::to_owned))
}

fn totp() -> Value {
    json!({ "type": "totp", "name": "phone" })
}

fn sms(n: u32) -> Value {
    json!({ "type": "sms", "phone_number": format!("+1415555{n:04}") })
}

const SPOOFS: &[(&str, &str)] = &[
    ("x-forwarded-for", "10.0.0.1"),
    ("forwarded", "for=1.2.3.4"),
    ("x-real-ip", "5.6.7.8"),
];

/// With no trusted proxy (the default), none of the headers moves the address: the audit
/// log says 127.0.0.1 and every request shares 127.0.0.1's send bucket. The server before
/// `trusted_proxies` passed this too (it read no header); it guards the default against an
/// implementation that believes headers from anyone.
async fn spoofed_headers_from_an_untrusted_peer_are_ignored(b: Backend) {
    let s = server(b, "").await;
    for (i, h) in SPOOFS.iter().enumerate() {
        let got = enroll(&s, i as u32, totp(), &[*h]).await;
        assert_eq!(got, (201, Some("127.0.0.1".into())), "{h:?}");
    }
    assert_eq!(
        enroll(&s, 10, sms(10), &[("x-forwarded-for", "10.0.0.1")]).await,
        (201, Some("127.0.0.1".into()))
    );
    // Another claimed address, the same real one: the bucket is spent.
    let got = enroll(
        &s,
        11,
        sms(11),
        &[
            ("x-forwarded-for", "10.0.0.2"),
            ("forwarded", "for=1.2.3.5"),
            ("x-real-ip", "5.6.7.9"),
        ],
    )
    .await;
    assert_eq!(got, (429, Some("rate_limited".into())));
    s.stop().await;
}

/// Behind a trusted proxy the forwarded address is the client's, in the audit log and in
/// the send bucket; `X-Real-IP` is still not honoured. Before `trusted_proxies` every request
/// was 127.0.0.1, so the first case fails there.
async fn a_trusted_proxy_names_the_client(b: Backend) {
    let s = server(b, "127.0.0.1").await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (&[("x-forwarded-for", "1.1.1.1, 198.51.100.4")], "198.51.100.4"),
        // X-Forwarded-For is the header configured: a client-written Forwarded is not read.
        (
            &[("forwarded", r#"for="[2001:db8::7]:4711";proto=https"#)],
            "127.0.0.1",
        ),
        (&[("x-forwarded-for", "198.51.100.4, 127.0.0.1")], "198.51.100.4"),
        (&[("x-real-ip", "5.6.7.8")], "127.0.0.1"),
    ];
    for (i, (headers, ip)) in cases.iter().enumerate() {
        let got = enroll(&s, i as u32, totp(), headers).await;
        assert_eq!(got, (201, Some((*ip).into())), "{headers:?}");
    }
    let xff = |a: &'static str| [("x-forwarded-for", a)];
    assert_eq!(enroll(&s, 10, sms(10), &xff("198.51.100.1")).await.0, 201);
    assert_eq!(
        enroll(&s, 11, sms(11), &xff("198.51.100.2")).await.0,
        201,
        "another client, another bucket"
    );
    assert_eq!(
        enroll(&s, 12, sms(12), &xff("198.51.100.1")).await,
        (429, Some("rate_limited".into())),
        "the first client's bucket is spent"
    );
    s.stop().await;
}

/// With `forwarded_header = "forwarded"`, RFC 7239's header names the client and a
/// client-written `X-Forwarded-For` is not read.
async fn the_configured_header_alone_is_read(b: Backend) {
    let s = server_with(b, "127.0.0.1", ForwardedHeader::Forwarded).await;
    let cases: &[(&[(&str, &str)], &str)] = &[
        (
            &[("forwarded", r#"for="[2001:db8::7]:4711";proto=https"#)],
            "2001:db8::7",
        ),
        (&[("x-forwarded-for", "198.51.100.4")], "127.0.0.1"),
    ];
    for (i, (headers, ip)) in cases.iter().enumerate() {
        let got = enroll(&s, i as u32, totp(), headers).await;
        assert_eq!(got, (201, Some((*ip).into())), "{headers:?}");
    }
    s.stop().await;
}

/// From a trusted proxy, anything unparsable on the walk means the peer: never an entry
/// the client could have written further left, never an error. The server before passed
/// this (it read no header); it guards against reading past garbage to a spoofed entry.
async fn garbage_from_a_trusted_proxy_falls_back_to_the_peer(b: Backend) {
    let s = server(b, "127.0.0.1").await;
    let cases: &[(&str, &str)] = &[
        ("x-forwarded-for", "a"),
        ("x-forwarded-for", "10.0.0.1, garbage"),
        ("x-forwarded-for", "10.0.0.1,"),
        ("forwarded", "for=unknown"),
        ("forwarded", "for=_hidden, for=10.0.0.1;by=x, for=\"nope"),
        ("forwarded", "for=1.2.3.4;for=5.6.7.8"),
    ];
    for (i, h) in cases.iter().enumerate() {
        let got = enroll(&s, i as u32, totp(), &[*h]).await;
        assert_eq!(got, (201, Some("127.0.0.1".into())), "{h:?}");
    }
    s.stop().await;
}
