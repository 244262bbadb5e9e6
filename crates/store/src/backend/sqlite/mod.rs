//! SQLite: the embedded, zero-configuration default.
//!
//! WAL journal with `synchronous=FULL`: a committed write (a consumed code, a new factor)
//! survives power loss, not only a process crash (SQLite docs: WAL with NORMAL "might roll
//! back following a power loss"; SECURITY.md test 62). Writes run on one writer thread that
//! commits concurrent requests together; reads run on a pool of read-only connections on
//! the calling thread (see `engine.rs`). The store traits run the scripts of `../scripts/`
//! on [`Lite`], a rusqlite connection whose [`Conn`] does its work inside the call, so a
//! script completes at its first poll ([`run_now`]) without leaving the thread it is on.

mod engine;

use super::conn::{args, fetch_one, match_params, run_now, Arg, Conn, Dialect, Map};
use super::scripts::{
    audit, challenges, delivery, factors, idempotency, keys, migrations, sessions, tenants, throttle, users,
};
use super::{Migration, OpenOptions};
use crate::model::*;
use crate::*;
use engine::{Engine, Settings};
use latchkey_core::clock::UnixMillis;
use latchkey_core::factor::FactorKind;
use latchkey_core::ids::{ApiKeyId, ChallengeId, FactorId, SessionId, TenantId, UserId};
use latchkey_core::throttle::{ThrottleDecision, ThrottlePolicy};
use rusqlite::types::{ToSqlOutput, ValueRef};
use rusqlite::{Connection, Statement, ToSql};
use std::future::{ready, Future};
use std::path::PathBuf;
use std::sync::Arc;

const MIGRATIONS: &[Migration] = &[
    (
        1,
        "foundation",
        include_str!("../../../migrations/sqlite/0001_foundation.sql"),
    ),
    (2, "mfa", include_str!("../../../migrations/sqlite/0002_mfa.sql")),
    (
        3,
        "delivery",
        include_str!("../../../migrations/sqlite/0003_delivery.sql"),
    ),
    (
        4,
        "review",
        include_str!("../../../migrations/sqlite/0004_review.sql"),
    ),
    (
        5,
        "challenge_state",
        include_str!("../../../migrations/sqlite/0005_challenge_state.sql"),
    ),
];

/// A store over one SQLite database file.
pub(super) struct SqliteStore {
    db: Engine,
}

/// The file a `sqlite://PATH` (or `sqlite:PATH`) URL names; query parameters are ignored.
fn path_of(url: &str) -> Result<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or(StoreError::UnsupportedUrl)?;
    let path = rest.split('?').next().unwrap_or("");
    if path.is_empty() || path.contains(":memory:") {
        return Err(StoreError::Open(
            "give SQLite a file path (sqlite://PATH); in-memory databases are not supported".into(),
        ));
    }
    Ok(PathBuf::from(path))
}

pub(super) async fn open(opts: &OpenOptions) -> Result<DynStore> {
    let settings = Settings {
        path: path_of(&opts.url)?,
        durable: opts.sqlite_durable,
        readers: usize::try_from(opts.max_connections.max(2)).unwrap_or(8),
    };
    let db = tokio::task::spawn_blocking(move || Engine::start(settings))
        .await
        .map_err(|e| StoreError::Open(e.to_string()))??;
    Ok(Arc::new(SqliteStore { db }))
}

impl ToSql for Arg<'_> {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match *self {
            Arg::Text(v) | Arg::OptText(Some(v)) => ValueRef::Text(v.as_bytes()),
            Arg::Int(v) | Arg::OptInt(Some(v)) => ValueRef::Integer(v),
            Arg::OptText(None) | Arg::OptInt(None) => ValueRef::Null,
            Arg::Bytes(v) => ValueRef::Blob(v),
        }))
    }
}

/// A rusqlite connection as a [`Conn`]: the writer's (inside its job's savepoint) or a
/// pooled reader's.
pub(crate) struct Lite<'c>(pub(crate) &'c Connection);

