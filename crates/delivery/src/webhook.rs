//! The webhook provider: each SMS is a signed JSON `POST` to a gateway of the tenant's own.
//!
//! # What the gateway receives
//!
//! ```text
//! POST {url}
//! Content-Type: application/json
//! Idempotency-Key: {idempotency_key}
//! X-Latchkey-Signature: t=1700000000,v1=<64 lower-case hex digits>
//!
//! {"to":"+14155552671","body":"Your code is 123456","idempotency_key":"…","sent_at":"2023-11-14T22:13:20Z"}
//! ```
//!
//! Any 2xx means the gateway took the message; a JSON answer with a string `id` is kept as
//! the provider's message id. 5xx, 408, 429, a refused connection or no answer within the
//! timeout are retried; any other status is final. Redirects are not followed.
//!
//! # Verifying a request (for whoever writes the gateway)
//!
//! `v1` is the lower-case hex HMAC-SHA-256, keyed with the configured `secret` (its UTF-8
//! bytes), of the timestamp `t`, a `.`, and the raw request body exactly as received: the
//! scheme Stripe uses for its webhooks, so existing verifiers fit. To accept a request:
//!
//! 1. Split the header on `,` and each part on the first `=`; take `t` and `v1`.
//! 2. Compute `HMAC-SHA-256(secret, t + "." + raw_body)` over the bytes as received, before
//!    any JSON parsing (re-serialised JSON will not match).
//! 3. Compare it with `v1` in constant time (e.g. `hmac.compare_digest` in Python).
//! 4. Refuse a `t` more than 5 minutes from your clock: a captured request replayed later
//!    then fails even though its signature is valid.
//! 5. Treat `Idempotency-Key` as the message's identity: a retry after a timeout carries
//!    the same key, and should not send a second SMS.
//!
//! In Python: `hmac.new(secret.encode(), f"{t}.".encode() + raw_body, hashlib.sha256).hexdigest()`.

use crate::http;
use crate::outbound::Outbound;
use crate::{sms_attempt, BuildOptions, DeliveryError, Sent, SmsMessage, SmsSender};
use async_trait::async_trait;
use hmac::{Hmac, Mac};
use latchkey_core::clock::{Clock, SystemClock};
use latchkey_core::secret::SecretString;
use sha2::Sha256;
use std::time::Duration;

pub const SIGNATURE_HEADER: &str = "X-Latchkey-Signature";

pub struct WebhookSms {
    client: reqwest::Client,
    outbound: Outbound,
    url: String,
    secret: SecretString,
    timeout: Duration,
}

impl WebhookSms {
    pub(crate) fn new(url: &str, secret: &str, opts: &BuildOptions) -> Self {
        Self {
            client: opts.http.clone(),
            outbound: opts.outbound.clone(),
            url: url.to_owned(),
            secret: SecretString::new(secret.to_owned()),
            timeout: opts.timeout,
        }
    }

    async fn attempt(&self, msg: &SmsMessage) -> Result<Sent, DeliveryError> {
        let now_ms = SystemClock.now_ms();
        let body = serde_json::json!({
            "to": msg.to,
            "body": msg.body,
            "idempotency_key": msg.idempotency_key,
            "sent_at": latchkey_core::time::rfc3339(now_ms),
        })
        .to_string();
        let signature = signature_header(
            self.secret.expose().as_bytes(),
            now_ms.div_euclid(1000),
            body.as_bytes(),
        );
        let request = self
            .client
            .post(&self.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(SIGNATURE_HEADER, signature)
            .header("Idempotency-Key", &msg.idempotency_key)
            .body(body);
        let response = http::send("webhook", &self.outbound, request).await?;
        let (status, body) = http::read("webhook", response).await?;
        if !status.is_success() {
            return Err(http::status_failure("webhook", status, ""));
        }
        let id = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|j| j["id"].as_str().map(str::to_owned));
        Ok(Sent {
            provider: "webhook",
            provider_message_id: id,
        })
    }
}

/// `t=<unix seconds>,v1=<hex HMAC-SHA-256(secret, "<t>.<body>")>`; see the module docs.
pub fn signature_header(secret: &[u8], unix_secs: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length (RFC 2104 §2), so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(unix_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("t={unix_secs},v1={}", hex::encode(mac.finalize().into_bytes()))
}

#[async_trait]
impl SmsSender for WebhookSms {
    fn provider(&self) -> &'static str {
        "webhook"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<Sent, DeliveryError> {
        sms_attempt("webhook", self.timeout, &msg.to, self.attempt(msg)).await
    }
}

impl std::fmt::Debug for WebhookSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may carry a token of the gateway's in its query; show the host only.
        let host = reqwest::Url::parse(&self.url)
            .ok()
            .and_then(|u| u.host_str().map(str::to_owned));
        f.debug_struct("WebhookSms")
            .field("host", &host)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_a_known_vector() {
        // Computed independently: printf '1700000000.{"a":1}' | openssl dgst -sha256 -hmac key
        assert_eq!(
            signature_header(b"key", 1_700_000_000, br#"{"a":1}"#),
            "t=1700000000,v1=a438e398bfafc57e4396bb7fc2304422f0f768e965d073ca313cb52e22e6ad03"
        );
    }
}
