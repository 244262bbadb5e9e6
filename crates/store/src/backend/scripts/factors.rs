//! Factors, backup codes and their activation: the rules that decide when an
//! authenticator becomes usable, and what a first one ends.

use super::sessions::end_all_but;
use crate::backend::conn::{args, conflict_or, fetch_one, placeholders, Arg, Conn};
use crate::backend::rows::{self, FACTOR_COLUMNS};
use crate::backend::Write;
use crate::model::{ActivateOutcome, ActivationRules, BackupInstall, Check, Factor};
use crate::{Result, StoreError};
use latchkey_core::clock::UnixMillis;
use latchkey_core::factor::{FactorKind, FactorStatus};
use latchkey_core::ids::{FactorId, SessionId, TenantId, UserId};

fn backup_kind() -> &'static str {
    FactorKind::BackupCodes.as_str()
}

/// The factor row alone.
pub(crate) async fn insert_row<C: Conn>(c: &mut C, f: &Factor) -> Result<()> {
    c.execute(
        &format!(
            "INSERT INTO factors ({FACTOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
             $14, $15)"
        ),
        args![
            f.id.as_str(),
            f.tenant_id.as_str(),
            f.user_id.as_str(),
            f.kind.as_str(),
            &f.name,
            f.status.as_str(),
            &f.secret_sealed,
            f.last_step,
            f.created_at,
            f.expires_at,
            f.confirmed_at,
            f.last_used_at,
            &f.destination_sealed,
            &f.enrolled_by,
            &f.algorithm
        ],
    )
    .await
    .map_err(conflict_or)?;
    Ok(())
}

/// Drops the user's pending enrollments of `kind` (and codes sent for them): a restarted
/// enrollment's old secret or code never verifies.
pub(crate) async fn drop_pending<C: Conn>(
    c: &mut C,
    user: &UserId,
    kind: FactorKind,
    with_codes: bool,
) -> Result<()> {
    let a = args![user.as_str(), kind.as_str()];
    if with_codes {
        c.execute(
            "DELETE FROM otp_codes WHERE factor_id IN \
             (SELECT id FROM factors WHERE user_id = $1 AND kind = $2 AND status = 'pending')",
            a,
        )
        .await?;
    }
    c.execute(
        "DELETE FROM factors WHERE user_id = $1 AND kind = $2 AND status = 'pending'",
        a,
    )
    .await?;
    Ok(())
}

/// A new pending enrollment replaces the user's other pending ones of its kind.
pub(crate) async fn insert<C: Conn>(c: &mut C, f: &Factor) -> Result<()> {
    if f.status == FactorStatus::Pending {
        drop_pending(c, &f.user_id, f.kind, false).await?;
    }
    insert_row(c, f).await
}

pub(crate) async fn get<C: Conn>(c: &mut C, tenant: &TenantId, id: &FactorId) -> Result<Option<Factor>> {
    c.fetch_optional(
        &format!("SELECT {FACTOR_COLUMNS} FROM factors WHERE tenant_id = $1 AND id = $2"),
        args![tenant.as_str(), id.as_str()],
        rows::factor,
    )
    .await
}

/// Oldest first, backup codes last.
pub(crate) async fn list<C: Conn>(c: &mut C, tenant: &TenantId, user: &UserId) -> Result<Vec<Factor>> {
    c.fetch_all(
        &format!(
            "SELECT {FACTOR_COLUMNS} FROM factors WHERE tenant_id = $1 AND user_id = $2 \
             ORDER BY CASE WHEN kind = 'backup_codes' THEN 1 ELSE 0 END, created_at, id"
        ),
        args![tenant.as_str(), user.as_str()],
        rows::factor,
    )
    .await
}

