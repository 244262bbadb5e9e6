//! API errors: one JSON shape, `{"error":{"code","message","request_id",…}}`, a stable
//! snake_case code per failure, and a pure mapping from service errors. Internal detail is
//! logged once here and never returned.

use crate::service::ServiceError;
use crate::telemetry::current_request_id;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
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
    /// Stable, machine-readable snake_case code.
    pub code: String,
    /// Human-readable explanation; may change between versions.
    pub message: String,
    /// Correlates with the server's log lines and the `X-Request-Id` header.
    pub request_id: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            extra: Vec::new(),
            retry_after: None,
        }
    }

    pub fn with(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.extra.push((key, value.into()));
        self
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such route")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "method not allowed on this route",
        )
    }
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        use ServiceError::*;
        match e {
            InvalidCredentials => ApiError::unauthorized("invalid_credentials", "invalid email or password"),
            TooManyAttempts { retry_after_secs } => {
                let mut err = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_attempts",
                    "too many attempts; try again later",
                );
                err.retry_after = Some(retry_after_secs);
                err
            }
            EmailTaken => ApiError::new(
                StatusCode::CONFLICT,
                "email_taken",
                "an account with this email already exists",
            ),
            InvalidInput { code, message } => ApiError::bad_request(code, message),
            SignupDisabled => ApiError::new(
                StatusCode::FORBIDDEN,
                "signup_disabled",
                "sign-up is disabled for this tenant",
            ),
            InvalidRefreshToken => ApiError::unauthorized(
                "invalid_refresh_token",
                "the refresh token is invalid, expired or revoked",
            ),
            SessionEnded => ApiError::unauthorized("invalid_token", "the session has ended"),
            UserNotFound => ApiError::new(
                StatusCode::NOT_FOUND,
                "user_not_found",
                "no such user in this tenant",
            ),
            TenantNotFound => ApiError::new(StatusCode::NOT_FOUND, "unknown_tenant", "no such tenant"),
            InvalidSettings(problems) => {
                let list: Vec<Value> = problems
                    .into_iter()
                    .map(|(field, message)| serde_json::json!({ "field": field, "message": message }))
                    .collect();
                ApiError::bad_request("invalid_settings", "one or more settings are invalid")
                    .with("problems", list)
            }
            Overloaded => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "the server is busy; try again",
            ),
            MfaRequired(p) => {
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
                ApiError::unauthorized("mfa_required", "a second factor is required to complete sign-in")
                    .with("challenge_id", p.challenge_id.to_string())
                    .with("available_factors", factors)
                    .with("expires_at", latchkey_core::time::rfc3339(p.expires_at))
            }
            MfaSetupRequired(p) => {
                let kinds: Vec<Value> = p.allowed.iter().map(|k| k.as_str().into()).collect();
                ApiError::unauthorized(
                    "mfa_setup_required",
                    "this account must enroll a second factor to complete sign-in",
                )
                .with("challenge_id", p.challenge_id.to_string())
                .with("allowed_factors", kinds)
                .with("expires_at", latchkey_core::time::rfc3339(p.expires_at))
            }
            InvalidCode => ApiError::unauthorized("invalid_code", "the code is invalid"),
            InvalidChallenge => ApiError::unauthorized(
                "invalid_challenge",
                "the challenge is invalid or already completed",
            ),
            ChallengeExpired => {
                ApiError::unauthorized("challenge_expired", "the challenge has expired; sign in again")
            }
            FactorNotFound => ApiError::new(StatusCode::NOT_FOUND, "factor_not_found", "no such factor"),
            FactorNotAllowed => ApiError::bad_request(
                "factor_not_allowed",
                "this factor type cannot be enrolled or used in this tenant",
            ),
            UnknownFactorType => ApiError::bad_request(
                "unknown_factor_type",
                "unknown factor type; known: totp, sms, email_otp, backup_codes",
            ),
            FactorIdRequired => ApiError::bad_request(
                "factor_id_required",
                "several of the user's factors fit; give factor_id (or a type with one factor)",
            ),
            FactorNotPending => ApiError::new(
                StatusCode::CONFLICT,
                "factor_not_pending",
                "the factor is not awaiting confirmation (already active, or the enrollment lapsed)",
            ),
            MfaNotEnabled => ApiError::new(
                StatusCode::CONFLICT,
                "mfa_not_enabled",
                "the user has no active second factor",
            ),
            Forbidden => ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                "not allowed to act on this user",
            ),
            MfaVerificationRequired => ApiError::new(
                StatusCode::FORBIDDEN,
                "mfa_verification_required",
                "sign in again with a second factor (within the last 15 minutes) to change factors",
            ),
            PhoneNotVerified => ApiError::new(
                StatusCode::CONFLICT,
                "phone_not_verified",
                "the user's phone number has not been verified with a code; enroll the factor with a code instead",
            ),
            CountryNotAllowed => ApiError::bad_request(
                "country_not_allowed",
                "SMS to this country is not allowed for this tenant",
            ),
            NumberTypeNotAllowed(class) => ApiError::bad_request(
                "number_type_not_allowed",
                format!("SMS to {} numbers is not allowed for this tenant", class.as_str()),
            )
            .with("number_type", class.as_str()),
            RateLimited { retry_after_secs } => {
                let mut err = ApiError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "rate_limited",
                    "too many codes requested; try again later",
                );
                err.retry_after = Some(retry_after_secs);
                err
            }
            InvalidProvider(problems) => {
                let list: Vec<Value> = problems.into_iter().map(Value::from).collect();
                ApiError::bad_request("invalid_provider", "the provider configuration is invalid").with("problems", list)
            }
            Internal(detail) => {
                tracing::error!(detail = %detail, "internal error");
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "an internal error occurred",
                )
            }
        }
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
