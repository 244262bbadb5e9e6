//! Management API tokens (the Auth0-style `/api/v2`): the audience a tenant's management
//! API answers to, and the check of a token an application got for it with
//! `client_credentials`. What a token may do is its scopes, named as Auth0 names them
//! (`read:guardian_factors`, `delete:authentication_methods`, …); the ones that weaken MFA
//! or take factors away can only have been granted by a key with `mfa:admin`
//! (`service::applications`), so holding one stands for that key scope on its route.

use super::ServiceResult;
use crate::App;
use latchkey_core::ids::ApplicationId;
use latchkey_core::oidc::ClientType;
use latchkey_store::model::Tenant;
use serde_json::Value;

/// A management token that verified, and what it may still do.
#[derive(Debug, Clone)]
pub struct ManagementToken {
    pub application_id: ApplicationId,
    /// The token's scopes that its application still holds: a grant taken away takes
    /// effect at once, not when the token expires.
    pub scopes: Vec<String>,
}

impl ManagementToken {
    pub fn has(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s == scope)
    }
}

impl App {
    /// The `aud` a tenant's management API answers to: its issuer and `/api/v2/`, as Auth0
    /// spells it (`https://{domain}/api/v2/`).
    pub fn management_audience(&self, tenant: &Tenant) -> String {
        format!("{}/api/v2/", self.oidc_issuer(tenant).trim_end_matches('/'))
    }

    /// Checks a bearer token as a management token of `tenant`: RS256 by a published key,
    /// typ `at+jwt`, issued by this tenant's issuer for its management audience, not
    /// expired, to an application of the tenant that still exists, is confidential and still
    /// has that audience. `None` for anything else: the caller answers `401` alike.
    pub async fn authenticate_management(
        &self,
        tenant: &Tenant,
        token: &str,
    ) -> ServiceResult<Option<ManagementToken>> {
        let Ok(claims) = self.crypto.verify_management_token(&self.store, token).await else {
            return Ok(None);
        };
        let text = |name: &str| claims.get(name).and_then(Value::as_str);
        let now_s = self.now().div_euclid(1000);
        let live = claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_some_and(|exp| now_s < exp);
        let audience = self.management_audience(tenant);
        if !live
            || text("iss") != Some(self.oidc_issuer(tenant).as_str())
            || text("aud") != Some(audience.as_str())
            || text("tid") != Some(tenant.id.as_str())
        {
            return Ok(None);
        }
        let Some(Ok(id)) = text("client_id").map(ApplicationId::parse) else {
            return Ok(None);
        };
        let Some(app) = self.store.get_application(&tenant.id, &id).await? else {
            return Ok(None);
        };
        if app.client_type != ClientType::Confidential || app.audience() != audience {
            return Ok(None);
        }
        let scopes = text("scope")
            .unwrap_or("")
            .split(' ')
            .filter(|s| app.settings.scopes.iter().any(|g| g == s))
            .map(str::to_owned)
            .collect();
        Ok(Some(ManagementToken {
            application_id: id,
            scopes,
        }))
    }
}