/// Replaces the user's backup codes: reuses the existing backup factor if there is one,
/// otherwise creates the one in `install`. Returns the factor id used.
pub(crate) async fn install_backup<C: Conn>(c: &mut C, install: &BackupInstall) -> Result<FactorId> {
    let f = &install.factor;
    let existing = c
        .fetch_optional(
            "SELECT id FROM factors WHERE tenant_id = $1 AND user_id = $2 AND kind = $3",
            args![f.tenant_id.as_str(), f.user_id.as_str(), backup_kind()],
            |r| r.text("id"),
        )
        .await?;
    let id = match existing {
        Some(id) => FactorId::from_trusted(id),
        None => {
            insert_row(c, f).await?;
            f.id.clone()
        }
    };
    if id != f.id {
        // Hashes are bound to the factor id they were computed for; refuse a mismatch
        // rather than store codes that could never verify.
        return Err(StoreError::Corrupt(
            "backup codes hashed for another factor".into(),
        ));
    }
    c.execute(
        "DELETE FROM backup_codes WHERE factor_id = $1",
        args![id.as_str()],
    )
    .await?;
    for hash in &install.code_hashes {
        c.execute(
            "INSERT INTO backup_codes (factor_id, code_hash) VALUES ($1, $2)",
            args![id.as_str(), hash],
        )
        .await?;
    }
    Ok(id)
}

/// Consumes a sent code: live, unused, for this factor and challenge (`''` for an
/// enrollment), in one conditional write. `false` if there is no such code.
pub(crate) async fn consume_code<C: Conn>(
    c: &mut C,
    factor: &FactorId,
    challenge: &str,
    code_hash: &str,
    now: UnixMillis,
) -> Result<bool> {
    let used = c
        .execute(
            "UPDATE otp_codes SET used_at = $1 WHERE factor_id = $2 AND challenge_id = $3 AND code_hash = $4 \
             AND used_at IS NULL AND expires_at > $1",
            args![now, factor.as_str(), challenge, code_hash],
        )
        .await?;
    Ok(used == 1)
}

