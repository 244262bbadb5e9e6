//! Remembered devices of a user (`/v1/users/{user_id}/devices`): the user (with an access
//! token, `me`) or an admin (secret key) lists and forgets them.

use super::dto::{DeviceList, DeviceView, DevicesForgotten};
use super::error::{ApiError, ErrorBody};
use super::V1;
use crate::http::common::extract::CallerCtx;
use crate::service::ServiceError;
use crate::App;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use latchkey_core::ids::DeviceId;

#[utoipa::path(get, path = "/v1/users/{user_id}/devices", tag = "mfa",
    params(("user_id" = String, Path, description = "usr_…, or `me` with an access token")),
    responses((status = 200, description = "The user's live remembered devices, newest first; never a token", body = DeviceList),
              (status = 401, description = "no valid secret key or access token (invalid_credentials_format, invalid_api_key, invalid_token)", body = ErrorBody),
              (status = 403, description = "forbidden: another user's devices", body = ErrorBody),
              (status = 404, description = "user_not_found", body = ErrorBody)),
    security(("secret_key" = []), ("access_token" = [])))]
pub async fn list_devices(
    State(app): State<App>,
    caller: CallerCtx<V1>,
    Path(user_id): Path<String>,
) -> Result<Json<DeviceList>, ApiError> {
    let target = caller.target(&user_id)?;
    let devices = app.list_devices(&caller.tenant, &caller.actor, &target).await?;
    Ok(Json(DeviceList {
        devices: devices.iter().map(DeviceView::from).collect(),
    }))
}

#[utoipa::path(delete, path = "/v1/users/{user_id}/devices", tag = "mfa",
    params(("user_id" = String, Path, description = "usr_…, or `me` with an access token")),
    responses((status = 200, description = "Every remembered device forgotten: the next sign-in asks for the second factor", body = DevicesForgotten),
              (status = 401, description = "no valid secret key or access token (invalid_credentials_format, invalid_api_key, invalid_token)", body = ErrorBody),
              (status = 403, description = "forbidden: another user's devices", body = ErrorBody),
              (status = 404, description = "user_not_found", body = ErrorBody)),
    security(("secret_key" = []), ("access_token" = [])))]
pub async fn forget_devices(
    State(app): State<App>,
    caller: CallerCtx<V1>,
    Path(user_id): Path<String>,
) -> Result<Json<DevicesForgotten>, ApiError> {
    let target = caller.target(&user_id)?;
    let forgotten = app
        .forget_devices(&caller.tenant, &caller.actor, &target, None, &caller.meta)
        .await?;
    Ok(Json(DevicesForgotten { forgotten }))
}

#[utoipa::path(delete, path = "/v1/users/{user_id}/devices/{device_id}", tag = "mfa",
    params(("user_id" = String, Path, description = "usr_…, or `me` with an access token"),
           ("device_id" = String, Path, description = "dev_…", pattern = "^dev_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses((status = 204, description = "Forgotten"),
              (status = 401, description = "no valid secret key or access token (invalid_credentials_format, invalid_api_key, invalid_token)", body = ErrorBody),
              (status = 403, description = "forbidden: another user's device", body = ErrorBody),
              (status = 404, description = "device_not_found, user_not_found", body = ErrorBody)),
    security(("secret_key" = []), ("access_token" = [])))]
pub async fn forget_device(
    State(app): State<App>,
    caller: CallerCtx<V1>,
    Path((user_id, device_id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let target = caller.target(&user_id)?;
    let id = DeviceId::parse(&device_id).map_err(|_| ApiError::from(ServiceError::DeviceNotFound))?;
    app.forget_devices(&caller.tenant, &caller.actor, &target, Some(&id), &caller.meta)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
