//! Auth0-compatible surfaces, each onto the same use cases as `/v1`, so code written
//! against Auth0, and Auth0's own SDKs, work against Latchkey:
//! - [`management`]: Auth0 / AuthHero's Management API v2 (`/api/v2/*`) onto the same use
//!   cases as `/v1/admin` and `/v2/admin`, answering every failure as Auth0's Management API
//!   does (`{"statusCode","error","message","errorCode"}`: the [`Auth0`] marker and its
//!   renderer, here) and authorised by a management token or a secret key ([`credentials`]);
//! - [`mfa`]: Auth0's MFA API (`/mfa/*`; its grants live at the token endpoint,
//!   `http::oidc::token`), answering as the OAuth endpoints do (`{"error","error_description"}`).
//!
//! The routes and what differs from Auth0 are in `docs/compat.md`.

pub mod credentials;
pub mod management;
pub mod mfa;

use super::common::Surface;
use crate::service::{ErrorCode, Failure, FailureKind, ServiceError};
use crate::App;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;

/// The Auth0 surface.
pub struct Auth0;

impl Surface for Auth0 {
    type Rejection = Auth0Error;

    fn reject(failure: Failure) -> Auth0Error {
        failure.into()
    }
}

/// A failure as Auth0 answers it.
#[derive(Debug)]
pub struct Auth0Error {
    pub status: StatusCode,
    pub message: String,
    /// Auth0's `errorCode` where it has one for the case (`inexistent_user`,
    /// `insufficient_scope`, `invalid_body`, …), else Latchkey's own stable code.
    pub error_code: &'static str,
    pub retry_after: Option<u64>,
}

/// Auth0's error body, for the OpenAPI document.
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Auth0ErrorBody {
    /// The HTTP status, again.
    pub status_code: u16,
    /// The status's reason phrase (`Bad Request`, `Forbidden`, …).
    pub error: String,
    pub message: String,
    /// A stable machine-readable code.
    pub error_code: String,
}

impl Auth0Error {
    pub fn new(status: StatusCode, error_code: &'static str, message: impl Into<String>) -> Self {
        Auth0Error {
            status,
            message: message.into(),
            error_code,
            retry_after: None,
        }
    }

    /// A token without the scope a route needs, in Auth0's words.
    pub fn insufficient_scope(any_of: &[&str]) -> Self {
        Auth0Error::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!("Insufficient scope, expected any of: {}", any_of.join(",")),
        )
    }

    /// A path or body value Auth0 would refuse as invalid (`invalid_uri`, `invalid_body`).
    pub fn bad_request(error_code: &'static str, message: impl Into<String>) -> Self {
        Auth0Error::new(StatusCode::BAD_REQUEST, error_code, message)
    }
}

/// Auth0's code for a failure where it has one of its own.
fn auth0_code(f: &Failure) -> &'static str {
    use ErrorCode as C;
    match f.code {
        C::UserNotFound => "inexistent_user",
        C::InvalidJson
        | C::MissingField
        | C::UnknownField
        | C::DuplicateField
        | C::InvalidField
        | C::InvalidBody => "invalid_body",
        C::InvalidQuery => "invalid_query_string",
        C::MissingCredentials | C::InvalidCredentialsFormat | C::InvalidApiKey | C::InvalidToken => {
            "invalid_token"
        }
        other => other.as_str(),
    }
}

impl From<Failure> for Auth0Error {
    fn from(f: Failure) -> Self {
        let status = match f.kind {
            FailureKind::Invalid => StatusCode::BAD_REQUEST,
            FailureKind::Unauthenticated => StatusCode::UNAUTHORIZED,
            FailureKind::Forbidden => StatusCode::FORBIDDEN,
            FailureKind::NotFound => StatusCode::NOT_FOUND,
            FailureKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            FailureKind::Conflict => StatusCode::CONFLICT,
            FailureKind::Unprocessable => StatusCode::UNPROCESSABLE_ENTITY,
            FailureKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            FailureKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            FailureKind::Timeout => StatusCode::REQUEST_TIMEOUT,
            FailureKind::Throttled => StatusCode::TOO_MANY_REQUESTS,
            FailureKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            FailureKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        };
        let code = auth0_code(&f);
        let message = match code {
            "inexistent_user" => "The user does not exist.".to_owned(),
            "invalid_body" => format!("Payload validation error: {}", f.message),
            "invalid_query_string" => format!("Query validation error: {}", f.message),
            // What each problem was, as `/v1` says it in `problems`.
            _ => match f.details.iter().find(|(k, _)| *k == "problems") {
                Some((_, problems)) => format!("{} ({problems})", f.message),
                None => f.message,
            },
        };
        Auth0Error {
            status,
            message,
            error_code: code,
            retry_after: f.retry_after_secs,
        }
    }
}

impl From<ServiceError> for Auth0Error {
    fn from(e: ServiceError) -> Self {
        Failure::from(e).into()
    }
}

impl IntoResponse for Auth0Error {
    fn into_response(self) -> Response {
        let body = serde_json::json!({
            "statusCode": self.status.as_u16(),
            "error": self.status.canonical_reason().unwrap_or("Error"),
            "message": self.message,
            "errorCode": self.error_code,
        });
        let mut r = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after {
            if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
                r.headers_mut().insert(header::RETRY_AFTER, v);
            }
        }
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"latchkey\""),
            );
        }
        r
    }
}

/// Every route of the Auth0 surfaces, registered once with both axum and the OpenAPI document.
pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .merge(management::routes())
        .merge(mfa::routes())
}

/// The surfaces' routes, for the server's router. A wrong method on a management route, and
/// any other path under `/api/v2`, answer in Auth0's shape.
pub fn router(app: &App) -> Router<App> {
    let (management, _) = management::routes().split_for_parts();
    let management = management
        .route("/api/v2", axum::routing::any(unknown_route))
        .route("/api/v2/", axum::routing::any(unknown_route))
        .route("/api/v2/{*rest}", axum::routing::any(unknown_route))
        .method_not_allowed_fallback(|| async { Auth0::reject(Failure::method_not_allowed()) });
    Router::new().merge(management).merge(mfa::router(app))
}

async fn unknown_route() -> Auth0Error {
    Auth0Error::new(StatusCode::NOT_FOUND, "not_found", "Not Found")
}
