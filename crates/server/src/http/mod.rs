//! The HTTP layer: routes, their OpenAPI description (generated from the handlers'
//! annotations, so the document cannot miss a route), and the middleware every request
//! passes through.

pub mod admin;
pub mod auth;
pub mod dto;
pub mod edge;
pub mod error;
pub mod extract;
pub mod forwarded;
pub mod idempotency;
pub mod meta;
pub mod mfa;

use crate::App;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use error::ApiError;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Latchkey", description = "A self-hosted authentication server whose heart is multi-factor authentication."),
    modifiers(&Security),
    tags(
        (name = "auth", description = "Sign-up, sign-in, refresh and sign-out"),
        (name = "users", description = "The signed-in user"),
        (name = "mfa", description = "Factors, the sign-in challenge and verification"),
        (name = "admin", description = "Tenant administration with a secret key (sk_live_…)"),
        (name = "meta", description = "Health, keys and this document"),
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "secret_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
        let mut jwt = Http::new(HttpAuthScheme::Bearer);
        jwt.bearer_format = Some("JWT".into());
        components.add_security_scheme("access_token", SecurityScheme::Http(jwt));
    }
}

/// Every route, registered once with both axum and the OpenAPI document.
fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(idempotent_routes())
        .merge(plain_routes())
}

/// The POSTs that create something or send a code, which take an `Idempotency-Key`
/// (`idempotency.rs`): only they pass through that middleware.
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
        .routes(routes!(auth::refresh))
        .routes(routes!(auth::signout))
        .routes(routes!(auth::me))
        .routes(routes!(admin::get_config, admin::patch_config))
        .routes(routes!(admin::get_user))
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
        .routes(routes!(admin::get_user_mfa, admin::reset_user_mfa))
        .routes(routes!(admin::get_tenant_auth, admin::patch_tenant_auth))
        .routes(routes!(mfa::list))
        .routes(routes!(mfa::confirm))
        .routes(routes!(mfa::delete))
        .routes(routes!(mfa::verify))
        .routes(routes!(meta::healthz))
        .routes(routes!(meta::readyz))
        .routes(routes!(meta::jwks))
        .routes(routes!(meta::openapi))
}

/// The OpenAPI document as JSON.
pub fn openapi_json() -> serde_json::Value {
    meta::OPENAPI
        .get_or_init(|| serde_json::to_value(routes().split_for_parts().1).unwrap_or_default())
        .clone()
}

/// The complete application router.
pub fn router(app: App) -> Router {
    let (_, doc) = routes().split_for_parts();
    meta::OPENAPI.get_or_init(|| serde_json::to_value(doc).unwrap_or_default());
    let limit = app.config.max_body_bytes;
    let (idempotent, _) = idempotent_routes().split_for_parts();
    let (plain, _) = plain_routes().split_for_parts();
    plain
        .merge(idempotent.route_layer(axum::middleware::from_fn_with_state(
            app.clone(),
            idempotency::idempotent,
        )))
        .fallback(|| async { ApiError::not_found() })
        .method_not_allowed_fallback(|| async { ApiError::method_not_allowed() })
        .layer(DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            edge::read_body_in_time,
        ))
        .layer(axum::middleware::from_fn(crate::telemetry::request_context))
        .with_state(app)
}

/// Serves `app` on `listener` until `shutdown` completes, then finishes the requests
/// already in flight (bounded by the configured grace period) before returning. The outbox
/// worker runs alongside and stops after the server, finishing the sends it started. The
/// timeouts and the connection cap live in [`edge`].
pub async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let grace = std::time::Duration::from_secs(app.config.shutdown_grace_secs);
    let limits = edge::Limits::from_config(&app.config);
    let (stop_worker, worker_stop) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(crate::outbox::run(app.clone(), worker_stop));
    // Off the request path and without delaying readiness.
    tokio::task::spawn_blocking(latchkey_core::phone::Phone::warm_up);
    edge::run(router(app), listener, limits, shutdown, grace).await;
    let _ = stop_worker.send(true);
    if tokio::time::timeout(grace, worker).await.is_err() {
        tracing::warn!("outbox worker did not stop within the grace period");
    }
    Ok(())
}
