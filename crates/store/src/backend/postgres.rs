//! PostgreSQL: for production and for several replicas behind a load balancer. The store
//! traits run the scripts of `scripts/` on sqlx: a call of one statement on the pool (one
//! round trip), a call of several in a transaction that commits, or rolls back when the
//! script answers [`Write::Undo`].
//!
//! Runs at READ COMMITTED: every single-use consumption is one conditional `UPDATE`, which
//! PostgreSQL re-evaluates after waiting for a concurrent writer's row lock, so no
//! serialization failures arise and none need retrying. Migrations take an advisory lock
//! so replicas starting together apply each one once.

use super::conn::{args, conflict_or, fetch_one, Arg, Conn, Dialect, Map};
use super::rows::{AUDIT_COLUMNS, CHALLENGE_COLUMNS, FACTOR_COLUMNS, SESSION_COLUMNS};
use super::scripts::{
    audit, authorization, challenges, delivery, factors, idempotency, keys, migrations, policy, sessions,
    signins, tenants, throttle, users, webauthn, webhooks,
};
use super::stores::impl_stores;
use super::{Migration, OpenOptions, Write};
use crate::model::*;
use crate::*;
use latchkey_core::clock::UnixMillis;
use latchkey_core::factor::FactorKind;
use latchkey_core::ids::{ApiKeyId, ChallengeId, FactorId, SessionId, TenantId, UserId};
use latchkey_core::throttle::{ThrottleDecision, ThrottlePolicy};
use sqlx::postgres::{PgArguments, PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::query::Query;
use sqlx::{ConnectOptions, Connection, Postgres};
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;

const MIGRATIONS: &[Migration] = &[
    (
        1,
        "foundation",
        include_str!("../../migrations/postgres/0001_foundation.sql"),
    ),
    (2, "mfa", include_str!("../../migrations/postgres/0002_mfa.sql")),
    (
        3,
        "delivery",
        include_str!("../../migrations/postgres/0003_delivery.sql"),
    ),
    (
        4,
        "review",
        include_str!("../../migrations/postgres/0004_review.sql"),
    ),
    (
        5,
        "challenge_state",
        include_str!("../../migrations/postgres/0005_challenge_state.sql"),
    ),
    (
        6,
        "webauthn",
        include_str!("../../migrations/postgres/0006_webauthn.sql"),
    ),
    (
        7,
        "signing_rotation",
        include_str!("../../migrations/postgres/0007_signing_rotation.sql"),
    ),
    (
        8,
        "applications",
        include_str!("../../migrations/postgres/0008_applications.sql"),
    ),
    (
        9,
        "email_links",
        include_str!("../../migrations/postgres/0009_email_links.sql"),
    ),
    (
        10,
        "authorization",
        include_str!("../../migrations/postgres/0010_authorization.sql"),
    ),
    (
        11,
        "tenant_addresses",
        include_str!("../../migrations/postgres/0011_tenant_addresses.sql"),
    ),
    (
        12,
        "webhooks",
        include_str!("../../migrations/postgres/0012_webhooks.sql"),
    ),
    (
        13,
        "policy",
        include_str!("../../migrations/postgres/0013_policy.sql"),
    ),
    (
        14,
        "remembered_devices",
        include_str!("../../migrations/postgres/0014_remembered_devices.sql"),
    ),
    (
        15,
        "signin_history",
        include_str!("../../migrations/postgres/0015_signin_history.sql"),
    ),
    (
        16,
        "key_scopes",
        include_str!("../../migrations/postgres/0016_key_scopes.sql"),
    ),
    (
        17,
        "preferred_factor",
        include_str!("../../migrations/postgres/0017_preferred_factor.sql"),
    ),
    (
        18,
        "enrollment_tickets",
        include_str!("../../migrations/postgres/0018_enrollment_tickets.sql"),
    ),
];

/// An arbitrary constant naming Latchkey's migration lock.
const MIGRATION_LOCK_KEY: i64 = 0x4c61_7463_686b_6579;

/// A store over one PostgreSQL database.
struct PgStore {
    pool: PgPool,
}

pub(super) async fn open(opts: &OpenOptions) -> Result<DynStore> {
    let mut connect = PgConnectOptions::from_str(&opts.url)?;
    if let Some(schema) = &opts.pg_schema {
        // The name is ours (tests), but quote it anyway.
        let quoted = format!("\"{}\"", schema.replace('"', "\"\""));
        let mut conn = connect.connect().await?;
        sqlx::query(&format!("CREATE SCHEMA IF NOT EXISTS {quoted}"))
            .execute(&mut conn)
            .await?;
        conn.close().await?;
        connect = connect.options([("search_path", schema.as_str())]);
    }
    let pool = PgPoolOptions::new()
        .max_connections(opts.max_connections.max(2))
        // While the database is down, a request fails (503) after this long instead of
        // sqlx's default 30 s: clients and load balancers see the outage quickly, and
        // requests do not pile up behind it. Found by the chaos test.
        .acquire_timeout(std::time::Duration::from_secs(5))
        .connect_with(connect)
        .await?;
    Ok(Arc::new(PgStore { pool }))
}

fn bind<'q>(mut q: Query<'q, Postgres, PgArguments>, args: &[Arg<'q>]) -> Query<'q, Postgres, PgArguments> {
    for a in args {
        q = match *a {
            Arg::Text(v) => q.bind(v),
            Arg::OptText(v) => q.bind(v),
            Arg::Int(v) => q.bind(v),
            Arg::OptInt(v) => q.bind(v),
            Arg::Bytes(v) => q.bind(v),
        };
    }
    q
}

/// [`Conn`] for a pooled connection (`&PgPool`: each statement on its own, autocommitted)
/// and for a connection in a transaction (`PgConnection`, reached through a
/// `Transaction`). Statements are prepared once per connection and cached by sqlx.
macro_rules! pg_conn {
    ($ty:ty, $this:ident => $exec:expr) => {
        impl Conn for $ty {
            fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> impl Future<Output = Result<u64>> + Send {
                async move {
                    let $this = self;
                    Ok(bind(sqlx::query(sql), args)
                        .execute($exec)
                        .await?
                        .rows_affected())
                }
            }
            fn fetch_optional<T: Send>(
                &mut self,
                sql: &str,
                args: &[Arg<'_>],
                map: Map<T>,
            ) -> impl Future<Output = Result<Option<T>>> + Send {
                async move {
                    let $this = self;
                    let row = bind(sqlx::query(sql), args).fetch_optional($exec).await?;
                    row.as_ref().map(|r| map(r)).transpose()
                }
            }
            fn fetch_all<T: Send>(
                &mut self,
                sql: &str,
                args: &[Arg<'_>],
                map: Map<T>,
            ) -> impl Future<Output = Result<Vec<T>>> + Send {
                async move {
                    let $this = self;
                    let rows = bind(sqlx::query(sql), args).fetch_all($exec).await?;
                    rows.iter().map(|r| map(r)).collect()
                }
            }
            fn execute_batch(&mut self, sql: &str) -> impl Future<Output = Result<()>> + Send {
                async move {
                    let $this = self;
                    // A plain string runs unprepared, which allows several statements.
                    sqlx::Executor::execute($exec, sql).await?;
                    Ok(())
                }
            }
        }
    };
}
pg_conn!(&PgPool, this => *this);
pg_conn!(PgConnection, this => &mut *this);

impl Dialect for PgConnection {
    const NAME: &'static str = "postgres";

    /// Creates the row if need be and reads it in one round trip, taking its row lock
    /// until commit: concurrent attempts against one authenticator queue here.
    async fn throttle_state(&mut self, key: &ThrottleKey, now: UnixMillis) -> Result<(i64, i64)> {
        fetch_one(
            self,
            "INSERT INTO throttles (tenant_id, scope, subject, failures, last_attempt_at, locked_until) \
             VALUES ($1, $2, $3, 0, $4, 0) ON CONFLICT (tenant_id, scope, subject) \
             DO UPDATE SET failures = throttles.failures RETURNING failures, locked_until",
            args![key.tenant_id.as_str(), key.scope, key.subject.as_str(), now],
            |r| Ok((r.int("failures")?, r.int("locked_until")?)),
        )
        .await
    }

    /// One statement (one round trip instead of three on the verify path): PostgreSQL's
    /// data-modifying `WITH`, which SQLite lacks. Foreign keys are checked at the
    /// statement's end, when the session row exists.
    async fn insert_audit_and_session(
        &mut self,
        e: &AuditEvent,
        s: &Session,
        amr: &str,
        refresh_hash: &str,
    ) -> Result<()> {
        let mut values = Vec::with_capacity(24);
        values.extend(audit::row(e));
        values.extend(sessions::row(s, amr));
        values.push(Arg::Text(refresh_hash));
        let sql = format!(
            "WITH audit AS (INSERT INTO audit_events ({AUDIT_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)), \
             hooks AS ({fan_out}), \
             session AS (INSERT INTO sessions ({SESSION_COLUMNS}) \
             VALUES ($11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)) \
             INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($24, $11, $18)",
            fan_out = webhooks::fan_out_sql(1, 5, 2, 10)
        );
        self.execute(&sql, &values).await?;
        Ok(())
    }
}

/// Runs a script on the pool: one statement, autocommitted.
macro_rules! pooled {
    ($store:expr, $c:ident => $script:expr) => {{
        let mut pool = &$store.pool;
        let $c = &mut pool;
        $script.await
    }};
}

/// Runs a script in a transaction and commits it.
macro_rules! in_tx {
    ($store:expr, $c:ident => $script:expr) => {{
        let mut tx = $store.pool.begin().await?;
        let $c = &mut *tx;
        let out = $script.await?;
        tx.commit().await?;
        Ok(out)
    }};
}

/// Runs a script in a transaction that it may ask to undo ([`Write::Undo`]).
macro_rules! undoable {
    ($store:expr, $c:ident => $script:expr) => {{
        let mut tx = $store.pool.begin().await?;
        let $c = &mut *tx;
        match $script.await? {
            Write::Keep(out) => {
                tx.commit().await?;
                Ok(out)
            }
            Write::Undo(out) => {
                tx.rollback().await?;
                Ok(out)
            }
        }
    }};
}

/// How `impl_stores!` runs a script here: reads and single writes on the pool, several
/// statements in a transaction (the borrowed inputs need no moving).
macro_rules! run {
    ($store:expr, read, $inputs:tt, $c:ident => $script:expr) => {
        pooled!($store, $c => $script)
    };
    ($store:expr, long_read, $inputs:tt, $c:ident => $script:expr) => {
        pooled!($store, $c => $script)
    };
    ($store:expr, write, $inputs:tt, $c:ident => $script:expr) => {
        pooled!($store, $c => $script)
    };
    ($store:expr, tx, $inputs:tt, $c:ident => $script:expr) => {
        in_tx!($store, $c => $script)
    };
    ($store:expr, undo, $inputs:tt, $c:ident => $script:expr) => {
        undoable!($store, $c => $script)
    };
}

impl_stores!(PgStore);

/// Bulk loading differs by dialect: here rows travel as arrays, one statement per chunk.
#[async_trait]
impl SeedStore for PgStore {
    async fn seed(&self, users: &[User], factors: &[Factor], challenges: &[Challenge]) -> Result<()> {
        // One statement per chunk: rows travel as arrays and `UNNEST` turns them back into
        // rows (row-by-row inserts took minutes for a million users). `Arg` has no arrays:
        // this is sqlx directly.
        const CHUNK: usize = 10_000;
        for chunk in users.chunks(CHUNK) {
            sqlx::query(
                "INSERT INTO users (id, tenant_id, email, password_hash, name, phone_sealed, phone_hash, \
                 phone_verified_at, created_at, updated_at) SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], \
                 $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::BIGINT[], $9::BIGINT[], \
                 $10::BIGINT[])",
            )
            .bind(chunk.iter().map(|u| u.id.to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|u| u.tenant_id.to_string()).collect::<Vec<_>>())
            .bind(
                chunk
                    .iter()
                    .map(|u| u.email.as_str().to_owned())
                    .collect::<Vec<_>>(),
            )
            .bind(chunk.iter().map(|u| u.password_hash.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|u| u.name.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|u| u.phone_sealed.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|u| u.phone_hash.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|u| u.phone_verified_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|u| u.created_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|u| u.updated_at).collect::<Vec<_>>())
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or(e.into()))?;
        }
        for chunk in factors.chunks(CHUNK) {
            sqlx::query(&format!(
                "INSERT INTO factors ({FACTOR_COLUMNS}) SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], $3::TEXT[], \
                 $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::TEXT[], $8::BIGINT[], $9::BIGINT[], $10::BIGINT[], \
                 $11::BIGINT[], $12::BIGINT[], $13::TEXT[], $14::TEXT[], $15::TEXT[])"
            ))
            .bind(chunk.iter().map(|f| f.id.to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.tenant_id.to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.user_id.to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.kind.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.name.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.status.as_str()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.secret_sealed.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.last_step).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.created_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.expires_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.confirmed_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.last_used_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.destination_sealed.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.enrolled_by.clone()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|f| f.algorithm.clone()).collect::<Vec<_>>())
            .execute(&self.pool)
            .await
            .map_err(|e| conflict_or(e.into()))?;
        }
        for chunk in challenges.chunks(CHUNK) {
            let amr = chunk
                .iter()
                .map(|c| serde_json::to_string(&c.amr).map_err(|e| StoreError::Corrupt(e.to_string())))
                .collect::<Result<Vec<_>>>()?;
            sqlx::query(&format!(
                "INSERT INTO challenges ({CHALLENGE_COLUMNS}) SELECT * FROM UNNEST($1::TEXT[], $2::TEXT[], \
                 $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[], $7::BIGINT[], $8::BIGINT[], $9::BIGINT[], \
                 $10::TEXT[])"
            ))
            .bind(chunk.iter().map(|c| c.id.to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|c| c.tenant_id.to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|c| c.user_id.to_string()).collect::<Vec<_>>())
            .bind(chunk.iter().map(|c| c.purpose.as_str()).collect::<Vec<_>>())
            .bind(amr)
            .bind(
                chunk
                    .iter()
                    .map(|c| c.factor_id.as_ref().map(|f| f.to_string()))
                    .collect::<Vec<_>>(),
            )
            .bind(chunk.iter().map(|c| c.created_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|c| c.expires_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|c| c.completed_at).collect::<Vec<_>>())
            .bind(chunk.iter().map(|c| c.state_sealed.clone()).collect::<Vec<_>>())
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    async fn database_bytes(&self) -> Result<i64> {
        pooled!(self, c => fetch_one(
            c,
            // The store's own schema (tests give each store one; a deployment uses one):
            // the whole database's size moves with every other schema in it.
            "SELECT COALESCE(SUM(pg_total_relation_size(c.oid)), 0)::BIGINT AS n \
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')",
            args![],
            |r| r.int("n"),
        ))
    }
}

#[async_trait]
impl Store for PgStore {
    fn backend(&self) -> &'static str {
        PgConnection::NAME
    }

    fn pool_usage(&self) -> crate::PoolUsage {
        let size = self.pool.size();
        let idle = u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX);
        crate::PoolUsage {
            in_use: size.saturating_sub(idle),
            idle,
            max: self.pool.options().get_max_connections(),
        }
    }

    /// Under an advisory lock, so replicas starting together apply each migration once;
    /// each migration in a transaction of its own.
    async fn migrate(&self) -> Result<()> {
        let mut conn = self.pool.acquire().await?;
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK_KEY)
            .execute(&mut *conn)
            .await?;
        let result = apply_migrations(&mut conn).await;
        if let Err(e) = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK_KEY)
            .execute(&mut *conn)
            .await
        {
            tracing::warn!(error = %e, "could not release the migration lock; it ends with the connection");
        }
        result
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    async fn close(&self) {
        self.pool.close().await;
    }
}

async fn apply_migrations(conn: &mut PgConnection) -> Result<()> {
    let applied = migrations::applied(conn).await?;
    for migration in MIGRATIONS.iter().filter(|m| !applied.contains(&m.0)) {
        let mut tx = conn.begin().await?;
        migrations::apply(&mut *tx, migration).await?;
        tx.commit().await.map_err(|e| StoreError::Migration {
            version: migration.0,
            message: e.to_string(),
        })?;
    }
    Ok(())
}
