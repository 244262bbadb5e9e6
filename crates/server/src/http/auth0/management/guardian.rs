//! Guardian (`/api/v2/guardian/*`): the tenant's factors, MFA policy, SMS provider and SMS
//! templates, as the same settings and providers `/v1/admin/config` and
//! `/v1/admin/sms-provider` change (`service::admin::update_settings`,
//! `service::providers`). Auth0's names map onto Latchkey's:
//!
//! | Auth0 factor | Latchkey kind |
//! |---|---|
//! | `sms` | `sms` |
//! | `otp` | `totp` |
//! | `email` | `email_otp` |
//! | `webauthn-roaming`, `webauthn-platform` | `webauthn` (one kind: both names show and change it) |
//! | `recovery-code` | `backup_codes` |
//! | `push-notification`, `duo` | none: always disabled, enabling them is refused |

use super::dto::*;
use super::{READ_FACTORS, READ_POLICIES, UPDATE_FACTORS, UPDATE_POLICIES};
use crate::http::auth0::credentials::Manager;
use crate::http::auth0::{Auth0, Auth0Error, Auth0ErrorBody};
use crate::http::common::extract::StrictJson;
use crate::service::admin::{AdaptiveChange, SettingsPatch};
use crate::App;
use axum::extract::{Path, State};
use axum::Json;
use latchkey_core::factor::FactorKind;
use latchkey_core::settings::TenantSettings;
use latchkey_delivery::config::SmsProviderConfig;
use latchkey_delivery::providers::SmsProviders;

/// Auth0's factor names, in the order Auth0 lists them.
const FACTOR_NAMES: [&str; 8] = [
    "sms",
    "push-notification",
    "otp",
    "email",
    "duo",
    "webauthn-roaming",
    "webauthn-platform",
    "recovery-code",
];

/// The Latchkey kind an Auth0 factor name is: `Some(None)` for a factor Latchkey does not
/// have, `None` for a name Auth0 does not have either.
fn factor_kind(name: &str) -> Option<Option<FactorKind>> {
    Some(match name {
        "sms" => Some(FactorKind::Sms),
        "otp" => Some(FactorKind::Totp),
        "email" => Some(FactorKind::EmailOtp),
        "webauthn-roaming" | "webauthn-platform" => Some(FactorKind::Webauthn),
        "recovery-code" => Some(FactorKind::BackupCodes),
        "push-notification" | "duo" => None,
        _ => return None,
    })
}

fn factor_view(s: &TenantSettings, name: &'static str) -> GuardianFactor {
    GuardianFactor {
        name,
        enabled: factor_kind(name).flatten().is_some_and(|k| s.allows(k)),
        trial_expired: false,
    }
}

fn known_factor(name: &str) -> Result<(&'static str, Option<FactorKind>), Auth0Error> {
    let known = FACTOR_NAMES.iter().find(|n| **n == name);
    match (known, factor_kind(name)) {
        (Some(n), Some(kind)) => Ok((n, kind)),
        _ => Err(Auth0Error::bad_request(
            "invalid_uri",
            format!(
                "Path validation error: the factor name must be one of {}",
                FACTOR_NAMES.join(", ")
            ),
        )),
    }
}

#[utoipa::path(get, path = "/api/v2/guardian/factors", tag = "auth0",
    responses((status = 200, description = "Every Guardian factor and whether the tenant allows it", body = [GuardianFactor]),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs read:guardian_factors", body = Auth0ErrorBody)),
    security(("management_token" = ["read:guardian_factors"]), ("secret_key" = [])))]
pub async fn list_factors(m: Manager) -> Result<Json<Vec<GuardianFactor>>, Auth0Error> {
    m.actor(READ_FACTORS)?;
    let s = &m.tenant.settings;
    Ok(Json(FACTOR_NAMES.iter().map(|n| factor_view(s, n)).collect()))
}

