//! The pages' cookie session and anti-forgery tokens.
//!
//! **The cookie** (`lk_session`: HttpOnly, SameSite=Lax, Path=/; over HTTPS `Secure` and
//! named `__Host-lk_session`) holds a [`CookieSession`] sealed with the server's keyring (XChaCha20-Poly1305,
//! bound to its purpose as associated data), so a browser can neither read nor forge it:
//! a random id, an expiry, and where the visitor is: anonymous, between password and second
//! factor (the challenge id and the factors offered), or signed in (the id of a real
//! `Session` row, re-checked on every request, so revoking the session anywhere signs the
//! page out). The id is new whenever who is signed in changes (OWASP session fixation).
//!
//! **Anti-forgery** (OWASP CSRF cheat sheet, synchronizer token; ASVS 5.0 V3.5.1): every
//! form carries a token that is the keyed hash (HMAC-SHA-256 under the server's pepper) of
//! the cookie session's random id; a POST must send the token of the cookie it comes with,
//! compared in constant time, and, where the browser says where it comes from (`Origin`,
//! `Sec-Fetch-Site`), come from this site. Before sign-in the same holds with an anonymous
//! cookie, so the login form itself cannot be forged (login CSRF).

use super::{PageError, Pages};
use crate::http::common::extract::Meta;
use crate::http::common::scope::Scope;
use crate::http::common::Surface;
use crate::service::audit::{Actor, RequestMeta};
use crate::service::browser::session_actor;
use crate::service::outcome::{OfferedFactor, PendingChallenge};
use crate::App;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::SessionId;
use latchkey_core::secret::{b64url, ct_eq};
use latchkey_store::model::{Session, Tenant, User};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// The cookie's name over plain HTTP, and its purpose in the sealing's associated data.
pub const COOKIE: &str = "lk_session";
/// Its name when browsers reach the server over HTTPS. The `__Host-` prefix (RFC 6265bis
/// §4.1.3.2; NIST SP 800-63B-4 §5.1.1; SECURITY.md test 29) makes the browser accept it only
/// with `Secure`, `Path=/` and no `Domain`, from a secure origin: a sibling subdomain or a
/// plain-HTTP page cannot plant one (cookie tossing, session fixation). Browsers refuse
/// the prefix without `Secure`, so plain HTTP keeps the bare name.
pub const HOST_COOKIE: &str = "__Host-lk_session";
/// How long a visitor who has not signed in keeps one anti-forgery id.
const ANONYMOUS_TTL_MS: i64 = 2 * 3600 * 1000;
/// The longest a browser stays signed in, whatever the session's refresh lifetime.
const SIGNED_IN_TTL_MS: i64 = 12 * 3600 * 1000;
/// At most this many factors are kept in the cookie for the second-factor step.
const MAX_OFFERED: usize = 12;

fn aad() -> String {
    super::cookie_aad(COOKIE)
}

/// What the cookie holds, sealed. No `Debug`: it carries a challenge id, which with a code
/// completes a sign-in.
#[derive(Serialize, Deserialize, Clone)]
pub struct CookieSession {
    /// 128 random bits (base64url): the seed of the anti-forgery token.
    pub id: String,
    /// Unix milliseconds after which the cookie is refused.
    pub exp: i64,
    pub state: State,
}

/// Where the visitor is.
#[derive(Serialize, Deserialize, Clone)]
#[serde(tag = "t", rename_all = "snake_case")]
pub enum State {
    Anonymous,
    /// Password accepted; one of `factors` still to prove for `challenge`.
    Mfa {
        challenge: String,
        factors: Vec<Offered>,
        /// The factor a code was sent for last, shown by default.
        sent: Option<String>,
        /// A signed-in session this sign-in re-verifies (step-up): ended when it succeeds.
        replaces: Option<String>,
        /// Every SMS or email factor a code was sent for in this sign-in, with when another
        /// may be sent: showing the factor again (a reload, a switch back) sends nothing.
        #[serde(default)]
        sends: Vec<CodeSent>,
    },
    /// Password accepted; a factor of `allowed` kinds to enroll first.
    Enroll {
        challenge: String,
        allowed: Vec<String>,
        replaces: Option<String>,
        /// An SMS or email factor started for the challenge, waiting for its code
        /// (`/u2/mfa/sms`, `/u2/mfa/email`).
        #[serde(default)]
        code: Option<PendingCode>,
    },
    /// Signed in: the `Session` row.
    User {
        session: String,
    },
}

