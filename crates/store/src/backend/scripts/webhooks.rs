//! Webhook endpoints and their deliveries. An event fans out to the deliveries of every
//! enabled endpoint that subscribes to its type in the statement after its audit row, in the
//! same transaction ([`fan_out_sql`]); workers claim due deliveries with a lease (as the
//! outbox does) and record each attempt only while they still hold it.

use crate::backend::conn::{args, conflict_or, Arg, Conn};
use crate::backend::rows::{self, AUDIT_COLUMNS, WEBHOOK_COLUMNS, WEBHOOK_DELIVERY_COLUMNS};
use crate::model::{
    AuditEvent, ClaimedDelivery, Redelivery, Webhook, WebhookAttempt, WebhookDelivery, WebhookPatch,
};
use crate::Result;
use latchkey_core::clock::UnixMillis;
use latchkey_core::ids::{TenantId, WebhookId};
use std::collections::BTreeMap;

/// The statement that queues an event for every endpoint that wants it, with the event's
/// id, type, tenant and time as the parameters numbered `id`, `action`, `tenant` and `at`
/// (so PostgreSQL can run it as one part of a larger statement). The delivery id is derived
/// from the event's and the endpoint's, so it is the same wherever it is computed.
pub(crate) fn fan_out_sql(id: u8, action: u8, tenant: u8, at: u8) -> String {
    format!(
        "INSERT INTO webhook_deliveries (id, tenant_id, webhook_id, event_id, event_type, status, attempts, \
         next_attempt_at, created_at, updated_at) \
         SELECT 'msg_' || substr(${id}, 5) || substr(w.id, 5), w.tenant_id, w.id, ${id}, ${action}, 'pending', 0, \
         ${at}, ${at}, ${at} FROM webhooks w WHERE w.tenant_id = ${tenant} AND w.enabled = 1 \
         AND (w.all_events = 1 OR EXISTS (SELECT 1 FROM webhook_events e WHERE e.webhook_id = w.id AND e.event = ${action}))"
    )
}

/// Queues `event` for the endpoints that want it (see [`fan_out_sql`]).
pub(crate) async fn fan_out<C: Conn>(c: &mut C, e: &AuditEvent) -> Result<u64> {
    c.execute(
        &fan_out_sql(1, 2, 3, 4),
        args![&e.id, &e.action, e.tenant_id.as_str(), e.created_at],
    )
    .await
}

fn bool_int(b: bool) -> i64 {
    i64::from(b)
}

async fn insert_events<C: Conn>(c: &mut C, hook: &Webhook) -> Result<()> {
    for event in hook.events.iter().flatten() {
        c.execute(
            "INSERT INTO webhook_events (webhook_id, event) VALUES ($1, $2)",
            args![hook.id.as_str(), event],
        )
        .await?;
    }
    Ok(())
}

/// Fills in each endpoint's event list, read in one statement.
async fn with_events<C: Conn>(c: &mut C, tenant: &TenantId, mut hooks: Vec<Webhook>) -> Result<Vec<Webhook>> {
    if hooks.iter().all(|h| h.events.is_none()) {
        return Ok(hooks);
    }
    let rows = c
        .fetch_all(
            "SELECT e.webhook_id, e.event FROM webhook_events e JOIN webhooks w ON w.id = e.webhook_id \
             WHERE w.tenant_id = $1 ORDER BY e.webhook_id, e.event",
            args![tenant.as_str()],
            |r| Ok((r.text("webhook_id")?, r.text("event")?)),
        )
        .await?;
    let mut by_hook: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (hook, event) in rows {
        by_hook.entry(hook).or_default().push(event);
    }
    for hook in &mut hooks {
        if let Some(events) = &mut hook.events {
            *events = by_hook.remove(hook.id.as_str()).unwrap_or_default();
        }
    }
    Ok(hooks)
}

pub(crate) async fn insert<C: Conn>(c: &mut C, hook: &Webhook) -> Result<()> {
    c.execute(
        &format!("INSERT INTO webhooks ({WEBHOOK_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"),
        args![
            hook.id.as_str(),
            hook.tenant_id.as_str(),
            &hook.url,
            &hook.description,
            bool_int(hook.events.is_none()),
            bool_int(hook.enabled),
            &hook.secret_sealed,
            hook.created_at,
            hook.updated_at
        ],
    )
    .await
    .map_err(conflict_or)?;
    insert_events(c, hook).await
}

