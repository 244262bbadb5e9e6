//! The transaction scripts: every store call's SQL and control flow, written once against
//! [`Conn`](super::conn::Conn) and run unchanged on PostgreSQL and SQLite. A script runs on
//! whatever the backend hands it (a transaction, a pooled connection, the SQLite writer's
//! savepoint); the backend decides where it commits. Scripts that may refuse answer with
//! [`Write::Undo`](super::Write), and their writes are then rolled back.

pub(crate) mod applications;
pub(crate) mod audit;
pub(crate) mod authorization;
pub(crate) mod challenges;
pub(crate) mod delivery;
pub(crate) mod devices;
pub(crate) mod email_links;
pub(crate) mod enrollment_tickets;
pub(crate) mod factors;
pub(crate) mod idempotency;
pub(crate) mod keys;
pub(crate) mod migrations;
pub(crate) mod policy;
pub(crate) mod sessions;
pub(crate) mod signins;
pub(crate) mod tenants;
pub(crate) mod throttle;
pub(crate) mod users;
pub(crate) mod webauthn;
pub(crate) mod webhooks;

use crate::{Result, StoreError};
use latchkey_core::clock::UnixMillis;

/// An `amr` list as stored.
fn json(v: &[String]) -> Result<String> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Whole seconds from `now` until `at`, at least one.
fn secs_until(at: UnixMillis, now: UnixMillis) -> u64 {
    u64::try_from(((at - now).max(1) + 999) / 1000).unwrap_or(1)
}