impl Lite<'_> {
    /// The cached statement for `sql` with `args` bound to its `$N` parameters by name.
    fn prepare(&self, sql: &str, args: &[Arg<'_>]) -> Result<rusqlite::CachedStatement<'_>> {
        let mut stmt = self.0.prepare_cached(sql)?;
        bind(&mut stmt, args)?;
        Ok(stmt)
    }

    fn query<T>(
        &self,
        sql: &str,
        args: &[Arg<'_>],
        map: Map<T>,
        mut each: impl FnMut(T) -> bool,
    ) -> Result<()> {
        let mut stmt = self.prepare(sql, args)?;
        let mut rows = stmt.raw_query();
        while let Some(row) = rows.next()? {
            if !each(map(row)?) {
                break;
            }
        }
        Ok(())
    }
}

fn bind(stmt: &mut Statement<'_>, args: &[Arg<'_>]) -> Result<()> {
    let count = stmt.parameter_count();
    let slots = match_params(count, |i| stmt.parameter_name(i), args.len())?;
    for (i, slot) in slots.iter().enumerate().take(count) {
        stmt.raw_bind_parameter(i + 1, args[usize::from(*slot)])?;
    }
    Ok(())
}

impl Conn for Lite<'_> {
    fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> impl Future<Output = Result<u64>> + Send {
        ready(
            self.prepare(sql, args)
                .and_then(|mut stmt| Ok(u64::try_from(stmt.raw_execute()?).unwrap_or(u64::MAX))),
        )
    }
    fn fetch_optional<T: Send>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        map: Map<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send {
        let mut out = None;
        ready(
            self.query(sql, args, map, |row| {
                out = Some(row);
                false
            })
            .map(|()| out),
        )
    }
    fn fetch_all<T: Send>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        map: Map<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send {
        let mut out = Vec::new();
        ready(
            self.query(sql, args, map, |row| {
                out.push(row);
                true
            })
            .map(|()| out),
        )
    }
    fn execute_batch(&mut self, sql: &str) -> impl Future<Output = Result<()>> + Send {
        ready(self.0.execute_batch(sql).map_err(StoreError::from))
    }
}

impl Dialect for Lite<'_> {
    const NAME: &'static str = "sqlite";

    /// A plain read: with one writer, nothing changes the row before this job commits, so
    /// no lock is needed (and no row is written for an authenticator never refused).
    fn throttle_state(
        &mut self,
        key: &ThrottleKey,
        _now: UnixMillis,
    ) -> impl Future<Output = Result<(i64, i64)>> + Send {
        let state = run_now(self.fetch_optional(
            "SELECT failures, locked_until FROM throttles WHERE tenant_id = $1 AND scope = $2 AND subject = $3",
            args![key.tenant_id.as_str(), key.scope, key.subject.as_str()],
            |r| Ok((r.int("failures")?, r.int("locked_until")?)),
        ));
        ready(state.map(|s| s.unwrap_or((0, 0))))
    }

    /// Three inserts: SQLite has no data-modifying `WITH`, and in-process statements cost
    /// no round trips.
    fn insert_audit_and_session(
        &mut self,
        event: &AuditEvent,
        session: &Session,
        amr: &str,
        refresh_hash: &str,
    ) -> impl Future<Output = Result<()>> + Send {
        ready(run_now(async {
            audit::insert(self, event).await?;
            sessions::insert_row(self, session, amr).await?;
            sessions::insert_refresh(self, refresh_hash, session.id.as_str(), session.created_at).await
        }))
    }
}

/// Runs a script on a pooled reader, on the calling thread.
macro_rules! on_reader {
    ($store:expr, $c:ident => $script:expr) => {
        $store.db.read(|conn| {
            let $c = &mut Lite(conn);
            run_now($script)
        })
    };
}

/// Runs a script on a reader on the blocking pool (long reads); inputs moved in.
macro_rules! read_blocking {
    ($store:expr, $c:ident => $script:expr) => {
        $store
            .db
            .read_blocking(move |conn| {
                let $c = &mut Lite(conn);
                run_now($script)
            })
            .await
    };
}

/// Runs a script as one job of the writer's next group commit; inputs moved in.
macro_rules! on_writer {
    ($store:expr, $c:ident => $script:expr) => {
        $store
            .db
            .write(move |conn| {
                let $c = &mut Lite(conn);
                run_now($script)
            })
            .await
    };
}

