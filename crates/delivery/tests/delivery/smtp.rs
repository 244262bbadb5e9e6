//! SMTP against aiosmtpd, a real SMTP server, on loopback. Its `Mailbox` handler stores each
//! message in a Maildir; the subclass below also refuses two reserved recipients with real
//! SMTP replies (550, 451). What arrived is read back with Python's `email` package, a MIME
//! parser that is not ours.

use crate::support::{black_hole, free_port, opts, python_module_or_skip, transient_within};
use latchkey_delivery::config::{EmailProviderConfig, SmtpTls};
use latchkey_delivery::{DeliveryError, EmailMessage};
use latchkey_testkit::smtpd::{read_message, Smtpd};
use std::time::Duration;

fn config(port: u16, tls: SmtpTls) -> EmailProviderConfig {
    EmailProviderConfig::Smtp {
        host: "127.0.0.1".into(),
        port,
        tls,
        username: None,
        password: None,
        from: "Acme Sign-in <no-reply@acme.test>".into(),
    }
}

fn email(to: &str) -> EmailMessage {
    EmailMessage {
        to: to.into(),
        subject: "Your Acme code: 482913".into(),
        text: "Your code is 482913.\nIt expires in 10 minutes. Grüße!\n".into(),
        html: "<p>Your code is <b>482913</b>.</p><p>Grüße!</p>".into(),
        idempotency_key: "msg_mail_1".into(),
    }
}

#[tokio::test]
async fn delivers_a_multipart_alternative_message() {
    if !python_module_or_skip("aiosmtpd") {
        return;
    }
    let smtpd = Smtpd::start();
    let cfg = config(smtpd.port, SmtpTls::None);
    assert_eq!(cfg.validate(), Vec::<String>::new());
    let sender = cfg.build_email(&opts(Duration::from_secs(10)));
    assert_eq!(sender.provider(), "smtp");

    let sent = sender.send(&email("alice@example.com")).await.unwrap();
    assert_eq!(sent.provider, "smtp");
    let message_id = sent.provider_message_id.expect("Message-ID");

    let delivered = smtpd.delivered();
    assert_eq!(delivered.len(), 1);
    let message = read_message(&delivered[0]);
    let headers = &message["headers"];
    assert_eq!(headers["From"], "Acme Sign-in <no-reply@acme.test>");
    assert_eq!(headers["To"], "alice@example.com");
    assert_eq!(headers["Subject"], "Your Acme code: 482913");
    assert_eq!(headers["Message-ID"], message_id.as_str());
    assert!(message_id.ends_with("@acme.test>"), "{message_id}");
    assert!(headers["Date"].is_string());
    // The envelope, as aiosmtpd recorded it.
    assert_eq!(headers["X-MailFrom"], "no-reply@acme.test");
    assert_eq!(headers["X-RcptTo"], "alice@example.com");

    assert_eq!(message["type"], "multipart/alternative");
    let parts = message["parts"].as_array().unwrap();
    assert_eq!(parts.len(), 2);
    assert_eq!(parts[0]["type"], "text/plain");
    assert_eq!(
        parts[0]["content"],
        "Your code is 482913.\nIt expires in 10 minutes. Grüße!\n"
    );
    assert_eq!(parts[1]["type"], "text/html");
    assert_eq!(
        parts[1]["content"].as_str().unwrap().trim_end(),
        "<p>Your code is <b>482913</b>.</p><p>Grüße!</p>"
    );

    // A retry of the same message carries the same Message-ID.
    let again = sender.send(&email("alice@example.com")).await.unwrap();
    assert_eq!(again.provider_message_id.as_deref(), Some(message_id.as_str()));
}

#[tokio::test]
async fn a_subject_cannot_inject_headers() {
    if !python_module_or_skip("aiosmtpd") {
        return;
    }
    let smtpd = Smtpd::start();
    let sender = config(smtpd.port, SmtpTls::None).build_email(&opts(Duration::from_secs(10)));
    let mut msg = email("alice@example.com");
    msg.subject = "Your code\r\nBcc: mallory@evil.test".into();
    // lettre carries the line break inside an RFC 2047 encoded word: part of the Subject,
    // never a header of its own.
    sender.send(&msg).await.unwrap();
    let message = read_message(&smtpd.delivered()[0]);
    assert!(message["headers"].get("Bcc").is_none(), "{message}");
    assert!(message["headers"]["Subject"]
        .as_str()
        .unwrap()
        .contains("Bcc: mallory@evil.test"));
    assert_eq!(message["headers"]["X-RcptTo"], "alice@example.com");
}

#[tokio::test]
async fn smtp_replies_are_classified_4xx_transient_5xx_permanent() {
    if !python_module_or_skip("aiosmtpd") {
        return;
    }
    let smtpd = Smtpd::start();
    let sender = config(smtpd.port, SmtpTls::None).build_email(&opts(Duration::from_secs(10)));

    let err = sender.send(&email("unknown@example.com")).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("550"), "{err}");
    assert!(
        !err.to_string().contains("unknown@example.com"),
        "the reply text stays out: {err}"
    );

    let err = sender.send(&email("busy@example.com")).await.unwrap_err();
    assert!(matches!(err, DeliveryError::Transient(_)), "{err}");
    assert!(err.to_string().contains("451"), "{err}");

    assert!(smtpd.delivered().is_empty());
}

#[tokio::test]
async fn required_starttls_fails_permanently_when_the_server_does_not_offer_it() {
    if !python_module_or_skip("aiosmtpd") {
        return;
    }
    // aiosmtpd without a TLS context offers no STARTTLS in its EHLO reply: exactly what a
    // downgrading attacker would make a real server look like.
    let smtpd = Smtpd::start();
    let cfg = config(smtpd.port, SmtpTls::Starttls);
    assert_eq!(cfg.validate(), Vec::<String>::new());
    let err = cfg
        .build_email(&opts(Duration::from_secs(10)))
        .send(&email("alice@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Permanent(_)), "{err}");
    assert!(err.to_string().contains("STARTTLS"), "{err}");
    assert!(smtpd.delivered().is_empty(), "nothing was sent in clear text");

    // Implicit TLS against a plain-text server: the handshake fails, transiently.
    let err = config(smtpd.port, SmtpTls::Tls)
        .build_email(&opts(Duration::from_secs(10)))
        .send(&email("alice@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Transient(_)), "{err}");
    assert!(smtpd.delivered().is_empty());
}

#[tokio::test]
async fn no_server_or_a_silent_one_is_transient_within_the_timeout() {
    let err = config(free_port(), SmtpTls::None)
        .build_email(&opts(Duration::from_secs(5)))
        .send(&email("alice@example.com"))
        .await
        .unwrap_err();
    assert!(matches!(err, DeliveryError::Transient(_)), "{err}");

    let (addr, _hole) = black_hole().await;
    transient_within(
        Duration::from_secs(2),
        config(addr.port(), SmtpTls::None)
            .build_email(&opts(Duration::from_millis(300)))
            .send(&email("alice@example.com")),
    )
    .await;
}
