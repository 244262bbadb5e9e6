//! The OpenID Connect provider's endpoints for programs (OpenID Connect Core 1.0,
//! Discovery 1.0, RFC 6749, RFC 7009, RFC 8414): discovery, the token endpoint, `userinfo`
//! and revocation. Their answers are JSON as those specifications shape them
//! (`{"error","error_description"}`), not the `/v1` envelope. The browser's side (the
//! authorization endpoint and RP-initiated logout) is part of the pages
//! (`pages/authorize.rs`), since it shows sign-in screens.
//!
//! None of these endpoints reads a cookie, so they answer cross-origin requests from any
//! origin (`Access-Control-Allow-Origin: *`, no credentials): a single-page application
//! redeems its code and calls `userinfo` from the browser, proving itself with PKCE and
//! its tokens rather than with where it runs.

pub mod discovery;
pub mod token;

use super::common::Surface;
use crate::service::oidc::OAuthError;
use crate::service::{Failure, FailureKind};
use crate::App;
use axum::extract::Request;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The OAuth surface: a failure is an RFC 6749 §5.2 error object.
pub struct Oidc;

impl Surface for Oidc {
    type Rejection = OAuthReply;

    fn reject(failure: Failure) -> OAuthReply {
        let (status, error) = match failure.kind {
            FailureKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "invalid_client"),
            FailureKind::Throttled => (StatusCode::TOO_MANY_REQUESTS, "slow_down"),
            FailureKind::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "invalid_request"),
            FailureKind::Invalid | FailureKind::UnsupportedMediaType | FailureKind::Timeout => {
                (StatusCode::BAD_REQUEST, "invalid_request")
            }
            FailureKind::NotFound | FailureKind::MethodNotAllowed => {
                (StatusCode::NOT_FOUND, "invalid_request")
            }
            FailureKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "server_error"),
        };
        OAuthReply {
            status,
            error,
            description: failure.message,
            retry_after: failure.retry_after_secs,
            basic_challenge: false,
            extra: None,
        }
    }
}

/// An error answer of the token, revocation or userinfo endpoint.
#[derive(Debug)]
pub struct OAuthReply {
    pub status: StatusCode,
    pub error: &'static str,
    pub description: String,
    pub retry_after: Option<u64>,
    /// The client tried HTTP Basic: a `401` must challenge it (RFC 6749 §5.2).
    pub basic_challenge: bool,
    /// Fields besides `error` and `error_description` (Auth0's `mfa_required` carries the
    /// `mfa_token` and `mfa_requirements`).
    pub extra: Option<Box<serde_json::Map<String, serde_json::Value>>>,
}

impl OAuthReply {
    pub fn from_error(e: OAuthError, basic: bool) -> Self {
        let status = match &e {
            OAuthError::InvalidClient | OAuthError::InvalidToken => StatusCode::UNAUTHORIZED,
            OAuthError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            // Auth0's MFA API answers these with 403 (and its clients look for it there).
            OAuthError::MfaRequired(_) | OAuthError::AccessDenied(_) => StatusCode::FORBIDDEN,
            OAuthError::NotFound => StatusCode::NOT_FOUND,
            OAuthError::Service(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        };
        let extra = match &e {
            OAuthError::MfaRequired(m) => {
                let kinds = |v: &[&str]| -> Vec<serde_json::Value> {
                    v.iter().map(|t| serde_json::json!({ "type": t })).collect()
                };
                let mut requirements = serde_json::Map::new();
                if !m.challenge.is_empty() {
                    requirements.insert("challenge".into(), kinds(&m.challenge).into());
                }
                if !m.enroll.is_empty() {
                    requirements.insert("enroll".into(), kinds(&m.enroll).into());
                }
                let mut map = serde_json::Map::new();
                map.insert("mfa_token".into(), m.mfa_token.clone().into());
                map.insert("mfa_requirements".into(), requirements.into());
                Some(Box::new(map))
            }
            _ => None,
        };
        let retry_after = match &e {
            OAuthError::TooManyAttempts { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        };
        let description = match &e {
            OAuthError::Service(inner) => {
                // Logged once here; the client sees no detail.
                tracing::error!(error = %inner, "token endpoint failed");
                "the server could not complete the request".to_owned()
            }
            other => other.to_string(),
        };
        OAuthReply {
            status,
            error: e.code(),
            description,
            retry_after,
            basic_challenge: basic && status == StatusCode::UNAUTHORIZED,
            extra,
        }
    }
}

impl IntoResponse for OAuthReply {
    fn into_response(self) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.error.into());
        body.insert("error_description".into(), self.description.into());
        if let Some(extra) = self.extra {
            body.extend(*extra);
        }
        let mut r = (self.status, Json(serde_json::Value::Object(body))).into_response();
        let h = r.headers_mut();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                h.insert(header::RETRY_AFTER, v);
            }
        }
        if self.basic_challenge {
            h.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"latchkey\""),
            );
        }
        r
    }
}

/// RFC 6749 §5.1: token answers must not be cached; CORS for any origin, no credentials.
pub(crate) async fn headers(req: Request, next: Next) -> Response {
    if req.method() == Method::OPTIONS {
        let mut r = StatusCode::NO_CONTENT.into_response();
        cors(&mut r);
        r.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST"),
        );
        r.headers_mut().insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("Authorization, Content-Type, DPoP"),
        );
        r.headers_mut()
            .insert(header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
        return r;
    }
    let mut r = next.run(req).await;
    cors(&mut r);
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    r
}

fn cors(r: &mut Response) {
    r.headers_mut()
        .insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
}

#[derive(OpenApi)]
#[openapi(tags((name = "oidc", description = "OpenID Connect provider: discovery, tokens, userinfo, revocation")))]
struct OidcDoc;

/// Every route of the surface, registered once with both axum and the OpenAPI document.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(OidcDoc::openapi())
        .routes(routes!(discovery::openid_configuration))
        .routes(routes!(discovery::authorization_server))
        .routes(routes!(token::token))
        .routes(routes!(token::revoke))
        .routes(routes!(token::userinfo_get, token::userinfo_post))
}

/// The surface's routes with their headers. Preflight requests (`OPTIONS`) are answered
/// by the middleware, before the routes' methods are matched.
pub fn router(_app: &App) -> Router<App> {
    let (router, _) = routes().split_for_parts();
    router.layer(axum::middleware::from_fn(headers))
}
