//! The records the store reads and writes.

use latchkey_core::application::ApplicationSettings;
use latchkey_core::clock::UnixMillis;
use latchkey_core::email::Email;
use latchkey_core::factor::{ChallengePurpose, FactorKind, FactorStatus};
use latchkey_core::ids::{
    ApiKeyId, ApplicationId, ChallengeId, DeviceId, FactorId, SessionId, TenantId, UserId, WebhookId,
};
pub use latchkey_core::links::LinkPurpose;
use latchkey_core::oidc::{ClientType, GrantType};
use latchkey_core::settings::TenantSettings;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub settings: TenantSettings,
    pub created_at: UnixMillis,
    /// The tenant's path segment: its issuer and pages live under `/t/{slug}`.
    pub slug: Option<String>,
    /// A host name of the tenant's own: its issuer and pages live at that host's root.
    pub host: Option<String>,
    /// How many MFA rules its organizations, roles, applications and users carry (read
    /// only: counted when the tenant is read, so a tenant without any spares the lookup).
    pub mfa_rules: i64,
    /// How many webhook endpoints it has (read only, counted as `mfa_rules` is): a tenant
    /// without any spares every audit record the fan-out statement.
    pub webhooks: i64,
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
    /// What the key may do beyond everyday administration (none for keys made before
    /// scopes existed).
    pub scopes: Vec<latchkey_core::scope::KeyScope>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub email: Email,
    pub password_hash: String,
    pub name: Option<String>,
    /// The phone number (E.164), sealed and bound to this row; opened only where it is
    /// shown to its owner or a code is sent to it.
    pub phone_sealed: Option<String>,
    /// Keyed hash of the E.164 number, for look-ups without opening it.
    pub phone_hash: Option<String>,
    pub phone_verified_at: Option<UnixMillis>,
    /// When the user proved the address receives mail (an emailed link or code came back).
    pub email_verified_at: Option<UnixMillis>,
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
    /// The application (OpenID Connect client) this session's tokens were issued to, at
    /// the token endpoint; `None` for the native API and the pages.
    pub client_id: Option<ApplicationId>,
    /// The browser session an application's session came from: ending it ends this one.
    pub parent_id: Option<SessionId>,
    /// The scopes granted to the application (space-separated), when `client_id` is set.
    pub scope: Option<String>,
}

impl Session {
    pub fn is_live(&self, now: UnixMillis) -> bool {
        self.revoked_at.is_none() && now < self.expires_at
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RotateOutcome {
    /// The token was live; its successor is stored. Carries the session.
    Rotated(Box<Session>),
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

/// A signing key (`signing_keys`). Published (in the JWKS, able to verify) from
/// `created_at` until `retired_at`; the signer of an algorithm is its most recently created
/// key whose `signs_from` has passed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningKeyRecord {
    pub kid: String,
    /// The JWS `alg`: `RS256`, `ES256` or `EdDSA`.
    pub algorithm: String,
    /// SubjectPublicKeyInfo DER, or Ed25519's raw 32 bytes.
    pub public_key: Vec<u8>,
    pub private_sealed: String,
    pub created_at: UnixMillis,
    /// When the key may start signing (after it has been published for a while).
    pub signs_from: UnixMillis,
    /// From when the key is no longer published; may lie in the future (scheduled).
    pub retired_at: Option<UnixMillis>,
}

/// Every database column that holds a sealed value, so master-key rotation can find them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedColumn {
    SigningKeyPrivate,
    ServerSecret,
    FactorSecret,
    ProviderConfig,
    OutboxPayload,
    UserPhone,
    FactorDestination,
    OutboxDestination,
    ChallengeState,
    PasskeyCeremonyState,
    WebhookSecret,
}

impl SealedColumn {
    pub const ALL: [SealedColumn; 11] = [
        SealedColumn::SigningKeyPrivate,
        SealedColumn::ServerSecret,
        SealedColumn::FactorSecret,
        SealedColumn::ProviderConfig,
        SealedColumn::OutboxPayload,
        SealedColumn::UserPhone,
        SealedColumn::FactorDestination,
        SealedColumn::OutboxDestination,
        SealedColumn::ChallengeState,
        SealedColumn::PasskeyCeremonyState,
        SealedColumn::WebhookSecret,
    ];

