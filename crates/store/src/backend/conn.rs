//! The one interface the transaction scripts (`scripts/`) are written against: run a
//! statement, fetch rows through a [`Columns`] mapper. PostgreSQL implements it on sqlx
//! (`postgres.rs`), SQLite on a rusqlite connection (`sqlite/mod.rs`); the few statements
//! that must differ are the methods of [`Dialect`], each implemented by both.
//!
//! SQL is written once, with PostgreSQL's `$N` placeholders. SQLite reads `$1` as a *named*
//! parameter and numbers named parameters by first appearance, so binding positionally
//! would give `SELECT $2, $1` its arguments swapped; [`match_params`] binds each parameter
//! by its name instead and refuses a statement that leaves a parameter or an argument
//! unmatched.

use super::rows::Columns;
use crate::model::{AuditEvent, Session, ThrottleKey};
use crate::{Result, StoreError};
use latchkey_core::clock::UnixMillis;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// A bound value. The schema has no other column types (TEXT, BIGINT, one INTEGER read
/// back as BIGINT, one BYTEA/BLOB).
#[derive(Debug, Clone, Copy)]
pub(crate) enum Arg<'a> {
    Text(&'a str),
    OptText(Option<&'a str>),
    Int(i64),
    OptInt(Option<i64>),
    Bytes(&'a [u8]),
}

impl<'a> From<&'a str> for Arg<'a> {
    fn from(v: &'a str) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<&'a String> for Arg<'a> {
    fn from(v: &'a String) -> Self {
        Arg::Text(v)
    }
}
impl<'a> From<Option<&'a str>> for Arg<'a> {
    fn from(v: Option<&'a str>) -> Self {
        Arg::OptText(v)
    }
}
impl<'a> From<&'a Option<String>> for Arg<'a> {
    fn from(v: &'a Option<String>) -> Self {
        Arg::OptText(v.as_deref())
    }
}
impl From<i64> for Arg<'_> {
    fn from(v: i64) -> Self {
        Arg::Int(v)
    }
}
impl From<&i64> for Arg<'_> {
    fn from(v: &i64) -> Self {
        Arg::Int(*v)
    }
}
impl From<Option<i64>> for Arg<'_> {
    fn from(v: Option<i64>) -> Self {
        Arg::OptInt(v)
    }
}
impl<'a> From<&'a [u8]> for Arg<'a> {
    fn from(v: &'a [u8]) -> Self {
        Arg::Bytes(v)
    }
}

/// `args![a, b, …]`: a slice of [`Arg`]s, each converted with `From`.
macro_rules! args {
    ($($a:expr),* $(,)?) => {
        &[$($crate::backend::conn::Arg::from($a)),*]
    };
}
pub(crate) use args;

/// Maps one row to a value.
pub(crate) type Map<T> = fn(&dyn Columns) -> Result<T>;

