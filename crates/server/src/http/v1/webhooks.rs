//! The tenant's webhook endpoints (`/v1/admin/webhooks`), authorised by a tenant secret key:
//! register, list, read, change, remove, rotate the secret, and the delivery log with
//! redelivery (docs/events.md). The secret appears only in the answers to a registration
//! and to a rotation.

use super::error::{ApiError, ErrorBody};
use super::V1;
use crate::http::common::extract::{invalid_query, AdminCtx, Meta, StrictJson, StrictQuery};
use crate::http::common::page::{page_size, Page};
use crate::service::audit::Actor;
use crate::service::webhooks::{WebhookChanges, ALL_EVENTS};
use crate::service::ServiceError;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::ids::{is_delivery_id, WebhookId};
use latchkey_core::time::rfc3339;
use latchkey_store::model::{Webhook, WebhookDelivery};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Registers an endpoint.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhookRequest {
    /// Where events are POSTed: `https`, at a public address (the operator may allow
    /// `http` and private addresses with `allow_private_destinations`). No credentials in
    /// it; at most 2000 characters.
    #[schema(example = "https://hooks.example.com/latchkey")]
    pub url: String,
    /// Event types (docs/events.md), or `["*"]` for every type (the default).
    #[schema(example = json!(["signin", "mfa.verify", "factor.delete"]))]
    pub events: Option<Vec<String>>,
    /// Off: events are not queued for it (default on).
    pub enabled: Option<bool>,
    /// A note for admins, at most 200 characters.
    pub description: Option<String>,
}

/// Changes an endpoint; absent fields keep their value.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchWebhookRequest {
    pub url: Option<String>,
    /// Event types, or `["*"]` for every type.
    pub events: Option<Vec<String>>,
    /// Off: new events are not queued for it, and queued ones wait until it is on again.
    pub enabled: Option<bool>,
    /// `""` clears it.
    pub description: Option<String>,
}

/// An endpoint, without its secret.
#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    #[schema(example = "whk_01J8Z3K6Q4V5W6X7Y8Z9A0B1C2")]
    pub id: String,
    pub url: String,
    /// Event types, or `["*"]`.
    pub events: Vec<String>,
    pub enabled: bool,
    pub description: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl WebhookView {
    fn new(h: &Webhook) -> Self {
        Self {
            id: h.id.to_string(),
            url: h.url.clone(),
            events: h.events.clone().unwrap_or_else(|| vec![ALL_EVENTS.to_owned()]),
            enabled: h.enabled,
            description: h.description.clone(),
            created_at: rfc3339(h.created_at),
            updated_at: rfc3339(h.updated_at),
        }
    }
}

