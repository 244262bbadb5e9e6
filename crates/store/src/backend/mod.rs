//! The SQL backends. `sql.rs` implements every store trait for PostgreSQL through sqlx
//! (`postgres.rs` supplies its type, migrations and migration lock); `sqlite/` implements
//! them for SQLite through rusqlite, with a writer thread that commits in groups (see
//! `sqlite/engine.rs` for why SQLite does not go through sqlx). Both run the same statements
//! and pass the same contract suite (`tests/contract.rs`). Nothing above this module asks
//! which database it is talking to.

mod postgres;
mod rows;
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

/// A store over one PostgreSQL database. `read` and `write` are the same pool (kept apart
/// so that a read replica could be added).
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
