//! Vonage (formerly Nexmo): one SMS is one `POST` to the SMS API.
//!
//! `POST {base}/sms/json` with the form fields `api_key`, `api_secret`, `from`, `to` and
//! `text`, and `client-ref`, our idempotency key, which Vonage repeats in delivery receipts
//! (Vonage API reference, *SMS API*, "Send an SMS"). Numbers go in international form without
//! the `+` (`447700900000`). Vonage answers HTTP 200 even when it refuses the message: the
//! verdict is `messages[i].status`, `"0"` for accepted, anything else an error from its table
//! (Vonage docs, *Troubleshooting SMS*, "SMS API error codes"). A long text is split into
//! parts, one entry each; the message counts as sent only when every part was accepted.

use crate::http;
use crate::outbound::Outbound;
use crate::{sms_attempt, BuildOptions, DeliveryError, Sent, SmsMessage, SmsSender};
use async_trait::async_trait;
use latchkey_core::secret::SecretString;
use std::time::Duration;

const DEFAULT_BASE_URL: &str = "https://rest.nexmo.com";

/// Vonage documents the client reference as up to 40 characters; longer is cut, since it is
/// a label for receipts and support, not what makes a send unique.
const MAX_CLIENT_REF_CHARS: usize = 40;

pub struct VonageSms {
    client: reqwest::Client,
    outbound: Outbound,
    url: String,
    api_key: String,
    api_secret: SecretString,
    from: String,
    timeout: Duration,
}

impl VonageSms {
    pub(crate) fn new(
        api_key: &str,
        api_secret: &str,
        from: &str,
        base_url: Option<&str>,
        opts: &BuildOptions,
    ) -> Self {
        let base = base_url.unwrap_or(DEFAULT_BASE_URL).trim_end_matches('/');
        Self {
            client: opts.http.clone(),
            outbound: opts.outbound.clone(),
            url: format!("{base}/sms/json"),
            api_key: api_key.to_owned(),
            api_secret: SecretString::new(api_secret.to_owned()),
            // A numeric sender is digits only, like `to`; an alphanumeric one has no `+`.
            from: from.strip_prefix('+').unwrap_or(from).to_owned(),
            timeout: opts.timeout,
        }
    }

    async fn attempt(&self, msg: &SmsMessage) -> Result<Sent, DeliveryError> {
        let to = msg.to.strip_prefix('+').unwrap_or(&msg.to);
        let client_ref: String = msg.idempotency_key.chars().take(MAX_CLIENT_REF_CHARS).collect();
        let request = self.client.post(&self.url).form(&[
            ("api_key", self.api_key.as_str()),
            ("api_secret", self.api_secret.expose()),
            ("from", &self.from),
            ("to", to),
            ("text", &msg.body),
            ("client-ref", &client_ref),
        ]);
        let response = http::send("vonage", &self.outbound, request).await?;
        let (status, body) = http::read("vonage", response).await?;
        if !status.is_success() {
            return Err(http::status_failure("vonage", status, ""));
        }
        let json: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
            // Vonage answers every request with this JSON; anything else means the request
            // went somewhere that is not Vonage (a proxy's page, a wrong base_url).
            DeliveryError::Permanent("vonage: the response is not the SMS API's JSON".into())
        })?;
        let parts = json["messages"].as_array().map(Vec::as_slice).unwrap_or_default();
        if parts.is_empty() {
            return Err(DeliveryError::Permanent(
                "vonage: the response lists no message".into(),
            ));
        }
        for part in parts {
            let code = status_code(&part["status"]);
            if code != Some(0) {
                return Err(classify(code));
            }
        }
        let id = parts[0]["message-id"].as_str().map(str::to_owned);
        Ok(Sent {
            provider: "vonage",
            provider_message_id: id,
        })
    }
}

/// Vonage sends the status as a string (`"0"`); accept a number as well.
fn status_code(value: &serde_json::Value) -> Option<u32> {
    match value {
        serde_json::Value::String(s) => s.parse().ok(),
        serde_json::Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        _ => None,
    }
}

/// Vonage's SMS API status codes. Throttling, internal errors and too many connections pass;
/// every other code says the request, the account or the destination is wrong, and sending
/// the same request again would be refused again. `error-text` is not kept: our own words
/// cannot quote the destination.
fn classify(code: Option<u32>) -> DeliveryError {
    let Some(code) = code else {
        return DeliveryError::Permanent("vonage: a message part has no status".into());
    };
    let (meaning, transient) = match code {
        1 => ("throttled", true),
        2 => ("missing parameters", false),
        3 => ("invalid parameters", false),
        4 => ("invalid credentials", false),
        5 => ("internal error", true),
        6 => ("invalid message (e.g. an unrecognised number prefix)", false),
        7 => ("number barred", false),
        8 => ("partner account barred", false),
        9 => ("partner quota violation: not enough credit", false),
        10 => ("too many existing binds", true),
        11 => ("account not enabled for HTTP", false),
        12 => ("message too long", false),
        14 => ("invalid signature", false),
        15 => ("invalid sender address", false),
        22 => ("invalid network code", false),
        23 => ("invalid callback URL", false),
        29 => ("non-whitelisted destination", false),
        32 => ("signature and API secret disallowed", false),
        33 => ("number de-activated", false),
        _ => ("unknown status", false),
    };
    let text = format!("vonage: status {code}, {meaning}");
    if transient {
        DeliveryError::Transient(text)
    } else {
        DeliveryError::Permanent(text)
    }
}

#[async_trait]
impl SmsSender for VonageSms {
    fn provider(&self) -> &'static str {
        "vonage"
    }

    async fn send(&self, msg: &SmsMessage) -> Result<Sent, DeliveryError> {
        sms_attempt("vonage", self.timeout, &msg.to, self.attempt(msg)).await
    }
}

impl std::fmt::Debug for VonageSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VonageSms")
            .field("url", &self.url)
            .field("api_key", &self.api_key)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_codes_are_classified() {
        assert!(matches!(classify(Some(1)), DeliveryError::Transient(_)));
        assert!(matches!(classify(Some(5)), DeliveryError::Transient(_)));
        assert!(matches!(classify(Some(4)), DeliveryError::Permanent(_)));
        assert!(matches!(classify(Some(3)), DeliveryError::Permanent(_)));
        assert!(matches!(classify(Some(99)), DeliveryError::Permanent(_)));
        assert!(matches!(classify(None), DeliveryError::Permanent(_)));
        assert_eq!(status_code(&serde_json::json!("0")), Some(0));
        assert_eq!(status_code(&serde_json::json!(9)), Some(9));
    }
}
