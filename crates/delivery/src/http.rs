//! What the HTTP providers share: the client's settings (no redirects, the destination policy
//! as its resolver), sending with IP literals checked, reading a response without trusting
//! its size, and turning HTTP outcomes into `Transient` or `Permanent`.

use crate::outbound::{Destinations, Outbound, Refused};
use crate::{refused, unreachable, DeliveryError};
use reqwest::StatusCode;
use std::sync::Arc;

/// The most of a provider's response body we read. Real answers are a few hundred bytes; a
/// misconfigured URL pointing at something that streams forever must not fill memory.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

pub(crate) fn client(outbound: &Outbound) -> Result<reqwest::Client, reqwest::Error> {
    let builder = reqwest::Client::builder()
        // A redirect would carry the message, code included, to a host nobody configured, and
        // none of the providers' APIs redirects a send. Report it as a failure instead.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        // Every name is resolved, and every address checked, by the destination policy; the
        // connector connects to exactly the addresses it returns.
        .dns_resolver(Arc::new(outbound.clone()));
    let builder = match outbound.destinations() {
        // Through a proxy the address connected to is the proxy's, and the proxy resolves the
        // provider's name itself: the check would see the wrong address. So when the check
        // matters, `HTTP(S)_PROXY` is not used.
        Destinations::PublicOnly => builder.no_proxy(),
        Destinations::AllowPrivate => builder,
    };
    builder.build()
}

/// Sends one request, after checking an IP-literal destination (the client connects to a
/// literal without asking the resolver, which checks every name).
pub(crate) async fn send(
    provider: &'static str,
    outbound: &Outbound,
    request: reqwest::RequestBuilder,
) -> Result<reqwest::Response, DeliveryError> {
    let (client, request) = request.build_split();
    let request = request.map_err(|e| request_failed(provider, e))?;
    outbound
        .check_url(request.url())
        .map_err(|r| refused(provider, &r))?;
    client
        .execute(request)
        .await
        .map_err(|e| request_failed(provider, e))
}

/// The request never got a whole answer: refused by the destination policy (permanent), not
/// buildable (our own fault, permanent), or anything on the way (worth another try later).
pub(crate) fn request_failed(provider: &str, err: reqwest::Error) -> DeliveryError {
    // `without_url`: some gateways carry tokens in the query string.
    let err = err.without_url();
    if let Some(why) = find_cause::<Refused>(&err) {
        return refused(provider, why);
    }
    tracing::warn!(provider, error = %error_chain(&err), "delivery request failed");
    if err.is_builder() {
        DeliveryError::Permanent(format!("{provider}: cannot build the request"))
    } else {
        unreachable(provider)
    }
}

/// The first error of type `T` among `err` and its causes.
fn find_cause<'a, T: std::error::Error + 'static>(
    err: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// The response's status and at most [`MAX_RESPONSE_BYTES`] of its body.
pub(crate) async fn read(
    provider: &str,
    mut response: reqwest::Response,
) -> Result<(StatusCode, Vec<u8>), DeliveryError> {
    let status = response.status();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| request_failed(provider, e))? {
        let room = MAX_RESPONSE_BYTES - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == MAX_RESPONSE_BYTES {
            break;
        }
    }
    Ok((status, body))
}

/// Whether an HTTP status is worth retrying: 5xx, 408 Request Timeout (RFC 9110 §15.5.9) and
/// 429 Too Many Requests (RFC 6585 §4). Every other status, redirects included, means the
/// request itself is wrong and will be refused again.
pub(crate) fn is_retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::REQUEST_TIMEOUT
        || status == StatusCode::TOO_MANY_REQUESTS
}

/// A failure classified by its HTTP status alone. `detail` is ours (a provider error code,
/// never the provider's prose, which may quote the destination number).
pub(crate) fn status_failure(provider: &str, status: StatusCode, detail: &str) -> DeliveryError {
    let text = if detail.is_empty() {
        format!("{provider}: HTTP {}", status.as_u16())
    } else {
        format!("{provider}: HTTP {}, {detail}", status.as_u16())
    };
    if is_retryable(status) {
        DeliveryError::Transient(text)
    } else {
        DeliveryError::Permanent(text)
    }
}

/// An error and its causes on one line: reqwest's own message ("error sending request") says
/// little without the cause beneath it ("Connection refused").
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        for transient in [500, 502, 503, 504, 408, 429] {
            let status = StatusCode::from_u16(transient).unwrap();
            assert!(is_retryable(status), "{transient}");
        }
        for permanent in [301, 400, 401, 403, 404, 422] {
            let status = StatusCode::from_u16(permanent).unwrap();
            assert!(!is_retryable(status), "{permanent}");
        }
    }
}
