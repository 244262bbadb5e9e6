//! What the HTTP providers share: the client's settings, reading a response without trusting
//! its size, and turning HTTP outcomes into `Transient` or `Permanent`.

use crate::DeliveryError;
use reqwest::StatusCode;

/// The most of a provider's response body we read. Real answers are a few hundred bytes; a
/// misconfigured URL pointing at something that streams forever must not fill memory.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

pub(crate) fn client() -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        // A redirect would carry the message, code included, to a host nobody configured, and
        // none of the providers' APIs redirects a send. Report it as a failure instead.
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("latchkey/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The request never got a whole answer (refused, reset, DNS, TLS): worth another try later.
/// A request that could not even be built is our own fault and would fail the same way again.
pub(crate) fn request_failed(provider: &str, err: reqwest::Error) -> DeliveryError {
    // `without_url`: some gateways carry tokens in the query string, and errors are stored.
    let err = err.without_url();
    if err.is_builder() {
        DeliveryError::Permanent(format!(
            "{provider}: cannot build the request: {}",
            error_chain(&err)
        ))
    } else {
        DeliveryError::Transient(format!("{provider}: request failed: {}", error_chain(&err)))
    }
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
