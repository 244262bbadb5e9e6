//! WebAuthn: credential rows (registered with their factor, their counter advanced with the
//! challenge they answer), the ceremony state kept on a sign-in challenge, and passwordless
//! ceremonies, each taken once.

use crate::backend::conn::{args, conflict_or, Conn};
use crate::backend::rows::Columns;
use crate::model::WebauthnCredential;
use crate::Result;
use latchkey_core::clock::UnixMillis;
use latchkey_core::ids::{ChallengeId, FactorId, TenantId, UserId};

const COLUMNS: &str = "factor_id, tenant_id, user_id, credential_id, sign_count, backup_eligible, \
     backup_state, user_verified, aaguid, transports, clone_suspected_at";

fn row(r: &dyn Columns) -> Result<WebauthnCredential> {
    Ok(WebauthnCredential {
        factor_id: FactorId::from_trusted(r.text("factor_id")?),
        tenant_id: TenantId::from_trusted(r.text("tenant_id")?),
        user_id: UserId::from_trusted(r.text("user_id")?),
        credential_id: r.text("credential_id")?,
        sign_count: r.int("sign_count")?,
        backup_eligible: r.int("backup_eligible")? != 0,
        backup_state: r.int("backup_state")? != 0,
        user_verified: r.int("user_verified")? != 0,
        aaguid: r.opt_text("aaguid")?,
        transports: r.opt_text("transports")?,
        clone_suspected_at: r.opt_int("clone_suspected_at")?,
    })
}

/// Whether a credential id is registered already (to anyone).
pub(crate) async fn credential_taken<C: Conn>(c: &mut C, credential_id: &str) -> Result<bool> {
    Ok(c.fetch_optional(
        "SELECT factor_id FROM webauthn_credentials WHERE credential_id = $1",
        args![credential_id],
        |r| r.text("factor_id"),
    )
    .await?
    .is_some())
}

pub(crate) async fn insert_credential<C: Conn>(c: &mut C, w: &WebauthnCredential) -> Result<()> {
    c.execute(
        &format!(
            "INSERT INTO webauthn_credentials ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        ),
        args![
            w.factor_id.as_str(),
            w.tenant_id.as_str(),
            w.user_id.as_str(),
            &w.credential_id,
            w.sign_count,
            i64::from(w.backup_eligible),
            i64::from(w.backup_state),
            i64::from(w.user_verified),
            &w.aaguid,
            &w.transports,
            w.clone_suspected_at
        ],
    )
    .await
    .map_err(conflict_or)?;
    Ok(())
}

/// A user's credentials, in factor order.
pub(crate) async fn list<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    user: &UserId,
) -> Result<Vec<WebauthnCredential>> {
    c.fetch_all(
        &format!(
            "SELECT {COLUMNS} FROM webauthn_credentials WHERE tenant_id = $1 AND user_id = $2 ORDER BY factor_id"
        ),
        args![tenant.as_str(), user.as_str()],
        row,
    )
    .await
}

pub(crate) async fn find<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    credential_id: &str,
) -> Result<Option<WebauthnCredential>> {
    c.fetch_optional(
        &format!("SELECT {COLUMNS} FROM webauthn_credentials WHERE tenant_id = $1 AND credential_id = $2"),
        args![tenant.as_str(), credential_id],
        row,
    )
    .await
}

/// Moves a credential's counter forward to `count` (or keeps it at 0 when both are 0, for
/// authenticators without a counter), unless the credential is flagged. A counter that
/// does not move forward flags it as possibly cloned (WebAuthn §6.1.1). `true` when the
/// assertion is accepted.
pub(crate) async fn advance_counter<C: Conn>(
    c: &mut C,
    factor: &FactorId,
    count: i64,
    backup_state: bool,
    now: UnixMillis,
) -> Result<bool> {
    let moved = c
        .execute(
            "UPDATE webauthn_credentials SET sign_count = $1, backup_state = $2 WHERE factor_id = $3 \
             AND clone_suspected_at IS NULL AND (sign_count < $1 OR (sign_count = 0 AND $1 = 0))",
            args![count, i64::from(backup_state), factor.as_str()],
        )
        .await?
        == 1;
    if moved {
        c.execute(
            "UPDATE factors SET last_used_at = $1 WHERE id = $2 AND status = 'active'",
            args![now, factor.as_str()],
        )
        .await?;
    } else {
        c.execute(
            "UPDATE webauthn_credentials SET clone_suspected_at = $1 WHERE factor_id = $2 \
             AND clone_suspected_at IS NULL AND NOT (sign_count = 0 AND $3 = 0)",
            args![now, factor.as_str(), count],
        )
        .await?;
    }
    Ok(moved)
}

/// Flags a credential as possibly cloned (a regression the ceremony itself caught).
pub(crate) async fn flag_clone<C: Conn>(c: &mut C, factor: &FactorId, now: UnixMillis) -> Result<bool> {
    Ok(c
        .execute(
            "UPDATE webauthn_credentials SET clone_suspected_at = $1 WHERE factor_id = $2 AND clone_suspected_at IS NULL",
            args![now, factor.as_str()],
        )
        .await?
        == 1)
}

/// Stores a sign-in challenge's ceremony state (replacing an earlier one), if it is open.
pub(crate) async fn set_challenge_state<C: Conn>(
    c: &mut C,
    id: &ChallengeId,
    state_sealed: &str,
    now: UnixMillis,
) -> Result<bool> {
    Ok(c.execute(
        "UPDATE challenges SET state_sealed = $1 WHERE id = $2 AND completed_at IS NULL AND expires_at > $3",
        args![state_sealed, id.as_str(), now],
    )
    .await?
        == 1)
}

/// Takes a challenge's ceremony state, once: `true` if it still held `state_sealed`.
pub(crate) async fn take_challenge_state<C: Conn>(
    c: &mut C,
    id: &ChallengeId,
    state_sealed: &str,
    now: UnixMillis,
) -> Result<bool> {
    Ok(c.execute(
        "UPDATE challenges SET state_sealed = NULL WHERE id = $1 AND state_sealed = $2 \
             AND completed_at IS NULL AND expires_at > $3",
        args![id.as_str(), state_sealed, now],
    )
    .await?
        == 1)
}

/// Stores a passwordless ceremony, removing the tenant's expired ones first.
pub(crate) async fn insert_ceremony<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    challenge_hash: &str,
    state_sealed: &str,
    now: UnixMillis,
    expires_at: UnixMillis,
) -> Result<()> {
    c.execute(
        "DELETE FROM passkey_ceremonies WHERE tenant_id = $1 AND expires_at <= $2",
        args![tenant.as_str(), now],
    )
    .await?;
    c.execute(
        "INSERT INTO passkey_ceremonies (challenge_hash, tenant_id, state_sealed, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
        args![challenge_hash, tenant.as_str(), state_sealed, now, expires_at],
    )
    .await?;
    Ok(())
}

/// Takes a passwordless ceremony, once: its sealed state if it existed and had not expired.
pub(crate) async fn take_ceremony<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    challenge_hash: &str,
    now: UnixMillis,
) -> Result<Option<String>> {
    let taken = c
        .fetch_optional(
            "DELETE FROM passkey_ceremonies WHERE tenant_id = $1 AND challenge_hash = $2 \
             RETURNING state_sealed, expires_at",
            args![tenant.as_str(), challenge_hash],
            |r| Ok((r.text("state_sealed")?, r.int("expires_at")?)),
        )
        .await?;
    Ok(taken.and_then(|(state, expires_at)| (expires_at > now).then_some(state)))
}
