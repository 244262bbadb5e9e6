//! The outbox worker: delivers queued SMS and email messages through each tenant's
//! provider (or the server default, or the development console), retrying transient
//! failures with backoff, trying the fallback SMS provider when the primary fails, and
//! giving up once the code inside has expired. Messages are claimed with a lease, so a
//! crashed worker's messages are picked up again and several replicas never send the same
//! claim twice; a provider that accepted a message just before a crash may see it again
//! (at-least-once, the same code, which the per-destination limits already counted).

use crate::service::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::factor::Channel;
use latchkey_delivery::config::{EmailProviderConfig, SmsProviderConfig};
use latchkey_delivery::{
    DeliveryError, Destinations, EmailMessage, EmailSender, Sent, SmsMessage, SmsSender,
};
use latchkey_store::model::{DeliveryStatus, DeliveryUpdate, OutboxMessage, SealedColumn};
use latchkey_store::provider_row_id;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const BATCH: u32 = 32;
/// Backoff after the n-th failed attempt: 2, 4, 8 … seconds, at most a minute.
fn backoff_ms(attempts: i64) -> i64 {
    (1000i64 << attempts.clamp(1, 6)).min(60_000)
}

/// A tenant's SMS providers as stored (sealed JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SmsProviders {
    pub primary: SmsProviderConfig,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<SmsProviderConfig>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EmailProviders {
    pub primary: EmailProviderConfig,
}

impl SmsProviders {
    /// See [`SmsProviderConfig::destination_problems`]; the fallback's are marked as such.
    pub fn destination_problems(&self, destinations: Destinations) -> Vec<String> {
        let mut problems = self.primary.destination_problems(destinations);
        if let Some(f) = &self.fallback {
            let theirs = f.destination_problems(destinations);
            problems.extend(theirs.into_iter().map(|p| format!("fallback: {p}")));
        }
        problems
    }
}

impl EmailProviders {
    pub fn destination_problems(&self, destinations: Destinations) -> Vec<String> {
        self.primary.destination_problems(destinations)
    }
}

/// Where a tenant's configuration came from, for the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderSource {
    Tenant,
    Server,
    Default,
}

impl ProviderSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderSource::Tenant => "tenant",
            ProviderSource::Server => "server",
            ProviderSource::Default => "default",
        }
    }
}

struct SmsChain {
    primary: Arc<dyn SmsSender>,
    fallback: Option<Arc<dyn SmsSender>>,
}

/// Values by tenant, each with the configuration version it was built from.
struct Versioned<T>(Mutex<HashMap<String, (String, T)>>);

impl<T> Default for Versioned<T> {
    fn default() -> Self {
        Self(Mutex::new(HashMap::new()))
    }
}

impl<T: Clone> Versioned<T> {
    fn get(&self, key: &str, version: &str) -> Option<T> {
        let map = self.0.lock().ok()?;
        map.get(key).filter(|(v, _)| v == version).map(|(_, t)| t.clone())
    }

    fn put(&self, key: String, version: String, value: T) {
        if let Ok(mut map) = self.0.lock() {
            map.insert(key, (version, value));
        }
    }
}

/// Senders built from configurations, reused while the configuration is unchanged.
#[derive(Default)]
pub struct SenderCache {
    sms: Versioned<Arc<SmsChain>>,
    email: Versioned<Arc<dyn EmailSender>>,
}

impl App {
    /// The SMS providers a tenant uses, where they come from, and a version string that
    /// changes whenever they do.
    pub async fn sms_providers(
        &self,
        tenant: &latchkey_core::ids::TenantId,
    ) -> ServiceResult<(SmsProviders, ProviderSource, String)> {
        let default = SmsProviders {
            primary: SmsProviderConfig::Console,
            fallback: None,
        };
        self.providers(tenant, "sms", &self.config.sms_provider, default)
            .await
    }

