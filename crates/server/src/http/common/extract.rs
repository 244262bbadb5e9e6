//! Request extractors every surface uses: a strict JSON body, the tenant of a request, the
//! two kinds of bearer credential (a tenant secret key, a user's access token) and the
//! client address. Each is generic over the [`Surface`] it serves: the checks are here,
//! once, and yield a neutral [`Failure`]; `S::reject` turns it into that surface's answer
//! (a JSON error for an API, a redirect for a page).

use super::Surface;
use crate::service::audit::{Actor, RequestMeta};
use crate::service::auth::AccessContext;
use crate::service::{ErrorCode, Failure, FailureKind, ServiceError};
use crate::App;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use latchkey_core::ids::{TenantId, UserId};
use latchkey_store::model::{ApiKeyRecord, Tenant};
use serde::de::DeserializeOwned;
use std::convert::Infallible;
use std::marker::PhantomData;

/// A JSON body: `application/json` only, size-limited, parsed into a type that rejects
/// unknown and duplicate fields, with errors that never echo submitted values.
pub struct StrictJson<T, S>(pub T, pub PhantomData<S>);

impl<T: DeserializeOwned, St: Send + Sync, S: Surface> FromRequest<St> for StrictJson<T, S> {
    type Rejection = S::Rejection;

    async fn from_request(req: Request, state: &St) -> Result<Self, S::Rejection> {
        read_json(req, state)
            .await
            .map(|v| StrictJson(v, PhantomData))
            .map_err(S::reject)
    }
}

/// Whether a `Content-Type` names JSON (`application/json` or `application/…+json`).
fn is_json(headers: &HeaderMap) -> bool {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mime = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// The strict JSON body's core, for any surface.
pub async fn read_json<T: DeserializeOwned, St: Send + Sync>(req: Request, state: &St) -> Result<T, Failure> {
    if !is_json(req.headers()) {
        return Err(Failure::unsupported_media_type());
    }
    let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
        if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Failure::payload_too_large()
        } else {
            Failure::invalid(ErrorCode::InvalidBody, "could not read the request body")
        }
    })?;
    serde_json::from_slice(&bytes).map_err(json_error)
}

/// Turns a serde error into a failure without repeating any submitted value.
fn json_error(e: serde_json::Error) -> Failure {
    use serde_json::error::Category;
    let at = format!("line {} column {}", e.line(), e.column());
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => Failure::invalid(
            ErrorCode::InvalidJson,
            format!("request body is not valid JSON ({at})"),
        ),
        Category::Data => {
            let text = e.to_string();
            // serde names the field in backticks; that name is ours, not the client's data.
            let field = text.split('`').nth(1).unwrap_or("").to_owned();
            let (code, message) = if text.starts_with("missing field") {
                (ErrorCode::MissingField, format!("missing field `{field}`"))
            } else if text.starts_with("unknown field") {
                (
                    ErrorCode::UnknownField,
                    format!("unknown field `{}`", field.escape_debug()),
                )
            } else if text.starts_with("duplicate field") {
                (ErrorCode::DuplicateField, format!("duplicate field `{field}`"))
            } else {
                (
                    ErrorCode::InvalidField,
                    format!("a field has the wrong type or value ({at})"),
                )
            };
            Failure::invalid(code, message)
        }
    }
}

/// Query parameters parsed into a type that rejects unknown ones; anything wrong is one
/// `invalid_query`.
pub struct StrictQuery<T, S>(pub T, pub PhantomData<S>);

impl<T: DeserializeOwned, St: Send + Sync, S: Surface> FromRequestParts<St> for StrictQuery<T, S> {
    type Rejection = S::Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, S::Rejection> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(q)) => Ok(StrictQuery(q, PhantomData)),
            Err(_) => Err(S::reject(invalid_query("unknown or malformed query parameter"))),
        }
    }
}

/// A query parameter that is there but wrong.
pub fn invalid_query(message: &str) -> Failure {
    Failure::invalid(ErrorCode::InvalidQuery, message)
}

/// The tenant an `X-Tenant-ID` header names, if it is there.
pub fn header_tenant(headers: &HeaderMap) -> Result<Option<TenantId>, Failure> {
    match headers.get("x-tenant-id") {
        None => Ok(None),
        Some(v) => {
            let s = v.to_str().unwrap_or("");
            TenantId::parse(s)
                .map(Some)
                .map_err(|_| Failure::invalid(ErrorCode::InvalidTenantId, "X-Tenant-ID is not a tenant id"))
        }
    }
}

async fn load_tenant(app: &App, id: &TenantId) -> Result<Tenant, Failure> {
    app.load_tenant(id).await.map_err(Failure::from)
}

pub(crate) fn bearer(parts: &Parts) -> Result<&str, Failure> {
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        Failure::unauthenticated(
            ErrorCode::MissingCredentials,
            "send Authorization: Bearer <credential>",
        )
    })?;
    let text = value.to_str().unwrap_or("");
    match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(token.trim())
        }
        _ => Err(Failure::unauthenticated(
            ErrorCode::InvalidCredentialsFormat,
            "use Authorization: Bearer <credential>",
        )),
    }
}

/// A credential used with an `X-Tenant-ID` of another tenant; `what` names the credential.
pub fn tenant_mismatch(what: &str) -> Failure {
    Failure::new(
        FailureKind::Forbidden,
        ErrorCode::TenantMismatch,
        format!("the {what} belongs to another tenant"),
    )
}

/// An access token that does not verify, or whose session has ended.
pub fn invalid_access_token() -> Failure {
    Failure::unauthenticated(
        ErrorCode::InvalidToken,
        "the access token is invalid, expired or revoked",
    )
}