#[utoipa::path(get, path = "/api/v2/guardian/factors/{name}", tag = "auth0",
    params(("name" = FactorName, Path, description = "An Auth0 factor name (`sms`, `otp`, …)")),
    responses((status = 200, description = "One factor", body = GuardianFactor),
              (status = 400, description = "invalid_uri: not a factor name", body = Auth0ErrorBody),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope", body = Auth0ErrorBody)),
    security(("management_token" = ["read:guardian_factors"]), ("secret_key" = [])))]
pub async fn get_factor(m: Manager, Path(name): Path<String>) -> Result<Json<GuardianFactor>, Auth0Error> {
    m.actor(READ_FACTORS)?;
    let (name, _) = known_factor(&name)?;
    Ok(Json(factor_view(&m.tenant.settings, name)))
}

#[utoipa::path(put, path = "/api/v2/guardian/factors/{name}", tag = "auth0",
    params(("name" = FactorName, Path, description = "An Auth0 factor name (`sms`, `otp`, …)")),
    request_body = FactorEnabled,
    responses((status = 200, description = "The factor's new state (the tenant's `mfa_allowed_factors`)", body = FactorEnabled),
              (status = 415, description = "unsupported_media_type", body = Auth0ErrorBody),
              (status = 400, description = "invalid_uri; invalid_body; unsupported_factor (push-notification, duo); invalid_settings", body = Auth0ErrorBody),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs update:guardian_factors (or a secret key with `mfa:admin` where the change weakens MFA)", body = Auth0ErrorBody)),
    security(("management_token" = ["update:guardian_factors"]), ("secret_key" = [])))]
pub async fn put_factor(
    State(app): State<App>,
    m: Manager,
    Path(name): Path<String>,
    StrictJson(req, _): StrictJson<FactorEnabled, Auth0>,
) -> Result<Json<FactorEnabled>, Auth0Error> {
    let actor = m.actor(UPDATE_FACTORS)?;
    let (name, kind) = known_factor(&name)?;
    let Some(kind) = kind else {
        if req.enabled {
            return Err(Auth0Error::bad_request(
                "unsupported_factor",
                format!("The {name} factor is not supported by this server"),
            ));
        }
        return Ok(Json(FactorEnabled { enabled: false }));
    };
    let mut kinds = m.tenant.settings.mfa_allowed_factors.clone();
    kinds.retain(|k| *k != kind);
    if req.enabled {
        kinds.push(kind);
    }
    let patch = SettingsPatch {
        mfa_allowed_factors: Some(kinds.iter().map(|k| k.as_str().to_owned()).collect()),
        ..Default::default()
    };
    let (settings, ..) = app
        .update_settings(&m.tenant, &actor, &m.meta, patch, false)
        .await?;
    Ok(Json(FactorEnabled {
        enabled: settings.allows(kind),
    }))
}

/// `all-applications` while MFA is required (by the tenant or the server-wide switch), and
/// `confidence-score` while adaptive MFA is on.
fn policies(app: &App, s: &TenantSettings) -> Vec<String> {
    let mut out = Vec::new();
    if app.effective_mfa_policy(s).0 {
        out.push("all-applications".into());
    }
    if s.adaptive.enabled {
        out.push("confidence-score".into());
    }
    out
}

#[utoipa::path(get, path = "/api/v2/guardian/policies", tag = "auth0",
    responses((status = 200, description = "`all-applications` while MFA is required, `confidence-score` while adaptive MFA is on", body = [PolicyName]),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs read:mfa_policies or read:guardian_factors", body = Auth0ErrorBody)),
    security(("management_token" = ["read:mfa_policies"]), ("secret_key" = [])))]
pub async fn get_policies(State(app): State<App>, m: Manager) -> Result<Json<Vec<String>>, Auth0Error> {
    m.actor(READ_POLICIES)?;
    Ok(Json(policies(&app, &m.tenant.settings)))
}

