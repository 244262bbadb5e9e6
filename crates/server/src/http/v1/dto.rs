//! The JSON shapes of `/v1`. Request types reject unknown fields; response types are
//! built from domain records here and nowhere else, so no secret can slip into one.

use crate::service::sessions::TokenPair;
use latchkey_core::oidc::ClientType;
use latchkey_core::time::rfc3339;
use latchkey_store::model::{Application, User};
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
    /// A remembered device's token (from an earlier `/v1/mfa/verify` with
    /// `remember_device`): it stands in for the second factor while it is live and the
    /// policy asks for no more than `aal2`. An unknown, expired or revoked one is ignored.
    #[schema(example = "dvt_…")]
    pub device_token: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotPasswordRequest {
    #[schema(example = "alice@example.com")]
    pub email: String,
}

/// A new password through a reset link: its `token`, or the `code` from the same email with
/// the `email` address it went to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    /// The `token` parameter of the emailed link (`pr_…`).
    pub token: Option<String>,
    /// With `code`: the address the email went to.
    pub email: Option<String>,
    /// The six-digit code from the email, with `email`.
    pub code: Option<String>,
    /// The new password (the sign-up policy applies).
    pub password: String,
}

/// A verification link's `token` (`ev_…`), or the `code` from the same email with the
/// `email` address it went to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyEmailRequest {
    pub token: Option<String>,
    pub email: Option<String>,
    pub code: Option<String>,
}

/// Accepted: whatever follows happens by email.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    #[schema(example = "if an account has this address, a link and code are on their way")]
    pub message: &'static str,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasskeySigninRequest {
    /// The browser's `AuthenticationResponseJSON` for the options of
    /// `/v1/auth/passkey/options` (which it names by their challenge).
    #[schema(value_type = Object)]
    pub credential: serde_json::Value,
}

/// Request options for `navigator.credentials.get()`: `{"publicKey": {…}, "mediation":
/// "conditional"}` (binary fields base64url). `allowCredentials` is empty: any passkey of
/// this site will do. Drop `mediation` for a button-started ceremony. Valid for 5 minutes,
/// once.
#[derive(Serialize, ToSchema)]
#[schema(value_type = Object)]
pub struct PasskeyOptions(pub serde_json::Value);

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
    /// The address received an emailed link or code that came back (`/v1/auth/email/verify`,
    /// or a password reset).
    pub email_verified: bool,
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
            email_verified: u.email_verified_at.is_some(),
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
    /// Present when MFA is already required of this user, who signed in with the password
    /// alone only thanks to an enrollment grace: enroll a factor before `until`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mfa_enrollment_due: Option<EnrollmentDueView>,
}

/// A reminder: a second factor must be enrolled before `until` (docs/policy.md).
#[derive(Serialize, ToSchema)]
pub struct EnrollmentDueView {
    #[schema(example = "2026-12-08T10:00:00Z")]
    pub until: String,
    /// The factor types the user may enroll.
    pub allowed: Vec<&'static str>,
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
    /// `aal2` or `phishing_resistant`: the tenant's level of the MFA policy.
    #[schema(example = "aal2")]
    pub mfa_min_assurance: &'static str,
    /// The tenant's own enrollment grace (days), if it gives one.
    pub mfa_enrollment_grace_days: Option<u32>,
    /// The tenant's own step-up freshness (seconds), if it sets one.
    pub mfa_step_up_secs: Option<u32>,
    /// When the tenant began requiring MFA (its grace counts from here).
    pub mfa_required_since: Option<String>,
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
    /// The SMS confirming a new number (an enrollment's code); `null`: `sms_template`.
    pub sms_enrollment_template: Option<String>,
    pub email_subject_template: String,
    pub email_text_template: String,
    pub email_html_template: String,
    pub webauthn: WebauthnSettingsView,
    pub branding: BrandingView,
    /// When a device may stand in for the second factor at later sign-ins: `never`,
    /// `user_opt_in` (default: when the user asks) or `always` (docs/policy.md).
    #[schema(example = "user_opt_in")]
    pub remember_device: &'static str,
    /// How long a device stays remembered: 1 to 365 days (default 30).
    pub remember_device_days: u16,
    /// The tenant's own wording of security notices (`factor_added`, `factor_removed`,
    /// `backup_code_used`, `backup_codes_regenerated`, `mfa_reset`, `second_factor_locked`,
    /// `device_remembered`); placeholders `{app_name}`, `{what}` (required), `{when}`, `{from}`.
    #[schema(value_type = Object)]
    pub notice_templates: std::collections::BTreeMap<String, latchkey_core::notices::NoticeTemplate>,
    pub adaptive: AdaptiveView,
    /// Whether MFA is required for this tenant's users once every source is counted.
    pub effective_policy: EffectivePolicyView,
    /// What a change of `mfa_allowed_factors` does to existing users (PATCH only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub impact: Option<ImpactView>,
}

