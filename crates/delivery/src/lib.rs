//! Message delivery: the sender traits the outbox worker calls, the provider
//! configurations tenants store (and the admin API shows redacted), and the providers.
//!
//! A sender makes one attempt and classifies its failure: `Transient` (timeouts, connection
//! errors, 5xx, throttling) is worth retrying, `Permanent` (bad credentials, an invalid
//! number, a 4xx) is not. Retrying, backoff, fallback and giving up belong to the outbox, not
//! to the senders. Every HTTP call is bounded by a timeout so a slow provider never holds a
//! worker for long.
//!
//! Every connection goes through [`outbound`]: a destination that is not public (loopback,
//! private, link-local, …) is refused unless the operator allows it, and a failure to reach a
//! provider is stored as `<provider>: unreachable` whatever its cause, so the stored error
//! cannot serve as a port scanner. The cause is logged on the server.

pub mod config;
pub mod console;
pub mod events;
mod http;
mod options;
pub mod outbound;
pub mod providers;
pub mod smtp;
pub mod sns;
pub mod twilio;
pub mod vonage;
pub mod webhook;

use async_trait::async_trait;
use outbound::Refused;
use std::future::Future;
use std::time::Duration;

pub use options::{BuildError, BuildOptions};
pub use outbound::Destinations;

/// One SMS to send. `body` carries the code: senders never log it (except the console
/// provider, whose whole purpose is to show it to a developer).
#[derive(Clone)]
pub struct SmsMessage {
    /// E.164, e.g. `+14155552671`.
    pub to: String,
    pub body: String,
    /// Stable across retries of one message, for providers that deduplicate.
    pub idempotency_key: String,
}

impl std::fmt::Debug for SmsMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsMessage")
            .field("idempotency_key", &self.idempotency_key)
            .finish_non_exhaustive()
    }
}

/// One email to send, in text and HTML.
#[derive(Clone)]
pub struct EmailMessage {
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub idempotency_key: String,
}

impl std::fmt::Debug for EmailMessage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailMessage")
            .field("idempotency_key", &self.idempotency_key)
            .finish_non_exhaustive()
    }
}

/// What a provider said when it accepted a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// `twilio`, `vonage`, `aws_sns`, `webhook`, `console`, `smtp`.
    pub provider: &'static str,
    /// The provider's id for the message, when it returns one.
    pub provider_message_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth retrying: timeout, connection failure, 5xx, rate limiting by the provider.
    #[error("transient delivery failure: {0}")]
    Transient(String),
    /// Not worth retrying: rejected credentials, an invalid destination, a 4xx.
    #[error("permanent delivery failure: {0}")]
    Permanent(String),
}

#[async_trait]
pub trait SmsSender: Send + Sync {
    fn provider(&self) -> &'static str;
    async fn send(&self, msg: &SmsMessage) -> Result<Sent, DeliveryError>;
}

#[async_trait]
pub trait EmailSender: Send + Sync {
    fn provider(&self) -> &'static str;
    async fn send(&self, msg: &EmailMessage) -> Result<Sent, DeliveryError>;
}

/// `+1***2671`: enough for an operator to tell messages apart in a log, too little to harvest
/// numbers from it. Anything too short to mask meaningfully is hidden whole.
pub fn mask_phone(number: &str) -> String {
    let chars: Vec<char> = number.chars().collect();
    if chars.len() < 8 {
        return "***".into();
    }
    let head: String = chars[..2].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}***{tail}")
}

/// Runs one whole provider attempt (connect, TLS, request, response body) under `limit`, so a
/// provider that stalls at any stage costs a worker at most that long. A timeout is transient:
/// the provider may be slow rather than down. It may also have accepted the message before
/// going quiet, which is why every provider is given the message's idempotency key. It reads
/// like any other failure to reach the provider: a port that accepts and stays silent must
/// not look different from one that refuses.
pub(crate) async fn bounded<T>(
    provider: &'static str,
    limit: Duration,
    attempt: impl Future<Output = Result<T, DeliveryError>>,
) -> Result<T, DeliveryError> {
    match tokio::time::timeout(limit, attempt).await {
        Ok(result) => result,
        Err(_) => {
            tracing::warn!(
                provider,
                limit_ms = limit.as_millis(),
                "delivery attempt timed out"
            );
            Err(unreachable(provider))
        }
    }
}

/// The stored text for any failure to reach a provider. Refused connections, resets, DNS and
/// TLS failures and timeouts all read the same, so stored errors cannot serve a tenant admin
/// as a port scanner of whatever a URL points at; the cause goes to the server's log.
pub(crate) fn unreachable(provider: &str) -> DeliveryError {
    DeliveryError::Transient(format!("{provider}: unreachable"))
}

/// A destination the policy refuses: permanent, since the same configuration will be refused
/// again, and as terse as [`unreachable`].
pub(crate) fn refused(provider: &str, why: &Refused) -> DeliveryError {
    tracing::warn!(provider, reason = %why, "delivery destination refused");
    DeliveryError::Permanent(format!("{provider}: destination not allowed"))
}

/// One bounded SMS attempt, logged with the masked destination and the outcome only: never
/// the body (it carries the code), the error detail (logged once, where it arises) or a
/// secret.
pub(crate) async fn sms_attempt(
    provider: &'static str,
    limit: Duration,
    to: &str,
    attempt: impl Future<Output = Result<Sent, DeliveryError>>,
) -> Result<Sent, DeliveryError> {
    let outcome = bounded(provider, limit, attempt).await;
    tracing::debug!(provider, to = %mask_phone(to), ok = outcome.is_ok(), "SMS attempt");
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_numbers_are_masked() {
        assert_eq!(mask_phone("+14155552671"), "+1***2671");
        assert_eq!(mask_phone("+447700900123"), "+4***0123");
        assert_eq!(mask_phone("+1234"), "***");
        assert_eq!(mask_phone(""), "***");
    }

    #[tokio::test]
    async fn the_bound_turns_a_stall_into_a_transient_failure() {
        let stalled = bounded("webhook", Duration::from_millis(20), async {
            tokio::time::sleep(Duration::from_secs(5)).await;
            Ok(())
        });
        assert_eq!(
            stalled.await,
            Err::<(), _>(DeliveryError::Transient("webhook: unreachable".into()))
        );
    }
}
