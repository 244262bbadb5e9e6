//! The hosted pages: server-rendered sign-in (`/login`, its second-factor and forced
//! enrollment steps, `/logout`) and the account's security page (`/account/security`), for
//! people rather than programs. A failure is an HTML page or a redirect, never JSON
//! ([`PageError`]); the words are in [`text`], the markup in [`views`] (maud, compiled into
//! the binary); the cookie session and the anti-forgery tokens in [`session`].
//!
//! Every answer here carries a strict Content-Security-Policy (no inline script or style;
//! the one stylesheet and script are served from `/assets/`), `nosniff`, `no-referrer`
//! and `no-store` ([`security_headers`]). The pages serve the default tenant only; pages per
//! tenant (by host or path) come later. They are not part of `/openapi.json`.
//!
//! WebAuthn: a ceremony is a form (`views::ceremony`) whose button `assets/webauthn.js`
//! wires: it fetches the options from an endpoint answering JSON to the script
//! ([`script`]: `/login/passkey/options`, `/login/mfa/webauthn/options`,
//! `/login/enroll/passkey/options`, `/account/passkeys/options`), runs
//! `navigator.credentials`, and submits the form with the browser's answer to a route
//! answering a page (`/login/passkey`, `/login/mfa/verify`, `/login/enroll/passkey`,
//! `/account/passkeys/confirm`). On `/login` the script also offers passkeys in the email
//! field's autofill (conditional mediation).

pub mod account;
pub mod authorize;
pub mod email_views;
pub mod login;
pub mod recovery;
pub mod script;
pub mod session;
pub mod signup;
pub mod text;
pub mod ticket;
pub mod views;

use super::common::scope::Scope;
use super::common::Surface;
use crate::service::{Failure, FailureKind};
use crate::App;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, MethodRouter};
use axum::Router;
use text::t;

/// The pages surface: a failure is a page (or a redirect to sign-in).
pub struct Pages;

impl Surface for Pages {
    type Rejection = PageError;

    fn reject(failure: Failure) -> PageError {
        PageError::from(failure)
    }
}

/// How a page request fails: a redirect, or an error page with a status.
#[derive(Debug)]
pub enum PageError {
    /// `303 See Other` to a page of ours.
    Redirect(&'static str),
    /// Not (or no longer) signed in: to `/login`, and the cookie is cleared.
    SignedOut,
    /// An error page.
    Page {
        status: StatusCode,
        title: &'static str,
        message: String,
        retry_after: Option<u64>,
    },
}

impl PageError {
    pub fn page(status: StatusCode, title: &'static str, message: impl Into<String>) -> Self {
        PageError::Page {
            status,
            title,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A form without a valid anti-forgery token, or sent from another site.
    pub fn forgery() -> Self {
        Self::page(StatusCode::FORBIDDEN, t!(FORBIDDEN_TITLE), t!(FORBIDDEN_CSRF))
    }

    pub fn bad_form() -> Self {
        Self::page(StatusCode::BAD_REQUEST, t!(BAD_REQUEST_TITLE), t!(BAD_REQUEST))
    }
}

/// A failure as a page: its status from the kind (the same classes `/v1` uses), its words
/// from [`text`]. An unauthenticated request goes to sign-in instead.
impl From<Failure> for PageError {
    fn from(f: Failure) -> Self {
        let (status, title, message) = match f.kind {
            FailureKind::Unauthenticated => return PageError::SignedOut,
            FailureKind::Throttled => (
                StatusCode::TOO_MANY_REQUESTS,
                t!(THROTTLED_TITLE),
                t!(too_many_attempts)(f.retry_after_secs.unwrap_or(1)),
            ),
            FailureKind::NotFound => (StatusCode::NOT_FOUND, t!(NOT_FOUND_TITLE), t!(NOT_FOUND).into()),
            FailureKind::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                t!(NOT_FOUND_TITLE),
                t!(NOT_FOUND).into(),
            ),
            FailureKind::Invalid | FailureKind::UnsupportedMediaType => (
                StatusCode::BAD_REQUEST,
                t!(BAD_REQUEST_TITLE),
                t!(BAD_REQUEST).into(),
            ),
            FailureKind::TooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                t!(BAD_REQUEST_TITLE),
                t!(BAD_REQUEST).into(),
            ),
            FailureKind::Timeout => (
                StatusCode::REQUEST_TIMEOUT,
                t!(BAD_REQUEST_TITLE),
                t!(BAD_REQUEST).into(),
            ),
            FailureKind::Forbidden => (StatusCode::FORBIDDEN, t!(GENERIC_TITLE), f.message),
            FailureKind::Conflict => (StatusCode::CONFLICT, t!(GENERIC_TITLE), f.message),
            FailureKind::Unprocessable => (StatusCode::UNPROCESSABLE_ENTITY, t!(GENERIC_TITLE), f.message),
            FailureKind::Unavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                t!(UNAVAILABLE_TITLE),
                t!(UNAVAILABLE).into(),
            ),
            FailureKind::Internal => (
                StatusCode::INTERNAL_SERVER_ERROR,
                t!(INTERNAL_TITLE),
                t!(INTERNAL).into(),
            ),
        };
        PageError::Page {
            status,
            title,
            message,
            retry_after: f.retry_after_secs,
        }
    }
}

