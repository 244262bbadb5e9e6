//! Operational routes: health, readiness, the JWKS and the OpenAPI document.

use super::dto::Health;
use super::error::{ApiError, ErrorBody};
use crate::service::{ErrorCode, Failure, FailureKind};
use crate::App;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;

#[utoipa::path(get, path = "/healthz", tag = "meta",
    responses((status = 200, description = "The process is up", body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[utoipa::path(get, path = "/readyz", tag = "meta",
    responses((status = 200, description = "The database answers", body = Health),
              (status = 503, description = "database_unavailable", body = ErrorBody)))]
pub async fn readyz(State(app): State<App>) -> Result<Json<Health>, ApiError> {
    match app.store.ping().await {
        Ok(()) => Ok(Json(Health { status: "ok" })),
        Err(e) => {
            tracing::error!(error = %e, "readiness check failed");
            Err(Failure::new(
                FailureKind::Unavailable,
                ErrorCode::DatabaseUnavailable,
                "the database is not reachable",
            )
            .into())
        }
    }
}

#[utoipa::path(get, path = "/.well-known/jwks.json", tag = "meta",
    responses((status = 200, description = "Public keys that verify ID tokens and access tokens (RFC 7517), keys about to sign included")))]
pub async fn jwks(State(app): State<App>) -> Response {
    let mut resp = Json(app.crypto.jwks()).into_response();
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    resp
}

#[utoipa::path(get, path = "/openapi.json", tag = "meta",
    responses((status = 200, description = "This document, generated from the code")))]
pub async fn openapi() -> Json<serde_json::Value> {
    Json(crate::http::openapi_json())
}
