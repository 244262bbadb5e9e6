//! Event messages to tenants' webhook endpoints (docs/events.md): which URLs may be
//! registered, and one bounded, signed `POST` through the destination policy. Retrying,
//! backoff and the delivery log belong to the server's events worker.
//!
//! The destination rule is the providers' ([`crate::outbound`]): an endpoint is refused when
//! it names an internal address that can be seen without a lookup (checked when it is
//! registered), and every connection is checked again at send time on the addresses it
//! actually reaches, so a name that later resolves to a private address (DNS rebinding)
//! is refused then.

use crate::outbound::{config_problem, Destinations};
use crate::{bounded, http, BuildOptions, DeliveryError};

/// The longest endpoint URL accepted.
pub const MAX_URL_CHARS: usize = 2000;

/// Why `url` cannot be an endpoint, or `None`. `https` is required unless the operator
/// allows private destinations (a development receiver on loopback); credentials in the URL
/// are refused (they would be shown back by the admin API, and the signature already says
/// who sent the message).
pub fn endpoint_problem(destinations: Destinations, url: &str) -> Option<String> {
    if url.chars().count() > MAX_URL_CHARS {
        return Some(format!("url must be at most {MAX_URL_CHARS} characters"));
    }
    let Ok(parsed) = reqwest::Url::parse(url) else {
        return Some("url must be an absolute URL".into());
    };
    let scheme_ok = matches!(
        (parsed.scheme(), destinations),
        ("https", _) | ("http", Destinations::AllowPrivate)
    );
    if !scheme_ok {
        return Some("url must use https".into());
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Some("url must not carry credentials".into());
    }
    if parsed.fragment().is_some() {
        return Some("url must not have a fragment".into());
    }
    let Some(host) = parsed.host_str().filter(|h| !h.is_empty()) else {
        return Some("url must name a host".into());
    };
    config_problem(destinations, "url", host)
}

/// One signed message to send.
#[derive(Debug)]
pub struct EventPost<'a> {
    pub url: &'a str,
    /// `webhook-id`: the same on every attempt of one message.
    pub msg_id: &'a str,
    /// `webhook-timestamp`, Unix seconds of this attempt.
    pub timestamp_secs: i64,
    /// `webhook-signature`.
    pub signature: &'a str,
    pub body: &'a [u8],
}

/// How an attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PostOutcome {
    /// The endpoint answered 2xx.
    Delivered { status: u16 },
    /// Another answer, or none (timeout, connection failure): worth another attempt later.
    Retry { status: Option<u16>, error: String },
    /// Never worth another attempt: the destination policy refuses it.
    Refused { error: String },
}

impl BuildOptions {
    /// Sends one message within the delivery timeout. Redirects are not followed (an
    /// endpoint that moves is registered again), and the answer's body is read only up to a
    /// bound and otherwise ignored.
    pub async fn post_event(&self, p: &EventPost<'_>) -> PostOutcome {
        const WHO: &str = "webhook endpoint";
        let request = self
            .http
            .post(p.url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("webhook-id", p.msg_id)
            .header("webhook-timestamp", p.timestamp_secs.to_string())
            .header("webhook-signature", p.signature)
            .body(p.body.to_vec());
        let attempt = async {
            let response = http::send(WHO, &self.outbound, request).await?;
            let (status, _) = http::read(WHO, response).await?;
            Ok(status)
        };
        match bounded(WHO, self.timeout, attempt).await {
            Ok(status) if status.is_success() => PostOutcome::Delivered {
                status: status.as_u16(),
            },
            Ok(status) => PostOutcome::Retry {
                status: Some(status.as_u16()),
                error: format!("HTTP {}", status.as_u16()),
            },
            Err(DeliveryError::Transient(error)) => PostOutcome::Retry { status: None, error },
            Err(DeliveryError::Permanent(error)) => PostOutcome::Refused { error },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_must_be_public_https_without_credentials() {
        let public = Destinations::PublicOnly;
        assert_eq!(endpoint_problem(public, "https://hooks.example.com/in?x=1"), None);
        for (url, why) in [
            ("http://hooks.example.com/in", "https"),
            ("ftp://hooks.example.com/in", "https"),
            ("hooks.example.com/in", "absolute"),
            ("https://user:pw@hooks.example.com/", "credentials"),
            ("https://hooks.example.com/#x", "fragment"),
            ("https://127.0.0.1/in", "internal"),
            ("https://[::1]/in", "internal"),
            ("https://10.1.2.3/in", "internal"),
            ("https://169.254.169.254/latest/meta-data", "internal"),
            ("https://0x7f000001/", "internal"),
            ("https://localhost:8443/", "internal"),
            ("https://api.localhost/", "internal"),
        ] {
            let problem = endpoint_problem(public, url).unwrap_or_default();
            assert!(problem.contains(why), "{url}: {problem}");
        }
        let long = format!("https://example.com/{}", "a".repeat(MAX_URL_CHARS));
        assert!(endpoint_problem(public, &long).is_some());
        let private = Destinations::AllowPrivate;
        assert_eq!(endpoint_problem(private, "http://127.0.0.1:9000/in"), None);
        assert_eq!(endpoint_problem(private, "https://localhost/"), None);
    }
}