/// Like `on_writer!`, for a script that may ask to undo its writes.
macro_rules! undoable {
    ($store:expr, $c:ident => $script:expr) => {
        $store
            .db
            .write_or_undo(move |conn| {
                let $c = &mut Lite(conn);
                run_now($script)
            })
            .await
    };
}

#[async_trait]
impl TenantStore for SqliteStore {
    async fn insert_tenant(&self, tenant: &Tenant) -> Result<()> {
        let tenant = tenant.clone();
        on_writer!(self, c => tenants::insert(c, &tenant))
    }
    async fn get_tenant(&self, id: &TenantId) -> Result<Option<Tenant>> {
        on_reader!(self, c => tenants::get(c, id))
    }
    async fn update_tenant_settings(&self, tenant: &Tenant, now: UnixMillis) -> Result<bool> {
        let tenant = tenant.clone();
        on_writer!(self, c => tenants::update_settings(c, &tenant, now))
    }
    async fn ensure_default_tenant(
        &self,
        tenant: &Tenant,
        first_key: Option<&ApiKeyRecord>,
    ) -> Result<(TenantId, bool)> {
        let (tenant, first_key) = (tenant.clone(), first_key.cloned());
        on_writer!(self, c => tenants::ensure_default(c, &tenant, first_key.as_ref()))
    }
}

#[async_trait]
impl ApiKeyStore for SqliteStore {
    async fn insert_api_key(&self, key: &ApiKeyRecord) -> Result<()> {
        let key = key.clone();
        on_writer!(self, c => tenants::insert_api_key(c, &key))
    }
    async fn find_api_key_by_hash(&self, key_hash: &str) -> Result<Option<ApiKeyRecord>> {
        on_reader!(self, c => tenants::find_api_key(c, key_hash))
    }
    async fn list_api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKeyRecord>> {
        on_reader!(self, c => tenants::list_api_keys(c, tenant))
    }
    async fn revoke_api_key(&self, id: &ApiKeyId, now: UnixMillis) -> Result<bool> {
        let id = id.clone();
        on_writer!(self, c => tenants::revoke_api_key(c, &id, now))
    }
}

