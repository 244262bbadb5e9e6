//! Sent codes and their delivery: issuing a code (limits, cooldown, code, outbox message,
//! statistics), the outbox, statistics and per-tenant providers.

use super::factors::{drop_pending, insert_row};
use crate::backend::conn::{args, fetch_one, Conn};
use crate::backend::rows::{self, OUTBOX_COLUMNS};
use crate::backend::Write;
use crate::model::{CodeIssue, DeliveryUpdate, IssueOutcome, OutboxMessage, SendLimit};
use crate::Result;
use latchkey_core::clock::UnixMillis;
use latchkey_core::ids::{FactorId, TenantId};

/// Issues a code in one transaction; over a limit or in a cooldown, nothing is kept.
pub(crate) async fn issue_code<C: Conn>(
    c: &mut C,
    issue: &CodeIssue,
    now: UnixMillis,
) -> Result<Write<IssueOutcome>> {
    let tenant = issue.tenant_id.as_str();
    if let Some(refused) = count_send(
        c,
        tenant,
        &issue.cooldown_key,
        issue.cooldown_secs,
        &issue.limits,
        now,
    )
    .await?
    {
        return Ok(Write::Undo(refused));
    }
    if let Some(factor) = &issue.new_factor {
        drop_pending(c, &factor.user_id, factor.kind, true).await?;
        insert_row(c, factor).await?;
    }
    let code = &issue.code;
    let challenge = code.challenge_id.as_ref().map(|id| id.as_str()).unwrap_or("");
    // A resend invalidates the previous code: at most one live code per factor and challenge.
    c.execute(
        "UPDATE otp_codes SET used_at = $1 WHERE factor_id = $2 AND challenge_id = $3 AND used_at IS NULL",
        args![now, code.factor_id.as_str(), challenge],
    )
    .await?;
    c.execute(
        "INSERT INTO otp_codes (id, factor_id, challenge_id, code_hash, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
        args![
            &code.id,
            code.factor_id.as_str(),
            challenge,
            &code.code_hash,
            code.created_at,
            code.expires_at
        ],
    )
    .await?;
    if let Some(id) = &code.challenge_id {
        // A code lives as long as its message says: the challenge it answers does too.
        c.execute(
            "UPDATE challenges SET expires_at = $1 WHERE id = $2 AND completed_at IS NULL AND expires_at < $1",
            args![code.expires_at, id.as_str()],
        )
        .await?;
    }
    insert_outbox(c, &issue.message).await?;
    for (metric, label) in &issue.stats {
        bump_stat(c, tenant, metric, label).await?;
    }
    Ok(Write::Keep(IssueOutcome::Issued))
}

/// Sets the cooldown `cooldown_key` and counts one send against every limit, unless the
/// cooldown still runs or a limit is reached: then the refusal (and the caller undoes the
/// transaction, counters included).
pub(crate) async fn count_send<C: Conn>(
    c: &mut C,
    tenant: &str,
    cooldown_key: &str,
    cooldown_secs: i64,
    limits: &[SendLimit],
    now: UnixMillis,
) -> Result<Option<IssueOutcome>> {
    // The cooldown: set only if the previous one has run out, atomically.
    let set = c
        .fetch_optional(
            "INSERT INTO cooldowns (tenant_id, subject, until_at) VALUES ($1, $2, $3) \
             ON CONFLICT (tenant_id, subject) DO UPDATE SET until_at = $3 WHERE cooldowns.until_at <= $4 \
             RETURNING until_at",
            args![tenant, cooldown_key, now + cooldown_secs * 1000, now],
            |r| r.int("until_at"),
        )
        .await?;
    if set.is_none() {
        let until = fetch_one(
            c,
            "SELECT until_at FROM cooldowns WHERE tenant_id = $1 AND subject = $2",
            args![tenant, cooldown_key],
            |r| r.int("until_at"),
        )
        .await?;
        return Ok(Some(IssueOutcome::Cooldown {
            retry_after_secs: super::secs_until(until, now),
        }));
    }
    // Every limit, counted in fixed windows; the first one reached refuses the send.
    for limit in limits {
        let window_ms = limit.window_secs * 1000;
        let window_start = now - now.rem_euclid(window_ms);
        let counted = c
            .fetch_optional(
                "INSERT INTO send_counters (tenant_id, scope, subject, window_start, count) VALUES ($1, $2, $3, $4, 1) \
                 ON CONFLICT (tenant_id, scope, subject, window_start) DO UPDATE \
                 SET count = send_counters.count + 1 WHERE send_counters.count < $5 RETURNING count",
                args![
                    tenant,
                    limit.scope,
                    &limit.subject,
                    window_start,
                    i64::from(limit.limit)
                ],
                |r| r.int("count"),
            )
            .await?;
        if counted.is_none() || limit.limit == 0 {
            return Ok(Some(IssueOutcome::Limited {
                scope: limit.scope,
                retry_after_secs: super::secs_until(window_start + window_ms, now),
            }));
        }
    }
    Ok(None)
}

/// Queues a message that is not a code (a security notice), unless `cooldown` (a key and
/// seconds) still runs: then nothing is written and the answer is `false`.
pub(crate) async fn queue_notice<C: Conn>(
    c: &mut C,
    m: &OutboxMessage,
    cooldown: Option<(&str, i64)>,
    now: UnixMillis,
) -> Result<Write<bool>> {
    if let Some((key, secs)) = cooldown {
        if count_send(c, m.tenant_id.as_str(), key, secs, &[], now)
            .await?
            .is_some()
        {
            return Ok(Write::Undo(false));
        }
    }
    insert_outbox(c, m).await?;
    bump_stat(c, m.tenant_id.as_str(), "notices_queued", m.channel.as_str()).await?;
    Ok(Write::Keep(true))
}

