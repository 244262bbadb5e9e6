//! How `/v1` answers a failure: one JSON shape, `{"error":{"code","message","request_id",…}}`,
//! with the stable snake_case code of the neutral [`Failure`] and a status from its kind (a
//! pure mapping); and how it answers a sign-in that needs a second factor (401
//! `mfa_required` / `mfa_setup_required`, [`sign_in_answer`]).

use crate::service::outcome::{PendingChallenge, SignInOutcome};
use crate::service::{ErrorCode, Failure, FailureKind, ServiceError};
use crate::telemetry::current_request_id;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

/// A [`Failure`] as `/v1` answers it: its status and the fields of the envelope.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    /// Extra fields placed beside `code` and `message`.
    pub extra: Vec<(&'static str, Value)>,
    pub retry_after: Option<u64>,
}

/// The error envelope, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable snake_case code: one of [`ErrorCode`]'s.
    pub code: ErrorCode,
    /// Human-readable explanation; may change between versions.
    pub message: String,
    /// Correlates with the server's log lines and the `X-Request-Id` header.
    pub request_id: Option<String>,
}

impl From<Failure> for ApiError {
    fn from(f: Failure) -> Self {
        let status = match f.kind {
            FailureKind::Invalid => StatusCode::BAD_REQUEST,
            FailureKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            FailureKind::Forbidden => StatusCode::FORBIDDEN,
            FailureKind::NotFound => StatusCode::NOT_FOUND,
            FailureKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            FailureKind::Conflict => StatusCode::CONFLICT,
            FailureKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            FailureKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            FailureKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            FailureKind::Timeout => StatusCode::REQUEST_TIMEOUT,
            FailureKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
            FailureKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            FailureKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        Self {
            status,
            code: f.code,
            message: f.message,
            extra: f.details,
            retry_after: f.retry_after_secs,
        }
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        Failure::from(e).into()
    }
}

/// The answer to a sign-in that needs a second factor: 401 `mfa_required` with the
/// challenge and the factors it offers.
pub fn mfa_required(p: &PendingChallenge) -> ApiError {
    let factors: Vec<Value> = p
        .factors
        .iter()
        .map(|f| {
            let mut v = serde_json::json!({ "id": f.id.to_string(), "type": f.kind.as_str() });
            if let Some(name) = &f.name {
                v["name"] = name.clone().into();
            }
            if let Some(d) = &f.destination {
                v["destination"] = d.clone().into();
            }
            v
        })
        .collect();
    Failure::unauthenticated(
        ErrorCode::MfaRequired,
        "a second factor is required to complete sign-in",
    )
    .with("challenge_id", p.challenge_id.to_string())
    .with("available_factors", factors)
    .with("expires_at", latchkey_core::time::rfc3339(p.expires_at))
    .into()
}

/// The answer to a sign-in that must enroll a factor first: 401 `mfa_setup_required`
/// with the challenge and the kinds it may enroll.
pub fn mfa_setup_required(p: &PendingChallenge) -> ApiError {
    let kinds: Vec<Value> = p.allowed.iter().map(|k| k.as_str().into()).collect();
    Failure::unauthenticated(
        ErrorCode::MfaSetupRequired,
        "this account must enroll a second factor to complete sign-in",
    )
    .with("challenge_id", p.challenge_id.to_string())
    .with("allowed_factors", kinds)
    .with("expires_at", latchkey_core::time::rfc3339(p.expires_at))
    .into()
}

/// A sign-in outcome as `/v1` answers it: `complete` renders the success; a second factor
/// still to prove or enroll is the 401 above.
pub fn sign_in_answer<T>(outcome: SignInOutcome<T>, complete: impl FnOnce(T) -> Response) -> Response {
    match outcome {
        SignInOutcome::Complete(done) => complete(done),
        SignInOutcome::Challenge(p) => mfa_required(&p).into_response(),
        SignInOutcome::Enroll(p) => mfa_setup_required(&p).into_response(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut detail = Map::new();
        detail.insert("code".into(), self.code.into());
        detail.insert("message".into(), self.message.into());
        if let Some(id) = current_request_id() {
            detail.insert("request_id".into(), id.into());
        }
        detail.extend(self.extra.into_iter().map(|(k, v)| (k.to_owned(), v)));
        let body = serde_json::json!({ "error": detail });
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}
