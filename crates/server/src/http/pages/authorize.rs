//! The OpenID Connect provider's browser side: the authorization endpoint (`/authorize`),
//! the way back to it after the sign-in screens (`/login/continue`), cancelling
//! (`/authorize/cancel`), and RP-initiated logout's confirmation (`GET /logout`).
//!
//! A checked authorization request ([`PendingAuthorize`]) waits in its own sealed cookie,
//! `lk_authorize`, while the user goes through `/login`, the second factor or a forced
//! enrollment; every way a sign-in completes ends at `/login/continue`, which goes back to
//! the application with a code, or to the account page when no application is waiting.
//! The decisions are the service's (`service/oidc.rs`); this module parses and renders.

use super::login::{see_other, Empty};
use super::session::{cookie_value, secure_cookies, CookieSession, Posted, State, Visitor};
use super::text::t;
use super::{html, views, PageError};
use crate::service::oidc::{
    AuthorizeFailure, AuthorizeNext, AuthorizeParams, AuthorizeReply, LogoutParams, PendingAuthorize,
};
use crate::App;
use axum::body::Bytes;
use axum::extract::State as AppState;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use latchkey_core::ids::SessionId;
use latchkey_core::oauth::ResponseMode;
use latchkey_store::model::{Session, Tenant};

/// The cookie a pending authorization request waits in; `__Host-` prefixed over HTTPS,
/// as the session's is.
pub const PENDING_COOKIE: &str = "lk_authorize";
const PENDING_HOST_COOKIE: &str = "__Host-lk_authorize";

fn pending_name(app: &App) -> String {
    super::cookie_name(if secure_cookies(app) {
        PENDING_HOST_COOKIE
    } else {
        PENDING_COOKIE
    })
}
/// Browsers keep cookies up to 4096 bytes; a request too large for one is refused.
const MAX_COOKIE: usize = 3900;

fn aad() -> String {
    super::cookie_aad(PENDING_COOKIE)
}

/// The pending request of a page request, opened once by the surface's middleware and
/// kept in the request's extensions (`session::Visitor::waiting` hands it to handlers).
#[derive(Clone)]
pub struct Waiting(pub Option<PendingAuthorize>);

/// The pending request in a request's cookies, if one opens and has not expired.
pub fn read_pending(headers: &HeaderMap, app: &App) -> Option<PendingAuthorize> {
    let value = cookie_value(headers, &pending_name(app))?;
    let bytes = app.crypto.keyring.open(value, &aad()).ok()?;
    let pending: PendingAuthorize = serde_json::from_slice(&bytes).ok()?;
    (app.now() < pending.expires_at).then_some(pending)
}

fn set_pending(app: &App, pending: &PendingAuthorize) -> Option<HeaderValue> {
    let json = serde_json::to_vec(pending).ok()?;
    let sealed = app.crypto.keyring.seal(&json, &aad(), app.rng.as_ref()).ok()?;
    if sealed.len() > MAX_COOKIE {
        return None;
    }
    let secure = if secure_cookies(app) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}={sealed}; Path=/; HttpOnly; SameSite=Lax; Max-Age=1800{secure}",
        pending_name(app)
    ))
    .ok()
}

fn clear_pending(app: &App) -> HeaderValue {
    let secure = if secure_cookies(app) { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0{secure}",
        pending_name(app)
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("lk_authorize=; Path=/; Max-Age=0"))
}

/// A request the application cannot be told about: a page, never a redirect.
fn unusable(code: &'static str) -> PageError {
    tracing::info!(reason = code, "authorization request refused without redirect");
    PageError::page(
        StatusCode::BAD_REQUEST,
        t!(AUTHORIZE_INVALID_TITLE),
        t!(AUTHORIZE_INVALID),
    )
}

/// The way back to the application: a `303` to its redirect URI, or the form-post page
/// (whose policy lets forms go to that one origin only).
fn send_back(app: &App, reply: &AuthorizeReply, app_name: &str) -> Response {
    let mut response = match reply.mode {
        ResponseMode::Query => see_other(&reply.location()),
        ResponseMode::FormPost => {
            let mut r = html(
                StatusCode::OK,
                views::form_post(&reply.redirect_uri, &reply.params, app_name),
            );
            let csp = super::csp_allowing_form_action(&reply.redirect_uri);
            if let Ok(v) = HeaderValue::from_str(&csp) {
                r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
            }
            r
        }
    };
    response
        .headers_mut()
        .append(header::SET_COOKIE, clear_pending(app));
    response
}

/// `scheme://authority` of an absolute URI (a redirect URI, checked at registration).
pub fn origin_of(uri: &str) -> String {
    match uri.split_once("://") {
        Some((scheme, rest)) => {
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            format!("{scheme}://{authority}")
        }
        // A private-use scheme (`com.example.app:/cb`): the scheme is all a policy can name.
        None => format!("{}:", uri.split(':').next().unwrap_or("")),
    }
}

/// The browser's signed-in session, if its cookie names a live one of this tenant.
async fn browser_session(
    app: &App,
    tenant: &Tenant,
    cookie: Option<&CookieSession>,
) -> Result<Option<Session>, PageError> {
    let Some(State::User { session }) = cookie.map(|c| &c.state) else {
        return Ok(None);
    };
    let Ok(id) = SessionId::parse(session) else {
        return Ok(None);
    };
    Ok(app.browser_session(tenant, &id).await?)
}

