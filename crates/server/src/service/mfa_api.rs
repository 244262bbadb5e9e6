//! Auth0's MFA API (its Authentication API's resource-owner password grants, the
//! `mfa_required` answer with an `mfa_token`, `/mfa/*` and the MFA grants), as use cases over
//! the sign-in ones, so every rule is the one `/v1` and the pages keep:
//! - a password grant is [`App::signin_with`] (throttle, policy engine, adaptive risk, audit);
//! - an `mfa_token` names the sign-in's challenge: `/mfa/challenge` is
//!   [`App::select_factor`] (which sends a code), `/mfa/associate` is
//!   [`App::enroll_for_challenge`], and the MFA grants are [`App::verify_challenge`];
//! - the application's tokens are then issued as for an authorization code: a session of the
//!   application under the sign-in's own session (`respond` in `oidc.rs`).
//!
//! The `mfa_token` is the challenge id, the application it was issued to and the scopes
//! asked for, sealed under the master key and bound to the tenant: opaque to the client,
//! useless to another application, and it lives no longer than its challenge.

use super::audit::{Actor, RequestMeta};
use super::factors::{Answer, EnrollDetails};
use super::mfa::{EnrollRequest, FactorChoice, FactorSummary, Verified};
use super::oidc::{OAuthError, TokenParams, TokenResponse};
use super::outcome::{PendingChallenge, SignInExtras, SignInOutcome};
use super::sessions::TokenPair;
use super::ServiceError;
use crate::App;
use latchkey_core::factor::{ChallengePurpose, Channel, FactorKind, FactorStatus};
use latchkey_core::ids::{FactorId, TenantId, UserId};
use latchkey_core::oauth::Scopes;
use latchkey_core::oidc::GrantType;
use latchkey_core::secret::opaque_token;
use latchkey_store::model::{Application, Tenant};
use serde::{Deserialize, Serialize};

/// What an `mfa_token` carries.
#[derive(Serialize, Deserialize)]
struct MfaTokenClaims {
    /// The sign-in challenge.
    chl: String,
    /// The application it was issued to.
    cid: String,
    /// The scopes the password grant asked for.
    scope: String,
    /// When it lapses (ms): its challenge's expiry.
    exp: i64,
}

const MFA_TOKEN_PREFIX: &str = "mft_";

/// The realm names a `password-realm` grant may give: Latchkey keeps one user database per
/// tenant, which answers to Auth0's default database connection name.
pub const REALMS: [&str; 1] = ["Username-Password-Authentication"];

fn mfa_token_aad(tenant: &TenantId) -> String {
    format!("latchkey:mfa_token:{tenant}")
}

/// `mfa_required`'s body (besides the error): the token and what it lets the user do.
#[derive(Debug)]
pub struct MfaRequired {
    pub mfa_token: String,
    /// The authenticator types the user can answer with (`mfa_requirements.challenge`)...
    pub challenge: Vec<&'static str>,
    /// ...or must enroll one of first (`mfa_requirements.enroll`).
    pub enroll: Vec<&'static str>,
}

/// An authenticator as `GET /mfa/authenticators` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Authenticator {
    pub id: String,
    pub authenticator_type: &'static str,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oob_channel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oob_channels: Option<Vec<&'static str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `POST /mfa/challenge`'s parameters (besides the client's credentials).
