//! The JSON shapes of `/v1`. Request types reject unknown fields; response types are
//! built from domain records here and nowhere else, so no secret can slip into one.

use crate::service::sessions::TokenPair;
use latchkey_core::time::rfc3339;
use latchkey_store::model::User;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignupRequest {
    #[schema(example = "alice@example.com")]
    pub email: String,
    #[schema(example = "correct horse battery staple")]
    pub password: String,
    /// E.164, like `+14155552671`.
    pub phone_number: Option<String>,
    pub name: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SigninRequest {
    pub email: String,
    pub password: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    pub refresh_token: String,
}

#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SignoutRequest {
    /// Ends the session of this refresh token; without it, the access token's session ends.
    pub refresh_token: Option<String>,
}

/// A user as the API shows it: never a password hash, seed or code.
#[derive(Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub email: String,
    pub name: Option<String>,
    pub phone_number: Option<String>,
    pub phone_verified: bool,
    pub created_at: String,
    pub updated_at: String,
}

impl UserView {
    /// `phone` is the user's number, opened (it is sealed at rest).
    pub fn new(u: &User, phone: Option<String>) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email.to_string(),
            name: u.name.clone(),
            phone_number: phone,
            phone_verified: u.phone_verified_at.is_some(),
            created_at: rfc3339(u.created_at),
            updated_at: rfc3339(u.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub access_token: String,
    pub refresh_token: String,
    #[schema(example = "Bearer")]
    pub token_type: &'static str,
    /// Access-token lifetime in seconds.
    pub expires_in: u64,
}

impl From<TokenPair> for TokenResponse {
    fn from(t: TokenPair) -> Self {
        Self {
            access_token: t.access_token.expose().to_owned(),
            refresh_token: t.refresh_token.expose().to_owned(),
            token_type: "Bearer",
            expires_in: t.expires_in,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct AuthResponse {
    pub user: UserView,
    #[serde(flatten)]
    pub tokens: TokenResponse,
}

#[derive(Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<String>,
}

/// Tenant settings as the admin API shows them. Durations are strings like `15m`.
#[derive(Serialize, ToSchema)]
pub struct SettingsView {
    /// The tenant these settings belong to (the secret key's).
    pub tenant_id: String,
    #[schema(example = "15m")]
    pub access_token_ttl: String,
    #[schema(example = "30d")]
    pub refresh_token_ttl: String,
    pub signup_enabled: bool,
    pub mfa_required: bool,
    pub mfa_allowed_factors: Vec<&'static str>,
    /// TOTP steps accepted either side of now: 0 or 1.
    pub totp_window: u8,
    /// The HMAC of new TOTP factors: `SHA1` (default), `SHA256` or `SHA512`.
    #[schema(example = "SHA1")]
    pub totp_algorithm: &'static str,
    /// Failed second-factor attempts per factor before waits begin (1 to 100).
    pub mfa_max_attempts: u32,
    #[schema(example = "5m")]
    pub challenge_ttl: String,
    #[schema(example = "10m")]
    pub sms_otp_expiry: String,
    #[schema(example = "10m")]
    pub email_otp_expiry: String,
    #[schema(example = "60s")]
    pub otp_resend_cooldown: String,
    /// ISO 3166 alpha-2; `null` means every country.
    pub sms_allowed_countries: Option<Vec<String>>,
    /// Risky number types SMS may still go to (`satellite`, `international_network`,
    /// `universal`, `premium_rate`, `shared_cost`, `uan`, `personal_number`); `[]`, the
    /// default, refuses them all.
    pub sms_allowed_number_classes: Vec<&'static str>,
    pub send_limits: SendLimitsView,
    pub app_name: Option<String>,
    pub sms_template: String,
    pub email_subject_template: String,
    pub email_text_template: String,
    pub email_html_template: String,
    /// Whether MFA is required for this tenant's users once every source is counted.
    pub effective_policy: EffectivePolicyView,
    /// What a change of `mfa_allowed_factors` does to existing users (PATCH only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<ImpactView>,
}

/// The MFA requirement in force and where it comes from.
#[derive(Serialize, ToSchema)]
pub struct EffectivePolicyView {
    pub mfa_required: bool,
    /// `server` (the `MFA_REQUIRED` / `mfa_required` switch of the server's configuration)
    /// and/or `tenant` (this tenant's `mfa_required`).
    pub required_by: Vec<&'static str>,
    /// Where the server's switch was set (`MFA_REQUIRED`, `LATCHKEY_MFA_REQUIRED`, a
    /// configuration file key), when it requires MFA.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_setting: Option<String>,
}

/// Users a narrowing of the allowed factor kinds affects.
#[derive(Serialize, ToSchema)]
pub struct ImpactView {
    /// Users with MFA none of whose factors is of an allowed kind: at their next sign-in
    /// they prove one of their factors, then enroll an allowed kind.
    pub users_to_reenroll: i64,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct PatchConfigQuery {
    /// Validate and report the impact without saving.
    pub dry_run: Option<bool>,
}

/// Codes per hour and per day, by destination, user, client address and tenant.
#[derive(Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct SendLimitsView {
    pub destination_hourly: Option<u32>,
    pub destination_daily: Option<u32>,
    pub user_hourly: Option<u32>,
    pub user_daily: Option<u32>,
    pub ip_hourly: Option<u32>,
    pub ip_daily: Option<u32>,
    pub tenant_hourly: Option<u32>,
    pub tenant_daily: Option<u32>,
}

/// A duration: a string like `90s`, `15m`, `12h`, `30d`, or a number of seconds.
#[derive(Deserialize, ToSchema)]
#[serde(untagged)]
pub enum DurationInput {
    Seconds(u64),
    Text(String),
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatchRequest {
    pub access_token_ttl: Option<DurationInput>,
    pub refresh_token_ttl: Option<DurationInput>,
    pub signup_enabled: Option<bool>,
    pub mfa_required: Option<bool>,
    pub mfa_allowed_factors: Option<Vec<String>>,
    pub totp_window: Option<u64>,
    /// `SHA1`, `SHA256` or `SHA512`; applies to factors enrolled afterwards.
    pub totp_algorithm: Option<String>,
    pub mfa_max_attempts: Option<u64>,
    pub challenge_ttl: Option<DurationInput>,
    pub sms_otp_expiry: Option<DurationInput>,
    pub email_otp_expiry: Option<DurationInput>,
    pub otp_resend_cooldown: Option<DurationInput>,
    /// ISO 3166 alpha-2 codes; `[]` allows none, `null` allows all.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<Vec<String>>)]
    pub sms_allowed_countries: Option<Option<Vec<String>>>,
    /// Risky number types to allow; `[]` refuses them all.
    pub sms_allowed_number_classes: Option<Vec<String>>,
    pub send_limits: Option<SendLimitsView>,
    pub app_name: Option<String>,
    pub sms_template: Option<String>,
    pub email_subject_template: Option<String>,
    pub email_text_template: Option<String>,
    pub email_html_template: Option<String>,
}

/// Tells an absent field (`None`) from an explicit `null` (`Some(None)`).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// The delivery counters of a tenant.
#[derive(Serialize, ToSchema)]
pub struct DeliveryStats {
    pub counters: Vec<StatView>,
}

#[derive(Serialize, ToSchema)]
pub struct StatView {
    pub metric: String,
    pub label: String,
    pub count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollRequest {
    /// `totp`, `sms` or `email_otp`.
    #[schema(example = "totp")]
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(example = "My phone")]
    pub name: Option<String>,
    /// For `sms`: the number, with its country code (`+14155552671`).
    pub phone_number: Option<String>,
    /// Admin only, for `sms`: create the factor active for the user's already verified phone.
    pub confirmed: Option<bool>,
}

/// A started enrollment. For TOTP, `secret`, `otpauth_uri` and `qr_code_svg` are shown
/// only here; for SMS and email a code is on its way to the masked destination.
#[derive(Serialize, ToSchema)]
pub struct EnrollmentResponse {
    pub factor_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub status: &'static str,
    pub name: Option<String>,
    /// Base32 seed, for typing into an authenticator app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otpauth_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_code_svg: Option<String>,
    /// Masked, for `sms`: `+1***2671`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Masked, for `email_otp`: `a***@example.com`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// What the user should know about this factor's strength.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<&'static str>,
    /// The enrollment lapses unless confirmed by then.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<String>,
    /// An admin-created confirmed factor that is the user's first brings backup codes,
    /// shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_codes: Option<Vec<String>>,
}

impl From<crate::service::mfa::Enrollment> for EnrollmentResponse {
    fn from(e: crate::service::mfa::Enrollment) -> Self {
        use crate::service::factors::EnrollDetails;
        use latchkey_core::factor::Channel;
        let mut out = Self {
            factor_id: e.factor.id.to_string(),
            kind: e.factor.kind.as_str(),
            status: e.factor.status.as_str(),
            name: e.factor.name.clone(),
            secret: None,
            otpauth_uri: None,
            qr_code_svg: None,
            phone_number: None,
            email: None,
            notice: e.factor.kind.notice(),
            expires_at: e.factor.expires_at.map(rfc3339),
            backup_codes: None,
        };
        match e.details {
            EnrollDetails::Totp {
                secret_base32,
                otpauth_uri,
                qr_code_svg,
            } => {
                out.secret = Some(secret_base32.to_string());
                out.otpauth_uri = Some(otpauth_uri.to_string());
                out.qr_code_svg = Some(qr_code_svg);
            }
            EnrollDetails::Sent {
                channel: Channel::Sms,
                destination,
            } => out.phone_number = Some(destination),
            EnrollDetails::Confirmed {
                destination,
                backup_codes,
            } => {
                out.phone_number = Some(destination);
                out.backup_codes = backup_codes;
            }
            EnrollDetails::Sent {
                channel: Channel::Email,
                destination,
            } => out.email = Some(destination),
        }
        out
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    #[schema(example = "123456")]
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct ConfirmResponse {
    pub factor_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub status: &'static str,
    /// Issued with the user's first factor, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_codes: Option<Vec<String>>,
}

#[derive(Serialize, ToSchema)]
pub struct FactorView {
    pub factor_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub status: &'static str,
    pub name: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    /// Unused codes left, for `backup_codes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_codes: Option<i64>,
    /// Masked, for `sms` and `email_otp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The latest message sent for this factor, for `sms` and `email_otp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_delivery: Option<DeliveryView>,
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    /// `queued`, `sending`, `sent`, `failed` or `abandoned`.
    pub status: &'static str,
    pub provider: Option<String>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub updated_at: String,
}

impl From<&crate::service::mfa::FactorSummary> for FactorView {
    fn from(s: &crate::service::mfa::FactorSummary) -> Self {
        let f = &s.factor;
        Self {
            factor_id: f.id.to_string(),
            kind: f.kind.as_str(),
            status: f.status.as_str(),
            name: f.name.clone(),
            created_at: rfc3339(f.created_at),
            last_used_at: f.last_used_at.map(rfc3339),
            remaining_codes: s.remaining_codes,
            destination: s.destination.clone(),
            last_delivery: s.last_delivery.as_ref().map(|m| DeliveryView {
                status: m.status.as_str(),
                provider: m.provider.clone(),
                attempts: m.attempts,
                last_error: m.last_error.clone(),
                updated_at: rfc3339(m.updated_at),
            }),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FactorList {
    pub factors: Vec<FactorView>,
}

#[derive(Serialize, ToSchema)]
pub struct BackupCodes {
    pub backup_codes: Vec<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeRequest {
    pub challenge_id: String,
    /// May be left out when the choice is unambiguous: a `type` the user has one factor
    /// of, or the user's only factor.
    pub factor_id: Option<String>,
    /// `totp`, `sms`, `email_otp` or `backup_codes`: the user's factor of that type.
    #[serde(rename = "type")]
    pub kind: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ChallengeResponse {
    pub challenge_id: String,
    pub factor_id: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Where the code went, masked, for `sms` and `email_otp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    pub expires_at: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub challenge_id: String,
    /// May be left out when the choice is unambiguous: the factor chosen with
    /// `/v1/mfa/challenge` (or started with `/v1/mfa/enroll`), a `type` the user has one
    /// factor of, or the user's only factor.
    pub factor_id: Option<String>,
    /// `totp`, `sms`, `email_otp` or `backup_codes`: the user's factor of that type.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[schema(example = "123456")]
    pub code: String,
}

#[derive(Serialize, ToSchema)]
pub struct VerifyResponse {
    #[serde(flatten)]
    pub tokens: TokenResponse,
    /// Issued when this verify confirmed a forced enrollment, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_codes: Option<Vec<String>>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeEnrollRequest {
    pub challenge_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    /// For `sms`.
    pub phone_number: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Only events about this user.
    pub user_id: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// The `next_before` of the previous page.
    pub before: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AuditEventView {
    pub id: String,
    pub action: String,
    pub outcome: String,
    pub actor: String,
    pub user_id: Option<String>,
    pub factor_id: Option<String>,
    pub ip: Option<String>,
    pub detail: Option<String>,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AuditList {
    pub events: Vec<AuditEventView>,
    /// Pass as `before` for older events; absent on the last page.
    pub next_before: Option<String>,
}
