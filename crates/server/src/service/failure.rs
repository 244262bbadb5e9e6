//! Why a request failed, said once for every surface: a neutral [`Failure`] (a kind, a
//! stable snake_case code, a message, details, a wait) that knows nothing of HTTP. Each
//! surface renders it its own way: `/v1` as the JSON error envelope (`http/v1/error.rs`),
//! a hosted page as a redirect or an HTML page. Internal detail is logged here, once, and
//! never carried into a failure.

use super::ServiceError;
use serde_json::Value;

/// Declares [`ErrorCode`] from one list: each variant with its wire spelling. The enum, its
/// serde name (which the OpenAPI schema reads), [`ErrorCode::as_str`] and [`ErrorCode::ALL`]
/// all come from that list, so the schema cannot drift from what the server sends.
macro_rules! error_codes {
    ($($variant:ident = $code:tt,)*) => {
        /// Every stable, machine-readable code a failure can carry (the `code` of `/v1`'s
        /// error envelope). A new code is a new variant here, and so is in the OpenAPI
        /// document's `ErrorCode` enum and the SDK's types.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, utoipa::ToSchema)]
        pub enum ErrorCode {
            $(#[serde(rename = $code)] $variant,)*
        }

        impl ErrorCode {
            /// Every code, in the order declared.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$variant,)*];

            /// The code as it goes on the wire.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $(ErrorCode::$variant => $code,)*
                }
            }
        }
    };
}

