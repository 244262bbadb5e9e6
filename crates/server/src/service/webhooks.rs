//! A tenant's webhook endpoints (docs/events.md): register, list, read, change, remove,
//! give a new secret, and the delivery log with manual redelivery. The signing secret
//! (`whsec_…`) is shown in the answer to a registration and to a rotation only; it is stored
//! sealed to its row, because signing needs it back.

use super::audit::{Actor, Audit, RequestMeta};
use super::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::audit::{AuditAction, AuditOutcome};
use latchkey_core::ids::{is_delivery_id, WebhookId};
use latchkey_core::secret::SecretString;
use latchkey_store::model::{Redelivery, SealedColumn, Tenant, Webhook, WebhookDelivery, WebhookPatch};

/// Endpoints a tenant may have: each event is written once per endpoint, in the event's
/// own transaction, so the number is bounded.
pub const MAX_WEBHOOKS: usize = 20;

/// "Every event type", as the API says it.
pub const ALL_EVENTS: &str = "*";

/// What a registration or a change asks for; absent fields keep their value (a
/// registration's defaults: every event, enabled, no description).
#[derive(Debug, Default)]
pub struct WebhookChanges {
    pub url: Option<String>,
    /// `Some("")` clears it.
    pub description: Option<String>,
    /// Catalogue names, or `["*"]` for every type.
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

/// The change `changes` asks for, checked, with every problem reported at once.
fn validate(
    changes: WebhookChanges,
    destinations: latchkey_delivery::Destinations,
    now: i64,
) -> ServiceResult<WebhookPatch> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut patch = WebhookPatch {
        enabled: changes.enabled,
        updated_at: now,
        ..Default::default()
    };
    if let Some(url) = changes.url {
        let url = url.trim().to_owned();
        match latchkey_delivery::events::endpoint_problem(destinations, &url) {
            Some(problem) => problems.push(("url".into(), problem)),
            None => patch.url = Some(url),
        }
    }
    if let Some(d) = changes.description {
        let d = d.trim();
        if d.is_empty() {
            patch.description = Some(None);
        } else {
            match latchkey_core::text::display_name(d, 200) {
                Ok(d) => patch.description = Some(Some(d)),
                Err(_) => problems.push((
                    "description".into(),
                    "must be at most 200 printable characters".into(),
                )),
            }
        }
    }
    if let Some(events) = changes.events {
        match parse_events(&events) {
            Ok(e) => patch.events = Some(e),
            Err(message) => problems.push(("events".into(), message)),
        }
    }
    if problems.is_empty() {
        Ok(patch)
    } else {
        Err(ServiceError::InvalidWebhook(problems))
    }
}

/// `["*"]` is every type (`None`); otherwise catalogue names, sorted and without repeats.
fn parse_events(names: &[String]) -> Result<Option<Vec<String>>, String> {
    if names.iter().any(|n| n == ALL_EVENTS) {
        return if names.len() == 1 {
            Ok(None)
        } else {
            Err("\"*\" (every event type) stands alone".into())
        };
    }
    if names.is_empty() {
        return Err("name at least one event type, or \"*\" for all".into());
    }
    let mut out = Vec::with_capacity(names.len());
    for n in names {
        match AuditAction::parse(n) {
            Some(a) => out.push(a.as_str().to_owned()),
            None => {
                return Err(format!(
                    "{:?} is not an event type (docs/events.md)",
                    n.chars().take(64).collect::<String>()
                ))
            }
        }
    }
    out.sort();
    out.dedup();
    Ok(Some(out))
}

impl App {
    async fn audit_webhook(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        what: &str,
        id: &WebhookId,
    ) -> ServiceResult<()> {
        self.audit(Audit {
            tenant,
            actor,
            meta,
            user: None,
            factor: None,
            action: AuditAction::WebhookChanged,
            outcome: AuditOutcome::Success,
            detail: Some(format!("{what} {id}")),
        })
        .await
    }

    /// A new secret for `id`, and its sealed form bound to that row.
    fn webhook_secret(&self, id: &WebhookId) -> ServiceResult<(SecretString, String)> {
        let secret = latchkey_core::webhook::new_secret(self.rng.as_ref());
        let sealed = self.seal_text(SealedColumn::WebhookSecret, id.as_str(), secret.expose())?;
        Ok((secret, sealed))
    }

