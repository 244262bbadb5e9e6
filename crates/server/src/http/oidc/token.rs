//! The token endpoint (RFC 6749 §3.2), revocation (RFC 7009) and `userinfo` (OpenID
//! Connect Core §5.3). Requests are form-encoded; client credentials come as HTTP Basic
//! (`client_secret_basic`) or in the body (`client_secret_post`), never both; a public
//! client names itself with `client_id` alone.

use super::OAuthReply;
use crate::http::common::extract::Meta;
use crate::http::common::scope::Scope;
use crate::service::audit::RequestMeta;
use crate::service::oidc::{ClientCredentials, OAuthError, TokenParams};
use crate::service::ServiceError;
use crate::App;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use base64::Engine as _;
use latchkey_core::secret::SecretString;
use latchkey_store::model::Tenant;
use serde::Deserialize;

fn invalid(description: &str) -> OAuthReply {
    OAuthReply::from_error(OAuthError::InvalidRequest(description.to_owned()), false)
}

/// The request's parameters as `T`: a form (RFC 6749 §3.2) whose fields each come at most
/// once ("parameters MUST NOT be included more than once"), or a JSON object of the same
/// fields, as Auth0's clients send (a field given twice there is refused by the shape).
pub(crate) fn form<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<T, OAuthReply> {
    let media = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|m| m.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if media == "application/json" {
        return serde_json::from_slice(body).map_err(|_| {
            invalid("the JSON body could not be read: an object of string parameters is expected")
        });
    }
    if media != "application/x-www-form-urlencoded" {
        return Err(invalid(
            "the request must be application/x-www-form-urlencoded or application/json",
        ));
    }
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_bytes(body).map_err(|_| invalid("the form could not be read"))?;
    let mut names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        return Err(invalid(&format!(
            "{} is given more than once",
            w[0].chars().take(40).collect::<String>()
        )));
    }
    serde_urlencoded::from_bytes(body).map_err(|_| invalid("the form could not be read"))
}

/// RFC 6749 §2.3.1: `Basic base64(urlencode(client_id) ":" urlencode(client_secret))`.
fn basic(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthReply> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let bad = || OAuthReply::from_error(OAuthError::InvalidClient, true);
    let value = value.to_str().map_err(|_| bad())?;
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Err(bad());
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(bad());
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let text = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = text.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| -> Result<String, OAuthReply> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(&format!("v={}", s.replace('+', "%2B"))).map_err(|_| bad())?;
        Ok(pairs.into_iter().next().map(|(_, v)| v).unwrap_or_default())
    };
    Ok(Some((unescape(id)?, unescape(secret)?)))
}

/// The client's credentials from the header or the body; both at once is refused.
pub(crate) fn client(
    headers: &HeaderMap,
    client_id: Option<String>,
    client_secret: Option<String>,
) -> Result<(ClientCredentials, bool), OAuthReply> {
    match basic(headers)? {
        Some((id, secret)) => {
            if client_secret.is_some() {
                return Err(invalid("use one client authentication method, not two"));
            }
            if client_id.as_ref().is_some_and(|c| *c != id) {
                return Err(OAuthReply::from_error(OAuthError::InvalidClient, true));
            }
            Ok((
                ClientCredentials {
                    client_id: Some(id),
                    secret: Some(SecretString::new(secret)),
                },
                true,
            ))
        }
        None => Ok((
            ClientCredentials {
                client_id,
                secret: client_secret.map(SecretString::new),
            },
            false,
        )),
    }
}

/// The tenant of the issuer the request came to (`http::common::scope`).
pub(crate) async fn scoped_tenant(app: &App, scope: &Scope) -> Result<Tenant, OAuthReply> {
    app.load_tenant(&scope.tenant)
        .await
        .map_err(|e| OAuthReply::from_error(OAuthError::Service(e), false))
}

#[utoipa::path(post, path = "/oauth/token", tag = "oidc",
    request_body(content_type = "application/x-www-form-urlencoded", description = "Form-encoded, or the same parameters as a JSON object of strings. grant_type=authorization_code (code, redirect_uri, code_verifier), refresh_token (refresh_token, scope), or client_credentials (scope, audience); client credentials by HTTP Basic or client_id/client_secret"),
    responses((status = 200, description = "Tokens: access_token, token_type, expires_in, and id_token, refresh_token, scope where they apply"),
              (status = 400, description = "invalid_request, invalid_grant, unauthorized_client, unsupported_grant_type, invalid_scope"),
              (status = 401, description = "invalid_client"),
              (status = 429, description = "slow_down: too many failed client authentications")))]