error_codes! {
    AlreadyEnrolled = "already_enrolled",
    ApplicationNotFound = "application_not_found",
    ChallengeExpired = "challenge_expired",
    CountryNotAllowed = "country_not_allowed",
    CredentialTaken = "credential_taken",
    DatabaseUnavailable = "database_unavailable",
    DeliveryInProgress = "delivery_in_progress",
    DeliveryNotFound = "delivery_not_found",
    DeviceNotFound = "device_not_found",
    DuplicateField = "duplicate_field",
    EmailAlreadyVerified = "email_already_verified",
    EmailTaken = "email_taken",
    FactorIdRequired = "factor_id_required",
    FactorNotAllowed = "factor_not_allowed",
    FactorNotFound = "factor_not_found",
    FactorNotPending = "factor_not_pending",
    Forbidden = "forbidden",
    IdempotencyKeyExpired = "idempotency_key_expired",
    IdempotencyKeyInUse = "idempotency_key_in_use",
    IdempotencyKeyReused = "idempotency_key_reused",
    InsufficientScope = "insufficient_scope",
    InternalError = "internal_error",
    InvalidApiKey = "invalid_api_key",
    InvalidApplication = "invalid_application",
    InvalidAssignment = "invalid_assignment",
    InvalidBody = "invalid_body",
    InvalidChallenge = "invalid_challenge",
    InvalidClient = "invalid_client",
    InvalidCode = "invalid_code",
    InvalidCredential = "invalid_credential",
    InvalidCredentialFormat = "invalid_credential_format",
    InvalidCredentials = "invalid_credentials",
    InvalidCredentialsFormat = "invalid_credentials_format",
    InvalidEmail = "invalid_email",
    InvalidField = "invalid_field",
    InvalidGrantTypes = "invalid_grant_types",
    InvalidIdempotencyKey = "invalid_idempotency_key",
    InvalidJson = "invalid_json",
    InvalidKeyId = "invalid_key_id",
    InvalidLink = "invalid_link",
    InvalidName = "invalid_name",
    InvalidPassword = "invalid_password",
    InvalidPhoneNumber = "invalid_phone_number",
    InvalidProvider = "invalid_provider",
    InvalidQuery = "invalid_query",
    InvalidRedirectUri = "invalid_redirect_uri",
    InvalidRefreshToken = "invalid_refresh_token",
    InvalidRequest = "invalid_request",
    InvalidRule = "invalid_rule",
    InvalidSettings = "invalid_settings",
    InvalidTenantAddress = "invalid_tenant_address",
    InvalidTenantId = "invalid_tenant_id",
    InvalidToken = "invalid_token",
    InvalidUserId = "invalid_user_id",
    InvalidWebhook = "invalid_webhook",
    MethodNotAllowed = "method_not_allowed",
    MfaNotEnabled = "mfa_not_enabled",
    MfaRequired = "mfa_required",
    MfaSetupRequired = "mfa_setup_required",
    MfaVerificationRequired = "mfa_verification_required",
    MissingCredentials = "missing_credentials",
    MissingField = "missing_field",
    NameTaken = "name_taken",
    NotFound = "not_found",
    NumberTypeNotAllowed = "number_type_not_allowed",
    OrganizationNotFound = "organization_not_found",
    Overloaded = "overloaded",
    PayloadTooLarge = "payload_too_large",
    PhoneNotVerified = "phone_not_verified",
    RateLimited = "rate_limited",
    RequestTimeout = "request_timeout",
    RoleNotFound = "role_not_found",
    RuleNotFound = "rule_not_found",
    SignInRefused = "sign_in_refused",
    SignupDisabled = "signup_disabled",
    TenantMismatch = "tenant_mismatch",
    TooManyAttempts = "too_many_attempts",
    TooManyWebhooks = "too_many_webhooks",
    UnknownFactorType = "unknown_factor_type",
    UnknownField = "unknown_field",
    UnknownTenant = "unknown_tenant",
    UnsupportedMediaType = "unsupported_media_type",
    UserNotFound = "user_not_found",
    WebhookNotFound = "webhook_not_found",
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl From<ErrorCode> for Value {
    fn from(code: ErrorCode) -> Self {
        Value::from(code.as_str())
    }
}

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
    pub code: ErrorCode,
    /// Human-readable explanation; may change between versions.
    pub message: String,
    /// Extra named values a client may act on (`problems`, `number_type`, …).
    pub details: Vec<(&'static str, Value)>,
    /// Seconds until a retry may succeed.
    pub retry_after_secs: Option<u64>,
}

impl Failure {
    pub fn new(kind: FailureKind, code: ErrorCode, message: impl Into<String>) -> Self {
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

    pub fn invalid(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(FailureKind::Invalid, code, message)
    }

    pub fn unauthenticated(code: ErrorCode, message: impl Into<String>) -> Self {
        Self::new(FailureKind::Unauthenticated, code, message)
    }

    pub fn not_found() -> Self {
        Self::new(FailureKind::NotFound, ErrorCode::NotFound, "no such route")
    }

    pub fn method_not_allowed() -> Self {
        Self::new(
            FailureKind::MethodNotAllowed,
            ErrorCode::MethodNotAllowed,
            "method not allowed on this route",
        )
    }

    pub fn unsupported_media_type() -> Self {
        Self::new(
            FailureKind::UnsupportedMediaType,
            ErrorCode::UnsupportedMediaType,
            "send the body as application/json",
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            FailureKind::TooLarge,
            ErrorCode::PayloadTooLarge,
            "request body is too large",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            FailureKind::Internal,
            ErrorCode::InternalError,
            "an internal error occurred",
        )
    }
}

impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Self {
        use ServiceError::*;
        match e {
            InvalidCredentials => Failure::unauthenticated(ErrorCode::InvalidCredentials, "invalid email or password"),
            SignInRefused => Failure::new(
                FailureKind::Forbidden,
                ErrorCode::SignInRefused,
                "this sign-in was refused; if it was you, contact your administrator",
            ),
            TooManyAttempts { retry_after_secs } => Failure::new(
                FailureKind::Throttled,
                ErrorCode::TooManyAttempts,
                "too many attempts; try again later",
            )
            .retry_after(retry_after_secs),
            EmailTaken => Failure::new(
                FailureKind::Conflict,
                ErrorCode::EmailTaken,
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
                ErrorCode::SignupDisabled,
                "sign-up is disabled for this tenant",
            ),
            InvalidRefreshToken => Failure::unauthenticated(
                ErrorCode::InvalidRefreshToken,
                "the refresh token is invalid, expired or revoked",
            ),
            SessionEnded => Failure::unauthenticated(ErrorCode::InvalidToken, "the session has ended"),
            UserNotFound => Failure::new(FailureKind::NotFound, ErrorCode::UserNotFound, "no such user in this tenant"),
            TenantNotFound => Failure::new(FailureKind::NotFound, ErrorCode::UnknownTenant, "no such tenant"),
            InvalidSettings(problems) => {
                let list: Vec<Value> = problems
                    .into_iter()
                    .map(|(field, message)| serde_json::json!({ "field": field, "message": message }))
                    .collect();
                Failure::invalid(ErrorCode::InvalidSettings, "one or more settings are invalid").with("problems", list)
            }
            Overloaded => Failure::new(FailureKind::Unavailable, ErrorCode::Overloaded, "the server is busy; try again"),
            InvalidCode => Failure::unauthenticated(ErrorCode::InvalidCode, "the code is invalid"),
            InvalidCredential => Failure::unauthenticated(
                ErrorCode::InvalidCredential,
                "the passkey or security key response was not accepted",
            ),
            CredentialTaken => Failure::new(
                FailureKind::Conflict,
                ErrorCode::CredentialTaken,
                "this passkey or security key is registered already",
            ),
            InvalidChallenge => Failure::unauthenticated(
                ErrorCode::InvalidChallenge,
                "the challenge is invalid or already completed",
            ),
            ChallengeExpired => {
                Failure::unauthenticated(ErrorCode::ChallengeExpired, "the challenge has expired; sign in again")
            }
            FactorNotFound => Failure::new(FailureKind::NotFound, ErrorCode::FactorNotFound, "no such factor"),
            FactorNotAllowed => Failure::invalid(
                ErrorCode::FactorNotAllowed,
                "this factor type cannot be enrolled or used in this tenant",
            ),
            UnknownFactorType => Failure::invalid(
                ErrorCode::UnknownFactorType,
                "unknown factor type; known: totp, sms, email_otp, webauthn, backup_codes",
            ),
            FactorIdRequired => Failure::invalid(
                ErrorCode::FactorIdRequired,
                "several of the user's factors fit; give factor_id (or a type with one factor)",
            ),
            FactorNotPending => Failure::new(
                FailureKind::Conflict,
                ErrorCode::FactorNotPending,
                "the factor is not awaiting confirmation (already active, or the enrollment lapsed)",
            ),
            MfaNotEnabled => Failure::new(
                FailureKind::Conflict,
                ErrorCode::MfaNotEnabled,
                "the user has no active second factor",
            ),
            ServiceError::Forbidden => Failure::new(
                FailureKind::Forbidden,
                ErrorCode::Forbidden,
                "not allowed to act on this user",
            ),
            MfaVerificationRequired => Failure::new(
                FailureKind::Forbidden,
                ErrorCode::MfaVerificationRequired,
                "sign in again with a second factor (within the last 15 minutes) to change factors",
            ),
            InsufficientScope(scope) => Failure::new(
                FailureKind::Forbidden,
                ErrorCode::InsufficientScope,
                format!(
                    "this operation needs a secret key with the `{}` scope (latchkey keys create --scope {})",
                    scope.as_str(),
                    scope.as_str()
                ),
            )
            .with("scope", scope.as_str()),
            PhoneNotVerified => Failure::new(
                FailureKind::Conflict,
                ErrorCode::PhoneNotVerified,
                "the user's phone number has not been verified with a code; enroll the factor with a code instead",
            ),
            CountryNotAllowed => Failure::invalid(
                ErrorCode::CountryNotAllowed,
                "SMS to this country is not allowed for this tenant",
            ),
            NumberTypeNotAllowed(class) => Failure::invalid(
                ErrorCode::NumberTypeNotAllowed,
                format!("SMS to {} numbers is not allowed for this tenant", class.as_str()),
            )
            .with("number_type", class.as_str()),
            RateLimited { retry_after_secs } => Failure::new(
                FailureKind::Throttled,
                ErrorCode::RateLimited,
                "too many codes requested; try again later",
            )
            .retry_after(retry_after_secs),
            InvalidProvider(problems) => {
                let list: Vec<Value> = problems.into_iter().map(Value::from).collect();
                Failure::invalid(ErrorCode::InvalidProvider, "the provider configuration is invalid").with("problems", list)
            }
            ApplicationNotFound => Failure::new(
                FailureKind::NotFound,
                ErrorCode::ApplicationNotFound,
                "no such application in this tenant",
            ),
            OrganizationNotFound => Failure::new(
                FailureKind::NotFound,
                ErrorCode::OrganizationNotFound,
                "no such organization in this tenant",
            ),
            RoleNotFound => Failure::new(FailureKind::NotFound, ErrorCode::RoleNotFound, "no such role in this tenant"),
            DeviceNotFound => Failure::new(
                FailureKind::NotFound,
                ErrorCode::DeviceNotFound,
                "no such remembered device for this user",
            ),
            NameTaken => Failure::new(
                FailureKind::Conflict,
                ErrorCode::NameTaken,
                "the tenant has one of that name already",
            ),
            // RFC 6749 §5.2's name for it, so the token endpoint can say the same.
            InvalidClient => Failure::unauthenticated(ErrorCode::InvalidClient, "client authentication failed"),
            InvalidLink => Failure::invalid(
                ErrorCode::InvalidLink,
                "the link or code is invalid, has expired or was used already; ask for a new one",
            ),
            EmailAlreadyVerified => Failure::new(
                FailureKind::Conflict,
                ErrorCode::EmailAlreadyVerified,
                "the email address is verified already",
            ),
            AlreadyEnrolled => Failure::new(
                FailureKind::Conflict,
                ErrorCode::AlreadyEnrolled,
                "the user has a second factor already; allow multiple enrollments to let them add another",
            ),
            InvalidWebhook(problems) => {
                let list: Vec<Value> = problems
                    .into_iter()
                    .map(|(field, message)| serde_json::json!({"field": field, "message": message}))
                    .collect();
                Failure::invalid(ErrorCode::InvalidWebhook, "the webhook is invalid").with("problems", list)
            }
            WebhookNotFound => Failure::new(FailureKind::NotFound, ErrorCode::WebhookNotFound, "no such webhook in this tenant"),
            DeliveryNotFound => Failure::new(
                FailureKind::NotFound,
                ErrorCode::DeliveryNotFound,
                "no such delivery of this webhook",
            ),
            DeliveryInProgress => Failure::new(
                FailureKind::Conflict,
                ErrorCode::DeliveryInProgress,
                "the delivery is being attempted now; ask again once it is done",
            ),
            TooManyWebhooks => Failure::new(
                FailureKind::Conflict,
                ErrorCode::TooManyWebhooks,
                "the tenant has as many webhooks as it may; remove one first",
            ),
            ServiceError::Internal(detail) => {
                tracing::error!(detail = %detail, "internal error");
                Failure::internal()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn every_code_is_snake_case_unique_and_serialized_as_its_wire_name() {
        let mut seen = BTreeSet::new();
        for code in ErrorCode::ALL {
            let wire = code.as_str();
            assert!(
                !wire.is_empty()
                    && wire.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
                    && !wire.starts_with('_')
                    && !wire.ends_with('_'),
                "{wire} is not snake_case"
            );
            assert!(seen.insert(wire), "{wire} is declared twice");
            assert_eq!(serde_json::to_value(code).unwrap(), Value::from(wire));
            assert_eq!(Value::from(*code), Value::from(wire));
        }
    }

    #[test]
    fn the_schema_lists_exactly_the_declared_codes() {
        use utoipa::PartialSchema as _;
        let schema = serde_json::to_value(ErrorCode::schema()).unwrap();
        let listed: BTreeSet<&str> = schema["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("no enum in {schema}"))
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        let declared: BTreeSet<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(listed, declared);
    }

    #[test]
    fn a_service_error_keeps_its_code() {
        let f = Failure::from(ServiceError::InvalidCode);
        assert_eq!(f.code, ErrorCode::InvalidCode);
        assert_eq!(f.kind, FailureKind::Unauthenticated);
        let f = Failure::from(ServiceError::RateLimited { retry_after_secs: 7 });
        assert_eq!((f.code.as_str(), f.retry_after_secs), ("rate_limited", Some(7)));
    }
}
