//! Applications (OAuth 2.0 / OpenID Connect clients) of a tenant: their registration by the
//! tenant's administrator (the admin API, the CLI), and client authentication, which the
//! token endpoint asks of every request.
//!
//! A confidential client's secret is 256 bits from the CSPRNG (`cs_…`), shown once when it
//! is made and stored only as its keyed hash, bound to the application's id (ASVS 5.0
//! V13.3; the same treatment as tenant secret keys). A registration is checked as a whole
//! after every change (`latchkey_core::application`), so no sequence of changes can leave an
//! application the endpoints should not honour.

use super::admin::Attempt;
use super::audit::{Actor, Audit, RequestMeta};
use super::{InputError, ServiceError, ServiceResult};
use crate::App;
use latchkey_core::application::{check_redirect_uris, grant_problem, parse_grant_types, MAX_NAME_CHARS};
use latchkey_core::audit::{AuditAction, AuditOutcome};
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::ApplicationId;
use latchkey_core::oidc::{ClientType, GrantType, SigningAlg};
use latchkey_core::scope::{is_privileged_management_scope, KeyScope};
use latchkey_core::secret::{ct_eq, opaque_token, SecretString};
use latchkey_core::throttle::{ThrottleDecision, ThrottlePolicy};
use latchkey_store::model::{Application, Tenant, ThrottleKey};

/// The throttle scope of client authentication (subject: the client id).
const THROTTLE_SCOPE: &str = "client";
/// Longer than any secret we issue (55 characters); longer input is not even hashed.
const MAX_SECRET_LEN: usize = 200;
/// What a listing shows of a secret: `cs_` and four characters (20 of its 256 bits).
const SECRET_PREFIX_CHARS: usize = 7;

/// A registration, or a change to one; absent fields keep their value (on creation, their
/// default). `Some(None)` returns a lifetime or the audience to its default.
#[derive(Debug, Default, Clone)]
pub struct ApplicationChanges {
    pub name: Option<String>,
    /// `public` or `confidential`: required to register; on a change, accepted only when it
    /// names the type the application has (the type is fixed).
    pub client_type: Option<String>,
    pub redirect_uris: Option<Vec<String>>,
    pub post_logout_redirect_uris: Option<Vec<String>>,
    /// Default on creation: `authorization_code` and `refresh_token`.
    pub grant_types: Option<Vec<String>>,
    pub access_token_ttl_secs: Option<Option<u64>>,
    pub refresh_token_ttl_secs: Option<Option<u64>>,
    pub id_token_ttl_secs: Option<u64>,
    pub id_token_signed_response_alg: Option<String>,
    pub audience: Option<Option<String>>,
    pub scopes: Option<Vec<String>>,
}

fn problem(field: &str, message: &str) -> InputError {
    InputError::Application(vec![(field.to_owned(), message.to_owned())])
}

fn parse_type(name: &str) -> Result<ClientType, InputError> {
    ClientType::parse(name).ok_or_else(|| problem("type", "must be public or confidential"))
}

