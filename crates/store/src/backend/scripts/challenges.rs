//! Challenges: opening one, choosing its factor, and completing it by consuming a proof,
//! with the attempt throttle around it on the verify path.

use super::factors::{activate_on, consume_code};
use super::{audit, json, sessions, throttle};
use crate::backend::conn::{args, Conn, Dialect};
use crate::backend::rows::{self, CHALLENGE_COLUMNS};
use crate::backend::Write;
use crate::model::{
    ActivateOutcome, AttemptOutcome, Challenge, CompleteOutcome, Proof, SignInAttempt, SignInWrites,
};
use crate::Result;
use latchkey_core::clock::UnixMillis;
use latchkey_core::ids::{ChallengeId, FactorId, TenantId};

pub(crate) async fn insert<C: Conn>(c: &mut C, ch: &Challenge) -> Result<()> {
    let amr = json(&ch.amr)?;
    c.execute(
        &format!(
            "INSERT INTO challenges ({CHALLENGE_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ),
        args![
            ch.id.as_str(),
            ch.tenant_id.as_str(),
            ch.user_id.as_str(),
            ch.purpose.as_str(),
            &amr,
            ch.factor_id.as_ref().map(|f| f.as_str()),
            ch.created_at,
            ch.expires_at,
            ch.completed_at,
            &ch.state_sealed
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn get<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &ChallengeId,
) -> Result<Option<Challenge>> {
    c.fetch_optional(
        &format!("SELECT {CHALLENGE_COLUMNS} FROM challenges WHERE tenant_id = $1 AND id = $2"),
        args![tenant.as_str(), id.as_str()],
        rows::challenge,
    )
    .await
}

pub(crate) async fn choose_factor<C: Conn>(
    c: &mut C,
    id: &ChallengeId,
    factor: &FactorId,
    now: UnixMillis,
) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE challenges SET factor_id = $1 WHERE id = $2 AND completed_at IS NULL AND expires_at > $3",
            args![factor.as_str(), id.as_str(), now],
        )
        .await?;
    Ok(n == 1)
}

/// Consumes `proof`, once: each kind's single-use rule is one conditional write.
/// `Some(backup_installed)` on success, `None` for a refused proof (nothing written, but
/// for an enrollment's consumed code), `Err(Stale)` for an enrollment whose rules lapsed.
async fn consume_proof<C: Conn>(
    c: &mut C,
    challenge: &ChallengeId,
    proof: &Proof,
    now: UnixMillis,
) -> Result<std::result::Result<Option<bool>, CompleteOutcome>> {
    Ok(Ok(match proof {
        Proof::TotpStep { factor_id, step } => {
            // The step only moves forward: a code is accepted once, across challenges.
            let moved = c
                .execute(
                    "UPDATE factors SET last_step = $1, last_used_at = $2 WHERE id = $3 AND status = 'active' \
                     AND (last_step IS NULL OR last_step < $1)",
                    args![step, now, factor_id.as_str()],
                )
                .await?;
            (moved == 1).then_some(false)
        }
        Proof::BackupCode { factor_id, code_hash } => {
            let used = c
                .execute(
                    "UPDATE backup_codes SET used_at = $1 WHERE factor_id = $2 AND code_hash = $3 AND used_at IS NULL",
                    args![now, factor_id.as_str(), code_hash],
                )
                .await?;
            if used == 1 {
                c.execute(
                    "UPDATE factors SET last_used_at = $1 WHERE id = $2",
                    args![now, factor_id.as_str()],
                )
                .await?;
                // A backup code is a recovery: the devices remembered before it are forgotten.
                c.execute(
                    "UPDATE remembered_devices SET revoked_at = $1 WHERE revoked_at IS NULL \
                     AND user_id = (SELECT user_id FROM factors WHERE id = $2)",
                    args![now, factor_id.as_str()],
                )
                .await?;
            }
            (used == 1).then_some(false)
        }
        Proof::SentCode { factor_id, code_hash } => {
            if consume_code(c, factor_id, challenge.as_str(), code_hash, now).await? {
                c.execute(
                    "UPDATE factors SET last_used_at = $1 WHERE id = $2 AND status = 'active'",
                    args![now, factor_id.as_str()],
                )
                .await?;
                Some(false)
            } else {
                None
            }
        }
        Proof::WebauthnAssertion {
            factor_id,
            sign_count,
            backup_state,
        } => super::webauthn::advance_counter(c, factor_id, *sign_count, *backup_state, now)
            .await?
            .then_some(false),
        Proof::Enrollment {
            factor_id,
            check,
            backup,
            rules,
        } => match activate_on(c, factor_id, check, backup, rules, now).await? {
            ActivateOutcome::Activated { backup_installed } => Some(backup_installed),
            ActivateOutcome::Stale => return Ok(Err(CompleteOutcome::Stale)),
            ActivateOutcome::Rejected | ActivateOutcome::NotPending | ActivateOutcome::CredentialTaken => {
                None
            }
        },
    }))
}

/// Completes the challenge, consumes the proof and performs `writes`. On any outcome but
/// `Completed` the caller must undo what this wrote.
pub(crate) async fn complete_on<C: Dialect>(
    c: &mut C,
    id: &ChallengeId,
    proof: &Proof,
    writes: &SignInWrites,
    now: UnixMillis,
) -> Result<CompleteOutcome> {
    let completed = c
        .execute(
            "UPDATE challenges SET completed_at = $1 WHERE id = $2 AND completed_at IS NULL AND expires_at > $1",
            args![now, id.as_str()],
        )
        .await?
        == 1;
    if !completed {
        return Ok(CompleteOutcome::ChallengeGone);
    }
    let backup_installed = match consume_proof(c, id, proof, now).await? {
        Ok(Some(installed)) => installed,
        Ok(None) => return Ok(CompleteOutcome::ProofRejected),
        Err(failed) => return Ok(failed),
    };
    if let Some(key) = &writes.clear_throttle {
        throttle::clear(c, key).await?;
    }
    if let Some((device, event)) = &writes.device {
        super::devices::insert(c, device).await?;
        audit::insert(c, event).await?;
    }
    match (&writes.audit, &writes.session) {
        (Some(event), Some((session, refresh_hash))) => {
            c.insert_audit_and_session(event, session, &json(&session.amr)?, refresh_hash)
                .await?;
        }
        (event, session) => {
            if let Some(event) = event {
                audit::insert(c, event).await?;
            }
            if let Some((session, refresh_hash)) = session {
                sessions::insert(c, session, refresh_hash).await?;
            }
        }
    }
    Ok(CompleteOutcome::Completed { backup_installed })
}

/// [`complete_on`] as a whole call: nothing is kept unless the challenge completes.
pub(crate) async fn complete<C: Dialect>(
    c: &mut C,
    id: &ChallengeId,
    proof: &Proof,
    writes: &SignInWrites,
    now: UnixMillis,
) -> Result<Write<CompleteOutcome>> {
    Ok(match complete_on(c, id, proof, writes, now).await? {
        done @ CompleteOutcome::Completed { .. } => Write::Keep(done),
        other => Write::Undo(other),
    })
}

/// A throttled verification (the hot path of `POST /v1/mfa/verify`), kept whatever the
/// outcome: a failure is counted, a lock audited, a success clears the count.
pub(crate) async fn attempt<C: Dialect>(
    c: &mut C,
    a: &SignInAttempt,
    now: UnixMillis,
) -> Result<AttemptOutcome> {
    let key = &a.throttle;
    // Concurrent attempts against one authenticator are decided one after another, each
    // on the count the previous one left (see each dialect's `throttle_state`).
    let (failures, locked_until) = c.throttle_state(key, now).await?;
    if locked_until > now {
        if let Some(event) = &a.on_locked {
            audit::insert(c, event).await?;
        }
        return Ok(AttemptOutcome::Locked {
            retry_after_secs: super::secs_until(locked_until, now),
        });
    }
    let outcome = match &a.proof {
        // An enrollment's proof writes several rows before it can fail: a savepoint.
        Some(proof @ Proof::Enrollment { .. }) => {
            c.execute("SAVEPOINT proof", args![]).await?;
            let outcome = complete_on(c, &a.challenge_id, proof, &a.writes, now).await?;
            // Rolled back to, the savepoint stays open until the transaction ends (as sqlx
            // leaves it): one statement fewer.
            let end = match outcome {
                CompleteOutcome::Completed { .. } => "RELEASE SAVEPOINT proof",
                _ => "ROLLBACK TO SAVEPOINT proof",
            };
            c.execute(end, args![]).await?;
            outcome
        }
        // Any other proof is one conditional write: if it fails, only the challenge's
        // completion (a row this transaction holds) is to be undone. Two statements
        // (PostgreSQL: round trips) fewer than a savepoint on the hot path.
        Some(proof) => {
            let outcome = complete_on(c, &a.challenge_id, proof, &a.writes, now).await?;
            if matches!(outcome, CompleteOutcome::ProofRejected | CompleteOutcome::Stale) {
                c.execute(
                    "UPDATE challenges SET completed_at = NULL WHERE id = $1",
                    args![a.challenge_id.as_str()],
                )
                .await?;
            }
            outcome
        }
        None => CompleteOutcome::ProofRejected,
    };
    Ok(match outcome {
        CompleteOutcome::Completed { backup_installed } => {
            if failures != 0 || locked_until != 0 {
                throttle::clear(c, key).await?;
            }
            AttemptOutcome::Completed { backup_installed }
        }
        CompleteOutcome::Stale => {
            // Not a guess: nothing is counted, and the challenge is closed for good.
            c.execute(
                "UPDATE challenges SET expires_at = $1 WHERE id = $2 AND completed_at IS NULL",
                args![now, a.challenge_id.as_str()],
            )
            .await?;
            AttemptOutcome::Stale
        }
        CompleteOutcome::ChallengeGone => {
            throttle::attempt(c, key, &a.policy, now).await?;
            AttemptOutcome::ChallengeGone
        }
        CompleteOutcome::ProofRejected => {
            throttle::attempt(c, key, &a.policy, now).await?;
            if let Some(event) = &a.on_failure {
                audit::insert(c, event).await?;
            }
            AttemptOutcome::Rejected
        }
    })
}
