//! Tenant administration routes (`/v1/admin/*`), authorised by a tenant secret key.

use super::dto::*;
use super::error::{ApiError, ErrorBody};
use super::V1;
use crate::http::common::extract::{invalid_query, path_user, AdminCtx, Meta, StrictJson, StrictQuery};
use crate::http::common::page::{page_size, Page};
use crate::service::admin::{
    AdaptiveChange, BrandingChange, RememberChange, SendLimitsPatch, SettingsPatch, WebauthnPatch,
};
use crate::service::audit::Actor;
use crate::service::providers::ProviderSource;
use crate::service::tickets::TicketRequest;
use crate::service::ServiceError;
use crate::App;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::duration::{format_secs, parse_secs};
use latchkey_core::factor::FactorKind;
use latchkey_core::ids::UserId;
use latchkey_core::settings::TenantSettings;
use latchkey_store::model::Tenant;
use serde::Deserialize;
use utoipa::IntoParams;

fn duration(v: DurationInput) -> Result<u64, String> {
    match v {
        DurationInput::Seconds(s) => Ok(s),
        DurationInput::Text(t) => parse_secs(&t),
    }
}

fn settings_view(app: &App, tenant: &Tenant, s: &TenantSettings) -> SettingsView {
    let (mfa_required, required_by) = app.effective_mfa_policy(s);
    SettingsView {
        tenant_id: tenant.id.to_string(),
        effective_policy: EffectivePolicyView {
            mfa_required,
            required_by,
            server_setting: app
                .config
                .mfa_required
                .then(|| app.config.mfa_required_source.clone())
                .flatten(),
        },
        impact: None,
        access_token_ttl: format_secs(s.access_token_ttl_secs),
        refresh_token_ttl: format_secs(s.refresh_token_ttl_secs),
        signup_enabled: s.signup_enabled,
        mfa_required: s.mfa_required,
        mfa_allowed_factors: s.mfa_allowed_factors.iter().map(|k| k.as_str()).collect(),
        mfa_min_assurance: s.mfa_min_assurance.as_str(),
        mfa_enrollment_grace_days: s.mfa_enrollment_grace_days,
        mfa_step_up_secs: s.mfa_step_up_secs,
        mfa_required_since: s.mfa_required_at.map(latchkey_core::time::rfc3339),
        totp_window: s.totp_window,
        totp_algorithm: s.totp_algorithm.as_str(),
        mfa_max_attempts: s.mfa_max_attempts,
        challenge_ttl: format_secs(s.challenge_ttl_secs),
        sms_otp_expiry: format_secs(s.sms_otp_expiry_secs),
        email_otp_expiry: format_secs(s.email_otp_expiry_secs),
        otp_resend_cooldown: format_secs(s.otp_resend_cooldown_secs),
        sms_allowed_countries: s.sms_allowed_countries.clone(),
        sms_allowed_number_classes: s.sms_allowed_number_classes.iter().map(|c| c.as_str()).collect(),
        send_limits: SendLimitsView {
            destination_hourly: Some(s.send_limits.destination_hourly),
            destination_daily: Some(s.send_limits.destination_daily),
            user_hourly: Some(s.send_limits.user_hourly),
            user_daily: Some(s.send_limits.user_daily),
            ip_hourly: Some(s.send_limits.ip_hourly),
            ip_daily: Some(s.send_limits.ip_daily),
            tenant_hourly: Some(s.send_limits.tenant_hourly),
            tenant_daily: Some(s.send_limits.tenant_daily),
        },
        app_name: s.app_name.clone(),
        sms_template: s.sms_template.clone(),
        sms_enrollment_template: s.sms_enrollment_template.clone(),
        email_subject_template: s.email_subject_template.clone(),
        email_text_template: s.email_text_template.clone(),
        email_html_template: s.email_html_template.clone(),
        webauthn: WebauthnSettingsView::from(&s.webauthn),
        branding: BrandingView {
            display_name: s.branding.display_name.clone(),
            logo_url: s.branding.logo_url.clone(),
            primary_color: s.branding.primary_color.clone(),
        },
        notice_templates: s.notice_templates.clone(),
        remember_device: s.remember_device.mode.as_str(),
        remember_device_days: s.remember_device.days,
        adaptive: AdaptiveView {
            enabled: s.adaptive.enabled,
            mfa_score: s.adaptive.mfa_score,
            deny_score: s.adaptive.deny_score,
        },
    }
}

