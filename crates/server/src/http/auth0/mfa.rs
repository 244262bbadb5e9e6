//! Auth0's MFA API: `GET /mfa/authenticators`, `POST /mfa/associate`, `POST /mfa/challenge`
//! and `DELETE /mfa/authenticators/{id}` (the grants that finish it are at `/oauth/token`).
//! Thin: each handler reads its input and calls one use case of `service::mfa_api`.
//! Failures are OAuth error objects, as Auth0 answers them; bearer failures are `401
//! invalid_token` with a `WWW-Authenticate` challenge (RFC 6750 §3). Like the token endpoint,
//! no route reads a cookie, so any origin may call them (`oidc::headers`).

use crate::http::common::extract::Meta;
use crate::http::common::scope::Scope;
use crate::http::oidc::token::{client, form, scoped_tenant};
use crate::http::oidc::OAuthReply;
use crate::service::mfa_api::{AssociateParams, ChallengeParams};
use crate::service::oidc::OAuthError;
use crate::App;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json, Router};
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

fn reply(e: OAuthError) -> Response {
    let bearer = matches!(e, OAuthError::InvalidToken);
    let mut r = OAuthReply::from_error(e, false).into_response();
    if bearer {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"latchkey\", error=\"invalid_token\""),
        );
    }
    r
}

/// The bearer token of the request (an `mfa_token` or the user's access token).
fn bearer(headers: &HeaderMap) -> Result<&str, OAuthError> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, t)| scheme.eq_ignore_ascii_case("bearer") && !t.trim().is_empty())
        .map(|(_, t)| t.trim())
        .ok_or(OAuthError::InvalidToken)
}

#[utoipa::path(get, path = "/mfa/authenticators", tag = "auth0-mfa",
    security(("mfa_token" = []), ("access_token" = [])),
    responses((status = 200, description = "The user's authenticators: `[{\"id\":\"sms|fac_…\",\"authenticator_type\":\"oob\",\"active\":true,\"oob_channel\":\"sms\",\"oob_channels\":[\"sms\"],\"name\":\"+1***2671\"}]`; types otp, oob (sms, email) and recovery-code"),
              (status = 400, description = "invalid_grant: the mfa_token is invalid"),
              (status = 401, description = "invalid_token: no bearer token, or not one of this tenant's"),
              (status = 403, description = "access_denied")))]
pub async fn list_authenticators(
    State(app): State<App>,
    Extension(scope): Extension<Scope>,
    headers: HeaderMap,
) -> Response {
    let run = async {
        let token = bearer(&headers)?;
        let tenant = scoped_tenant(&app, &scope)
            .await
            .map_err(|_| OAuthError::InvalidToken)?;
        app.mfa_api_authenticators(&tenant, token).await
    };
    match run.await {
        Ok(list) => Json(list).into_response(),
        Err(e) => reply(e),
    }
}

#[utoipa::path(post, path = "/mfa/associate", tag = "auth0-mfa",
    security(("mfa_token" = [])),
    request_body(content_type = "application/json", description = "`{\"authenticator_types\":[\"otp\"]}`, or `[\"oob\"]` with `oob_channels` `[\"sms\"]` and `phone_number`, or `[\"email\"]`"),
    responses((status = 200, description = "otp: `secret`, `barcode_uri`; oob: `oob_channel`, `oob_code`, `binding_method` (a code is sent); `recovery_codes` (empty: they come with the tokens once confirmed)"),
              (status = 400, description = "invalid_request, invalid_grant"),
              (status = 401, description = "invalid_token"),
              (status = 403, description = "access_denied: User is already enrolled"),
              (status = 429, description = "slow_down: too many codes requested")))]
pub async fn associate(
    State(app): State<App>,
    Extension(scope): Extension<Scope>,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let token = bearer(&headers)?;
        let p: AssociateParams =
            form(&headers, &body).map_err(|r| OAuthError::InvalidRequest(r.description))?;
        let tenant = scoped_tenant(&app, &scope)
            .await
            .map_err(|_| OAuthError::InvalidToken)?;
        app.mfa_api_associate(&tenant, token, &p, &meta).await
    };
    match run.await {
        Ok(a) => Json(a).into_response(),
        Err(e) => reply(e),
    }
}

#[utoipa::path(post, path = "/mfa/challenge", tag = "auth0-mfa",
    request_body(content_type = "application/json", description = "`client_id`, `client_secret` (confidential applications), `mfa_token`, `challenge_type` (`otp`, `oob` or both, space-separated), `authenticator_id`"),
    responses((status = 200, description = "`{\"challenge_type\":\"otp\"}`, or `{\"challenge_type\":\"oob\",\"oob_code\",\"binding_method\":\"prompt\"}` with the code sent"),
              (status = 400, description = "invalid_request, invalid_grant, expired_token, unauthorized_client"),
              (status = 401, description = "invalid_client"),
              (status = 429, description = "slow_down")))]
pub async fn challenge(
    State(app): State<App>,
    Extension(scope): Extension<Scope>,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let mut p: ChallengeParams = form(&headers, &body)?;
        let (credentials, basic) = client(&headers, p.client_id.take(), p.client_secret.take())?;
        let tenant = scoped_tenant(&app, &scope).await?;
        app.mfa_api_challenge(&tenant, credentials, &p, &meta)
            .await
            .map_err(|e| OAuthReply::from_error(e, basic))
    };
    match run.await {
        Ok(c) => Json(c).into_response(),
        Err(e) => e.into_response(),
    }
}

#[utoipa::path(delete, path = "/mfa/authenticators/{authenticator_id}", tag = "auth0-mfa",
    params(("authenticator_id" = String, Path, description = "As listed (`sms|fac_…`), or the bare factor id")),
    security(("access_token" = [])),
    responses((status = 204, description = "Removed; the user's other sessions end, as through /v1"),
              (status = 401, description = "invalid_token"),
              (status = 403, description = "access_denied: an mfa_token cannot remove, or a recent second factor is needed"),
              (status = 404, description = "not_found")))]
pub async fn delete_authenticator(
    State(app): State<App>,
    Extension(scope): Extension<Scope>,
    Meta(meta): Meta,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let run = async {
        let token = bearer(&headers)?;
        let tenant = scoped_tenant(&app, &scope)
            .await
            .map_err(|_| OAuthError::InvalidToken)?;
        app.mfa_api_delete(&tenant, token, &id, &meta).await
    };
    match run.await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(e) => reply(e),
    }
}

#[derive(OpenApi)]
#[openapi(tags((name = "auth0-mfa", description = "Auth0's MFA API: authenticators, associate, challenge (the mfa-otp, mfa-oob and mfa-recovery-code grants are at /oauth/token)")))]
struct MfaDoc;

pub fn routes() -> OpenApiRouter<App> {
    OpenApiRouter::with_openapi(MfaDoc::openapi())
        .routes(routes!(list_authenticators))
        .routes(routes!(delete_authenticator))
        .routes(routes!(associate))
        .routes(routes!(challenge))
}

/// The MFA API's routes with the token endpoint's headers (no caching, any origin).
pub fn router(_app: &App) -> Router<App> {
    let (router, _) = routes().split_for_parts();
    router.layer(axum::middleware::from_fn(crate::http::oidc::headers))
}
