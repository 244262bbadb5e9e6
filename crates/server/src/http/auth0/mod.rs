//! Auth0-compatible surfaces, each onto the same use cases as `/v1`:
//! - [`mfa`]: Auth0's MFA API (`/mfa/*`; its grants live at the token endpoint,
//!   `http::oidc::token`), answering as the OAuth endpoints do (`{"error","error_description"}`).

pub mod mfa;

use crate::App;
use axum::Router;
use utoipa_axum::router::OpenApiRouter;

/// Every route of the Auth0 surfaces, registered once with both axum and the OpenAPI document.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new().merge(mfa::routes())
}

/// The surfaces' routes, for the server's router.
pub fn router(app: &App) -> Router<App> {
    Router::new().merge(mfa::router(app))
}