    /// `(table, id column, sealed column)`; also the associated data the value is bound to.
    pub fn location(self) -> (&'static str, &'static str, &'static str) {
        match self {
            SealedColumn::SigningKeyPrivate => ("signing_keys", "kid", "private_sealed"),
            SealedColumn::ServerSecret => ("server_secrets", "name", "sealed"),
            SealedColumn::FactorSecret => ("factors", "id", "secret_sealed"),
            SealedColumn::ProviderConfig => ("tenant_providers", "id", "config_sealed"),
            SealedColumn::OutboxPayload => ("outbox", "id", "payload_sealed"),
            SealedColumn::UserPhone => ("users", "id", "phone_sealed"),
            SealedColumn::FactorDestination => ("factors", "id", "destination_sealed"),
            SealedColumn::OutboxDestination => ("outbox", "id", "destination_sealed"),
            SealedColumn::ChallengeState => ("challenges", "id", "state_sealed"),
            SealedColumn::PasskeyCeremonyState => ("passkey_ceremonies", "challenge_hash", "state_sealed"),
            SealedColumn::WebhookSecret => ("webhooks", "id", "secret_sealed"),
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
    /// Where codes go, sealed and bound to this row: an E.164 number (SMS) or an email
    /// address (email OTP).
    pub destination_sealed: Option<String>,
    /// Who started a pending enrollment: `ses_…` (a user's session), `chl_…` (a sign-in
    /// challenge) or `key_…` (a secret key). When the user's first factor becomes active,
    /// pending enrollments started by anyone else are dropped.
    pub enrolled_by: Option<String>,
    /// TOTP hash algorithm (`SHA1`, `SHA256`, `SHA512`); `None` means SHA1.
    pub algorithm: Option<String>,
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
    /// Ceremony state a factor kind keeps between begin and verify (WebAuthn's challenge),
    /// sealed and bound to this row so any replica can finish the ceremony.
    pub state_sealed: Option<String>,
}

/// What confirms a pending factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// A TOTP code from the new secret matched this step.
    TotpStep(i64),
    /// A code sent to the new destination, issued for this challenge (or for the enrollment
    /// itself when `None`).
    SentCode {
        code_hash: String,
        challenge_id: Option<ChallengeId>,
    },
    /// Proven before (an admin creating an SMS factor for a phone the user already verified).
    Preverified,
    /// A WebAuthn registration verified against the ceremony state the pending factor
    /// holds (`state_sealed`, consumed: the factor's secret becomes the sealed credential).
    WebauthnRegistration {
        state_sealed: String,
        credential_sealed: String,
        credential: Box<WebauthnCredential>,
    },
}

/// A registered WebAuthn credential: what the store must know without opening the sealed
/// credential (which holds the public key): its id, the signature counter it guards, and
/// the flags listings show.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebauthnCredential {
    pub factor_id: FactorId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    /// base64url without padding.
    pub credential_id: String,
    pub sign_count: i64,
    /// Backup eligible: the key may be synced between devices (a synced passkey).
    pub backup_eligible: bool,
    /// Backed up (synced) as of the last use.
    pub backup_state: bool,
    /// The authenticator verified its user at registration.
    pub user_verified: bool,
    /// The authenticator model, when attested.
    pub aaguid: Option<String>,
    /// The transports the browser reported (`usb`, `internal`, `hybrid`, …), as JSON.
    pub transports: Option<String>,
    /// When an assertion's counter went backwards: a possibly cloned authenticator, refused
    /// from then on until the user or an admin removes it.
    pub clone_suspected_at: Option<UnixMillis>,
}

/// What a factor's activation re-checks in its own transaction, because the request that
/// started the enrollment was allowed under facts that may have changed since (SECURITY.md
/// test 70: preconditions re-checked at completion).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ActivationRules {
    /// Refuse (as stale) unless the user has no active factor of these kinds besides this
    /// one: a forced enrollment needs "still no usable factor", a password-only session
    /// "still no factor at all". `None`: no condition (an admin, a stepped-up session).
    pub only_without: Option<Vec<FactorKind>>,
    /// When this becomes the user's first factor, every other session of the user ends and
    /// every pending enrollment started elsewhere is dropped; this session goes on.
    pub keep_session: Option<SessionId>,
    /// Who started this enrollment (see [`Factor::enrolled_by`]); their other pending
    /// enrollments are kept.
    pub enrolled_by: Option<String>,
}

