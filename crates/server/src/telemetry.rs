//! Logging: readable text by default or JSON lines on request, a request id on every line
//! and response, and never a request body (passwords, codes and tokens only travel in
//! bodies and the `Authorization` header, and neither is ever logged).

use crate::config::{Config, LogFormat};
use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use latchkey_core::rand::OsRandom;
use std::time::Instant;
use tracing::Instrument as _;
use tracing_subscriber::EnvFilter;

tokio::task_local! {
    /// The id of the request being served, for error bodies.
    pub static REQUEST_ID: String;
}

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Installs the global subscriber (once per process; later calls are ignored).
pub fn init(cfg: &Config) {
    let filter = EnvFilter::try_new(&cfg.log_level).unwrap_or_else(|_| EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(ansi)
        .with_writer(std::io::stderr);
    let _ = match cfg.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
    };
}

/// A client-supplied request id is kept only if short and plain, so it cannot forge log
/// lines (ASVS 5.0 V16.4.1).
fn acceptable_id(v: &HeaderValue) -> Option<String> {
    let s = v.to_str().ok()?;
    let ok = !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.');
    ok.then(|| s.to_owned())
}

/// Middleware: assigns the request id, logs one line per request, and sets the response
/// headers every answer carries.
pub async fn request_context(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(&X_REQUEST_ID)
        .and_then(acceptable_id)
        .unwrap_or_else(|| {
            let now = latchkey_core::clock::Clock::now_ms(&latchkey_core::clock::SystemClock);
            format!("req_{}", latchkey_core::ids::ulid(now, &OsRandom))
        });
    let span =
        tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let started = Instant::now();
    let mut resp = REQUEST_ID
        .scope(id.clone(), next.run(req).instrument(span.clone()))
        .await;
    let status = resp.status().as_u16();
    span.in_scope(|| {
        tracing::info!(
            status,
            latency_ms = started.elapsed().as_secs_f64() * 1000.0,
            "request served"
        );
    });
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&id) {
        headers.insert(X_REQUEST_ID.clone(), v);
    }
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    if !headers.contains_key("cache-control") {
        // Responses carry tokens and personal data: no cache may keep them (RFC 6749 §5.1).
        headers.insert("cache-control", HeaderValue::from_static("no-store"));
    }
    resp
}

/// The current request's id, if inside one.
pub fn current_request_id() -> Option<String> {
    REQUEST_ID.try_with(|id| id.clone()).ok()
}
