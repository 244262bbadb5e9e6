//! SQLite: the embedded, zero-configuration default.
//!
//! WAL journal with `synchronous=FULL`: a committed write (a consumed code, a new factor)
//! survives power loss, not only a process crash (SQLite docs: WAL with NORMAL "might roll
//! back following a power loss"; SECURITY.md test 62). One writer connection, many readers.

// Deliberate: the one SQL implementation is compiled once per backend, with `Db` bound
// to this backend's database type (see backend/mod.rs).
#[allow(clippy::duplicate_mod)]
#[path = "sql.rs"]
mod sql;

use super::{Migration, OpenOptions, SqlStore};
use crate::{DynStore, Result};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

type Db = sqlx::Sqlite;

const BACKEND: &str = "sqlite";

/// The size of the database in bytes.
const DATABASE_BYTES_SQL: &str = "SELECT page_count * page_size FROM pragma_page_count(), pragma_page_size()";

const MIGRATIONS: &[Migration] = &[
    (
        1,
        "foundation",
        include_str!("../../migrations/sqlite/0001_foundation.sql"),
    ),
    (2, "mfa", include_str!("../../migrations/sqlite/0002_mfa.sql")),
    (
        3,
        "delivery",
        include_str!("../../migrations/sqlite/0003_delivery.sql"),
    ),
];

pub(super) async fn open(opts: &OpenOptions) -> Result<DynStore> {
    let base = SqliteConnectOptions::from_str(&opts.url)?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(if opts.sqlite_durable {
            SqliteSynchronous::Full
        } else {
            SqliteSynchronous::Normal
        })
        .busy_timeout(Duration::from_secs(5))
        .foreign_keys(true);
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .connect_with(base.clone())
        .await?;
    let read = SqlitePoolOptions::new()
        .max_connections(opts.max_connections.max(2))
        .connect_with(base.read_only(true))
        .await?;
    Ok(Arc::new(SqlStore::<Db> { read, write }))
}

/// One writer connection already serialises migrations within a process.
async fn lock_migrations(_conn: &mut sqlx::SqliteConnection) -> Result<()> {
    Ok(())
}

async fn unlock_migrations(_conn: &mut sqlx::SqliteConnection) {}