#[utoipa::path(put, path = "/api/v2/guardian/policies", tag = "auth0",
    request_body(content = Vec<PolicyName>, description = "`[\"all-applications\"]` (MFA required), `[\"confidence-score\"]` (adaptive MFA), both, or `[]` (neither)"),
    responses((status = 200, description = "The policy now", body = [PolicyName]),
              (status = 415, description = "unsupported_media_type", body = Auth0ErrorBody),
              (status = 400, description = "invalid_body", body = Auth0ErrorBody),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs update:mfa_policies or update:guardian_factors (or a key with `mfa:admin` to weaken)", body = Auth0ErrorBody)),
    security(("management_token" = ["update:mfa_policies"]), ("secret_key" = [])))]
pub async fn put_policies(
    State(app): State<App>,
    m: Manager,
    StrictJson(req, _): StrictJson<Vec<String>, Auth0>,
) -> Result<Json<Vec<String>>, Auth0Error> {
    let actor = m.actor(UPDATE_POLICIES)?;
    let mut required = false;
    let mut adaptive = false;
    for p in &req {
        match p.as_str() {
            "all-applications" => required = true,
            "confidence-score" => adaptive = true,
            _ => {
                return Err(Auth0Error::bad_request(
                    "invalid_body",
                    "Payload validation error: a policy is all-applications or confidence-score",
                ))
            }
        }
    }
    // `["all-applications"]` alone leaves adaptive MFA as it is; `[]` turns both off.
    let adaptive = (adaptive || req.is_empty()).then_some(adaptive);
    let patch = SettingsPatch {
        mfa_required: Some(required),
        adaptive: adaptive.map(|enabled| AdaptiveChange {
            enabled: Some(enabled),
            ..Default::default()
        }),
        ..Default::default()
    };
    let (settings, ..) = app
        .update_settings(&m.tenant, &actor, &m.meta, patch, false)
        .await?;
    Ok(Json(policies(&app, &settings)))
}

/// Auth0's name for the provider SMS goes through: the tenant's (or server's) Twilio is
/// `twilio`, its webhook `phone-message-hook`, anything else the platform's own, `auth0`.
fn selected(p: &SmsProviders) -> &'static str {
    match p.primary {
        SmsProviderConfig::Twilio { .. } => "twilio",
        SmsProviderConfig::Webhook { .. } => "phone-message-hook",
        SmsProviderConfig::AwsSns { .. } | SmsProviderConfig::Vonage { .. } | SmsProviderConfig::Console => {
            "auth0"
        }
    }
}

#[utoipa::path(get, path = "/api/v2/guardian/factors/{name}/selected-provider", tag = "auth0",
    params(("name" = PhoneFactor, Path, description = "`sms` or `phone`")),
    responses((status = 200, description = "The provider SMS goes through", body = SelectedProvider),
              (status = 400, description = "invalid_uri: neither sms nor phone", body = Auth0ErrorBody),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope", body = Auth0ErrorBody)),
    security(("management_token" = ["read:guardian_factors"]), ("secret_key" = [])))]
pub async fn get_selected_provider(
    State(app): State<App>,
    m: Manager,
    Path(channel): Path<String>,
) -> Result<Json<SelectedProvider>, Auth0Error> {
    m.actor(READ_FACTORS)?;
    sms_channel(&channel)?;
    let (providers, ..) = app.sms_providers(&m.tenant.id).await?;
    Ok(Json(SelectedProvider {
        provider: selected(&providers).to_owned(),
    }))
}

fn sms_channel(channel: &str) -> Result<(), Auth0Error> {
    if channel == "sms" || channel == "phone" {
        Ok(())
    } else {
        Err(Auth0Error::bad_request(
            "invalid_uri",
            "Path validation error: the factor must be sms or phone",
        ))
    }
}