/// An endpoint with its signing secret: the answer to a registration and to a rotation,
/// the only times the secret is shown.
#[derive(Serialize, ToSchema)]
pub struct WebhookWithSecret {
    #[serde(flatten)]
    pub webhook: WebhookView,
    /// `whsec_…` (Standard Webhooks): give it to your verifier. Shown this once.
    pub secret: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookList {
    pub webhooks: Vec<WebhookView>,
}

/// One event on its way to the endpoint.
#[derive(Serialize, ToSchema)]
pub struct DeliveryView {
    /// Also the message's `webhook-id` header.
    pub id: String,
    pub event_id: String,
    pub event_type: String,
    /// `pending`, `sending`, `delivered` or `failed`.
    pub status: &'static str,
    pub attempts: i64,
    /// The HTTP status of the last answer, if one came.
    pub last_status_code: Option<i64>,
    /// Why the last attempt failed (never the endpoint's answer).
    pub last_error: Option<String>,
    /// When it is next tried (`pending` only).
    pub next_attempt_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl DeliveryView {
    fn new(d: &WebhookDelivery) -> Self {
        use latchkey_store::model::WebhookDeliveryStatus as S;
        Self {
            id: d.id.clone(),
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            status: d.status.as_str(),
            attempts: d.attempts,
            last_status_code: d.last_status_code,
            last_error: d.last_error.clone(),
            next_attempt_at: (d.status == S::Pending).then(|| rfc3339(d.next_attempt_at)),
            created_at: rfc3339(d.created_at),
            updated_at: rfc3339(d.updated_at),
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct DeliveryList {
    pub deliveries: Vec<DeliveryView>,
    /// Pass as `before` to get the next page; absent on the last page.
    pub next_before: Option<String>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct DeliveryQuery {
    /// Page size, 1 to 200 (default 50).
    pub limit: Option<u32>,
    /// The `next_before` of the previous page.
    #[param(pattern = "^msg_[0-7][0-9A-HJKMNP-TV-Z]{25}[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub before: Option<String>,
}

/// A webhook id from a path segment. A malformed id cannot name an endpoint: the same
/// answer as an unknown one.
fn path_webhook(segment: &str) -> Result<WebhookId, ApiError> {
    WebhookId::parse(segment).map_err(|_| ServiceError::WebhookNotFound.into())
}

fn admin(key: &latchkey_store::model::ApiKeyRecord) -> Actor {
    Actor::admin(key)
}

#[utoipa::path(post, path = "/v1/admin/webhooks", tag = "admin",
    request_body = CreateWebhookRequest,
    responses((status = 201, description = "Registered; the signing `secret` is shown this once", body = WebhookWithSecret),
              (status = 400, description = "invalid_webhook (with `problems`: url not https or internal, unknown event type…), or a malformed body", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 409, description = "too_many_webhooks", body = ErrorBody),
              (status = 415, description = "unsupported_media_type", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn create_webhook(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    StrictJson(req, _): StrictJson<CreateWebhookRequest, V1>,
) -> Result<(StatusCode, Json<WebhookWithSecret>), ApiError> {
    let changes = WebhookChanges {
        url: Some(req.url),
        description: req.description,
        events: req.events,
        enabled: req.enabled,
    };
    let (hook, secret) = app.create_webhook(&tenant, &admin(&key), &meta, changes).await?;
    Ok((
        StatusCode::CREATED,
        Json(WebhookWithSecret {
            webhook: WebhookView::new(&hook),
            secret: secret.expose().to_owned(),
        }),
    ))
}

#[utoipa::path(get, path = "/v1/admin/webhooks", tag = "admin",
    responses((status = 200, description = "The tenant's endpoints, oldest first (at most 20), without secrets", body = WebhookList),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn list_webhooks(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
) -> Result<Json<WebhookList>, ApiError> {
    let hooks = app.list_webhooks(&tenant).await?;
    Ok(Json(WebhookList {
        webhooks: hooks.iter().map(WebhookView::new).collect(),
    }))
}

#[utoipa::path(get, path = "/v1/admin/webhooks/{webhook_id}", tag = "admin",
    params(("webhook_id" = String, Path, description = "A webhook id, whk_…")),
    responses((status = 200, description = "The endpoint, without its secret", body = WebhookView),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "webhook_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn get_webhook(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path(webhook_id): Path<String>,
) -> Result<Json<WebhookView>, ApiError> {
    let id = path_webhook(&webhook_id)?;
    Ok(Json(WebhookView::new(&app.get_webhook(&tenant, &id).await?)))
}

#[utoipa::path(patch, path = "/v1/admin/webhooks/{webhook_id}", tag = "admin",
    params(("webhook_id" = String, Path, description = "A webhook id, whk_…")),
    request_body = PatchWebhookRequest,
    responses((status = 200, description = "The changed endpoint, without its secret", body = WebhookView),
              (status = 400, description = "invalid_webhook (with `problems`), or a malformed body", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "webhook_not_found", body = ErrorBody),
              (status = 415, description = "unsupported_media_type", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn patch_webhook(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    Path(webhook_id): Path<String>,
    StrictJson(req, _): StrictJson<PatchWebhookRequest, V1>,
) -> Result<Json<WebhookView>, ApiError> {
    let id = path_webhook(&webhook_id)?;
    let changes = WebhookChanges {
        url: req.url,
        description: req.description,
        events: req.events,
        enabled: req.enabled,
    };
    let hook = app
        .update_webhook(&tenant, &admin(&key), &meta, &id, changes)
        .await?;
    Ok(Json(WebhookView::new(&hook)))
}

#[utoipa::path(delete, path = "/v1/admin/webhooks/{webhook_id}", tag = "admin",
    params(("webhook_id" = String, Path, description = "A webhook id, whk_…")),
    responses((status = 204, description = "Removed, with its delivery log and queued deliveries"),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "webhook_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn delete_webhook(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    Path(webhook_id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = path_webhook(&webhook_id)?;
    app.delete_webhook(&tenant, &admin(&key), &meta, &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(post, path = "/v1/admin/webhooks/{webhook_id}/rotate-secret", tag = "admin",
    params(("webhook_id" = String, Path, description = "A webhook id, whk_…")),
    responses((status = 200, description = "A new signing `secret`, shown this once; the old one signs no more", body = WebhookWithSecret),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "webhook_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn rotate_webhook_secret(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    Path(webhook_id): Path<String>,
) -> Result<Json<WebhookWithSecret>, ApiError> {
    let id = path_webhook(&webhook_id)?;
    let (hook, secret) = app
        .rotate_webhook_secret(&tenant, &admin(&key), &meta, &id)
        .await?;
    Ok(Json(WebhookWithSecret {
        webhook: WebhookView::new(&hook),
        secret: secret.expose().to_owned(),
    }))
}

#[utoipa::path(get, path = "/v1/admin/webhooks/{webhook_id}/deliveries", tag = "admin",
    params(("webhook_id" = String, Path, description = "A webhook id, whk_…"), DeliveryQuery),
    responses((status = 200, description = "The endpoint's deliveries, newest event first", body = DeliveryList),
              (status = 400, description = "invalid_query", body = ErrorBody),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "webhook_not_found", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn list_deliveries(
    State(app): State<App>,
    AdminCtx { tenant, .. }: AdminCtx<V1>,
    Path(webhook_id): Path<String>,
    StrictQuery(q, _): StrictQuery<DeliveryQuery, V1>,
) -> Result<Json<DeliveryList>, ApiError> {
    let id = path_webhook(&webhook_id)?;
    if q.before.as_deref().is_some_and(|b| !is_delivery_id(b)) {
        return Err(invalid_query("before must be a delivery id").into());
    }
    let size = page_size(q.limit);
    let deliveries = app
        .list_webhook_deliveries(&tenant, &id, q.before.as_deref(), size)
        .await?;
    let page = Page::new(deliveries, size, |d| d.id.clone());
    Ok(Json(DeliveryList {
        deliveries: page.items.iter().map(DeliveryView::new).collect(),
        next_before: page.next,
    }))
}

#[utoipa::path(post, path = "/v1/admin/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", tag = "admin",
    params(("webhook_id" = String, Path, description = "A webhook id, whk_…"),
           ("delivery_id" = String, Path, description = "A delivery id, msg_…")),
    responses((status = 202, description = "Queued for an attempt now, under the same message id", body = DeliveryView),
              (status = 401, description = "missing_credentials, invalid_api_key", body = ErrorBody),
              (status = 404, description = "webhook_not_found, delivery_not_found", body = ErrorBody),
              (status = 409, description = "delivery_in_progress", body = ErrorBody)),
    security(("secret_key" = [])))]
pub async fn redeliver(
    State(app): State<App>,
    AdminCtx { tenant, key, .. }: AdminCtx<V1>,
    Meta(meta): Meta,
    Path((webhook_id, delivery_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<DeliveryView>), ApiError> {
    let id = path_webhook(&webhook_id)?;
    let d = app
        .redeliver_webhook(&tenant, &admin(&key), &meta, &id, &delivery_id)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(DeliveryView::new(&d))))
}