pub(crate) async fn get<C: Conn>(c: &mut C, tenant: &TenantId, id: &WebhookId) -> Result<Option<Webhook>> {
    let found = c
        .fetch_optional(
            &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = $1 AND id = $2"),
            args![tenant.as_str(), id.as_str()],
            rows::webhook,
        )
        .await?;
    match found {
        Some(hook) => Ok(with_events(c, tenant, vec![hook]).await?.pop()),
        None => Ok(None),
    }
}

pub(crate) async fn list<C: Conn>(c: &mut C, tenant: &TenantId) -> Result<Vec<Webhook>> {
    let hooks = c
        .fetch_all(
            &format!("SELECT {WEBHOOK_COLUMNS} FROM webhooks WHERE tenant_id = $1 ORDER BY id"),
            args![tenant.as_str()],
            rows::webhook,
        )
        .await?;
    with_events(c, tenant, hooks).await
}

/// Applies `patch` to an endpoint and answers it as it now is; `None` if it does not exist.
/// The `UPDATE` comes first and takes the row's lock (PostgreSQL; SQLite has one writer),
/// so concurrent changes apply one after another, each to what the previous one left, and
/// the event list is rewritten by one change at a time.
pub(crate) async fn update<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &WebhookId,
    patch: &WebhookPatch,
) -> Result<Option<Webhook>> {
    let flag = |given: bool| i64::from(given);
    let (set_all, all) = match &patch.events {
        Some(events) => (1, bool_int(events.is_none())),
        None => (0, 0),
    };
    let changed = c
        .execute(
            "UPDATE webhooks SET url = CASE WHEN $1 = 1 THEN $2 ELSE url END, \
             description = CASE WHEN $3 = 1 THEN $4 ELSE description END, \
             all_events = CASE WHEN $5 = 1 THEN $6 ELSE all_events END, \
             enabled = CASE WHEN $7 = 1 THEN $8 ELSE enabled END, \
             secret_sealed = CASE WHEN $9 = 1 THEN $10 ELSE secret_sealed END, \
             updated_at = $11 WHERE tenant_id = $12 AND id = $13",
            args![
                flag(patch.url.is_some()),
                patch.url.as_deref().unwrap_or(""),
                flag(patch.description.is_some()),
                patch.description.clone().flatten().as_deref(),
                set_all,
                all,
                flag(patch.enabled.is_some()),
                bool_int(patch.enabled.unwrap_or(false)),
                flag(patch.secret_sealed.is_some()),
                patch.secret_sealed.as_deref().unwrap_or(""),
                patch.updated_at,
                tenant.as_str(),
                id.as_str()
            ],
        )
        .await?;
    if changed == 0 {
        return Ok(None);
    }
    if let Some(events) = &patch.events {
        c.execute(
            "DELETE FROM webhook_events WHERE webhook_id = $1",
            args![id.as_str()],
        )
        .await?;
        for event in events.iter().flatten() {
            c.execute(
                "INSERT INTO webhook_events (webhook_id, event) VALUES ($1, $2)",
                args![id.as_str(), event],
            )
            .await?;
        }
    }
    get(c, tenant, id).await
}

/// Removes an endpoint, its subscriptions (by cascade) and its deliveries.
pub(crate) async fn delete<C: Conn>(c: &mut C, tenant: &TenantId, id: &WebhookId) -> Result<bool> {
    let removed = c
        .execute(
            "DELETE FROM webhooks WHERE tenant_id = $1 AND id = $2",
            args![tenant.as_str(), id.as_str()],
        )
        .await?;
    if removed > 0 {
        c.execute(
            "DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2",
            args![tenant.as_str(), id.as_str()],
        )
        .await?;
    }
    Ok(removed > 0)
}