#[utoipa::path(put, path = "/api/v2/guardian/factors/{name}/selected-provider", tag = "auth0",
    params(("name" = PhoneFactor, Path, description = "`sms` or `phone`")),
    request_body = SelectedProvider,
    responses((status = 200, description = "`auth0` returns to the server's provider (the tenant's own is removed); `twilio` takes effect once Twilio's credentials are set; `phone-message-hook` needs the tenant's webhook provider", body = SelectedProvider),
              (status = 415, description = "unsupported_media_type", body = Auth0ErrorBody),
              (status = 400, description = "invalid_body", body = Auth0ErrorBody),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs update:guardian_factors (a key: `mfa:admin`)", body = Auth0ErrorBody),
              (status = 409, description = "provider_not_configured: phone-message-hook without the tenant's webhook provider", body = Auth0ErrorBody)),
    security(("management_token" = ["update:guardian_factors"]), ("secret_key" = [])))]
pub async fn put_selected_provider(
    State(app): State<App>,
    m: Manager,
    Path(channel): Path<String>,
    StrictJson(req, _): StrictJson<SelectedProvider, Auth0>,
) -> Result<Json<SelectedProvider>, Auth0Error> {
    let actor = m.actor(UPDATE_FACTORS)?;
    sms_channel(&channel)?;
    let (providers, ..) = app.sms_providers(&m.tenant.id).await?;
    match req.provider.as_str() {
        "auth0" => {
            app.clear_provider(&m.tenant, &actor, &m.meta, "sms").await?;
        }
        // Latchkey keeps one SMS configuration: Twilio is used once its credentials are set
        // (`PUT …/providers/twilio`), which is what Auth0's next step is.
        "twilio" => {}
        "phone-message-hook" => {
            if !matches!(providers.primary, SmsProviderConfig::Webhook { .. }) {
                return Err(Auth0Error::new(
                    axum::http::StatusCode::CONFLICT,
                    "provider_not_configured",
                    "configure the tenant's webhook SMS provider first (PUT /v1/admin/sms-provider)",
                ));
            }
        }
        _ => {
            return Err(Auth0Error::bad_request(
                "invalid_body",
                "Payload validation error: provider must be one of auth0, twilio, phone-message-hook",
            ))
        }
    }
    Ok(Json(SelectedProvider {
        provider: req.provider,
    }))
}

fn twilio_view(p: &SmsProviders) -> TwilioView {
    let twilio = [Some(&p.primary), p.fallback.as_ref()]
        .into_iter()
        .flatten()
        .find_map(|c| match c {
            SmsProviderConfig::Twilio {
                account_sid,
                from_number,
                ..
            } => Some((account_sid.clone(), from_number.clone())),
            _ => None,
        });
    TwilioView {
        sid: twilio.as_ref().map(|t| t.0.clone()),
        from: twilio.map(|t| t.1),
        messaging_service_sid: None,
    }
}

#[utoipa::path(get, path = "/api/v2/guardian/factors/{name}/providers/twilio", tag = "auth0",
    params(("name" = PhoneFactor, Path, description = "`sms` or `phone`")),
    responses((status = 200, description = "The Twilio configuration, without its auth token (all `null` without one)", body = TwilioView),
              (status = 400, description = "invalid_uri: neither sms nor phone", body = Auth0ErrorBody),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope", body = Auth0ErrorBody)),
    security(("management_token" = ["read:guardian_factors"]), ("secret_key" = [])))]
pub async fn get_twilio(
    State(app): State<App>,
    m: Manager,
    Path(channel): Path<String>,
) -> Result<Json<TwilioView>, Auth0Error> {
    m.actor(READ_FACTORS)?;
    sms_channel(&channel)?;
    let (providers, ..) = app.sms_providers(&m.tenant.id).await?;
    Ok(Json(twilio_view(&providers)))
}

#[utoipa::path(put, path = "/api/v2/guardian/factors/{name}/providers/twilio", tag = "auth0",
    params(("name" = PhoneFactor, Path, description = "`sms` or `phone`")),
    request_body = TwilioPut,
    responses((status = 200, description = "Twilio is now the tenant's SMS provider (a fallback it had is kept); the auth token is not shown", body = TwilioView),
              (status = 415, description = "unsupported_media_type", body = Auth0ErrorBody),
              (status = 400, description = "invalid_body; invalid_provider", body = Auth0ErrorBody),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope: needs update:guardian_factors (a key: `mfa:admin`)", body = Auth0ErrorBody)),
    security(("management_token" = ["update:guardian_factors"]), ("secret_key" = [])))]
