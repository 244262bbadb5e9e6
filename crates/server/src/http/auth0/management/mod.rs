//! Auth0's Management API v2 (`/api/v2/*`), the parts about MFA: Guardian ([`guardian`])
//! and users' authentication methods and enrollments ([`users`]), each route a thin
//! handler over the use cases `/v1/admin` and `/v2/admin` use, so a change through one
//! surface shows through the others.

pub mod dto;
pub mod guardian;
pub mod users;

use crate::App;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The scopes a Guardian route needs, as Auth0 names them. Reading the MFA policy is also
/// allowed with the factors' scope, and changing it with theirs (both change the tenant's
/// MFA settings).
const READ_FACTORS: &[&str] = &["read:guardian_factors"];
const UPDATE_FACTORS: &[&str] = &["update:guardian_factors"];
const READ_POLICIES: &[&str] = &["read:mfa_policies", "read:guardian_factors"];
const UPDATE_POLICIES: &[&str] = &["update:mfa_policies", "update:guardian_factors"];

#[derive(OpenApi)]
#[openapi(
    tags((name = "auth0", description = "Auth0 / AuthHero Management API v2: Guardian and users' authentication methods (docs/compat.md)")),
    components(schemas(dto::FactorName, dto::PhoneFactor)),
    modifiers(&ManagementToken),
)]
struct ManagementDoc;

struct ManagementToken;

impl Modify for ManagementToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut jwt = Http::new(HttpAuthScheme::Bearer);
        jwt.bearer_format = Some("JWT".into());
        jwt.description = Some(
            "An application's management token: `POST /oauth/token` with `grant_type=client_credentials` and `audience={issuer}/api/v2/`".into(),
        );
        components.add_security_scheme("management_token", SecurityScheme::Http(jwt));
    }
}

/// The routes, registered once with both axum and the OpenAPI document.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ManagementDoc::openapi())
        .routes(routes!(guardian::list_factors))
        .routes(routes!(guardian::get_factor, guardian::put_factor))
        .routes(routes!(guardian::get_policies, guardian::put_policies))
        .routes(routes!(
            guardian::get_selected_provider,
            guardian::put_selected_provider
        ))
        .routes(routes!(guardian::get_twilio, guardian::put_twilio))
        .routes(routes!(guardian::get_message_types, guardian::put_message_types))
        .routes(routes!(guardian::get_templates, guardian::put_templates))
        .routes(routes!(
            users::list_methods,
            users::create_method,
            users::delete_methods
        ))
        .routes(routes!(
            users::get_method,
            users::update_method,
            users::delete_method
        ))
        .routes(routes!(users::list_enrollments, users::delete_enrollments))
        .routes(routes!(users::delete_authenticators))
        .routes(routes!(users::get_enrollment, users::delete_enrollment))
        .routes(routes!(users::create_ticket))
}