/// `app` with `changes` applied, all of them or (at the first problem) none, and the names
/// of the fields that changed. The result is checked as a whole: a change of redirect URIs
/// can break a grant rule as surely as a change of grants.
fn apply(
    app: &Application,
    changes: ApplicationChanges,
) -> Result<(Application, Vec<&'static str>), InputError> {
    let mut next = app.clone();
    if let Some(t) = changes.client_type {
        if parse_type(&t)? != app.client_type {
            return Err(problem(
                "type",
                "cannot be changed; register a new application instead",
            ));
        }
    }
    if let Some(name) = changes.name {
        next.name = latchkey_core::text::display_name(&name, MAX_NAME_CHARS)
            .ok()
            .filter(|n| !n.is_empty())
            .ok_or(InputError::ApplicationName)?;
    }
    for (field, given, slot) in [
        ("redirect_uris", changes.redirect_uris, &mut next.redirect_uris),
        (
            "post_logout_redirect_uris",
            changes.post_logout_redirect_uris,
            &mut next.post_logout_redirect_uris,
        ),
    ] {
        if let Some(uris) = given {
            check_redirect_uris(&uris).map_err(|(index, reason)| InputError::RedirectUri {
                field,
                index,
                reason,
            })?;
            // Stored exactly as given: matching is by exact comparison.
            *slot = uris;
        }
    }
    if let Some(names) = changes.grant_types {
        next.grant_types = parse_grant_types(&names).map_err(InputError::GrantTypes)?;
    }
    let s = &mut next.settings;
    let mut problems = Vec::new();
    if let Some(v) = changes.access_token_ttl_secs {
        s.access_token_ttl_secs = v;
    }
    if let Some(v) = changes.refresh_token_ttl_secs {
        s.refresh_token_ttl_secs = v;
    }
    if let Some(v) = changes.id_token_ttl_secs {
        s.id_token_ttl_secs = v;
    }
    if let Some(v) = changes.id_token_signed_response_alg {
        match SigningAlg::parse(&v) {
            Some(alg) => s.id_token_signed_response_alg = alg,
            None => problems.push((
                "id_token_signed_response_alg".to_owned(),
                format!(
                    "must be one of {}",
                    SigningAlg::ALL.map(SigningAlg::as_str).join(", ")
                ),
            )),
        }
    }
    if let Some(v) = changes.audience {
        s.audience = v;
    }
    if let Some(v) = changes.scopes {
        s.scopes = v;
    }
    problems.extend(
        next.settings
            .problems()
            .into_iter()
            .map(|(f, m)| (f.to_owned(), m)),
    );
    if !problems.is_empty() {
        return Err(InputError::Application(problems));
    }
    if let Some(why) = grant_problem(next.client_type, &next.grant_types, &next.redirect_uris) {
        return Err(InputError::GrantTypes(why.to_owned()));
    }
    let mut changed = Vec::new();
    for (field, differs) in [
        ("name", next.name != app.name),
        ("redirect_uris", next.redirect_uris != app.redirect_uris),
        (
            "post_logout_redirect_uris",
            next.post_logout_redirect_uris != app.post_logout_redirect_uris,
        ),
        ("grant_types", next.grant_types != app.grant_types),
        ("settings", next.settings != app.settings),
    ] {
        if differs {
            changed.push(field);
        }
    }
    Ok((next, changed))
}

impl App {
    /// A new client secret for application `id`: the secret (to show once), its keyed hash
    /// and its display prefix.
    fn client_secret(&self, id: &ApplicationId) -> (SecretString, String, String) {
        let secret = opaque_token("cs_", self.rng.as_ref());
        let hash = self.client_secret_hash(id, secret.expose());
        let prefix = secret.expose().chars().take(SECRET_PREFIX_CHARS).collect();
        (secret, hash, prefix)
    }

    fn client_secret_hash(&self, id: &ApplicationId, secret: &str) -> String {
        self.crypto
            .hasher
            .hash(HashPurpose::ClientSecret, id.as_str(), secret.as_bytes())
    }

    async fn audit_application(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        action: AuditAction,
        detail: String,
    ) -> ServiceResult<()> {
        self.audit(Audit {
            tenant,
            actor,
            meta,
            user: None,
            factor: None,
            action,
            outcome: AuditOutcome::Success,
            detail: Some(detail),
        })
        .await
    }

    /// Granting an application a management scope that weakens MFA or removes factors
    /// (`core::scope::PRIVILEGED_MANAGEMENT_SCOPES`) needs a key with `mfa:admin`: the
    /// application's token can then do what only such a key may.
    async fn privileged_grant(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        before: &Application,
        after: &Application,
        action: AuditAction,
    ) -> ServiceResult<()> {
        let added = after
            .settings
            .scopes
            .iter()
            .find(|s| is_privileged_management_scope(s) && !before.settings.scopes.contains(s));
        let Some(scope) = added else {
            return Ok(());
        };
        self.require_scope(
            tenant,
            actor,
            meta,
            KeyScope::MfaAdmin,
            Attempt {
                action,
                user: None,
                detail: &format!("{} grants {scope}", after.id),
            },
        )
        .await
    }