/// An SMS or email factor being set up at forced enrollment.
#[derive(Serialize, Deserialize, Clone)]
pub struct PendingCode {
    /// `sms` or `email_otp`.
    pub kind: String,
    pub factor: String,
    /// The masked number the code went to.
    pub to: String,
    /// Unix milliseconds before which the page sends no other code (the resend cooldown).
    #[serde(default)]
    pub resend_at: i64,
}

/// A code sent for a factor of the second-factor step.
#[derive(Serialize, Deserialize, Clone)]
pub struct CodeSent {
    pub factor: String,
    /// Unix milliseconds from which the service's resend cooldown allows another code.
    pub resend_at: i64,
}

/// A factor as the second-factor step offers it.
#[derive(Serialize, Deserialize, Clone)]
pub struct Offered {
    pub id: String,
    pub kind: String,
    pub name: Option<String>,
    pub destination: Option<String>,
}

impl From<&OfferedFactor> for Offered {
    fn from(f: &OfferedFactor) -> Self {
        Offered {
            id: f.id.to_string(),
            kind: f.kind.as_str().to_owned(),
            name: f.name.clone(),
            destination: f.destination.clone(),
        }
    }
}

impl CookieSession {
    /// A new cookie session (a new random id) in `state`, valid until `exp`.
    pub fn fresh(app: &App, state: State, exp: i64) -> Self {
        let raw: [u8; 16] = latchkey_core::rand::bytes(app.rng.as_ref());
        CookieSession {
            id: b64url(&raw),
            exp,
            state,
        }
    }

    pub fn anonymous(app: &App) -> Self {
        Self::fresh(app, State::Anonymous, app.now() + ANONYMOUS_TTL_MS)
    }

    /// Signed in with `session`: a new id, until the session ends or [`SIGNED_IN_TTL_MS`].
    pub fn signed_in(app: &App, session: &Session) -> Self {
        let exp = session.expires_at.min(app.now() + SIGNED_IN_TTL_MS);
        Self::fresh(
            app,
            State::User {
                session: session.id.to_string(),
            },
            exp,
        )
    }

    /// Between password and second factor: a new id, as long as the challenge lives (the
    /// service decides whether it still does).
    pub fn pending(app: &App, pending: &PendingChallenge, enroll: bool, replaces: Option<String>) -> Self {
        let challenge = pending.challenge_id.to_string();
        let state = if enroll {
            State::Enroll {
                challenge,
                allowed: pending.allowed.iter().map(|k| k.as_str().to_owned()).collect(),
                replaces,
                code: None,
            }
        } else {
            State::Mfa {
                challenge,
                factors: pending
                    .factors
                    .iter()
                    .take(MAX_OFFERED)
                    .map(Offered::from)
                    .collect(),
                sent: None,
                replaces,
                sends: Vec::new(),
            }
        };
        // A sent code may keep the challenge open past its first expiry; the cookie allows
        // for that and the service has the last word.
        let exp = pending.expires_at.max(app.now()) + 15 * 60 * 1000;
        Self::fresh(app, state, exp)
    }

    /// The form token for this cookie session.
    pub fn csrf_token(&self, app: &App) -> String {
        app.crypto
            .hasher
            .hash(HashPurpose::CsrfToken, "", self.id.as_bytes())
    }

    fn open(app: &App, value: &str) -> Option<Self> {
        let bytes = app.crypto.keyring.open(value, &aad()).ok()?;
        let cookie: CookieSession = serde_json::from_slice(&bytes).ok()?;
        (app.now() < cookie.exp).then_some(cookie)
    }

    /// The `Set-Cookie` value that stores this cookie session.
    pub fn set_cookie(&self, app: &App) -> Result<HeaderValue, PageError> {
        let json = serde_json::to_vec(self).map_err(|_| internal())?;
        let sealed = app
            .crypto
            .keyring
            .seal(&json, &aad(), app.rng.as_ref())
            .map_err(|_| internal())?;
        let (name, secure) = if app.config.served_over_https() {
            (super::cookie_name(HOST_COOKIE), "; Secure")
        } else {
            (super::cookie_name(COOKIE), "")
        };
        HeaderValue::from_str(&format!(
            "{name}={sealed}; Path=/; HttpOnly; SameSite=Lax{secure}"
        ))
        .map_err(|_| internal())
    }
}

fn internal() -> PageError {
    PageError::from(crate::service::Failure::internal())
}

/// Whether the pages' cookies must only travel over TLS (and take the `__Host-` prefix).
pub fn secure_cookies(app: &App) -> bool {
    app.config.served_over_https()
}