#[utoipa::path(get, path = "/v1/admin/config", tag = "admin",
    responses((status = 200, description = "The tenant's settings", body = SettingsView),
              (status = 401, description = "invalid_api_key", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn get_config(State(app): State<App>, AdminCtx { tenant, .. }: AdminCtx<V1>) -> Json<SettingsView> {
    Json(settings_view(&app, &tenant, &tenant.settings))
}

#[utoipa::path(patch, path = "/v1/admin/config", tag = "admin",
    params(PatchConfigQuery),
    request_body = SettingsPatchRequest,
    responses((status = 200, description = "The updated settings (with `dry_run=true`, what they would be; nothing saved), and the users a change of the allowed factors affects", body = SettingsView),
              (status = 400, description = "invalid_settings, listing every problem", body = ErrorBody),
              (status = 401, description = "invalid_api_key", body = ErrorBody),
              (status = 403, description = "insufficient_scope: weakening the tenant's MFA (`mfa_required` off, a lower `mfa_min_assurance`, a longer `mfa_enrollment_grace_days` while required) needs a key with `mfa:admin`", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn patch_config(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    query: Result<Query<PatchConfigQuery>, axum::extract::rejection::QueryRejection>,
    StrictJson(req, _): StrictJson<SettingsPatchRequest, V1>,
) -> Result<Json<SettingsView>, ApiError> {
    // Taken as a `Result` so that a bad body is answered before a bad query, as ever.
    let Query(q) = query.map_err(|_| invalid_query("unknown or malformed query parameter"))?;
    let patch = SettingsPatch {
        access_token_ttl_secs: req.access_token_ttl.map(duration),
        refresh_token_ttl_secs: req.refresh_token_ttl.map(duration),
        signup_enabled: req.signup_enabled,
        mfa_required: req.mfa_required,
        mfa_allowed_factors: req.mfa_allowed_factors,
        mfa_min_assurance: req.mfa_min_assurance,
        mfa_enrollment_grace_days: req.mfa_enrollment_grace_days,
        mfa_step_up_secs: req.mfa_step_up_secs,
        totp_window: req.totp_window,
        totp_algorithm: req.totp_algorithm,
        mfa_max_attempts: req.mfa_max_attempts,
        challenge_ttl_secs: req.challenge_ttl.map(duration),
        sms_otp_expiry_secs: req.sms_otp_expiry.map(duration),
        email_otp_expiry_secs: req.email_otp_expiry.map(duration),
        otp_resend_cooldown_secs: req.otp_resend_cooldown.map(duration),
        sms_allowed_countries: req.sms_allowed_countries,
        sms_allowed_number_classes: req.sms_allowed_number_classes,
        send_limits: req.send_limits.map(|l| SendLimitsPatch {
            destination_hourly: l.destination_hourly,
            destination_daily: l.destination_daily,
            user_hourly: l.user_hourly,
            user_daily: l.user_daily,
            ip_hourly: l.ip_hourly,
            ip_daily: l.ip_daily,
            tenant_hourly: l.tenant_hourly,
            tenant_daily: l.tenant_daily,
        }),
        app_name: req.app_name,
        sms_template: req.sms_template,
        sms_enrollment_template: req.sms_enrollment_template,
        email_subject_template: req.email_subject_template,
        email_text_template: req.email_text_template,
        email_html_template: req.email_html_template,
        webauthn: req.webauthn.map(|w| WebauthnPatch {
            rp_id: w.rp_id,
            rp_name: w.rp_name,
            origins: w.origins,
            user_verification: w.user_verification,
            attestation: w.attestation,
            allowed_aaguids: w.allowed_aaguids,
            attestation_ca_pems: w.attestation_ca_pems,
            allow_cross_origin: w.allow_cross_origin,
        }),
        branding: req.branding.map(|b| BrandingChange {
            display_name: b.display_name,
            logo_url: b.logo_url,
            primary_color: b.primary_color,
        }),
        notice_templates: req.notice_templates,
        remember_device: Some(RememberChange {
            mode: req.remember_device,
            days: req.remember_device_days,
        }),
        adaptive: req.adaptive.map(|a| AdaptiveChange {
            enabled: a.enabled,
            mfa_score: a.mfa_score,
            deny_score: a.deny_score,
        }),
    };
    let (settings, impact, affected) = app
        .update_settings(
            &tenant,
            &Actor::admin(&key),
            &meta,
            patch,
            q.dry_run.unwrap_or(false),
        )
        .await?;
    let mut view = settings_view(&app, &tenant, &settings);
    if impact.is_some() || affected.is_some() {
        view.impact = Some(ImpactView::new(impact, affected.as_ref()));
    }
    Ok(Json(view))
}

#[utoipa::path(get, path = "/v1/admin/users/{user_id}", tag = "admin",
    params(("user_id" = String, Path, description = "A user id, usr_…")),
    responses((status = 200, description = "The user", body = UserView),
              (status = 404, description = "user_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn get_user(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    let id = path_user(&user_id)?;
    let user = app.get_user(&tenant.id, &id).await?;
    Ok(Json(UserView::new(&user, app.user_phone(&user))))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct UserQuery {
    /// Exact (canonicalised) email to look up.
    pub email: Option<String>,
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// The `next_after` of the previous page.
    pub after: Option<String>,
}

#[utoipa::path(get, path = "/v1/admin/users", tag = "admin",
    params(UserQuery),
    responses((status = 200, description = "Users, by email or a page of all", body = UserList),
              (status = 400, description = "invalid_query", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn list_users(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    StrictQuery(q, _): StrictQuery<UserQuery, V1>,
) -> Result<Json<UserList>, ApiError> {
    if let Some(email) = q.email {
        let users = app.find_user_by_email(&tenant, &email).await?;
        return Ok(Json(UserList {
            users: users
                .iter()
                .map(|u| UserView::new(u, app.user_phone(u)))
                .collect(),
            next_after: None,
        }));
    }
    let after = match q.after.as_deref() {
        Some(a) => Some(UserId::parse(a).map_err(|_| invalid_query("after must be a user id"))?),
        None => None,
    };
    let size = page_size(q.limit);
    let users = app.list_users(&tenant, after.as_ref(), size).await?;
    let page = Page::new(users, size, |u| u.id.to_string());
    Ok(Json(UserList {
        users: page
            .items
            .iter()
            .map(|u| UserView::new(u, app.user_phone(u)))
            .collect(),
        next_after: page.next,
    }))
}

#[utoipa::path(get, path = "/v1/admin/audit-events", tag = "admin",
    params(AuditQuery),
    responses((status = 200, description = "Audit events, newest first", body = AuditList),
              (status = 400, description = "invalid_query", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn list_audit_events(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    StrictQuery(q, _): StrictQuery<AuditQuery, V1>,
) -> Result<Json<AuditList>, ApiError> {
    let user = match q.user_id.as_deref() {
        Some(u) => Some(UserId::parse(u).map_err(|_| invalid_query("user_id must be a user id"))?),
        None => None,
    };
    if q.before
        .as_deref()
        .is_some_and(|b| !b.starts_with("evt_") || b.len() > 40)
    {
        return Err(invalid_query("before must be an event id").into());
    }
    let size = page_size(q.limit);
    let events = app
        .list_audit(&tenant, user.as_ref(), q.before.as_deref(), size)
        .await?;
    let page = Page::new(events, size, |e| e.id.clone());
    Ok(Json(AuditList {
        events: page
            .items
            .into_iter()
            .map(|e| AuditEventView {
                id: e.id,
                action: e.action,
                outcome: e.outcome,
                actor: e.actor,
                user_id: e.user_id.map(|u| u.to_string()),
                factor_id: e.factor_id.map(|f| f.to_string()),
                ip: e.ip,
                detail: e.detail,
                created_at: latchkey_core::time::rfc3339(e.created_at),
            })
            .collect(),
        next_before: page.next,
    }))
}

/// A sender an embedding application gave in code: only its name is known.
fn host_provider_view(name: &str) -> serde_json::Value {
    serde_json::json!({ "provider": name, "source": ProviderSource::Host.as_str() })
}

fn provider_view(
    primary: serde_json::Value,
    fallback: Option<serde_json::Value>,
    source: &str,
) -> serde_json::Value {
    let mut v = primary;
    if let Some(obj) = v.as_object_mut() {
        if let Some(f) = fallback {
            obj.insert("fallback".into(), f);
        }
        obj.insert("source".into(), source.into());
    }
    v
}

#[utoipa::path(get, path = "/v1/admin/sms-provider", tag = "admin",
    responses((status = 200, description = "The SMS provider in use, secrets redacted; `source` is tenant, server or default (console)")),
    security(("secret_key" = [])))]
pub async fn get_sms_provider(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (p, source, _) = app.sms_providers(&tenant.id).await?;
    if let (ProviderSource::Host, Some(s)) = (source, &app.host_senders.sms) {
        return Ok(Json(host_provider_view(s.provider())));
    }
    Ok(Json(provider_view(
        p.primary.redacted(),
        p.fallback.as_ref().map(|f| f.redacted()),
        source.as_str(),
    )))
}

#[utoipa::path(put, path = "/v1/admin/sms-provider", tag = "admin",
    request_body(content = serde_json::Value, description = "One provider object (twilio, aws_sns, vonage, webhook or console), with an optional `fallback` of the same shape"),
    responses((status = 200, description = "Stored (credentials sealed); shown redacted"),
              (status = 400, description = "invalid_provider, listing every problem", body = ErrorBody),
              (status = 403, description = "insufficient_scope: needs a secret key with the `mfa:admin` scope", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn put_sms_provider(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    StrictJson(body, _): StrictJson<serde_json::Value, V1>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = app
        .set_sms_provider(&tenant, &Actor::admin(&key), &meta, &body)
        .await?;
    Ok(Json(provider_view(
        p.primary.redacted(),
        p.fallback.as_ref().map(|f| f.redacted()),
        "tenant",
    )))
}

#[utoipa::path(delete, path = "/v1/admin/sms-provider", tag = "admin",
    responses((status = 204, description = "The tenant uses the server default again"),
              (status = 403, description = "insufficient_scope: needs a secret key with the `mfa:admin` scope", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn delete_sms_provider(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
) -> Result<StatusCode, ApiError> {
    app.clear_provider(&tenant, &Actor::admin(&key), &meta, "sms")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/admin/email-provider", tag = "admin",
    responses((status = 200, description = "The email provider in use, secrets redacted")),
    security(("secret_key" = [])))]
pub async fn get_email_provider(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let (p, source, _) = app.email_providers(&tenant.id).await?;
    if let (ProviderSource::Host, Some(s)) = (source, &app.host_senders.email) {
        return Ok(Json(host_provider_view(s.provider())));
    }
    Ok(Json(provider_view(p.primary.redacted(), None, source.as_str())))
}

#[utoipa::path(put, path = "/v1/admin/email-provider", tag = "admin",
    request_body(content = serde_json::Value, description = "An smtp provider (host, port, tls none|starttls|tls, username?, password?, from) or console"),
    responses((status = 200, description = "Stored (credentials sealed); shown redacted"),
              (status = 400, description = "invalid_provider", body = ErrorBody),
              (status = 403, description = "insufficient_scope: needs a secret key with the `mfa:admin` scope", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn put_email_provider(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    StrictJson(body, _): StrictJson<serde_json::Value, V1>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = app
        .set_email_provider(&tenant, &Actor::admin(&key), &meta, &body)
        .await?;
    Ok(Json(provider_view(p.primary.redacted(), None, "tenant")))
}

#[utoipa::path(delete, path = "/v1/admin/email-provider", tag = "admin",
    responses((status = 204, description = "The tenant uses the server default again"),
              (status = 403, description = "insufficient_scope: needs a secret key with the `mfa:admin` scope", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn delete_email_provider(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
) -> Result<StatusCode, ApiError> {
    app.clear_provider(&tenant, &Actor::admin(&key), &meta, "email")
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/admin/delivery-stats", tag = "admin",
    responses((status = 200, description = "Codes issued by channel and country, sends by provider, refusals by reason", body = DeliveryStats)),
    security(("secret_key" = [])))]
pub async fn delivery_stats(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
) -> Result<Json<DeliveryStats>, ApiError> {
    let counters = app
        .store
        .delivery_stats(&tenant.id)
        .await
        .map_err(ServiceError::from)?;
    Ok(Json(DeliveryStats {
        counters: counters
            .into_iter()
            .map(|(metric, label, count)| StatView { metric, label, count })
            .collect(),
    }))
}

#[utoipa::path(post, path = "/v1/admin/users/{user_id}/mfa/enrollment-tickets", tag = "admin",
    params(("user_id" = String, Path, description = "A user id, usr_…")),
    request_body = EnrollmentTicketRequest,
    responses((status = 201, description = "The ticket: a single-use link (five days) that opens the hosted sign-in for this user and leads it into enrolling a second factor; earlier tickets of the user end; audited as `enrollment_ticket.created`", body = EnrollmentTicketView),
              (status = 400, description = "unknown_factor_type, factor_not_allowed, invalid_email, or a malformed body", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "user_not_found", body = ErrorBody),
              (status = 409, description = "already_enrolled: the user has a second factor and `allow_multiple` is not set", body = ErrorBody),
              (status = 415, description = "unsupported_media_type", body = ErrorBody),
              (status = 429, description = "rate_limited: the email's send limits (with `send_email`)", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn create_enrollment_ticket(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    Path(user_id): Path<String>,
    StrictJson(req, _): StrictJson<EnrollmentTicketRequest, V1>,
) -> Result<(StatusCode, Json<EnrollmentTicketView>), ApiError> {
    let id = path_user(&user_id)?;
    let factor = match req.factor.as_deref() {
        None => None,
        Some(name) => Some(FactorKind::parse(name).ok_or(ServiceError::UnknownFactorType)?),
    };
    let made = app
        .create_enrollment_ticket(
            &tenant,
            &Actor::admin(&key),
            TicketRequest {
                user_id: id,
                factor,
                allow_multiple: req.allow_multiple,
                send_mail: req.send_email,
                email: req.email,
            },
            &meta,
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(EnrollmentTicketView {
            id: made.id,
            url: made.url,
            expires_at: latchkey_core::time::rfc3339(made.expires_at),
            emailed: made.emailed,
        }),
    ))
}