    /// Registers an application. A confidential client gets its secret here, returned this
    /// once and stored only as its keyed hash.
    pub async fn create_application(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        mut changes: ApplicationChanges,
    ) -> ServiceResult<(Application, Option<SecretString>)> {
        let client_type = match changes.client_type.take() {
            Some(t) => parse_type(&t)?,
            None => return Err(problem("type", "is required: public or confidential").into()),
        };
        if changes.name.is_none() {
            return Err(InputError::ApplicationName.into());
        }
        let now = self.now();
        let id = ApplicationId::generate(now, self.rng.as_ref());
        let draft = Application {
            id: id.clone(),
            tenant_id: tenant.id.clone(),
            name: String::new(),
            client_type,
            secret_hash: None,
            secret_prefix: None,
            redirect_uris: Vec::new(),
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            settings: Default::default(),
            created_at: now,
            updated_at: now,
        };
        let (mut app, _) = apply(&draft, changes)?;
        self.privileged_grant(tenant, actor, meta, &draft, &app, AuditAction::ApplicationCreated)
            .await?;
        let secret = match client_type {
            ClientType::Confidential => {
                let (secret, hash, prefix) = self.client_secret(&id);
                app.secret_hash = Some(hash);
                app.secret_prefix = Some(prefix);
                Some(secret)
            }
            ClientType::Public => None,
        };
        self.store.insert_application(&app).await?;
        self.audit_application(
            tenant,
            actor,
            meta,
            AuditAction::ApplicationCreated,
            format!("{id} ({})", client_type.as_str()),
        )
        .await?;
        Ok((app, secret))
    }

    pub async fn get_application(&self, tenant: &Tenant, id: &ApplicationId) -> ServiceResult<Application> {
        self.store
            .get_application(&tenant.id, id)
            .await?
            .ok_or(ServiceError::ApplicationNotFound)
    }

    /// The application a `client_id` names in this tenant, if any; for the endpoints that
    /// look a client up without authenticating it (`/authorize`).
    pub async fn application_by_client_id(
        &self,
        tenant: &Tenant,
        client_id: &str,
    ) -> ServiceResult<Option<Application>> {
        match ApplicationId::parse(client_id) {
            Ok(id) => Ok(self.store.get_application(&tenant.id, &id).await?),
            Err(_) => Ok(None),
        }
    }

    pub async fn list_applications(
        &self,
        tenant: &Tenant,
        after: Option<&ApplicationId>,
        limit: u32,
    ) -> ServiceResult<Vec<Application>> {
        Ok(self
            .store
            .list_applications(&tenant.id, after, limit.clamp(1, 200))
            .await?)
    }

    /// Changes a registration: only the fields given, checked together with the rest.
    pub async fn update_application(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        id: &ApplicationId,
        changes: ApplicationChanges,
    ) -> ServiceResult<Application> {
        let app = self.get_application(tenant, id).await?;
        let (mut next, changed) = apply(&app, changes)?;
        if changed.is_empty() {
            return Ok(app);
        }
        self.privileged_grant(tenant, actor, meta, &app, &next, AuditAction::ApplicationUpdated)
            .await?;
        next.updated_at = self.now();
        if !self.store.update_application(&next).await? {
            return Err(ServiceError::ApplicationNotFound);
        }
        self.audit_application(
            tenant,
            actor,
            meta,
            AuditAction::ApplicationUpdated,
            format!("{id}: {}", changed.join(", ")),
        )
        .await?;
        Ok(next)
    }

    /// Removes an application; its client id and secret stop working at once, and every
    /// session issued to it ends (its users' access and refresh tokens with them).
    pub async fn delete_application(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        id: &ApplicationId,
    ) -> ServiceResult<()> {
        if !self.store.delete_application(&tenant.id, id).await? {
            return Err(ServiceError::ApplicationNotFound);
        }
        self.store
            .revoke_client_sessions(&tenant.id, id, self.now())
            .await?;
        self.audit_application(
            tenant,
            actor,
            meta,
            AuditAction::ApplicationDeleted,
            id.to_string(),
        )
        .await
    }

