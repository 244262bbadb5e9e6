//! SQLite: the embedded, zero-configuration default.
//!
//! WAL journal with `synchronous=FULL`: a committed write (a consumed code, a new factor)
//! survives power loss, not only a process crash (SQLite docs: WAL with NORMAL "might roll
//! back following a power loss"; SECURITY.md test 62). Writes run on one writer thread that
//! commits concurrent requests together; reads run on a pool of read-only connections (see
//! `engine.rs`). The SQL mirrors `../sql.rs` (PostgreSQL) statement for statement; the
//! contract suite holds both to the same behaviour.

mod engine;
mod stores;

use super::OpenOptions;
use crate::{DynStore, Result, StoreError};
use engine::{Engine, Settings};
use std::path::PathBuf;
use std::sync::Arc;

type Migration = (i64, &'static str, &'static str);

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
