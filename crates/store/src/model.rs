//! The records the store reads and writes.

use latchkey_core::clock::UnixMillis;
use latchkey_core::email::Email;
use latchkey_core::ids::{ApiKeyId, SessionId, TenantId, UserId};
use latchkey_core::settings::TenantSettings;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub settings: TenantSettings,
    pub created_at: UnixMillis,
}

/// A tenant secret key as stored: only its keyed hash, never the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyRecord {
    pub id: ApiKeyId,
    pub tenant_id: TenantId,
    pub name: String,
    pub key_hash: String,
    /// The first characters of the key, to tell keys apart in listings.
    pub display_prefix: String,
    pub created_at: UnixMillis,
    pub revoked_at: Option<UnixMillis>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: Email,
    pub password_hash: String,
    pub name: Option<String>,
    pub phone_number: Option<String>,
    pub phone_verified_at: Option<UnixMillis>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// One sign-in: the authentication event it records and its refresh-token family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub id: SessionId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    /// RFC 8176 authentication method references of the sign-in, e.g. `["pwd"]`.
    pub amr: Vec<String>,
    pub acr: String,
    pub auth_time: UnixMillis,
    pub mfa_at: Option<UnixMillis>,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub revoked_at: Option<UnixMillis>,
}

impl Session {
    pub fn is_live(&self, now: UnixMillis) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was live; its successor is stored. Carries the session.
    Rotated(Session),
    /// The token had been used before: the family is now revoked.
    Reused,
    /// The family was revoked or has expired.
    Dead,
    /// No such token.
    Unknown,
}

/// What a throttle counter counts: one scope (`password`, later `factor`) and subject
/// (a canonical email, a factor id) within a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThrottleKey {
    pub tenant_id: TenantId,
    pub scope: &'static str,
    pub subject: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    pub algorithm: String,
    pub public_key: Vec<u8>,
    pub private_sealed: String,
    pub created_at: UnixMillis,
}

/// Every database column that holds a sealed value, so master-key rotation can find them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    SigningKeyPrivate,
    ServerSecret,
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 2] =
        [SealedColumn::SigningKeyPrivate, SealedColumn::ServerSecret];

    /// `(table, id column, sealed column)`; also the associated data the value is bound to.
    pub fn location(self) -> (&'static str, &'static str, &'static str) {
        match self {
            SealedColumn::SigningKeyPrivate => ("signing_keys", "kid", "private_sealed"),
            SealedColumn::ServerSecret => ("server_secrets", "name", "sealed"),
        }
    }

    /// The AEAD associated data for the value in row `row`.
    pub fn aad(self, row: &str) -> String {
        let (table, _, column) = self.location();
        latchkey_core::seal::aad(table, column, row)
    }
}