/// WebAuthn relying-party settings. Unset `rp_id` and empty `origins` mean the server's
/// public URL (`localhost` when that is a loopback address).
#[derive(Serialize, ToSchema)]
pub struct WebauthnSettingsView {
    pub rp_id: Option<String>,
    pub rp_name: Option<String>,
    /// Exact origins (`https://host[:port]`); no wildcards.
    pub origins: Vec<String>,
    /// `required` (default: every credential is a passkey with PIN or biometric) or
    /// `preferred` (security keys without a PIN are accepted as a second factor).
    pub user_verification: &'static str,
    /// `none` (default) or `direct` (only `allowed_aaguids`, chaining to
    /// `attestation_ca_pems`).
    pub attestation: &'static str,
    pub allowed_aaguids: Vec<String>,
    pub attestation_ca_pems: Vec<String>,
    /// Accept ceremonies inside a cross-origin frame (default false).
    pub allow_cross_origin: bool,
}

impl From<&latchkey_core::settings::WebauthnSettings> for WebauthnSettingsView {
    fn from(w: &latchkey_core::settings::WebauthnSettings) -> Self {
        use latchkey_core::settings::{AttestationPolicy, UserVerification};
        Self {
            rp_id: w.rp_id.clone(),
            rp_name: w.rp_name.clone(),
            origins: w.origins.clone(),
            user_verification: match w.user_verification {
                UserVerification::Required => "required",
                UserVerification::Preferred => "preferred",
            },
            attestation: match w.attestation {
                AttestationPolicy::None => "none",
                AttestationPolicy::Direct => "direct",
            },
            allowed_aaguids: w.allowed_aaguids.clone(),
            attestation_ca_pems: w.attestation_ca_pems.clone(),
            allow_cross_origin: w.allow_cross_origin,
        }
    }
}

/// WebAuthn settings to change; absent fields keep their value, `null` resets `rp_id` and
/// `rp_name` to their defaults.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct WebauthnSettingsPatch {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "example.com")]
    pub rp_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub rp_name: Option<Option<String>>,
    pub origins: Option<Vec<String>>,
    /// `required` or `preferred`.
    pub user_verification: Option<String>,
    /// `none` or `direct`.
    pub attestation: Option<String>,
    pub allowed_aaguids: Option<Vec<String>>,
    pub attestation_ca_pems: Option<Vec<String>>,
    pub allow_cross_origin: Option<bool>,
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
    /// they prove one of their factors, then enroll an allowed kind. (For the tenant's
    /// settings, every such user; for a rule, those the rule newly makes so.)
    pub users_to_reenroll: i64,
    /// Users without a factor the change newly asks to enroll one (once any grace ends).
    pub users_to_enroll: Option<i64>,
    /// The affected users, at most 100 (the counts go on); users whose sign-in would not
    /// change are not listed.
    pub users: Option<Vec<AffectedUserView>>,
    /// How many users were evaluated: the users the change may reach, at most 5000.
    pub evaluated: Option<i64>,
    /// Whether every user the change may reach was evaluated.
    pub complete: Option<bool>,
}

