//! nauth-toolkit-style routes (`/auth/*`), so a frontend written against nauth-toolkit's
//! backend routes (its SMS, email and TOTP MFA guides) works against Latchkey unchanged:
//! the password login with its challenges (`MFA_REQUIRED`, `MFA_SETUP_REQUIRED`,
//! `VERIFY_PHONE`), `respond-challenge`, the forced-setup helpers, and the signed-in
//! user's MFA devices; plus the tenant's MFA settings in nauth's names for administrators.
//!
//! Every route maps onto the use cases `/v1` uses (`service/auth.rs`, `service/mfa.rs`):
//! the same policy engine, throttles, audit and outbox. A nauth `session` is a sign-in
//! challenge id (`chl_…`), a bearer of the half-finished sign-in exactly as `/v1`'s
//! `challenge_id` is; a device id is a factor id (`fac_…`). Failures answer in nauth's
//! error shape ([`NauthError`]), with nauth's upper-case codes.

pub mod admin;
pub mod auth;
pub mod dto;
pub mod mfa;

use super::common::Surface;
use crate::service::{ErrorCode, Failure, FailureKind, ServiceError};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::{OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::App;

/// The nauth surface: a failure is nauth's `ErrorResponseDTO`.
pub struct Nauth;

impl Surface for Nauth {
    type Rejection = NauthError;

    fn reject(failure: Failure) -> NauthError {
        NauthError::new(failure, Flow::Any)
    }
}

/// Where a failure happened, for the few codes nauth names by flow (a throttle is
/// `RATE_LIMIT_LOGIN` at login, `CHALLENGE_MAX_ATTEMPTS` in a challenge, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Any,
    /// `POST /auth/login`.
    Login,
    /// A challenge answer or a device's setup verification.
    Verify,
    /// `POST /auth/challenge/resend`.
    Resend,
}

/// A failure as nauth-toolkit's HTTP adapters answer it:
/// `{"statusCode","code","message","details"?,"timestamp"}`. Boxed: handlers return it in
/// every `Result`.
#[derive(Debug)]
pub struct NauthError(Box<Rendered>);

#[derive(Debug)]
pub struct Rendered {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Map<String, Value>,
    pub retry_after: Option<u64>,
}

/// nauth's error body, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NauthErrorBody {
    /// The HTTP status, repeated.
    pub status_code: u16,
    /// nauth's machine-readable code: `AUTH_INVALID_CREDENTIALS`, `VERIFY_CODE_INVALID`,
    /// `CHALLENGE_EXPIRED`, `CHALLENGE_MAX_ATTEMPTS`, `RATE_LIMIT_LOGIN`, `RATE_LIMIT_SMS`,
    /// `RATE_LIMIT_RESEND`, `MFA_DEVICE_NOT_FOUND`, `AUTH_TOKEN_INVALID`, `VALIDATION_FAILED`, …
    pub code: String,
    /// Human-readable; may change between versions.
    pub message: String,
    /// `retryAfter` (seconds) on throttles; `reason`: Latchkey's own snake_case code.
    pub details: Option<Value>,
    /// When it happened (ISO 8601).
    pub timestamp: String,
}

impl NauthError {
    /// `failure` in nauth's words. Latchkey's own code stays in `details.reason`, so
    /// nothing is lost where nauth has no exact name.
    pub fn new(failure: Failure, flow: Flow) -> Self {
        let (status, code) = nauth_code(&failure, flow);
        let mut details = Map::new();
        details.insert("reason".into(), failure.code.into());
        if let Some(secs) = failure.retry_after_secs {
            details.insert("retryAfter".into(), secs.into());
        }
        for (k, v) in failure.details {
            details.insert(k.to_owned(), v);
        }
        if code == "INTERNAL_ERROR" {
            // The failure carries no internal detail (`service/failure.rs`); said plainly.
            details.remove("reason");
        }
        Self(Box::new(Rendered {
            status,
            code,
            message: failure.message,
            details,
            retry_after: failure.retry_after_secs,
        }))
    }

    /// A service error met in `flow`.
    pub fn during(flow: Flow) -> impl Fn(ServiceError) -> NauthError {
        move |e| NauthError::new(Failure::from(e), flow)
    }

    /// A request that is well formed JSON but not a valid nauth request.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Failure::invalid(ErrorCode::InvalidRequest, message), Flow::Any)
    }
}

impl From<ServiceError> for NauthError {
    fn from(e: ServiceError) -> Self {
        NauthError::new(Failure::from(e), Flow::Any)
    }
}

impl From<Failure> for NauthError {
    fn from(f: Failure) -> Self {
        NauthError::new(f, Flow::Any)
    }
}

