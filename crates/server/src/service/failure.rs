//! Why a request failed, said once for every surface: a neutral [`Failure`] (a kind, a
//! stable snake_case code, a message, details, a wait) that knows nothing of HTTP. Each
//! surface renders it its own way: `/v1` as the JSON error envelope (`http/v1/error.rs`),
//! a hosted page as a redirect or an HTML page. Internal detail is logged here, once, and
//! never carried into a failure.

use super::ServiceError;
use serde_json::Value;

/// What class of failure this is; a surface picks its status (or page) from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The request is malformed or a value in it is refused.
    Invalid,
    /// No credential, or one that does not prove who the caller is.
    Unauthenticated,
    /// The caller is known but may not do this.
    Forbidden,
    /// The thing named does not exist (or may not be seen).
    NotFound,
    /// The route exists but not with this method.
    MethodNotAllowed,
    /// The request conflicts with the current state.
    Conflict,
    /// Well formed, but cannot be processed as it is (an idempotency key reused).
    Unprocessable,
    /// The body is not in a format the route reads.
    UnsupportedMediaType,
    /// The body is larger than the server accepts.
    TooLarge,
    /// The body did not arrive in time.
    Timeout,
    /// Too many attempts or sends; `retry_after_secs` says when to try again.
    Throttled,
    /// The server cannot take the request now.
    Unavailable,
    /// Something went wrong on our side.
    Internal,
}

#[derive(Debug, Clone)]
pub struct Failure {
    pub kind: FailureKind,
    /// Stable, machine-readable snake_case code.
    pub code: &'static str,
    /// Human-readable explanation; may change between versions.
    pub message: String,
    /// Extra named values a client may act on (`problems`, `number_type`, …).
    pub details: Vec<(&'static str, Value)>,
    /// Seconds until a retry may succeed.
    pub retry_after_secs: Option<u64>,
}

impl Failure {
    pub fn new(kind: FailureKind, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            kind,
            code,
            message: message.into(),
            details: Vec::new(),
            retry_after_secs: None,
        }
    }

    pub fn with(mut self, key: &'static str, value: impl Into<Value>) -> Self {
        self.details.push((key, value.into()));
        self
    }

    pub fn retry_after(mut self, secs: u64) -> Self {
        self.retry_after_secs = Some(secs);
        self
    }

    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(FailureKind::Invalid, code, message)
    }

    pub fn unauthenticated(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(FailureKind::Unauthenticated, code, message)
    }

    pub fn not_found() -> Self {
        Self::new(FailureKind::NotFound, "not_found", "no such route")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            FailureKind::MethodNotAllowed,
            "method_not_allowed",
            "method not allowed on this route",
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            FailureKind::UnsupportedMediaType,
            "unsupported_media_type",
            "send the body as application/json",
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            FailureKind::TooLarge,
            "payload_too_large",
            "request body is too large",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            FailureKind::Internal,
            "internal_error",
            "an internal error occurred",
        )
    }
}

impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Self {
        use ServiceError::*;
        match e {
            InvalidCredentials => Failure::unauthenticated("invalid_credentials", "invalid email or password"),
            SignInRefused => Failure::new(
                FailureKind::Forbidden,
                "sign_in_refused",
                "this sign-in was refused; if it was you, contact your administrator",
            ),
            TooManyAttempts { retry_after_secs } => Failure::new(
                FailureKind::Throttled,
                "too_many_attempts",
                "too many attempts; try again later",
            )
            .retry_after(retry_after_secs),
            EmailTaken => Failure::new(
                FailureKind::Conflict,
                "email_taken",
                "an account with this email already exists",
            ),
            Input(input) => {
                let details = input.details();
                let mut failure = Failure::invalid(input.code(), input.to_string());
                failure.details = details;
                failure
            }
            SignupDisabled => Failure::new(
                FailureKind::Forbidden,
                "signup_disabled",
                "sign-up is disabled for this tenant",
            ),
            InvalidRefreshToken => Failure::unauthenticated(
                "invalid_refresh_token",
                "the refresh token is invalid, expired or revoked",
            ),
            SessionEnded => Failure::unauthenticated("invalid_token", "the session has ended"),
            UserNotFound => Failure::new(FailureKind::NotFound, "user_not_found", "no such user in this tenant"),
            TenantNotFound => Failure::new(FailureKind::NotFound, "unknown_tenant", "no such tenant"),
            InvalidSettings(problems) => {
                let list: Vec<Value> = problems
                    .into_iter()
                    .map(|(field, message)| serde_json::json!({ "field": field, "message": message }))
                    .collect();
                Failure::invalid("invalid_settings", "one or more settings are invalid").with("problems", list)
            }
            Overloaded => Failure::new(FailureKind::Unavailable, "overloaded", "the server is busy; try again"),
            InvalidCode => Failure::unauthenticated("invalid_code", "the code is invalid"),
            InvalidCredential => Failure::unauthenticated(
                "invalid_credential",
                "the passkey or security key response was not accepted",
            ),
            CredentialTaken => Failure::new(
                FailureKind::Conflict,
                "credential_taken",
                "this passkey or security key is registered already",
            ),
            InvalidChallenge => Failure::unauthenticated(
                "invalid_challenge",
                "the challenge is invalid or already completed",
            ),
            ChallengeExpired => {
                Failure::unauthenticated("challenge_expired", "the challenge has expired; sign in again")
            }
            FactorNotFound => Failure::new(FailureKind::NotFound, "factor_not_found", "no such factor"),
            FactorNotAllowed => Failure::invalid(
                "factor_not_allowed",
                "this factor type cannot be enrolled or used in this tenant",
            ),
            UnknownFactorType => Failure::invalid(
                "unknown_factor_type",
                "unknown factor type; known: totp, sms, email_otp, webauthn, backup_codes",
            ),
            FactorIdRequired => Failure::invalid(
                "factor_id_required",
                "several of the user's factors fit; give factor_id (or a type with one factor)",
            ),
            FactorNotPending => Failure::new(
                FailureKind::Conflict,
                "factor_not_pending",
                "the factor is not awaiting confirmation (already active, or the enrollment lapsed)",
            ),
            MfaNotEnabled => Failure::new(
                FailureKind::Conflict,
                "mfa_not_enabled",
                "the user has no active second factor",
            ),
            ServiceError::Forbidden => Failure::new(
                FailureKind::Forbidden,
                "forbidden",
                "not allowed to act on this user",
            ),
            MfaVerificationRequired => Failure::new(
                FailureKind::Forbidden,
                "mfa_verification_required",
                "sign in again with a second factor (within the last 15 minutes) to change factors",
            ),
            InsufficientScope(scope) => Failure::new(
                FailureKind::Forbidden,
                "insufficient_scope",
                format!(
                    "this operation needs a secret key with the `{}` scope (latchkey keys create --scope {})",
                    scope.as_str(),
                    scope.as_str()
                ),
            )
            .with("scope", scope.as_str()),
            PhoneNotVerified => Failure::new(
                FailureKind::Conflict,
                "phone_not_verified",
                "the user's phone number has not been verified with a code; enroll the factor with a code instead",
            ),
            CountryNotAllowed => Failure::invalid(
                "country_not_allowed",
                "SMS to this country is not allowed for this tenant",
            ),
            NumberTypeNotAllowed(class) => Failure::invalid(
                "number_type_not_allowed",
                format!("SMS to {} numbers is not allowed for this tenant", class.as_str()),
            )
            .with("number_type", class.as_str()),
            RateLimited { retry_after_secs } => Failure::new(
                FailureKind::Throttled,
                "rate_limited",
                "too many codes requested; try again later",
            )
            .retry_after(retry_after_secs),
            InvalidProvider(problems) => {
                let list: Vec<Value> = problems.into_iter().map(Value::from).collect();
                Failure::invalid("invalid_provider", "the provider configuration is invalid").with("problems", list)
            }
            ApplicationNotFound => Failure::new(
                FailureKind::NotFound,
                "application_not_found",
                "no such application in this tenant",
            ),
            OrganizationNotFound => Failure::new(
                FailureKind::NotFound,
                "organization_not_found",
                "no such organization in this tenant",
            ),
            RoleNotFound => Failure::new(FailureKind::NotFound, "role_not_found", "no such role in this tenant"),
            DeviceNotFound => Failure::new(
                FailureKind::NotFound,
                "device_not_found",
                "no such remembered device for this user",
            ),
            NameTaken => Failure::new(
                FailureKind::Conflict,
                "name_taken",
                "the tenant has one of that name already",
            ),
            // RFC 6749 §5.2's name for it, so the token endpoint can say the same.
            InvalidClient => Failure::unauthenticated("invalid_client", "client authentication failed"),
            InvalidLink => Failure::invalid(
                "invalid_link",
                "the link or code is invalid, has expired or was used already; ask for a new one",
            ),
            EmailAlreadyVerified => Failure::new(
                FailureKind::Conflict,
                "email_already_verified",
                "the email address is verified already",
            ),
            AlreadyEnrolled => Failure::new(
                FailureKind::Conflict,
                "already_enrolled",
                "the user has a second factor already; allow multiple enrollments to let them add another",
            ),
            InvalidWebhook(problems) => {
                let list: Vec<Value> = problems
                    .into_iter()
                    .map(|(field, message)| serde_json::json!({"field": field, "message": message}))
                    .collect();
                Failure::invalid("invalid_webhook", "the webhook is invalid").with("problems", list)
            }
            WebhookNotFound => Failure::new(FailureKind::NotFound, "webhook_not_found", "no such webhook in this tenant"),
            DeliveryNotFound => Failure::new(
                FailureKind::NotFound,
                "delivery_not_found",
                "no such delivery of this webhook",
            ),
            DeliveryInProgress => Failure::new(
                FailureKind::Conflict,
                "delivery_in_progress",
                "the delivery is being attempted now; ask again once it is done",
            ),
            TooManyWebhooks => Failure::new(
                FailureKind::Conflict,
                "too_many_webhooks",
                "the tenant has as many webhooks as it may; remove one first",
            ),
            ServiceError::Internal(detail) => {
                tracing::error!(detail = %detail, "internal error");
                Failure::internal()
            }
        }
    }
}
