//! The OpenID Connect provider's use cases: the authorization request (OpenID Connect Core
//! §3.1.2, RFC 6749 §4.1, RFC 7636, RFC 9207), the token endpoint's grants (authorization
//! code, refresh token, client credentials), the ID token, `userinfo`, revocation (RFC 7009)
//! and RP-initiated logout. The surfaces (`http/oidc/`, and the pages for the screens in
//! between) only parse and render.
//!
//! An authorization request is checked once, when it arrives ([`App::authorize_start`]),
//! into a [`PendingAuthorize`] the browser carries (sealed) through the sign-in screens;
//! [`App::authorize_next`] then decides, with the browser's session, whether the user must
//! sign in (again) or the application gets its code.

use super::audit::{Actor, Audit, RequestMeta};
use super::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::assurance::Aal;
use latchkey_core::audit::{AuditAction, AuditOutcome};
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::SessionId;
use latchkey_core::jwt::{self, ClientClaims};
use latchkey_core::oauth::{self, Prompt, ResponseMode, Scopes};
use latchkey_core::oidc::{ClientType, GrantType, SigningAlg};
use latchkey_core::secret::{opaque_token, SecretString};
use latchkey_store::model::{Application, AuthorizationCode, RedeemOutcome, Session, Tenant, User};
use serde::{Deserialize, Serialize};

/// How long an authorization code lives (RFC 6749 §4.1.2 recommends at most 10 minutes;
/// the issue asks for 60 seconds: a code is redeemed by a server right after the redirect).
pub const CODE_TTL_MS: i64 = 60_000;
/// The longest a pending authorization request waits for the user to sign in.
pub const PENDING_TTL_MS: i64 = 30 * 60_000;
const MAX_STATE: usize = 512;
const MAX_NONCE: usize = 256;
const MAX_HINT: usize = 320;

/// An authorization request's parameters as they arrived (query string or form).
#[derive(Debug, Default, Clone, Deserialize)]
pub struct AuthorizeParams {
    pub response_type: Option<String>,
    pub client_id: Option<String>,
    pub redirect_uri: Option<String>,
    pub scope: Option<String>,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<String>,
    pub prompt: Option<String>,
    pub max_age: Option<String>,
    pub login_hint: Option<String>,
    pub acr_values: Option<String>,
    pub response_mode: Option<String>,
    pub ui_locales: Option<String>,
    pub id_token_hint: Option<String>,
    pub claims_locales: Option<String>,
    pub display: Option<String>,
    pub request: Option<String>,
    pub request_uri: Option<String>,
    pub registration: Option<String>,
    pub claims: Option<String>,
}

/// A checked authorization request, carried (sealed) by the browser while the user signs
/// in. No `Debug`: it holds the application's `state` and `nonce`.
#[derive(Clone, Serialize, Deserialize)]
pub struct PendingAuthorize {
    pub client_id: String,
    /// The application's name, for the screens ("Continue to …").
    pub client_name: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    pub response_mode: ResponseMode,
    pub prompt_none: bool,
    /// A sign-in at or after this time (ms) is needed: `prompt=login`, an exceeded
    /// `max_age`, or a second factor asked for by `acr_values`.
    pub signed_in_after: Option<i64>,
    pub max_age: Option<u64>,
    pub acr: Option<Aal>,
    /// The sign-in has been asked once to pass a second factor for `acr`; whatever it
    /// reached then is what the application gets (`acr_values` is voluntary, §3.1.2.1).
    pub asked_mfa: bool,
    pub login_hint: Option<String>,
    /// The languages the application asked the screens to speak (`ui_locales`).
    #[serde(default)]
    pub ui_locales: Option<String>,
    pub expires_at: i64,
}

impl PendingAuthorize {
    /// Whether the sign-in this request leads to must pass a second factor.
    pub fn requires_mfa(&self) -> bool {
        self.acr.is_some_and(|a| a >= Aal::Aal2)
    }
}

/// Where the browser goes back to the application, and with what (the code, or an error),
/// as a redirect (`query`) or an auto-submitted form (`form_post`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeReply {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(&'static str, String)>,
}

impl AuthorizeReply {
    /// The redirect URI with the parameters in its query (keeping a query it already has).
    pub fn location(&self) -> String {
        let query = serde_urlencoded::to_string(&self.params).unwrap_or_default();
        let sep = if self.redirect_uri.contains('?') { '&' } else { '?' };
        format!("{}{sep}{query}", self.redirect_uri)
    }
}

/// Why an authorization request is refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeFailure {
    /// The client or its redirect URI cannot be trusted: the user sees a page and is never
    /// redirected (RFC 6749 §4.1.2.1). The code names the problem.
    Unusable(&'static str),
    /// An error for the application, at its redirect URI.
    Reply(AuthorizeReply),
}

/// What comes next for a pending request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuthorizeNext {
    /// Back to the application (a code, or an error such as `login_required`).
    Reply(AuthorizeReply),
    /// The user must sign in first (again); with a second factor if `require_mfa`.
    SignIn { require_mfa: bool },
    /// The application or its redirect URI has gone since the request arrived.
    Unusable(&'static str),
}