/// Adds the `Set-Cookie` headers that remove the cookie. Both names are cleared: where
/// this runs (an error's rendering) the configuration that picks the name is not at hand,
/// and clearing the other is harmless (a browser ignores a `Secure` cookie sent over plain
/// HTTP, and over HTTPS the bare name is never set).
pub fn clear_cookies(headers: &mut HeaderMap) {
    let plain = format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0",
        super::cookie_name(COOKIE)
    );
    let host = format!(
        "{}=; Path=/; HttpOnly; SameSite=Lax; Secure; Max-Age=0",
        super::cookie_name(HOST_COOKIE)
    );
    for value in [plain, host] {
        if let Ok(v) = HeaderValue::from_str(&value) {
            headers.append(header::SET_COOKIE, v);
        }
    }
}

/// The raw value of the cookie called `name` in a request.
pub(super) fn cookie_value<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, value)| value)
}

/// The remembered-device cookie: the device token as issued (it is a secret on its own, bound
/// to its user by the stored hash). It outlives sign-out: that is its point.
const DEVICE_COOKIE: &str = "lk_device";
const DEVICE_HOST_COOKIE: &str = "__Host-lk_device";

fn device_cookie_name(app: &App) -> String {
    super::cookie_name(if app.config.served_over_https() {
        DEVICE_HOST_COOKIE
    } else {
        DEVICE_COOKIE
    })
}

/// The `Set-Cookie` value remembering this browser for `days` days.
pub fn device_cookie(app: &App, token: &str, days: u16) -> Option<HeaderValue> {
    let secure = if app.config.served_over_https() {
        "; Secure"
    } else {
        ""
    };
    let max_age = u64::from(days) * 86_400;
    HeaderValue::from_str(&format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}",
        device_cookie_name(app)
    ))
    .ok()
}

/// The remembered-device token this browser presents, if any.
pub fn device_token(headers: &HeaderMap, app: &App) -> Option<String> {
    cookie_value(headers, &device_cookie_name(app)).map(str::to_owned)
}

/// Our cookie session, read under the name in effect only: over HTTPS a bare
/// `lk_session` (which anyone able to set a cookie for the host could have planted) is
/// not ours.
fn read_cookie(headers: &HeaderMap, app: &App) -> Option<CookieSession> {
    let name = super::cookie_name(if app.config.served_over_https() {
        HOST_COOKIE
    } else {
        COOKIE
    });
    cookie_value(headers, &name).and_then(|v| CookieSession::open(app, v))
}

/// The tenant the request is for (`http::common::scope`; the default tenant at the root).
async fn scoped_tenant(parts: &Parts, app: &App) -> Result<Tenant, PageError> {
    let id = match parts.extensions.get::<Scope>() {
        Some(s) => s.tenant.clone(),
        None => app.default_tenant.clone(),
    };
    app.load_tenant(&id).await.map_err(PageError::from)
}

async fn meta(parts: &mut Parts, app: &App) -> RequestMeta {
    match Meta::from_request_parts(parts, app).await {
        Ok(Meta(m)) => m,
        Err(never) => match never {},
    }
}

/// Any visitor of the pages: the request's tenant, their cookie session if one opens, and
/// the request's facts for the audit log.
pub struct Visitor {
    pub tenant: Tenant,
    pub cookie: Option<CookieSession>,
    pub meta: RequestMeta,
    /// The application waiting for this sign-in (`/authorize`), if any: a completed
    /// sign-in goes back to it (through `/login/continue`) rather than to the account page.
    pub waiting: Option<crate::service::oidc::PendingAuthorize>,
}

impl Visitor {
    /// Where a sign-in completed now goes.
    pub fn after_sign_in(&self) -> &'static str {
        if self.waiting.is_some() {
            super::login::CONTINUE
        } else {
            "/account/security"
        }
    }
}

impl FromRequestParts<App> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, PageError> {
        Ok(Visitor {
            tenant: scoped_tenant(parts, app).await?,
            cookie: read_cookie(&parts.headers, app),
            meta: meta(parts, app).await,
            waiting: match parts.extensions.get::<super::authorize::Waiting>() {
                Some(w) => w.0.clone(),
                None => super::authorize::read_pending(&parts.headers, app),
            },
        })
    }
}

/// A signed-in visitor: a cookie naming a live session, its user, and the actor service
/// calls act as. Anyone else is sent to `/login`.
pub struct SignedIn {
    pub tenant: Tenant,
    pub cookie: CookieSession,
    pub session: Session,
    pub user: User,
    pub actor: Actor,
    pub meta: RequestMeta,
}

