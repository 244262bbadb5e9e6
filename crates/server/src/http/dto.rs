//! The JSON shapes of the API. Request types reject unknown fields; response types are
//! built from domain records here and nowhere else, so no secret can slip into one.

use crate::service::auth::TokenPair;
use latchkey_core::time::rfc3339;
use latchkey_store::model::User;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

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

impl From<&User> for UserView {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email.to_string(),
            name: u.name.clone(),
            phone_number: u.phone_number.clone(),
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
    #[schema(example = "15m")]
    pub access_token_ttl: String,
    #[schema(example = "30d")]
    pub refresh_token_ttl: String,
    pub signup_enabled: bool,
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
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: &'static str,
}