impl From<crate::service::ServiceError> for PageError {
    fn from(e: crate::service::ServiceError) -> Self {
        Failure::from(e).into()
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        match self {
            PageError::Redirect(to) => Redirect::to(to).into_response(),
            PageError::SignedOut => {
                let mut resp = Redirect::to("/login").into_response();
                session::clear_cookies(resp.headers_mut());
                resp
            }
            PageError::Page {
                status,
                title,
                message,
                retry_after,
            } => {
                let mut resp = html(status, views::error_page(title, &message));
                if let Some(secs) = retry_after {
                    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                        resp.headers_mut().insert(header::RETRY_AFTER, v);
                    }
                }
                resp
            }
        }
    }
}

/// A rendered page with its status.
pub fn html(status: StatusCode, markup: maud::Markup) -> Response {
    (status, axum::response::Html(markup.into_string())).into_response()
}

/// The policy every page carries: only our own script, stylesheet and images (and `data:`
/// images, for the QR code), forms only to us, never framed (CSP Level 3; ASVS 5.0 V3.4.3).
pub const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; connect-src 'self'";

/// [`CSP`] with `form-action` also allowing the origin of `uri` (an application's
/// registered redirect URI: `scheme://host[:port]`, or a private-use scheme alone).
pub fn csp_allowing_form_action(uri: &str) -> String {
    CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {}", authorize::origin_of(uri)),
    )
}

/// Middleware for every answer of the surface, redirects and errors included.
///
/// While an application waits for this sign-in (`authorize::read_pending`), `form-action`
/// also allows its redirect URI's origin: browsers apply a page's `form-action` to every
/// redirect its form submission leads through, and a completed sign-in's last redirect
/// goes back to the application. A page that sets its own policy (the form-post
/// response, RP-initiated logout) keeps it.
///
/// The page's language (`text::negotiate`: the query's or the waiting application's
/// `ui_locales`, then `Accept-Language`) and the tenant's branding (`views::Brand`) are set here for the pages the request renders; a
/// logo adds its origin to `img-src`.
pub async fn security_headers(State(app): State<App>, req: Request, next: Next) -> Response {
    let scope = req
        .extensions()
        .get::<Scope>()
        .cloned()
        .unwrap_or_else(|| Scope::default_of(&app));
    SCOPE
        .scope(scope.clone(), page_answer(app, scope, req, next))
        .await
}