#[derive(Debug, Default, Deserialize)]
pub struct ChallengeParams {
    pub mfa_token: Option<String>,
    pub challenge_type: Option<String>,
    pub authenticator_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// `POST /mfa/challenge`'s answer.
#[derive(Debug, Serialize)]
pub struct ChallengeReply {
    pub challenge_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oob_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding_method: Option<&'static str>,
}

/// `POST /mfa/associate`'s parameters.
#[derive(Debug, Default, Deserialize)]
pub struct AssociateParams {
    pub authenticator_types: Option<Vec<String>>,
    pub oob_channels: Option<Vec<String>>,
    pub phone_number: Option<String>,
    pub email: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
}

/// `POST /mfa/associate`'s answer.
#[derive(Serialize)]
pub struct Association {
    pub authenticator_type: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub barcode_uri: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oob_channel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub oob_code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub binding_method: Option<&'static str>,
    /// Auth0 hands a first enrollment's recovery codes here; Latchkey makes them when the
    /// enrollment is confirmed, so they come with the tokens of the MFA grant instead.
    pub recovery_codes: Vec<String>,
}

/// Auth0's name for a factor kind in `mfa_requirements`, and its authenticator type and
/// channel in `/mfa/authenticators`. WebAuthn has no place in the MFA API (Auth0 offers it
/// on Universal Login only): passkeys are used on the hosted pages.
fn requirement(kind: FactorKind) -> Option<&'static str> {
    match kind {
        FactorKind::Totp => Some("otp"),
        FactorKind::Sms => Some("phone"),
        FactorKind::EmailOtp => Some("email"),
        FactorKind::BackupCodes => Some("recovery-code"),
        _ => None,
    }
}

fn authenticator_of(kind: FactorKind) -> Option<(&'static str, &'static str, Option<&'static str>)> {
    // (id prefix, authenticator_type, oob channel)
    match kind {
        FactorKind::Totp => Some(("totp", "otp", None)),
        FactorKind::Sms => Some(("sms", "oob", Some("sms"))),
        FactorKind::EmailOtp => Some(("email", "oob", Some("email"))),
        FactorKind::BackupCodes => Some(("recovery-code", "recovery-code", None)),
        _ => None,
    }
}

/// An authenticator id (`sms|fct_…`, or the bare factor id) as a factor id.
fn factor_of_authenticator(id: &str) -> Option<FactorId> {
    let raw = id.rsplit_once('|').map_or(id, |(_, f)| f);
    FactorId::parse(raw).ok()
}

fn requirements(kinds: impl IntoIterator<Item = FactorKind>) -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for k in kinds {
        if let Some(r) = requirement(k) {
            if !out.contains(&r) {
                out.push(r);
            }
        }
    }
    out
}

fn bad_token() -> OAuthError {
    OAuthError::InvalidGrant("the mfa_token is invalid or expired".into())
}

/// A sign-in use case's refusal as the MFA API says it.
fn mfa_error(e: ServiceError) -> OAuthError {
    match e {
        ServiceError::InvalidCode => OAuthError::InvalidGrant("Invalid otp_code.".into()),
        ServiceError::InvalidChallenge | ServiceError::ChallengeExpired => bad_token(),
        ServiceError::FactorNotFound => {
            OAuthError::InvalidRequest("no authenticator of that type or id for this user".into())
        }
        ServiceError::FactorIdRequired => OAuthError::InvalidRequest(
            "the user has several authenticators of that type: give authenticator_id".into(),
        ),
        ServiceError::FactorNotAllowed | ServiceError::UnknownFactorType => {
            OAuthError::InvalidRequest("that authenticator type is not enabled for this tenant".into())
        }
        ServiceError::InvalidCredentials => OAuthError::InvalidGrant("Wrong email or password.".into()),
        ServiceError::SignInRefused => OAuthError::AccessDenied("this sign-in was refused".into()),
        ServiceError::RateLimited { retry_after_secs } => OAuthError::TooManyAttempts { retry_after_secs },
        ServiceError::Input(i) => OAuthError::InvalidRequest(i.to_string()),
        ServiceError::PhoneNotVerified
        | ServiceError::CountryNotAllowed
        | ServiceError::NumberTypeNotAllowed(_) => OAuthError::InvalidRequest(e.to_string()),
        other => other.into(),
    }
}

fn required<'a>(v: &'a Option<String>, name: &str) -> Result<&'a str, OAuthError> {
    v.as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| OAuthError::InvalidRequest(format!("{name} is required")))
}