/// One user a change would affect, and how.
#[derive(Serialize, ToSchema)]
pub struct AffectedUserView {
    pub user_id: String,
    /// `enroll` (no factor, newly required) or `enroll_allowed_kind` (factors, none of an
    /// allowed kind any more: prove one, then enroll an allowed kind).
    pub effect: &'static str,
    /// Until when an `enroll` user may still sign in without a factor.
    pub grace_until: Option<String>,
}

impl ImpactView {
    /// A dry run's answer: `users_to_reenroll` as given (the settings' exact count) or, if
    /// `None`, the engine's.
    pub fn new(users_to_reenroll: Option<i64>, impact: Option<&crate::service::policy::Impact>) -> Self {
        ImpactView {
            users_to_reenroll: users_to_reenroll
                .or(impact.map(|i| i.users_to_reenroll))
                .unwrap_or(0),
            users_to_enroll: impact.map(|i| i.users_to_enroll),
            users: impact.map(|i| {
                i.users
                    .iter()
                    .map(|u| AffectedUserView {
                        user_id: u.user_id.to_string(),
                        effect: u.effect.as_str(),
                        grace_until: u.grace_until.map(latchkey_core::time::rfc3339),
                    })
                    .collect()
            }),
            evaluated: impact.map(|i| i.evaluated),
            complete: impact.map(|i| i.complete),
        }
    }
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
    /// Switching it off needs a key with the `mfa:admin` scope.
    pub mfa_required: Option<bool>,
    pub mfa_allowed_factors: Option<Vec<String>>,
    /// `aal2` or `phishing_resistant` (WebAuthn alone; needs `webauthn` allowed). Lowering
    /// it needs `mfa:admin`.
    pub mfa_min_assurance: Option<String>,
    /// 0 to 90 days without a factor after the tenant began requiring MFA; `null` removes
    /// the tenant's own. Lengthening it needs `mfa:admin`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>)]
    pub mfa_enrollment_grace_days: Option<Option<u32>>,
    /// 60 to 86400 seconds: how fresh a session's second factor must be to change
    /// factors; `null` removes the tenant's own.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u32>)]
    pub mfa_step_up_secs: Option<Option<u32>>,
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
    /// `null` returns enrollment messages to `sms_template`.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub sms_enrollment_template: Option<Option<String>>,
    pub email_subject_template: Option<String>,
    pub email_text_template: Option<String>,
    pub email_html_template: Option<String>,
    pub webauthn: Option<WebauthnSettingsPatch>,
    pub branding: Option<BrandingPatch>,
    pub adaptive: Option<AdaptivePatch>,
    /// `never`, `user_opt_in` or `always`.
    #[schema(example = "user_opt_in")]
    pub remember_device: Option<String>,
    /// 1 to 365.
    pub remember_device_days: Option<u64>,
    /// Notices to word anew (`{"subject","text","html"?}`), or `null` for the product's words.
    #[schema(value_type = Option<Object>)]
    pub notice_templates:
        Option<std::collections::BTreeMap<String, Option<latchkey_core::notices::NoticeTemplate>>>,
}

/// A remembered device. Its token is never shown again.
#[derive(Serialize, ToSchema)]
pub struct DeviceView {
    #[schema(example = "dev_01J…")]
    pub id: String,
    /// From the user agent that asked to be remembered.
    pub name: Option<String>,
    /// What the verification that remembered it reached.
    #[schema(example = "aal2")]
    pub aal: String,
    pub created_at: String,
    pub created_ip: Option<String>,
    pub last_used_at: Option<String>,
    pub last_ip: Option<String>,
    pub expires_at: String,
}