/// The token endpoint's and revocation endpoint's errors (RFC 6749 §5.2).
#[derive(Debug, thiserror::Error)]
pub enum OAuthError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("client authentication failed")]
    InvalidClient,
    #[error("{0}")]
    InvalidGrant(String),
    #[error("{0}")]
    UnauthorizedClient(String),
    #[error("the grant type is not supported")]
    UnsupportedGrantType,
    #[error("{0}")]
    InvalidScope(String),
    #[error("too many attempts; try again later")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Auth0's MFA API: the password was right; a second factor is to be proven (or
    /// enrolled) with the `mfa_token` (403, with `mfa_token` and `mfa_requirements`).
    #[error("Multifactor authentication required")]
    MfaRequired(Box<super::mfa_api::MfaRequired>),
    /// Auth0's MFA API: refused (403).
    #[error("{0}")]
    AccessDenied(String),
    /// Auth0's MFA API: the `mfa_token` has lapsed.
    #[error("mfa_token is expired")]
    ExpiredToken,
    /// Auth0's MFA API: the bearer token is not one of this tenant's (401).
    #[error("the token is invalid, expired or revoked")]
    InvalidToken,
    /// Auth0's MFA API: no such authenticator (404).
    #[error("no such authenticator")]
    NotFound,
    #[error(transparent)]
    Service(ServiceError),
}

impl OAuthError {
    /// The registered error code (RFC 6749 §5.2).
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::UnauthorizedClient(_) => "unauthorized_client",
            OAuthError::UnsupportedGrantType => "unsupported_grant_type",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::TooManyAttempts { .. } => "slow_down",
            OAuthError::MfaRequired(_) => "mfa_required",
            OAuthError::AccessDenied(_) => "access_denied",
            OAuthError::ExpiredToken => "expired_token",
            OAuthError::InvalidToken => "invalid_token",
            OAuthError::NotFound => "not_found",
            OAuthError::Service(_) => "server_error",
        }
    }
}

impl From<ServiceError> for OAuthError {
    fn from(e: ServiceError) -> Self {
        match e {
            ServiceError::InvalidClient => OAuthError::InvalidClient,
            ServiceError::TooManyAttempts { retry_after_secs } => {
                OAuthError::TooManyAttempts { retry_after_secs }
            }
            ServiceError::InvalidRefreshToken => {
                OAuthError::InvalidGrant("the refresh token is invalid, expired or revoked".into())
            }
            other => OAuthError::Service(other),
        }
    }
}

impl From<latchkey_store::StoreError> for OAuthError {
    fn from(e: latchkey_store::StoreError) -> Self {
        OAuthError::Service(e.into())
    }
}

/// A token request's parameters (form-encoded or JSON, RFC 6749 §4.1.3, §6, §4.3.2, §4.4.2,
/// and Auth0's password-realm and MFA grants). No `Debug`: it holds passwords and codes.
#[derive(Default, Deserialize)]
pub struct TokenParams {
    pub grant_type: Option<String>,
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub audience: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub realm: Option<String>,
    pub mfa_token: Option<String>,
    pub otp: Option<String>,
    pub oob_code: Option<String>,
    pub binding_code: Option<String>,
    pub recovery_code: Option<String>,
}

/// A successful token response (RFC 6749 §5.1, OpenID Connect Core §3.1.3.3).
#[derive(Debug)]
pub struct TokenResponse {
    pub access_token: SecretString,
    pub expires_in: u64,
    pub refresh_token: Option<SecretString>,
    pub id_token: Option<String>,
    pub scope: String,
    /// A first authenticator confirmed through the MFA API brings recovery codes: shown once.
    pub recovery_codes: Option<Vec<String>>,
}

/// How the client presented itself at the token or revocation endpoint.
#[derive(Debug, Default)]
pub struct ClientCredentials {
    pub client_id: Option<String>,
    pub secret: Option<SecretString>,
}

/// The outcome of RP-initiated logout: where to send the browser, if the application
/// may be sent back to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutPlan {
    pub redirect: Option<String>,
    /// The application's name, for the confirmation page.
    pub client_name: Option<String>,
}

/// RP-initiated logout's parameters (OpenID Connect RP-Initiated Logout 1.0 §2).
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
pub struct LogoutParams {
    pub id_token_hint: Option<String>,
    pub client_id: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub ui_locales: Option<String>,
    pub logout_hint: Option<String>,
}