pub async fn put_twilio(
    State(app): State<App>,
    m: Manager,
    Path(channel): Path<String>,
    StrictJson(req, _): StrictJson<TwilioPut, Auth0>,
) -> Result<Json<TwilioView>, Auth0Error> {
    let actor = m.actor(UPDATE_FACTORS)?;
    sms_channel(&channel)?;
    if req.messaging_service_sid.is_some() {
        return Err(Auth0Error::bad_request(
            "invalid_body",
            "messaging_service_sid is not supported: give the sending number as from",
        ));
    }
    let (providers, source, _) = app.sms_providers(&m.tenant.id).await?;
    // What is left out keeps the tenant's current Twilio values (never the server's).
    let current = match (&providers.primary, source) {
        (
            SmsProviderConfig::Twilio {
                account_sid,
                auth_token,
                from_number,
                base_url,
            },
            crate::service::providers::ProviderSource::Tenant,
        ) => Some((account_sid, auth_token, from_number, base_url)),
        _ => None,
    };
    let pick = |given: Option<String>, kept: Option<&String>, field: &str| {
        given.or_else(|| kept.cloned()).ok_or_else(|| {
            Auth0Error::bad_request(
                "invalid_body",
                format!("Payload validation error: {field} is required"),
            )
        })
    };
    let mut body = serde_json::json!({
        "provider": "twilio",
        "account_sid": pick(req.sid, current.map(|c| c.0), "sid")?,
        "auth_token": pick(req.auth_token, current.map(|c| c.1), "auth_token")?,
        "from_number": pick(req.from, current.map(|c| c.2), "from")?,
    });
    if let Some(url) = current.and_then(|c| c.3.clone()) {
        body["base_url"] = url.into();
    }
    let fallback = match source {
        crate::service::providers::ProviderSource::Tenant => providers
            .fallback
            .clone()
            .filter(|f| !matches!(f, SmsProviderConfig::Twilio { .. })),
        _ => None,
    };
    if let Some(f) = fallback {
        body["fallback"] = serde_json::to_value(&f)
            .map_err(|e| Auth0Error::from(crate::service::ServiceError::Internal(e.to_string())))?;
    }
    let saved = app.set_sms_provider(&m.tenant, &actor, &m.meta, &body).await?;
    Ok(Json(twilio_view(&saved)))
}

#[utoipa::path(get, path = "/api/v2/guardian/factors/phone/message-types", tag = "auth0",
    responses((status = 200, description = "Always `[\"sms\"]`: Latchkey sends no voice calls", body = MessageTypes),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope", body = Auth0ErrorBody)),
    security(("management_token" = ["read:guardian_factors"]), ("secret_key" = [])))]
pub async fn get_message_types(m: Manager) -> Result<Json<MessageTypes>, Auth0Error> {
    m.actor(READ_FACTORS)?;
    Ok(Json(MessageTypes {
        message_types: vec!["sms".into()],
    }))
}

#[utoipa::path(put, path = "/api/v2/guardian/factors/phone/message-types", tag = "auth0",
    request_body = MessageTypes,
    responses((status = 200, description = "Only `[\"sms\"]` is accepted", body = MessageTypes),
              (status = 415, description = "unsupported_media_type", body = Auth0ErrorBody),
              (status = 400, description = "invalid_body: voice is not supported", body = Auth0ErrorBody),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope", body = Auth0ErrorBody)),
    security(("management_token" = ["update:guardian_factors"]), ("secret_key" = [])))]