impl FromRequestParts<App> for SignedIn {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, PageError> {
        let tenant = scoped_tenant(parts, app).await?;
        // A visitor between password and second factor keeps that cookie: only a cookie
        // naming a session that has ended is cleared.
        let cookie = read_cookie(&parts.headers, app).ok_or(PageError::Redirect("/login"))?;
        let State::User { session } = &cookie.state else {
            return Err(PageError::Redirect("/login"));
        };
        let id = SessionId::parse(session).map_err(|_| PageError::SignedOut)?;
        let session = app
            .browser_session(&tenant, &id)
            .await?
            .ok_or(PageError::SignedOut)?;
        let user = match app.get_user(&tenant.id, &session.user_id).await {
            Ok(user) => user,
            Err(crate::service::ServiceError::UserNotFound) => return Err(PageError::SignedOut),
            Err(e) => return Err(e.into()),
        };
        Ok(SignedIn {
            actor: session_actor(&session),
            meta: meta(parts, app).await,
            tenant,
            cookie,
            session,
            user,
        })
    }
}

/// Whether a POST comes from this site, as far as the browser says: `Sec-Fetch-Site` must
/// be `same-origin` and `Origin` must name this server (its public URL, or the host the
/// request was sent to) when they are present. Older clients send neither; the token
/// then does the work alone.
///
/// `Origin: null` says nothing either way: under our `Referrer-Policy: no-referrer` the
/// Fetch standard has browsers send `null` for every non-GET request, our own forms
/// included ("append a request `Origin` header", step 4). A hostile context that also
/// sends `null` (a sandboxed frame) is refused by `Sec-Fetch-Site` and by the token.
fn same_origin(headers: &HeaderMap, app: &App) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        if site.as_bytes() != b"same-origin" {
            return false;
        }
    }
    let Some(origin) = headers.get(header::ORIGIN) else {
        return true;
    };
    let Ok(origin) = origin.to_str() else {
        return false;
    };
    if origin == "null" {
        return true;
    }
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    let public = app
        .config
        .public_url
        .as_deref()
        .map(origin_of)
        .is_some_and(|p| p == origin);
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(|h| h.to_ascii_lowercase());
    let same_host = host.is_some_and(|h| {
        origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority == h)
    });
    public || same_host
}

/// `scheme://authority` of a URL, lower-cased.
fn origin_of(url: &str) -> String {
    super::authorize::origin_of(&url.to_ascii_lowercase())
}

/// A form POST that passed the anti-forgery checks: the cookie session it came with and
/// its fields. The token travels as the `csrf` field and is not part of `T`.
pub struct Posted<T> {
    pub cookie: CookieSession,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<App> for Posted<T> {
    type Rejection = PageError;

    async fn from_request(req: Request, app: &App) -> Result<Self, PageError> {
        if !same_origin(req.headers(), app) {
            return Err(PageError::forgery());
        }
        let cookie = read_cookie(req.headers(), app).ok_or_else(PageError::forgery)?;
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(PageError::page(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                super::t!(BAD_REQUEST_TITLE),
                super::t!(BAD_REQUEST),
            ));
        }
        let bytes = Bytes::from_request(req, app).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Pages::reject(crate::service::Failure::payload_too_large())
            } else {
                PageError::bad_form()
            }
        })?;
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_bytes(&bytes).map_err(|_| PageError::bad_form())?;
        let mut tokens = pairs.iter().filter(|(k, _)| k == "csrf").map(|(_, v)| v);
        let token = match (tokens.next(), tokens.next()) {
            (Some(t), None) => t,
            _ => return Err(PageError::forgery()),
        };
        if !ct_eq(token.as_bytes(), cookie.csrf_token(app).as_bytes()) {
            return Err(PageError::forgery());
        }
        let form = serde_urlencoded::from_bytes(&bytes).map_err(|_| PageError::bad_form())?;
        Ok(Posted { cookie, form })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_and_authority() {
        assert_eq!(origin_of("https://ID.test/base/"), "https://id.test");
        assert_eq!(origin_of("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("a=1; lk_session=v1.k.abc"),
        );
        assert_eq!(cookie_value(&h, COOKIE), Some("v1.k.abc"));
        assert_eq!(cookie_value(&h, HOST_COOKIE), None);
        let mut h = HeaderMap::new();
        h.append(header::COOKIE, HeaderValue::from_static("xlk_session=1"));
        assert_eq!(cookie_value(&h, COOKIE), None);
        let mut h = HeaderMap::new();
        h.append(
            header::COOKIE,
            HeaderValue::from_static("__Host-lk_session=v1.k.abc; b=2"),
        );
        assert_eq!(cookie_value(&h, HOST_COOKIE), Some("v1.k.abc"));
        assert_eq!(cookie_value(&h, COOKIE), None);
    }
}
