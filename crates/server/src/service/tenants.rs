//! Operator commands: tenants and their secret keys (used by the CLI).

use super::{InputError, ServiceResult};
use crate::app::api_key_record;
use crate::App;
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::{ApiKeyId, TenantId};
use latchkey_core::secret::{opaque_token, SecretString};
use latchkey_core::settings::TenantSettings;
use latchkey_store::model::{ApiKeyRecord, Tenant};

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
        };
        self.store.insert_tenant(&tenant).await?;
        let (_, key) = self.create_api_key(&tenant.id, "initial").await?;
        Ok((tenant, key))
    }

    pub async fn create_api_key(
        &self,
        tenant: &TenantId,
        name: &str,
    ) -> ServiceResult<(ApiKeyRecord, SecretString)> {
        self.load_tenant(tenant).await?;
        let key = opaque_token("sk_live_", self.rng.as_ref());
        let record = api_key_record(&self.crypto, tenant, name, &key, self.now(), self.rng.as_ref());
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
}
