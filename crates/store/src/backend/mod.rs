//! The SQL backends. `sql.rs` holds the one implementation of every store trait; it is
//! compiled once per backend (see `sqlite.rs` and `postgres.rs`), each of which supplies its
//! `Db` type, its migrations and the little that differs (opening, the migration lock).
//! Nothing above this module asks which database it is talking to.

mod postgres;
mod sqlite;

use crate::{DynStore, Result, StoreError};
use sqlx::{Database, Pool};

/// How to open the store.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// `sqlite://PATH` (created if missing) or `postgres://…`.
    pub url: String,
    /// Upper bound of the connection pool (readers, for SQLite).
    pub max_connections: u32,
    /// PostgreSQL only: run inside this schema (created if missing). Tests use it to
    /// isolate themselves within one database.
    pub pg_schema: Option<String>,
    /// SQLite only: `synchronous=FULL` (the default: a commit survives power loss) or, when
    /// `false`, `NORMAL` (faster; a commit survives a process crash, but the last ones may
    /// roll back on power loss or an OS crash).
    pub sqlite_durable: bool,
}

impl OpenOptions {
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            max_connections: 8,
            pg_schema: None,
            sqlite_durable: true,
        }
    }
}

/// A store over one database. Writes go through `write`, reads through `read`; on SQLite
/// the writer pool has exactly one connection, so write transactions never contend for the
/// database lock, and readers run in parallel under WAL. On PostgreSQL both are one pool.
pub struct SqlStore<DB: Database> {
    read: Pool<DB>,
    write: Pool<DB>,
}

/// Opens the backend named by the URL's scheme. This is the only place that chooses.
pub async fn open(opts: &OpenOptions) -> Result<DynStore> {
    let url = opts.url.as_str();
    if url.starts_with("sqlite:") {
        sqlite::open(opts).await
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        postgres::open(opts).await
    } else {
        Err(StoreError::UnsupportedUrl)
    }
}

/// A migration: version, name and SQL (several statements).
type Migration = (i64, &'static str, &'static str);
