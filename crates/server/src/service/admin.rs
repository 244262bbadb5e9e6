//! Tenant administration with a secret key: settings and user look-up.

use super::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::email::Email;
use latchkey_core::factor::FactorKind;
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
    pub mfa_required: Option<bool>,
    pub mfa_allowed_factors: Option<Vec<String>>,
    pub totp_window: Option<u64>,
    pub mfa_max_attempts: Option<u64>,
    pub challenge_ttl_secs: Option<Result<u64, String>>,
}

/// Parses factor-kind names, deduplicated, or names the unknown ones.
pub fn parse_factor_kinds(names: &[String]) -> Result<Vec<FactorKind>, String> {
    let mut kinds = Vec::new();
    let mut unknown = Vec::new();
    for n in names {
        match FactorKind::parse(n) {
            Some(k) if !kinds.contains(&k) => kinds.push(k),
            Some(_) => {}
            None => unknown.push(n.escape_debug().to_string()),
        }
    }
    if unknown.is_empty() {
        Ok(kinds)
    } else {
        Err(format!(
            "unknown factor type(s): {}; known: {}",
            unknown.join(", "),
            FactorKind::ALL.map(FactorKind::as_str).join(", ")
        ))
    }
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
        take(
            "challenge_ttl",
            patch.challenge_ttl_secs,
            &mut s.challenge_ttl_secs,
        );
        if let Some(v) = patch.signup_enabled {
            s.signup_enabled = v;
        }
        if let Some(v) = patch.mfa_required {
            s.mfa_required = v;
        }
        if let Some(names) = patch.mfa_allowed_factors {
            match parse_factor_kinds(&names) {
                Ok(kinds) => s.mfa_allowed_factors = kinds,
                Err(e) => problems.push(("mfa_allowed_factors".into(), e)),
            }
        }
        if let Some(v) = patch.totp_window {
            s.totp_window = u8::try_from(v).unwrap_or(u8::MAX);
        }
        if let Some(v) = patch.mfa_max_attempts {
            s.mfa_max_attempts = u32::try_from(v).unwrap_or(u32::MAX);
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
    pub async fn find_user_by_email(&self, tenant: &Tenant, email: &str) -> ServiceResult<Option<User>> {
        match Email::parse(email) {
            Ok(e) => Ok(self.store.find_user_by_email(&tenant.id, e.as_str()).await?),
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
