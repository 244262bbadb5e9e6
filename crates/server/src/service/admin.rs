//! Tenant administration with a secret key: settings and user look-up.

use super::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::email::Email;
use latchkey_core::ids::UserId;
use latchkey_core::settings::TenantSettings;
use latchkey_store::model::{Tenant, User};

/// A partial change to tenant settings; absent fields keep their value. Durations arrive
/// already parsed, or with the reason they could not be, so every problem is reported
/// together.
#[derive(Debug, Default)]
pub struct SettingsPatch {
    pub access_token_ttl_secs: Option<Result<u64, String>>,
    pub refresh_token_ttl_secs: Option<Result<u64, String>>,
    pub signup_enabled: Option<bool>,
}

impl App {
    pub async fn update_settings(
        &self,
        tenant: &Tenant,
        patch: SettingsPatch,
    ) -> ServiceResult<TenantSettings> {
        let mut next = tenant.clone();
        let mut problems: Vec<(String, String)> = Vec::new();
        let s = &mut next.settings;
        let mut take = |field: &str, v: Option<Result<u64, String>>, slot: &mut u64| match v {
            Some(Ok(secs)) => *slot = secs,
            Some(Err(e)) => problems.push((field.to_owned(), e)),
            None => {}
        };
        take(
            "access_token_ttl",
            patch.access_token_ttl_secs,
            &mut s.access_token_ttl_secs,
        );
        take(
            "refresh_token_ttl",
            patch.refresh_token_ttl_secs,
            &mut s.refresh_token_ttl_secs,
        );
        if let Some(v) = patch.signup_enabled {
            s.signup_enabled = v;
        }
        for (field, message) in next.settings.problems() {
            // A field that failed to parse kept its old value; do not report it twice.
            if !problems.iter().any(|(f, _)| f == field) {
                problems.push((field.to_owned(), message));
            }
        }
        if !problems.is_empty() {
            return Err(ServiceError::InvalidSettings(problems));
        }
        if !self.store.update_tenant_settings(&next, self.now()).await? {
            return Err(ServiceError::TenantNotFound);
        }
        tracing::info!(tenant_id = %tenant.id, "tenant settings changed");
        Ok(next.settings)
    }

    /// Looks a user up by email (canonicalised like sign-in does).
    pub async fn find_user_by_email(
        &self,
        tenant: &Tenant,
        email: &str,
    ) -> ServiceResult<Option<User>> {
        match Email::parse(email) {
            Ok(e) => Ok(self
                .store
                .find_user_by_email(&tenant.id, e.as_str())
                .await?),
            Err(_) => Ok(None),
        }
    }

    pub async fn list_users(
        &self,
        tenant: &Tenant,
        after: Option<&UserId>,
        limit: u32,
    ) -> ServiceResult<Vec<User>> {
        Ok(self
            .store
            .list_users(&tenant.id, after, limit.clamp(1, 200))
            .await?)
    }
}
