//! Delivery providers as a tenant configures them: which SMS and email providers a tenant
//! uses (its own, sealed in the database; else the server's, or the sender an embedding
//! application gave in code; else the development console), and setting or clearing its own.

use super::audit::{Actor, Audit, RequestMeta};
use super::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::audit::{AuditAction, AuditOutcome};
use latchkey_core::ids::TenantId;
use latchkey_core::scope::KeyScope;
use latchkey_delivery::config::{EmailProviderConfig, SmsProviderConfig};
use latchkey_delivery::providers::{
    parse_email_providers, parse_sms_providers, EmailProviders, SmsProviders,
};
use latchkey_store::model::{SealedColumn, Tenant};
use latchkey_store::provider_row_id;

/// Where a tenant's configuration came from, for the admin API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProviderSource {
    Tenant,
    Server,
    /// A sender the embedding application gave in code (`AppOptions::senders`).
    Host,
    Default,
}

impl ProviderSource {
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderSource::Tenant => "tenant",
            ProviderSource::Server => "server",
            ProviderSource::Host => "host",
            ProviderSource::Default => "default",
        }
    }
}

impl App {
    /// The SMS providers a tenant uses, where they come from, and a version string that
    /// changes whenever they do.
    pub async fn sms_providers(
        &self,
        tenant: &TenantId,
    ) -> ServiceResult<(SmsProviders, ProviderSource, String)> {
        let default = SmsProviders {
            primary: SmsProviderConfig::Console,
            fallback: None,
        };
        let found = self
            .providers(tenant, "sms", &self.config.sms_provider, default)
            .await?;
        Ok(self.host_or(found, self.host_senders.sms.is_some()))
    }

    pub async fn email_providers(
        &self,
        tenant: &TenantId,
    ) -> ServiceResult<(EmailProviders, ProviderSource, String)> {
        let default = EmailProviders {
            primary: EmailProviderConfig::Console,
        };
        let found = self
            .providers(tenant, "email", &self.config.email_provider, default)
            .await?;
        Ok(self.host_or(found, self.host_senders.email.is_some()))
    }

    /// A tenant's own provider stands; otherwise a sender given in code does (`App::start`
    /// refuses one beside a configured server-wide provider). The configuration returned
    /// with [`ProviderSource::Host`] is the console's and is not used to send.
    fn host_or<T>(&self, found: (T, ProviderSource, String), host: bool) -> (T, ProviderSource, String) {
        match found {
            (p, ProviderSource::Server | ProviderSource::Default, _) if host => {
                (p, ProviderSource::Host, "host".into())
            }
            other => other,
        }
    }

    /// A channel's configuration: the tenant's own (sealed in the database), else the
    /// server's, else the console default.
    async fn providers<T: serde::de::DeserializeOwned + Clone>(
        &self,
        tenant: &TenantId,
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

    /// Validates, seals and stores a tenant's SMS provider (and fallback).
    pub async fn set_sms_provider(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        body: &serde_json::Value,
    ) -> ServiceResult<SmsProviders> {
        self.provider_scope(tenant, actor, meta, "sms set").await?;
        let parsed = parse_sms_providers(&body.to_string(), self.config.destinations())
            .map_err(ServiceError::InvalidProvider)?;
        let json = serde_json::to_vec(&parsed).map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.store_provider(tenant, "sms", &json).await?;
        self.audit_provider(tenant, actor, meta, "sms set").await?;
        Ok(parsed)
    }

    pub async fn set_email_provider(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        body: &serde_json::Value,
    ) -> ServiceResult<EmailProviders> {
        self.provider_scope(tenant, actor, meta, "email set").await?;
        let parsed = parse_email_providers(&body.to_string(), self.config.destinations())
            .map_err(ServiceError::InvalidProvider)?;
        let json = serde_json::to_vec(&parsed).map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.store_provider(tenant, "email", &json).await?;
        self.audit_provider(tenant, actor, meta, "email set").await?;
        Ok(parsed)
    }

    async fn store_provider(&self, tenant: &Tenant, channel: &str, json: &[u8]) -> ServiceResult<()> {
        let json = zeroize::Zeroizing::new(json.to_vec());
        let aad = latchkey_store::model::SealedColumn::ProviderConfig
            .aad(&latchkey_store::provider_row_id(&tenant.id, channel));
        let sealed = self
            .crypto
            .keyring
            .seal(&json, &aad, self.rng.as_ref())
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        self.store
            .put_provider(&tenant.id, channel, &sealed, self.now())
            .await?;
        tracing::info!(tenant_id = %tenant.id, channel, "delivery provider configured");
        Ok(())
    }

    pub async fn clear_provider(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        channel: &str,
    ) -> ServiceResult<()> {
        self.provider_scope(tenant, actor, meta, &format!("{channel} cleared"))
            .await?;
        if self.store.delete_provider(&tenant.id, channel).await? {
            self.audit_provider(tenant, actor, meta, &format!("{channel} cleared"))
                .await?;
        }
        Ok(())
    }

    /// A provider change needs `mfa:admin`: whoever sets the provider can read every code
    /// sent through it.
    async fn provider_scope(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        detail: &str,
    ) -> ServiceResult<()> {
        self.require_scope(
            tenant,
            actor,
            meta,
            KeyScope::MfaAdmin,
            super::admin::Attempt {
                action: AuditAction::ProviderChanged,
                user: None,
                detail,
            },
        )
        .await
    }

    /// A provider change's audit record: which channel, set or cleared; never what it holds.
    async fn audit_provider(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        detail: &str,
    ) -> ServiceResult<()> {
        self.audit(Audit {
            tenant,
            actor,
            meta,
            user: None,
            factor: None,
            action: AuditAction::ProviderChanged,
            outcome: AuditOutcome::Success,
            detail: Some(detail.to_owned()),
        })
        .await
    }
}
