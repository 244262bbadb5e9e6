//! The use cases, one function each, as methods on [`crate::App`]. They validate domain
//! input, enforce policy, and talk to the store; they know nothing of HTTP.

pub mod admin;
pub mod applications;
pub mod audit;
pub mod auth;
pub mod browser;
pub mod codes;
pub mod devices;
pub mod factors;
pub mod failure;
pub mod input;
pub mod management;
pub mod mfa;
pub mod mfa_api;
pub mod notify;
pub mod oidc;
pub mod outcome;
pub(crate) mod outgoing;
pub mod passkeys;
pub mod policy;
pub mod providers;
pub mod recovery;
pub mod risk;
pub mod sealed;
pub mod sessions;
pub mod tenants;
pub mod tickets;
pub mod webhooks;

pub use failure::{ErrorCode, Failure, FailureKind};
pub use input::InputError;
use latchkey_store::StoreError;

/// Why a use case failed. Each variant maps to one neutral [`Failure`] with a stable code
/// (`failure.rs`), which each API surface renders. A sign-in that needs a second factor is
/// not a failure: it is an outcome ([`outcome::SignInOutcome`]).
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error("too many attempts; try again later")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Adaptive MFA refused a sign-in with the right password: its risk reached the
    /// tenant's `deny_score`, or it needed a second factor the user does not have. The same
    /// answer whatever the reason; the reasons are in the audit log only.
    #[error("this sign-in was refused")]
    SignInRefused,
    #[error("an account with this email already exists")]
    EmailTaken,
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("sign-up is disabled for this tenant")]
    SignupDisabled,
    #[error("the refresh token is invalid, expired or revoked")]
    InvalidRefreshToken,
    #[error("the session has ended")]
    SessionEnded,
    #[error("user not found")]
    UserNotFound,
    #[error("tenant not found")]
    TenantNotFound,
    #[error("invalid settings")]
    InvalidSettings(Vec<(String, String)>),
    #[error("the server is busy; try again")]
    Overloaded,
    #[error("the code is invalid")]
    InvalidCode,
    #[error("the credential is invalid")]
    InvalidCredential,
    #[error("this authenticator is registered already")]
    CredentialTaken,
    #[error("the challenge is invalid or already completed")]
    InvalidChallenge,
    #[error("the challenge has expired")]
    ChallengeExpired,
    #[error("no such factor")]
    FactorNotFound,
    #[error("this factor type is not allowed for this tenant")]
    FactorNotAllowed,
    #[error("no such factor type")]
    UnknownFactorType,
    #[error("say which factor: the user has several that fit")]
    FactorIdRequired,
    #[error("the factor is not awaiting confirmation")]
    FactorNotPending,
    #[error("the user has no active second factor")]
    MfaNotEnabled,
    #[error("not allowed to act on this user")]
    Forbidden,
    #[error("verify a second factor again first")]
    MfaVerificationRequired,
    /// A secret key without the scope a destructive operation needs.
    #[error("the secret key lacks the scope {}", .0.as_str())]
    InsufficientScope(latchkey_core::scope::KeyScope),
    #[error("the phone number has not been verified")]
    PhoneNotVerified,
    #[error("SMS to this country is not allowed")]
    CountryNotAllowed,
    #[error("SMS to this type of number is not allowed")]
    NumberTypeNotAllowed(latchkey_core::phone::NumberClass),
    #[error("too many codes requested; try again later")]
    RateLimited { retry_after_secs: u64 },
    #[error("invalid provider configuration")]
    InvalidProvider(Vec<String>),
    #[error("no such application")]
    ApplicationNotFound,
    #[error("no such organization")]
    OrganizationNotFound,
    #[error("no such role")]
    RoleNotFound,
    #[error("no such remembered device")]
    DeviceNotFound,
    /// An organization or role name the tenant uses already.
    #[error("the name is taken")]
    NameTaken,
    /// Client authentication failed: unknown client, wrong or missing secret, or a secret
    /// from a public client. One error for all, so it tells nothing about which.
    #[error("client authentication failed")]
    InvalidClient,
    #[error("the link or code is invalid, expired or already used")]
    InvalidLink,
    #[error("the email address is verified already")]
    EmailAlreadyVerified,
    /// An enrollment ticket for a user who has a second factor, without
    /// `allow_multiple`.
    #[error("the user has a second factor already")]
    AlreadyEnrolled,
    #[error("invalid webhook")]
    InvalidWebhook(Vec<(String, String)>),
    #[error("no such webhook")]
    WebhookNotFound,
    #[error("no such delivery")]
    DeliveryNotFound,
    #[error("the delivery is being attempted now")]
    DeliveryInProgress,
    #[error("too many webhooks")]
    TooManyWebhooks,
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        ServiceError::Internal(e.to_string())
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;