pub async fn token(
    State(app): State<App>,
    Extension(scope): Extension<Scope>,
    Meta(meta): Meta,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    match token_inner(&app, &scope, &meta, &headers, &body).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn token_inner(
    app: &App,
    scope: &Scope,
    meta: &RequestMeta,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<Response, OAuthReply> {
    let mut p: TokenParams = form(headers, body)?;
    let (credentials, used_basic) = client(headers, p.client_id.take(), p.client_secret.take())?;
    let tenant = scoped_tenant(app, scope).await?;
    let t = app
        .token(&tenant, credentials, p, meta)
        .await
        .map_err(|e| OAuthReply::from_error(e, used_basic))?;
    let mut body = serde_json::json!({
        "access_token": t.access_token.expose(),
        "token_type": "Bearer",
        "expires_in": t.expires_in,
        "scope": t.scope,
    });
    if let Some(map) = body.as_object_mut() {
        if let Some(rt) = &t.refresh_token {
            map.insert("refresh_token".into(), rt.expose().into());
        }
        if let Some(id) = &t.id_token {
            map.insert("id_token".into(), id.clone().into());
        }
        if let Some(codes) = &t.recovery_codes {
            map.insert("recovery_codes".into(), codes.clone().into());
        }
    }
    Ok(Json(body).into_response())
}

#[derive(Deserialize)]
struct RevokeParams {
    // `token_type_hint` is only a hint (RFC 7009 §2.1): both kinds are tried, so it is not read.
    token: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

#[utoipa::path(post, path = "/oauth/revoke", tag = "oidc",
    request_body(content_type = "application/x-www-form-urlencoded", description = "token (a refresh or access token issued to this client), token_type_hint; client credentials as at the token endpoint"),
    responses((status = 200, description = "Revoked, or unknown (the answer is the same, RFC 7009 §2.2)"),
              (status = 400, description = "invalid_request"),
              (status = 401, description = "invalid_client")))]
pub async fn revoke(
    State(app): State<App>,
    Extension(scope): Extension<Scope>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let run = async {
        let p: RevokeParams = form(&headers, &body)?;
        let (credentials, used_basic) = client(&headers, p.client_id, p.client_secret)?;
        let token = p
            .token
            .filter(|t| !t.is_empty())
            .ok_or_else(|| invalid("token is required"))?;
        let tenant = scoped_tenant(&app, &scope).await?;
        app.revoke_token(&tenant, credentials, &token)
            .await
            .map_err(|e| OAuthReply::from_error(e, used_basic))?;
        Ok::<_, OAuthReply>(StatusCode::OK.into_response())
    };
    match run.await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

/// RFC 6750 §3: a refused bearer token says why in `WWW-Authenticate`.
fn bearer_error(status: StatusCode, error: &'static str, description: &'static str) -> Response {
    let mut r = (
        status,
        Json(serde_json::json!({ "error": error, "error_description": description })),
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "Bearer realm=\"latchkey\", error=\"{error}\", error_description=\"{description}\""
    )) {
        r.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    r
}

async fn userinfo(app: &App, scope: &Scope, headers: &HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim());
    let Some(token) = token else {
        let mut r = StatusCode::UNAUTHORIZED.into_response();
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"latchkey\""),
        );
        return r;
    };
    match app.userinfo(&scope.tenant, token).await {
        Ok(Some(claims)) => Json(claims).into_response(),
        Ok(None) => bearer_error(
            StatusCode::UNAUTHORIZED,
            "invalid_token",
            "the access token is invalid, expired or revoked",
        ),
        Err(ServiceError::Forbidden) => bearer_error(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            "the access token was not issued with the openid scope",
        ),
        Err(e) => OAuthReply::from_error(OAuthError::Service(e), false).into_response(),
    }
}

#[utoipa::path(get, path = "/userinfo", tag = "oidc",
    security(("access_token" = [])),
    responses((status = 200, description = "The claims the token's scopes release: sub, email, email_verified, name, phone_number…"),
              (status = 401, description = "invalid_token"),
              (status = 403, description = "insufficient_scope")))]
pub async fn userinfo_get(
    State(app): State<App>,
    Extension(scope): Extension<Scope>,
    headers: HeaderMap,
) -> Response {
    userinfo(&app, &scope, &headers).await
}

#[utoipa::path(post, path = "/userinfo", tag = "oidc",
    security(("access_token" = [])),
    responses((status = 200, description = "As GET"),
              (status = 401, description = "invalid_token"),
              (status = 403, description = "insufficient_scope")))]
pub async fn userinfo_post(
    State(app): State<App>,
    Extension(scope): Extension<Scope>,
    headers: HeaderMap,
) -> Response {
    userinfo(&app, &scope, &headers).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_auth(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn basic_credentials_are_url_decoded() {
        // RFC 6749 §2.3.1: id and secret are form-urlencoded before the Basic encoding.
        // A '+' is kept as '+' rather than read as a space: many clients do not encode.
        let enc = base64::engine::general_purpose::STANDARD.encode("app_1:s%3Acret%2B");
        let got = basic(&with_auth(&format!("Basic {enc}"))).unwrap().unwrap();
        assert_eq!(got, ("app_1".into(), "s:cret+".into()));
        assert!(basic(&with_auth("Bearer x")).is_err());
        assert!(basic(&with_auth("Basic !!!")).is_err());
        assert!(basic(&HeaderMap::new()).unwrap().is_none());
    }
}