    pub async fn email_providers(
        &self,
        tenant: &latchkey_core::ids::TenantId,
    ) -> ServiceResult<(EmailProviders, ProviderSource, String)> {
        let default = EmailProviders {
            primary: EmailProviderConfig::Console,
        };
        self.providers(tenant, "email", &self.config.email_provider, default)
            .await
    }

    /// A channel's configuration: the tenant's own (sealed in the database), else the
    /// server's, else the console default.
    async fn providers<T: serde::de::DeserializeOwned + Clone>(
        &self,
        tenant: &latchkey_core::ids::TenantId,
        channel: &str,
        server: &Option<T>,
        default: T,
    ) -> ServiceResult<(T, ProviderSource, String)> {
        if let Some(sealed) = self.store.get_provider(tenant, channel).await? {
            let aad = SealedColumn::ProviderConfig.aad(&provider_row_id(tenant, channel));
            let plain =
                self.crypto.keyring.open(&sealed, &aad).map_err(|e| {
                    ServiceError::Internal(format!("cannot open {channel} provider config: {e}"))
                })?;
            let p = serde_json::from_slice(&plain).map_err(|e| ServiceError::Internal(e.to_string()))?;
            return Ok((p, ProviderSource::Tenant, sealed));
        }
        match server {
            Some(p) => Ok((p.clone(), ProviderSource::Server, "server".into())),
            None => Ok((default, ProviderSource::Default, "default".into())),
        }
    }

    async fn sms_chain(&self, tenant: &latchkey_core::ids::TenantId) -> ServiceResult<Arc<SmsChain>> {
        let (providers, _, version) = self.sms_providers(tenant).await?;
        let key = tenant.to_string();
        if let Some(chain) = self.senders.sms.get(&key, &version) {
            return Ok(chain);
        }
        let opts = &self.delivery;
        let chain = Arc::new(SmsChain {
            primary: providers.primary.build_sms(opts),
            fallback: providers.fallback.as_ref().map(|f| f.build_sms(opts)),
        });
        self.senders.sms.put(key, version, chain.clone());
        Ok(chain)
    }