/// Applies the service's decision: back to the application, or to `/login` with the
/// request kept.
async fn proceed(app: &App, visitor: &Visitor, mut pending: PendingAuthorize) -> Result<Response, PageError> {
    let session = browser_session(app, &visitor.tenant, visitor.cookie.as_ref()).await?;
    match app
        .authorize_next(&visitor.tenant, &mut pending, session.as_ref())
        .await?
    {
        AuthorizeNext::Reply(reply) => Ok(send_back(app, &reply, &pending.client_name)),
        AuthorizeNext::Unusable(code) => {
            let mut r = unusable(code).into_response();
            r.headers_mut().append(header::SET_COOKIE, clear_pending(app));
            Ok(r)
        }
        AuthorizeNext::SignIn { .. } => {
            let Some(cookie) = set_pending(app, &pending) else {
                let reply = app.authorize_error(
                    &visitor.tenant,
                    &pending,
                    "invalid_request",
                    t!(AUTHORIZE_TOO_LARGE),
                );
                return Ok(send_back(app, &reply, &pending.client_name));
            };
            let mut r = see_other("/login");
            r.headers_mut().append(header::SET_COOKIE, cookie);
            Ok(r)
        }
    }
}

/// The request's parameters, from the query (`GET`) or a form body (`POST`, §3.1.2.1).
/// A parameter given twice is refused (RFC 6749 §3.1): which one would count is unclear.
fn params(method: &Method, uri: &Uri, body: &Bytes) -> Option<AuthorizeParams> {
    let raw: &[u8] = if method == Method::POST {
        body
    } else {
        uri.query().unwrap_or("").as_bytes()
    };
    let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(raw).ok()?;
    let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    if names.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    serde_urlencoded::from_bytes(raw).ok()
}

/// `GET`/`POST /authorize`: an application's sign-in request. It is a navigation from the
/// application's site, so it carries no anti-forgery token; nothing it does changes state
/// beyond issuing a code bound to the application's own redirect URI and PKCE challenge.
pub async fn authorize(
    AppState(app): AppState<App>,
    visitor: Visitor,
    method: Method,
    uri: Uri,
    body: Bytes,
) -> Result<Response, PageError> {
    let Some(p) = params(&method, &uri, &body) else {
        return Err(unusable("malformed_request"));
    };
    match app.authorize_start(&visitor.tenant, &p).await {
        Ok(pending) => proceed(&app, &visitor, pending).await,
        Err(AuthorizeFailure::Unusable(code)) => Err(unusable(code)),
        Err(AuthorizeFailure::Reply(reply)) => Ok(send_back(&app, &reply, "")),
    }
}

/// `GET /login/continue`: where every completed sign-in lands. An application waiting
/// gets its answer; otherwise the account page.
pub async fn after_sign_in(AppState(app): AppState<App>, visitor: Visitor) -> Result<Response, PageError> {
    match visitor.waiting.clone() {
        Some(pending) => proceed(&app, &visitor, pending).await,
        None => Ok(see_other("/account/security")),
    }
}

/// `POST /authorize/cancel`: the user would rather not sign in; the application hears
/// `access_denied` (never a dead end).
pub async fn cancel(
    AppState(app): AppState<App>,
    visitor: Visitor,
    _: Posted<Empty>,
) -> Result<Response, PageError> {
    match &visitor.waiting {
        Some(pending) => {
            let reply = app.authorize_cancel(&visitor.tenant, pending);
            Ok(send_back(&app, &reply, &pending.client_name))
        }
        None => Ok(see_other("/login")),
    }
}

/// `GET /logout`: RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0). A page asks
/// first; its form posts to `/logout` with the parameters.
pub async fn logout_page(
    AppState(app): AppState<App>,
    visitor: Visitor,
    uri: Uri,
) -> Result<Response, PageError> {
    let p: LogoutParams =
        serde_urlencoded::from_str(uri.query().unwrap_or("")).map_err(|_| PageError::bad_form())?;
    let (plan, _) = app.logout_plan(&visitor.tenant, &p).await?;
    let (cookie, fresh) = match visitor.cookie {
        Some(c) => (c, false),
        None => (CookieSession::anonymous(&app), true),
    };
    let mut fields = Vec::new();
    for (name, value) in [
        ("id_token_hint", &p.id_token_hint),
        ("client_id", &p.client_id),
        ("post_logout_redirect_uri", &p.post_logout_redirect_uri),
        ("state", &p.state),
    ] {
        if let Some(v) = value.as_ref().filter(|v| !v.is_empty() && v.len() <= 4096) {
            fields.push((name, v.clone()));
        }
    }
    let mut page = html(
        StatusCode::OK,
        views::logout_confirm(&cookie.csrf_token(&app), plan.client_name.as_deref(), &fields),
    );
    // Signing out redirects (from this page's form) to the application's registered URI.
    if let Some(to) = &plan.redirect {
        if let Ok(v) = HeaderValue::from_str(&super::csp_allowing_form_action(to)) {
            page.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
        }
    }
    if fresh {
        super::login::with_cookie(page, &app, &cookie)
    } else {
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_post_origins() {
        assert_eq!(
            origin_of("https://app.example:8443/cb?x=1"),
            "https://app.example:8443"
        );
        assert_eq!(origin_of("http://127.0.0.1:9000/cb"), "http://127.0.0.1:9000");
        assert_eq!(origin_of("com.example.app:/cb"), "com.example.app:");
    }
}
