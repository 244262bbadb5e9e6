//! The records the store reads and writes.

use latchkey_core::clock::UnixMillis;
use latchkey_core::email::Email;
use latchkey_core::factor::{ChallengePurpose, FactorKind, FactorStatus};
use latchkey_core::ids::{ApiKeyId, ChallengeId, FactorId, SessionId, TenantId, UserId};
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
    FactorSecret,
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 3] = [
        SealedColumn::SigningKeyPrivate,
        SealedColumn::ServerSecret,
        SealedColumn::FactorSecret,
    ];

    /// `(table, id column, sealed column)`; also the associated data the value is bound to.
    pub fn location(self) -> (&'static str, &'static str, &'static str) {
        match self {
            SealedColumn::SigningKeyPrivate => ("signing_keys", "kid", "private_sealed"),
            SealedColumn::ServerSecret => ("server_secrets", "name", "sealed"),
            SealedColumn::FactorSecret => ("factors", "id", "secret_sealed"),
        }
    }

    /// The AEAD associated data for the value in row `row`.
    pub fn aad(self, row: &str) -> String {
        let (table, _, column) = self.location();
        latchkey_core::seal::aad(table, column, row)
    }
}

/// An enrolled (or enrolling) authenticator of one user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Factor {
    pub id: FactorId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub kind: FactorKind,
    pub name: Option<String>,
    pub status: FactorStatus,
    /// The sealed shared secret (TOTP seed); `None` for kinds without one.
    pub secret_sealed: Option<String>,
    /// The last TOTP time step accepted; only ever moves forward.
    pub last_step: Option<i64>,
    pub created_at: UnixMillis,
    /// When a pending enrollment lapses.
    pub expires_at: Option<UnixMillis>,
    pub confirmed_at: Option<UnixMillis>,
    pub last_used_at: Option<UnixMillis>,
}

impl Factor {
    /// Active, or pending and not yet lapsed.
    pub fn is_current(&self, now: UnixMillis) -> bool {
        match self.status {
            FactorStatus::Active => true,
            FactorStatus::Pending => self.expires_at.is_some_and(|e| now < e),
        }
    }
}

/// A new set of backup codes: the factor row that owns them (created on first install,
/// reused afterwards) and the keyed hashes of the codes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupInstall {
    pub factor: Factor,
    /// Hash of each code, computed with the factor id as context.
    pub code_hashes: Vec<String>,
}

/// A second-factor sign-in (or forced enrollment) in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub id: ChallengeId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub purpose: ChallengePurpose,
    /// How the first factor was passed (`["pwd"]`).
    pub amr: Vec<String>,
    pub factor_id: Option<FactorId>,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub completed_at: Option<UnixMillis>,
}

/// What proves the second factor, consumed in the same transaction that completes the
/// challenge: either both happen or neither does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// A TOTP code matched `step`; it is accepted only if the factor's last step is older.
    TotpStep { factor_id: FactorId, step: i64 },
    /// A backup code with this hash, unused so far.
    BackupCode { factor_id: FactorId, code_hash: String },
    /// A pending factor confirmed by a code at `step` (forced enrollment), with the backup
    /// codes to install if it is the user's first factor.
    Enrollment {
        factor_id: FactorId,
        step: i64,
        backup: Box<BackupInstall>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CompleteOutcome {
    /// The challenge is complete and the proof consumed. `backup_installed` says whether
    /// the backup codes passed in were installed (the user's first factor).
    Completed { backup_installed: bool },
    /// The challenge was already completed, has expired, or does not exist.
    ChallengeGone,
    /// The proof was already used (a replayed step or code) or no longer applies.
    ProofRejected,
}

/// One line of the audit log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: String,
    pub tenant_id: TenantId,
    pub user_id: Option<UserId>,
    /// `user:usr_…`, `key:key_…` or `system`.
    pub actor: String,
    pub action: String,
    pub factor_id: Option<FactorId>,
    /// `success`, `failure`, `locked`, …
    pub outcome: String,
    pub ip: Option<String>,
    pub detail: Option<String>,
    pub created_at: UnixMillis,
}
