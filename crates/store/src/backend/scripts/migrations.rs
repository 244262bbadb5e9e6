//! The migration runner. Each dialect has its own SQL files with matching version numbers
//! (`migrations/{postgres,sqlite}/`); the bookkeeping is the same.

use crate::backend::conn::{args, Conn, Dialect};
use crate::backend::Migration;
use crate::{Result, StoreError};

/// Creates the bookkeeping table if need be; the versions already applied.
pub(crate) async fn applied<C: Conn>(c: &mut C) -> Result<Vec<i64>> {
    c.execute(
        "CREATE TABLE IF NOT EXISTS latchkey_migrations \
         (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        args![],
    )
    .await?;
    c.fetch_all("SELECT version FROM latchkey_migrations", args![], |r| {
        r.int("version")
    })
    .await
}

/// Applies one migration and records it (the caller provides the transaction).
pub(crate) async fn apply<C: Dialect>(c: &mut C, (version, name, sql): &Migration) -> Result<()> {
    let fail = |e: StoreError| StoreError::Migration {
        version: *version,
        message: e.to_string(),
    };
    c.execute_batch(sql).await.map_err(fail)?;
    let now = latchkey_core::clock::Clock::now_ms(&latchkey_core::clock::SystemClock);
    c.execute(
        "INSERT INTO latchkey_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        args![*version, *name, now],
    )
    .await
    .map_err(fail)?;
    tracing::info!(version, name, backend = C::NAME, "applied migration");
    Ok(())
}
