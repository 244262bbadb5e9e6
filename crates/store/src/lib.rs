//! Latchkey's storage layer: one trait per aggregate, implemented for PostgreSQL (sqlx) and
//! SQLite (rusqlite on one writer thread).
//!
//! The backend is chosen once, in [`open`]; everything above works with `Arc<dyn Store>`.
//! Each call's SQL and control flow is written once (`backend/scripts/`) and run by both
//! backends; every backend must pass the contract suite in `tests/contract/`. Single-use things are
//! consumed with one conditional write and counters move inside a write transaction, so
//! concurrent requests on one or several server replicas cannot double-spend them.

mod backend;
pub mod model;

use async_trait::async_trait;
use latchkey_core::clock::UnixMillis;
use latchkey_core::factor::FactorKind;
use latchkey_core::ids::{
    ApiKeyId, ApplicationId, ChallengeId, DeviceId, FactorId, OrganizationId, RoleId, SessionId, TenantId,
    UserId, WebhookId,
};
use latchkey_core::throttle::{ThrottleDecision, ThrottlePolicy};
use model::*;
use std::sync::Arc;

pub use backend::{open, OpenOptions};

/// Storage failures. Callers map `Conflict` to a domain error; everything else is internal
/// and is logged once, never shown to a client.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("unique constraint violated")]
    Conflict,
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("sqlite error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("cannot open the database: {0}")]
    Open(String),
    /// The transaction holding this write did not commit; nothing of it was kept.
    #[error("commit failed: {0}")]
    Commit(String),
    #[error("the store is closed")]
    Closed,
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    #[error("migration {version} failed: {message}")]
    Migration { version: i64, message: String },
    #[error("unsupported database url (use sqlite://PATH or postgres://…)")]
    UnsupportedUrl,
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

#[async_trait]
pub trait TenantStore {
    async fn insert_tenant(&self, tenant: &Tenant) -> Result<()>;
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>>;
    async fn update_tenant_settings(&self, tenant: &Tenant, now: UnixMillis) -> Result<bool>;
    /// Sets the tenant's slug and host (`None` clears one). Fails with
    /// [`StoreError::Conflict`] if another tenant has either.
    async fn set_tenant_addresses(
        &self,
        id: &TenantId,
        slug: Option<&str>,
        host: Option<&str>,
        now: UnixMillis,
    ) -> Result<bool>;
    /// The tenants that have a slug or a host.
    async fn list_addressed_tenants(&self) -> Result<Vec<Tenant>>;
    /// Creates the default tenant (and its first key) unless one exists, atomically, so
    /// replicas starting together agree on one. Returns the default tenant's id and whether
    /// this call created it.
    async fn ensure_default_tenant(
        &self,
        tenant: &Tenant,
        first_key: Option<&ApiKeyRecord>,
    ) -> Result<(TenantId, bool)>;
}

#[async_trait]
pub trait ApiKeyStore {
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<()>;
    async fn find_api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>>;
    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>>;
    /// Marks a key revoked; `false` if it does not exist or was already revoked.
    async fn revoke_api_key(&self, id: &ApiKeyId, now: UnixMillis) -> Result<bool>;
}

#[async_trait]
pub trait UserStore {
    /// Fails with [`StoreError::Conflict`] if the tenant already has this email.
    async fn insert_user(&self, user: &User) -> Result<()>;
    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>>;
    async fn find_user_by_email(&self, tenant: &TenantId, email: &str) -> Result<Option<User>>;
    /// Users of a tenant in id order, after `after`, at most `limit`.
    async fn list_users(&self, tenant: &TenantId, after: Option<&UserId>, limit: u32) -> Result<Vec<User>>;
    /// Sets the keyed hash of a user's phone number (for rows sealed after the fact).
    async fn set_phone_hash(&self, user: &UserId, hash: &str) -> Result<()>;
    /// The factor the user prefers at sign-in, if one is set and it is still one of the
    /// user's active factors (a removed or reset factor is no preference).
    async fn preferred_factor(&self, tenant: &TenantId, user: &UserId) -> Result<Option<FactorId>>;
    /// Makes `factor` the user's preferred one if it is an active factor of theirs; `false`
    /// (and nothing changed) if it is not.
    async fn set_preferred_factor(
        &self,
        tenant: &TenantId,
        user: &UserId,
        factor: &FactorId,
        now: UnixMillis,
    ) -> Result<bool>;
}

/// Applications (OAuth 2.0 / OpenID Connect clients), each in one tenant: every call names
/// the tenant, and another tenant's application id finds nothing.
#[async_trait]
pub trait ApplicationStore {
    /// Fails with [`StoreError::Conflict`] if the id exists.
    async fn insert_application(&self, app: &Application) -> Result<()>;
    async fn get_application(&self, tenant: &TenantId, id: &ApplicationId) -> Result<Option<Application>>;
    /// A tenant's applications in id order (oldest first), after `after`, at most `limit`.
    async fn list_applications(
        &self,
        tenant: &TenantId,
        after: Option<&ApplicationId>,
        limit: u32,
    ) -> Result<Vec<Application>>;
    /// Stores a changed registration: name, redirect URIs, grant types, settings and
    /// `updated_at`; never the type or the secret. `false` if there is no such application.
    async fn update_application(&self, app: &Application) -> Result<bool>;
    /// `false` if there was no such application.
    async fn delete_application(&self, tenant: &TenantId, id: &ApplicationId) -> Result<bool>;
    /// Replaces a confidential client's secret hash (the old secret stops working at once);
    /// `false` if there is no such confidential client.
    async fn set_application_secret(
        &self,
        tenant: &TenantId,
        id: &ApplicationId,
        secret_hash: &str,
        secret_prefix: &str,
        now: UnixMillis,
    ) -> Result<bool>;
}

#[async_trait]
pub trait SessionStore {
    /// Stores a new session and its first refresh token in one transaction.
    async fn create_session(&self, session: &Session, refresh_hash: &str) -> Result<()>;
    async fn get_session(&self, id: &SessionId) -> Result<Option<Session>>;
    /// Consumes a refresh token and stores its successor, atomically. A token that was
    /// already used revokes its whole family (refresh-token reuse detection).
    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        next_hash: &str,
        now: UnixMillis,
    ) -> Result<RotateOutcome>;
    /// Revokes a session (its whole refresh family); `false` if unknown or already revoked.
    async fn revoke_session(&self, id: &SessionId, now: UnixMillis) -> Result<bool>;
    /// The session a refresh token belongs to, whether or not the token is still usable.
    async fn session_for_refresh(&self, hash: &str) -> Result<Option<Session>>;
    /// Revokes a session and every session issued from it (`parent_id`); how many were live.
    async fn revoke_session_tree(&self, id: &SessionId, now: UnixMillis) -> Result<u64>;
    /// Revokes every session issued to an application (it was deleted); how many were live.
    async fn revoke_client_sessions(
        &self,
        tenant: &TenantId,
        client: &ApplicationId,
        now: UnixMillis,
    ) -> Result<u64>;
}

