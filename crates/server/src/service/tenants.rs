//! Operator commands: tenants and their secret keys (used by the CLI).

use super::{InputError, ServiceResult};
use crate::app::api_key_record;
use crate::App;
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::{ApiKeyId, TenantId};
use latchkey_core::issuer::{parse_host, parse_slug, Issuer};
use latchkey_core::scope::KeyScope;
use latchkey_core::secret::{opaque_token, SecretString};
use latchkey_core::settings::TenantSettings;
use latchkey_store::model::{ApiKeyRecord, Tenant};
use latchkey_store::StoreError;

impl App {
    /// Creates a tenant and its first secret key (returned once, stored only hashed).
    pub async fn create_tenant(&self, name: &str) -> ServiceResult<(Tenant, SecretString)> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
            return Err(InputError::TenantName.into());
        }
        let now = self.now();
        let tenant = Tenant {
            id: TenantId::generate(now, self.rng.as_ref()),
            name: name.to_owned(),
            settings: TenantSettings {
                access_token_ttl_secs: self.config.access_token_ttl_secs,
                refresh_token_ttl_secs: self.config.refresh_token_ttl_secs,
                ..Default::default()
            },
            created_at: now,
            slug: None,
            host: None,
            mfa_rules: 0,
            webhooks: 0,
        };
        self.store.insert_tenant(&tenant).await?;
        let (_, key) = self.create_api_key(&tenant.id, "initial", &[]).await?;
        Ok((tenant, key))
    }

    /// A new secret key for `tenant` with `scopes` beyond everyday administration (see
    /// [`KeyScope`]); the secret is returned once and stored only hashed.
    pub async fn create_api_key(
        &self,
        tenant: &TenantId,
        name: &str,
        scopes: &[KeyScope],
    ) -> ServiceResult<(ApiKeyRecord, SecretString)> {
        self.load_tenant(tenant).await?;
        let key = opaque_token("sk_live_", self.rng.as_ref());
        let record = api_key_record(
            &self.crypto,
            tenant,
            name,
            &key,
            self.now(),
            self.rng.as_ref(),
            scopes,
        );
        self.store.insert_api_key(&record).await?;
        Ok((record, key))
    }

    /// Revokes a key given its id (`key_…`) or the secret itself (`sk_live_…`).
    pub async fn revoke_api_key(&self, id_or_secret: &str) -> ServiceResult<bool> {
        let id = if id_or_secret.starts_with("sk_live_") {
            let hash = self
                .crypto
                .hasher
                .hash(HashPurpose::ApiKey, "", id_or_secret.as_bytes());
            match self.store.find_api_key_by_hash(&hash).await? {
                Some(k) => k.id,
                None => return Ok(false),
            }
        } else {
            ApiKeyId::parse(id_or_secret).map_err(InputError::from)?
        };
        Ok(self.store.revoke_api_key(&id, self.now()).await?)
    }

    /// The issuer of a tenant's tokens and its discovery document: the public URL for the
    /// default tenant and for a tenant without an address (whose tokens come from `/v1`
    /// only), else its host or `/t/{slug}` ([`Issuer::of`]).
    pub fn issuer_for(&self, tenant: &TenantId) -> Issuer {
        let is_default = *tenant == self.default_tenant;
        let (slug, host) = if is_default {
            (None, None)
        } else {
            self.addresses.of(tenant)
        };
        let at_host = !is_default && host.is_some();
        let mut issuer = Issuer::of(&self.issuer, is_default, slug.as_deref(), host.as_deref())
            .unwrap_or_else(|| {
                Issuer::of(&self.issuer, true, None, None).unwrap_or_else(|| Issuer {
                    url: self.issuer.clone(),
                    base: String::new(),
                })
            });
        // Mounted under a path by an embedding application (`AppOptions::mount_path`, empty
        // for the server binary): the public URL already ends with it, a tenant's own host
        // does not.
        if !self.mount.is_empty() {
            issuer.base = format!("{}{}", self.mount, issuer.base);
            if at_host {
                issuer.url = format!("{}{}", issuer.url, self.mount);
            }
        }
        issuer
    }

    /// Whether an access token's `iss` is one this server gives the tenant's tokens: the
    /// tenant's issuer, or the public URL (tokens issued before the tenant had an address).
    pub fn accepts_issuer(&self, iss: &str, tenant: &str) -> bool {
        if iss == self.issuer {
            return true;
        }
        TenantId::parse(tenant).is_ok_and(|t| self.issuer_for(&t).url == iss)
    }

    /// Gives a tenant (not the default one) its slug and host, or clears them (`None`).
    /// Its issuer moves with them: relying parties must discover it again.
    pub async fn set_tenant_addresses(
        &self,
        tenant: &TenantId,
        slug: Option<&str>,
        host: Option<&str>,
    ) -> ServiceResult<Issuer> {
        if *tenant == self.default_tenant {
            return Err(InputError::DefaultTenantAddress.into());
        }
        let slug = slug.map(parse_slug).transpose().map_err(InputError::from)?;
        let host = host.map(parse_host).transpose().map_err(InputError::from)?;
        if let Some(h) = &host {
            let public_host = self
                .issuer
                .split_once("://")
                .map(|(_, rest)| rest.split('/').next().unwrap_or(""))
                .unwrap_or("");
            if h.eq_ignore_ascii_case(public_host) {
                return Err(InputError::PublicHost.into());
            }
        }
        match self
            .store
            .set_tenant_addresses(tenant, slug.as_deref(), host.as_deref(), self.now())
            .await
        {
            Ok(true) => {}
            Ok(false) => return Err(super::ServiceError::TenantNotFound),
            Err(StoreError::Conflict) => return Err(InputError::TenantAddressTaken.into()),
            Err(e) => return Err(e.into()),
        }
        self.tenants.forget(tenant);
        self.refresh_addresses().await?;
        Ok(self.issuer_for(tenant))
    }

    /// Re-reads the tenants' addresses (at start, after a change, and every
    /// [`crate::addresses::REFRESH`] while serving).
    pub async fn refresh_addresses(&self) -> ServiceResult<()> {
        let tenants = self.store.list_addressed_tenants().await?;
        self.addresses.replace(&tenants);
        Ok(())
    }

    /// Keeps the addresses fresh until `stop`: another replica's change shows here within
    /// [`crate::addresses::REFRESH`].
    pub async fn keep_addresses_fresh(&self, mut stop: tokio::sync::watch::Receiver<bool>) {
        loop {
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep(crate::addresses::REFRESH) => {}
            }
            if let Err(e) = self.refresh_addresses().await {
                tracing::warn!(error = %e, "cannot re-read the tenants' addresses; keeping those in hand");
            }
        }
    }
}