impl App {
    fn seal_mfa_token(
        &self,
        tenant: &Tenant,
        app: &Application,
        scope: &str,
        p: &PendingChallenge,
    ) -> Result<String, OAuthError> {
        let claims = MfaTokenClaims {
            chl: p.challenge_id.to_string(),
            cid: app.id.to_string(),
            scope: scope.to_owned(),
            exp: p.expires_at,
        };
        let json = serde_json::to_vec(&claims)
            .map_err(|e| OAuthError::Service(ServiceError::Internal(format!("mfa_token: {e}"))))?;
        let sealed = self
            .crypto
            .keyring
            .seal(&json, &mfa_token_aad(&tenant.id), self.rng.as_ref())
            .map_err(|e| OAuthError::Service(ServiceError::Internal(format!("mfa_token: {e}"))))?;
        Ok(format!("{MFA_TOKEN_PREFIX}{sealed}"))
    }

    /// Opens an `mfa_token` of this tenant; `client`: the application presenting it must be
    /// the one it was issued to.
    fn open_mfa_token(
        &self,
        tenant: &Tenant,
        token: &str,
        client: Option<&Application>,
    ) -> Result<MfaTokenClaims, OAuthError> {
        let sealed = token
            .strip_prefix(MFA_TOKEN_PREFIX)
            .filter(|s| s.len() <= 2000)
            .ok_or_else(bad_token)?;
        let bytes = self
            .crypto
            .keyring
            .open(sealed, &mfa_token_aad(&tenant.id))
            .map_err(|_| bad_token())?;
        let claims: MfaTokenClaims = serde_json::from_slice(&bytes).map_err(|_| bad_token())?;
        if self.now() >= claims.exp {
            return Err(OAuthError::ExpiredToken);
        }
        if client.is_some_and(|a| a.id.as_str() != claims.cid) {
            return Err(OAuthError::InvalidGrant(
                "the mfa_token was issued to another application".into(),
            ));
        }
        Ok(claims)
    }

    /// What a pending second factor becomes at the token endpoint: `403 mfa_required`
    /// (`enroll`: a factor is to be enrolled first).
    fn mfa_required_error(
        &self,
        tenant: &Tenant,
        app: &Application,
        scope: &str,
        pending: PendingChallenge,
        enroll: bool,
    ) -> OAuthError {
        let token = match self.seal_mfa_token(tenant, app, scope, &pending) {
            Ok(t) => t,
            Err(e) => return e,
        };
        let (challenge, enroll) = if enroll {
            (Vec::new(), requirements(pending.allowed.iter().copied()))
        } else {
            (requirements(pending.factors.iter().map(|f| f.kind)), Vec::new())
        };
        OAuthError::MfaRequired(Box::new(MfaRequired {
            mfa_token: token,
            challenge,
            enroll,
        }))
    }

    /// The application's tokens for a completed sign-in (`tokens`: the sign-in's own session,
    /// which becomes the parent of the application's, as a browser session is).
    async fn application_tokens(
        &self,
        tenant: &Tenant,
        app: &Application,
        scope: &str,
        tokens: &TokenPair,
    ) -> Result<TokenResponse, OAuthError> {
        let parent = self.session_of(tokens).await?;
        let user = self.get_user(&tenant.id, &parent.user_id).await?;
        let session = self.application_session(tenant, app, &parent, scope);
        let refresh = opaque_token("rt_", self.rng.as_ref());
        self.store
            .create_session(&session, &self.refresh_hash(&refresh))
            .await
            .map_err(ServiceError::from)?;
        self.respond(tenant, app, &session, &user, refresh, None)
    }