    /// Gives a confidential client a new secret, returned this once; the old one stops
    /// working at once.
    pub async fn rotate_application_secret(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        id: &ApplicationId,
    ) -> ServiceResult<(Application, SecretString)> {
        let mut app = self.get_application(tenant, id).await?;
        if app.client_type == ClientType::Public {
            return Err(problem("type", "is public, and a public client has no secret to rotate").into());
        }
        // Whoever holds the new secret holds the application's scopes.
        if let Some(scope) = app
            .settings
            .scopes
            .iter()
            .find(|s| is_privileged_management_scope(s))
        {
            self.require_scope(
                tenant,
                actor,
                meta,
                KeyScope::MfaAdmin,
                Attempt {
                    action: AuditAction::ApplicationSecretRotated,
                    user: None,
                    detail: &format!("{id} holds {scope}"),
                },
            )
            .await?;
        }
        let (secret, hash, prefix) = self.client_secret(id);
        let now = self.now();
        if !self
            .store
            .set_application_secret(&tenant.id, id, &hash, &prefix, now)
            .await?
        {
            return Err(ServiceError::ApplicationNotFound);
        }
        app.secret_hash = Some(hash);
        app.secret_prefix = Some(prefix);
        app.updated_at = now;
        self.audit_application(
            tenant,
            actor,
            meta,
            AuditAction::ApplicationSecretRotated,
            id.to_string(),
        )
        .await?;
        Ok((app, secret))
    }

