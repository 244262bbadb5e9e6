//! `Idempotency-Key` on the POSTs that create something or send a code
//! (draft-ietf-httpapi-idempotency-key-header; SECURITY.md test 25): a client that retries
//! after a lost answer gets the first answer again instead of a second account, factor, set
//! of backup codes or SMS.
//!
//! - The key is scoped to the caller (its `Authorization` header, hashed) and the route, so
//!   nobody else can replay an answer, and bound to the request (method, path, query, body,
//!   hashed): the same key with another request is `422 idempotency_key_reused`.
//! - While the first request runs, a retry gets `409 idempotency_key_in_use`; a record left
//!   in flight by a crash is given up after a minute.
//! - Only successful (2xx) answers are kept: anything else is forgotten so a retry runs again.
//! - Kept answers are sealed (they may hold a TOTP secret, backup codes or tokens), live 24
//!   hours, and a replay says `Idempotent-Replayed: true`.
//! - Keys are 1 to 255 printable ASCII characters; without the header nothing changes.

use super::Surface;
use crate::service::{ErrorCode, Failure, FailureKind, ServiceError};
use crate::App;
use axum::body::{Body, Bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::TenantId;
use latchkey_store::model::{IdempotencyBegin, IdempotencyRecord};

/// The routes a key applies to: each creates something or sends a code.
const ROUTES: &[&str] = &[
    "/v1/auth/signup",
    "/v1/users/{user_id}/mfa/factors",
    "/v1/users/{user_id}/mfa/backup-codes",
    "/v1/mfa/challenge",
    "/v1/mfa/enroll",
];

/// How long an answer can be replayed.
const KEEP_MS: i64 = 24 * 3600 * 1000;
/// The most of an answer kept (answers here are a few KiB; a QR code is the largest).
const MAX_RESPONSE_BYTES: usize = 256 * 1024;

pub async fn idempotent<S: Surface>(State(app): State<App>, req: Request, next: Next) -> Response {
    let Some(raw_key) = req.headers().get("idempotency-key") else {
        return next.run(req).await;
    };
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    if req.method() != Method::POST || !ROUTES.contains(&route.as_str()) {
        return next.run(req).await;
    }
    let key = match raw_key.to_str() {
        Ok(k) if (1..=255).contains(&k.len()) && k.bytes().all(|b| (0x20..0x7f).contains(&b)) => k.to_owned(),
        _ => {
            return S::reject(Failure::invalid(
                ErrorCode::InvalidIdempotencyKey,
                "Idempotency-Key must be 1 to 255 printable ASCII characters",
            ))
            .into_response()
        }
    };
    // The handler resolves and checks the tenant; here it only names the record.
    let tenant = match req.headers().get("x-tenant-id").and_then(|v| v.to_str().ok()) {
        Some(t) => match TenantId::parse(t) {
            Ok(id) => id,
            Err(_) => return next.run(req).await,
        },
        None => app.default_tenant.clone(),
    };
    let (parts, body) = req.into_parts();
    let bytes = match axum::body::to_bytes(body, app.config.max_body_bytes).await {
        Ok(b) => b,
        Err(_) => return S::reject(Failure::payload_too_large()).into_response(),
    };
    let hasher = &app.crypto.hasher;
    let caller = parts
        .headers
        .get(header::AUTHORIZATION)
        .map(|v| v.as_bytes())
        .unwrap_or(b"anonymous");
    let scope = format!(
        "{route} {}",
        hasher.hash(HashPurpose::Idempotency, "caller", caller)
    );
    let mut request = Vec::with_capacity(bytes.len() + 128);
    for part in [
        parts.method.as_str().as_bytes(),
        parts.uri.path().as_bytes(),
        parts.uri.query().unwrap_or("").as_bytes(),
        parts
            .headers
            .get(header::CONTENT_TYPE)
            .map(|v| v.as_bytes())
            .unwrap_or(b""),
        &bytes,
    ] {
        request.extend_from_slice(&(part.len() as u64).to_be_bytes());
        request.extend_from_slice(part);
    }
    let now = app.now();
    let record = IdempotencyRecord {
        tenant_id: tenant,
        key_hash: hasher.hash(HashPurpose::Idempotency, &scope, key.as_bytes()),
        scope,
        request_hash: hasher.hash(HashPurpose::Idempotency, "request", &request),
        created_at: now,
        expires_at: now + KEEP_MS,
    };
    let aad = format!(
        "idempotency_keys.response_sealed:{}:{}",
        record.tenant_id, record.key_hash
    );
    match app.store.idempotency_begin(&record, now).await {
        Err(e) => S::reject(ServiceError::from(e).into()).into_response(),
        Ok(IdempotencyBegin::InFlight) => S::reject(Failure::new(
            FailureKind::Conflict,
            ErrorCode::IdempotencyKeyInUse,
            "a request with this Idempotency-Key is still being processed; retry later",
        ))
        .into_response(),
        Ok(IdempotencyBegin::Mismatch) => S::reject(Failure::new(
            FailureKind::Unprocessable,
            ErrorCode::IdempotencyKeyReused,
            "this Idempotency-Key was used with a different request",
        ))
        .into_response(),
        Ok(IdempotencyBegin::Done {
            status,
            response_sealed,
        }) => match app.crypto.keyring.open(&response_sealed, &aad) {
            Ok(body) => replay(status, body.to_vec()),
            Err(e) => {
                // Sealed under a master key since removed: the answer is gone; say so rather
                // than run the request a second time.
                tracing::warn!(error = %e, "kept idempotent answer cannot be opened");
                S::reject(Failure::new(
                    FailureKind::Conflict,
                    ErrorCode::IdempotencyKeyExpired,
                    "the answer kept for this Idempotency-Key is no longer available; use a new key",
                ))
                .into_response()
            }
        },
        Ok(IdempotencyBegin::Started) => {
            let response = next.run(Request::from_parts(parts, Body::from(bytes))).await;
            keep::<S>(&app, &record, &aad, response).await
        }
    }
}

/// Keeps a successful answer for replays (and hands it on); forgets the key otherwise.
async fn keep<S: Surface>(app: &App, record: &IdempotencyRecord, aad: &str, response: Response) -> Response {
    if !response.status().is_success() {
        if let Err(e) = app.store.idempotency_abandon(record).await {
            tracing::error!(error = %e, "cannot release an idempotency key");
        }
        return response;
    }
    let (parts, body) = response.into_parts();
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_RESPONSE_BYTES).await {
        Ok(b) => b,
        Err(e) => {
            tracing::error!(error = %e, "cannot read an answer to keep it");
            let _ = app.store.idempotency_abandon(record).await;
            return S::reject(Failure::internal()).into_response();
        }
    };
    let sealed = app.crypto.keyring.seal(&bytes, aad, app.rng.as_ref());
    let kept = match sealed {
        Ok(s) => app
            .store
            .idempotency_finish(record, parts.status.as_u16(), &s)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = kept {
        // The request succeeded; only its replay is lost. The record stays in flight, so a
        // retry gets 409 until the store gives up on it (a minute), then runs again.
        tracing::error!(error = %e, "cannot keep an idempotent answer");
    }
    Response::from_parts(parts, Body::from(bytes))
}

fn replay(status: u16, body: Vec<u8>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
    let mut resp = (status, body).into_response();
    let headers = resp.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    resp
}