    /// `grant_type=password` and `…/password-realm`.
    pub(super) async fn password_grant(
        &self,
        tenant: &Tenant,
        app: &Application,
        grant: GrantType,
        p: &TokenParams,
        meta: &RequestMeta,
    ) -> Result<TokenResponse, OAuthError> {
        let username = required(&p.username, "username")?;
        let password = required(&p.password, "password")?;
        if grant == GrantType::PasswordRealm {
            let realm = required(&p.realm, "realm")?;
            if !REALMS.contains(&realm) {
                return Err(OAuthError::InvalidRequest(format!(
                    "unknown realm; this tenant's user database is {}",
                    REALMS[0]
                )));
            }
        }
        if let Some(aud) = p.audience.as_deref().filter(|a| !a.is_empty()) {
            if aud != app.audience() {
                return Err(OAuthError::AccessDenied(
                    "the audience is not one this application may ask for".into(),
                ));
            }
        }
        let scopes = Scopes::parse(p.scope.as_deref().unwrap_or(""))
            .map_err(|u| OAuthError::InvalidScope(format!("unknown scope: {u}")))?;
        let scope = scopes.as_string();
        let outcome = self
            .signin_with(tenant, username, password, &SignInExtras::default(), meta)
            .await
            .map_err(mfa_error)?;
        match outcome {
            SignInOutcome::Complete((_, tokens)) => {
                self.application_tokens(tenant, app, &scope, &tokens).await
            }
            SignInOutcome::Challenge(c) => Err(self.mfa_required_error(tenant, app, &scope, c, false)),
            SignInOutcome::Enroll(c) => Err(self.mfa_required_error(tenant, app, &scope, c, true)),
        }
    }

    /// `…/mfa-otp`, `…/mfa-oob` and `…/mfa-recovery-code`: the second factor of a password
    /// grant (or the first use of an authenticator associated with its `mfa_token`).
    pub(super) async fn mfa_grant(
        &self,
        tenant: &Tenant,
        app: &Application,
        grant: GrantType,
        p: &TokenParams,
        meta: &RequestMeta,
    ) -> Result<TokenResponse, OAuthError> {
        let token = required(&p.mfa_token, "mfa_token")?;
        let claims = self.open_mfa_token(tenant, token, Some(app))?;
        let (choice, code) = match grant {
            GrantType::MfaOtp => (
                FactorChoice {
                    factor_id: None,
                    kind: Some(FactorKind::Totp),
                },
                required(&p.otp, "otp")?,
            ),
            GrantType::MfaOob => {
                let oob = required(&p.oob_code, "oob_code")?;
                let factor = factor_of_authenticator(oob)
                    .ok_or_else(|| OAuthError::InvalidGrant("the oob_code is invalid".into()))?;
                let binding = required(&p.binding_code, "binding_code")?;
                (
                    FactorChoice {
                        factor_id: Some(factor.to_string()),
                        kind: None,
                    },
                    binding,
                )
            }
            _ => (
                FactorChoice {
                    factor_id: None,
                    kind: Some(FactorKind::BackupCodes),
                },
                required(&p.recovery_code, "recovery_code")?,
            ),
        };
        let outcome = self
            .verify_challenge(tenant, &claims.chl, &choice, Answer::Code(code), false, meta)
            .await
            .map_err(|e| match (grant, e) {
                (GrantType::MfaOob, ServiceError::InvalidCode) => {
                    OAuthError::InvalidGrant("Invalid binding_code.".into())
                }
                (GrantType::MfaRecoveryCode, ServiceError::InvalidCode) => {
                    OAuthError::InvalidGrant("Invalid recovery_code.".into())
                }
                (_, e) => mfa_error(e),
            })?;
        match outcome {
            SignInOutcome::Complete(Verified {
                tokens, backup_codes, ..
            }) => {
                let mut reply = self
                    .application_tokens(tenant, app, &claims.scope, &tokens)
                    .await?;
                reply.recovery_codes = backup_codes;
                Ok(reply)
            }
            SignInOutcome::Challenge(c) => Err(self.mfa_required_error(tenant, app, &claims.scope, c, false)),
            SignInOutcome::Enroll(c) => Err(self.mfa_required_error(tenant, app, &claims.scope, c, true)),
        }
    }