impl From<&latchkey_store::model::RememberedDevice> for DeviceView {
    fn from(d: &latchkey_store::model::RememberedDevice) -> Self {
        use latchkey_core::time::rfc3339;
        Self {
            id: d.id.to_string(),
            name: d.name.clone(),
            aal: d.aal.clone(),
            created_at: rfc3339(d.created_at),
            created_ip: d.created_ip.clone(),
            last_used_at: d.last_used_at.map(rfc3339),
            last_ip: d.last_ip.clone(),
            expires_at: rfc3339(d.expires_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeviceList {
    pub devices: Vec<DeviceView>,
}

/// How many devices were forgotten.
#[derive(Serialize, ToSchema)]
pub struct DevicesForgotten {
    pub forgotten: u64,
}

/// Adaptive MFA: each password sign-in is scored from 0 to 100 (new device, new network,
/// new country, impossible travel, recent failures, velocity; docs/policy.md); at
/// `mfa_score` or above it must pass a second factor, at `deny_score` or above it is refused
/// (`403 sign_in_refused`).
#[derive(Serialize, ToSchema)]
pub struct AdaptiveView {
    /// Off by default.
    pub enabled: bool,
    #[schema(example = 40)]
    pub mfa_score: u32,
    /// `null`: never refuse, only ask for a second factor.
    #[schema(example = 90)]
    pub deny_score: Option<u32>,
}

/// Adaptive MFA settings to change; absent fields keep their value.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct AdaptivePatch {
    pub enabled: Option<bool>,
    /// 1 to 100.
    #[schema(example = 40)]
    pub mfa_score: Option<u64>,
    /// Above `mfa_score`, at most 100; `null` never refuses.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u64>, example = 90)]
    pub deny_score: Option<Option<u64>>,
}

/// How the hosted pages look for the tenant's users; unset, the product's own look.
#[derive(Serialize, ToSchema)]
pub struct BrandingView {
    /// The name in the pages' header and titles.
    pub display_name: Option<String>,
    /// An `https://` logo shown beside it.
    pub logo_url: Option<String>,
    /// `#rrggbb` for buttons and links, dark enough for white text (WCAG AA, 4.5:1).
    pub primary_color: Option<String>,
}

/// Branding to change; `null` returns a field to the product's default.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct BrandingPatch {
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "Acme")]
    pub display_name: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "https://cdn.acme.example/logo.svg")]
    pub logo_url: Option<Option<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>, example = "#0a5cc2")]
    pub primary_color: Option<Option<String>>,
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
    /// Admin only, for `sms`: create the factor active for the user's already verified phone
    /// (a secret key with the `mfa:admin` scope).
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
    /// For `webauthn`: `{"publicKey": {…}}`, the `PublicKeyCredentialCreationOptions` as JSON
    /// (binary fields base64url), to pass to `navigator.credentials.create()`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub webauthn: Option<serde_json::Value>,
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
            webauthn: None,
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
            EnrollDetails::Webauthn { options } => out.webauthn = Some(options),
        }
        out
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    /// The code, for every kind but `webauthn`.
    #[schema(example = "123456")]
    pub code: Option<String>,
    /// For `webauthn`: the browser's `RegistrationResponseJSON` (to confirm an enrollment)
    /// or `AuthenticationResponseJSON` (to verify a challenge).
    #[schema(value_type = Option<Object>)]
    pub credential: Option<serde_json::Value>,
}

impl CodeRequest {
    /// The one answer given: a code or a credential.
    pub fn answer(&self) -> Result<crate::service::factors::Answer<'_>, crate::service::ServiceError> {
        use crate::service::factors::Answer;
        match (&self.code, &self.credential) {
            (Some(code), None) => Ok(Answer::Code(code)),
            (None, Some(credential)) => Ok(Answer::Credential(credential)),
            _ => Err(crate::service::InputError::AnswerMissing.into()),
        }
    }
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
    /// The user's preferred factor: a sign-in that sends a code by itself (nauth's login)
    /// sends it here. Set with `POST …/factors/{factor_id}/preferred`.
    pub preferred: bool,
    /// Unused codes left, for `backup_codes`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remaining_codes: Option<i64>,
    /// Masked, for `sms` and `email_otp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination: Option<String>,
    /// The latest message sent for this factor, for `sms` and `email_otp`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_delivery: Option<DeliveryView>,
    /// For `webauthn`: what kind of credential it is.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub webauthn: Option<WebauthnView>,
}