/// What confirming a pending factor came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActivateOutcome {
    /// Active now; `backup_installed` says whether the backup codes passed in were
    /// installed (it was the user's first factor).
    Activated { backup_installed: bool },
    /// The code did not match (wrong, spent, superseded or expired).
    Rejected,
    /// Nothing was pending under this id (already active, lapsed, or dropped).
    NotPending,
    /// The conditions the enrollment was started under no longer hold.
    Stale,
    /// The WebAuthn credential is registered already (to this or another user).
    CredentialTaken,
}

/// What proves the second factor, consumed in the same transaction that completes the
/// challenge: either both happen or neither does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// A TOTP code matched `step`; it is accepted only if the factor's last step is older.
    TotpStep { factor_id: FactorId, step: i64 },
    /// A backup code with this hash, unused so far.
    BackupCode { factor_id: FactorId, code_hash: String },
    /// A code sent for this challenge to this factor: live, unused and the latest one.
    SentCode { factor_id: FactorId, code_hash: String },
    /// A WebAuthn assertion verified against the challenge's ceremony state: accepted only
    /// if the credential's stored counter is below `sign_count` (or both are 0, for
    /// authenticators without a counter), which it then becomes. A counter that did not
    /// move forward marks the credential as possibly cloned.
    WebauthnAssertion {
        factor_id: FactorId,
        sign_count: i64,
        backup_state: bool,
    },
    /// A pending factor confirmed (forced enrollment), with the backup codes to install if
    /// it is the user's first factor.
    Enrollment {
        factor_id: FactorId,
        check: Check,
        backup: Box<BackupInstall>,
        rules: ActivationRules,
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
    /// An enrollment's conditions no longer hold (see [`ActivationRules`]); the challenge is
    /// closed.
    Stale,
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
    /// Queue it for the tenant's webhook endpoints when it is written (`false` only where
    /// the tenant is known to have none; never stored).
    pub fan_out: bool,
}

/// One sign-in attempt kept for adaptive MFA (`signin_history`, migration 0015).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignInRecord {
    /// `sgn_` + ULID.
    pub id: String,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub at: UnixMillis,
    /// The client's address prefix (`policy::risk::network_prefix`), never the address.
    pub network: Option<String>,
    /// ISO 3166-1 alpha-2, from the GeoIP database.
    pub country: Option<String>,
    /// Coarse place: latitude and longitude in tenths of a degree, and its accuracy radius.
    pub lat_tenths: Option<i64>,
    pub lon_tenths: Option<i64>,
    pub accuracy_km: Option<i64>,
    /// `policy::risk::PastOutcome` as stored: `success`, `challenged`, `mfa_failed`, `denied`.
    pub outcome: String,
    pub score: i64,
    /// Comma-separated `policy::risk::Reason` names; empty for none.
    pub reasons: String,
    /// The challenge a `challenged` sign-in waits on.
    pub challenge_id: Option<ChallengeId>,
}

/// How much sign-in history is kept and read per user: successes since a time (the
/// newest so many), other attempts since a (shorter) time (the newest so many).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HistoryBounds {
    pub successes_since: UnixMillis,
    pub successes: u32,
    pub others_since: UnixMillis,
    pub others: u32,
}

impl HistoryBounds {
    /// The bounds adaptive MFA uses at `now` (`latchkey_core::policy::risk`).
    pub fn at(now: UnixMillis) -> Self {
        use latchkey_core::policy::risk;
        Self {
            successes_since: now - risk::HISTORY_WINDOW_MS,
            successes: risk::HISTORY_SUCCESSES,
            others_since: now - risk::OTHERS_KEPT_MS,
            others: risk::HISTORY_OTHERS,
        }
    }
}

/// A code sent by SMS or email, stored only as a keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtpCode {
    pub id: String,
    pub factor_id: FactorId,
    /// The challenge it answers; `None` for a code confirming an enrollment.
    pub challenge_id: Option<ChallengeId>,
    pub code_hash: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Waiting for (another) attempt.
    Queued,
    /// A worker holds it (until `locked_until`).
    Sending,
    /// A provider accepted it.
    Sent,
    /// A provider refused it for good.
    Failed,
    /// Out of attempts or past the code's expiry.
    Abandoned,
}

