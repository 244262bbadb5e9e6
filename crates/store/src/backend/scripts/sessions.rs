//! Sessions and their refresh tokens.

use super::json;
use crate::backend::conn::{args, fetch_one, Arg, Conn};
use crate::backend::rows::{self, SESSION_COLUMNS};
use crate::model::{RotateOutcome, Session};
use crate::Result;
use latchkey_core::clock::UnixMillis;
use latchkey_core::ids::SessionId;

/// The values of a session row, in `SESSION_COLUMNS` order; `amr` is its list as stored.
pub(crate) fn row<'a>(s: &'a Session, amr: &'a str) -> [Arg<'a>; 13] {
    [
        Arg::Text(s.id.as_str()),
        Arg::Text(s.tenant_id.as_str()),
        Arg::Text(s.user_id.as_str()),
        Arg::Text(amr),
        Arg::Text(&s.acr),
        Arg::Int(s.auth_time),
        Arg::OptInt(s.mfa_at),
        Arg::Int(s.created_at),
        Arg::Int(s.expires_at),
        Arg::OptInt(s.revoked_at),
        Arg::OptText(s.client_id.as_ref().map(|c| c.as_str())),
        Arg::OptText(s.parent_id.as_ref().map(|p| p.as_str())),
        Arg::OptText(s.scope.as_deref()),
    ]
}

/// The session row alone.
pub(crate) async fn insert_row<C: Conn>(c: &mut C, s: &Session, amr: &str) -> Result<()> {
    c.execute(
        &format!("INSERT INTO sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"),
        &row(s, amr),
    )
    .await?;
    Ok(())
}

/// A session and its first refresh token.
pub(crate) async fn insert<C: Conn>(c: &mut C, s: &Session, refresh_hash: &str) -> Result<()> {
    insert_row(c, s, &json(&s.amr)?).await?;
    insert_refresh(c, refresh_hash, s.id.as_str(), s.created_at).await
}

pub(crate) async fn insert_refresh<C: Conn>(
    c: &mut C,
    hash: &str,
    session: &str,
    now: UnixMillis,
) -> Result<()> {
    c.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, created_at) VALUES ($1, $2, $3)",
        args![hash, session, now],
    )
    .await?;
    Ok(())
}

pub(crate) async fn get<C: Conn>(c: &mut C, id: &SessionId) -> Result<Option<Session>> {
    c.fetch_optional(
        &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"),
        args![id.as_str()],
        rows::session,
    )
    .await
}

/// Consumes a refresh token and stores its successor; a token used before revokes its
/// session (refresh-token reuse detection). Always kept: a reuse's
/// revocation and a dead session's consumed token must both stick.
pub(crate) async fn rotate<C: Conn>(
    c: &mut C,
    presented_hash: &str,
    next_hash: &str,
    now: UnixMillis,
) -> Result<RotateOutcome> {
    // The one conditional write that makes a refresh token single-use.
    let consumed = c
        .fetch_optional(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL \
             RETURNING session_id",
            args![now, presented_hash],
            |r| r.text("session_id"),
        )
        .await?;
    let Some(session_id) = consumed else {
        let used = c
            .fetch_optional(
                "SELECT session_id FROM refresh_tokens WHERE token_hash = $1",
                args![presented_hash],
                |r| r.text("session_id"),
            )
            .await?;
        return Ok(match used {
            Some(sid) => {
                c.execute(
                    "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
                    args![now, &sid],
                )
                .await?;
                RotateOutcome::Reused
            }
            None => RotateOutcome::Unknown,
        });
    };
    let session = fetch_one(
        c,
        &format!("SELECT {SESSION_COLUMNS} FROM sessions WHERE id = $1"),
        args![&session_id],
        rows::session,
    )
    .await?;
    if !session.is_live(now) {
        return Ok(RotateOutcome::Dead);
    }
    insert_refresh(c, next_hash, &session_id, now).await?;
    Ok(RotateOutcome::Rotated(Box::new(session)))
}

pub(crate) async fn revoke<C: Conn>(c: &mut C, id: &SessionId, now: UnixMillis) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE sessions SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
            args![now, id.as_str()],
        )
        .await?;
    Ok(n == 1)
}

pub(crate) async fn for_refresh<C: Conn>(c: &mut C, hash: &str) -> Result<Option<Session>> {
    c.fetch_optional(
        &format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE id = \
             (SELECT session_id FROM refresh_tokens WHERE token_hash = $1)"
        ),
        args![hash],
        rows::session,
    )
    .await
}

/// Ends every live session of `user` but `keep` (their refresh tokens stop working with
/// them: rotation checks the session).
pub(crate) async fn end_all_but<C: Conn>(
    c: &mut C,
    user: &str,
    keep: Option<&SessionId>,
    now: UnixMillis,
) -> Result<()> {
    c.execute(
        "UPDATE sessions SET revoked_at = $1 WHERE user_id = $2 AND revoked_at IS NULL AND id <> $3",
        args![now, user, keep.map(|k| k.as_str()).unwrap_or("")],
    )
    .await?;
    // A remembered device is a standing sign-in too: it goes with them.
    super::devices::revoke_all(c, user, now).await?;
    Ok(())
}

/// Ends a session and every session issued from it (`parent_id`): signing out of the
/// browser ends what applications were given through it. How many were live.
pub(crate) async fn revoke_tree<C: Conn>(c: &mut C, id: &SessionId, now: UnixMillis) -> Result<u64> {
    c.execute(
        "UPDATE sessions SET revoked_at = $1 WHERE (id = $2 OR parent_id = $2) AND revoked_at IS NULL",
        args![now, id.as_str()],
    )
    .await
}

/// Ends every session issued to an application.
pub(crate) async fn revoke_for_client<C: Conn>(
    c: &mut C,
    tenant: &latchkey_core::ids::TenantId,
    client: &latchkey_core::ids::ApplicationId,
    now: UnixMillis,
) -> Result<u64> {
    c.execute(
        "UPDATE sessions SET revoked_at = $1 WHERE tenant_id = $2 AND client_id = $3 AND revoked_at IS NULL",
        args![now, tenant.as_str(), client.as_str()],
    )
    .await
}
