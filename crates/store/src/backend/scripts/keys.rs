//! Server-wide secrets, signing keys, re-sealing under a new master key, and `meta`.

use crate::backend::conn::{args, conflict_or, fetch_one, Conn};
use crate::model::{SealedColumn, SigningKeyRecord};
use crate::Result;
use latchkey_core::clock::UnixMillis;

/// Stores the secret unless one of that name exists; the value now stored.
pub(crate) async fn ensure_server_secret<C: Conn>(
    c: &mut C,
    name: &str,
    sealed: &str,
    now: UnixMillis,
) -> Result<String> {
    c.execute(
        "INSERT INTO server_secrets (name, sealed, created_at) VALUES ($1, $2, $3) \
         ON CONFLICT (name) DO NOTHING",
        args![name, sealed, now],
    )
    .await?;
    fetch_one(
        c,
        "SELECT sealed FROM server_secrets WHERE name = $1",
        args![name],
        |r| r.text("sealed"),
    )
    .await
}

pub(crate) async fn insert_signing_key<C: Conn>(c: &mut C, key: &SigningKeyRecord) -> Result<()> {
    c.execute(
        "INSERT INTO signing_keys (kid, algorithm, public_key, private_sealed, created_at, signs_from, \
         retired_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        args![
            &key.kid,
            &key.algorithm,
            key.public_key.as_slice(),
            &key.private_sealed,
            key.created_at,
            key.signs_from,
            key.retired_at
        ],
    )
    .await
    .map_err(conflict_or)?;
    Ok(())
}

/// The unique `first_of_algorithm` decides between replicas racing on an empty database:
/// PostgreSQL makes the second insert wait for the first to commit and then do nothing;
/// SQLite's one writer runs them one after the other. `NOT EXISTS` also covers databases
/// whose first key predates the marker (the EdDSA key of every install before 0007).
pub(crate) async fn ensure_first_signing_key<C: Conn>(
    c: &mut C,
    key: &SigningKeyRecord,
    now: UnixMillis,
) -> Result<()> {
    c.execute(
        "INSERT INTO signing_keys (kid, algorithm, public_key, private_sealed, created_at, signs_from, \
         first_of_algorithm) SELECT $1, $2, $3, $4, $5, $6, $2 \
         WHERE NOT EXISTS (SELECT 1 FROM signing_keys WHERE algorithm = $2 \
         AND (retired_at IS NULL OR retired_at > $7)) \
         ON CONFLICT DO NOTHING",
        args![
            &key.kid,
            &key.algorithm,
            key.public_key.as_slice(),
            &key.private_sealed,
            key.created_at,
            key.signs_from,
            now
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn published_signing_keys<C: Conn>(
    c: &mut C,
    now: UnixMillis,
) -> Result<Vec<SigningKeyRecord>> {
    c.fetch_all(
        "SELECT kid, algorithm, public_key, private_sealed, created_at, signs_from, retired_at \
         FROM signing_keys WHERE retired_at IS NULL OR retired_at > $1 ORDER BY created_at DESC, kid",
        args![now],
        |r| {
            Ok(SigningKeyRecord {
                kid: r.text("kid")?,
                algorithm: r.text("algorithm")?,
                public_key: r.bytes("public_key")?,
                private_sealed: r.text("private_sealed")?,
                created_at: r.int("created_at")?,
                signs_from: r.int("signs_from")?,
                retired_at: r.opt_int("retired_at")?,
            })
        },
    )
    .await
}

/// A key already due to retire sooner keeps its earlier time: it stopped signing earlier
/// (a retirement is only ever brought forward).
pub(crate) async fn schedule_signing_rotation<C: Conn>(
    c: &mut C,
    key: &SigningKeyRecord,
    retire_others_at: UnixMillis,
) -> Result<Vec<String>> {
    insert_signing_key(c, key).await?;
    c.fetch_all(
        "UPDATE signing_keys SET retired_at = $1 WHERE algorithm = $2 AND kid <> $3 \
         AND (retired_at IS NULL OR retired_at > $1) RETURNING kid",
        args![retire_others_at, &key.algorithm, &key.kid],
        |r| r.text("kid"),
    )
    .await
}

/// `(row id, sealed value)` of every row holding a value in `column`.
pub(crate) async fn list_sealed<C: Conn>(c: &mut C, column: SealedColumn) -> Result<Vec<(String, String)>> {
    let (table, id, sealed) = column.location();
    c.fetch_all(
        &format!(
            "SELECT {id} AS id, {sealed} AS sealed FROM {table} WHERE {sealed} IS NOT NULL ORDER BY {id}"
        ),
        args![],
        |r| Ok((r.text("id")?, r.text("sealed")?)),
    )
    .await
}

/// Compare-and-swap of one sealed value.
pub(crate) async fn replace_sealed<C: Conn>(
    c: &mut C,
    column: SealedColumn,
    row: &str,
    old: &str,
    new: &str,
) -> Result<bool> {
    let (table, id, sealed) = column.location();
    let n = c
        .execute(
            &format!("UPDATE {table} SET {sealed} = $1 WHERE {id} = $2 AND {sealed} = $3"),
            args![new, row, old],
        )
        .await?;
    Ok(n == 1)
}

pub(crate) async fn get_meta<C: Conn>(c: &mut C, key: &str) -> Result<Option<String>> {
    c.fetch_optional("SELECT value FROM meta WHERE key = $1", args![key], |r| {
        r.text("value")
    })
    .await
}

pub(crate) async fn put_meta<C: Conn>(c: &mut C, key: &str, value: &str) -> Result<()> {
    c.execute(
        "INSERT INTO meta (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = $2",
        args![key, value],
    )
    .await?;
    Ok(())
}