impl DeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Queued => "queued",
            DeliveryStatus::Sending => "sending",
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Failed => "failed",
            DeliveryStatus::Abandoned => "abandoned",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Queued,
            Self::Sending,
            Self::Sent,
            Self::Failed,
            Self::Abandoned,
        ]
        .into_iter()
        .find(|d| d.as_str() == s)
    }
}

/// A message in the durable outbox. The payload (which holds the code) is sealed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxMessage {
    pub id: String,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    /// The factor whose code it carries; `None` for an emailed link (`EmailLinkIssue`).
    pub factor_id: Option<FactorId>,
    pub channel: latchkey_core::factor::Channel,
    /// The destination, sealed and bound to this row.
    pub destination_sealed: String,
    pub payload_sealed: String,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: UnixMillis,
    pub locked_until: Option<UnixMillis>,
    /// When the code it carries expires: never sent after that.
    pub expires_at: UnixMillis,
    pub last_error: Option<String>,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// One send limit: at most `limit` sends per `window_secs` for `subject` in `scope`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendLimit {
    /// `destination_hourly`, `user_daily`, …
    pub scope: &'static str,
    pub subject: String,
    pub window_secs: i64,
    pub limit: u32,
}

/// Everything that issuing one code writes, in one transaction: the pending factor (for an
/// enrollment), the code (superseding earlier live codes of the same factor and challenge),
/// the outbox message, the counters of every send limit, and the statistics.
#[derive(Debug, Clone)]
pub struct CodeIssue {
    pub tenant_id: TenantId,
    pub new_factor: Option<Factor>,
    pub code: OtpCode,
    pub message: OutboxMessage,
    pub limits: Vec<SendLimit>,
    /// Refuse if a code with the same cooldown key was issued less than `cooldown_secs` ago.
    pub cooldown_key: String,
    pub cooldown_secs: i64,
    pub stats: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IssueOutcome {
    Issued,
    /// Too soon after the previous code for the same factor and challenge.
    Cooldown {
        retry_after_secs: u64,
    },
    /// A send limit is reached; nothing was written.
    Limited {
        scope: &'static str,
        retry_after_secs: u64,
    },
}

/// What a delivery attempt ended with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryUpdate {
    pub status: DeliveryStatus,
    pub next_attempt_at: UnixMillis,
    pub last_error: Option<String>,
    pub provider: Option<String>,
    pub provider_message_id: Option<String>,
}

/// What a successful verification also writes, in the transaction that completes the
/// challenge: one commit instead of four on the hottest path.
#[derive(Debug, Clone, Default)]
pub struct SignInWrites {
    /// The factor's failure counter to reset.
    pub clear_throttle: Option<ThrottleKey>,
    pub audit: Option<AuditEvent>,
    /// The new session and the keyed hash of its first refresh token.
    pub session: Option<(Session, String)>,
    /// A device to remember, with its `device.remembered` audit record.
    pub device: Option<(RememberedDevice, AuditEvent)>,
}

/// One verification attempt against a throttled authenticator, decided in one
/// transaction: refused while the authenticator is locked; otherwise the challenge is
/// completed with `proof` and `writes`, or, if that fails, the failure is counted (and
/// the next delay set) per `policy`. A success forgets the authenticator's failures.
#[derive(Debug, Clone)]
pub struct SignInAttempt {
    pub challenge_id: ChallengeId,
    /// `None` when the code was refused before reaching the store (wrong TOTP code).
    pub proof: Option<Proof>,
    pub throttle: ThrottleKey,
    pub policy: latchkey_core::throttle::ThrottlePolicy,
    /// Written with a successful completion (its `clear_throttle` is not needed here).
    pub writes: SignInWrites,
    /// Written when the proof is refused.
    pub on_failure: Option<AuditEvent>,
    /// Written when the authenticator is locked.
    pub on_locked: Option<AuditEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// Completed, as [`CompleteOutcome::Completed`].
    Completed { backup_installed: bool },
    /// The challenge was already completed, has expired, or does not exist (counted as a
    /// failure).
    ChallengeGone,
    /// The proof was wrong, replayed or no longer applies (counted as a failure).
    Rejected,
    /// The authenticator is locked; nothing was tried.
    Locked { retry_after_secs: u64 },
    /// The challenge was issued under facts that no longer hold (an enrollment challenge
    /// whose user has enrolled meanwhile); it is closed, and nothing is counted.
    Stale,
}

