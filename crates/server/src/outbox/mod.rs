//! The outbox worker: delivers queued SMS and email messages through each tenant's
//! provider (or the server default, or the development console), retrying transient
//! failures with backoff, trying the fallback SMS provider when the primary fails, and
//! giving up once the code inside has expired. Messages are claimed with a lease, so a
//! crashed worker's messages are picked up again and several replicas never send the same
//! claim twice; a provider that accepted a message just before a crash may see it again
//! (at-least-once, the same code, which the per-destination limits already counted).

mod senders;
pub mod webhooks;

pub use senders::SenderCache;

use crate::metrics::DeliveryOutcome;
use crate::service::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::factor::Channel;
use latchkey_delivery::{DeliveryError, EmailMessage, Sent, SmsMessage};
use latchkey_store::model::{DeliveryStatus, DeliveryUpdate, OutboxMessage, SealedColumn};
use std::time::Duration;

const BATCH: u32 = 32;
/// Backoff after the n-th failed attempt: 2, 4, 8 … seconds, at most a minute.
fn backoff_ms(attempts: i64) -> i64 {
    (1000i64 << attempts.clamp(1, 6)).min(60_000)
}

impl App {
    /// One pass: claims due messages and attempts each once, concurrently. Returns how
    /// many were claimed.
    pub async fn deliver_due(&self) -> ServiceResult<usize> {
        let now = self.now();
        // A claimed message stays with this worker for twice the provider timeout (one
        // attempt plus a fallback attempt) and a margin; then another worker may retry it.
        let lease_ms = (2 * i64::try_from(self.config.delivery_timeout_secs).unwrap_or(10) + 5) * 1000;
        let batch = self.store.claim_outbox(now, lease_ms, BATCH).await?;
        let n = batch.len();
        let mut tasks = Vec::with_capacity(n);
        for message in batch {
            let app = self.clone();
            tasks.push(tokio::spawn(async move { app.attempt(message).await }));
        }
        for t in tasks {
            match t.await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::error!(error = %e, "outbox attempt failed to record"),
                Err(e) => tracing::error!(error = %e, "outbox task panicked"),
            }
        }
        Ok(n)
    }

    async fn attempt(&self, m: OutboxMessage) -> ServiceResult<()> {
        let now = self.now();
        let finish = |status, error: Option<String>, sent: Option<Sent>| DeliveryUpdate {
            status,
            next_attempt_at: now,
            last_error: error,
            provider: sent.as_ref().map(|s| s.provider.to_owned()),
            provider_message_id: sent.and_then(|s| s.provider_message_id),
        };
        if now >= m.expires_at {
            // The code inside is dead: sending it would only cost money.
            self.store
                .finish_outbox(
                    &m.id,
                    &finish(
                        DeliveryStatus::Abandoned,
                        Some("code expired before delivery".into()),
                        None,
                    ),
                    now,
                )
                .await?;
            self.store
                .bump_stat(&m.tenant_id, "deliveries", "abandoned")
                .await?;
            self.metrics
                .delivery(m.channel, "none", None, DeliveryOutcome::Abandoned);
            return Ok(());
        }
        let payload = self
            .crypto
            .keyring
            .open(&m.payload_sealed, &SealedColumn::OutboxPayload.aad(&m.id))
            .map_err(|e| ServiceError::Internal(format!("cannot open outbox payload: {e}")))?;
        let payload: serde_json::Value =
            serde_json::from_slice(&payload).map_err(|e| ServiceError::Internal(e.to_string()))?;
        let text = |k: &str| payload[k].as_str().unwrap_or_default().to_owned();
        let to = self
            .open_text(SealedColumn::OutboxDestination, &m.id, &m.destination_sealed)?
            .to_string();
        // The destination's country, for the metrics (never the number itself).
        let phone = (m.channel == Channel::Sms).then(|| to.clone());
        // The result, and the provider that gave it.
        let (result, provider) = match m.channel {
            Channel::Sms => {
                let chain = self.sms_chain(&m.tenant_id).await?;
                let msg = SmsMessage {
                    to: to.clone(),
                    body: text("body"),
                    idempotency_key: m.id.clone(),
                };
                match chain.primary.send(&msg).await {
                    Ok(sent) => (Ok(sent), chain.primary.provider()),
                    Err(primary_err) => match &chain.fallback {
                        Some(fallback) => {
                            tracing::warn!(message_id = %m.id, provider = chain.primary.provider(), error = %primary_err, "primary SMS provider failed; trying the fallback");
                            self.store
                                .bump_stat(&m.tenant_id, "fallback_used", chain.primary.provider())
                                .await?;
                            self.metrics.delivery(
                                m.channel,
                                chain.primary.provider(),
                                phone.as_deref(),
                                DeliveryOutcome::FellBack,
                            );
                            (fallback.send(&msg).await, fallback.provider())
                        }
                        None => (Err(primary_err), chain.primary.provider()),
                    },
                }
            }
            Channel::Email => {
                let sender = self.email_sender(&m.tenant_id).await?;
                let msg = EmailMessage {
                    to,
                    subject: text("subject"),
                    text: text("text"),
                    html: text("html"),
                    idempotency_key: m.id.clone(),
                };
                (sender.send(&msg).await, sender.provider())
            }
        };
        let count = |outcome| {
            self.metrics
                .delivery(m.channel, provider, phone.as_deref(), outcome)
        };
        let done_at = self.now();
        let update = match result {
            Ok(sent) => {
                self.store
                    .bump_stat(&m.tenant_id, "sent_by_provider", sent.provider)
                    .await?;
                count(DeliveryOutcome::Sent);
                tracing::info!(message_id = %m.id, provider = sent.provider, attempts = m.attempts, "message delivered to provider");
                finish(DeliveryStatus::Sent, None, Some(sent))
            }
            Err(DeliveryError::Permanent(e)) => {
                tracing::warn!(message_id = %m.id, error = %e, "message refused by provider for good");
                self.store.bump_stat(&m.tenant_id, "deliveries", "failed").await?;
                count(DeliveryOutcome::Failed);
                finish(DeliveryStatus::Failed, Some(e), None)
            }
            Err(DeliveryError::Transient(e)) => {
                let next = done_at + backoff_ms(m.attempts);
                if m.attempts >= i64::from(self.config.delivery_max_attempts) || next >= m.expires_at {
                    tracing::warn!(message_id = %m.id, attempts = m.attempts, error = %e, "giving up on message");
                    self.store
                        .bump_stat(&m.tenant_id, "deliveries", "abandoned")
                        .await?;
                    count(DeliveryOutcome::Abandoned);
                    finish(DeliveryStatus::Abandoned, Some(e), None)
                } else {
                    count(DeliveryOutcome::Retry);
                    tracing::info!(message_id = %m.id, attempts = m.attempts, error = %e, "delivery failed; will retry");
                    DeliveryUpdate {
                        next_attempt_at: next,
                        ..finish(DeliveryStatus::Queued, Some(e), None)
                    }
                }
            }
        };
        self.store.finish_outbox(&m.id, &update, done_at).await?;
        Ok(())
    }
}

/// Runs the worker until `stop` resolves: a pass whenever a message is queued (woken by
/// the request that queued it) and at least once a second for retries and leases.
pub async fn run(app: App, stop: tokio::sync::watch::Receiver<bool>) {
    let mut stop = stop;
    loop {
        if *stop.borrow() {
            break;
        }
        match app.deliver_due().await {
            Ok(n) if n > 0 => continue,
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e, "outbox pass failed"),
        }
        tokio::select! {
            _ = app.outbox_wakeup.notified() => {}
            _ = tokio::time::sleep(Duration::from_millis(500)) => {}
            _ = stop.changed() => {}
        }
    }
}
