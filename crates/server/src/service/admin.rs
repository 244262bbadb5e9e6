//! Tenant administration with a secret key: settings and user look-up.

use super::audit::{Actor, Audit, RequestMeta};
use super::policy::Impact;
use super::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::audit::{AuditAction, AuditOutcome};
use latchkey_core::email::Email;
use latchkey_core::factor::FactorKind;
use latchkey_core::ids::UserId;
use latchkey_core::phone::NumberClass;
use latchkey_core::policy::engine::MinAssurance;
use latchkey_core::scope::KeyScope;
use latchkey_core::settings::{AttestationPolicy, TenantSettings, UserVerification};
use latchkey_core::totp;
use latchkey_store::model::{Tenant, User};

/// The top-level settings whose value differs, by their stored (JSON) names: what a
/// settings change's audit record names. Templates and certificates change as a whole
/// field; their contents are not copied into the log.
fn changed_fields(before: &TenantSettings, after: &TenantSettings) -> Vec<String> {
    let (Ok(serde_json::Value::Object(a)), Ok(serde_json::Value::Object(b))) =
        (serde_json::to_value(before), serde_json::to_value(after))
    else {
        return Vec::new();
    };
    let mut names: Vec<String> = b
        .iter()
        .filter(|(k, v)| a.get(k.as_str()) != Some(*v))
        .map(|(k, _)| k.clone())
        .collect();
    names.extend(a.keys().filter(|k| !b.contains_key(k.as_str())).cloned());
    names.sort();
    names
}

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
    /// `aal2` or `phishing_resistant`.
    pub mfa_min_assurance: Option<String>,
    /// `Some(None)` removes the tenant's own grace (and freshness, below).
    pub mfa_enrollment_grace_days: Option<Option<u32>>,
    pub mfa_step_up_secs: Option<Option<u32>>,
    pub totp_window: Option<u64>,
    pub totp_algorithm: Option<String>,
    pub mfa_max_attempts: Option<u64>,
    pub challenge_ttl_secs: Option<Result<u64, String>>,
    pub sms_otp_expiry_secs: Option<Result<u64, String>>,
    pub email_otp_expiry_secs: Option<Result<u64, String>>,
    pub otp_resend_cooldown_secs: Option<Result<u64, String>>,
    /// `Some(None)` allows every country again.
    pub sms_allowed_countries: Option<Option<Vec<String>>>,
    pub sms_allowed_number_classes: Option<Vec<String>>,
    pub send_limits: Option<SendLimitsPatch>,
    pub app_name: Option<String>,
    pub sms_template: Option<String>,
    /// `Some(None)` returns enrollment messages to `sms_template`.
    pub sms_enrollment_template: Option<Option<String>>,
    pub email_subject_template: Option<String>,
    pub email_text_template: Option<String>,
    pub email_html_template: Option<String>,
    pub webauthn: Option<WebauthnPatch>,
    pub branding: Option<BrandingChange>,
    pub adaptive: Option<AdaptiveChange>,
    pub remember_device: Option<RememberChange>,
    /// Notices to word anew (`Some`) or return to the product's words (`None`).
    pub notice_templates:
        Option<std::collections::BTreeMap<String, Option<latchkey_core::notices::NoticeTemplate>>>,
}

/// Remembered-device settings to change.
#[derive(Debug, Default)]
pub struct RememberChange {
    /// `never`, `user_opt_in` or `always`.
    pub mode: Option<String>,
    /// 1 to 365.
    pub days: Option<u64>,
}

/// Adaptive MFA settings to change; `deny_score: Some(None)` never refuses.
#[derive(Debug, Default)]
pub struct AdaptiveChange {
    pub enabled: Option<bool>,
    pub mfa_score: Option<u64>,
    pub deny_score: Option<Option<u64>>,
}

/// Branding to change; `Some(None)` returns a field to the product's default.
#[derive(Debug, Default)]
pub struct BrandingChange {
    pub display_name: Option<Option<String>>,
    pub logo_url: Option<Option<String>>,
    pub primary_color: Option<Option<String>>,
}