/// Queues a message in the outbox.
pub(crate) async fn insert_outbox<C: Conn>(c: &mut C, m: &OutboxMessage) -> Result<()> {
    c.execute(
        &format!(
            "INSERT INTO outbox ({OUTBOX_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, \
             $15, $16, $17)"
        ),
        args![
            &m.id,
            m.tenant_id.as_str(),
            m.user_id.as_str(),
            m.factor_id.as_ref().map(|f| f.as_str()),
            m.channel.as_str(),
            &m.destination_sealed,
            &m.payload_sealed,
            m.status.as_str(),
            m.attempts,
            m.next_attempt_at,
            m.locked_until,
            m.expires_at,
            &m.last_error,
            &m.provider,
            &m.provider_message_id,
            m.created_at,
            m.updated_at
        ],
    )
    .await?;
    Ok(())
}

/// Leases up to `limit` due messages. The outer conditions repeat the inner ones:
/// PostgreSQL re-checks them on the row version it locks, so a message another replica
/// just claimed is skipped (on SQLite, with one writer, they are merely true).
pub(crate) async fn claim_outbox<C: Conn>(
    c: &mut C,
    now: UnixMillis,
    lease_ms: i64,
    limit: u32,
) -> Result<Vec<OutboxMessage>> {
    c.fetch_all(
        &format!(
            "UPDATE outbox SET status = 'sending', locked_until = $1, attempts = attempts + 1, updated_at = $2 \
             WHERE id IN (SELECT id FROM outbox WHERE status IN ('queued', 'sending') AND next_attempt_at <= $2 \
               AND (locked_until IS NULL OR locked_until <= $2) ORDER BY next_attempt_at LIMIT $3) \
             AND status IN ('queued', 'sending') AND (locked_until IS NULL OR locked_until <= $2) \
             RETURNING {OUTBOX_COLUMNS}"
        ),
        args![now + lease_ms, now, i64::from(limit)],
        rows::outbox,
    )
    .await
}

pub(crate) async fn finish_outbox<C: Conn>(
    c: &mut C,
    id: &str,
    u: &DeliveryUpdate,
    now: UnixMillis,
) -> Result<()> {
    c.execute(
        "UPDATE outbox SET status = $1, next_attempt_at = $2, last_error = $3, provider = COALESCE($4, provider), \
         provider_message_id = COALESCE($5, provider_message_id), locked_until = NULL, updated_at = $6 WHERE id = $7",
        args![
            u.status.as_str(),
            u.next_attempt_at,
            &u.last_error,
            &u.provider,
            &u.provider_message_id,
            now,
            id
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn last_delivery<C: Conn>(c: &mut C, factor: &FactorId) -> Result<Option<OutboxMessage>> {
    c.fetch_optional(
        &format!("SELECT {OUTBOX_COLUMNS} FROM outbox WHERE factor_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1"),
        args![factor.as_str()],
        rows::outbox,
    )
    .await
}

/// How many messages are not delivered yet (queued, or being sent), and when the oldest of
/// them was queued: the outbox's backlog, for the operator's metrics.
pub(crate) async fn outbox_backlog<C: Conn>(c: &mut C) -> Result<(i64, Option<UnixMillis>)> {
    fetch_one(
        c,
        "SELECT COUNT(*) AS n, MIN(created_at) AS oldest FROM outbox WHERE status IN ('queued', 'sending')",
        args![],
        |r| Ok((r.int("n")?, r.opt_int("oldest")?)),
    )
    .await
}

pub(crate) async fn bump_stat<C: Conn>(c: &mut C, tenant: &str, metric: &str, label: &str) -> Result<()> {
    c.execute(
        "INSERT INTO delivery_stats (tenant_id, metric, label, count) VALUES ($1, $2, $3, 1) \
         ON CONFLICT (tenant_id, metric, label) DO UPDATE SET count = delivery_stats.count + 1",
        args![tenant, metric, label],
    )
    .await?;
    Ok(())
}

pub(crate) async fn stats<C: Conn>(c: &mut C, tenant: &TenantId) -> Result<Vec<(String, String, i64)>> {
    c.fetch_all(
        "SELECT metric, label, count FROM delivery_stats WHERE tenant_id = $1 ORDER BY metric, label",
        args![tenant.as_str()],
        |r| Ok((r.text("metric")?, r.text("label")?, r.int("count")?)),
    )
    .await
}

pub(crate) async fn get_provider<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    channel: &str,
) -> Result<Option<String>> {
    c.fetch_optional(
        "SELECT config_sealed FROM tenant_providers WHERE id = $1",
        args![&crate::provider_row_id(tenant, channel)],
        |r| r.text("config_sealed"),
    )
    .await
}

pub(crate) async fn put_provider<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    channel: &str,
    sealed: &str,
    now: UnixMillis,
) -> Result<()> {
    c.execute(
        "INSERT INTO tenant_providers (id, tenant_id, channel, config_sealed, updated_at) VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (id) DO UPDATE SET config_sealed = $4, updated_at = $5",
        args![
            &crate::provider_row_id(tenant, channel),
            tenant.as_str(),
            channel,
            sealed,
            now
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn delete_provider<C: Conn>(c: &mut C, tenant: &TenantId, channel: &str) -> Result<bool> {
    let n = c
        .execute(
            "DELETE FROM tenant_providers WHERE id = $1",
            args![&crate::provider_row_id(tenant, channel)],
        )
        .await?;
    Ok(n == 1)
}
