//! The HTTP layer, one folder per API surface, all onto the same use cases (`service`):
//! - [`common`]: what every surface shares: the accept loop and timeouts, the client
//!   address behind proxies, `Idempotency-Key`, the extractors and pagination, and the
//!   [`common::Surface`] trait by which a surface says how it answers a failure;
//! - [`v1`]: the native API (`/v1/*`) and the operational routes;
//! - [`v2`]: HelloJohn-style administration (`/v2/admin/*`);
//! - [`nauth`]: nauth-toolkit-style routes (`/auth/*`) with nauth's challenge and error
//!   shapes;
//! - [`pages`]: the hosted, server-rendered pages (`/login`, `/account/security`), which
//!   answer a failure with a redirect or an HTML page, never JSON, and are not in
//!   `/openapi.json`;
//! - [`oidc`]: the OpenID Connect provider's endpoints for programs (discovery, the token
//!   endpoint with its grants, userinfo, revocation);
//! - [`auth0`]: Auth0's Management API v2 (`/api/v2/*`, answering failures as Auth0 does)
//!   and its MFA API (`/mfa/*`).
//!
//! Each is its own folder with its routes, its shapes and its renderer. This module
//! assembles the surfaces into one router and their OpenAPI
//! descriptions (generated from the handlers' annotations, so a route cannot be missing)
//! into the one `/openapi.json`.

pub mod auth0;
pub mod common;
pub mod metrics;
pub mod nauth;
pub mod oidc;
pub mod pages;
pub mod v1;
pub mod v2;

use crate::service::Failure;
use crate::App;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use common::{edge, Surface};
use std::sync::OnceLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use v1::V1;

/// The head of the document: what the server is and how callers authenticate. Each
/// surface brings its own paths, shapes and tags.
#[derive(OpenApi)]
#[openapi(
    info(title = "Latchkey", description = "A self-hosted authentication server whose heart is multi-factor authentication."),
    modifiers(&Security),
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
        // Auth0's MFA API: the `mfa_token` a password grant's `mfa_required` carries.
        components.add_security_scheme(
            "mfa_token",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

/// Every surface's routes with their OpenAPI description.
fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(v1::routes())
        .merge(v2::routes())
        .merge(oidc::routes())
        .merge(auth0::routes())
        .merge(nauth::routes())
}

/// The OpenAPI document as JSON.
pub fn openapi_json() -> serde_json::Value {
    static OPENAPI: OnceLock<serde_json::Value> = OnceLock::new();
    OPENAPI
        .get_or_init(|| serde_json::to_value(routes().into_openapi()).unwrap_or_default())
        .clone()
}

/// The complete application router. What no route matches, and the limits applied before
/// routing, answer as the native surface does.
pub fn router(app: App) -> Router {
    let limit = app.config.max_body_bytes;
    let routed = Router::new()
        .merge(v1::router(&app))
        .merge(v2::router(&app))
        .merge(oidc::router(&app))
        .merge(auth0::router(&app))
        .merge(nauth::router(&app))
        .merge(pages::router(&app))
        .merge(metrics::router())
        .fallback(|| async { V1::reject(Failure::not_found()) })
        .method_not_allowed_fallback(|| async { V1::reject(Failure::method_not_allowed()) })
        .layer(DefaultBodyLimit::max(limit))
        // Before routing, so a preflight (`OPTIONS`) is answered rather than refused.
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            common::cors::browser_api,
        ))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            edge::read_body_in_time::<V1>,
        ))
        // A route layer: it runs after routing, so it sees the matched route template.
        .layer(axum::middleware::from_fn_with_state(app.clone(), metrics::track))
        .layer(axum::middleware::from_fn(crate::telemetry::request_context))
        .with_state(app.clone());
    // The tenant is found (and a `/t/{slug}` path rewritten) before routing.
    Router::new()
        .fallback_service(routed)
        .layer(axum::middleware::from_fn_with_state(app, common::scope::route))
}

/// The background tasks a serving app needs beside its router: the outbox worker (SMS and
/// email, with retries), the events worker (webhooks), and the refreshers of signing keys
/// and tenants' addresses that other replicas (or `latchkey keys rotate-signing`) change.
/// [`serve`] runs them; an application embedding the router runs them itself
/// (`crates/embed`).
pub struct Workers {
    stop: tokio::sync::watch::Sender<bool>,
    outbox: tokio::task::JoinHandle<()>,
    events: tokio::task::JoinHandle<()>,
    keys: tokio::task::JoinHandle<()>,
    addresses: tokio::task::JoinHandle<()>,
    grace: std::time::Duration,
}

impl Workers {
    /// Starts them on the current Tokio runtime.
    pub fn spawn(app: &App) -> Workers {
        Workers::spawn_with(app, tokio::sync::watch::channel(false).0)
    }

    /// Starts them, stopped by `stop` (which other tasks may already watch).
    fn spawn_with(app: &App, stop: tokio::sync::watch::Sender<bool>) -> Workers {
        let worker_stop = stop.subscribe();
        let outbox = tokio::spawn(crate::outbox::run(app.clone(), worker_stop.clone()));
        let events = tokio::spawn(crate::outbox::webhooks::run(app.clone(), worker_stop.clone()));
        let keys_app = app.clone();
        let keys_stop = worker_stop.clone();
        let keys = tokio::spawn(async move { keys_app.crypto.keep_fresh(&keys_app.store, keys_stop).await });
        let addresses_app = app.clone();
        let addresses = tokio::spawn(async move { addresses_app.keep_addresses_fresh(worker_stop).await });
        Workers {
            stop,
            outbox,
            events,
            keys,
            addresses,
            grace: std::time::Duration::from_secs(app.config.shutdown_grace_secs),
        }
    }

    /// Stops them, letting the outbox and events workers finish the sends they started
    /// (bounded by `shutdown_grace`).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        if tokio::time::timeout(self.grace, self.outbox).await.is_err() {
            tracing::warn!("outbox worker did not stop within the grace period");
        }
        if tokio::time::timeout(self.grace, self.events).await.is_err() {
            tracing::warn!("events worker did not stop within the grace period");
        }
        let _ = self.keys.await;
        let _ = self.addresses.await;
    }
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
    // Checked with the configuration already; read again here, before anything starts.
    let tls = match app.config.tls_files() {
        Some((cert, key)) => Some(common::tls::Tls::load(cert, key).map_err(std::io::Error::other)?),
        None => None,
    };
    let (stop_workers, worker_stop) = tokio::sync::watch::channel(false);
    let metrics = metrics::serve_separately(app.clone(), worker_stop).await?;
    let workers = Workers::spawn_with(&app, stop_workers);
    // Off the request path and without delaying readiness.
    tokio::task::spawn_blocking(latchkey_core::phone::Phone::warm_up);
    edge::run(router(app), listener, limits, tls, shutdown, grace).await;
    workers.stop().await;
    if let Some(m) = metrics {
        let _ = m.await;
    }
    Ok(())
}