/// The status and nauth code of a failure: a pure mapping from Latchkey's code (and kind)
/// to the names nauth-toolkit's `AuthErrorCode` uses.
fn nauth_code(f: &Failure, flow: Flow) -> (StatusCode, &'static str) {
    use ErrorCode as C;
    use StatusCode as S;
    match (f.code, flow) {
        (C::InvalidCredentials, _) => (S::UNAUTHORIZED, "AUTH_INVALID_CREDENTIALS"),
        (C::TooManyAttempts, Flow::Login) => (S::TOO_MANY_REQUESTS, "RATE_LIMIT_LOGIN"),
        (C::TooManyAttempts, _) => (S::TOO_MANY_REQUESTS, "CHALLENGE_MAX_ATTEMPTS"),
        (C::RateLimited, Flow::Resend) => (S::TOO_MANY_REQUESTS, "RATE_LIMIT_RESEND"),
        (C::RateLimited, _) => (S::TOO_MANY_REQUESTS, "RATE_LIMIT_SMS"),
        (C::InvalidCode | C::InvalidCredential, _) => (S::BAD_REQUEST, "VERIFY_CODE_INVALID"),
        (C::InvalidChallenge | C::ChallengeExpired, _) => (S::UNAUTHORIZED, "CHALLENGE_EXPIRED"),
        (C::FactorNotFound | C::FactorNotPending, _) => (S::NOT_FOUND, "MFA_DEVICE_NOT_FOUND"),
        (C::MfaSetupRequired, _) => (S::FORBIDDEN, "MFA_SETUP_REQUIRED"),
        (C::MissingCredentials | C::InvalidCredentialsFormat | C::InvalidToken | C::InvalidApiKey, _) => {
            (S::UNAUTHORIZED, "AUTH_TOKEN_INVALID")
        }
        (C::UserNotFound, _) => (S::NOT_FOUND, "USER_NOT_FOUND"),
        (C::SignupDisabled, _) => (S::FORBIDDEN, "SIGNUP_DISABLED"),
        _ => match f.kind {
            FailureKind::Invalid => (S::BAD_REQUEST, "VALIDATION_FAILED"),
            FailureKind::UnsupportedMediaType => (S::UNSUPPORTED_MEDIA_TYPE, "VALIDATION_FAILED"),
            FailureKind::TooLarge => (S::PAYLOAD_TOO_LARGE, "VALIDATION_FAILED"),
            FailureKind::Timeout => (S::REQUEST_TIMEOUT, "VALIDATION_FAILED"),
            FailureKind::Unprocessable => (S::UNPROCESSABLE_ENTITY, "VALIDATION_FAILED"),
            FailureKind::Unauthenticated => (S::UNAUTHORIZED, "AUTH_TOKEN_INVALID"),
            FailureKind::Forbidden => (S::FORBIDDEN, "FORBIDDEN"),
            FailureKind::NotFound => (S::NOT_FOUND, "NOT_FOUND"),
            FailureKind::MethodNotAllowed => (S::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            FailureKind::Conflict => (S::CONFLICT, "CONFLICT"),
            FailureKind::Throttled => (S::TOO_MANY_REQUESTS, "RATE_LIMIT_LOGIN"),
            FailureKind::Unavailable => (S::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE"),
            FailureKind::Internal => (S::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR"),
        },
    }
}

impl IntoResponse for NauthError {
    fn into_response(self) -> Response {
        let this = *self.0;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        let mut body = serde_json::json!({
            "statusCode": this.status.as_u16(),
            "code": this.code,
            "message": this.message,
            "timestamp": latchkey_core::time::rfc3339(now),
        });
        if !this.details.is_empty() {
            body["details"] = Value::Object(this.details);
        }
        let mut resp = (this.status, Json(body)).into_response();
        if let Some(secs) = this.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                resp.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if this.status == StatusCode::UNAUTHORIZED {
            resp.headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        resp
    }
}

#[derive(OpenApi)]
#[openapi(tags((name = "nauth", description = "nauth-toolkit-compatible routes: login with challenges, respond-challenge, the signed-in user's MFA devices, and the tenant's MFA settings in nauth's names (docs/compat.md)")))]
struct NauthDoc;

/// Every route of the surface, registered once with both axum and the OpenAPI document.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(NauthDoc::openapi())
        .routes(routes!(auth::login))
        .routes(routes!(auth::respond_challenge))
        .routes(routes!(auth::challenge_setup_data))
        .routes(routes!(auth::challenge_resend))
        .routes(routes!(mfa::status))
        .routes(routes!(mfa::setup_data))
        .routes(routes!(mfa::verify_setup))
        .routes(routes!(mfa::devices))
        .routes(routes!(mfa::set_preferred))
        .routes(routes!(mfa::remove_device))
        .routes(routes!(admin::get_mfa_config, admin::patch_mfa_config))
}

/// The surface's routes, for the server's router.
pub fn router(_app: &App) -> Router<App> {
    routes().split_for_parts().0
}
