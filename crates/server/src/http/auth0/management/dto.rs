//! The JSON shapes of Auth0's Management API v2 that Latchkey answers, field names as
//! Auth0 spells them (its SDKs validate responses, so every field they require is here).

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// One Guardian factor (`GET /api/v2/guardian/factors`).
#[derive(Serialize, ToSchema)]
pub struct GuardianFactor {
    /// `sms`, `push-notification`, `otp`, `email`, `duo`, `webauthn-roaming`,
    /// `webauthn-platform` or `recovery-code`.
    pub name: &'static str,
    pub enabled: bool,
    /// Always `false`: Latchkey has no trials.
    pub trial_expired: bool,
}

/// `PUT /api/v2/guardian/factors/{name}`, and its answer.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FactorEnabled {
    pub enabled: bool,
}

/// `GET`/`PUT /api/v2/guardian/factors/{sms|phone}/selected-provider`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectedProvider {
    /// `auth0` (the server's own provider), `twilio` or `phone-message-hook` (the tenant's
    /// webhook provider).
    #[schema(value_type = ProviderName)]
    pub provider: String,
}

// Schemas only: the handlers read these values as text and answer Auth0's errors for others.

/// Auth0's Guardian factor names.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum FactorName {
    Sms,
    PushNotification,
    Otp,
    Email,
    Duo,
    WebauthnRoaming,
    WebauthnPlatform,
    RecoveryCode,
}

/// The factors with an SMS provider.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PhoneFactor {
    Sms,
    Phone,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum ProviderName {
    Auth0,
    Twilio,
    PhoneMessageHook,
}

/// An MFA policy: `all-applications` (MFA required) or `confidence-score` (adaptive MFA).
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PolicyName {
    AllApplications,
    ConfidenceScore,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MessageType {
    Sms,
}

/// The methods an administrator may create.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum CreatableType {
    Phone,
    Email,
}

#[derive(Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum PreferredMethod {
    Sms,
}

/// The authentication methods of a user: a page with totals, or a bare array.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
pub enum AuthenticationMethods {
    Page(AuthenticationMethodsPage),
    List(Vec<AuthenticationMethod>),
}

/// `PUT /api/v2/guardian/factors/{sms|phone}/providers/twilio`: fields left out keep their
/// value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TwilioPut {
    /// The account SID, `AC…`.
    pub sid: Option<String>,
    /// Never shown again.
    pub auth_token: Option<String>,
    /// The sending number, E.164.
    pub from: Option<String>,
    /// Not supported: Latchkey sends from a number (`from`).
    pub messaging_service_sid: Option<String>,
}

/// The Twilio provider as Latchkey shows it: never its auth token.
#[derive(Serialize, ToSchema)]
pub struct TwilioView {
    pub sid: Option<String>,
    pub from: Option<String>,
    pub messaging_service_sid: Option<String>,
}

/// `GET`/`PUT /api/v2/guardian/factors/sms/templates`, in Auth0's template syntax
/// (`{{code}}`, `{{tenant.friendly_name}}`).
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SmsTemplates {
    /// Must contain `{{code}}`.
    #[schema(pattern = "\\{\\{code\\}\\}", max_length = 2000)]
    pub enrollment_message: String,
    /// Must contain `{{code}}`.
    #[schema(pattern = "\\{\\{code\\}\\}", max_length = 2000)]
    pub verification_message: String,
}

/// `GET /api/v2/guardian/factors/phone/message-types`.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MessageTypes {
    /// `sms` (and, in Auth0, `voice`, which Latchkey does not send).
    #[schema(value_type = Vec<MessageType>, min_items = 1)]
    pub message_types: Vec<String>,
}

/// A user's authentication method, as Auth0 lists it.
#[derive(Serialize, ToSchema)]
pub struct AuthenticationMethod {
    /// The factor's id (`fac_…`).
    pub id: String,
    /// `phone`, `email`, `totp`, `webauthn-roaming`, `webauthn-platform` or `recovery-code`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub confirmed: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Masked, as every Latchkey surface shows it (`+1******4567`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    /// Masked (`a***@example.com`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `sms` for a phone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preferred_authentication_method: Option<&'static str>,
    /// ISO 8601 with milliseconds.
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrolled_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_auth_at: Option<String>,
}

