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
//! is transient, stored as `smtp: unreachable` whatever the cause; a server that lacks what
//! the configuration requires (STARTTLS, an authentication mechanism) is permanent until
//! someone changes one or the other.
//!
//! The host is resolved and every address checked by the destination policy
//! ([`crate::outbound`]) at each send, and lettre is handed the checked address, never the
//! name, so DNS cannot answer differently between the check and the connection.

use crate::outbound::{Outbound, ResolveError};
use crate::{bounded, refused, unreachable, BuildOptions, DeliveryError, EmailMessage, EmailSender, Sent};
use async_trait::async_trait;
use latchkey_core::secret::SecretString;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::time::Duration;

/// How an SMTP connection is secured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpTls {
    /// Plain text (loopback relays and tests only).
    None,
    /// Upgrade with STARTTLS (required, not opportunistic).
    Starttls,
    /// Implicit TLS from the first byte (port 465).
    Tls,
}

pub struct SmtpEmail {
    /// Checked at build time; an unparsable `from` is kept and reported by every send,
    /// because building a sender cannot fail.
    from: Result<Mailbox, String>,
    /// As configured, brackets of an IPv6 literal removed: what is resolved, and the name
    /// the server's certificate must carry.
    host: String,
    port: u16,
    tls: SmtpTls,
    credentials: Option<(String, SecretString)>,
    outbound: Outbound,
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
            from: from
                .parse::<Mailbox>()
                .map_err(|_| "the configured `from` is not a valid mailbox".into()),
            host: host.trim_start_matches('[').trim_end_matches(']').to_owned(),
            port,
            tls,
            credentials: credentials
                .map(|(user, pass)| (user.to_owned(), SecretString::new(pass.to_owned()))),
            outbound: opts.outbound.clone(),
            timeout: opts.timeout,
        }
    }

    async fn attempt(&self, msg: &EmailMessage) -> Result<Sent, DeliveryError> {
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

        // Resolved and checked here, then connected to by address, so the address checked is
        // the one connected to; TLS still verifies the certificate against the configured host.
        let addresses = self
            .outbound
            .resolve_host(&self.host)
            .await
            .map_err(|e| match e {
                ResolveError::Refused(why) => refused("smtp", &why),
                other => {
                    tracing::warn!(provider = "smtp", error = %other, "delivery request failed");
                    unreachable("smtp")
                }
            })?;
        let mut last = None;
        for ip in addresses {
            match self.transport(ip)?.send(email.clone()).await {
                Ok(_) => {
                    return Ok(Sent {
                        provider: "smtp",
                        provider_message_id: Some(message_id),
                    })
                }
                // Nothing of the message has been sent before the connection (and implicit
                // TLS) is up, so the host's next address may be tried, as lettre itself would.
                Err(e) if failed_to_connect(&e) => last = Some(e),
                Err(e) => return Err(classify(e)),
            }
        }
        Err(last.map_or_else(|| unreachable("smtp"), classify))
    }

    /// A transport to one checked address, with the configured host for TLS.
    fn transport(&self, ip: IpAddr) -> Result<AsyncSmtpTransport<Tokio1Executor>, DeliveryError> {
        // `builder_dangerous` only means "no TLS unless told": the match below always tells.
        let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(ip.to_string())
            .port(self.port)
            // lettre applies this to each read and write; `bounded` caps the whole session.
            .timeout(Some(self.timeout));
        // The certificate must name `host` and chain to the system's roots.
        let params = || {
            TlsParameters::new(self.host.clone()).map_err(|e| {
                tracing::warn!(provider = "smtp", error = %e, "cannot set up TLS");
                DeliveryError::Permanent("smtp: cannot set up TLS for the SMTP server".into())
            })
        };
        let builder = match self.tls {
            SmtpTls::None => builder.tls(Tls::None),
            SmtpTls::Starttls => builder.tls(Tls::Required(params()?)),
            SmtpTls::Tls => builder.tls(Tls::Wrapper(params()?)),
        };
        let builder = match &self.credentials {
            Some((user, password)) => {
                builder.credentials(Credentials::new(user.clone(), password.expose().to_owned()))
            }
            None => builder,
        };
        Ok(builder.build())
    }
}

/// Whether lettre failed before the SMTP conversation: connecting, or the implicit-TLS
/// handshake. lettre reports those as its `Connection` kind, which it shows only in the
/// error's text; `connection_failures_are_recognised` below holds lettre to that.
fn failed_to_connect(err: &lettre::transport::smtp::Error) -> bool {
    err.to_string().starts_with("Connection error")
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
    if err.is_client() {
        // lettre's client errors: the server lacks something the configuration requires
        // (STARTTLS, a usable authentication mechanism). Retrying meets the same server.
        // Their text is lettre's own fixed wording, which names the missing feature.
        return DeliveryError::Permanent(format!("smtp: {err}"));
    }
    // Connection, TLS, network and unreadable replies: the detail (refused or silent port,
    // certificate, what the other end said instead of SMTP) is for the server's log only.
    tracing::warn!(provider = "smtp", error = %err, "delivery request failed");
    unreachable("smtp")
}

#[async_trait]
impl EmailSender for SmtpEmail {
    fn provider(&self) -> &'static str {
        "smtp"
    }

    async fn send(&self, msg: &EmailMessage) -> Result<Sent, DeliveryError> {
        let outcome = bounded("smtp", self.timeout, self.attempt(msg)).await;
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

    #[tokio::test]
    async fn connection_failures_are_recognised() {
        use std::io::Write as _;
        let opts = BuildOptions::new(Duration::from_secs(2), crate::Destinations::AllowPrivate).unwrap();
        let email = || {
            Message::builder()
                .from("a@acme.test".parse().unwrap())
                .to("b@acme.test".parse().unwrap())
                .body(String::from("x"))
                .unwrap()
        };
        let send = |port: u16| {
            let sender = SmtpEmail::new("127.0.0.1", port, SmtpTls::None, None, "a@acme.test", &opts);
            let transport = sender.transport("127.0.0.1".parse().unwrap()).unwrap();
            async move { transport.send(email()).await.unwrap_err() }
        };
        // Nothing listens: a failure to connect, after which another address may be tried.
        let closed = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let err = send(closed).await;
        assert!(failed_to_connect(&err), "{err}");
        // Something answered: the conversation began, so no other address is tried.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            if let Some(Ok(mut socket)) = listener.incoming().next() {
                let _ = socket.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n");
            }
        });
        let err = send(port).await;
        assert!(!failed_to_connect(&err), "{err}");
    }
}