async fn page_answer(app: App, scope: Scope, mut req: Request, next: Next) -> Response {
    // Opened once per request: the handlers find it in the request (`session::Visitor`).
    let pending = authorize::read_pending(req.headers(), &app);
    let waiting = pending.as_ref().map(|p| p.redirect_uri.clone());
    let for_app = pending.as_ref().map(|p| views::ForApp {
        name: p.client_name.clone(),
        phishing_resistant: p.acr == Some(latchkey_core::assurance::Aal::Aal2Phr),
    });
    let lang = text::negotiate(
        ui_locales_in(req.uri().query())
            .as_deref()
            .or(pending.as_ref().and_then(|p| p.ui_locales.as_deref())),
        req.headers()
            .get(header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok()),
    );
    req.extensions_mut().insert(authorize::Waiting(pending));
    let brand = match app.load_tenant(&scope.tenant).await {
        Ok(t) => views::Brand::of(&t.settings.branding),
        Err(_) => views::Brand::default(),
    };
    let logo_origin = brand.logo.as_deref().map(authorize::origin_of);
    let mut resp = text::LANG
        .scope(
            lang,
            views::BRAND.scope(brand, views::FOR_APP.scope(for_app, next.run(req))),
        )
        .await;
    let h = resp.headers_mut();
    // Our own redirects name root paths; under `/t/{slug}` they go to the slug's.
    if let Some(to) = h.get(header::LOCATION).and_then(|v| v.to_str().ok()) {
        let here = scope.path(to);
        if here != to {
            if let Ok(v) = HeaderValue::from_str(&here) {
                h.insert(header::LOCATION, v);
            }
        }
    }
    h.insert(header::CONTENT_LANGUAGE, HeaderValue::from_static(lang.tag()));
    if !h.contains_key(header::CONTENT_SECURITY_POLICY) {
        let mut policy = match &waiting {
            Some(uri) => csp_allowing_form_action(uri),
            None => CSP.to_owned(),
        };
        if let Some(origin) = &logo_origin {
            policy = policy.replace("img-src 'self' data:", &format!("img-src 'self' data: {origin}"));
        }
        let value = HeaderValue::from_str(&policy).unwrap_or(HeaderValue::from_static(CSP));
        h.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if !h.contains_key(header::CACHE_CONTROL) {
        // Pages show one-time secrets (a TOTP key, backup codes) and personal data.
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    resp
}

tokio::task_local! {
    /// The tenant and issuer of the page being answered (set by [`security_headers`]).
    pub static SCOPE: Scope;
}

/// One of our paths as the browser must ask for it under this request's issuer (`/login`
/// is `/t/acme/login` under a slug); anything else unchanged.
pub fn here(path: &str) -> String {
    SCOPE
        .try_with(|s| s.path(path))
        .unwrap_or_else(|_| path.to_owned())
}

/// One of the pages' assets as the browser must ask for it: after the mount path of an
/// embedding application (`Scope::asset`), else as it is.
pub fn asset_path(path: &str) -> String {
    SCOPE
        .try_with(|s| s.asset(path))
        .unwrap_or_else(|_| path.to_owned())
}

/// A cookie's name under this request's tenant: the default tenant's cookies keep their
/// names; another tenant's end in `_{tenant id}` ([`Scope::cookie_suffix`]).
pub fn cookie_name(name: &str) -> String {
    let suffix = SCOPE.try_with(Scope::cookie_suffix).unwrap_or_default();
    format!("{name}{suffix}")
}

/// The associated data that seals a cookie to its purpose and to this request's tenant:
/// a cookie sealed for one tenant does not open for another, whatever its name.
pub fn cookie_aad(purpose: &str) -> String {
    let tenant = SCOPE
        .try_with(|s| (!s.is_default).then(|| s.tenant.to_string()))
        .ok()
        .flatten();
    match tenant {
        Some(t) => latchkey_core::seal::aad("cookie", purpose, &format!("v1:{t}")),
        None => latchkey_core::seal::aad("cookie", purpose, "v1"),
    }
}

/// The `ui_locales` parameter of a query (`/authorize`, `/logout`), if any.
fn ui_locales_in(query: Option<&str>) -> Option<String> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query?).ok()?;
    pairs
        .into_iter()
        .find(|(k, _)| k == "ui_locales")
        .map(|(_, v)| v.chars().take(256).collect())
}

/// A route whose other methods answer as a page (405), not as `/v1` would.
fn page_route(route: MethodRouter<App>) -> MethodRouter<App> {
    route.fallback(|| async { PageError::from(Failure::method_not_allowed()) })
}