/// A page of authentication methods (`include_totals=true`).
#[derive(Serialize, ToSchema)]
pub struct AuthenticationMethodsPage {
    pub start: u64,
    pub limit: u64,
    pub total: u64,
    pub authenticators: Vec<AuthenticationMethod>,
}

/// Auth0's paging parameters.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Page number, from 0.
    #[param(minimum = 0)]
    pub page: Option<u64>,
    /// Results per page, 1 to 100 (default 50).
    #[param(minimum = 1, maximum = 100)]
    pub per_page: Option<u64>,
    /// `true`: an object with `start`, `limit`, `total` and the page; else a bare array.
    pub include_totals: Option<bool>,
}

/// `POST /api/v2/users/{id}/authentication-methods`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAuthenticationMethod {
    /// `phone` or `email` (others are enrolled by the user).
    #[serde(rename = "type")]
    #[schema(value_type = CreatableType)]
    pub kind: String,
    pub name: Option<String>,
    /// E.164 (`phone`).
    pub phone_number: Option<String>,
    /// Must be the account's address (`email`).
    pub email: Option<String>,
    /// `true` (`phone` only): the number is the user's already verified one and the method
    /// is active at once; needs the right to create confirmed factors.
    pub confirmed: Option<bool>,
    /// `sms` only.
    #[schema(value_type = Option<PreferredMethod>)]
    pub preferred_authentication_method: Option<String>,
}

/// `PATCH /api/v2/users/{id}/authentication-methods/{method_id}`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAuthenticationMethod {
    /// `sms`, for a phone (what it is already).
    #[schema(value_type = Option<PreferredMethod>)]
    pub preferred_authentication_method: Option<String>,
}

/// A Guardian enrollment (`GET /api/v2/users/{id}/enrollments`).
#[derive(Serialize, ToSchema)]
pub struct GuardianEnrollment {
    pub id: String,
    /// `pending` or `confirmed`.
    pub status: &'static str,
    /// `authenticator` (TOTP), `sms`, `email` or `webauthn`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// `authenticator`, `sms`, `webauthn-roaming` or `webauthn-platform`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_method: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Masked phone number or address.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identifier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub enrolled_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_auth: Option<String>,
}

/// `POST /api/v2/guardian/enrollments/ticket`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketRequest {
    /// `usr_…` or `auth0|usr_…`.
    pub user_id: String,
    /// Where to email the link instead of the user's address (with `send_mail`).
    #[serde(default)]
    pub email: Option<String>,
    /// Email the link (default `false`).
    #[serde(default)]
    pub send_mail: Option<bool>,
    /// Accepted; the email is in English (its language is not chosen per ticket yet).
    #[serde(default)]
    pub email_locale: Option<String>,
    /// The factor the user must enroll: `otp`, `phone` (SMS), `webauthn-roaming` or
    /// `webauthn-platform`. Auth0's `email` (which Auth0 refuses too) and
    /// `push-notification` are answered 400. Without it, any factor the tenant allows.
    #[serde(default)]
    #[schema(value_type = Option<TicketFactor>)]
    pub factor: Option<String>,
    /// Let a user who has a second factor already use the ticket to add another (after
    /// proving the one they have). Without it, such a user gets no ticket (`409`).
    #[serde(default)]
    pub allow_multiple_enrollments: Option<bool>,
}

/// The factors a ticket can ask for, as Auth0 names them.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "kebab-case")]
pub enum TicketFactor {
    Phone,
    Otp,
    WebauthnRoaming,
    WebauthnPlatform,
}

/// A ticket made.
#[derive(Serialize, ToSchema)]
pub struct TicketResponse {
    /// `etk_…`: names the ticket in the audit log.
    pub ticket_id: String,
    /// The single-use link (five days) into the hosted enrollment; shown once.
    pub ticket_url: String,
}
