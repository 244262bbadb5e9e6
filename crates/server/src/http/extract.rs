//! Request extractors: a strict JSON body, the tenant of a request, and the two kinds of
//! bearer credential (a tenant secret key, a user's access token).

use super::error::ApiError;
use crate::service::audit::{Actor, RequestMeta};
use crate::service::auth::AccessContext;
use crate::App;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use latchkey_core::ids::TenantId;
use latchkey_store::model::{ApiKeyRecord, Tenant};
use serde::de::DeserializeOwned;

/// A JSON body: `application/json` only, size-limited, parsed into a type that rejects
/// unknown and duplicate fields, with errors that never echo submitted values.
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let mime = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        let is_json =
            mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"));
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rej| {
            if rej.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    "payload_too_large",
                    "request body is too large",
                )
            } else {
                ApiError::bad_request("invalid_body", "could not read the request body")
            }
        })?;
        serde_json::from_slice(&bytes).map(ApiJson).map_err(json_error)
    }
}

/// Turns a serde error into an API error without repeating any submitted value.
fn json_error(e: serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    let at = format!("line {} column {}", e.line(), e.column());
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => {
            ApiError::bad_request("invalid_json", format!("request body is not valid JSON ({at})"))
        }
        Category::Data => {
            let text = e.to_string();
            // serde names the field in backticks; that name is ours, not the client's data.
            let field = text.split('`').nth(1).unwrap_or("").to_owned();
            let (code, message) = if text.starts_with("missing field") {
                ("missing_field", format!("missing field `{field}`"))
            } else if text.starts_with("unknown field") {
                (
                    "unknown_field",
                    format!("unknown field `{}`", field.escape_debug()),
                )
            } else if text.starts_with("duplicate field") {
                ("duplicate_field", format!("duplicate field `{field}`"))
            } else {
                (
                    "invalid_field",
                    format!("a field has the wrong type or value ({at})"),
                )
            };
            ApiError::bad_request(code, message)
        }
    }
}

fn header_tenant(parts: &Parts) -> Result<Option<TenantId>, ApiError> {
    match parts.headers.get("x-tenant-id") {
        None => Ok(None),
        Some(v) => {
            let s = v.to_str().unwrap_or("");
            TenantId::parse(s)
                .map(Some)
                .map_err(|_| ApiError::bad_request("invalid_tenant_id", "X-Tenant-ID is not a tenant id"))
        }
    }
}

async fn load_tenant(app: &App, id: &TenantId) -> Result<Tenant, ApiError> {
    app.load_tenant(id).await.map_err(ApiError::from)
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
        ApiError::unauthorized("missing_credentials", "send Authorization: Bearer <credential>")
    })?;
    let text = value.to_str().unwrap_or("");
    match text.split_once(' ') {
        Some((scheme, token)) if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() => {
            Ok(token.trim())
        }
        _ => Err(ApiError::unauthorized(
            "invalid_credentials_format",
            "use Authorization: Bearer <credential>",
        )),
    }
}

fn tenant_mismatch() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "tenant_mismatch",
        "the credential belongs to another tenant",
    )
}

/// The tenant of an unauthenticated request: `X-Tenant-ID`, or the default tenant.
pub struct TenantCtx(pub Tenant);

impl FromRequestParts<App> for TenantCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let id = header_tenant(parts)?.unwrap_or_else(|| app.default_tenant.clone());
        Ok(TenantCtx(load_tenant(app, &id).await?))
    }
}

/// A request made with a tenant secret key. The tenant is the key's; an `X-Tenant-ID`
/// naming another tenant is refused.
pub struct AdminCtx {
    pub tenant: Tenant,
    pub key: ApiKeyRecord,
}

impl FromRequestParts<App> for AdminCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let header = header_tenant(parts)?;
        let token = bearer(parts)?;
        let key = app.authenticate_api_key(token).await?.ok_or_else(|| {
            ApiError::unauthorized("invalid_api_key", "the secret key is invalid or revoked")
        })?;
        if header.as_ref().is_some_and(|h| h != &key.tenant_id) {
            return Err(tenant_mismatch());
        }
        let tenant = load_tenant(app, &key.tenant_id).await?;
        Ok(AdminCtx { tenant, key })
    }
}

/// A request made with a user's access token whose session is still live.
pub struct UserCtx(pub AccessContext);

impl FromRequestParts<App> for UserCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let header = header_tenant(parts)?;
        let token = bearer(parts)?;
        let ctx = app.authenticate_access(token).await.ok_or_else(|| {
            ApiError::unauthorized("invalid_token", "the access token is invalid, expired or revoked")
        })?;
        if header.as_ref().is_some_and(|h| h != &ctx.tenant_id) {
            return Err(tenant_mismatch());
        }
        Ok(UserCtx(ctx))
    }
}

/// Facts about the request for the audit log and per-address limits: the client address,
/// which is the TCP peer unless that peer is a configured trusted proxy (see
/// [`super::forwarded`]).
pub struct Meta(pub RequestMeta);

impl FromRequestParts<App> for Meta {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
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
        Ok(Meta(RequestMeta { ip }))
    }
}

/// A request made either with a tenant secret key (acting on any user of the tenant) or
/// with a user's own access token (acting on themselves).
pub struct CallerCtx {
    pub tenant: Tenant,
    pub actor: Actor,
    pub meta: RequestMeta,
}

impl FromRequestParts<App> for CallerCtx {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        let Meta(meta) = Meta::from_request_parts(parts, app).await?;
        if bearer(parts)?.starts_with("sk_live_") {
            let admin = AdminCtx::from_request_parts(parts, app).await?;
            return Ok(CallerCtx {
                tenant: admin.tenant,
                actor: Actor::Admin { key_id: admin.key.id },
                meta,
            });
        }
        let UserCtx(ctx) = UserCtx::from_request_parts(parts, app).await?;
        let tenant = load_tenant(app, &ctx.tenant_id).await?;
        Ok(CallerCtx {
            tenant,
            actor: Actor::User {
                user_id: ctx.user_id,
                session_id: ctx.session_id,
                mfa_time: ctx.claims.mfa_time,
            },
            meta,
        })
    }
}

impl CallerCtx {
    /// The user a `{user_id}` path segment names; `me` is the caller's own id.
    pub fn target(&self, segment: &str) -> Result<latchkey_core::ids::UserId, ApiError> {
        match (&self.actor, segment) {
            (Actor::User { user_id, .. }, "me") => Ok(user_id.clone()),
            (_, "me") => Err(ApiError::bad_request(
                "invalid_user_id",
                "`me` needs a user's access token",
            )),
            // A malformed id cannot name a user: the same 404 as an unknown one.
            (_, other) => latchkey_core::ids::UserId::parse(other)
                .map_err(|_| ApiError::from(crate::service::ServiceError::UserNotFound)),
        }
    }
}