async fn count<C: Conn>(c: &mut C, sql: &str, args: &[Arg<'_>]) -> Result<i64> {
    fetch_one(c, sql, args, |r| r.int("n")).await
}

/// Activates a pending, unexpired factor if `rules` still hold, and installs backup codes
/// if it is the user's first. On any outcome but `Activated` the caller must undo what
/// this wrote (a consumed code).
pub(crate) async fn activate_on<C: Conn>(
    c: &mut C,
    id: &FactorId,
    check: &Check,
    backup: &BackupInstall,
    rules: &ActivationRules,
    now: UnixMillis,
) -> Result<ActivateOutcome> {
    let step = match check {
        Check::TotpStep(step) => Some(*step),
        Check::SentCode {
            code_hash,
            challenge_id,
        } => {
            let challenge = challenge_id.as_ref().map(|c| c.as_str()).unwrap_or("");
            if !consume_code(c, id, challenge, code_hash, now).await? {
                return Ok(ActivateOutcome::Rejected);
            }
            None
        }
        Check::Preverified => None,
        Check::WebauthnRegistration {
            state_sealed,
            credential_sealed,
            credential,
        } => {
            // The ceremony state is consumed with the swap: a registration answers once.
            let swapped = c
                .execute(
                    "UPDATE factors SET secret_sealed = $1 WHERE id = $2 AND status = 'pending' \
                     AND expires_at > $3 AND secret_sealed = $4",
                    args![credential_sealed, id.as_str(), now, state_sealed],
                )
                .await?;
            if swapped != 1 {
                return Ok(ActivateOutcome::NotPending);
            }
            if super::webauthn::credential_taken(c, &credential.credential_id).await? {
                return Ok(ActivateOutcome::CredentialTaken);
            }
            // Two registrations of one credential id at once both pass the check above; the
            // unique index refuses the second (the caller rolls this transaction back).
            match super::webauthn::insert_credential(c, credential).await {
                Err(StoreError::Conflict) => return Ok(ActivateOutcome::CredentialTaken),
                other => other?,
            }
            None
        }
    };
    let activated = c
        .fetch_optional(
            "UPDATE factors SET status = 'active', confirmed_at = $1, last_used_at = $1, last_step = $2, \
             expires_at = NULL WHERE id = $3 AND status = 'pending' AND expires_at > $1 RETURNING user_id",
            args![now, step, id.as_str()],
            |r| r.text("user_id"),
        )
        .await?;
    let Some(user) = activated else {
        return Ok(ActivateOutcome::NotPending);
    };
    if let Some(kinds) = rules.only_without.as_ref().filter(|k| !k.is_empty()) {
        // The user's factors decide, as they are now: an enrollment started while the user
        // had none cannot complete once another one is active (the caller rolls back).
        let sql = format!(
            "SELECT COUNT(*) AS n FROM factors WHERE user_id = $1 AND status = 'active' AND id <> $2 AND kind IN ({})",
            placeholders(3, kinds.len())
        );
        let mut values = vec![Arg::Text(&user), Arg::Text(id.as_str())];
        values.extend(kinds.iter().map(|k| Arg::Text(k.as_str())));
        if count(c, &sql, &values).await? > 0 {
            return Ok(ActivateOutcome::Stale);
        }
    }
    // A new authenticator: the devices remembered before it are forgotten (SECURITY.md 32).
    super::devices::revoke_all(c, &user, now).await?;
    let others = count(
        c,
        "SELECT COUNT(*) AS n FROM factors WHERE user_id = $1 AND status = 'active' AND kind <> $2 AND id <> $3",
        args![&user, backup_kind(), id.as_str()],
    )
    .await?;
    if others == 0 {
        // The account now has MFA: sessions opened without it end (but the one enabling it),
        // and enrollments others started while it had none go (review items 2 and 5).
        end_all_but(c, &user, rules.keep_session.as_ref(), now).await?;
        let by = rules.enrolled_by.as_deref().unwrap_or("");
        c.execute(
            "DELETE FROM otp_codes WHERE factor_id IN (SELECT id FROM factors WHERE user_id = $1 \
             AND status = 'pending' AND id <> $2 AND COALESCE(enrolled_by, '') <> $3)",
            args![&user, id.as_str(), by],
        )
        .await?;
        c.execute(
            "DELETE FROM factors WHERE user_id = $1 AND status = 'pending' AND id <> $2 \
             AND COALESCE(enrolled_by, '') <> $3",
            args![&user, id.as_str(), by],
        )
        .await?;
    }
    let has_backup = count(
        c,
        "SELECT COUNT(*) AS n FROM factors WHERE user_id = $1 AND kind = $2",
        args![&user, backup_kind()],
    )
    .await?;
    let backup_installed = others == 0 && has_backup == 0;
    if backup_installed {
        install_backup(c, backup).await?;
    }
    Ok(ActivateOutcome::Activated { backup_installed })
}

/// [`activate_on`] as a whole call: nothing is kept unless the factor is activated.
pub(crate) async fn activate<C: Conn>(
    c: &mut C,
    id: &FactorId,
    check: &Check,
    backup: &BackupInstall,
    rules: &ActivationRules,
    now: UnixMillis,
) -> Result<Write<ActivateOutcome>> {
    Ok(match activate_on(c, id, check, backup, rules, now).await? {
        done @ ActivateOutcome::Activated { .. } => Write::Keep(done),
        other => Write::Undo(other),
    })
}

pub(crate) async fn mark_phone_verified<C: Conn>(
    c: &mut C,
    user: &UserId,
    phone_hash: &str,
    now: UnixMillis,
) -> Result<()> {
    c.execute(
        "UPDATE users SET phone_verified_at = $1, updated_at = $1 \
         WHERE id = $2 AND phone_hash = $3 AND phone_verified_at IS NULL",
        args![now, user.as_str(), phone_hash],
    )
    .await?;
    Ok(())
}

/// Deletes a factor and ends the user's other sessions; backup codes go with the last
/// other factor. Undone (`false`) if there was no such factor.
pub(crate) async fn delete<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    user: &UserId,
    id: &FactorId,
    keep_session: Option<&SessionId>,
    now: UnixMillis,
) -> Result<Write<bool>> {
    c.execute(
        "DELETE FROM backup_codes WHERE factor_id = $1",
        args![id.as_str()],
    )
    .await?;
    c.execute(
        "DELETE FROM webauthn_credentials WHERE tenant_id = $1 AND user_id = $2 AND factor_id = $3",
        args![tenant.as_str(), user.as_str(), id.as_str()],
    )
    .await?;
    c.execute(
        "DELETE FROM webauthn_credentials WHERE tenant_id = $1 AND user_id = $2 AND factor_id = $3",
        args![tenant.as_str(), user.as_str(), id.as_str()],
    )
    .await?;
    let gone = c
        .execute(
            "DELETE FROM factors WHERE tenant_id = $1 AND user_id = $2 AND id = $3",
            args![tenant.as_str(), user.as_str(), id.as_str()],
        )
        .await?
        == 1;
    if !gone {
        return Ok(Write::Undo(false));
    }
    end_all_but(c, user.as_str(), keep_session, now).await?;
    let remaining = count(
        c,
        "SELECT COUNT(*) AS n FROM factors WHERE user_id = $1 AND status = 'active' AND kind <> $2",
        args![user.as_str(), backup_kind()],
    )
    .await?;
    if remaining == 0 {
        // Backup codes recover a second factor; with none left they would be one.
        c.execute(
            "DELETE FROM backup_codes WHERE factor_id IN \
             (SELECT id FROM factors WHERE user_id = $1 AND kind = $2)",
            args![user.as_str(), backup_kind()],
        )
        .await?;
        c.execute(
            "DELETE FROM factors WHERE user_id = $1 AND kind = $2",
            args![user.as_str(), backup_kind()],
        )
        .await?;
    }
    Ok(Write::Keep(true))
}

