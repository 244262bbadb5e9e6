//! Who calls the management API: an application with a management token (Auth0's way,
//! `service::management`), or a tenant secret key (as `/v1/admin` takes it). A route names
//! the Auth0 scopes it needs ([`Manager::actor`]); a token without one of them gets Auth0's
//! `403 insufficient_scope`. A secret key needs no Auth0 scope: it does what a key may,
//! and the use cases ask `mfa:admin` of it where they do on every surface.

use super::{Auth0, Auth0Error};
use crate::http::common::extract::{admin, bearer, header_tenant, tenant_mismatch};
use crate::http::common::scope::Scope;
use crate::http::common::Surface;
use crate::service::audit::{Actor, RequestMeta};
use crate::service::management::ManagementToken;
use crate::service::{ErrorCode, Failure};
use crate::App;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use latchkey_core::scope::{is_privileged_management_scope, KeyScope};
use latchkey_store::model::{ApiKeyRecord, Tenant};

/// The credential a management request came with.
pub enum Caller {
    Key(ApiKeyRecord),
    Token(ManagementToken),
}

/// A management API request: its tenant, its caller, and the request's facts for the audit.
pub struct Manager {
    pub tenant: Tenant,
    pub caller: Caller,
    pub meta: RequestMeta,
}

impl Manager {
    /// The actor for a route that needs any of `scopes` (Auth0's names). A token holding a
    /// privileged one acts with `mfa:admin` on this route (only such a key could grant
    /// it); a secret key acts as itself.
    pub fn actor(&self, scopes: &[&'static str]) -> Result<Actor, Auth0Error> {
        match &self.caller {
            Caller::Key(key) => Ok(Actor::admin(key)),
            Caller::Token(token) => {
                let Some(held) = scopes.iter().find(|s| token.has(s)) else {
                    return Err(Auth0Error::insufficient_scope(scopes));
                };
                let key_scopes = if is_privileged_management_scope(held) {
                    vec![KeyScope::MfaAdmin]
                } else {
                    Vec::new()
                };
                Ok(Actor::Client {
                    application_id: token.application_id.clone(),
                    scopes: key_scopes,
                })
            }
        }
    }
}

fn invalid_token() -> Failure {
    Failure::unauthenticated(ErrorCode::InvalidToken, "Invalid token")
}

async fn manager(parts: &Parts, app: &App) -> Result<(Tenant, Caller), Failure> {
    let token = bearer(parts)?;
    if token.starts_with("sk_live_") {
        let (tenant, key) = admin(parts, app).await?;
        return Ok((tenant, Caller::Key(key)));
    }
    // The tenant whose issuer the token must be from: `X-Tenant-ID`, else the one the
    // address names (`/t/{slug}/api/v2`, a tenant's own host), else the default.
    let id = match header_tenant(&parts.headers)? {
        Some(id) => id,
        None => parts
            .extensions
            .get::<Scope>()
            .map(|s| s.tenant.clone())
            .unwrap_or_else(|| app.default_tenant.clone()),
    };
    let tenant = app.load_tenant(&id).await.map_err(Failure::from)?;
    match app.authenticate_management(&tenant, token).await? {
        Some(t) => Ok((tenant, Caller::Token(t))),
        None => Err(invalid_token()),
    }
}

impl FromRequestParts<App> for Manager {
    type Rejection = Auth0Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Auth0Error> {
        let meta = crate::http::common::extract::Meta::from_request_parts(parts, app)
            .await
            .map(|m| m.0)
            .unwrap_or_default();
        let (tenant, caller) = manager(parts, app).await.map_err(Auth0::reject)?;
        // A key used at another tenant's address is refused, as a key with another
        // tenant's `X-Tenant-ID` is.
        if let (Caller::Key(_), Some(scope)) = (&caller, parts.extensions.get::<Scope>()) {
            if !scope.is_default && scope.tenant != tenant.id {
                return Err(Auth0::reject(tenant_mismatch("secret key")));
            }
        }
        Ok(Manager { tenant, caller, meta })
    }
}
