//! The audit log.

use crate::backend::conn::{args, Arg, Conn};
use crate::backend::rows::{self, AUDIT_COLUMNS};
use crate::model::AuditEvent;
use crate::Result;
use latchkey_core::ids::{TenantId, UserId};

/// The values of an audit row, in `AUDIT_COLUMNS` order.
pub(crate) fn row(e: &AuditEvent) -> [Arg<'_>; 10] {
    [
        Arg::Text(&e.id),
        Arg::Text(e.tenant_id.as_str()),
        Arg::OptText(e.user_id.as_ref().map(|u| u.as_str())),
        Arg::Text(&e.actor),
        Arg::Text(&e.action),
        Arg::OptText(e.factor_id.as_ref().map(|f| f.as_str())),
        Arg::Text(&e.outcome),
        Arg::from(&e.ip),
        Arg::from(&e.detail),
        Arg::Int(e.created_at),
    ]
}

/// Writes an audit record and queues it for every webhook endpoint that wants it: the two
/// statements run in the caller's transaction, so an event and its deliveries are kept or
/// lost together (docs/events.md).
pub(crate) async fn insert<C: Conn>(c: &mut C, e: &AuditEvent) -> Result<()> {
    c.execute(
        &format!(
            "INSERT INTO audit_events ({AUDIT_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ),
        &row(e),
    )
    .await?;
    if e.fan_out {
        super::webhooks::fan_out(c, e).await?;
    }
    Ok(())
}

/// Newest first, before `before` (an event id), at most `limit`.
pub(crate) async fn list<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    user: Option<&UserId>,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<AuditEvent>> {
    c.fetch_all(
        &format!(
            "SELECT {AUDIT_COLUMNS} FROM audit_events WHERE tenant_id = $1 \
             AND ($2 = '' OR user_id = $2) AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
        ),
        args![
            tenant.as_str(),
            user.map(|u| u.as_str()).unwrap_or(""),
            before.unwrap_or(""),
            i64::from(limit)
        ],
        rows::audit,
    )
    .await
}
