//! The tenant's applications (`/v1/admin/applications`), authorised by a tenant secret key:
//! register, list, read, change, remove, and give a confidential client a new secret. The
//! secret appears only in the answers to a registration and to a rotation.

use super::dto::*;
use super::error::{ApiError, ErrorBody};
use super::V1;
use crate::http::common::extract::{invalid_query, AdminCtx, Meta, StrictJson, StrictQuery};
use crate::http::common::page::{page_size, Page};
use crate::service::applications::ApplicationChanges;
use crate::service::audit::Actor;
use crate::service::ServiceError;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::ids::ApplicationId;

/// An application id from a path segment. A malformed id cannot name an application: the
/// same answer as an unknown one.
fn path_application(segment: &str) -> Result<ApplicationId, ApiError> {
    ApplicationId::parse(segment).map_err(|_| ServiceError::ApplicationNotFound.into())
}

fn admin_actor(key: &latchkey_store::model::ApiKeyRecord) -> Actor {
    Actor::admin(key)
}

fn with_secret(app: &latchkey_store::model::Application, secret: Option<String>) -> ApplicationWithSecret {
    ApplicationWithSecret {
        application: ApplicationView::new(app),
        client_secret: secret,
    }
}

#[utoipa::path(post, path = "/v1/admin/applications", tag = "admin",
    request_body = CreateApplicationRequest,
    responses((status = 201, description = "Registered; a confidential client's `client_secret` is shown this once", body = ApplicationWithSecret),
              (status = 400, description = "invalid_name, invalid_redirect_uri (with `field`, `index` and `reason`), invalid_grant_types, invalid_application (with `problems`), or a malformed body", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 415, description = "unsupported_media_type", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn create_application(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<CreateApplicationRequest, V1>,
) -> Result<(StatusCode, Json<ApplicationWithSecret>), ApiError> {
    let changes = ApplicationChanges {
        name: Some(req.name),
        client_type: Some(req.client_type),
        redirect_uris: req.redirect_uris,
        post_logout_redirect_uris: req.post_logout_redirect_uris,
        grant_types: req.grant_types,
        access_token_ttl_secs: req.access_token_ttl_secs.map(Some),
        refresh_token_ttl_secs: req.refresh_token_ttl_secs.map(Some),
        id_token_ttl_secs: req.id_token_ttl_secs,
        id_token_signed_response_alg: req.id_token_signed_response_alg,
        audience: req.audience.map(Some),
        scopes: req.scopes,
    };
    let (created, secret) = app
        .create_application(&tenant, &admin_actor(&key), &meta, changes)
        .await?;
    let secret = secret.map(|s| s.expose().to_owned());
    Ok((StatusCode::CREATED, Json(with_secret(&created, secret))))
}

#[utoipa::path(get, path = "/v1/admin/applications", tag = "admin",
    params(ApplicationQuery),
    responses((status = 200, description = "A page of the tenant's applications, oldest first", body = ApplicationList),
              (status = 400, description = "invalid_query", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn list_applications(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    StrictQuery(q, _): StrictQuery<ApplicationQuery, V1>,
) -> Result<Json<ApplicationList>, ApiError> {
    let after = match q.after.as_deref() {
        Some(a) => {
            Some(ApplicationId::parse(a).map_err(|_| invalid_query("after must be an application id"))?)
        }
        None => None,
    };
    let size = page_size(q.limit);
    let apps = app.list_applications(&tenant, after.as_ref(), size).await?;
    let page = Page::new(apps, size, |a| a.id.to_string());
    Ok(Json(ApplicationList {
        applications: page.items.iter().map(ApplicationView::new).collect(),
        next_after: page.next,
    }))
}

#[utoipa::path(get, path = "/v1/admin/applications/{application_id}", tag = "admin",
    params(("application_id" = String, Path, description = "An application id (its client_id), app_…")),
    responses((status = 200, description = "The application", body = ApplicationView),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "application_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn get_application(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path(application_id): Path<String>,
) -> Result<Json<ApplicationView>, ApiError> {
    let id = path_application(&application_id)?;
    let found = app.get_application(&tenant, &id).await?;
    Ok(Json(ApplicationView::new(&found)))
}

#[utoipa::path(patch, path = "/v1/admin/applications/{application_id}", tag = "admin",
    params(("application_id" = String, Path, description = "An application id (its client_id), app_…")),
    request_body = PatchApplicationRequest,
    responses((status = 200, description = "The changed application", body = ApplicationView),
              (status = 400, description = "invalid_name, invalid_redirect_uri (with `field`, `index` and `reason`), invalid_grant_types, invalid_application (with `problems`), or a malformed body", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "application_not_found", body = ErrorBody),
              (status = 415, description = "unsupported_media_type", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn patch_application(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    Path(application_id): Path<String>,
    StrictJson(req, _): StrictJson<PatchApplicationRequest, V1>,
) -> Result<Json<ApplicationView>, ApiError> {
    let id = path_application(&application_id)?;
    let changes = ApplicationChanges {
        name: req.name,
        client_type: req.client_type,
        redirect_uris: req.redirect_uris,
        post_logout_redirect_uris: req.post_logout_redirect_uris,
        grant_types: req.grant_types,
        access_token_ttl_secs: req.access_token_ttl_secs,
        refresh_token_ttl_secs: req.refresh_token_ttl_secs,
        id_token_ttl_secs: req.id_token_ttl_secs,
        id_token_signed_response_alg: req.id_token_signed_response_alg,
        audience: req.audience,
        scopes: req.scopes,
    };
    let changed = app
        .update_application(&tenant, &admin_actor(&key), &meta, &id, changes)
        .await?;
    Ok(Json(ApplicationView::new(&changed)))
}

#[utoipa::path(delete, path = "/v1/admin/applications/{application_id}", tag = "admin",
    params(("application_id" = String, Path, description = "An application id (its client_id), app_…")),
    responses((status = 204, description = "Removed: its client id and secret stop working"),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "application_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn delete_application(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    Path(application_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_application(&application_id)?;
    app.delete_application(&tenant, &admin_actor(&key), &meta, &id)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/admin/applications/{application_id}/secret", tag = "admin",
    params(("application_id" = String, Path, description = "An application id (its client_id), app_…")),
    responses((status = 200, description = "A new `client_secret`, shown this once; the old secret stops working", body = ApplicationWithSecret),
              (status = 400, description = "invalid_application: a public client has no secret", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "application_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn rotate_application_secret(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    Path(application_id): Path<String>,
) -> Result<Json<ApplicationWithSecret>, ApiError> {
    let id = path_application(&application_id)?;
    let (rotated, secret) = app
        .rotate_application_secret(&tenant, &admin_actor(&key), &meta, &id)
        .await?;
    Ok(Json(with_secret(&rotated, Some(secret.expose().to_owned()))))
}