/// How long a request with an `Idempotency-Key` may stay in flight before its record is
/// given up (a crash between starting and finishing it), and a retry runs again.
pub const IDEMPOTENCY_IN_FLIGHT_MS: UnixMillis = 60_000;

/// A request made with an `Idempotency-Key` (draft-ietf-httpapi-idempotency-key-header):
/// the first one runs and its answer is kept (sealed: it may hold a TOTP secret or backup
/// codes) until `expires_at`; a retry with the same key and body gets that answer again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub tenant_id: TenantId,
    /// Who may replay it and where: the caller's credential and the route, hashed.
    pub scope: String,
    /// Keyed hash of the key the client sent.
    pub key_hash: String,
    /// Keyed hash of the method, path and body: a reused key with another body is refused.
    pub request_hash: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
}

/// What an `Idempotency-Key` came to when its request arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// First use: run the request, then finish or abandon the record.
    Started,
    /// The first request with this key is still running.
    InFlight,
    /// The key was used with another request.
    Mismatch,
    /// Already answered: the status and the sealed response body.
    Done { status: u16, response_sealed: String },
}

/// An OAuth 2.0 authorization code as stored (RFC 6749 §4.1.2): bound to the client, the
/// redirect URI, the browser session the user signed in with and, with PKCE, the verifier's
/// challenge. Only the keyed hash of the code is kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub tenant_id: TenantId,
    pub client_id: ApplicationId,
    pub session_id: SessionId,
    pub redirect_uri: String,
    pub scope: String,
    pub nonce: Option<String>,
    /// `base64url(SHA-256(code_verifier))` (RFC 7636 `S256`).
    pub code_challenge: Option<String>,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub consumed_at: Option<UnixMillis>,
}

/// What redeeming an authorization code did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedeemOutcome {
    /// The code was live: it is consumed and the new session stored.
    Redeemed,
    /// The code had been redeemed before: the session that redemption issued is revoked
    /// (RFC 6749 §4.1.2).
    Replayed,
    /// The code has expired (it is consumed all the same).
    Expired,
    /// No such code.
    Unknown,
}

/// An application (an OAuth 2.0 / OpenID Connect client) of one tenant, as registered. A
/// confidential client's secret is held only as its keyed hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Application {
    /// Also its `client_id`.
    pub id: ApplicationId,
    pub tenant_id: TenantId,
    pub name: String,
    /// Fixed at registration.
    pub client_type: ClientType,
    /// Keyed hash of the secret (`HashPurpose::ClientSecret`, context the application id);
    /// `None` for a public client.
    pub secret_hash: Option<String>,
    /// The secret's first characters, to tell secrets apart in listings after a rotation.
    pub secret_prefix: Option<String>,
    /// Exactly as registered; matched by exact string comparison.
    pub redirect_uris: Vec<String>,
    pub post_logout_redirect_uris: Vec<String>,
    pub grant_types: Vec<GrantType>,
    pub settings: ApplicationSettings,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

impl Application {
    pub fn client_id(&self) -> &str {
        self.id.as_str()
    }

    /// The `aud` of its client-credentials tokens: the configured audience, or its id.
    pub fn audience(&self) -> &str {
        self.settings.audience.as_deref().unwrap_or(self.id.as_str())
    }

    pub fn allows(&self, grant: GrantType) -> bool {
        self.grant_types.contains(&grant)
    }
}

/// A link (with its code) emailed to verify an address or reset a password, as stored:
/// keyed hashes only (`latchkey_core::links`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailLink {
    /// Keyed hash of the token in the link: the key the link is found by.
    pub token_hash: String,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub purpose: LinkPurpose,
    /// Keyed hash of the code in the same email, bound to the account and purpose.
    pub code_hash: String,
    /// Keyed hash of the address the email went to.
    pub email_hash: String,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub consumed_at: Option<UnixMillis>,
}

