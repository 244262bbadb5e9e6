//! The destination policy at work: every provider refuses internal destinations before any
//! connection (a listener on the refused address stays untouched), connects to the address
//! its own resolver checked, and reports every failure to reach a provider in the same words.

use crate::stand_in::{serve, StandIn};
use crate::support::{black_hole, counting, free_port, garbage, opts, public_only, python_module_or_skip};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use axum::Router;
use latchkey_delivery::config::{EmailProviderConfig, SmsProviderConfig, SmtpTls};
use latchkey_delivery::outbound::{Lookup, Outbound};
use latchkey_delivery::{BuildOptions, DeliveryError, Destinations, EmailMessage, SmsMessage};
use latchkey_testkit::smtpd::Smtpd;
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

const WEBHOOK_SECRET: &str = "whsec_00112233445566778899aabbccddeeff";

/// Every HTTP provider, pointed at `base` (`http://host:port`).
fn http_providers(base: &str) -> Vec<SmsProviderConfig> {
    vec![
        SmsProviderConfig::Webhook {
            url: format!("{base}/hooks/sms"),
            secret: WEBHOOK_SECRET.into(),
        },
        SmsProviderConfig::Twilio {
            account_sid: "AC0123456789abcdef0123456789abcdef".into(),
            auth_token: "twilio-auth-token-0123456789abcdef".into(),
            from_number: "+15005550006".into(),
            base_url: Some(base.into()),
        },
        SmsProviderConfig::Vonage {
            api_key: "a1b2c3d4".into(),
            api_secret: "vonage-api-secret-0123456789".into(),
            from: "Acme".into(),
            base_url: Some(base.into()),
        },
        SmsProviderConfig::AwsSns {
            region: "eu-west-1".into(),
            access_key_id: "AKIAIOSFODNN7EXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".into(),
            endpoint_url: Some(base.into()),
            origination_number: None,
            sender_id: None,
        },
    ]
}

fn smtp(host: &str, port: u16, tls: SmtpTls) -> EmailProviderConfig {
    EmailProviderConfig::Smtp {
        host: host.into(),
        port,
        tls,
        username: None,
        password: None,
        from: "Acme <no-reply@acme.test>".into(),
    }
}

fn sms() -> SmsMessage {
    SmsMessage {
        to: "+14155552671".into(),
        body: "Your Acme code is 246810".into(),
        idempotency_key: "msg_destinations".into(),
    }
}

fn email() -> EmailMessage {
    EmailMessage {
        to: "alice@example.com".into(),
        subject: "Your Acme code: 482913".into(),
        text: "Your code is 482913.".into(),
        html: "<p>Your code is <b>482913</b>.</p>".into(),
        idempotency_key: "msg_destinations".into(),
    }
}

fn text(err: &DeliveryError) -> &str {
    match err {
        DeliveryError::Transient(t) | DeliveryError::Permanent(t) => t,
    }
}

/// Sends through every provider at `authority` (URL form) / `host` and `port` (SMTP form)
/// and asserts each was refused as a destination, quickly and for good.
async fn assert_all_refused(options: &BuildOptions, authority: &str, host: &str, port: u16) {
    for cfg in http_providers(&format!("http://{authority}")) {
        let started = Instant::now();
        let err = cfg.build_sms(options).send(&sms()).await.unwrap_err();
        let expected = format!("{}: destination not allowed", cfg.name());
        assert_eq!(err, DeliveryError::Permanent(expected), "{authority}");
        assert!(started.elapsed() < Duration::from_secs(2), "{authority}");
    }
    for tls in [SmtpTls::None, SmtpTls::Tls] {
        let err = smtp(host, port, tls)
            .build_email(options)
            .send(&email())
            .await
            .unwrap_err();
        let expected = DeliveryError::Permanent("smtp: destination not allowed".into());
        assert_eq!(err, expected, "{host}");
    }
}