pub(crate) async fn replace_backup_codes<C: Conn>(
    c: &mut C,
    install: &BackupInstall,
    keep_session: Option<&SessionId>,
    now: UnixMillis,
) -> Result<FactorId> {
    let id = install_backup(c, install).await?;
    end_all_but(c, install.factor.user_id.as_str(), keep_session, now).await?;
    Ok(id)
}

pub(crate) async fn unused_backup_codes<C: Conn>(c: &mut C, factor: &FactorId) -> Result<i64> {
    count(
        c,
        "SELECT COUNT(*) AS n FROM backup_codes WHERE factor_id = $1 AND used_at IS NULL",
        args![factor.as_str()],
    )
    .await
}

/// Removes every factor and backup code of the user, closes open challenges and ends
/// every session; how many factors were removed.
pub(crate) async fn reset_mfa<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    user: &UserId,
    now: UnixMillis,
) -> Result<u64> {
    let a = args![tenant.as_str(), user.as_str()];
    c.execute(
        "DELETE FROM backup_codes WHERE factor_id IN \
         (SELECT id FROM factors WHERE tenant_id = $1 AND user_id = $2)",
        a,
    )
    .await?;
    c.execute(
        "DELETE FROM webauthn_credentials WHERE tenant_id = $1 AND user_id = $2",
        a,
    )
    .await?;
    let n = c
        .execute("DELETE FROM factors WHERE tenant_id = $1 AND user_id = $2", a)
        .await?;
    c.execute(
        "UPDATE challenges SET expires_at = $1 WHERE tenant_id = $2 AND user_id = $3 \
         AND completed_at IS NULL AND expires_at > $1",
        args![now, tenant.as_str(), user.as_str()],
    )
    .await?;
    end_all_but(c, user.as_str(), None, now).await?;
    Ok(n)
}

/// Users with an active factor (backup codes aside) but none of the `allowed` kinds.
pub(crate) async fn count_users_to_reenroll<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    allowed: &[FactorKind],
) -> Result<i64> {
    let allowed: Vec<&str> = allowed
        .iter()
        .filter(|k| **k != FactorKind::BackupCodes)
        .map(|k| k.as_str())
        .collect();
    let sql = format!(
        "SELECT COUNT(DISTINCT user_id) AS n FROM factors f WHERE tenant_id = $1 AND status = 'active' \
         AND kind <> $2 AND NOT EXISTS (SELECT 1 FROM factors g WHERE g.user_id = f.user_id \
         AND g.status = 'active' AND g.kind IN ({}))",
        if allowed.is_empty() {
            "NULL".to_owned()
        } else {
            placeholders(3, allowed.len())
        }
    );
    let mut values = vec![Arg::Text(tenant.as_str()), Arg::Text(backup_kind())];
    values.extend(allowed.into_iter().map(Arg::Text));
    count(c, &sql, &values).await
}