/// A WebAuthn credential's flags.
#[derive(Serialize, ToSchema)]
pub struct WebauthnView {
    /// A synced passkey (backup eligible: the key can move between the user's devices), as
    /// opposed to a device-bound key.
    pub synced: bool,
    pub backup_eligible: bool,
    /// Backed up as of its last use.
    pub backup_state: bool,
    /// The authenticator verified the user (PIN or biometric) at registration.
    pub user_verified: bool,
    /// As the browser reported them: `usb`, `nfc`, `ble`, `internal`, `hybrid`.
    pub transports: Vec<String>,
    /// The authenticator model, when attested.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aaguid: Option<String>,
    /// Set when its signature counter went backwards (possibly cloned): it is refused
    /// until removed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub clone_suspected_at: Option<String>,
}

impl From<&latchkey_store::model::WebauthnCredential> for WebauthnView {
    fn from(c: &latchkey_store::model::WebauthnCredential) -> Self {
        Self {
            synced: c.backup_eligible,
            backup_eligible: c.backup_eligible,
            backup_state: c.backup_state,
            user_verified: c.user_verified,
            transports: c
                .transports
                .as_deref()
                .and_then(|t| serde_json::from_str(t).ok())
                .unwrap_or_default(),
            aaguid: c.aaguid.clone(),
            clone_suspected_at: c.clone_suspected_at.map(rfc3339),
        }
    }
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
            preferred: s.preferred,
            remaining_codes: s.remaining_codes,
            destination: s.destination.clone(),
            last_delivery: s.last_delivery.as_ref().map(|m| DeliveryView {
                status: m.status.as_str(),
                provider: m.provider.clone(),
                attempts: m.attempts,
                last_error: m.last_error.clone(),
                updated_at: rfc3339(m.updated_at),
            }),
            webauthn: s.credential.as_ref().map(WebauthnView::from),
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
    /// For `webauthn`: `{"publicKey": {…}}`, the `PublicKeyCredentialRequestOptions` as JSON,
    /// allowing every WebAuthn credential of the user, for `navigator.credentials.get()`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub webauthn: Option<serde_json::Value>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    pub challenge_id: String,
    /// May be left out when the choice is unambiguous: the factor chosen with
    /// `/v1/mfa/challenge` (or started with `/v1/mfa/enroll`), a `type` the user has one
    /// factor of, or the user's only factor.
    pub factor_id: Option<String>,
    /// `totp`, `sms`, `email_otp`, `webauthn` or `backup_codes`: the user's factor of that type.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    /// The code, for every kind but `webauthn`.
    #[schema(example = "123456")]
    pub code: Option<String>,
    /// For `webauthn`: the browser's `AuthenticationResponseJSON`; the factor is the one
    /// the credential belongs to (`factor_id` may be left out).
    #[schema(value_type = Option<Object>)]
    pub credential: Option<serde_json::Value>,
    /// Remember this device (the tenant's `remember_device` `user_opt_in`; `always` remembers
    /// anyway, `never` ignores it): the answer then carries a `device_token`.
    pub remember_device: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct VerifyResponse {
    #[serde(flatten)]
    pub tokens: TokenResponse,
    /// Issued when this verify confirmed a forced enrollment, shown this once.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_codes: Option<Vec<String>>,
    /// When this device was remembered: send it as `device_token` with later sign-ins.
    /// Shown this once; a secret.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_token: Option<String>,
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

/// The kinds of client (RFC 6749 §2.1), for the document: `public` for single-page and
/// native apps (no secret; PKCE), `confidential` for servers (a secret).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // documents a string field; never built
pub enum ClientTypeName {
    Public,
    Confidential,
}

/// The grants an application may use at the token endpoint, for the document.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // documents a string field; never built
pub enum GrantTypeName {
    AuthorizationCode,
    RefreshToken,
    ClientCredentials,
}

/// The algorithms ID tokens may be signed with, for the document.
#[derive(ToSchema)]
#[allow(dead_code)] // documents a string field; never built
pub enum SigningAlgName {
    RS256,
    ES256,
    EdDSA,
}

/// Registers an application (an OAuth 2.0 / OpenID Connect client).
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateApplicationRequest {
    /// Shown on the sign-in screens: 1 to 100 characters.
    #[schema(example = "Acme web", min_length = 1, max_length = 100)]
    pub name: String,
    /// Fixed once registered.
    #[serde(rename = "type")]
    #[schema(value_type = ClientTypeName)]
    pub client_type: String,
    /// Exact redirect URIs (matched by exact string comparison, no wildcards): `https`,
    /// `http` on loopback only (`127.0.0.1`, `[::1]`, `localhost`), or a private-use scheme
    /// in reverse-DNS form for native apps (`com.example.app:/callback`). At most 50.
    #[schema(example = json!(["https://app.example.com/callback"]))]
    pub redirect_uris: Option<Vec<String>>,
    /// Where RP-initiated logout may send the user back to; the same rules.
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Default `["authorization_code", "refresh_token"]`. `client_credentials` is for
    /// confidential clients only; `refresh_token` needs `authorization_code`.
    #[schema(value_type = Option<Vec<GrantTypeName>>, min_items = 1)]
    pub grant_types: Option<Vec<String>>,
    /// Seconds (60 to 86400); absent: the tenant's.
    #[schema(minimum = 60, maximum = 86400)]
    pub access_token_ttl_secs: Option<u64>,
    /// Seconds (3600 to 31536000); absent: the tenant's.
    #[schema(minimum = 3600, maximum = 31536000)]
    pub refresh_token_ttl_secs: Option<u64>,
    /// Seconds (60 to 86400), default 3600.
    #[schema(minimum = 60, maximum = 86400)]
    pub id_token_ttl_secs: Option<u64>,
    /// Default `RS256`.
    #[schema(value_type = Option<SigningAlgName>)]
    pub id_token_signed_response_alg: Option<String>,
    /// The `aud` of client-credentials tokens; absent: the application's id.
    pub audience: Option<String>,
    /// The scopes a client-credentials token may carry.
    pub scopes: Option<Vec<String>>,
}

/// Changes a registration; fields left out keep their value, `null` returns a lifetime or
/// the audience to its default.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchApplicationRequest {
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// Accepted only if it is the application's type: the type cannot change.
    #[serde(rename = "type")]
    #[schema(value_type = Option<ClientTypeName>)]
    pub client_type: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    #[schema(value_type = Option<Vec<GrantTypeName>>, min_items = 1)]
    pub grant_types: Option<Vec<String>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u64>, minimum = 60, maximum = 86400)]
    pub access_token_ttl_secs: Option<Option<u64>>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<u64>, minimum = 3600, maximum = 31536000)]
    pub refresh_token_ttl_secs: Option<Option<u64>>,
    #[schema(minimum = 60, maximum = 86400)]
    pub id_token_ttl_secs: Option<u64>,
    #[schema(value_type = Option<SigningAlgName>)]
    pub id_token_signed_response_alg: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<String>)]
    pub audience: Option<Option<String>>,
    pub scopes: Option<Vec<String>>,
}