/// The surface's routes, with its headers. Not in `routes()` for OpenAPI: pages are for
/// browsers, not an API.
pub fn router(app: &App) -> Router<App> {
    Router::new()
        .route("/login", page_route(get(login::form).post(login::submit)))
        .route("/login/passkey", page_route(post(login::passkey_signin)))
        .route("/login/passkey/options", page_route(post(login::passkey_options)))
        .route("/login/mfa", page_route(get(login::mfa_form)))
        .route(
            "/login/mfa/webauthn/options",
            page_route(post(login::mfa_webauthn_options)),
        )
        .route("/login/mfa/send", page_route(post(login::mfa_send)))
        .route("/login/mfa/verify", page_route(post(login::mfa_verify)))
        .route(
            "/login/enroll",
            page_route(get(login::enroll_form).post(login::enroll_start)),
        )
        .route("/login/enroll/confirm", page_route(post(login::enroll_confirm)))
        .route(
            "/login/enroll/passkey/options",
            page_route(post(login::enroll_passkey_options)),
        )
        .route("/login/enroll/passkey", page_route(post(login::enroll_passkey)))
        // AuthHero's universal-login paths for the same screens: one form asks for the
        // identifier and the password; `/u2/mfa/otp` is the authenticator app's step.
        .route(
            "/u2/login/identifier",
            page_route(get(login::form).post(login::submit)),
        )
        .route(
            "/u2/login/password",
            page_route(get(login::form).post(login::submit)),
        )
        .route("/u2/mfa/otp", page_route(get(login::otp_form)))
        .route(
            "/u2/mfa/phone",
            page_route(get(login::sms_phone_form).post(login::sms_phone_submit)),
        )
        .route(
            "/u2/mfa/sms",
            page_route(get(login::sms_code_form).post(login::sms_code_submit)),
        )
        .route("/login/enroll/email", page_route(post(login::email_start)))
        .route(
            "/u2/mfa/email",
            page_route(get(login::email_code_form).post(login::email_code_submit)),
        )
        .route("/signup", page_route(get(signup::form).post(signup::submit)))
        .route("/enroll", page_route(get(ticket::form).post(ticket::submit)))
        .route(
            "/password/forgot",
            page_route(get(recovery::forgot_form).post(recovery::forgot_submit)),
        )
        .route(
            "/password/reset",
            page_route(get(recovery::reset_form).post(recovery::reset_submit)),
        )
        .route(
            "/verify-email",
            page_route(get(recovery::verify_form).post(recovery::verify_submit)),
        )
        .route("/verify-email/send", page_route(post(recovery::verify_send)))
        .route(
            "/logout",
            page_route(get(authorize::logout_page).post(login::logout)),
        )
        .route(
            "/authorize",
            page_route(get(authorize::authorize).post(authorize::authorize)),
        )
        .route("/authorize/cancel", page_route(post(authorize::cancel)))
        .route("/login/continue", page_route(get(authorize::after_sign_in)))
        .route("/account/security", page_route(get(account::security)))
        .route("/account/security/totp", page_route(post(account::totp_start)))
        .route(
            "/account/security/totp/confirm",
            page_route(post(account::totp_confirm)),
        )
        .route(
            "/account/passkeys/options",
            page_route(post(account::passkey_options)),
        )
        .route(
            "/account/passkeys/confirm",
            page_route(post(account::passkey_confirm)),
        )
        .route(
            "/account/security/factors/{factor_id}/remove",
            page_route(post(account::remove_factor)),
        )
        .route(
            "/account/security/devices/{device_id}/forget",
            page_route(post(account::forget_device)),
        )
        .route(
            "/account/security/devices/forget",
            page_route(post(account::forget_devices)),
        )
        .route(
            "/account/security/backup-codes",
            page_route(post(account::backup_codes)),
        )
        .route(
            "/account/reauth",
            page_route(get(account::reauth_form).post(account::reauth)),
        )
        .route("/t/{*rest}", page_route(get(not_found).post(not_found)))
        .route("/assets/pages.css", get(stylesheet))
        .route("/assets/webauthn.js", get(script))
        .route("/assets/form-post.js", get(form_post_script))
        .route("/assets/brand.css", get(brand_stylesheet))
        .route("/assets/favicon.svg", get(favicon))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            security_headers,
        ))
}

/// A `/t/{slug}/…` path that no tenant serves (`http::common::scope::route` rewrote
/// every one that a tenant does).
async fn not_found() -> PageError {
    PageError::from(Failure::not_found())
}

/// Assets change only with the binary; an hour of caching spares a fetch per page.
fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn stylesheet() -> Response {
    asset("text/css; charset=utf-8", include_str!("assets/pages.css"))
}

async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/webauthn.js"),
    )
}

/// A tenant's accent colour as a stylesheet (the pages allow no inline style). The page
/// links it with the colour in the query (`?v=1f6f43`, without `#`), which is all it reads: any
/// tenant's colour is a URL of its own for caches, and nothing but a `#rrggbb` passes.
async fn brand_stylesheet(req: Request) -> Response {
    let color = req
        .uri()
        .query()
        .and_then(|q| serde_urlencoded::from_str::<Vec<(String, String)>>(q).ok())
        .and_then(|pairs| {
            pairs
                .into_iter()
                .find(|(k, _)| k == "v")
                .map(|(_, v)| format!("#{v}"))
        })
        .filter(|c| latchkey_core::settings::parse_hex_color(c).is_some());
    let body = match color {
        Some(c) => format!(":root {{ --accent: {c}; }}\n"),
        None => String::new(),
    };
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
        .into_response()
}

async fn form_post_script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("assets/form-post.js"),
    )
}

async fn favicon() -> Response {
    asset("image/svg+xml", include_str!("assets/favicon.svg"))
}
