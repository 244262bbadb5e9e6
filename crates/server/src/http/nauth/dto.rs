//! The JSON shapes of the nauth surface, in nauth-toolkit's names (camelCase). Method names
//! are nauth's: `sms`, `email`, `totp`, `passkey`, `backup` for Latchkey's `sms`,
//! `email_otp`, `totp`, `webauthn`, `backup_codes`.

use latchkey_core::factor::FactorKind;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// nauth's name of a factor kind.
pub fn method_name(kind: FactorKind) -> &'static str {
    match kind {
        FactorKind::Totp => "totp",
        FactorKind::BackupCodes => "backup",
        FactorKind::Sms => "sms",
        FactorKind::EmailOtp => "email",
        FactorKind::Webauthn => "passkey",
    }
}

/// The factor kind a nauth method name means.
pub fn method_kind(name: &str) -> Option<FactorKind> {
    FactorKind::ALL.into_iter().find(|k| method_name(*k) == name)
}

/// `POST /auth/login`: nauth's `LoginDTO` (the identifier is the account's email).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub identifier: String,
    pub password: String,
}

/// A signed-in user as nauth's `AuthResponseUser` shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuthUser {
    /// The user id (`usr_…`).
    pub sub: String,
    pub email: String,
    /// E.164, when the account has a number.
    pub phone: Option<String>,
    pub is_email_verified: bool,
    pub is_phone_verified: bool,
}

/// A completed sign-in: nauth's `AuthResponseDTO` with tokens.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokensResponse {
    /// The same EdDSA access token `/v1` issues (Bearer for `/auth/mfa/*` and `/v1`).
    pub access_token: String,
    /// Opaque (`rt_…`), rotating; refresh at `POST /v1/auth/refresh`.
    pub refresh_token: String,
    /// Milliseconds since the epoch.
    pub access_token_expires_at: i64,
    /// Milliseconds since the epoch.
    pub refresh_token_expires_at: i64,
    /// `password`.
    pub auth_method: &'static str,
    /// Whether a remembered device stood in for the second factor (always `false` here:
    /// the nauth login takes no device token).
    pub trusted: bool,
    pub user: AuthUser,
    pub sub: String,
}

/// A sign-in that needs more: nauth's challenge response.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ChallengeResponse {
    /// `MFA_REQUIRED`, `MFA_SETUP_REQUIRED` or `VERIFY_PHONE`.
    pub challenge_name: &'static str,
    /// The sign-in challenge (`chl_…`): a bearer of the half-finished sign-in.
    pub session: String,
    /// `MFA_REQUIRED`: `availableMethods`, `preferredMethod`, and where a code went
    /// (`destination`, `deliveryMedium`); `MFA_SETUP_REQUIRED`: `allowedMethods`;
    /// `VERIFY_PHONE`: `requiresPhoneCollection`, or where the code went.
    pub challenge_parameters: Value,
    /// The user id.
    pub sub: String,
}

/// `POST /auth/respond-challenge`: nauth's `RespondChallengeDTO`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RespondChallengeRequest {
    pub session: String,
    /// `MFA_REQUIRED`, `MFA_SETUP_REQUIRED` or `VERIFY_PHONE`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `sms`, `email`, `totp`, `passkey`, `backup`.
    pub method: Option<String>,
    pub code: Option<String>,
    /// `VERIFY_PHONE`: the number to verify (E.164).
    pub phone: Option<String>,
    /// `MFA_REQUIRED` with `passkey`: the WebAuthn `AuthenticationResponseJSON`.
    pub credential: Option<Value>,
    /// `MFA_REQUIRED`: which device, when several of a method fit (`fac_…`).
    #[serde(rename = "deviceId")]
    pub device_id: Option<String>,
    /// `MFA_SETUP_REQUIRED`: `{"code"}`, `{"deviceId"}` after an auto-completed setup, or
    /// `{"secret","code"}` for TOTP.
    #[serde(rename = "setupData")]
    pub setup_data: Option<SetupAnswer>,
}

/// What a forced setup is completed with.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupAnswer {
    pub code: Option<String>,
    #[serde(rename = "deviceId")]
    pub device_id: Option<String>,
    /// TOTP: the secret `challenge/setup-data` returned (accepted and not needed: the
    /// server keeps it sealed).
    pub secret: Option<String>,
    /// Passkey: the WebAuthn `RegistrationResponseJSON`.
    pub credential: Option<Value>,
}