#[tokio::test]
async fn loopback_destinations_are_refused_without_a_connection() {
    let (v4, v4_accepted) = counting("127.0.0.1:0").await;
    let (v6, v6_accepted) = counting("[::1]:0").await;
    let options = public_only(Duration::from_secs(2));
    let (p4, p6) = (v4.port(), v6.port());
    for (authority, host, port) in [
        (format!("127.0.0.1:{p4}"), "127.0.0.1", p4),
        (format!("[::1]:{p6}"), "::1", p6),
        (format!("[::ffff:127.0.0.1]:{p4}"), "::ffff:127.0.0.1", p4),
        // Connecting to 0.0.0.0 reaches this machine.
        (format!("0.0.0.0:{p4}"), "0.0.0.0", p4),
        // Names: resolved by the system, refused for what they resolve to.
        (format!("localhost:{p4}"), "localhost", p4),
        // Other spellings of 127.0.0.1: the URL parser's, and getaddrinfo's for SMTP.
        (format!("127.1:{p4}"), "127.1", p4),
        (format!("2130706433:{p4}"), "2130706433", p4),
    ] {
        assert_all_refused(&options, &authority, host, port).await;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        v4_accepted.load(Ordering::SeqCst),
        0,
        "nothing connected to 127.0.0.1"
    );
    assert_eq!(
        v6_accepted.load(Ordering::SeqCst),
        0,
        "nothing connected to [::1]"
    );
}

#[tokio::test]
async fn private_link_local_and_unique_local_destinations_are_refused() {
    // Refused before any packet leaves: no listener can stand there, so the proof is the
    // answer itself (a connection attempt would end in `unreachable`, after a timeout).
    let options = public_only(Duration::from_secs(2));
    for (authority, host) in [
        ("10.0.0.1:80", "10.0.0.1"),
        ("172.16.5.4:80", "172.16.5.4"),
        ("192.168.1.1:80", "192.168.1.1"),
        ("169.254.169.254:80", "169.254.169.254"),
        ("100.64.0.1:80", "100.64.0.1"),
        ("[fd00::1]:80", "fd00::1"),
        ("[fe80::1]:80", "fe80::1"),
        ("[::ffff:169.254.169.254]:80", "::ffff:169.254.169.254"),
        ("[64:ff9b::a00:1]:80", "64:ff9b::a00:1"),
    ] {
        assert_all_refused(&options, authority, host, 25).await;
    }
}

/// A lookup that answers every name with loopback, as a rebinding DNS server or an internal
/// name would.
fn to_loopback() -> Lookup {
    Arc::new(|_host: &str| {
        let ips: Vec<IpAddr> = vec!["127.0.0.1".parse().unwrap()];
        Box::pin(async move { Ok(ips) })
    })
}

async fn recording_gateway() -> (StandIn, u16) {
    async fn record(State(s): State<StandIn>, headers: HeaderMap, body: Bytes) -> &'static str {
        s.record(&headers, &body);
        "{}"
    }
    let s = StandIn::new();
    let router = Router::new()
        .route("/hooks/sms", post(record))
        .with_state(s.clone());
    (s.clone(), serve(router).await.port())
}

#[tokio::test]
async fn names_are_connected_to_at_the_address_the_policy_checked() {
    let (gateway, port) = recording_gateway().await;
    let url = format!("http://gateway.invalid:{port}/hooks/sms");
    let webhook = SmsProviderConfig::Webhook {
        url,
        secret: WEBHOOK_SECRET.into(),
    };

    // The name resolves (through the policy's own lookup) to loopback: refused.
    let strict = Outbound::with_lookup(Destinations::PublicOnly, to_loopback());
    let options = BuildOptions::with_outbound(Duration::from_secs(2), strict).unwrap();
    let err = webhook.build_sms(&options).send(&sms()).await.unwrap_err();
    assert_eq!(
        err,
        DeliveryError::Permanent("webhook: destination not allowed".into())
    );
    assert!(gateway.received().is_empty());

    // Allowed, the request reaches exactly the address the lookup gave for a name that no
    // DNS server knows: the HTTP client asked our resolver and nobody else.
    let lenient = Outbound::with_lookup(Destinations::AllowPrivate, to_loopback());
    let options = BuildOptions::with_outbound(Duration::from_secs(2), lenient).unwrap();
    webhook.build_sms(&options).send(&sms()).await.unwrap();
    let received = gateway.received();
    assert_eq!(received.len(), 1);
    let host = received[0].headers.get("host").unwrap().to_str().unwrap();
    assert_eq!(
        host,
        format!("gateway.invalid:{port}"),
        "the name stays in the request"
    );
}

