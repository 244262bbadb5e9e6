//! Migrations, and the two dialects' schemas side by side.

use super::*;
use std::collections::BTreeSet;

contract!(migrations_are_idempotent,);

async fn migrations_are_idempotent(s: DynStore) {
    s.migrate().await.unwrap();
    s.migrate().await.unwrap();
    s.ping().await.unwrap();
}

/// `(table, column, NOT NULL)` for every column of the SQLite database at `path`. A
/// primary-key column counts as NOT NULL, as PostgreSQL makes it (SQLite would let a
/// non-integer key be NULL, but no statement ever writes one).
fn sqlite_columns(path: &std::path::Path) -> BTreeSet<(String, String, bool)> {
    let conn = rusqlite::Connection::open(path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT m.name, p.name, p.\"notnull\", p.pk FROM sqlite_master m \
             JOIN pragma_table_info(m.name) p WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite%'",
        )
        .unwrap();
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)? != 0 || r.get::<_, i64>(3)? > 0,
            ))
        })
        .unwrap();
    rows.collect::<Result<_, _>>().unwrap()
}

/// The same for the PostgreSQL schema `schema`.
async fn postgres_columns(url: &str, schema: &str) -> BTreeSet<(String, String, bool)> {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::TEXT, column_name::TEXT, is_nullable::TEXT FROM information_schema.columns \
         WHERE table_schema = $1",
    )
    .bind(schema)
    .fetch_all(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    rows.into_iter()
        .map(|(table, column, nullable)| (table, column, nullable == "NO"))
        .collect()
}

/// After every migration, both dialects have the same tables, the same columns and the
/// same NOT NULL constraints: the scripts run unchanged on either.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dialects_have_the_same_tables_and_columns() {
    let Some(url) = pg_url() else {
        eprintln!("LATCHKEY_TEST_DATABASE_URL unset: schema comparison skipped");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("schema.db");
    let lite = open(&OpenOptions::new(format!("sqlite://{}", path.display())))
        .await
        .unwrap();
    lite.migrate().await.unwrap();
    lite.close().await;
    let schema = format!("lk_test_{}", ulid(T0).to_lowercase());
    let mut opts = OpenOptions::new(url.clone());
    opts.pg_schema = Some(schema.clone());
    let pg = open(&opts).await.unwrap();
    pg.migrate().await.unwrap();
    pg.close().await;

    let (sqlite, postgres) = (sqlite_columns(&path), postgres_columns(&url, &schema).await);
    assert!(sqlite
        .iter()
        .any(|(t, c, _)| t == "challenges" && c == "state_sealed"));
    let only_sqlite: Vec<_> = sqlite.difference(&postgres).collect();
    let only_postgres: Vec<_> = postgres.difference(&sqlite).collect();
    assert!(
        only_sqlite.is_empty() && only_postgres.is_empty(),
        "only in SQLite: {only_sqlite:?}\nonly in PostgreSQL: {only_postgres:?}"
    );
}