#[async_trait]
pub trait AuthorizationStore {
    async fn insert_authorization_code(&self, code: &AuthorizationCode) -> Result<()>;
    async fn get_authorization_code(&self, code_hash: &str) -> Result<Option<AuthorizationCode>>;
    /// Redeems a code: consumes it and stores `session` with its first refresh token, in one
    /// transaction. Of any number of concurrent redemptions at most one is `Redeemed`; a
    /// code redeemed before answers `Replayed` and revokes the session that redemption
    /// issued; an expired one is consumed and answers `Expired`.
    async fn redeem_authorization_code(
        &self,
        code_hash: &str,
        session: &Session,
        refresh_hash: &str,
        now: UnixMillis,
    ) -> Result<RedeemOutcome>;
    /// Consumes a code without issuing anything.
    async fn burn_authorization_code(&self, code_hash: &str, now: UnixMillis) -> Result<()>;
}

#[async_trait]
pub trait ThrottleStore {
    /// Counts one attempt against `key` unless it is locked, atomically across concurrent
    /// requests and replicas, and applies `policy` to set the next lock.
    async fn throttle_attempt(
        &self,
        key: &ThrottleKey,
        policy: &ThrottlePolicy,
        now: UnixMillis,
    ) -> Result<ThrottleDecision>;
    /// Forgets the failures of `key` (after a success with that authenticator).
    async fn throttle_clear(&self, key: &ThrottleKey) -> Result<()>;
    /// `(failures, locked_until)` of `key` as stored, without counting anything; `None` if
    /// it has no row. For throttles that count failures only (client authentication): a
    /// read before the attempt, [`ThrottleStore::throttle_attempt`] after a failure.
    async fn throttle_peek(&self, key: &ThrottleKey) -> Result<Option<(u32, UnixMillis)>>;
}

