//! Each user's recent sign-in attempts for adaptive MFA (`signin_history`): recorded with
//! the risk assessed, pruned per user as they are recorded, read back for the next
//! assessment.

use crate::backend::conn::{args, Conn};
use crate::backend::rows::Columns;
use crate::model::{HistoryBounds, SignInRecord};
use crate::Result;
use latchkey_core::ids::{ChallengeId, TenantId, UserId};

const COLUMNS: &str = "id, tenant_id, user_id, at, network, country, lat_tenths, lon_tenths, \
                       accuracy_km, outcome, score, reasons, challenge_id";

fn record(r: &dyn Columns) -> Result<SignInRecord> {
    Ok(SignInRecord {
        id: r.text("id")?,
        tenant_id: TenantId::from_trusted(r.text("tenant_id")?),
        user_id: UserId::from_trusted(r.text("user_id")?),
        at: r.int("at")?,
        network: r.opt_text("network")?,
        country: r.opt_text("country")?,
        lat_tenths: r.opt_int("lat_tenths")?,
        lon_tenths: r.opt_int("lon_tenths")?,
        accuracy_km: r.opt_int("accuracy_km")?,
        outcome: r.text("outcome")?,
        score: r.int("score")?,
        reasons: r.text("reasons")?,
        challenge_id: r.opt_text("challenge_id")?.map(ChallengeId::from_trusted),
    })
}

/// Records one attempt, then prunes the user's history to `keep`: successes older than
/// its window or beyond its count, other attempts likewise. The pruning is per user and on
/// every insert, so no user's history grows without bound and no sweep is needed.
pub(crate) async fn record_signin<C: Conn>(c: &mut C, s: &SignInRecord, keep: &HistoryBounds) -> Result<()> {
    c.execute(
        &format!(
            "INSERT INTO signin_history ({COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
        ),
        args![
            &s.id,
            s.tenant_id.as_str(),
            s.user_id.as_str(),
            s.at,
            s.network.as_deref(),
            s.country.as_deref(),
            s.lat_tenths,
            s.lon_tenths,
            s.accuracy_km,
            &s.outcome,
            s.score,
            &s.reasons,
            s.challenge_id.as_ref().map(|c| c.as_str())
        ],
    )
    .await?;
    c.execute(
        "DELETE FROM signin_history WHERE tenant_id = $1 AND user_id = $2 AND ( \
           (outcome = 'success' AND (at < $3 OR id NOT IN ( \
              SELECT id FROM signin_history WHERE tenant_id = $1 AND user_id = $2 AND outcome = 'success' \
              ORDER BY at DESC, id DESC LIMIT $4))) \
           OR (outcome <> 'success' AND (at < $5 OR id NOT IN ( \
              SELECT id FROM signin_history WHERE tenant_id = $1 AND user_id = $2 AND outcome <> 'success' \
              ORDER BY at DESC, id DESC LIMIT $6))))",
        args![
            s.tenant_id.as_str(),
            s.user_id.as_str(),
            keep.successes_since,
            i64::from(keep.successes),
            keep.others_since,
            i64::from(keep.others)
        ],
    )
    .await?;
    Ok(())
}

/// The user's history within `bounds`, newest first: the successes, then the others.
/// Read as two lists so that a flood of failures cannot push the successes (the baseline a
/// sign-in is compared with) out of the page.
pub(crate) async fn recent_signins<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    user: &UserId,
    bounds: &HistoryBounds,
) -> Result<Vec<SignInRecord>> {
    let mut out = c
        .fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM signin_history \
                 WHERE tenant_id = $1 AND user_id = $2 AND outcome = 'success' AND at >= $3 \
                 ORDER BY at DESC, id DESC LIMIT $4"
            ),
            args![
                tenant.as_str(),
                user.as_str(),
                bounds.successes_since,
                i64::from(bounds.successes)
            ],
            record,
        )
        .await?;
    out.extend(
        c.fetch_all(
            &format!(
                "SELECT {COLUMNS} FROM signin_history \
                 WHERE tenant_id = $1 AND user_id = $2 AND outcome <> 'success' AND at >= $3 \
                 ORDER BY at DESC, id DESC LIMIT $4"
            ),
            args![
                tenant.as_str(),
                user.as_str(),
                bounds.others_since,
                i64::from(bounds.others)
            ],
            record,
        )
        .await?,
    );
    Ok(out)
}

/// A challenged sign-in whose second factor was proven becomes a success; `false` if there
/// was none waiting on that challenge.
pub(crate) async fn confirm_signin<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    challenge: &ChallengeId,
) -> Result<bool> {
    let n = c
        .execute(
            "UPDATE signin_history SET outcome = 'success' \
             WHERE tenant_id = $1 AND challenge_id = $2 AND outcome = 'challenged'",
            args![tenant.as_str(), challenge.as_str()],
        )
        .await?;
    Ok(n > 0)
}
