//! SMTP: one email is one SMTP session with the configured relay, through `lettre`.
//!
//! The message is `multipart/alternative` with the text part first and the HTML part last,
//! so clients show the richest part they can (RFC 2046 §5.1.4). Its `Message-ID` (RFC 5322
//! §3.6.4) is derived from the idempotency key: a retry after a lost reply carries the same
//! id, which lets receiving systems recognise the duplicate.
//!
//! `tls` decides how the connection is protected: `tls` speaks TLS from the first byte
//! (RFC 8314, port 465), `starttls` requires the server to offer STARTTLS and upgrades before
//! anything else is sent (RFC 3207) — a server that does not offer it fails the send rather
//! than receive the code in clear text, since a missing STARTTLS is exactly what a
//! downgrading attacker produces — and `none` is plain text, for a relay on loopback.
//!
//! Classes follow RFC 5321 §4.2.1: a 4yz reply is transient, a 5yz reply permanent. No
//! connection, a dropped connection, a failed TLS handshake or no answer within the timeout
//! is transient; a server that lacks what the configuration requires (STARTTLS, an
//! authentication mechanism) is permanent until someone changes one or the other.

use crate::config::SmtpTls;
use crate::{bounded, BuildOptions, DeliveryError, EmailMessage, EmailSender, Sent};
use async_trait::async_trait;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sha2::{Digest, Sha256};
use std::time::Duration;

pub struct SmtpEmail {
    /// Set up at build time; a failure (an unusable TLS configuration, an unparsable `from`)
    /// is kept and reported by every send, because building a sender cannot fail.
    transport: Result<AsyncSmtpTransport<Tokio1Executor>, String>,
    from: Result<Mailbox, String>,
    host: String,
    port: u16,
    tls: SmtpTls,
    timeout: Duration,
}

impl SmtpEmail {
    pub(crate) fn new(
        host: &str,
        port: u16,
        tls: SmtpTls,
        credentials: Option<(&str, &str)>,
        from: &str,
        opts: &BuildOptions,
    ) -> Self {
        Self {
            transport: transport(host, port, tls, credentials, opts.timeout),
            from: from
                .parse::<Mailbox>()
                .map_err(|_| "the configured `from` is not a valid mailbox".into()),
            host: host.to_owned(),
            port,
            tls,
            timeout: opts.timeout,
        }
    }

    async fn attempt(&self, msg: &EmailMessage) -> Result<Sent, DeliveryError> {
        let transport = self
            .transport
            .as_ref()
            .map_err(|e| DeliveryError::Permanent(format!("smtp: {e}")))?;
        let from = self
            .from
            .clone()
            .map_err(|e| DeliveryError::Permanent(format!("smtp: {e}")))?;
        let to: Mailbox = msg
            .to
            .parse()
            .map_err(|_| DeliveryError::Permanent("smtp: the recipient is not a valid address".into()))?;
        let message_id = message_id(&msg.idempotency_key, from.email.domain());
        let email = Message::builder()
            .from(from)
            .to(to)
            .subject(msg.subject.as_str())
            .message_id(Some(message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(
                msg.text.clone(),
                msg.html.clone(),
            ))
            .map_err(|e| DeliveryError::Permanent(format!("smtp: cannot build the message: {e}")))?;
        transport.send(email).await.map_err(classify)?;
        Ok(Sent {
            provider: "smtp",
            provider_message_id: Some(message_id),
        })
    }
}

fn transport(
    host: &str,
    port: u16,
    tls: SmtpTls,
    credentials: Option<(&str, &str)>,
    timeout: Duration,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, String> {
    // `builder_dangerous` only means "no TLS unless told": the match below always tells.
    let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        // lettre applies this to each read and write; `bounded` caps the whole session.
        .timeout(Some(timeout));
    // The certificate must name `host` and chain to the system's roots.
    let params = || {
        TlsParameters::new(host.to_owned()).map_err(|e| format!("cannot set up TLS for the SMTP server: {e}"))
    };
    let builder = match tls {
        SmtpTls::None => builder.tls(Tls::None),
        SmtpTls::Starttls => builder.tls(Tls::Required(params()?)),
        SmtpTls::Tls => builder.tls(Tls::Wrapper(params()?)),
    };
    let builder = match credentials {
        Some((user, password)) => builder.credentials(Credentials::new(user.to_owned(), password.to_owned())),
        None => builder,
    };
    Ok(builder.build())
}

/// `<32 hex digits@from-domain>`: a hash rather than the key itself, so any key makes a
/// valid id (RFC 5322 `id-left` is a dot-atom) and the id reveals nothing of the key.
fn message_id(idempotency_key: &str, domain: &str) -> String {
    let digest = Sha256::digest(idempotency_key.as_bytes());
    format!("<{}@{domain}>", hex::encode(&digest[..16]))
}

fn classify(err: lettre::transport::smtp::Error) -> DeliveryError {
    // The server's reply text is left out: it often quotes the recipient's address.
    if let Some(code) = err.status() {
        let text = format!("smtp: the server answered {code}");
        return if err.is_permanent() {
            DeliveryError::Permanent(text)
        } else {
            DeliveryError::Transient(text)
        };
    }
    let text = format!("smtp: {err}");
    if err.is_client() {
        // lettre's client errors: the server lacks something the configuration requires
        // (STARTTLS, a usable authentication mechanism). Retrying meets the same server.
        DeliveryError::Permanent(text)
    } else {
        DeliveryError::Transient(text)
    }
}

#[async_trait]
impl EmailSender for SmtpEmail {
    fn provider(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, msg: &EmailMessage) -> Result<Sent, DeliveryError> {
        let outcome = bounded(self.timeout, self.attempt(msg)).await;
        tracing::debug!(
            provider = "smtp",
            to = %latchkey_core::email::Email::from_trusted(msg.to.clone()).masked(),
            ok = outcome.is_ok(),
            "email attempt"
        );
        outcome
    }
}

impl std::fmt::Debug for SmtpEmail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpEmail")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_stable_valid_and_opaque() {
        let a = message_id("msg_01HXYZ", "acme.test");
        assert_eq!(a, message_id("msg_01HXYZ", "acme.test"));
        assert_ne!(a, message_id("msg_01HXYZ2", "acme.test"));
        assert!(a.starts_with('<') && a.ends_with("@acme.test>"));
        assert_eq!(a.len(), 1 + 32 + "@acme.test>".len());
        assert!(!a.contains("msg_"));
    }
}