    async fn email_sender(
        &self,
        tenant: &latchkey_core::ids::TenantId,
    ) -> ServiceResult<Arc<dyn EmailSender>> {
        let (providers, _, version) = self.email_providers(tenant).await?;
        let key = tenant.to_string();
        if let Some(sender) = self.senders.email.get(&key, &version) {
            return Ok(sender);
        }
        let sender = providers.primary.build_email(&self.delivery);
        self.senders.email.put(key, version, sender.clone());
        Ok(sender)
    }

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
        let result = match m.channel {
            Channel::Sms => {
                let chain = self.sms_chain(&m.tenant_id).await?;
                let msg = SmsMessage {
                    to: to.clone(),
                    body: text("body"),
                    idempotency_key: m.id.clone(),
                };
                match chain.primary.send(&msg).await {
                    Ok(sent) => Ok(sent),
                    Err(primary_err) => match &chain.fallback {
                        Some(fallback) => {
                            tracing::warn!(message_id = %m.id, provider = chain.primary.provider(), error = %primary_err, "primary SMS provider failed; trying the fallback");
                            self.store
                                .bump_stat(&m.tenant_id, "fallback_used", chain.primary.provider())
                                .await?;
                            fallback.send(&msg).await
                        }
                        None => Err(primary_err),
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
                sender.send(&msg).await
            }
        };
        let done_at = self.now();
        let update = match result {
            Ok(sent) => {
                self.store
                    .bump_stat(&m.tenant_id, "sent_by_provider", sent.provider)
                    .await?;
                tracing::info!(message_id = %m.id, provider = sent.provider, attempts = m.attempts, "message delivered to provider");
                finish(DeliveryStatus::Sent, None, Some(sent))
            }
            Err(DeliveryError::Permanent(e)) => {
                tracing::warn!(message_id = %m.id, error = %e, "message refused by provider for good");
                self.store.bump_stat(&m.tenant_id, "deliveries", "failed").await?;
                finish(DeliveryStatus::Failed, Some(e), None)
            }
            Err(DeliveryError::Transient(e)) => {
                let next = done_at + backoff_ms(m.attempts);
                if m.attempts >= i64::from(self.config.delivery_max_attempts) || next >= m.expires_at {
                    tracing::warn!(message_id = %m.id, attempts = m.attempts, error = %e, "giving up on message");
                    self.store
                        .bump_stat(&m.tenant_id, "deliveries", "abandoned")
                        .await?;
                    finish(DeliveryStatus::Abandoned, Some(e), None)
                } else {
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

/// Parses an SMS provider document: one provider object, optionally with a `fallback`
/// object of the same shape. Every problem is listed, destinations `destinations` refuses
/// included; no secret value is repeated.
pub fn parse_sms_providers(text: &str, destinations: Destinations) -> Result<SmsProviders, Vec<String>> {
    let mut value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| vec!["must be a JSON object".to_string()])?;
    let fallback = value.as_object_mut().and_then(|o| o.remove("fallback"));
    only_provider_key_for_console(&value)?;
    if let Some(f) = &fallback {
        only_provider_key_for_console(f).map_err(|p| {
            p.into_iter()
                .map(|m| format!("fallback: {m}"))
                .collect::<Vec<_>>()
        })?;
    }
    let primary: SmsProviderConfig = serde_json::from_value(value).map_err(|e| vec![config_error(&e)])?;
    let fallback: Option<SmsProviderConfig> = match fallback {
        None | Some(serde_json::Value::Null) => None,
        Some(v) => {
            Some(serde_json::from_value(v).map_err(|e| vec![format!("fallback: {}", config_error(&e))])?)
        }
    };
    let mut problems = primary.validate();
    if let Some(f) = &fallback {
        problems.extend(f.validate().into_iter().map(|p| format!("fallback: {p}")));
        if matches!(f, SmsProviderConfig::Console) || matches!(primary, SmsProviderConfig::Console) {
            problems.push("fallback: the console provider cannot be part of a fallback pair".into());
        }
    }
    let providers = SmsProviders { primary, fallback };
    problems.extend(providers.destination_problems(destinations));
    if problems.is_empty() {
        Ok(providers)
    } else {
        Err(problems)
    }
}

pub fn parse_email_providers(text: &str, destinations: Destinations) -> Result<EmailProviders, Vec<String>> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| vec!["must be a JSON object".to_string()])?;
    let primary: EmailProviderConfig = serde_json::from_value(value).map_err(|e| vec![config_error(&e)])?;
    let mut problems = primary.validate();
    let providers = EmailProviders { primary };
    problems.extend(providers.destination_problems(destinations));
    if problems.is_empty() {
        Ok(providers)
    } else {
        Err(problems)
    }
}

/// serde accepts extra fields beside a unit variant's tag (`{"provider":"console","x":1}`);
/// refuse them like every other unknown field.
fn only_provider_key_for_console(value: &serde_json::Value) -> Result<(), Vec<String>> {
    match value.as_object() {
        Some(o) if o.get("provider").and_then(|p| p.as_str()) == Some("console") => {
            let extra: Vec<String> = o
                .keys()
                .filter(|k| *k != "provider")
                .map(|k| format!("unknown field `{}`", k.escape_debug()))
                .collect();
            if extra.is_empty() {
                Ok(())
            } else {
                Err(extra)
            }
        }
        _ => Ok(()),
    }
}

/// A serde error about a provider document, without any submitted value.
fn config_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let name = text.split('`').nth(1).unwrap_or("");
    if text.starts_with("missing field") {
        format!("missing field `{name}`")
    } else if text.starts_with("unknown field") {
        format!("unknown field `{}`", name.escape_debug())
    } else if text.starts_with("unknown variant") {
        "unknown provider; expected twilio, aws_sns, vonage, webhook, smtp or console".to_string()
    } else if text.contains("missing field `provider`") {
        "missing field `provider`".to_string()
    } else {
        "a field has the wrong type".to_string()
    }
}
