//! OAuth 2.0 authorization codes: issued once, redeemed once.

use super::sessions;
use crate::backend::conn::{args, Arg, Conn};
use crate::backend::rows::{self, AUTHORIZATION_CODE_COLUMNS};
use crate::model::{AuthorizationCode, RedeemOutcome, Session};
use crate::Result;
use latchkey_core::clock::UnixMillis;
use latchkey_core::ids::SessionId;

pub(crate) async fn insert<C: Conn>(c: &mut C, code: &AuthorizationCode) -> Result<()> {
    c.execute(
        &format!(
            "INSERT INTO authorization_codes ({AUTHORIZATION_CODE_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ),
        &[
            Arg::Text(&code.code_hash),
            Arg::Text(code.tenant_id.as_str()),
            Arg::Text(code.client_id.as_str()),
            Arg::Text(code.session_id.as_str()),
            Arg::Text(&code.redirect_uri),
            Arg::Text(&code.scope),
            Arg::OptText(code.nonce.as_deref()),
            Arg::OptText(code.code_challenge.as_deref()),
            Arg::Int(code.created_at),
            Arg::Int(code.expires_at),
            Arg::OptInt(code.consumed_at),
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn get<C: Conn>(c: &mut C, code_hash: &str) -> Result<Option<AuthorizationCode>> {
    c.fetch_optional(
        &format!("SELECT {AUTHORIZATION_CODE_COLUMNS} FROM authorization_codes WHERE code_hash = $1"),
        args![code_hash],
        rows::authorization_code,
    )
    .await
}

/// Consumes the code with one conditional write and, if it was live, stores `session` and
/// its first refresh token; a code consumed before revokes the session its redemption
/// issued. Always kept: a replay's revocation and an expired code's consumption must stick.
pub(crate) async fn redeem<C: Conn>(
    c: &mut C,
    code_hash: &str,
    session: &Session,
    refresh_hash: &str,
    now: UnixMillis,
) -> Result<RedeemOutcome> {
    let expires_at = c
        .fetch_optional(
            "UPDATE authorization_codes SET consumed_at = $1, issued_session_id = $2 \
             WHERE code_hash = $3 AND consumed_at IS NULL RETURNING expires_at",
            args![now, session.id.as_str(), code_hash],
            |r| r.int("expires_at"),
        )
        .await?;
    match expires_at {
        Some(exp) if now < exp => {
            sessions::insert(c, session, refresh_hash).await?;
            Ok(RedeemOutcome::Redeemed)
        }
        Some(_) => {
            // Nothing was issued: no session bears the id just recorded.
            c.execute(
                "UPDATE authorization_codes SET issued_session_id = NULL WHERE code_hash = $1",
                args![code_hash],
            )
            .await?;
            Ok(RedeemOutcome::Expired)
        }
        None => {
            let issued = c
                .fetch_optional(
                    "SELECT issued_session_id FROM authorization_codes WHERE code_hash = $1",
                    args![code_hash],
                    |r| r.opt_text("issued_session_id"),
                )
                .await?;
            match issued {
                None => Ok(RedeemOutcome::Unknown),
                Some(issued) => {
                    if let Some(sid) = issued {
                        sessions::revoke_tree(c, &SessionId::from_trusted(sid), now).await?;
                    }
                    Ok(RedeemOutcome::Replayed)
                }
            }
        }
    }
}

/// Consumes a code without issuing anything (it was presented with the wrong client,
/// redirect URI or verifier): it cannot be tried again.
pub(crate) async fn burn<C: Conn>(c: &mut C, code_hash: &str, now: UnixMillis) -> Result<()> {
    c.execute(
        "UPDATE authorization_codes SET consumed_at = $1 WHERE code_hash = $2 AND consumed_at IS NULL",
        args![now, code_hash],
    )
    .await?;
    Ok(())
}