/// WebAuthn relying-party settings to change; absent ones keep their value, and
/// `Some(None)` returns `rp_id` or `rp_name` to its default.
#[derive(Debug, Default)]
pub struct WebauthnPatch {
    pub rp_id: Option<Option<String>>,
    pub rp_name: Option<Option<String>>,
    pub origins: Option<Vec<String>>,
    pub user_verification: Option<String>,
    pub attestation: Option<String>,
    pub allowed_aaguids: Option<Vec<String>>,
    pub attestation_ca_pems: Option<Vec<String>>,
    pub allow_cross_origin: Option<bool>,
}

/// Send limits to change; absent ones keep their value.
#[derive(Debug, Default)]
pub struct SendLimitsPatch {
    pub destination_hourly: Option<u32>,
    pub destination_daily: Option<u32>,
    pub user_hourly: Option<u32>,
    pub user_daily: Option<u32>,
    pub ip_hourly: Option<u32>,
    pub ip_daily: Option<u32>,
    pub tenant_hourly: Option<u32>,
    pub tenant_daily: Option<u32>,
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

/// Parses number-class names, deduplicated, or names the unknown ones.
pub fn parse_number_classes(names: &[String]) -> Result<Vec<NumberClass>, String> {
    let mut classes = Vec::new();
    let mut unknown = Vec::new();
    for n in names {
        match NumberClass::parse(n.trim()) {
            Some(c) if !classes.contains(&c) => classes.push(c),
            Some(_) => {}
            None => unknown.push(n.escape_debug().to_string()),
        }
    }
    if unknown.is_empty() {
        Ok(classes)
    } else {
        Err(format!(
            "unknown number type(s): {}; known: {}",
            unknown.join(", "),
            NumberClass::ALL.map(NumberClass::as_str).join(", ")
        ))
    }
}

/// A refused destructive operation: what it was, for the audit record.
pub(crate) struct Attempt<'a> {
    pub action: AuditAction,
    pub user: Option<&'a UserId>,
    pub detail: &'a str,
}

impl App {
    /// Lets a destructive operation through only for a secret key holding `scope` (see
    /// `core::scope`); other actors are judged by the operation's own rules (the operator
    /// at the command line may do anything; a user's session never reaches these). A
    /// refusal is audited as the action attempted, with outcome `refused`. There is no
    /// admin user session in Latchkey (`/v1/admin` takes secret keys only), so a key's
    /// scope is the one way to confirm such an operation.
    pub(crate) async fn require_scope(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        scope: KeyScope,
        attempt: Attempt<'_>,
    ) -> ServiceResult<()> {
        let (Actor::Admin { scopes, .. } | Actor::Client { scopes, .. }) = actor else {
            return Ok(());
        };
        if scopes.contains(&scope) {
            return Ok(());
        }
        self.audit(Audit {
            tenant,
            actor,
            meta,
            user: attempt.user,
            factor: None,
            action: attempt.action,
            outcome: AuditOutcome::Refused,
            detail: Some(format!("{}; needs scope {}", attempt.detail, scope.as_str())),
        })
        .await?;
        Err(ServiceError::InsufficientScope(scope))
    }