#[async_trait]
impl UserStore for SqliteStore {
    async fn insert_user(&self, user: &User) -> Result<()> {
        let user = user.clone();
        on_writer!(self, c => users::insert(c, &user))
    }
    async fn get_user(&self, tenant: &TenantId, id: &UserId) -> Result<Option<User>> {
        on_reader!(self, c => users::get(c, tenant, id))
    }
    async fn find_user_by_email(&self, tenant: &TenantId, email: &str) -> Result<Option<User>> {
        on_reader!(self, c => users::find_by_email(c, tenant, email))
    }
    async fn list_users(&self, tenant: &TenantId, after: Option<&UserId>, limit: u32) -> Result<Vec<User>> {
        let (tenant, after) = (tenant.clone(), after.cloned());
        read_blocking!(self, c => users::list(c, &tenant, after.as_ref(), limit))
    }
    async fn set_phone_hash(&self, user: &UserId, hash: &str) -> Result<()> {
        let (user, hash) = (user.clone(), hash.to_owned());
        on_writer!(self, c => users::set_phone_hash(c, &user, &hash))
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    async fn create_session(&self, s: &Session, refresh_hash: &str) -> Result<()> {
        let (s, hash) = (s.clone(), refresh_hash.to_owned());
        on_writer!(self, c => sessions::insert(c, &s, &hash))
    }
    async fn get_session(&self, id: &SessionId) -> Result<Option<Session>> {
        on_reader!(self, c => sessions::get(c, id))
    }
    async fn rotate_refresh_token(
        &self,
        presented_hash: &str,
        next_hash: &str,
        now: UnixMillis,
    ) -> Result<RotateOutcome> {
        let (presented, next) = (presented_hash.to_owned(), next_hash.to_owned());
        on_writer!(self, c => sessions::rotate(c, &presented, &next, now))
    }
    async fn revoke_session(&self, id: &SessionId, now: UnixMillis) -> Result<bool> {
        let id = id.clone();
        on_writer!(self, c => sessions::revoke(c, &id, now))
    }
    async fn session_for_refresh(&self, hash: &str) -> Result<Option<Session>> {
        on_reader!(self, c => sessions::for_refresh(c, hash))
    }
}

#[async_trait]
impl ThrottleStore for SqliteStore {
    async fn throttle_attempt(
        &self,
        key: &ThrottleKey,
        policy: &ThrottlePolicy,
        now: UnixMillis,
    ) -> Result<ThrottleDecision> {
        let (key, policy) = (key.clone(), *policy);
        on_writer!(self, c => throttle::attempt(c, &key, &policy, now))
    }
    async fn throttle_clear(&self, key: &ThrottleKey) -> Result<()> {
        let key = key.clone();
        on_writer!(self, c => throttle::clear(c, &key))
    }
}

#[async_trait]
impl KeyStore for SqliteStore {
    async fn ensure_server_secret(&self, name: &str, sealed: &str, now: UnixMillis) -> Result<String> {
        let (name, sealed) = (name.to_owned(), sealed.to_owned());
        on_writer!(self, c => keys::ensure_server_secret(c, &name, &sealed, now))
    }
    async fn insert_signing_key(&self, key: &SigningKeyRecord) -> Result<()> {
        let key = key.clone();
        on_writer!(self, c => keys::insert_signing_key(c, &key))
    }
    async fn active_signing_keys(&self) -> Result<Vec<SigningKeyRecord>> {
        on_reader!(self, c => keys::active_signing_keys(c))
    }
    async fn list_sealed(&self, column: SealedColumn) -> Result<Vec<(String, String)>> {
        // On the writer: a rotation reads what it is about to replace.
        on_writer!(self, c => keys::list_sealed(c, column))
    }
    async fn replace_sealed(&self, column: SealedColumn, row: &str, old: &str, new: &str) -> Result<bool> {
        let (row, old, new) = (row.to_owned(), old.to_owned(), new.to_owned());
        on_writer!(self, c => keys::replace_sealed(c, column, &row, &old, &new))
    }
    async fn get_meta(&self, key: &str) -> Result<Option<String>> {
        on_reader!(self, c => keys::get_meta(c, key))
    }
    async fn put_meta(&self, key: &str, value: &str) -> Result<()> {
        let (key, value) = (key.to_owned(), value.to_owned());
        on_writer!(self, c => keys::put_meta(c, &key, &value))
    }
}

#[async_trait]
impl FactorStore for SqliteStore {
    async fn insert_factor(&self, factor: &Factor) -> Result<()> {
        let factor = factor.clone();
        on_writer!(self, c => factors::insert(c, &factor))
    }
    async fn get_factor(&self, tenant: &TenantId, id: &FactorId) -> Result<Option<Factor>> {
        on_reader!(self, c => factors::get(c, tenant, id))
    }
    async fn list_factors(&self, tenant: &TenantId, user: &UserId) -> Result<Vec<Factor>> {
        on_reader!(self, c => factors::list(c, tenant, user))
    }
    async fn activate_factor(
        &self,
        id: &FactorId,
        check: &Check,
        backup: &BackupInstall,
        rules: &ActivationRules,
        now: UnixMillis,
    ) -> Result<ActivateOutcome> {
        let (id, check, backup, rules) = (id.clone(), check.clone(), backup.clone(), rules.clone());
        undoable!(self, c => factors::activate(c, &id, &check, &backup, &rules, now))
    }
    async fn mark_phone_verified(&self, user: &UserId, phone_hash: &str, now: UnixMillis) -> Result<()> {
        let (user, hash) = (user.clone(), phone_hash.to_owned());
        on_writer!(self, c => factors::mark_phone_verified(c, &user, &hash, now))
    }
    async fn delete_factor(
        &self,
        tenant: &TenantId,
        user: &UserId,
        id: &FactorId,
        keep_session: Option<&SessionId>,
        now: UnixMillis,
    ) -> Result<bool> {
        let (tenant, user, id, keep) = (tenant.clone(), user.clone(), id.clone(), keep_session.cloned());
        undoable!(self, c => factors::delete(c, &tenant, &user, &id, keep.as_ref(), now))
    }
    async fn replace_backup_codes(
        &self,
        install: &BackupInstall,
        keep_session: Option<&SessionId>,
        now: UnixMillis,
    ) -> Result<FactorId> {
        let (install, keep) = (install.clone(), keep_session.cloned());
        on_writer!(self, c => factors::replace_backup_codes(c, &install, keep.as_ref(), now))
    }
    async fn unused_backup_codes(&self, factor: &FactorId) -> Result<i64> {
        on_reader!(self, c => factors::unused_backup_codes(c, factor))
    }
    async fn reset_mfa(&self, tenant: &TenantId, user: &UserId, now: UnixMillis) -> Result<u64> {
        let (tenant, user) = (tenant.clone(), user.clone());
        on_writer!(self, c => factors::reset_mfa(c, &tenant, &user, now))
    }
    async fn count_users_to_reenroll(&self, tenant: &TenantId, allowed: &[FactorKind]) -> Result<i64> {
        let (tenant, allowed) = (tenant.clone(), allowed.to_vec());
        read_blocking!(self, c => factors::count_users_to_reenroll(c, &tenant, &allowed))
    }
}

#[async_trait]
impl ChallengeStore for SqliteStore {
    async fn insert_challenge(&self, challenge: &Challenge) -> Result<()> {
        let challenge = challenge.clone();
        on_writer!(self, c => challenges::insert(c, &challenge))
    }
    async fn get_challenge(&self, tenant: &TenantId, id: &ChallengeId) -> Result<Option<Challenge>> {
        on_reader!(self, c => challenges::get(c, tenant, id))
    }
    async fn choose_factor(&self, id: &ChallengeId, factor: &FactorId, now: UnixMillis) -> Result<bool> {
        let (id, factor) = (id.clone(), factor.clone());
        on_writer!(self, c => challenges::choose_factor(c, &id, &factor, now))
    }
    async fn complete_sign_in(
        &self,
        id: &ChallengeId,
        proof: &Proof,
        writes: &SignInWrites,
        now: UnixMillis,
    ) -> Result<CompleteOutcome> {
        let (id, proof, writes) = (id.clone(), proof.clone(), writes.clone());
        undoable!(self, c => challenges::complete(c, &id, &proof, &writes, now))
    }
    async fn attempt_sign_in(&self, attempt: &SignInAttempt, now: UnixMillis) -> Result<AttemptOutcome> {
        let attempt = attempt.clone();
        on_writer!(self, c => challenges::attempt(c, &attempt, now))
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn insert_audit(&self, event: &AuditEvent) -> Result<()> {
        let event = event.clone();
        on_writer!(self, c => audit::insert(c, &event))
    }
    async fn list_audit(
        &self,
        tenant: &TenantId,
        user: Option<&UserId>,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>> {
        let (tenant, user, before) = (tenant.clone(), user.cloned(), before.map(str::to_owned));
        read_blocking!(self, c => audit::list(c, &tenant, user.as_ref(), before.as_deref(), limit))
    }
}

#[async_trait]
impl IdempotencyStore for SqliteStore {
    async fn idempotency_begin(
        &self,
        record: &IdempotencyRecord,
        now: UnixMillis,
    ) -> Result<IdempotencyBegin> {
        let record = record.clone();
        on_writer!(self, c => idempotency::begin(c, &record, now))
    }
    async fn idempotency_finish(
        &self,
        record: &IdempotencyRecord,
        status: u16,
        response_sealed: &str,
    ) -> Result<()> {
        let (record, response) = (record.clone(), response_sealed.to_owned());
        on_writer!(self, c => idempotency::finish(c, &record, status, &response))
    }
    async fn idempotency_abandon(&self, record: &IdempotencyRecord) -> Result<()> {
        let record = record.clone();
        on_writer!(self, c => idempotency::abandon(c, &record))
    }
}

#[async_trait]
impl DeliveryStore for SqliteStore {
    async fn issue_code(&self, issue: &CodeIssue, now: UnixMillis) -> Result<IssueOutcome> {
        let issue = issue.clone();
        undoable!(self, c => delivery::issue_code(c, &issue, now))
    }
    async fn claim_outbox(&self, now: UnixMillis, lease_ms: i64, limit: u32) -> Result<Vec<OutboxMessage>> {
        on_writer!(self, c => delivery::claim_outbox(c, now, lease_ms, limit))
    }
    async fn finish_outbox(&self, id: &str, update: &DeliveryUpdate, now: UnixMillis) -> Result<()> {
        let (id, update) = (id.to_owned(), update.clone());
        on_writer!(self, c => delivery::finish_outbox(c, &id, &update, now))
    }
    async fn last_delivery(&self, factor: &FactorId) -> Result<Option<OutboxMessage>> {
        on_reader!(self, c => delivery::last_delivery(c, factor))
    }
    async fn bump_stat(&self, tenant: &TenantId, metric: &str, label: &str) -> Result<()> {
        let (tenant, metric, label) = (tenant.clone(), metric.to_owned(), label.to_owned());
        on_writer!(self, c => delivery::bump_stat(c, tenant.as_str(), &metric, &label))
    }
    async fn delivery_stats(&self, tenant: &TenantId) -> Result<Vec<(String, String, i64)>> {
        let tenant = tenant.clone();
        read_blocking!(self, c => delivery::stats(c, &tenant))
    }
    async fn get_provider(&self, tenant: &TenantId, channel: &str) -> Result<Option<String>> {
        on_reader!(self, c => delivery::get_provider(c, tenant, channel))
    }
    async fn put_provider(
        &self,
        tenant: &TenantId,
        channel: &str,
        sealed: &str,
        now: UnixMillis,
    ) -> Result<()> {
        let (tenant, channel, sealed) = (tenant.clone(), channel.to_owned(), sealed.to_owned());
        on_writer!(self, c => delivery::put_provider(c, &tenant, &channel, &sealed, now))
    }
    async fn delete_provider(&self, tenant: &TenantId, channel: &str) -> Result<bool> {
        let (tenant, channel) = (tenant.clone(), channel.to_owned());
        on_writer!(self, c => delivery::delete_provider(c, &tenant, &channel))
    }
}

/// Bulk loading differs by dialect: here the ordinary inserts, a few thousand rows a job.
#[async_trait]
impl SeedStore for SqliteStore {
    async fn seed(&self, users: &[User], factors: &[Factor], challenges: &[Challenge]) -> Result<()> {
        const CHUNK: usize = 5_000;
        for chunk in users.chunks(CHUNK) {
            let chunk = chunk.to_vec();
            on_writer!(self, c => async {
                for u in &chunk {
                    users::insert(c, u).await?;
                }
                Ok::<_, StoreError>(())
            })?;
        }
        for chunk in factors.chunks(CHUNK) {
            let chunk = chunk.to_vec();
            on_writer!(self, c => async {
                for f in &chunk {
                    factors::insert_row(c, f).await?;
                }
                Ok::<_, StoreError>(())
            })?;
        }
        for chunk in challenges.chunks(CHUNK) {
            let chunk = chunk.to_vec();
            on_writer!(self, c => async {
                for ch in &chunk {
                    challenges::insert(c, ch).await?;
                }
                Ok::<_, StoreError>(())
            })?;
        }
        Ok(())
    }

    async fn database_bytes(&self) -> Result<i64> {
        on_reader!(self, c => fetch_one(
            c,
            "SELECT page_count * page_size AS n FROM pragma_page_count(), pragma_page_size()",
            args![],
            |r| r.int("n"),
        ))
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        Lite::NAME
    }

    async fn migrate(&self) -> Result<()> {
        // One writer: migrations of this process run one at a time, all or none.
        on_writer!(self, c => async {
            let applied = migrations::applied(c).await?;
            for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.0)) {
                migrations::apply(c, migration).await?;
            }
            Ok::<_, StoreError>(())
        })
    }

    async fn ping(&self) -> Result<()> {
        on_reader!(self, c => fetch_one(c, "SELECT 1 AS n", args![], |r| r.int("n")))?;
        Ok(())
    }

    async fn close(&self) {
        self.db.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::path_of;

    #[test]
    fn urls_name_files() {
        assert_eq!(path_of("sqlite://data/l.db").unwrap().to_str(), Some("data/l.db"));
        assert_eq!(
            path_of("sqlite:///abs/l.db?mode=rwc").unwrap().to_str(),
            Some("/abs/l.db")
        );
        assert_eq!(path_of("sqlite:l.db").unwrap().to_str(), Some("l.db"));
        assert!(path_of("sqlite::memory:").is_err());
        assert!(path_of("sqlite://").is_err());
    }
}
