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
    audit, authorization, challenges, delivery, factors, idempotency, keys, migrations, policy, sessions,
    signins, tenants, throttle, users, webauthn,
};
use super::stores::{impl_stores, IntoOwned, Reborrow};
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
    (
        6,
        "webauthn",
        include_str!("../../../migrations/sqlite/0006_webauthn.sql"),
    ),
    (
        7,
        "signing_rotation",
        include_str!("../../../migrations/sqlite/0007_signing_rotation.sql"),
    ),
    (
        8,
        "applications",
        include_str!("../../../migrations/sqlite/0008_applications.sql"),
    ),
    (
        9,
        "email_links",
        include_str!("../../../migrations/sqlite/0009_email_links.sql"),
    ),
    (
        10,
        "authorization",
        include_str!("../../../migrations/sqlite/0010_authorization.sql"),
    ),
    (
        11,
        "tenant_addresses",
        include_str!("../../../migrations/sqlite/0011_tenant_addresses.sql"),
    ),
    (
        12,
        "webhooks",
        include_str!("../../../migrations/sqlite/0012_webhooks.sql"),
    ),
    (
        13,
        "policy",
        include_str!("../../../migrations/sqlite/0013_policy.sql"),
    ),
    (
        14,
        "remembered_devices",
        include_str!("../../../migrations/sqlite/0014_remembered_devices.sql"),
    ),
    (
        15,
        "signin_history",
        include_str!("../../../migrations/sqlite/0015_signin_history.sql"),
    ),
    (
        16,
        "key_scopes",
        include_str!("../../../migrations/sqlite/0016_key_scopes.sql"),
    ),
    (
        17,
        "preferred_factor",
        include_str!("../../../migrations/sqlite/0017_preferred_factor.sql"),
    ),
    (
        18,
        "enrollment_tickets",
        include_str!("../../../migrations/sqlite/0018_enrollment_tickets.sql"),
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

/// How `impl_stores!` runs a script here: a read on the calling thread; a long read on
/// the blocking pool, a write as a job of the writer thread, both owning their inputs
/// (moved in, lent back to the script).
macro_rules! run {
    ($store:expr, read, $inputs:tt, $c:ident => $script:expr) => {
        on_reader!($store, $c => $script)
    };
    ($store:expr, long_read, [$($input:ident),*], $c:ident => $script:expr) => {
        run!(@moved $store, read_blocking, [$($input),*], $c => $script)
    };
    ($store:expr, write, [$($input:ident),*], $c:ident => $script:expr) => {
        run!(@moved $store, write, [$($input),*], $c => $script)
    };
    ($store:expr, tx, [$($input:ident),*], $c:ident => $script:expr) => {
        run!(@moved $store, write, [$($input),*], $c => $script)
    };
    ($store:expr, undo, [$($input:ident),*], $c:ident => $script:expr) => {
        run!(@moved $store, write_or_undo, [$($input),*], $c => $script)
    };
    (@moved $store:expr, $how:ident, [$($input:ident),*], $c:ident => $script:expr) => {{
        $(let $input = IntoOwned::into_owned($input);)*
        $store
            .db
            .$how(move |conn| {
                $(let $input = Reborrow::reborrow(&$input);)*
                let $c = &mut Lite(conn);
                run_now($script)
            })
            .await
    }};
}

impl_stores!(SqliteStore);

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

    fn pool_usage(&self) -> crate::PoolUsage {
        self.db.pool_usage()
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