    /// The user a bearer of the MFA API stands for, and how: an `mfa_token` (the sign-in
    /// challenge) or an access token of the user's (as `/v1` takes it).
    async fn mfa_bearer(&self, tenant: &Tenant, bearer: &str) -> Result<MfaBearer, OAuthError> {
        if bearer.starts_with(MFA_TOKEN_PREFIX) {
            let claims = self.open_mfa_token(tenant, bearer, None)?;
            let challenge = self
                .open_challenge(tenant, &claims.chl)
                .await
                .map_err(mfa_error)?;
            return Ok(MfaBearer::Token {
                user: challenge.user_id.clone(),
                purpose: challenge.purpose,
                claims,
            });
        }
        let ctx = self
            .authenticate_access(bearer)
            .await
            .filter(|c| c.tenant_id == tenant.id)
            .ok_or(OAuthError::InvalidToken)?;
        // The actor `/v1` makes of the same token (`http::common::extract`).
        Ok(MfaBearer::Access {
            user: ctx.user_id.clone(),
            actor: Box::new(Actor::User {
                user_id: ctx.user_id,
                session_id: ctx.session_id,
                mfa_time: ctx.claims.mfa_time,
            }),
        })
    }

    /// `GET /mfa/authenticators`: the user's authenticators the MFA API can use.
    pub async fn mfa_api_authenticators(
        &self,
        tenant: &Tenant,
        bearer: &str,
    ) -> Result<Vec<Authenticator>, OAuthError> {
        let summaries = match self.mfa_bearer(tenant, bearer).await? {
            MfaBearer::Token { user, .. } => self.factor_summaries(tenant, &user).await?,
            MfaBearer::Access { actor, user } => self.list_user_factors(tenant, &actor, &user).await?,
        };
        Ok(summaries.iter().filter_map(authenticator).collect())
    }

    /// `POST /mfa/challenge`: which authenticator answers the `mfa_token`; an SMS or email
    /// one is sent its code now.
    pub async fn mfa_api_challenge(
        &self,
        tenant: &Tenant,
        client: super::oidc::ClientCredentials,
        p: &ChallengeParams,
        meta: &RequestMeta,
    ) -> Result<ChallengeReply, OAuthError> {
        let client_id = client.client_id.as_deref().ok_or(OAuthError::InvalidClient)?;
        let app = self
            .authenticate_client(tenant, client_id, client.secret.as_ref().map(|s| s.expose()))
            .await?;
        if !GrantType::ALL.iter().any(|g| g.is_mfa() && app.allows(*g)) {
            return Err(OAuthError::UnauthorizedClient(
                "this application may not use the MFA grants".into(),
            ));
        }
        let token = required(&p.mfa_token, "mfa_token")?;
        let claims = self.open_mfa_token(tenant, token, Some(&app))?;
        let types: Vec<&str> = p
            .challenge_type
            .as_deref()
            .unwrap_or("")
            .split(' ')
            .filter(|t| !t.is_empty())
            .collect();
        if let Some(unknown) = types.iter().find(|t| !matches!(**t, "otp" | "oob")) {
            return Err(OAuthError::InvalidRequest(format!(
                "unsupported challenge_type {}: otp and oob are",
                unknown.chars().take(40).collect::<String>()
            )));
        }
        let choice = match p.authenticator_id.as_deref().filter(|s| !s.is_empty()) {
            Some(id) => FactorChoice {
                factor_id: Some(
                    factor_of_authenticator(id)
                        .ok_or_else(|| OAuthError::InvalidRequest("unknown authenticator_id".into()))?
                        .to_string(),
                ),
                kind: None,
            },
            // Without an id, an authenticator app when `otp` is acceptable, else the one
            // out-of-band authenticator (several need an id).
            None if types.is_empty() || types.contains(&"otp") => FactorChoice {
                factor_id: None,
                kind: Some(FactorKind::Totp),
            },
            None => {
                let chosen = self.only_oob(tenant, &claims).await?;
                FactorChoice {
                    factor_id: Some(chosen.to_string()),
                    kind: None,
                }
            }
        };
        let selected = self
            .select_factor(tenant, &claims.chl, &choice, meta)
            .await
            .map_err(mfa_error)?;
        let Some((_, kind_type, channel)) = authenticator_of(selected.factor.kind) else {
            return Err(OAuthError::InvalidRequest(
                "that authenticator is not usable through the MFA API".into(),
            ));
        };
        if !types.is_empty() && !types.contains(&kind_type) {
            return Err(OAuthError::InvalidRequest(format!(
                "the authenticator is of challenge type {kind_type}"
            )));
        }
        Ok(match channel {
            Some(_) => ChallengeReply {
                challenge_type: "oob",
                oob_code: Some(selected.factor.id.to_string()),
                binding_method: Some("prompt"),
            },
            None => ChallengeReply {
                challenge_type: kind_type,
                oob_code: None,
                binding_method: None,
            },
        })
    }