/// An application as the admin API shows it: never its secret.
#[derive(Serialize, ToSchema)]
pub struct ApplicationView {
    pub id: String,
    /// The same as `id`: the OAuth 2.0 `client_id`.
    pub client_id: String,
    pub name: String,
    #[serde(rename = "type")]
    #[schema(value_type = ClientTypeName)]
    pub client_type: &'static str,
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    #[schema(value_type = Vec<GrantTypeName>)]
    pub grant_types: Vec<&'static str>,
    /// `client_secret_basic` for a confidential client (which may also send its secret as
    /// `client_secret_post`), `none` for a public one.
    #[schema(example = "client_secret_basic")]
    pub token_endpoint_auth_method: &'static str,
    /// `null`: the tenant's.
    pub access_token_ttl_secs: Option<u64>,
    /// `null`: the tenant's.
    pub refresh_token_ttl_secs: Option<u64>,
    pub id_token_ttl_secs: u64,
    #[schema(value_type = SigningAlgName)]
    pub id_token_signed_response_alg: &'static str,
    /// `null`: the application's id.
    pub audience: Option<String>,
    pub scopes: Vec<String>,
    /// The first characters of a confidential client's current secret, to tell secrets
    /// apart after a rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret_prefix: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl ApplicationView {
    pub fn new(a: &Application) -> Self {
        let s = &a.settings;
        Self {
            id: a.id.to_string(),
            client_id: a.client_id().to_owned(),
            name: a.name.clone(),
            client_type: a.client_type.as_str(),
            redirect_uris: a.redirect_uris.clone(),
            post_logout_redirect_uris: a.post_logout_redirect_uris.clone(),
            grant_types: a.grant_types.iter().map(|g| g.as_str()).collect(),
            token_endpoint_auth_method: match a.client_type {
                ClientType::Confidential => "client_secret_basic",
                ClientType::Public => "none",
            },
            access_token_ttl_secs: s.access_token_ttl_secs,
            refresh_token_ttl_secs: s.refresh_token_ttl_secs,
            id_token_ttl_secs: s.id_token_ttl_secs,
            id_token_signed_response_alg: s.id_token_signed_response_alg.as_str(),
            audience: s.audience.clone(),
            scopes: s.scopes.clone(),
            client_secret_prefix: a.secret_prefix.clone(),
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
        }
    }
}