#[async_trait]
pub trait KeyStore {
    /// Stores a sealed server-wide secret unless one of that name exists; returns the value
    /// now stored (ours or the one another replica stored first).
    async fn ensure_server_secret(&self, name: &str, sealed: &str, now: UnixMillis) -> Result<String>;
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()>;
    /// Stores `key` as the first key of its algorithm, unless a key of that algorithm is
    /// published at `now` or a first one was ever stored: replicas starting together on an
    /// empty database each offer one, and exactly one is kept.
    async fn ensure_first_signing_key(&self, key: &SigningKeyRecord, now: UnixMillis) -> Result<()>;
    /// Signing keys published at `now` (not retired by then, scheduled ones included),
    /// most recently created first.
    async fn published_signing_keys(&self, now: UnixMillis) -> Result<Vec<SigningKeyRecord>>;
    /// A rotation, in one transaction: stores `key` and schedules every other key of its
    /// algorithm not already retired by `retire_others_at` to retire then. Returns the ids
    /// of the keys so scheduled.
    async fn schedule_signing_rotation(
        &self,
        key: &SigningKeyRecord,
        retire_others_at: UnixMillis,
    ) -> Result<Vec<String>>;
    /// Every sealed value of one column, for re-sealing under a new master key.
    async fn list_sealed(&self, column: SealedColumn) -> Result<Vec<(String, String)>>;
    /// Replaces a sealed value only if it still holds `old` (compare-and-swap).
    async fn replace_sealed(&self, column: SealedColumn, row: &str, old: &str, new: &str) -> Result<bool>;
    /// A value of the server's own bookkeeping (`meta` table), e.g. one-time upgrade steps.
    async fn get_meta(&self, key: &str) -> Result<Option<String>>;
    async fn put_meta(&self, key: &str, value: &str) -> Result<()>;
}