    /// The one SMS or email factor of the `mfa_token`'s user.
    async fn only_oob(&self, tenant: &Tenant, claims: &MfaTokenClaims) -> Result<FactorId, OAuthError> {
        let challenge = self
            .open_challenge(tenant, &claims.chl)
            .await
            .map_err(mfa_error)?;
        let now = self.now();
        let oob: Vec<FactorId> = self
            .store
            .list_factors(&tenant.id, &challenge.user_id)
            .await
            .map_err(ServiceError::from)?
            .into_iter()
            .filter(|f| f.is_current(now) && matches!(f.kind, FactorKind::Sms | FactorKind::EmailOtp))
            .filter(|f| f.status == FactorStatus::Active || challenge.purpose == ChallengePurpose::Enroll)
            .map(|f| f.id)
            .collect();
        match oob.as_slice() {
            [only] => Ok(only.clone()),
            [] => Err(mfa_error(ServiceError::FactorNotFound)),
            _ => Err(mfa_error(ServiceError::FactorIdRequired)),
        }
    }

    /// `POST /mfa/associate` with an `mfa_token`: the first authenticator of a user who must
    /// enroll one (a user who has one proves it first, as Auth0 also requires).
    pub async fn mfa_api_associate(
        &self,
        tenant: &Tenant,
        bearer: &str,
        p: &AssociateParams,
        meta: &RequestMeta,
    ) -> Result<Association, OAuthError> {
        let (claims, purpose) = match self.mfa_bearer(tenant, bearer).await? {
            MfaBearer::Token { claims, purpose, .. } => (claims, purpose),
            MfaBearer::Access { .. } => {
                return Err(OAuthError::AccessDenied(
                    "associate with the mfa_token of a sign-in; signed-in users add authenticators on the account page or through /v1"
                        .into(),
                ))
            }
        };
        if purpose != ChallengePurpose::Enroll {
            return Err(OAuthError::AccessDenied("User is already enrolled.".into()));
        }
        let types = p.authenticator_types.as_deref().unwrap_or_default();
        let kind = match types {
            [t] if t == "otp" => FactorKind::Totp,
            [t] if t == "oob" => match p.oob_channels.as_deref().unwrap_or_default() {
                [c] if c == "sms" => FactorKind::Sms,
                [c] if c == "email" => FactorKind::EmailOtp,
                _ => {
                    return Err(OAuthError::InvalidRequest(
                        "oob_channels must be [\"sms\"] or [\"email\"]".into(),
                    ))
                }
            },
            _ => {
                return Err(OAuthError::InvalidRequest(
                    "authenticator_types must be [\"otp\"] or [\"oob\"]".into(),
                ))
            }
        };
        let phone_number = match kind {
            FactorKind::Sms => Some(required(&p.phone_number, "phone_number")?.to_owned()),
            _ => None,
        };
        if let (FactorKind::EmailOtp, Some(email)) = (kind, p.email.as_deref().filter(|e| !e.is_empty())) {
            // Email codes go to the account's own address, as `/v1` enrolls them.
            let challenge = self
                .open_challenge(tenant, &claims.chl)
                .await
                .map_err(mfa_error)?;
            let user = self.get_user(&tenant.id, &challenge.user_id).await?;
            if latchkey_core::email::canonical(email) != latchkey_core::email::canonical(user.email.as_str())
            {
                return Err(OAuthError::InvalidRequest(
                    "email codes go to the account's own address; leave email out or give that one".into(),
                ));
            }
        }
        let enrollment = self
            .enroll_for_challenge(
                tenant,
                &claims.chl,
                EnrollRequest {
                    kind,
                    name: None,
                    phone_number,
                    confirmed: false,
                },
                meta,
            )
            .await
            .map_err(mfa_error)?;
        let id = enrollment.factor.id.to_string();
        Ok(match enrollment.details {
            EnrollDetails::Totp {
                secret_base32,
                otpauth_uri,
                ..
            } => Association {
                authenticator_type: "otp",
                secret: Some(secret_base32.to_string()),
                barcode_uri: Some(otpauth_uri.to_string()),
                oob_channel: None,
                oob_code: None,
                binding_method: None,
                recovery_codes: Vec::new(),
            },
            EnrollDetails::Sent { channel, .. } => Association {
                authenticator_type: "oob",
                secret: None,
                barcode_uri: None,
                oob_channel: Some(match channel {
                    Channel::Sms => "sms",
                    _ => "email",
                }),
                oob_code: Some(id),
                binding_method: Some("prompt"),
                recovery_codes: Vec::new(),
            },
            _ => {
                return Err(OAuthError::Service(ServiceError::Internal(
                    "an unexpected enrollment for the MFA API".into(),
                )))
            }
        })
    }