    pub async fn create_webhook(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        changes: WebhookChanges,
    ) -> ServiceResult<(Webhook, SecretString)> {
        if changes.url.is_none() {
            return Err(ServiceError::InvalidWebhook(vec![(
                "url".into(),
                "is required".into(),
            )]));
        }
        let now = self.now();
        let id = WebhookId::generate(now, self.rng.as_ref());
        let (secret, secret_sealed) = self.webhook_secret(&id)?;
        let patch = validate(changes, self.config.destinations(), now)?;
        let hook = Webhook {
            id,
            tenant_id: tenant.id.clone(),
            url: patch.url.unwrap_or_default(),
            description: patch.description.flatten(),
            events: patch.events.flatten(),
            enabled: patch.enabled.unwrap_or(true),
            secret_sealed,
            created_at: now,
            updated_at: now,
        };
        if self.store.list_webhooks(&tenant.id).await?.len() >= MAX_WEBHOOKS {
            return Err(ServiceError::TooManyWebhooks);
        }
        self.store.insert_webhook(&hook).await?;
        // Its tenant's events fan out from now on: the cached endpoint count is stale.
        self.tenants.forget(&tenant.id);
        let tenant = &Tenant {
            webhooks: tenant.webhooks + 1,
            ..tenant.clone()
        };
        self.audit_webhook(tenant, actor, meta, "created", &hook.id)
            .await?;
        Ok((hook, secret))
    }

    pub async fn list_webhooks(&self, tenant: &Tenant) -> ServiceResult<Vec<Webhook>> {
        Ok(self.store.list_webhooks(&tenant.id).await?)
    }

    pub async fn get_webhook(&self, tenant: &Tenant, id: &WebhookId) -> ServiceResult<Webhook> {
        self.store
            .get_webhook(&tenant.id, id)
            .await?
            .ok_or(ServiceError::WebhookNotFound)
    }

    pub async fn update_webhook(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        id: &WebhookId,
        changes: WebhookChanges,
    ) -> ServiceResult<Webhook> {
        let patch = validate(changes, self.config.destinations(), self.now())?;
        let hook = self
            .store
            .update_webhook(&tenant.id, id, &patch)
            .await?
            .ok_or(ServiceError::WebhookNotFound)?;
        self.audit_webhook(tenant, actor, meta, "updated", id).await?;
        self.events_wakeup.notify_one();
        Ok(hook)
    }

    pub async fn delete_webhook(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        id: &WebhookId,
    ) -> ServiceResult<()> {
        if !self.store.delete_webhook(&tenant.id, id).await? {
            return Err(ServiceError::WebhookNotFound);
        }
        self.tenants.forget(&tenant.id);
        self.audit_webhook(tenant, actor, meta, "deleted", id).await
    }

    /// A new signing secret; the old one stops signing at once (a receiver that verifies
    /// with either, during the switch, accepts both: Standard Webhooks verifiers take
    /// several `v1,` signatures, but we send one).
    pub async fn rotate_webhook_secret(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        id: &WebhookId,
    ) -> ServiceResult<(Webhook, SecretString)> {
        let (secret, sealed) = self.webhook_secret(id)?;
        let patch = WebhookPatch {
            secret_sealed: Some(sealed),
            updated_at: self.now(),
            ..Default::default()
        };
        let hook = self
            .store
            .update_webhook(&tenant.id, id, &patch)
            .await?
            .ok_or(ServiceError::WebhookNotFound)?;
        self.audit_webhook(tenant, actor, meta, "secret rotated", id)
            .await?;
        Ok((hook, secret))
    }

    pub async fn list_webhook_deliveries(
        &self,
        tenant: &Tenant,
        id: &WebhookId,
        before: Option<&str>,
        limit: u32,
    ) -> ServiceResult<Vec<WebhookDelivery>> {
        self.get_webhook(tenant, id).await?;
        Ok(self
            .store
            .list_webhook_deliveries(&tenant.id, id, before, limit.clamp(1, 200))
            .await?)
    }

    /// Queues a delivery for another attempt now, whatever became of it (delivered,
    /// failed, or waiting for a retry). The message keeps its id, so a receiver that
    /// deduplicates by `webhook-id` sees the same message again.
    pub async fn redeliver_webhook(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        id: &WebhookId,
        delivery: &str,
    ) -> ServiceResult<WebhookDelivery> {
        self.get_webhook(tenant, id).await?;
        if !is_delivery_id(delivery) {
            return Err(ServiceError::DeliveryNotFound);
        }
        match self
            .store
            .redeliver_webhook(&tenant.id, id, delivery, self.now())
            .await?
        {
            Redelivery::Queued(d) => {
                self.audit_webhook(tenant, actor, meta, &format!("redelivery of {delivery} for"), id)
                    .await?;
                self.events_wakeup.notify_one();
                Ok(*d)
            }
            Redelivery::InProgress => Err(ServiceError::DeliveryInProgress),
            Redelivery::NotFound => Err(ServiceError::DeliveryNotFound),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_lists_are_catalogue_names_or_everything() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(parse_events(&s(&["*"])), Ok(None));
        assert_eq!(
            parse_events(&s(&["signin", "mfa.verify", "signin"])),
            Ok(Some(s(&["mfa.verify", "signin"])))
        );
        assert!(parse_events(&s(&[])).is_err());
        assert!(parse_events(&s(&["*", "signin"])).is_err());
        assert!(parse_events(&s(&["sign.in"]))
            .unwrap_err()
            .contains("not an event type"));
    }
}
