//! The events worker: sends each claimed webhook delivery (docs/events.md), signed in the
//! Standard Webhooks format, and records the outcome: delivered on a 2xx; otherwise tried
//! again after an exponential, jittered delay (`core::webhook::retry_delay_ms`) until
//! `core::webhook::MAX_ATTEMPTS`; failed at once when the destination policy refuses the
//! endpoint's address at send time (SSRF: the check is made on the address connected to).
//!
//! Deliveries are claimed with a lease, as the outbox's messages are, so several workers or
//! replicas never make the same attempt twice, and a crashed worker's claims are taken up
//! again when the lease runs out (at-least-once: a receiver deduplicates by `webhook-id`).

use crate::service::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::webhook::{retry_delay_ms, secret_key, signature, MAX_ATTEMPTS};
use latchkey_delivery::events::{EventPost, PostOutcome};
use latchkey_store::model::{
    AuditEvent, ClaimedDelivery, SealedColumn, WebhookAttempt, WebhookDeliveryStatus,
};
use std::time::Duration;

const BATCH: u32 = 32;

/// The message body: the event's type, its time, and what the audit log says of it. The
/// audit record never holds a code, secret or token, and its detail names rules and fields,
/// not phone numbers or addresses.
pub fn event_body(event: &AuditEvent) -> Vec<u8> {
    serde_json::json!({
        "type": event.action,
        "timestamp": latchkey_core::time::rfc3339(event.created_at),
        "data": {
            "id": event.id,
            "tenant_id": event.tenant_id.as_str(),
            "outcome": event.outcome,
            "actor": event.actor,
            "user_id": event.user_id.as_ref().map(|u| u.as_str()),
            "factor_id": event.factor_id.as_ref().map(|f| f.as_str()),
            "ip": event.ip,
            "detail": event.detail,
        }
    })
    .to_string()
    .into_bytes()
}

impl App {
    /// One pass: claims due deliveries and attempts each once, concurrently. Returns how
    /// many were claimed.
    pub async fn deliver_webhooks_due(&self) -> ServiceResult<usize> {
        let now = self.now();
        // One attempt is bounded by the delivery timeout; the margin covers recording it.
        let lease_ms = (i64::try_from(self.config.delivery_timeout_secs).unwrap_or(10) + 5) * 1000;
        let batch = self.store.claim_webhook_deliveries(now, lease_ms, BATCH).await?;
        let n = batch.len();
        let mut tasks = Vec::with_capacity(n);
        for claimed in batch {
            let app = self.clone();
            tasks.push(tokio::spawn(async move { app.attempt_webhook(claimed).await }));
        }
        for t in tasks {
            match t.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "webhook attempt failed to record"),
                Err(e) => tracing::error!(error = %e, "webhook task panicked"),
            }
        }
        Ok(n)
    }

    async fn attempt_webhook(&self, c: ClaimedDelivery) -> ServiceResult<()> {
        let d = &c.delivery;
        let outcome = match &c.event {
            Some(event) => self.post_webhook(&c, event).await?,
            None => PostOutcome::Refused {
                error: "the event is no longer stored".into(),
            },
        };
        let now = self.now();
        let attempt = match outcome {
            PostOutcome::Delivered { status } => {
                tracing::info!(delivery_id = %d.id, webhook_id = %d.webhook_id, attempts = d.attempts, "webhook delivered");
                WebhookAttempt {
                    status: WebhookDeliveryStatus::Delivered,
                    next_attempt_at: now,
                    status_code: Some(i64::from(status)),
                    error: None,
                }
            }
            PostOutcome::Retry { status, error } if d.attempts < MAX_ATTEMPTS => {
                let random: [u8; 8] = latchkey_core::rand::bytes(self.rng.as_ref());
                let next = now + retry_delay_ms(d.attempts, u64::from_le_bytes(random));
                tracing::info!(delivery_id = %d.id, attempts = d.attempts, error = %error, "webhook attempt failed; will retry");
                WebhookAttempt {
                    status: WebhookDeliveryStatus::Pending,
                    next_attempt_at: next,
                    status_code: status.map(i64::from),
                    error: Some(error),
                }
            }
            PostOutcome::Retry { status, error } => {
                tracing::warn!(delivery_id = %d.id, attempts = d.attempts, error = %error, "giving up on webhook delivery");
                WebhookAttempt {
                    status: WebhookDeliveryStatus::Failed,
                    next_attempt_at: now,
                    status_code: status.map(i64::from),
                    error: Some(error),
                }
            }
            PostOutcome::Refused { error } => {
                tracing::warn!(delivery_id = %d.id, error = %error, "webhook delivery refused for good");
                WebhookAttempt {
                    status: WebhookDeliveryStatus::Failed,
                    next_attempt_at: now,
                    status_code: None,
                    error: Some(error),
                }
            }
        };
        if !self
            .store
            .finish_webhook_delivery(&d.id, d.attempts, &attempt, now)
            .await?
        {
            tracing::warn!(delivery_id = %d.id, "webhook attempt outlived its lease; its outcome is not recorded");
        }
        Ok(())
    }

    async fn post_webhook(&self, c: &ClaimedDelivery, event: &AuditEvent) -> ServiceResult<PostOutcome> {
        let secret = self.open_text(
            SealedColumn::WebhookSecret,
            c.webhook.id.as_str(),
            &c.webhook.secret_sealed,
        )?;
        let key = secret_key(&secret).ok_or_else(|| {
            ServiceError::Internal(format!("webhook {} has a malformed secret", c.webhook.id))
        })?;
        let body = event_body(event);
        let timestamp = self.now().div_euclid(1000);
        let signed = signature(&key, &c.delivery.id, timestamp, &body);
        Ok(self
            .delivery
            .post_event(&EventPost {
                url: &c.webhook.url,
                msg_id: &c.delivery.id,
                timestamp_secs: timestamp,
                signature: &signed,
                body: &body,
            })
            .await)
    }
}

/// Runs the worker until `stop` resolves: a pass when woken (an endpoint changed, a
/// redelivery was asked for, an audit record written) and at least twice a second.
pub async fn run(app: App, stop: tokio::sync::watch::Receiver<bool>) {
    let mut stop = stop;
    loop {
        if *stop.borrow() {
            break;
        }
        match app.deliver_webhooks_due().await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "webhook pass failed"),
        }
        tokio::select! {
            _ = app.events_wakeup.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => {}
        }
    }
}