#[tokio::test]
async fn smtp_connects_to_a_checked_address_and_tries_the_next_one() {
    if !python_module_or_skip("aiosmtpd") {
        return;
    }
    let smtpd = Smtpd::start();
    // `mail.invalid` is known to no DNS server; the lookup gives [::1] first, where nothing
    // listens on the port, then 127.0.0.1, where aiosmtpd does.
    let lookup: Lookup = Arc::new(|_host: &str| {
        let ips: Vec<IpAddr> = vec!["::1".parse().unwrap(), "127.0.0.1".parse().unwrap()];
        Box::pin(async move { Ok(ips) })
    });
    let options = BuildOptions::with_outbound(
        Duration::from_secs(10),
        Outbound::with_lookup(Destinations::AllowPrivate, lookup.clone()),
    )
    .unwrap();
    let sent = smtp("mail.invalid", smtpd.port, SmtpTls::None)
        .build_email(&options)
        .send(&email())
        .await
        .unwrap();
    assert_eq!(sent.provider, "smtp");
    assert_eq!(smtpd.delivered().len(), 1);

    let options = BuildOptions::with_outbound(
        Duration::from_secs(10),
        Outbound::with_lookup(Destinations::PublicOnly, lookup),
    )
    .unwrap();
    let err = smtp("mail.invalid", smtpd.port, SmtpTls::None)
        .build_email(&options)
        .send(&email())
        .await
        .unwrap_err();
    assert_eq!(
        err,
        DeliveryError::Permanent("smtp: destination not allowed".into())
    );
    assert_eq!(smtpd.delivered().len(), 1, "nothing more was delivered");
}

#[tokio::test]
async fn every_failure_to_reach_a_provider_reads_the_same() {
    // A closed port, a port that accepts and says nothing, a port that answers garbage, and
    // TLS spoken to each: a stored error that told them apart would make the provider
    // settings a port scanner.
    let closed = format!("127.0.0.1:{}", free_port());
    let (hole, _hole) = black_hole().await;
    let junk = garbage();
    let options = opts(Duration::from_millis(500));
    for name in ["webhook", "twilio", "vonage", "aws_sns"] {
        let mut seen = BTreeSet::new();
        for authority in [closed.clone(), hole.to_string(), junk.to_string()] {
            for scheme in ["http", "https"] {
                let cfg = http_providers(&format!("{scheme}://{authority}"))
                    .into_iter()
                    .find(|c| c.name() == name)
                    .unwrap();
                let err = cfg.build_sms(&options).send(&sms()).await.unwrap_err();
                assert!(matches!(err, DeliveryError::Transient(_)), "{err}");
                seen.insert(text(&err).to_owned());
            }
        }
        assert_eq!(seen, BTreeSet::from([format!("{name}: unreachable")]));
    }

    let mut seen = BTreeSet::new();
    for port in [closed_port(&closed), hole.port(), junk.port()] {
        for tls in [SmtpTls::None, SmtpTls::Tls] {
            let err = smtp("127.0.0.1", port, tls)
                .build_email(&options)
                .send(&email())
                .await
                .unwrap_err();
            assert!(matches!(err, DeliveryError::Transient(_)), "{err}");
            seen.insert(text(&err).to_owned());
        }
    }
    assert_eq!(seen, BTreeSet::from(["smtp: unreachable".to_owned()]));

    // A name that does not resolve reads the same, too.
    let nxdomain: Lookup = Arc::new(|_host: &str| {
        Box::pin(async { Err(std::io::Error::new(std::io::ErrorKind::NotFound, "NXDOMAIN")) })
    });
    let options = BuildOptions::with_outbound(
        Duration::from_secs(2),
        Outbound::with_lookup(Destinations::AllowPrivate, nxdomain),
    )
    .unwrap();
    let err = smtp("mail.invalid", 25, SmtpTls::None)
        .build_email(&options)
        .send(&email())
        .await
        .unwrap_err();
    assert_eq!(err, DeliveryError::Transient("smtp: unreachable".into()));
    for cfg in http_providers("http://gateway.invalid") {
        let err = cfg.build_sms(&options).send(&sms()).await.unwrap_err();
        assert_eq!(
            err,
            DeliveryError::Transient(format!("{}: unreachable", cfg.name()))
        );
    }
}

fn closed_port(authority: &str) -> u16 {
    authority.rsplit_once(':').unwrap().1.parse().unwrap()
}