/// Everything emailing a link writes, in one transaction: the link (ending the user's
/// earlier links of the same purpose), its outbox message, the send limits and cooldown,
/// and statistics. Over a limit or in the cooldown nothing is written.
#[derive(Debug, Clone)]
pub struct EmailLinkIssue {
    pub link: EmailLink,
    pub message: OutboxMessage,
    pub limits: Vec<SendLimit>,
    pub cooldown_key: String,
    pub cooldown_secs: i64,
    pub stats: Vec<(&'static str, String)>,
}

/// How a link is presented: its token, or the code from its email with the account the
/// code was entered for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkProof {
    Token { token_hash: String },
    Code { user_id: UserId, code_hash: String },
}

/// What spending a link does besides spending it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEffect {
    /// The account's address is verified.
    VerifyEmail,
    /// The password becomes `password_hash`; every session of the user ends and every other
    /// outstanding reset link of the user dies. The address is verified too (the link
    /// proved it receives mail).
    ResetPassword { password_hash: String },
}

impl LinkEffect {
    pub fn purpose(&self) -> LinkPurpose {
        match self {
            LinkEffect::VerifyEmail => LinkPurpose::VerifyEmail,
            LinkEffect::ResetPassword { .. } => LinkPurpose::ResetPassword,
        }
    }
}

/// Spending one link: one conditional write (live, unspent, of this purpose, for this user,
/// sent to the address the account has now), then its effect and audit record, in one
/// transaction; nothing is written unless the link was spent here.
#[derive(Debug, Clone)]
pub struct LinkConsume {
    pub tenant_id: TenantId,
    pub token_hash: String,
    pub user_id: UserId,
    /// Keyed hash of the account's address now.
    pub email_hash: String,
    pub effect: LinkEffect,
    pub audit: Option<AuditEvent>,
}

/// An enrollment ticket as stored (`latchkey_core::tickets`): a keyed hash of its token,
/// the user it is for, and what it asks of the sign-in that spends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnrollmentTicket {
    /// `etk_…`: names the ticket in the audit log and the API; opens nothing.
    pub id: String,
    /// Keyed hash of the token in the link: the key the ticket is found by.
    pub token_hash: String,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    /// The kind the user must enroll; `None`: any the tenant allows.
    pub factor_kind: Option<FactorKind>,
    /// Whether a user who already has a second factor may use it to add another.
    pub allow_multiple: bool,
    pub created_at: UnixMillis,
    pub expires_at: UnixMillis,
    pub consumed_at: Option<UnixMillis>,
}

/// The email that carries a ticket's link, with its send limits and cooldown.
#[derive(Debug, Clone)]
pub struct TicketEmail {
    pub message: OutboxMessage,
    pub limits: Vec<SendLimit>,
    pub cooldown_key: String,
    pub cooldown_secs: i64,
    pub stats: Vec<(&'static str, String)>,
}

/// Everything issuing a ticket writes, in one transaction: the ticket (ending the user's
/// earlier ones), its email when one is sent (under the send limits and cooldown: over one,
/// nothing is written), and the audit record.
#[derive(Debug, Clone)]
pub struct EnrollmentTicketIssue {
    pub ticket: EnrollmentTicket,
    pub email: Option<TicketEmail>,
    pub audit: Option<AuditEvent>,
}

/// Spending a ticket: one conditional write (live, unspent, this tenant's, this user's),
/// then its audit record; nothing is written unless the ticket was spent here.
#[derive(Debug, Clone)]
pub struct TicketSpend {
    pub tenant_id: TenantId,
    pub token_hash: String,
    pub user_id: UserId,
    pub audit: Option<AuditEvent>,
}

/// An organization of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organization {
    pub id: latchkey_core::ids::OrganizationId,
    pub tenant_id: TenantId,
    pub name: String,
    pub created_at: UnixMillis,
}

/// A role of a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Role {
    pub id: latchkey_core::ids::RoleId,
    pub tenant_id: TenantId,
    pub name: String,
    pub created_at: UnixMillis,
}

/// A role given to a user, in the tenant or within one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleAssignment {
    pub role_id: latchkey_core::ids::RoleId,
    pub user_id: UserId,
    pub organization_id: Option<latchkey_core::ids::OrganizationId>,
    pub created_at: UnixMillis,
}