/// A connection (or transaction) the scripts run on. SQLite's implementation does its work
/// inside the call and returns a ready future (see [`run_now`]).
pub(crate) trait Conn {
    /// Runs a statement; the number of rows it changed.
    fn execute(&mut self, sql: &str, args: &[Arg<'_>]) -> impl Future<Output = Result<u64>> + Send;
    /// The first row through `map`, if there is one.
    fn fetch_optional<T: Send>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        map: Map<T>,
    ) -> impl Future<Output = Result<Option<T>>> + Send;
    /// Every row through `map`.
    fn fetch_all<T: Send>(
        &mut self,
        sql: &str,
        args: &[Arg<'_>],
        map: Map<T>,
    ) -> impl Future<Output = Result<Vec<T>>> + Send;
    /// Runs several statements without arguments (migrations).
    fn execute_batch(&mut self, sql: &str) -> impl Future<Output = Result<()>> + Send;
}

/// The statements that differ between the databases, each for a reason given where it is
/// implemented. Everything else is in `scripts/`, once.
pub(crate) trait Dialect: Conn {
    /// `sqlite` or `postgres`, for logs.
    const NAME: &'static str;
    /// `(failures, locked_until)` of a throttle row before a sign-in attempt (`(0, 0)` if
    /// there is none), holding it against concurrent attempts until the transaction ends.
    fn throttle_state(
        &mut self,
        key: &ThrottleKey,
        now: UnixMillis,
    ) -> impl Future<Output = Result<(i64, i64)>> + Send;
    /// A successful sign-in's audit record, session and first refresh token.
    fn insert_audit_and_session(
        &mut self,
        event: &AuditEvent,
        session: &Session,
        amr: &str,
        refresh_hash: &str,
    ) -> impl Future<Output = Result<()>> + Send;
}

/// The one row a statement must return.
pub(crate) async fn fetch_one<C: Conn, T: Send>(
    c: &mut C,
    sql: &str,
    args: &[Arg<'_>],
    map: Map<T>,
) -> Result<T> {
    c.fetch_optional(sql, args, map)
        .await?
        .ok_or_else(|| StoreError::Corrupt("a statement returned no row".into()))
}

/// Polls a script once, to its end. For SQLite, whose [`Conn`] never waits: a script on
/// it is ready at the first poll. Should it ever not be (a script awaiting something
/// else), this fails instead of blocking the writer thread.
pub(crate) fn run_now<R>(script: impl Future<Output = Result<R>>) -> Result<R> {
    let mut script = pin!(script);
    match script.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => Err(StoreError::Corrupt(
            "a store script waited on a connection that cannot wait".into(),
        )),
    }
}

/// Most parameters one statement may have (the largest has 21).
pub(crate) const MAX_PARAMS: usize = 64;

/// Which argument each of a statement's parameters takes, matching `$N` by name whatever
/// order the parameters appear in and however often: slot `i - 1` holds the argument
/// index of parameter `i` (1-based, as SQLite numbers them; `name(i)` is its name). Fails
/// if a parameter has no argument or an argument no parameter.
pub(crate) fn match_params<'n>(
    count: usize,
    name: impl Fn(usize) -> Option<&'n str>,
    args: usize,
) -> Result<[u8; MAX_PARAMS]> {
    if count > MAX_PARAMS || args > MAX_PARAMS {
        return Err(StoreError::Corrupt("too many statement parameters".into()));
    }
    let mut slots = [0u8; MAX_PARAMS];
    let mut used = 0u64;
    for (i, slot) in slots.iter_mut().enumerate().take(count) {
        let name = name(i + 1).unwrap_or("?");
        let n: usize = name
            .strip_prefix('$')
            .and_then(|n| n.parse().ok())
            .filter(|n| (1..=args).contains(n))
            .ok_or_else(|| StoreError::Corrupt(format!("statement parameter {name} has no argument")))?;
        *slot = u8::try_from(n - 1).unwrap_or(u8::MAX);
        used |= 1 << (n - 1);
    }
    if used.count_ones() as usize != args {
        return Err(StoreError::Corrupt(
            "an argument matches no statement parameter".into(),
        ));
    }
    Ok(slots)
}

/// `$start, $start+1, …`: `n` numbered placeholders for an `IN (…)` list.
pub(crate) fn placeholders(start: usize, n: usize) -> String {
    (start..start + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// A unique or primary-key violation becomes [`StoreError::Conflict`].
pub(crate) fn conflict_or(e: StoreError) -> StoreError {
    let unique = match &e {
        StoreError::Database(e) => e.as_database_error().is_some_and(|d| d.is_unique_violation()),
        StoreError::Sqlite(e) => {
            e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
                && matches!(
                    e.sqlite_error().map(|f| f.extended_code),
                    Some(
                        rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE | rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                    )
                )
        }
        _ => false,
    };
    if unique {
        StoreError::Conflict
    } else {
        e
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::backend::sqlite::Lite;

    fn db() -> rusqlite::Connection {
        rusqlite::Connection::open_in_memory().unwrap()
    }

    fn pair(c: &dyn Columns) -> Result<(i64, i64)> {
        Ok((c.int("a")?, c.int("b")?))
    }

    #[test]
    fn parameters_bind_by_name_not_by_position() {
        let conn = db();
        // SQLite numbers `$2` first here: bound by position, a would be 20.
        let got = run_now(Lite(&conn).fetch_optional("SELECT $2 AS a, $1 AS b", args![10, 20], pair));
        assert_eq!(got.unwrap(), Some((20, 10)));
    }

    #[test]
    fn a_repeated_parameter_takes_one_argument() {
        let conn = db();
        // Two distinct parameters; bound by position the second would be left unbound.
        let got = run_now(Lite(&conn).fetch_optional("SELECT $1 + $1 AS a, $2 AS b", args![3, 7], pair));
        assert_eq!(got.unwrap(), Some((6, 7)));
        let got = run_now(Lite(&conn).fetch_optional("SELECT $2 AS a, $1 + $2 + $1 AS b", args![1, 5], pair));
        assert_eq!(got.unwrap(), Some((5, 7)));
    }

    #[test]
    fn unmatched_parameters_and_arguments_are_refused() {
        let conn = db();
        let missing = run_now(Lite(&conn).fetch_optional("SELECT $1 AS a, $3 AS b", args![1, 2], pair));
        assert!(matches!(missing, Err(StoreError::Corrupt(_))));
        let unused = run_now(Lite(&conn).fetch_optional("SELECT $1 AS a, $1 AS b", args![1, 2], pair));
        assert!(matches!(unused, Err(StoreError::Corrupt(_))));
        let other = run_now(Lite(&conn).fetch_optional("SELECT ?1 AS a, ?2 AS b", args![1, 2], pair));
        assert!(matches!(other, Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn placeholders_in_literals_are_not_parameters() {
        let conn = db();
        let got = run_now(Lite(&conn).fetch_optional(
            "SELECT $1 AS a, length('$2 -- $3') AS b -- $4",
            args![4],
            pair,
        ));
        assert_eq!(got.unwrap(), Some((4, 8)));
    }

    #[test]
    fn a_pending_script_is_an_error_not_a_hang() {
        let out: Result<()> = run_now(async {
            std::future::pending::<()>().await;
            Ok(())
        });
        assert!(matches!(out, Err(StoreError::Corrupt(_))));
    }
}