#[async_trait]
pub trait FactorStore {
    /// Stores a factor; a new pending enrollment replaces the user's other pending ones of
    /// the same kind, so a restarted enrollment's old secret never verifies.
    async fn insert_factor(&self, factor: &Factor) -> Result<()>;
    async fn get_factor(&self, tenant: &TenantId, id: &FactorId) -> Result<Option<Factor>>;
    /// All of a user's factors, oldest first, backup codes last.
    async fn list_factors(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Factor>>;
    /// Confirms a pending, unexpired factor (consuming what `check` names) if `rules` still
    /// hold, and installs `backup` if the user had no other active factor, in one
    /// transaction; nothing is written unless it is activated. A first factor also ends the
    /// user's other sessions and drops pending enrollments started elsewhere (`rules`).
    async fn activate_factor(
        &self,
        id: &FactorId,
        check: &Check,
        backup: &BackupInstall,
        rules: &ActivationRules,
        now: UnixMillis,
    ) -> Result<ActivateOutcome>;
    /// Marks a user's phone number verified (it received a code that came back), if the
    /// user's number still has this keyed hash.
    async fn mark_phone_verified(&self, user: &UserId, phone_hash: &str, now: UnixMillis) -> Result<()>;
    /// Deletes a factor and ends every session of the user but `keep_session`; when no
    /// active factor but backup codes remains, the backup codes go too. `false` (and
    /// nothing ended) if there was no such factor.
    async fn delete_factor(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &FactorId,
        keep_session: Option<&SessionId>,
        now: UnixMillis,
    ) -> Result<bool>;
    /// Replaces every backup code of the user at once (all new, or all old after a crash)
    /// and ends every session of the user but `keep_session`. Returns the backup factor's id.
    async fn replace_backup_codes(
        &self,
        install: &BackupInstall,
        keep_session: Option<&SessionId>,
        now: UnixMillis,
    ) -> Result<FactorId>;
    async fn unused_backup_codes(&self, factor: &FactorId) -> Result<i64>;
    /// Removes every factor and backup code of the user, closes open challenges and ends
    /// every session. Returns how many factors were removed.
    async fn reset_mfa(&self, tenant: &TenantId, user: &UserId, now: UnixMillis) -> Result<u64>;
    /// How many users of the tenant have an active factor (backup codes aside) but none of
    /// the `allowed` kinds: those a narrowing of the allowed kinds sends to re-enroll.
    async fn count_users_to_reenroll(&self, tenant: &TenantId, allowed: &[FactorKind]) -> Result<i64>;
}

#[async_trait]
pub trait ChallengeStore {
    async fn insert_challenge(&self, challenge: &Challenge) -> Result<()>;
    async fn get_challenge(&self, tenant: &TenantId, id: &ChallengeId) -> Result<Option<Challenge>>;
    /// Records which factor the user chose; `false` if the challenge is no longer open.
    async fn choose_factor(&self, id: &ChallengeId, factor: &FactorId, now: UnixMillis) -> Result<bool>;
    /// Completes an open challenge and consumes `proof`, atomically: of any number of
    /// concurrent calls for one challenge or one proof, at most one succeeds.
    async fn complete_challenge(
        &self,
        id: &ChallengeId,
        proof: &Proof,
        now: UnixMillis,
    ) -> Result<CompleteOutcome> {
        self.complete_sign_in(id, proof, &SignInWrites::default(), now)
            .await
    }
    /// Like [`ChallengeStore::complete_challenge`], and on success also performs `writes`
    /// in the same transaction (nothing of them happens on failure).
    async fn complete_sign_in(
        &self,
        id: &ChallengeId,
        proof: &Proof,
        writes: &SignInWrites,
        now: UnixMillis,
    ) -> Result<CompleteOutcome>;
    /// A throttled verification in one transaction (see [`SignInAttempt`]): the hot path
    /// of `POST /v1/mfa/verify` commits once, whatever the outcome. Of concurrent attempts
    /// against one authenticator, none is decided on a failure count that misses another's.
    async fn attempt_sign_in(&self, attempt: &SignInAttempt, now: UnixMillis) -> Result<AttemptOutcome>;
}

/// WebAuthn credentials and ceremony state. Each ceremony's state is taken once (a second
/// answer to it finds nothing), and a credential's counter only moves forward.
#[async_trait]
pub trait WebauthnStore {
    /// A user's registered credentials.
    async fn list_webauthn_credentials(
        &self,
        tenant: &TenantId,
        user: &UserId,
    ) -> Result<Vec<WebauthnCredential>>;
    /// The credential with this id (base64url) in the tenant.
    async fn find_webauthn_credential(
        &self,
        tenant: &TenantId,
        credential_id: &str,
    ) -> Result<Option<WebauthnCredential>>;
    /// Moves the counter forward to `count` (both 0 is allowed: no counter) and records the
    /// use; otherwise flags the credential as possibly cloned. `true` when accepted.
    async fn advance_webauthn_counter(
        &self,
        factor: &FactorId,
        count: i64,
        backup_state: bool,
        now: UnixMillis,
    ) -> Result<bool>;
    /// Flags a credential as possibly cloned; `false` if it was already.
    async fn flag_webauthn_clone(&self, factor: &FactorId, now: UnixMillis) -> Result<bool>;
    /// Stores the ceremony state of an open sign-in challenge (replacing an earlier one).
    async fn set_challenge_state(
        &self,
        id: &ChallengeId,
        state_sealed: &str,
        now: UnixMillis,
    ) -> Result<bool>;
    /// Takes a challenge's ceremony state if it still holds `state_sealed`; once.
    async fn take_challenge_state(
        &self,
        id: &ChallengeId,
        state_sealed: &str,
        now: UnixMillis,
    ) -> Result<bool>;
    /// Stores a passwordless ceremony under the keyed hash of its challenge (expired ones of
    /// the tenant are removed first).
    async fn insert_passkey_ceremony(
        &self,
        tenant: &TenantId,
        challenge_hash: &str,
        state_sealed: &str,
        now: UnixMillis,
        expires_at: UnixMillis,
    ) -> Result<()>;
    /// Takes a passwordless ceremony, once: its sealed state, if it exists and is live.
    async fn take_passkey_ceremony(
        &self,
        tenant: &TenantId,
        challenge_hash: &str,
        now: UnixMillis,
    ) -> Result<Option<String>>;
}

#[async_trait]
pub trait IdempotencyStore {
    /// Records the first use of a key (or reports an earlier one), atomically: of
    /// concurrent requests with one key, one starts and the others see it in flight.
    /// Expired records of the tenant are removed first.
    async fn idempotency_begin(
        &self,
        record: &IdempotencyRecord,
        now: UnixMillis,
    ) -> Result<IdempotencyBegin>;
    /// Stores the answer of a started request.
    async fn idempotency_finish(
        &self,
        record: &IdempotencyRecord,
        status: u16,
        response_sealed: &str,
    ) -> Result<()>;
    /// Forgets a started request that did not succeed, so a retry runs again.
    async fn idempotency_abandon(&self, record: &IdempotencyRecord) -> Result<()>;
}

/// Each user's recent sign-in attempts, for adaptive MFA (`latchkey_core::policy::risk`).
#[async_trait]
pub trait SignInHistoryStore {
    /// Records an attempt and, in the same transaction, prunes that user's history to
    /// `keep` (successes and other attempts each by age and by count), so it stays bounded.
    async fn record_signin(&self, record: &SignInRecord, keep: &HistoryBounds) -> Result<()>;
    /// The user's attempts within `bounds`: the newest successes, then the newest others
    /// (two lists, so failures cannot crowd out the successes a sign-in is compared with).
    async fn recent_signins(
        &self,
        tenant: &TenantId,
        user: &UserId,
        bounds: &HistoryBounds,
    ) -> Result<Vec<SignInRecord>>;
    /// The sign-in waiting on `challenge` passed its second factor: it becomes a success.
    async fn confirm_signin(&self, tenant: &TenantId, challenge: &ChallengeId) -> Result<bool>;
}

#[async_trait]
pub trait AuditStore {
    async fn insert_audit(&self, event: &AuditEvent) -> Result<()>;
    /// Events of a tenant, newest first, before `before` (an event id), at most `limit`.
    async fn list_audit(
        &self,
        tenant: &TenantId,
        user: Option<&UserId>,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>>;
}

/// Webhook endpoints and their deliveries (docs/events.md). Every call about an endpoint
/// names its tenant; another tenant's id finds nothing. Deliveries are written by
/// [`AuditStore::insert_audit`] (and every other call that writes an audit record), in its
/// transaction.
#[async_trait]
pub trait WebhookStore {
    async fn insert_webhook(&self, hook: &Webhook) -> Result<()>;
    async fn get_webhook(&self, tenant: &TenantId, id: &WebhookId) -> Result<Option<Webhook>>;
    /// A tenant's endpoints, oldest first.
    async fn list_webhooks(&self, tenant: &TenantId) -> Result<Vec<Webhook>>;
    /// Changes the fields `patch` gives, keeping the others, atomically; the endpoint as it
    /// now is, or `None` if it does not exist.
    async fn update_webhook(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        patch: &WebhookPatch,
    ) -> Result<Option<Webhook>>;
    /// Removes an endpoint and its deliveries.
    async fn delete_webhook(&self, tenant: &TenantId, id: &WebhookId) -> Result<bool>;
    /// An endpoint's deliveries, newest first, before `before` (a delivery id).
    async fn list_webhook_deliveries(
        &self,
        tenant: &TenantId,
        hook: &WebhookId,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<WebhookDelivery>>;
    /// Queues a delivery for another attempt now (unless a worker holds it).
    async fn redeliver_webhook(
        &self,
        tenant: &TenantId,
        hook: &WebhookId,
        id: &str,
        now: UnixMillis,
    ) -> Result<Redelivery>;
    /// Claims up to `limit` due deliveries of enabled endpoints, leasing each for
    /// `lease_ms` and counting the attempt: of concurrent workers (or replicas), one claims
    /// each.
    async fn claim_webhook_deliveries(
        &self,
        now: UnixMillis,
        lease_ms: i64,
        limit: u32,
    ) -> Result<Vec<ClaimedDelivery>>;
    /// Records the outcome of the attempt numbered `attempts`; `false` (nothing written) if
    /// the delivery is no longer that claim (its lease ran out and another worker took it).
    async fn finish_webhook_delivery(
        &self,
        id: &str,
        attempts: i64,
        attempt: &WebhookAttempt,
        now: UnixMillis,
    ) -> Result<bool>;
}

#[async_trait]
pub trait DeliveryStore {
    /// Issues a code: limits, cooldown, code, outbox message and statistics in one
    /// transaction. Over a limit, nothing is written.
    async fn issue_code(&self, issue: &CodeIssue, now: UnixMillis) -> Result<IssueOutcome>;
    /// Queues a message that carries no code (a security notice). With a cooldown key,
    /// only if no notice under that key was queued in the last `cooldown_secs` (checked and
    /// set atomically): `false`, and nothing written, when it was.
    async fn queue_notice(
        &self,
        message: &OutboxMessage,
        cooldown_key: Option<&str>,
        cooldown_secs: i64,
        now: UnixMillis,
    ) -> Result<bool>;
    /// Claims up to `limit` messages due for an attempt, leasing them for `lease_ms` so no
    /// other worker (or replica) takes them meanwhile.
    async fn claim_outbox(&self, now: UnixMillis, lease_ms: i64, limit: u32) -> Result<Vec<OutboxMessage>>;
    /// Records the outcome of an attempt on a claimed message.
    async fn finish_outbox(&self, id: &str, update: &DeliveryUpdate, now: UnixMillis) -> Result<()>;
    /// The latest message sent for a factor.
    async fn last_delivery(&self, factor: &FactorId) -> Result<Option<OutboxMessage>>;
    /// The undelivered messages (queued or being sent) of every tenant: how many, and when
    /// the oldest was queued.
    async fn outbox_backlog(&self) -> Result<(i64, Option<UnixMillis>)>;
    async fn bump_stat(&self, tenant: &TenantId, metric: &str, label: &str) -> Result<()>;
    /// `(metric, label, count)` for a tenant.
    async fn delivery_stats(&self, tenant: &TenantId) -> Result<Vec<(String, String, i64)>>;
    /// A tenant's sealed provider configuration for a channel (`sms`, `email`).
    async fn get_provider(&self, tenant: &TenantId, channel: &str) -> Result<Option<String>>;
    async fn put_provider(
        &self,
        tenant: &TenantId,
        channel: &str,
        sealed: &str,
        now: UnixMillis,
    ) -> Result<()>;
    async fn delete_provider(&self, tenant: &TenantId, channel: &str) -> Result<bool>;
}

/// Links emailed to verify an address or reset a password. Each is spent once: of
/// concurrent spends of one link, one succeeds.
#[async_trait]
pub trait EmailLinkStore {
    /// Issues a link with its message: limits and cooldown, the link (the user's earlier
    /// links of the same purpose end), the outbox message and statistics, in one
    /// transaction; over a limit or in the cooldown nothing is written.
    async fn issue_email_link(&self, issue: &EmailLinkIssue, now: UnixMillis) -> Result<IssueOutcome>;
    /// The live (unspent, unexpired) link of `purpose` that `proof` names.
    async fn find_email_link(
        &self,
        tenant: &TenantId,
        purpose: LinkPurpose,
        proof: &LinkProof,
        now: UnixMillis,
    ) -> Result<Option<EmailLink>>;
    /// Spends a link (one conditional write) and applies its effect, in one transaction;
    /// `false`, and nothing written, if it was not live or does not match (see [`LinkConsume`]).
    async fn consume_email_link(&self, spend: &LinkConsume, now: UnixMillis) -> Result<bool>;
}

/// Enrollment tickets (`latchkey_core::tickets`). Each is spent once: of concurrent spends
/// of one ticket, one succeeds.
#[async_trait]
pub trait EnrollmentTicketStore {
    /// Issues a ticket with its email (if any) and audit record, in one transaction; the
    /// user's earlier tickets end. With an email over a limit or in the cooldown, nothing is
    /// written.
    async fn issue_enrollment_ticket(
        &self,
        issue: &EnrollmentTicketIssue,
        now: UnixMillis,
    ) -> Result<IssueOutcome>;
    /// The live (unspent, unexpired) ticket of the tenant whose token hashes to `token_hash`.
    async fn find_enrollment_ticket(
        &self,
        tenant: &TenantId,
        token_hash: &str,
        now: UnixMillis,
    ) -> Result<Option<EnrollmentTicket>>;
    /// Spends a ticket (one conditional write) with its audit record; `false`, and nothing
    /// written, if it was not live or is not the user's.
    async fn consume_enrollment_ticket(&self, spend: &TicketSpend, now: UnixMillis) -> Result<bool>;
}

/// Bulk loading for benchmarks and size tests: many rows in few transactions.
#[async_trait]
pub trait SeedStore {
    /// Inserts users, their factors and pending challenges, committing every few thousand
    /// rows. Not for production paths: no per-row checks beyond the schema's.
    async fn seed(&self, users: &[User], factors: &[Factor], challenges: &[Challenge]) -> Result<()>;
    /// Rough size of the store's data in bytes (for bytes-per-user figures): the SQLite
    /// file, or the tables (with indexes and TOAST) of the PostgreSQL store's schema.
    async fn database_bytes(&self) -> Result<i64>;
}

/// The row id of a tenant's provider configuration (also its sealing context).
pub fn provider_row_id(tenant: &TenantId, channel: &str) -> String {
    format!("{tenant}:{channel}")
}

/// Everything a Latchkey server needs from its database.
/// Organizations, roles, and the MFA rules of organizations, roles, applications and users.
#[async_trait]
pub trait PolicyStore {
    /// Fails with [`StoreError::Conflict`] if the tenant has an organization of that name.
    async fn insert_organization(&self, org: &Organization) -> Result<()>;
    async fn get_organization(&self, tenant: &TenantId, id: &OrganizationId) -> Result<Option<Organization>>;
    async fn list_organizations(&self, tenant: &TenantId) -> Result<Vec<Organization>>;
    /// Fails with [`StoreError::Conflict`] if the name is another organization's.
    async fn rename_organization(
        &self,
        tenant: &TenantId,
        id: &OrganizationId,
        name: &str,
        now: UnixMillis,
    ) -> Result<bool>;
    /// Deletes it with its members, the roles given within it and its rule.
    async fn delete_organization(&self, tenant: &TenantId, id: &OrganizationId) -> Result<bool>;
    /// `false` if the user was a member already.
    async fn add_organization_member(
        &self,
        tenant: &TenantId,
        org: &OrganizationId,
        user: &UserId,
        now: UnixMillis,
    ) -> Result<bool>;
    /// Also removes the roles the user had within it.
    async fn remove_organization_member(
        &self,
        tenant: &TenantId,
        org: &OrganizationId,
        user: &UserId,
    ) -> Result<bool>;
    async fn list_organization_members(&self, tenant: &TenantId, org: &OrganizationId)
        -> Result<Vec<UserId>>;
    async fn user_organizations(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Organization>>;
    /// Fails with [`StoreError::Conflict`] if the tenant has a role of that name.
    async fn insert_role(&self, role: &Role) -> Result<()>;
    async fn get_role(&self, tenant: &TenantId, id: &RoleId) -> Result<Option<Role>>;
    async fn list_roles(&self, tenant: &TenantId) -> Result<Vec<Role>>;
    /// Deletes it with its assignments and its rule.
    async fn delete_role(&self, tenant: &TenantId, id: &RoleId) -> Result<bool>;
    /// `false` if the user had the role (there) already.
    async fn assign_role(&self, tenant: &TenantId, assignment: &RoleAssignment) -> Result<bool>;
    async fn unassign_role(
        &self,
        tenant: &TenantId,
        role: &RoleId,
        user: &UserId,
        org: Option<&OrganizationId>,
    ) -> Result<bool>;
    async fn user_roles(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<RoleAssignment>>;
    /// Sets (replaces) a target's rule.
    async fn put_mfa_rule(&self, rule: &MfaRuleRecord) -> Result<()>;
    async fn get_mfa_rule(
        &self,
        tenant: &TenantId,
        level: &str,
        target: &str,
    ) -> Result<Option<MfaRuleRecord>>;
    async fn delete_mfa_rule(&self, tenant: &TenantId, level: &str, target: &str) -> Result<bool>;
    /// Every rule applying to the user (theirs, their organizations', their roles') and to
    /// the application they sign in to, with the targets' names.
    async fn mfa_rules_for_user(
        &self,
        tenant: &TenantId,
        user: &UserId,
        application: Option<&str>,
    ) -> Result<Vec<MfaRuleRecord>>;
}

/// Remembered devices. They are created with the verification that remembers them
/// (`SignInWrites::device`), and revoked with every change that ends all of a user's
/// sessions (a password reset, a factor removed, backup codes replaced, an MFA reset), and
/// by a backup code used to sign in.
#[async_trait]
pub trait DeviceStore {
    /// The user's live device with this token hash, its use recorded (`now`, `ip`).
    async fn use_device(
        &self,
        tenant: &TenantId,
        user: &UserId,
        token_hash: &str,
        ip: Option<&str>,
        now: UnixMillis,
    ) -> Result<Option<RememberedDevice>>;
    /// The user's live devices, newest first.
    async fn list_devices(
        &self,
        tenant: &TenantId,
        user: &UserId,
        now: UnixMillis,
    ) -> Result<Vec<RememberedDevice>>;
    /// Revokes one live device of the user; `false` if there is none with that id.
    async fn revoke_device(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &DeviceId,
        now: UnixMillis,
    ) -> Result<bool>;
    /// Revokes every live device of the user; how many.
    async fn revoke_devices(&self, tenant: &TenantId, user: &UserId, now: UnixMillis) -> Result<u64>;
}

#[async_trait]
pub trait Store:
    TenantStore
    + ApiKeyStore
    + UserStore
    + ApplicationStore
    + SessionStore
    + ThrottleStore
    + KeyStore
    + FactorStore
    + ChallengeStore
    + WebauthnStore
    + AuthorizationStore
    + AuditStore
    + IdempotencyStore
    + DeliveryStore
    + WebhookStore
    + EmailLinkStore
    + EnrollmentTicketStore
    + PolicyStore
    + DeviceStore
    + SignInHistoryStore
    + SeedStore
    + Send
    + Sync
{
    /// `sqlite` or `postgres`.
    fn backend(&self) -> &'static str;
    /// Applies pending migrations; safe to call from several replicas at once.
    async fn migrate(&self) -> Result<()>;
    /// A cheap round trip, for readiness checks.
    async fn ping(&self) -> Result<()>;
    /// How many database connections are in use, idle, and at most allowed (metrics).
    fn pool_usage(&self) -> PoolUsage;
    /// Closes the pools (at shutdown, and in tests).
    async fn close(&self);
}

pub type DynStore = Arc<dyn Store>;

/// Database connections as a backend counts them. SQLite: the pooled read-only connections
/// (the one writer is not counted); PostgreSQL: the pool's connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PoolUsage {
    pub in_use: u32,
    pub idle: u32,
    pub max: u32,
}
