//! The native API: `/v1/auth/*`, `/v1/users/*`, `/v1/mfa/*`, `/v1/admin/*` and the
//! operational routes (health, JWKS, the OpenAPI document). Its answers, failures included,
//! are JSON ([`error`]); its request and response shapes are in [`dto`].

pub mod admin;
pub mod applications;
pub mod auth;
pub mod devices;
pub mod dto;
pub mod error;
pub mod meta;
pub mod mfa;
pub mod policy;
pub mod webhooks;

use super::common::{idempotency, Surface};
use crate::service::Failure;
use crate::App;
use axum::Router;
use error::ApiError;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The native surface: a failure is the JSON error envelope with its status.
pub struct V1;

impl Surface for V1 {
    type Rejection = ApiError;

    fn reject(failure: Failure) -> ApiError {
        failure.into()
    }
}

#[derive(OpenApi)]
#[openapi(tags(
    (name = "auth", description = "Sign-up, sign-in, refresh and sign-out"),
    (name = "users", description = "The signed-in user"),
    (name = "mfa", description = "Factors, the sign-in challenge and verification"),
    (name = "admin", description = "Tenant administration with a secret key (sk_live_…)"),
    (name = "policy", description = "The MFA policy: organizations, roles, the rules of each level, and the decision for a user with its reasons (secret key)"),
    (name = "meta", description = "Health, keys and this document"),
), components(schemas(policy::RuleLevel)))]
struct V1Doc;

/// Every route of the surface, registered once with both axum and the OpenAPI document.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(V1Doc::openapi())
        .merge(idempotent_routes())
        .merge(plain_routes())
}

/// The surface's routes with their middleware, for the server's router.
pub fn router(app: &App) -> Router<App> {
    let (idempotent, _) = idempotent_routes().split_for_parts();
    let (plain, _) = plain_routes().split_for_parts();
    plain.merge(idempotent.route_layer(axum::middleware::from_fn_with_state(
        app.clone(),
        idempotency::idempotent::<V1>,
    )))
}

/// The POSTs that create something or send a code, which take an `Idempotency-Key`
/// (`common/idempotency.rs`): only they pass through that middleware.
fn idempotent_routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(auth::signup))
        .routes(routes!(mfa::enroll))
        .routes(routes!(mfa::regenerate_backup_codes))
        .routes(routes!(mfa::challenge))
        .routes(routes!(mfa::enroll_for_challenge))
}

fn plain_routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(auth::signin))
        .routes(routes!(auth::passkey_options))
        .routes(routes!(auth::passkey_signin))
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::signout))
        .routes(routes!(auth::forgot_password))
        .routes(routes!(auth::reset_password))
        .routes(routes!(auth::send_email_verification))
        .routes(routes!(auth::verify_email))
        .routes(routes!(auth::me))
        .routes(routes!(admin::get_config, admin::patch_config))
        .routes(routes!(admin::get_user))
        .routes(routes!(admin::create_enrollment_ticket))
        .routes(routes!(admin::list_users))
        .routes(routes!(admin::list_audit_events))
        .routes(routes!(
            admin::get_sms_provider,
            admin::put_sms_provider,
            admin::delete_sms_provider
        ))
        .routes(routes!(
            admin::get_email_provider,
            admin::put_email_provider,
            admin::delete_email_provider
        ))
        .routes(routes!(admin::delivery_stats))
        .routes(routes!(
            applications::create_application,
            applications::list_applications
        ))
        .routes(routes!(
            applications::get_application,
            applications::patch_application,
            applications::delete_application
        ))
        .routes(routes!(applications::rotate_application_secret))
        .routes(routes!(policy::create_organization, policy::list_organizations))
        .routes(routes!(
            policy::get_organization,
            policy::patch_organization,
            policy::delete_organization
        ))
        .routes(routes!(policy::list_members))
        .routes(routes!(policy::add_member, policy::remove_member))
        .routes(routes!(policy::create_role, policy::list_roles))
        .routes(routes!(policy::delete_role))
        .routes(routes!(policy::assign_role, policy::unassign_role))
        .routes(routes!(policy::get_rule, policy::put_rule, policy::delete_rule))
        .routes(routes!(policy::explain))
        .routes(routes!(webhooks::create_webhook, webhooks::list_webhooks))
        .routes(routes!(
            webhooks::get_webhook,
            webhooks::patch_webhook,
            webhooks::delete_webhook
        ))
        .routes(routes!(webhooks::rotate_webhook_secret))
        .routes(routes!(webhooks::list_deliveries))
        .routes(routes!(webhooks::redeliver))
        .routes(routes!(mfa::list))
        .routes(routes!(mfa::confirm))
        .routes(routes!(mfa::delete))
        .routes(routes!(mfa::prefer))
        .routes(routes!(devices::list_devices, devices::forget_devices))
        .routes(routes!(devices::forget_device))
        .routes(routes!(mfa::verify))
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::readyz))
        .routes(routes!(meta::jwks))
        .routes(routes!(meta::openapi))
}