    /// Authenticates a client at the token endpoint: the application `client_id` names in
    /// this tenant, with, for a confidential client, its secret (compared as keyed hashes,
    /// in constant time), and for a public client no secret at all (an empty one counts as
    /// none). Unknown client, wrong secret, missing secret and a secret from a public client
    /// all fail alike with [`ServiceError::InvalidClient`] (RFC 6749 §5.2 `invalid_client`).
    ///
    /// Failures are throttled per client ([`ThrottlePolicy::CLIENT`]): once locked, even the
    /// right secret gets [`ServiceError::TooManyAttempts`] until the wait is over. Only
    /// failures are counted, with a read before and a write after a failure: counting every
    /// attempt, as the password throttle does, would let a busy client's concurrent
    /// successes add up to a lock of its own. The price is that concurrent wrong guesses
    /// are all evaluated before the first is counted, which 256-bit secrets can afford.
    /// Unknown client ids are not counted (there is nothing to protect, and no row to grow).
    pub async fn authenticate_client(
        &self,
        tenant: &Tenant,
        client_id: &str,
        secret: Option<&str>,
    ) -> ServiceResult<Application> {
        let secret = secret.filter(|s| !s.is_empty());
        let found = match ApplicationId::parse(client_id) {
            Ok(id) => self.store.get_application(&tenant.id, &id).await?,
            Err(_) => None,
        };
        let Some(app) = found else {
            tracing::info!(tenant_id = %tenant.id, outcome = "failure", "client authentication: unknown client");
            return Err(ServiceError::InvalidClient);
        };
        // A public client has no secret to guess, and its id is public: counting failures
        // against it would let anyone lock every user of a single-page app out of the token
        // endpoint by sending a wrong secret ten times.
        if app.client_type == ClientType::Public {
            return match secret {
                None => Ok(app),
                Some(_) => {
                    tracing::info!(tenant_id = %tenant.id, client_id = %app.id, outcome = "failure", "client authentication: a secret from a public client");
                    Err(ServiceError::InvalidClient)
                }
            };
        }
        let key = ThrottleKey {
            tenant_id: tenant.id.clone(),
            scope: THROTTLE_SCOPE,
            subject: app.id.to_string(),
        };
        let now = self.now();
        let failures = match self.store.throttle_peek(&key).await? {
            Some((_, locked_until)) if locked_until > now => {
                tracing::info!(tenant_id = %tenant.id, client_id = %app.id, "client authentication throttled");
                return Err(ServiceError::TooManyAttempts {
                    retry_after_secs: u64::try_from((locked_until - now + 999) / 1000).unwrap_or(1),
                });
            }
            Some((failures, _)) => failures,
            None => 0,
        };
        let ok = match (app.client_type, secret, app.secret_hash.as_deref()) {
            (ClientType::Public, None, _) => true,
            (ClientType::Confidential, Some(s), Some(stored)) if s.len() <= MAX_SECRET_LEN => {
                ct_eq(self.client_secret_hash(&app.id, s).as_bytes(), stored.as_bytes())
            }
            _ => false,
        };
        if !ok {
            let decision = self
                .store
                .throttle_attempt(&key, &ThrottlePolicy::CLIENT, now)
                .await?;
            tracing::info!(tenant_id = %tenant.id, client_id = %app.id, outcome = "failure", "client authentication failed");
            return Err(match decision {
                // Another request's failure locked it meanwhile.
                ThrottleDecision::Locked { retry_after_secs } => {
                    ServiceError::TooManyAttempts { retry_after_secs }
                }
                ThrottleDecision::Allowed { .. } => ServiceError::InvalidClient,
            });
        }
        if failures > 0 {
            self.store.throttle_clear(&key).await?;
        }
        Ok(app)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use latchkey_core::application::RedirectUriError;
    use latchkey_core::ids::TenantId;
    use latchkey_core::rand::OsRandom;

    fn app(client_type: ClientType) -> Application {
        Application {
            id: ApplicationId::generate(1, &OsRandom),
            tenant_id: TenantId::generate(1, &OsRandom),
            name: "A".into(),
            client_type,
            secret_hash: None,
            secret_prefix: None,
            redirect_uris: vec!["https://a.example/cb".into()],
            post_logout_redirect_uris: Vec::new(),
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            settings: Default::default(),
            created_at: 1,
            updated_at: 1,
        }
    }

    #[test]
    fn changes_apply_whole_or_not_at_all_and_name_what_changed() {
        let a = app(ClientType::Public);
        let (same, changed) = apply(&a, ApplicationChanges::default()).unwrap();
        assert_eq!((same, changed), (a.clone(), vec![]));
        let (next, changed) = apply(
            &a,
            ApplicationChanges {
                name: Some("  Acme  ".into()),
                client_type: Some("public".into()),
                access_token_ttl_secs: Some(Some(600)),
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(next.name, "Acme");
        assert_eq!(next.settings.access_token_ttl_secs, Some(600));
        assert_eq!(changed, ["name", "settings"]);

        // Emptying the redirect URIs of a public client with authorization_code breaks a
        // grant rule: refused, though each field alone is well formed.
        let err = apply(
            &a,
            ApplicationChanges {
                redirect_uris: Some(vec![]),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.code(), crate::service::ErrorCode::InvalidGrantTypes);
        let err = apply(
            &a,
            ApplicationChanges {
                client_type: Some("confidential".into()),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(err.code(), crate::service::ErrorCode::InvalidApplication);
        let err = apply(
            &a,
            ApplicationChanges {
                post_logout_redirect_uris: Some(vec!["https://a.example/".into(), "javascript:x".into()]),
                ..Default::default()
            },
        )
        .unwrap_err();
        assert_eq!(
            err,
            InputError::RedirectUri {
                field: "post_logout_redirect_uris",
                index: 1,
                reason: RedirectUriError::Scheme
            }
        );
        let err = apply(
            &a,
            ApplicationChanges {
                id_token_signed_response_alg: Some("none".into()),
                id_token_ttl_secs: Some(5),
                ..Default::default()
            },
        )
        .unwrap_err();
        let InputError::Application(problems) = err else {
            panic!("{err:?}")
        };
        let fields: Vec<&str> = problems.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["id_token_signed_response_alg", "id_token_ttl_secs"]);
        for bad in ["", "   ", "a\u{202E}b", &"x".repeat(101)] {
            let err = apply(
                &a,
                ApplicationChanges {
                    name: Some(bad.into()),
                    ..Default::default()
                },
            )
            .unwrap_err();
            assert_eq!(err, InputError::ApplicationName, "{bad:?}");
        }
    }
}