/// A remembered device (`latchkey_core::devices`). The token itself is never stored: its
/// keyed hash, with the user id as context, is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RememberedDevice {
    pub id: DeviceId,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub token_hash: String,
    /// From the user agent that asked to be remembered.
    pub name: Option<String>,
    /// What the verification that remembered it reached (`aal2`, `aal2_phr`).
    pub aal: String,
    pub created_ip: Option<String>,
    pub last_ip: Option<String>,
    pub created_at: UnixMillis,
    pub last_used_at: Option<UnixMillis>,
    pub expires_at: UnixMillis,
    pub revoked_at: Option<UnixMillis>,
}

/// An MFA rule an organization, role, application or user carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MfaRuleRecord {
    pub tenant_id: TenantId,
    /// `organization`, `role`, `application` or `user`.
    pub level: String,
    pub target_id: String,
    /// The rule as JSON (`latchkey_core::policy::engine::Rule`).
    pub rule: String,
    /// A user's exemption: MFA optional for them until then.
    pub exempt_until: Option<UnixMillis>,
    pub reason: Option<String>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
    /// The organization's, role's or application's name (read only: joined when listed).
    pub target_name: Option<String>,
}

/// A webhook endpoint of a tenant (docs/events.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    pub id: WebhookId,
    pub tenant_id: TenantId,
    /// `https://…` (or `http://` where the operator allows private destinations).
    pub url: String,
    pub description: Option<String>,
    /// The event types it receives (catalogue names, sorted); `None`: every type.
    pub events: Option<Vec<String>>,
    pub enabled: bool,
    /// The signing secret, sealed to this row (`SealedColumn::WebhookSecret`).
    pub secret_sealed: String,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// A change to an endpoint: the fields given are replaced, the others kept, in one
/// conditional write (so concurrent changes of different fields all stay).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WebhookPatch {
    pub url: Option<String>,
    /// `Some(None)` clears it.
    pub description: Option<Option<String>>,
    /// `Some(None)`: every event type.
    pub events: Option<Option<Vec<String>>>,
    pub enabled: Option<bool>,
    pub secret_sealed: Option<String>,
    pub updated_at: UnixMillis,
}

/// Where a webhook message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WebhookDeliveryStatus {
    /// Waiting for (another) attempt at `next_attempt_at`.
    Pending,
    /// A worker holds it until `locked_until` (past that, another may take it).
    Sending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Out of attempts, or refused for good (a 4xx, a refused destination).
    Failed,
}

impl WebhookDeliveryStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookDeliveryStatus::Pending => "pending",
            WebhookDeliveryStatus::Sending => "sending",
            WebhookDeliveryStatus::Delivered => "delivered",
            WebhookDeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Pending, Self::Sending, Self::Delivered, Self::Failed]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

/// One event on its way to one endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookDelivery {
    /// `msg_…` ([`latchkey_core::ids::is_delivery_id`]).
    pub id: String,
    pub tenant_id: TenantId,
    pub webhook_id: WebhookId,
    pub event_id: String,
    pub event_type: String,
    pub status: WebhookDeliveryStatus,
    pub attempts: i64,
    pub next_attempt_at: UnixMillis,
    pub locked_until: Option<UnixMillis>,
    /// The HTTP status of the last answer, if one came.
    pub last_status_code: Option<i64>,
    /// Why the last attempt failed (ours, never the endpoint's body).
    pub last_error: Option<String>,
    pub created_at: UnixMillis,
    pub updated_at: UnixMillis,
}

/// A delivery a worker claimed, with what it needs to send it: its endpoint and its event
/// (`None` if the event is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimedDelivery {
    pub delivery: WebhookDelivery,
    pub webhook: Webhook,
    pub event: Option<AuditEvent>,
}

/// The outcome of one attempt, as the worker records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAttempt {
    pub status: WebhookDeliveryStatus,
    pub next_attempt_at: UnixMillis,
    pub status_code: Option<i64>,
    pub error: Option<String>,
}

/// What asking for a redelivery did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Redelivery {
    /// Queued for an attempt now.
    Queued(Box<WebhookDelivery>),
    /// A worker is sending it at this moment; nothing changed.
    InProgress,
    /// No such delivery of this endpoint.
    NotFound,
}