/// An application with its secret: the answer to a registration and to a secret rotation,
/// the only times the secret is shown.
#[derive(Serialize, ToSchema)]
pub struct ApplicationWithSecret {
    #[serde(flatten)]
    pub application: ApplicationView,
    /// A confidential client's secret (`cs_…`), shown this once: store it now. Absent for
    /// a public client.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ApplicationList {
    pub applications: Vec<ApplicationView>,
    /// Pass as `after` to get the next page; absent on the last page.
    pub next_after: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct ApplicationQuery {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// The `next_after` of the previous page.
    #[param(pattern = "^app_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub after: Option<String>,
}

/// `POST /v1/admin/users/{user_id}/mfa/enrollment-tickets`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EnrollmentTicketRequest {
    /// The factor type the user must enroll; without it, any the tenant allows. A type the
    /// tenant does not allow is refused (`factor_not_allowed`).
    #[serde(default)]
    #[schema(value_type = Option<TicketFactorName>)]
    pub factor: Option<String>,
    /// Let a user who has a second factor already use the ticket to add another (after
    /// proving the one they have). Without it, such a user gets no ticket (`409`).
    #[serde(default)]
    pub allow_multiple: bool,
    /// Email the link (to `email`, else to the user's address), under the tenant's send
    /// limits.
    #[serde(default)]
    pub send_email: bool,
    #[serde(default)]
    pub email: Option<String>,
}

/// The factor types an enrollment ticket can ask for.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)] // documents a string field; never built
pub enum TicketFactorName {
    Totp,
    Sms,
    EmailOtp,
    Webauthn,
}

/// An enrollment ticket made.
#[derive(Serialize, ToSchema)]
pub struct EnrollmentTicketView {
    /// `etk_…`: names the ticket in the audit log; opens nothing.
    pub id: String,
    /// The single-use link into the hosted enrollment (`/enroll?ticket=…`). Shown once:
    /// only a keyed hash of it is kept.
    pub url: String,
    pub expires_at: String,
    /// Whether the link was emailed.
    pub emailed: bool,
}