    /// Applies `patch` to the tenant's settings (all of it or, with any problem, none), or
    /// with `dry_run` only checks it. When the allowed factor kinds change, also says how
    /// many users have MFA but no factor of an allowed kind: they are asked to enroll one
    /// at their next sign-in, never let in by password alone (review item 4). A dry run
    /// that changes the tenant's level of the MFA policy also says who it would affect and
    /// how (`mfa_settings_impact`). Weakening the tenant's MFA needs the `mfa:admin` scope
    /// (a dry run does not: it saves nothing).
    pub async fn update_settings(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        patch: SettingsPatch,
        dry_run: bool,
    ) -> ServiceResult<(TenantSettings, Option<i64>, Option<Impact>)> {
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
        take(
            "sms_otp_expiry",
            patch.sms_otp_expiry_secs,
            &mut s.sms_otp_expiry_secs,
        );
        take(
            "email_otp_expiry",
            patch.email_otp_expiry_secs,
            &mut s.email_otp_expiry_secs,
        );
        take(
            "otp_resend_cooldown",
            patch.otp_resend_cooldown_secs,
            &mut s.otp_resend_cooldown_secs,
        );
        if let Some(countries) = patch.sms_allowed_countries {
            s.sms_allowed_countries =
                countries.map(|list| list.iter().map(|c| c.trim().to_ascii_uppercase()).collect());
        }
        if let Some(names) = patch.sms_allowed_number_classes {
            match parse_number_classes(&names) {
                Ok(classes) => s.sms_allowed_number_classes = classes,
                Err(e) => problems.push(("sms_allowed_number_classes".into(), e)),
            }
        }
        if let Some(name) = patch.totp_algorithm {
            match totp::Algorithm::parse(name.trim()) {
                Some(a) => s.totp_algorithm = a,
                None => problems.push(("totp_algorithm".into(), "must be SHA1, SHA256 or SHA512".into())),
            }
        }
        if let Some(l) = patch.send_limits {
            let t = &mut s.send_limits;
            for (v, slot) in [
                (l.destination_hourly, &mut t.destination_hourly),
                (l.destination_daily, &mut t.destination_daily),
                (l.user_hourly, &mut t.user_hourly),
                (l.user_daily, &mut t.user_daily),
                (l.ip_hourly, &mut t.ip_hourly),
                (l.ip_daily, &mut t.ip_daily),
                (l.tenant_hourly, &mut t.tenant_hourly),
                (l.tenant_daily, &mut t.tenant_daily),
            ] {
                if let Some(v) = v {
                    *slot = v;
                }
            }
        }
        if let Some(v) = patch.app_name {
            s.app_name = Some(v.trim().to_owned());
        }
        for (v, slot) in [
            (patch.sms_template, &mut s.sms_template),
            (patch.email_subject_template, &mut s.email_subject_template),
            (patch.email_text_template, &mut s.email_text_template),
            (patch.email_html_template, &mut s.email_html_template),
        ] {
            if let Some(v) = v {
                *slot = v;
            }
        }
        if let Some(v) = patch.sms_enrollment_template {
            s.sms_enrollment_template = v;
        }
        if let Some(w) = patch.webauthn {
            let t = &mut s.webauthn;
            if let Some(v) = w.rp_id {
                t.rp_id = v.map(|r| r.trim().to_owned());
            }
            if let Some(v) = w.rp_name {
                t.rp_name = v;
            }
            if let Some(v) = w.origins {
                t.origins = v
                    .into_iter()
                    .map(|o| o.trim().trim_end_matches('/').to_owned())
                    .collect();
            }
            if let Some(v) = w.user_verification {
                match v.as_str() {
                    "required" => t.user_verification = UserVerification::Required,
                    "preferred" => t.user_verification = UserVerification::Preferred,
                    _ => problems.push((
                        "webauthn.user_verification".into(),
                        "must be required or preferred".into(),
                    )),
                }
            }
            if let Some(v) = w.attestation {
                match v.as_str() {
                    "none" => t.attestation = AttestationPolicy::None,
                    "direct" => t.attestation = AttestationPolicy::Direct,
                    _ => problems.push(("webauthn.attestation".into(), "must be none or direct".into())),
                }
            }
            if let Some(v) = w.allowed_aaguids {
                t.allowed_aaguids = v.into_iter().map(|a| a.trim().to_ascii_lowercase()).collect();
            }
            if let Some(v) = w.attestation_ca_pems {
                t.attestation_ca_pems = v;
            }
            if let Some(v) = w.allow_cross_origin {
                t.allow_cross_origin = v;
            }
        }
        if let Some(b) = patch.branding {
            let t = &mut s.branding;
            if let Some(v) = b.display_name {
                t.display_name = v;
            }
            if let Some(v) = b.logo_url {
                t.logo_url = v.map(|u| u.trim().to_owned());
            }
            if let Some(v) = b.primary_color {
                t.primary_color = v.map(|c| c.trim().to_ascii_lowercase());
            }
        }
        if let Some(templates) = patch.notice_templates {
            for (key, t) in templates {
                match t {
                    Some(t) => {
                        s.notice_templates.insert(key, t);
                    }
                    None => {
                        s.notice_templates.remove(&key);
                    }
                }
            }
        }
        if let Some(r) = patch.remember_device {
            if let Some(mode) = r.mode {
                match latchkey_core::devices::RememberMode::parse(&mode) {
                    Some(m) => s.remember_device.mode = m,
                    None => problems.push((
                        "remember_device".into(),
                        "must be never, user_opt_in or always".into(),
                    )),
                }
            }
            if let Some(days) = r.days {
                // Out of range reads as 0 and is reported by `problems()`.
                s.remember_device.days = u16::try_from(days).unwrap_or(0);
            }
        }
        if let Some(a) = patch.adaptive {
            // Out-of-range numbers become ones `problems` refuses with the field's rule.
            let score = |v: u64| u32::try_from(v).unwrap_or(u32::MAX);
            let t = &mut s.adaptive;
            if let Some(v) = a.enabled {
                t.enabled = v;
            }
            if let Some(v) = a.mfa_score {
                t.mfa_score = score(v);
            }
            if let Some(v) = a.deny_score {
                t.deny_score = v.map(score);
            }
        }
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
        if let Some(name) = patch.mfa_min_assurance {
            match name.trim() {
                "aal2" => s.mfa_min_assurance = MinAssurance::Aal2,
                "phishing_resistant" => s.mfa_min_assurance = MinAssurance::PhishingResistant,
                _ => problems.push((
                    "mfa_min_assurance".into(),
                    "must be aal2 or phishing_resistant".into(),
                )),
            }
        }
        if let Some(v) = patch.mfa_enrollment_grace_days {
            s.mfa_enrollment_grace_days = v;
        }
        if let Some(v) = patch.mfa_step_up_secs {
            s.mfa_step_up_secs = v;
        }
        // The tenant's enrollment grace counts from when it began requiring MFA.
        if s.mfa_required && !tenant.settings.mfa_required {
            s.mfa_required_at = Some(self.now());
        } else if !s.mfa_required {
            s.mfa_required_at = None;
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
        let impact = if next.settings.mfa_allowed_factors != tenant.settings.mfa_allowed_factors {
            Some(
                self.store
                    .count_users_to_reenroll(&tenant.id, &next.settings.mfa_allowed_factors)
                    .await?,
            )
        } else {
            None
        };
        if dry_run {
            let affected = if next.settings.mfa_rule() != tenant.settings.mfa_rule() {
                Some(self.mfa_settings_impact(tenant, &next).await?)
            } else {
                None
            };
            return Ok((next.settings, impact, affected));
        }
        let weakened = tenant.settings.mfa_weakened_by(&next.settings);
        if !weakened.is_empty() {
            self.require_scope(
                tenant,
                actor,
                meta,
                KeyScope::MfaAdmin,
                Attempt {
                    action: AuditAction::TenantSettingsChanged,
                    user: None,
                    detail: &format!("weakens {}", weakened.join(",")),
                },
            )
            .await?;
        }
        let updated = self.store.update_tenant_settings(&next, self.now()).await?;
        self.tenants.forget(&tenant.id);
        if !updated {
            return Err(ServiceError::TenantNotFound);
        }
        tracing::info!(tenant_id = %tenant.id, users_to_reenroll = impact.unwrap_or(0), "tenant settings changed");
        let changed = changed_fields(&tenant.settings, &next.settings);
        if !changed.is_empty() {
            self.audit(Audit {
                tenant,
                actor,
                meta,
                user: None,
                factor: None,
                action: AuditAction::TenantSettingsChanged,
                outcome: AuditOutcome::Success,
                detail: Some(changed.join(",")),
            })
            .await?;
        }
        Ok((next.settings, impact, None))
    }

    /// Whether MFA is required for a tenant with `settings`, and by what: `server` (the
    /// server-wide switch) and/or `tenant`.
    pub fn effective_mfa_policy(&self, settings: &TenantSettings) -> (bool, Vec<&'static str>) {
        let mut by = Vec::new();
        if self.config.mfa_required {
            by.push("server");
        }
        if settings.mfa_required {
            by.push("tenant");
        }
        (!by.is_empty(), by)
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
