//! HelloJohn-style administration, `/v2/admin/*`: a user's MFA and a tenant's auth config,
//! onto the same use cases as `/v1/admin`. Failures answer in the native JSON envelope
//! today ([`V2`] renders through `v1::error`), so a client of either sees one error shape.

pub mod admin;
pub mod dto;

use super::common::Surface;
use super::v1::error::ApiError;
use crate::service::Failure;
use crate::App;
use axum::Router;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The `/v2` surface.
pub struct V2;

impl Surface for V2 {
    type Rejection = ApiError;

    fn reject(failure: Failure) -> ApiError {
        failure.into()
    }
}

/// Every route of the surface, registered once with both axum and the OpenAPI document.
/// Its operations use the `admin` tag `/v1` describes.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(admin::get_user_mfa, admin::reset_user_mfa))
        .routes(routes!(admin::get_tenant_auth, admin::patch_tenant_auth))
}

/// The surface's routes, for the server's router.
pub fn router(_app: &App) -> Router<App> {
    routes().split_for_parts().0
}