/// An endpoint's deliveries, newest event first, before `before` (a delivery id).
pub(crate) async fn list_deliveries<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    hook: &WebhookId,
    before: Option<&str>,
    limit: u32,
) -> Result<Vec<WebhookDelivery>> {
    c.fetch_all(
        &format!(
            "SELECT {WEBHOOK_DELIVERY_COLUMNS} FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 \
             AND ($3 = '' OR id < $3) ORDER BY id DESC LIMIT $4"
        ),
        args![
            tenant.as_str(),
            hook.as_str(),
            before.unwrap_or(""),
            i64::from(limit)
        ],
        rows::webhook_delivery,
    )
    .await
}

/// Queues a delivery again, now, unless a worker holds it at this moment.
pub(crate) async fn redeliver<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    hook: &WebhookId,
    id: &str,
    now: UnixMillis,
) -> Result<Redelivery> {
    let queued = c
        .fetch_optional(
            &format!(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $1, locked_until = NULL, \
                 updated_at = $1 WHERE tenant_id = $2 AND webhook_id = $3 AND id = $4 \
                 AND NOT (status = 'sending' AND locked_until > $1) RETURNING {WEBHOOK_DELIVERY_COLUMNS}"
            ),
            args![now, tenant.as_str(), hook.as_str(), id],
            rows::webhook_delivery,
        )
        .await?;
    if let Some(d) = queued {
        return Ok(Redelivery::Queued(Box::new(d)));
    }
    let exists = c
        .fetch_optional(
            "SELECT id FROM webhook_deliveries WHERE tenant_id = $1 AND webhook_id = $2 AND id = $3",
            args![tenant.as_str(), hook.as_str(), id],
            |r| r.text("id"),
        )
        .await?;
    Ok(if exists.is_some() {
        Redelivery::InProgress
    } else {
        Redelivery::NotFound
    })
}

/// Leases up to `limit` due deliveries of enabled endpoints, each attempt counted as it is
/// claimed. As with the outbox, the outer conditions repeat the inner ones so that
/// PostgreSQL, re-checking them on the row version it locks, skips what another worker just
/// took.
pub(crate) async fn claim<C: Conn>(
    c: &mut C,
    now: UnixMillis,
    lease_ms: i64,
    limit: u32,
) -> Result<Vec<ClaimedDelivery>> {
    let claimed = c
        .fetch_all(
            &format!(
                "UPDATE webhook_deliveries SET status = 'sending', locked_until = $1, attempts = attempts + 1, \
                 updated_at = $2 WHERE id IN (SELECT d.id FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id \
                 WHERE d.status IN ('pending', 'sending') AND (d.locked_until IS NULL OR d.locked_until <= $2) \
                 AND d.next_attempt_at <= $2 AND w.enabled = 1 ORDER BY d.next_attempt_at LIMIT $3) \
                 AND status IN ('pending', 'sending') AND (locked_until IS NULL OR locked_until <= $2) \
                 RETURNING {WEBHOOK_DELIVERY_COLUMNS}"
            ),
            args![now + lease_ms, now, i64::from(limit)],
            rows::webhook_delivery,
        )
        .await?;
    let mut out = Vec::with_capacity(claimed.len());
    for delivery in claimed {
        let Some(webhook) = get(c, &delivery.tenant_id, &delivery.webhook_id).await? else {
            continue;
        };
        let event = c
            .fetch_optional(
                &format!("SELECT {AUDIT_COLUMNS} FROM audit_events WHERE id = $1"),
                &[Arg::Text(&delivery.event_id)],
                rows::audit,
            )
            .await?;
        out.push(ClaimedDelivery {
            delivery,
            webhook,
            event,
        });
    }
    Ok(out)
}

/// Records an attempt's outcome, only if the delivery is still the claim `attempts` made
/// (a worker whose lease ran out and was overtaken records nothing); whether it did.
pub(crate) async fn finish<C: Conn>(
    c: &mut C,
    id: &str,
    attempts: i64,
    a: &WebhookAttempt,
    now: UnixMillis,
) -> Result<bool> {
    Ok(c
        .execute(
            "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, last_status_code = $3, last_error = $4, \
             locked_until = NULL, updated_at = $5 WHERE id = $6 AND status = 'sending' AND attempts = $7",
            args![
                a.status.as_str(),
                a.next_attempt_at,
                a.status_code,
                &a.error,
                now,
                id,
                attempts
            ],
        )
        .await?
        > 0)
}