pub async fn put_message_types(
    m: Manager,
    StrictJson(req, _): StrictJson<MessageTypes, Auth0>,
) -> Result<Json<MessageTypes>, Auth0Error> {
    m.actor(UPDATE_FACTORS)?;
    if req.message_types.is_empty() || req.message_types.iter().any(|t| t != "sms") {
        return Err(Auth0Error::bad_request(
            "invalid_body",
            "only [\"sms\"] is supported: this server sends no voice messages",
        ));
    }
    Ok(Json(MessageTypes {
        message_types: vec!["sms".into()],
    }))
}

/// Latchkey's template placeholders in Auth0's syntax, and back.
fn to_auth0(t: &str) -> String {
    t.replace("{code}", "{{code}}")
        .replace("{app_name}", "{{tenant.friendly_name}}")
}

fn from_auth0(t: &str) -> String {
    t.replace("{{code}}", "{code}")
        .replace("{{tenant.friendly_name}}", "{app_name}")
        .replace("{{tenant.name}}", "{app_name}")
}

fn templates(s: &TenantSettings) -> SmsTemplates {
    SmsTemplates {
        enrollment_message: to_auth0(s.sms_enrollment_template.as_deref().unwrap_or(&s.sms_template)),
        verification_message: to_auth0(&s.sms_template),
    }
}

#[utoipa::path(get, path = "/api/v2/guardian/factors/sms/templates", tag = "auth0",
    responses((status = 200, description = "The tenant's SMS texts (`sms_enrollment_template`, `sms_template`) in Auth0's syntax", body = SmsTemplates),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope", body = Auth0ErrorBody)),
    security(("management_token" = ["read:guardian_factors"]), ("secret_key" = [])))]
pub async fn get_templates(m: Manager) -> Result<Json<SmsTemplates>, Auth0Error> {
    m.actor(READ_FACTORS)?;
    Ok(Json(templates(&m.tenant.settings)))
}

#[utoipa::path(put, path = "/api/v2/guardian/factors/sms/templates", tag = "auth0",
    request_body = SmsTemplates,
    responses((status = 200, description = "The texts now", body = SmsTemplates),
              (status = 415, description = "unsupported_media_type", body = Auth0ErrorBody),
              (status = 400, description = "invalid_body; invalid_settings (each must contain {{code}})", body = Auth0ErrorBody),
              (status = 401, description = "invalid_token", body = Auth0ErrorBody),
              (status = 403, description = "insufficient_scope", body = Auth0ErrorBody)),
    security(("management_token" = ["update:guardian_factors"]), ("secret_key" = [])))]
pub async fn put_templates(
    State(app): State<App>,
    m: Manager,
    StrictJson(req, _): StrictJson<SmsTemplates, Auth0>,
) -> Result<Json<SmsTemplates>, Auth0Error> {
    let actor = m.actor(UPDATE_FACTORS)?;
    let verification = from_auth0(&req.verification_message);
    let enrollment = from_auth0(&req.enrollment_message);
    let patch = SettingsPatch {
        sms_enrollment_template: Some((enrollment != verification).then_some(enrollment)),
        sms_template: Some(verification),
        ..Default::default()
    };
    let (settings, ..) = app
        .update_settings(&m.tenant, &actor, &m.meta, patch, false)
        .await?;
    Ok(Json(templates(&settings)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_syntax_round_trips() {
        let latchkey = "{app_name}: your code is {code}.";
        assert_eq!(
            to_auth0(latchkey),
            "{{tenant.friendly_name}}: your code is {{code}}."
        );
        assert_eq!(from_auth0(&to_auth0(latchkey)), latchkey);
        assert_eq!(
            from_auth0("{{code}} for {{tenant.name}}"),
            "{code} for {app_name}"
        );
    }

    #[test]
    fn every_listed_name_is_known() {
        for n in FACTOR_NAMES {
            assert!(known_factor(n).is_ok(), "{n}");
        }
        assert!(known_factor("voice").is_err());
        assert_eq!(factor_kind("duo"), Some(None));
    }
}