    /// `DELETE /mfa/authenticators/{id}` with the user's access token: the rules of removing
    /// a factor through `/v1` (a recent second factor, every other session ended).
    pub async fn mfa_api_delete(
        &self,
        tenant: &Tenant,
        bearer: &str,
        authenticator_id: &str,
        meta: &RequestMeta,
    ) -> Result<(), OAuthError> {
        let MfaBearer::Access { actor, user } = self.mfa_bearer(tenant, bearer).await? else {
            return Err(OAuthError::AccessDenied(
                "removing an authenticator needs the user's access token, not an mfa_token".into(),
            ));
        };
        let factor = factor_of_authenticator(authenticator_id).ok_or(OAuthError::NotFound)?;
        match self.delete_factor(tenant, &actor, &user, &factor, meta).await {
            Ok(()) => Ok(()),
            Err(ServiceError::FactorNotFound) => Err(OAuthError::NotFound),
            Err(ServiceError::MfaVerificationRequired) => Err(OAuthError::AccessDenied(
                "verify a second factor again first (sign in with MFA recently)".into(),
            )),
            Err(e) => Err(mfa_error(e)),
        }
    }
}

/// Who calls the MFA API.
enum MfaBearer {
    Token {
        user: UserId,
        purpose: ChallengePurpose,
        claims: MfaTokenClaims,
    },
    /// The user's access token, as the actor `/v1` makes of it.
    Access { actor: Box<Actor>, user: UserId },
}

fn authenticator(s: &FactorSummary) -> Option<Authenticator> {
    let (prefix, kind_type, channel) = authenticator_of(s.factor.kind)?;
    Some(Authenticator {
        id: format!("{prefix}|{}", s.factor.id),
        authenticator_type: kind_type,
        active: s.factor.status == FactorStatus::Active,
        oob_channel: channel,
        oob_channels: channel.map(|c| vec![c]),
        name: s.destination.clone().or_else(|| s.factor.name.clone()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authenticator_ids_name_their_factor() {
        let id = "fac_01HZX3Q4P5R6S7T8V9W0XYZABC";
        let f = FactorId::parse(id).unwrap();
        assert_eq!(factor_of_authenticator(&format!("sms|{id}")), Some(f.clone()));
        assert_eq!(factor_of_authenticator(id), Some(f));
        assert_eq!(factor_of_authenticator("sms|nope"), None);
        assert_eq!(
            requirements([FactorKind::Totp, FactorKind::Sms, FactorKind::Totp]),
            ["otp", "phone"]
        );
    }
}
