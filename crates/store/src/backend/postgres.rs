//! PostgreSQL: for production and for several replicas behind a load balancer.
//!
//! Runs at READ COMMITTED: every single-use consumption is one conditional `UPDATE`, which
//! PostgreSQL re-evaluates after waiting for a concurrent writer's row lock, so no
//! serialization failures arise and none need retrying. Migrations take an advisory lock
//! so replicas starting together apply each one once.

#[path = "sql.rs"]
mod sql;

use super::{Migration, OpenOptions, SqlStore};
use crate::{DynStore, Result};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;
use std::sync::Arc;

type Db = sqlx::Postgres;

const BACKEND: &str = "postgres";

/// The size of the database in bytes.
const DATABASE_BYTES_SQL: &str = "SELECT pg_database_size(current_database())::BIGINT";

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
];

/// An arbitrary constant naming Latchkey's migration lock.
const MIGRATION_LOCK_KEY: i64 = 0x4c61_7463_686b_6579;

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
    Ok(Arc::new(SqlStore::<Db> {
        read: pool.clone(),
        write: pool,
    }))
}

async fn lock_migrations(conn: &mut sqlx::PgConnection) -> Result<()> {
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(conn)
        .await?;
    Ok(())
}

async fn unlock_migrations(conn: &mut sqlx::PgConnection) {
    if let Err(e) = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(MIGRATION_LOCK_KEY)
        .execute(conn)
        .await
    {
        tracing::warn!(error = %e, "could not release the migration lock; it ends with the connection");
    }
}
