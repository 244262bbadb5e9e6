//! The SQL backends. Every store call is a transaction script in `scripts/`, written once
//! against the small connection interface of `conn.rs`; `postgres.rs` runs the scripts on
//! sqlx, `sqlite/` on rusqlite with a writer thread that commits in groups (see
//! `sqlite/engine.rs` for why SQLite does not go through sqlx). The store traits are
//! implemented once, in `stores.rs`, over each backend's way to run a script. The few
//! statements that must differ are `conn::Dialect`'s methods, bulk seeding, the database's
//! size and the migrations (SQL per dialect in `migrations/`, one runner). Both backends
//! pass the same contract suite (`tests/contract/`). Nothing above this module asks which
//! database it is talking to.

mod conn;
mod postgres;
mod rows;
mod scripts;
mod sqlite;
mod stores;

use crate::{DynStore, Result, StoreError};

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

/// What a script wants done with its writes.
pub(crate) enum Write<R> {
    /// Keep them (commit).
    Keep(R),
    /// Undo them, and still answer with `R` (a refused proof, a limit reached).
    Undo(R),
}
