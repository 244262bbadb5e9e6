//! Discovery: the provider's metadata (OpenID Connect Discovery 1.0 §3; RFC 8414 §2).

use crate::http::common::scope::Scope;
use crate::http::pages::text::Lang;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use axum::Json;
use latchkey_core::oauth::{ACR_VALUES, SCOPES};
use latchkey_core::oidc::SigningAlg;

/// The metadata document of an issuer (the default tenant's, or another's under its slug
/// or host: every endpoint lives under the issuer).
pub fn metadata(issuer: &str) -> serde_json::Value {
    let locales: Vec<&str> = Lang::ALL.iter().map(|l| l.tag()).collect();
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    let acr: Vec<&str> = ACR_VALUES.iter().map(|(name, _)| *name).collect();
    serde_json::json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/.well-known/jwks.json"),
        "revocation_endpoint": format!("{issuer}/oauth/revoke"),
        "end_session_endpoint": format!("{issuer}/logout"),
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query", "form_post"],
        "grant_types_supported": ["authorization_code", "refresh_token", "client_credentials"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": acr,
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_supported": [
            "iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "amr", "acr", "sid", "at_hash",
            "email", "email_verified", "name", "updated_at", "phone_number", "phone_number_verified"
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": locales,
    })
}

fn cacheable(body: serde_json::Value) -> Response {
    let mut r = Json(body).into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r
}

#[utoipa::path(get, path = "/.well-known/openid-configuration", tag = "oidc",
    responses((status = 200, description = "OpenID Provider metadata (OpenID Connect Discovery 1.0)")))]
pub async fn openid_configuration(Extension(scope): Extension<Scope>) -> Response {
    cacheable(metadata(&scope.issuer.url))
}

#[utoipa::path(get, path = "/.well-known/oauth-authorization-server", tag = "oidc",
    responses((status = 200, description = "Authorization server metadata (RFC 8414)")))]
pub async fn authorization_server(Extension(scope): Extension<Scope>) -> Response {
    cacheable(metadata(&scope.issuer.url))
}