fn reply_error(
    redirect_uri: &str,
    mode: ResponseMode,
    state: Option<&str>,
    issuer: &str,
    error: &'static str,
    description: &str,
) -> AuthorizeReply {
    let mut params = vec![
        ("error", error.to_owned()),
        ("error_description", description.to_owned()),
    ];
    if let Some(s) = state {
        params.push(("state", s.to_owned()));
    }
    params.push(("iss", issuer.to_owned()));
    AuthorizeReply {
        redirect_uri: redirect_uri.to_owned(),
        mode,
        params,
    }
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

impl App {
    /// The issuer of the tenant's tokens and its discovery document.
    pub fn oidc_issuer(&self, tenant: &Tenant) -> String {
        self.issuer_for(&tenant.id).url
    }

    /// Checks an authorization request when it arrives.
    pub async fn authorize_start(
        &self,
        tenant: &Tenant,
        p: &AuthorizeParams,
    ) -> Result<PendingAuthorize, AuthorizeFailure> {
        let issuer = self.oidc_issuer(tenant);
        // Until the client and its redirect URI are known good, nothing is redirected.
        let client_id = nonempty(&p.client_id).ok_or(AuthorizeFailure::Unusable("client_id_missing"))?;
        let app = self
            .application_by_client_id(tenant, client_id)
            .await
            .map_err(|_| AuthorizeFailure::Unusable("server_error"))?
            .ok_or(AuthorizeFailure::Unusable("unknown_client"))?;
        let redirect_uri =
            nonempty(&p.redirect_uri).ok_or(AuthorizeFailure::Unusable("redirect_uri_missing"))?;
        // Exact string comparison (RFC 9700 §4.1.3): no prefixes, no normalisation.
        if !app.redirect_uris.iter().any(|u| u == redirect_uri) {
            return Err(AuthorizeFailure::Unusable("redirect_uri_mismatch"));
        }
        // From here on, errors go back to the application.
        let mode = match nonempty(&p.response_mode) {
            None => ResponseMode::Query,
            Some(m) => ResponseMode::parse(m).unwrap_or(ResponseMode::Query),
        };
        let state = nonempty(&p.state);
        let fail = |error: &'static str, description: &str| {
            AuthorizeFailure::Reply(reply_error(
                redirect_uri,
                mode,
                state,
                &issuer,
                error,
                description,
            ))
        };
        if state.is_some_and(|s| s.len() > MAX_STATE) {
            return Err(fail("invalid_request", "state is too long"));
        }
        if nonempty(&p.response_mode).is_some_and(|m| ResponseMode::parse(m).is_none()) {
            return Err(fail(
                "invalid_request",
                "response_mode must be query or form_post",
            ));
        }
        if p.request.is_some() {
            return Err(fail("request_not_supported", "request objects are not supported"));
        }
        if p.request_uri.is_some() {
            return Err(fail("request_uri_not_supported", "request_uri is not supported"));
        }
        if p.registration.is_some() {
            return Err(fail(
                "registration_not_supported",
                "registration is not supported",
            ));
        }
        match nonempty(&p.response_type) {
            None => return Err(fail("invalid_request", "response_type is required")),
            Some("code") => {}
            Some(_) => {
                return Err(fail(
                    "unsupported_response_type",
                    "only the authorization code flow (response_type=code) is supported",
                ))
            }
        }
        if !app.allows(GrantType::AuthorizationCode) {
            return Err(fail(
                "unauthorized_client",
                "this application may not use the authorization code flow",
            ));
        }
        let scopes = Scopes::parse(p.scope.as_deref().unwrap_or(""))
            .map_err(|unknown| fail("invalid_scope", &format!("unknown scope: {unknown}")))?;
        if !scopes.has("openid") {
            return Err(fail("invalid_scope", "the openid scope is required"));
        }
        let nonce = nonempty(&p.nonce);
        if nonce.is_some_and(|n| n.len() > MAX_NONCE) {
            return Err(fail("invalid_request", "nonce is too long"));
        }
        // PKCE: S256 only (RFC 9700 §2.1.1); a missing method means "plain" (RFC 7636 §4.3).
        let code_challenge = match (nonempty(&p.code_challenge), nonempty(&p.code_challenge_method)) {
            (None, None) => None,
            (Some(c), Some("S256")) if oauth::valid_challenge(c) => Some(c.to_owned()),
            (Some(_), Some("S256")) => {
                return Err(fail("invalid_request", "code_challenge is not an S256 challenge"))
            }
            (Some(_), None) | (_, Some(_)) => {
                return Err(fail(
                    "invalid_request",
                    "code_challenge_method must be S256 (plain is not supported)",
                ))
            }
        };
        if code_challenge.is_none() && app.client_type == ClientType::Public {
            return Err(fail(
                "invalid_request",
                "PKCE (code_challenge with S256) is required",
            ));
        }
        let prompt =
            Prompt::parse(p.prompt.as_deref().unwrap_or("")).map_err(|m| fail("invalid_request", m))?;
        let max_age = match nonempty(&p.max_age) {
            None => None,
            Some(m) => Some(
                m.parse::<u64>()
                    .map_err(|_| fail("invalid_request", "max_age must be a number of seconds"))?,
            ),
        };
        let now = self.now();
        // The application's own MFA rule acts as if it always asked with `acr_values`: a
        // second factor (`required`), or a phishing-resistant one; whichever is more.
        let asked = p.acr_values.as_deref().and_then(oauth::requested_aal);
        let by_rule = self
            .application_rule(tenant, &app.id)
            .await
            .map_err(|_| fail("server_error", "the request could not be checked"))?
            .and_then(|r| match (r.mfa, r.min_assurance) {
                (_, Some(latchkey_core::policy::engine::MinAssurance::PhishingResistant)) => {
                    Some(Aal::Aal2Phr)
                }
                (Some(latchkey_core::policy::engine::Requirement::Required), _) => Some(Aal::Aal2),
                _ => None,
            });
        let acr = asked.max(by_rule);
        Ok(PendingAuthorize {
            client_id: app.id.to_string(),
            client_name: app.name.clone(),
            redirect_uri: redirect_uri.to_owned(),
            scope: scopes.as_string(),
            state: state.map(str::to_owned),
            nonce: nonce.map(str::to_owned),
            code_challenge,
            response_mode: mode,
            prompt_none: prompt.none,
            signed_in_after: prompt.login.then_some(now),
            max_age,
            acr,
            asked_mfa: false,
            login_hint: nonempty(&p.login_hint)
                .filter(|h| h.len() <= MAX_HINT)
                .map(str::to_owned),
            ui_locales: nonempty(&p.ui_locales)
                .filter(|h| h.len() <= MAX_HINT)
                .map(str::to_owned),
            expires_at: now + PENDING_TTL_MS,
        })
    }

    /// Decides what a pending request needs now, given the browser's session (if it is
    /// signed in), and issues the code when nothing more is needed. `pending` records what
    /// was asked of the user, so a request never loops.
    pub async fn authorize_next(
        &self,
        tenant: &Tenant,
        pending: &mut PendingAuthorize,
        session: Option<&Session>,
    ) -> ServiceResult<AuthorizeNext> {
        let issuer = self.oidc_issuer(tenant);
        let now = self.now();
        let Some(app) = self.application_by_client_id(tenant, &pending.client_id).await? else {
            return Ok(AuthorizeNext::Unusable("unknown_client"));
        };
        if !app.redirect_uris.contains(&pending.redirect_uri) || !app.allows(GrantType::AuthorizationCode) {
            return Ok(AuthorizeNext::Unusable("redirect_uri_mismatch"));
        }
        let reply = |error, description: &str| {
            AuthorizeNext::Reply(reply_error(
                &pending.redirect_uri,
                pending.response_mode,
                pending.state.as_deref(),
                &issuer,
                error,
                description,
            ))
        };
        if now >= pending.expires_at {
            return Ok(reply("access_denied", "the sign-in took too long"));
        }
        let session = session.filter(|s| s.tenant_id == tenant.id && s.is_live(now) && s.client_id.is_none());
        let stale = |s: &Session| {
            pending.signed_in_after.is_some_and(|t| s.auth_time < t)
                || pending
                    .max_age
                    .is_some_and(|m| oauth::too_old(s.auth_time, m, now))
        };
        let Some(session) = session.filter(|s| !stale(s)) else {
            if pending.prompt_none {
                return Ok(reply("login_required", "the user is not signed in"));
            }
            // Once signed in again, the new sign-in satisfies max_age for this request.
            if pending.max_age.is_some() && pending.signed_in_after.is_none() {
                pending.signed_in_after = Some(now);
            }
            // The sign-in is asked for the level `acr_values` wants; what it reaches is
            // what the application gets, without asking again.
            pending.asked_mfa |= pending.requires_mfa();
            return Ok(AuthorizeNext::SignIn {
                require_mfa: pending.requires_mfa(),
            });
        };
        let reached = Aal::parse(&session.acr).unwrap_or(Aal::Aal1);
        if let Some(wanted) = pending.acr {
            if reached < wanted && !pending.asked_mfa && !pending.prompt_none {
                pending.asked_mfa = true;
                pending.signed_in_after = Some(now);
                return Ok(AuthorizeNext::SignIn {
                    require_mfa: wanted >= Aal::Aal2,
                });
            }
        }
        let code = opaque_token("ac_", self.rng.as_ref());
        let record = AuthorizationCode {
            code_hash: self.code_hash(code.expose()),
            tenant_id: tenant.id.clone(),
            client_id: app.id.clone(),
            session_id: session.id.clone(),
            redirect_uri: pending.redirect_uri.clone(),
            scope: pending.scope.clone(),
            nonce: pending.nonce.clone(),
            code_challenge: pending.code_challenge.clone(),
            created_at: now,
            expires_at: now + CODE_TTL_MS,
            consumed_at: None,
        };
        self.store.insert_authorization_code(&record).await?;
        let mut params = vec![("code", code.expose().to_owned())];
        if let Some(s) = &pending.state {
            params.push(("state", s.clone()));
        }
        params.push(("iss", issuer));
        Ok(AuthorizeNext::Reply(AuthorizeReply {
            redirect_uri: pending.redirect_uri.clone(),
            mode: pending.response_mode,
            params,
        }))
    }

    /// The user declined (cancelled the sign-in): `access_denied` for the application.
    pub fn authorize_cancel(&self, tenant: &Tenant, pending: &PendingAuthorize) -> AuthorizeReply {
        self.authorize_error(tenant, pending, "access_denied", "the user cancelled the sign-in")
    }

    /// An error for the application waiting on `pending`, at its redirect URI.
    pub fn authorize_error(
        &self,
        tenant: &Tenant,
        pending: &PendingAuthorize,
        error: &'static str,
        description: &str,
    ) -> AuthorizeReply {
        reply_error(
            &pending.redirect_uri,
            pending.response_mode,
            pending.state.as_deref(),
            &self.oidc_issuer(tenant),
            error,
            description,
        )
    }

    fn code_hash(&self, code: &str) -> String {
        self.crypto
            .hasher
            .hash(HashPurpose::AuthorizationCode, "", code.as_bytes())
    }

    /// The token endpoint.
    pub async fn token(
        &self,
        tenant: &Tenant,
        client: ClientCredentials,
        p: TokenParams,
        meta: &RequestMeta,
    ) -> Result<TokenResponse, OAuthError> {
        let grant = match p.grant_type.as_deref() {
            None | Some("") => return Err(OAuthError::InvalidRequest("grant_type is required".into())),
            Some(g) => GrantType::parse(g).ok_or(OAuthError::UnsupportedGrantType)?,
        };
        let client_id = client.client_id.as_deref().ok_or(OAuthError::InvalidClient)?;
        let app = self
            .authenticate_client(tenant, client_id, client.secret.as_ref().map(|s| s.expose()))
            .await?;
        if !app.allows(grant) {
            return Err(OAuthError::UnauthorizedClient(format!(
                "this application may not use the {} grant",
                grant.as_str()
            )));
        }
        match grant {
            GrantType::AuthorizationCode => self.redeem_code(tenant, &app, &p, meta).await,
            GrantType::RefreshToken => self.refresh_grant(tenant, &app, &p).await,
            GrantType::ClientCredentials => self.client_credentials(tenant, &app, &p),
            GrantType::Password | GrantType::PasswordRealm => {
                self.password_grant(tenant, &app, grant, &p, meta).await
            }
            GrantType::MfaOtp | GrantType::MfaOob | GrantType::MfaRecoveryCode => {
                self.mfa_grant(tenant, &app, grant, &p, meta).await
            }
        }
    }

    async fn redeem_code(
        &self,
        tenant: &Tenant,
        app: &Application,
        p: &TokenParams,
        meta: &RequestMeta,
    ) -> Result<TokenResponse, OAuthError> {
        let code = nonempty(&p.code).ok_or_else(|| OAuthError::InvalidRequest("code is required".into()))?;
        let invalid =
            || OAuthError::InvalidGrant("the authorization code is invalid, expired or used".into());
        if code.len() > 200 {
            return Err(invalid());
        }
        let hash = self.code_hash(code);
        let now = self.now();
        let Some(record) = self.store.get_authorization_code(&hash).await? else {
            return Err(invalid());
        };
        // Any mismatch spends the code: it cannot be tried again with other values.
        let refuse = |why: &str| OAuthError::InvalidGrant(why.to_owned());
        let mismatch = if record.tenant_id != tenant.id || record.client_id != app.id {
            Some(refuse("the authorization code was issued to another client"))
        } else if p.redirect_uri.as_deref() != Some(record.redirect_uri.as_str()) {
            Some(refuse("redirect_uri does not match the authorization request"))
        } else {
            match (&record.code_challenge, nonempty(&p.code_verifier)) {
                (Some(challenge), Some(verifier)) if oauth::verifier_matches(verifier, challenge) => None,
                (Some(_), Some(_)) => Some(refuse("code_verifier does not match the code_challenge")),
                (Some(_), None) => Some(refuse("code_verifier is required")),
                // PKCE downgrade (RFC 9700 §2.1.1): a verifier for a code issued without one.
                (None, Some(_)) => Some(refuse("the authorization request had no code_challenge")),
                (None, None) => None,
            }
        };
        if let Some(e) = mismatch {
            self.store.burn_authorization_code(&hash, now).await?;
            return Err(e);
        }
        let Some(browser) = self
            .store
            .get_session(&record.session_id)
            .await?
            .filter(|s| s.is_live(now))
        else {
            self.store.burn_authorization_code(&hash, now).await?;
            return Err(refuse("the sign-in has ended"));
        };
        let user = self
            .get_user(&tenant.id, &browser.user_id)
            .await
            .map_err(|_| invalid())?;
        let session = self.application_session(tenant, app, &browser, &record.scope);
        let refresh = opaque_token("rt_", self.rng.as_ref());
        match self
            .store
            .redeem_authorization_code(&hash, &session, &self.refresh_hash(&refresh), now)
            .await?
        {
            RedeemOutcome::Redeemed => {}
            RedeemOutcome::Replayed => {
                tracing::warn!(tenant_id = %tenant.id, client_id = %app.id, "authorization code replayed: the tokens it issued are revoked");
                self.audit(Audit {
                    tenant,
                    actor: &Actor::SigningIn {
                        user_id: user.id.clone(),
                    },
                    meta,
                    user: Some(&user.id),
                    factor: None,
                    action: AuditAction::AuthorizationCodeReplayed,
                    outcome: AuditOutcome::Refused,
                    detail: Some(format!("client:{}", app.id)),
                })
                .await?;
                return Err(invalid());
            }
            RedeemOutcome::Expired | RedeemOutcome::Unknown => return Err(invalid()),
        }
        tracing::info!(tenant_id = %tenant.id, client_id = %app.id, user_id = %user.id, "authorization code redeemed");
        self.respond(tenant, app, &session, &user, refresh, record.nonce.as_deref())
    }

    /// A session of `app` under the sign-in's own session `parent` (a browser's, or a password
    /// grant's), with what that sign-in proved and the scopes granted. Not yet stored.
    pub(super) fn application_session(
        &self,
        tenant: &Tenant,
        app: &Application,
        parent: &Session,
        scope: &str,
    ) -> Session {
        let now = self.now();
        let refresh_ttl = app
            .settings
            .refresh_token_ttl_secs
            .unwrap_or(tenant.settings.refresh_token_ttl_secs);
        Session {
            id: SessionId::generate(now, self.rng.as_ref()),
            tenant_id: tenant.id.clone(),
            user_id: parent.user_id.clone(),
            amr: parent.amr.clone(),
            acr: parent.acr.clone(),
            auth_time: parent.auth_time,
            mfa_at: parent.mfa_at,
            created_at: now,
            // A refresh family's lifetime, as for the native API's sessions; ending the parent
            // (signing out of the browser) ends it sooner (`parent_id`).
            expires_at: now + i64::try_from(refresh_ttl).unwrap_or(0) * 1000,
            revoked_at: None,
            client_id: Some(app.id.clone()),
            parent_id: Some(parent.id.clone()),
            scope: Some(scope.to_owned()),
        }
    }

    async fn refresh_grant(
        &self,
        tenant: &Tenant,
        app: &Application,
        p: &TokenParams,
    ) -> Result<TokenResponse, OAuthError> {
        let presented = nonempty(&p.refresh_token)
            .ok_or_else(|| OAuthError::InvalidRequest("refresh_token is required".into()))?;
        let narrowed = match nonempty(&p.scope) {
            None => None,
            Some(s) => {
                Some(Scopes::parse(s).map_err(|u| OAuthError::InvalidScope(format!("unknown scope: {u}")))?)
            }
        };
        let (_, mut session, next) = self
            .rotate_refresh(Some(&tenant.id), presented, Some(&app.id))
            .await?;
        if let Some(narrowed) = narrowed {
            let granted = Scopes::parse(session.scope.as_deref().unwrap_or("")).map_err(|_| {
                OAuthError::Service(ServiceError::Internal("stored scope does not parse".into()))
            })?;
            if !narrowed.within(&granted) {
                return Err(OAuthError::InvalidScope(
                    "a refresh cannot widen the scopes granted".into(),
                ));
            }
            session.scope = Some(narrowed.as_string());
        }
        let user = self.get_user(&tenant.id, &session.user_id).await.map_err(|_| {
            OAuthError::InvalidGrant("the refresh token is invalid, expired or revoked".into())
        })?;
        self.respond(tenant, app, &session, &user, next, None)
    }

    fn client_credentials(
        &self,
        tenant: &Tenant,
        app: &Application,
        p: &TokenParams,
    ) -> Result<TokenResponse, OAuthError> {
        if app.client_type != ClientType::Confidential {
            return Err(OAuthError::UnauthorizedClient(
                "only confidential applications may use client_credentials".into(),
            ));
        }
        let audience = app.audience().to_owned();
        if let Some(asked) = nonempty(&p.audience) {
            if asked != audience {
                return Err(OAuthError::InvalidRequest(
                    "audience is not this application's".into(),
                ));
            }
        }
        let scope: Vec<&str> = match nonempty(&p.scope) {
            None => app.settings.scopes.iter().map(String::as_str).collect(),
            Some(s) => {
                let asked: Vec<&str> = s.split(' ').filter(|w| !w.is_empty()).collect();
                if let Some(extra) = asked
                    .iter()
                    .find(|w| !app.settings.scopes.iter().any(|g| g == *w))
                {
                    return Err(OAuthError::InvalidScope(format!(
                        "scope not granted to this application: {}",
                        extra.chars().take(64).collect::<String>()
                    )));
                }
                asked
            }
        };
        let ttl = app
            .settings
            .access_token_ttl_secs
            .unwrap_or(tenant.settings.access_token_ttl_secs);
        let now_s = self.now().div_euclid(1000);
        let scope = scope.join(" ");
        let claims = ClientClaims {
            iss: self.oidc_issuer(tenant),
            sub: app.id.to_string(),
            aud: audience,
            client_id: app.id.to_string(),
            tid: tenant.id.to_string(),
            scope: scope.clone(),
            iat: now_s,
            exp: now_s + i64::try_from(ttl).unwrap_or(0),
            jti: jwt::new_jti(self.rng.as_ref()),
        };
        tracing::info!(tenant_id = %tenant.id, client_id = %app.id, "client credentials token issued");
        // A token for the management API is RS256, as Auth0's own are; `/api/v2` accepts
        // nothing else (`service::management`).
        let access_token = if claims.aud == self.management_audience(tenant) {
            let value = serde_json::to_value(&claims)
                .map_err(|e| OAuthError::Service(ServiceError::Internal(e.to_string())))?;
            self.crypto.sign_management_token(&value).map_err(|e| {
                OAuthError::Service(ServiceError::Internal(format!(
                    "cannot sign a management token: {e}"
                )))
            })?
        } else {
            self.crypto.signer().sign(&claims)
        };
        Ok(TokenResponse {
            access_token: SecretString::new(access_token),
            expires_in: ttl,
            refresh_token: None,
            id_token: None,
            scope,
            recovery_codes: None,
        })
    }

    /// The token response for an application's session: an access token, the refresh token
    /// with `offline_access` (and the grant), and an ID token.
    pub(super) fn respond(
        &self,
        tenant: &Tenant,
        app: &Application,
        session: &Session,
        user: &User,
        refresh: SecretString,
        nonce: Option<&str>,
    ) -> Result<TokenResponse, OAuthError> {
        let scopes = Scopes::parse(session.scope.as_deref().unwrap_or(""))
            .map_err(|_| OAuthError::Service(ServiceError::Internal("stored scope does not parse".into())))?;
        let ttl = app
            .settings
            .access_token_ttl_secs
            .unwrap_or(tenant.settings.access_token_ttl_secs);
        let access = self.access_token(session, ttl);
        let id_token = if scopes.has("openid") {
            Some(self.id_token(tenant, app, session, user, &scopes, &access, nonce)?)
        } else {
            None
        };
        let refresh_token =
            (scopes.has("offline_access") && app.allows(GrantType::RefreshToken)).then_some(refresh);
        Ok(TokenResponse {
            access_token: access,
            expires_in: ttl,
            refresh_token,
            id_token,
            scope: scopes.as_string(),
            recovery_codes: None,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn id_token(
        &self,
        tenant: &Tenant,
        app: &Application,
        session: &Session,
        user: &User,
        scopes: &Scopes,
        access: &SecretString,
        nonce: Option<&str>,
    ) -> Result<String, OAuthError> {
        let alg: SigningAlg = app.settings.id_token_signed_response_alg;
        let now_s = self.now().div_euclid(1000);
        let ttl = i64::try_from(app.settings.id_token_ttl_secs).unwrap_or(3600);
        let mut claims = serde_json::json!({
            "iss": self.oidc_issuer(tenant),
            "sub": user.id.to_string(),
            "aud": app.id.to_string(),
            "exp": now_s + ttl,
            "iat": now_s,
            "auth_time": session.auth_time.div_euclid(1000),
            "amr": session.amr,
            "acr": session.acr,
            "sid": session.id.to_string(),
            "at_hash": oauth::at_hash(alg, access.expose()),
        });
        if let (Some(n), Some(map)) = (nonce, claims.as_object_mut()) {
            map.insert("nonce".into(), n.into());
        }
        if let Some(map) = claims.as_object_mut() {
            map.extend(self.user_claims(user, scopes));
        }
        self.crypto
            .sign_id_token(alg, &claims)
            .map_err(|e| OAuthError::Service(ServiceError::Internal(format!("cannot sign an ID token: {e}"))))
    }

    /// The standard claims (§5.1) the scopes release: `email` and `email_verified`,
    /// `name`, `phone_number` and `phone_number_verified`.
    fn user_claims(&self, user: &User, scopes: &Scopes) -> serde_json::Map<String, serde_json::Value> {
        let mut out = serde_json::Map::new();
        if scopes.has("email") {
            out.insert("email".into(), user.email.as_str().into());
            out.insert("email_verified".into(), user.email_verified_at.is_some().into());
        }
        if scopes.has("profile") {
            if let Some(name) = &user.name {
                out.insert("name".into(), name.clone().into());
            }
            out.insert("updated_at".into(), user.updated_at.div_euclid(1000).into());
        }
        if scopes.has("phone") {
            if let Some(phone) = self.user_phone(user) {
                out.insert("phone_number".into(), phone.into());
                out.insert(
                    "phone_number_verified".into(),
                    user.phone_verified_at.is_some().into(),
                );
            }
        }
        out
    }

    /// `userinfo` (§5.3): the claims an access token issued to an application with the
    /// `openid` scope may see. `None` if the token is not such a token (or no longer valid).
    pub async fn userinfo(
        &self,
        tenant: &latchkey_core::ids::TenantId,
        token: &str,
    ) -> ServiceResult<Option<serde_json::Map<String, serde_json::Value>>> {
        // Another tenant's token is not one this issuer knows.
        let Some(ctx) = self
            .authenticate_access(token)
            .await
            .filter(|c| c.tenant_id == *tenant)
        else {
            return Ok(None);
        };
        let Some(scopes) = ctx.claims.scope.as_deref().and_then(|s| Scopes::parse(s).ok()) else {
            return Err(ServiceError::Forbidden);
        };
        if !scopes.has("openid") {
            return Err(ServiceError::Forbidden);
        }
        let user = self.get_user(&ctx.tenant_id, &ctx.user_id).await?;
        let mut out = serde_json::Map::new();
        out.insert("sub".into(), user.id.to_string().into());
        out.extend(self.user_claims(&user, &scopes));
        Ok(Some(out))
    }

    /// Token revocation (RFC 7009): a refresh token or access token the client holds ends
    /// the session it belongs to. Tokens that are unknown, or another client's, are
    /// ignored: the answer is the same (§2.2).
    pub async fn revoke_token(
        &self,
        tenant: &Tenant,
        client: ClientCredentials,
        token: &str,
    ) -> Result<(), OAuthError> {
        let client_id = client.client_id.as_deref().ok_or(OAuthError::InvalidClient)?;
        let app = self
            .authenticate_client(tenant, client_id, client.secret.as_ref().map(|s| s.expose()))
            .await?;
        let now = self.now();
        let session = if token.starts_with("rt_") && token.len() <= 200 {
            let hash = self.refresh_hash(&SecretString::new(token.to_owned()));
            self.store.session_for_refresh(&hash).await?
        } else {
            match self.authenticate_access(token).await {
                Some(ctx) => self.store.get_session(&ctx.session_id).await?,
                None => None,
            }
        };
        if let Some(s) = session.filter(|s| s.client_id.as_ref() == Some(&app.id) && s.tenant_id == tenant.id)
        {
            self.store.revoke_session(&s.id, now).await?;
            tracing::info!(tenant_id = %tenant.id, client_id = %app.id, session_id = %s.id, "token revoked");
        }
        Ok(())
    }

    /// What RP-initiated logout may do: the application the request names (by its ID token
    /// or `client_id`), and the post-logout redirect, only if that application registered
    /// it exactly. A request that names nothing, or contradicts itself, redirects nowhere.
    pub async fn logout_plan(
        &self,
        tenant: &Tenant,
        p: &LogoutParams,
    ) -> ServiceResult<(LogoutPlan, Option<SessionId>)> {
        let issuer = self.oidc_issuer(tenant);
        let mut hinted_session = None;
        let mut client = nonempty(&p.client_id).map(str::to_owned);
        if let Some(hint) = nonempty(&p.id_token_hint) {
            let Ok(claims) = self.crypto.verify_id_token(&self.store, hint, &issuer).await else {
                return Ok((
                    LogoutPlan {
                        redirect: None,
                        client_name: None,
                    },
                    None,
                ));
            };
            let aud = match &claims["aud"] {
                serde_json::Value::String(a) => Some(a.clone()),
                serde_json::Value::Array(a) if a.len() == 1 => a[0].as_str().map(str::to_owned),
                _ => None,
            };
            if client.is_some() && client != aud {
                return Ok((
                    LogoutPlan {
                        redirect: None,
                        client_name: None,
                    },
                    None,
                ));
            }
            client = aud;
            hinted_session = claims["sid"].as_str().and_then(|s| SessionId::parse(s).ok());
        }
        let app = match &client {
            Some(c) => self.application_by_client_id(tenant, c).await?,
            None => None,
        };
        let redirect = match (&app, nonempty(&p.post_logout_redirect_uri)) {
            (Some(app), Some(uri)) if app.post_logout_redirect_uris.iter().any(|u| u == uri) => {
                let mut url = uri.to_owned();
                if let Some(state) = nonempty(&p.state) {
                    let sep = if url.contains('?') { '&' } else { '?' };
                    let q = serde_urlencoded::to_string([("state", state)]).unwrap_or_default();
                    url = format!("{url}{sep}{q}");
                }
                Some(url)
            }
            _ => None,
        };
        Ok((
            LogoutPlan {
                redirect,
                client_name: app.map(|a| a.name),
            },
            hinted_session,
        ))
    }

    /// Ends a browser session and every application session issued from it; and the
    /// session an ID token names (with the browser session it came from), if it is this
    /// user's.
    pub async fn end_browser_session(
        &self,
        tenant: &Tenant,
        browser: Option<&Session>,
        hinted: Option<&SessionId>,
    ) -> ServiceResult<()> {
        let now = self.now();
        if let Some(b) = browser {
            self.store.revoke_session_tree(&b.id, now).await?;
        }
        if let Some(id) = hinted {
            if let Some(s) = self.store.get_session(id).await? {
                let same_user = browser.is_none_or(|b| b.user_id == s.user_id);
                if s.tenant_id == tenant.id && same_user {
                    let root = s.parent_id.clone().unwrap_or_else(|| s.id.clone());
                    self.store.revoke_session_tree(&root, now).await?;
                }
            }
        }
        Ok(())
    }
}
