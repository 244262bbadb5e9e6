//! Enrollment tickets: issuing one (with its email, when one is sent), finding a live one,
//! and spending one, each in one transaction.

use super::delivery::{bump_stat, count_send, insert_outbox};
use crate::backend::conn::{args, Conn};
use crate::backend::rows::{self, ENROLLMENT_TICKET_COLUMNS};
use crate::backend::Write;
use crate::model::{EnrollmentTicket, EnrollmentTicketIssue, IssueOutcome, TicketSpend};
use crate::Result;
use latchkey_core::clock::UnixMillis;
use latchkey_core::ids::TenantId;

/// Issues a ticket: with an email, the send limits and cooldown first (over one, nothing is
/// kept); then the user's earlier live tickets end (only the newest link works), the ticket,
/// its message and statistics, and its audit record.
pub(crate) async fn issue<C: Conn>(
    c: &mut C,
    issue: &EnrollmentTicketIssue,
    now: UnixMillis,
) -> Result<Write<IssueOutcome>> {
    let t = &issue.ticket;
    let tenant = t.tenant_id.as_str();
    if let Some(email) = &issue.email {
        if let Some(refused) = count_send(
            c,
            tenant,
            &email.cooldown_key,
            email.cooldown_secs,
            &email.limits,
            now,
        )
        .await?
        {
            return Ok(Write::Undo(refused));
        }
    }
    // Tickets that can no longer be spent are of no use to anyone.
    c.execute(
        "DELETE FROM enrollment_tickets WHERE tenant_id = $1 AND expires_at <= $2",
        args![tenant, now],
    )
    .await?;
    c.execute(
        "UPDATE enrollment_tickets SET consumed_at = $1 WHERE user_id = $2 AND consumed_at IS NULL",
        args![now, t.user_id.as_str()],
    )
    .await?;
    c.execute(
        &format!(
            "INSERT INTO enrollment_tickets ({ENROLLMENT_TICKET_COLUMNS}) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
        ),
        args![
            &t.id,
            &t.token_hash,
            tenant,
            t.user_id.as_str(),
            t.factor_kind.map(|k| k.as_str()),
            i64::from(t.allow_multiple),
            t.created_at,
            t.expires_at,
            t.consumed_at
        ],
    )
    .await?;
    if let Some(email) = &issue.email {
        insert_outbox(c, &email.message).await?;
        for (metric, label) in &email.stats {
            bump_stat(c, tenant, metric, label).await?;
        }
    }
    if let Some(event) = &issue.audit {
        super::audit::insert(c, event).await?;
    }
    Ok(Write::Keep(IssueOutcome::Issued))
}

/// The live (unspent, unexpired) ticket of the tenant whose token hashes to `token_hash`.
pub(crate) async fn find<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    token_hash: &str,
    now: UnixMillis,
) -> Result<Option<EnrollmentTicket>> {
    c.fetch_optional(
        &format!(
            "SELECT {ENROLLMENT_TICKET_COLUMNS} FROM enrollment_tickets \
             WHERE tenant_id = $1 AND token_hash = $2 AND consumed_at IS NULL AND expires_at > $3"
        ),
        args![tenant.as_str(), token_hash, now],
        rows::enrollment_ticket,
    )
    .await
}

/// Spends a ticket with one conditional write, and writes its audit record; `false` (and
/// nothing written) if it was not live or is not this user's. Of concurrent spends of one
/// ticket, one succeeds: PostgreSQL re-evaluates the condition once a concurrent writer
/// commits; SQLite's one writer runs them one after another.
pub(crate) async fn consume<C: Conn>(c: &mut C, spend: &TicketSpend, now: UnixMillis) -> Result<Write<bool>> {
    let spent = c
        .execute(
            "UPDATE enrollment_tickets SET consumed_at = $1 WHERE token_hash = $2 AND tenant_id = $3 \
             AND user_id = $4 AND consumed_at IS NULL AND expires_at > $1",
            args![
                now,
                &spend.token_hash,
                spend.tenant_id.as_str(),
                spend.user_id.as_str()
            ],
        )
        .await?;
    if spent != 1 {
        return Ok(Write::Undo(false));
    }
    if let Some(event) = &spend.audit {
        super::audit::insert(c, event).await?;
    }
    Ok(Write::Keep(true))
}