/// A user id from a path segment. A malformed id cannot name a user: the same failure as
/// an unknown one.
pub fn path_user(segment: &str) -> Result<UserId, Failure> {
    UserId::parse(segment).map_err(|_| Failure::from(ServiceError::UserNotFound))
}

/// The tenant of an unauthenticated request: `X-Tenant-ID`, or the default tenant.
pub struct TenantCtx<S>(pub Tenant, pub PhantomData<S>);

async fn tenant(parts: &Parts, app: &App) -> Result<Tenant, Failure> {
    let id = header_tenant(&parts.headers)?.unwrap_or_else(|| app.default_tenant.clone());
    load_tenant(app, &id).await
}

impl<S: Surface> FromRequestParts<App> for TenantCtx<S> {
    type Rejection = S::Rejection;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, S::Rejection> {
        tenant(parts, app)
            .await
            .map(|t| TenantCtx(t, PhantomData))
            .map_err(S::reject)
    }
}

/// A request made with a tenant secret key. The tenant is the key's; an `X-Tenant-ID`
/// naming another tenant is refused.
pub struct AdminCtx<S> {
    pub tenant: Tenant,
    pub key: ApiKeyRecord,
    pub surface: PhantomData<S>,
}

pub(crate) async fn admin(parts: &Parts, app: &App) -> Result<(Tenant, ApiKeyRecord), Failure> {
    let header = header_tenant(&parts.headers)?;
    let token = bearer(parts)?;
    let key = app.authenticate_api_key(token).await?.ok_or_else(|| {
        Failure::unauthenticated(ErrorCode::InvalidApiKey, "the secret key is invalid or revoked")
    })?;
    if header.as_ref().is_some_and(|h| h != &key.tenant_id) {
        return Err(tenant_mismatch("credential"));
    }
    let tenant = load_tenant(app, &key.tenant_id).await?;
    Ok((tenant, key))
}

impl<S: Surface> FromRequestParts<App> for AdminCtx<S> {
    type Rejection = S::Rejection;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, S::Rejection> {
        let (tenant, key) = admin(parts, app).await.map_err(S::reject)?;
        Ok(AdminCtx {
            tenant,
            key,
            surface: PhantomData,
        })
    }
}

/// A request made with a user's access token whose session is still live.
pub struct UserCtx<S>(pub AccessContext, pub PhantomData<S>);

async fn user(parts: &Parts, app: &App) -> Result<AccessContext, Failure> {
    let header = header_tenant(&parts.headers)?;
    let token = bearer(parts)?;
    let ctx = app
        .authenticate_access(token)
        .await
        .ok_or_else(invalid_access_token)?;
    if header.as_ref().is_some_and(|h| h != &ctx.tenant_id) {
        return Err(tenant_mismatch("credential"));
    }
    Ok(ctx)
}

impl<S: Surface> FromRequestParts<App> for UserCtx<S> {
    type Rejection = S::Rejection;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, S::Rejection> {
        user(parts, app)
            .await
            .map(|ctx| UserCtx(ctx, PhantomData))
            .map_err(S::reject)
    }
}

/// Facts about the request for the audit log and per-address limits: the client address,
/// which is the TCP peer unless that peer is a configured trusted proxy (see
/// [`super::forwarded`]). It cannot fail, so it serves every surface as it is.
pub struct Meta(pub RequestMeta);

fn client_meta(parts: &Parts, app: &App) -> RequestMeta {
    let ip = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| {
            super::forwarded::client_ip(
                c.0.ip(),
                &parts.headers,
                &app.config.trusted_proxies,
                app.config.forwarded_header,
            )
            .to_string()
        });
    let user_agent = parts
        .headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(|ua| ua.chars().take(512).collect());
    RequestMeta { ip, user_agent }
}

impl FromRequestParts<App> for Meta {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Infallible> {
        Ok(Meta(client_meta(parts, app)))
    }
}

/// A request made either with a tenant secret key (acting on any user of the tenant) or
/// with a user's own access token (acting on themselves).
pub struct CallerCtx<S> {
    pub tenant: Tenant,
    pub actor: Actor,
    pub meta: RequestMeta,
    pub surface: PhantomData<S>,
}

async fn caller(parts: &Parts, app: &App) -> Result<(Tenant, Actor), Failure> {
    if bearer(parts)?.starts_with("sk_live_") {
        let (tenant, key) = admin(parts, app).await?;
        return Ok((tenant, Actor::admin(&key)));
    }
    let ctx = user(parts, app).await?;
    let tenant = load_tenant(app, &ctx.tenant_id).await?;
    let actor = Actor::User {
        user_id: ctx.user_id,
        session_id: ctx.session_id,
        mfa_time: ctx.claims.mfa_time,
    };
    Ok((tenant, actor))
}

impl<S: Surface> FromRequestParts<App> for CallerCtx<S> {
    type Rejection = S::Rejection;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, S::Rejection> {
        let meta = client_meta(parts, app);
        let (tenant, actor) = caller(parts, app).await.map_err(S::reject)?;
        Ok(CallerCtx {
            tenant,
            actor,
            meta,
            surface: PhantomData,
        })
    }
}

impl<S> CallerCtx<S> {
    /// The user a `{user_id}` path segment names; `me` is the caller's own id.
    pub fn target(&self, segment: &str) -> Result<UserId, Failure> {
        match (&self.actor, segment) {
            (Actor::User { user_id, .. }, "me") => Ok(user_id.clone()),
            (_, "me") => Err(Failure::invalid(
                ErrorCode::InvalidUserId,
                "`me` needs a user's access token",
            )),
            (_, other) => path_user(other),
        }
    }
}
