//! HelloJohn-style administration routes (`/v2/admin/*`), authorised by a tenant secret
//! key: a user's MFA, and the tenant's auth config (the same settings as `/v1/admin/config`).

use super::dto::*;
use super::V2;
use crate::http::common::extract::{path_user, tenant_mismatch, AdminCtx, Meta, StrictJson};
use crate::http::v1::dto::FactorView;
use crate::http::v1::error::{ApiError, ErrorBody};
use crate::service::admin::SettingsPatch;
use crate::service::audit::Actor;
use crate::service::Failure;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::settings::TenantSettings;
use latchkey_store::model::Tenant;

#[utoipa::path(get, path = "/v2/admin/users/{user_id}/mfa", tag = "admin",
    params(("user_id" = String, Path, description = "A user id, usr_…")),
    responses((status = 200, description = "The user's factors (and delivery status, later)", body = UserMfaView),
              (status = 404, description = "user_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn get_user_mfa(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V2>,
    Path(user_id): Path<String>,
) -> Result<Json<UserMfaView>, ApiError> {
    let id = path_user(&user_id)?;
    let factors = app.admin_user_mfa(&tenant, &id).await?;
    Ok(Json(UserMfaView {
        user_id: id.to_string(),
        factors: factors.iter().map(FactorView::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/v2/admin/users/{user_id}/mfa", tag = "admin",
    params(("user_id" = String, Path, description = "A user id, usr_…")),
    responses((status = 204, description = "Every factor removed; audited; the user is notified"),
              (status = 403, description = "insufficient_scope: needs a secret key with the `mfa:admin` scope", body = ErrorBody),
              (status = 404, description = "user_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn reset_user_mfa(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V2>,
    Meta(meta): Meta,
    Path(user_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_user(&user_id)?;
    app.admin_reset_mfa(&tenant, &Actor::admin(&key), &id, &meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

fn tenant_auth_view(s: &TenantSettings) -> TenantAuthView {
    TenantAuthView {
        mfa_required: s.mfa_required,
        mfa_methods: s.mfa_allowed_factors.iter().map(|k| k.as_str()).collect(),
    }
}

fn own_tenant(tenant: &Tenant, tenant_id: &str) -> Result<(), Failure> {
    if tenant.id.as_str() == tenant_id {
        Ok(())
    } else {
        Err(tenant_mismatch("secret key"))
    }
}

#[utoipa::path(get, path = "/v2/admin/tenants/{tenant_id}/auth/config", tag = "admin",
    params(("tenant_id" = String, Path, description = "The key's own tenant, tnt_…")),
    responses((status = 200, description = "MFA policy of the tenant", body = TenantAuthView),
              (status = 403, description = "tenant_mismatch", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn get_tenant_auth(
    AdminCtx { tenant, .. }: AdminCtx<V2>,
    Path(tenant_id): Path<String>,
) -> Result<Json<TenantAuthView>, ApiError> {
    own_tenant(&tenant, &tenant_id)?;
    Ok(Json(tenant_auth_view(&tenant.settings)))
}

#[utoipa::path(patch, path = "/v2/admin/tenants/{tenant_id}/auth/config", tag = "admin",
    params(("tenant_id" = String, Path, description = "The key's own tenant, tnt_…")),
    request_body = TenantAuthPatch,
    responses((status = 200, description = "The updated MFA policy (the same setting as /v1/admin/config)", body = TenantAuthView),
              (status = 400, description = "invalid_settings", body = ErrorBody),
              (status = 403, description = "tenant_mismatch; insufficient_scope: switching MFA off needs a key with `mfa:admin`", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn patch_tenant_auth(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V2>,
    Meta(meta): Meta,
    Path(tenant_id): Path<String>,
    StrictJson(req, _): StrictJson<TenantAuthPatch, V2>,
) -> Result<Json<TenantAuthView>, ApiError> {
    own_tenant(&tenant, &tenant_id)?;
    let patch = SettingsPatch {
        mfa_required: req.mfa_required,
        mfa_allowed_factors: req.mfa_methods,
        ..Default::default()
    };
    let actor = Actor::admin(&key);
    let (settings, ..) = app.update_settings(&tenant, &actor, &meta, patch, false).await?;
    Ok(Json(tenant_auth_view(&settings)))
}