/// `POST /auth/challenge/setup-data`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeSetupRequest {
    pub session: String,
    /// `sms`, `email`, `totp`, `passkey`.
    pub method: String,
    /// SMS only: a number to use when the account has none (E.164).
    pub phone: Option<String>,
}

/// `{"setupData": {…}}`: what setting up a method needs next.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupDataResponse {
    /// SMS: `{"maskedPhone"}` (a code was sent) or `{"autoCompleted":true,"deviceId"}`;
    /// email: `{"maskedEmail"}`; TOTP: `{"secret","qrCode","otpauthUrl","manualEntryKey"}`;
    /// passkey: `{"options"}`.
    pub setup_data: Value,
}

/// `POST /auth/challenge/resend`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendRequest {
    pub session: String,
    /// Another method to send a code by (`sms`, `email`); the challenge's current one if
    /// left out.
    pub method: Option<String>,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ResendResponse {
    /// Masked.
    pub destination: Option<String>,
    /// `SMS` or `EMAIL`.
    pub delivery_medium: &'static str,
}

/// `GET /auth/mfa/status`: nauth's `GetMFAStatusResponseDTO`.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaStatus {
    /// The user has an active factor.
    pub enabled: bool,
    /// The policy requires a second factor of this user.
    pub required: bool,
    /// Methods of the user's active factors (backup codes aside).
    pub configured_methods: Vec<&'static str>,
    /// Methods the user may set up.
    pub available_methods: Vec<&'static str>,
    pub has_backup_codes: bool,
    pub preferred_method: Option<&'static str>,
    /// Always `false`: Latchkey has no per-user exemption (a user-level policy rule says
    /// who need not use MFA).
    pub mfa_exempt: bool,
    pub mfa_exempt_reason: Option<String>,
    pub mfa_exempt_granted_at: Option<String>,
}

/// `POST /auth/mfa/setup-data`: nauth's `{"methodName"}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaSetupRequest {
    #[serde(rename = "methodName")]
    pub method_name: String,
    /// Optional method-specific input: `{"phone"}` for SMS (the account's number if left
    /// out), `{"name"}` for TOTP and passkeys.
    #[serde(rename = "setupData")]
    pub setup_data: Option<SetupInput>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupInput {
    pub phone: Option<String>,
    pub name: Option<String>,
}

/// `POST /auth/mfa/verify-setup`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifySetupRequest {
    #[serde(rename = "methodName")]
    pub method_name: String,
    #[serde(rename = "setupData")]
    pub setup_data: SetupAnswer,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct VerifySetupResponse {
    /// The new device (`fac_…`).
    pub device_id: String,
    /// Shown once, when this was the user's first factor (a Latchkey addition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_codes: Option<Vec<String>>,
}

/// A device as nauth's `MFADeviceResponseDTO` shows it.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    /// `fac_…` (nauth's ids are numbers; Latchkey's are strings).
    pub id: String,
    /// `sms`, `email`, `totp`, `passkey`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub name: Option<String>,
    pub is_preferred: bool,
    pub is_active: bool,
    pub created_at: String,
    /// Masked, for SMS and email (a Latchkey addition).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct DevicesResponse {
    pub devices: Vec<Device>,
}

/// A confirmation, as nauth answers `setPreferredDevice` and `removeDevice`.
#[derive(Serialize, ToSchema)]
pub struct MessageResponse {
    pub message: &'static str,
}

/// The tenant's MFA settings in nauth's `mfa` config names.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MfaConfig {
    /// Some method is allowed.
    pub enabled: bool,
    /// `OPTIONAL`, `REQUIRED` or `ADAPTIVE`.
    pub enforcement: &'static str,
    pub allowed_methods: Vec<&'static str>,
    /// `never`, `user_opt_in` or `always`.
    pub remember_devices: &'static str,
    pub remember_device_days: u16,
    #[serde(rename = "bypassMFAForTrustedDevices")]
    pub bypass_mfa_for_trusted_devices: bool,
}

/// A change to the tenant's MFA settings in nauth's names; what is left out stays.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct MfaConfigPatch {
    /// `true` only: MFA is not switched off as a whole here (choose `OPTIONAL`, or narrow
    /// `allowedMethods`).
    pub enabled: Option<bool>,
    pub enforcement: Option<String>,
    pub allowed_methods: Option<Vec<String>>,
    pub remember_devices: Option<String>,
    pub remember_device_days: Option<u64>,
    #[serde(rename = "bypassMFAForTrustedDevices")]
    pub bypass_mfa_for_trusted_devices: Option<bool>,
}
