//! Tenant administration routes (`/v1/admin/*`), authorised by a tenant secret key.

use super::dto::*;
use super::error::{ApiError, ErrorBody};
use super::extract::{AdminCtx, ApiJson};
use crate::service::admin::SettingsPatch;
use crate::App;
use axum::extract::{Path, Query, State};
use axum::Json;
use latchkey_core::duration::{format_secs, parse_secs};
use latchkey_core::ids::UserId;
use latchkey_core::settings::TenantSettings;
use serde::Deserialize;
use utoipa::IntoParams;

fn duration(v: DurationInput) -> Result<u64, String> {
    match v {
        DurationInput::Seconds(s) => Ok(s),
        DurationInput::Text(t) => parse_secs(&t),
    }
}

fn settings_view(s: &TenantSettings) -> SettingsView {
    SettingsView {
        access_token_ttl: format_secs(s.access_token_ttl_secs),
        refresh_token_ttl: format_secs(s.refresh_token_ttl_secs),
        signup_enabled: s.signup_enabled,
    }
}

#[utoipa::path(get, path = "/v1/admin/config", tag = "admin",
    responses((status = 200, description = "The tenant's settings", body = SettingsView),
              (status = 401, description = "invalid_api_key", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn get_config(AdminCtx { tenant, .. }: AdminCtx) -> Json<SettingsView> {
    Json(settings_view(&tenant.settings))
}

#[utoipa::path(patch, path = "/v1/admin/config", tag = "admin",
    request_body = SettingsPatchRequest,
    responses((status = 200, description = "The updated settings", body = SettingsView),
              (status = 400, description = "invalid_settings, listing every problem", body = ErrorBody),
              (status = 401, description = "invalid_api_key", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn patch_config(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx,
    ApiJson(req): ApiJson<SettingsPatchRequest>,
) -> Result<Json<SettingsView>, ApiError> {
    let patch = SettingsPatch {
        access_token_ttl_secs: req.access_token_ttl.map(duration),
        refresh_token_ttl_secs: req.refresh_token_ttl.map(duration),
        signup_enabled: req.signup_enabled,
    };
    let settings = app.update_settings(&tenant, patch).await?;
    Ok(Json(settings_view(&settings)))
}

#[utoipa::path(get, path = "/v1/admin/users/{user_id}", tag = "admin",
    params(("user_id" = String, Path, description = "A user id, usr_…")),
    responses((status = 200, description = "The user", body = UserView),
              (status = 404, description = "user_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn get_user(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx,
    Path(user_id): Path<String>,
) -> Result<Json<UserView>, ApiError> {
    // A malformed id cannot name a user: the same 404 as an unknown one.
    let id = UserId::parse(&user_id)
        .map_err(|_| ApiError::from(crate::service::ServiceError::UserNotFound))?;
    let user = app.get_user(&tenant.id, &id).await?;
    Ok(Json((&user).into()))
}

#[derive(Deserialize, IntoParams)]
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
    AdminCtx { tenant, .. }: AdminCtx,
    query: Result<Query<UserQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UserList>, ApiError> {
    let Query(q) = query.map_err(|_| {
        ApiError::bad_request("invalid_query", "unknown or malformed query parameter")
    })?;
    if let Some(email) = q.email {
        let users = app.find_user_by_email(&tenant, &email).await?;
        return Ok(Json(UserList {
            users: users.iter().map(UserView::from).collect(),
            next_after: None,
        }));
    }
    let after = match q.after.as_deref() {
        Some(a) => Some(
            UserId::parse(a)
                .map_err(|_| ApiError::bad_request("invalid_query", "after must be a user id"))?,
        ),
        None => None,
    };
    let limit = q.limit.unwrap_or(50).clamp(1, 200);
    let users = app.list_users(&tenant, after.as_ref(), limit).await?;
    let next_after = (users.len() == limit as usize)
        .then(|| users.last().map(|u| u.id.to_string()))
        .flatten();
    Ok(Json(UserList {
        users: users.iter().map(UserView::from).collect(),
        next_after,
    }))
}
