//! First-factor authentication and sessions: sign-up, sign-in, refresh, sign-out, and
//! recognising the bearer credentials (secret keys, access tokens) of later requests.

use super::audit::{Actor, Audit, RequestMeta};
use super::devices::PresentedDevice;
use super::mfa::Gate;
use super::outcome::{SignInExtras, SignInOutcome, TicketDemand};
use super::sessions::TokenPair;
use super::{InputError, ServiceError, ServiceResult};
use crate::App;
use latchkey_core::assurance::{amr_strings, Aal, Amr};
use latchkey_core::audit::{AuditAction, AuditOutcome};
use latchkey_core::devices;
use latchkey_core::email::{self, Email};
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::{ApplicationId, SessionId, TenantId, UserId};
use latchkey_core::jwt::Claims;
use latchkey_core::password;
use latchkey_core::policy::risk::{PastOutcome, RiskDecision};
use latchkey_core::secret::{opaque_token, SecretString};
use latchkey_core::throttle::{ThrottleDecision, ThrottlePolicy};
use latchkey_store::model::{ApiKeyRecord, RotateOutcome, SealedColumn, Session, Tenant, ThrottleKey, User};
use latchkey_store::StoreError;

pub struct SignupInput {
    pub email: String,
    pub password: String,
    pub phone_number: Option<String>,
    pub name: Option<String>,
}

/// A verified access token whose session is still live.
#[derive(Debug, Clone)]
pub struct AccessContext {
    pub claims: Claims,
    pub tenant_id: TenantId,
    pub user_id: UserId,
    pub session_id: SessionId,
}

/// A phone number as given at sign-up, parsed with libphonenumber's metadata and stored in
/// E.164 (unverified until an SMS code to it comes back). A number of a class SMS may not go
/// to in this tenant (premium rate, satellite…) is refused here too, as at enrollment.
fn check_phone(tenant: &Tenant, raw: &str) -> ServiceResult<String> {
    let phone = latchkey_core::phone::Phone::parse(raw).map_err(InputError::from)?;
    match phone.risk() {
        Some(class) if !tenant.settings.sms_number_class_allowed(Some(class)) => {
            Err(ServiceError::NumberTypeNotAllowed(class))
        }
        _ => Ok(phone.e164().to_owned()),
    }
}

/// A user's display name: shown at sign-in and to admins, so no control, invisible or
/// bidirectional-control characters (`latchkey_core::text`; SECURITY.md test 77).
fn check_name(raw: &str) -> ServiceResult<String> {
    latchkey_core::text::display_name(raw, 200).map_err(|_| InputError::UserName.into())
}

impl App {
    /// Runs a password hash or verification on the hashing pool (`hash_pool.rs`), so
    /// hashing never stalls the async reactor and a flood of it cannot take every core.
    pub(super) async fn with_hasher<T: Send + 'static>(
        &self,
        work: impl FnOnce(&App) -> T + Send + 'static,
    ) -> ServiceResult<T> {
        let app = self.clone();
        self.hash_pool
            .run(move || work(&app))
            .await
            .map_err(|_| ServiceError::Overloaded)
    }

    pub async fn signup(
        &self,
        tenant: &Tenant,
        input: SignupInput,
    ) -> ServiceResult<SignInOutcome<(User, TokenPair)>> {
        if !tenant.settings.signup_enabled {
            return Err(ServiceError::SignupDisabled);
        }
        let email = Email::parse(&input.email).map_err(InputError::from)?;
        let normalized = password::check_new(&input.password).map_err(InputError::from)?;
        let phone = input
            .phone_number
            .as_deref()
            .map(|p| check_phone(tenant, p))
            .transpose()?;
        let name = input.name.as_deref().map(check_name).transpose()?;
        let hash = self
            .with_hasher(move |app| app.passwords.hash(&normalized, app.rng.as_ref()))
            .await?
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let now = self.now();
        let id = UserId::generate(now, self.rng.as_ref());
        let (phone_sealed, phone_hash) = match &phone {
            Some(p) => (
                Some(self.seal_text(SealedColumn::UserPhone, id.as_str(), p)?),
                Some(self.destination_hash(p)),
            ),
            None => (None, None),
        };
        let user = User {
            id,
            tenant_id: tenant.id.clone(),
            email,
            password_hash: hash,
            name,
            phone_sealed,
            phone_hash,
            phone_verified_at: None,
            email_verified_at: None,
            created_at: now,
            updated_at: now,
        };
        match self.store.insert_user(&user).await {
            Ok(()) => {}
            Err(StoreError::Conflict) => return Err(ServiceError::EmailTaken),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(tenant_id = %tenant.id, user_id = %user.id, "user signed up");
        // Under a policy that requires MFA, sign-up answers like sign-in: an enrollment
        // challenge and no session (review item 3, SECURITY.md test 72).
        match self
            .second_factor_gate(
                tenant,
                &user,
                &SignInExtras::default(),
                &PresentedDevice::new(None),
                &RequestMeta::default(),
            )
            .await?
        {
            Gate::Open => {}
            Gate::Pending(pending) => return Ok(pending),
            Gate::Device(_) => return Err(ServiceError::Internal("a device before sign-up".into())),
        }
        let tokens = self
            .start_session(tenant, &user, vec!["pwd".into()], "aal1", None)
            .await?;
        Ok(SignInOutcome::Complete((user, tokens)))
    }

    /// Password sign-in. Unknown emails and wrong passwords take the same path (the same
    /// throttle, the same hash work) and give the same error (ASVS 5.0 V6.3.8).
    pub async fn signin(
        &self,
        tenant: &Tenant,
        email_in: &str,
        password_in: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<SignInOutcome<(User, TokenPair)>> {
        self.signin_with(tenant, email_in, password_in, &SignInExtras::default(), meta)
            .await
    }

    /// A password sign-in's audit record (`signin`), naming the user when there is one.
    async fn audit_signin(
        &self,
        tenant: &Tenant,
        user: Option<&User>,
        meta: &RequestMeta,
        action: AuditAction,
        outcome: AuditOutcome,
        detail: &str,
    ) -> ServiceResult<()> {
        let actor = match user {
            Some(u) => Actor::SigningIn {
                user_id: u.id.clone(),
            },
            None => Actor::Operator,
        };
        self.audit(Audit {
            tenant,
            actor: &actor,
            meta,
            user: user.map(|u| &u.id),
            factor: None,
            action,
            outcome,
            detail: Some(detail.to_owned()),
        })
        .await
    }

    /// Password sign-in with what else the client brings (`extras`): an application's
    /// demand for a second factor (a user without one enrolls one first, as when the tenant
    /// requires MFA), and a remembered device that may stand in for it.
    pub async fn signin_with(
        &self,
        tenant: &Tenant,
        email_in: &str,
        password_in: &str,
        extras: &SignInExtras<'_>,
        meta: &RequestMeta,
    ) -> ServiceResult<SignInOutcome<(User, TokenPair)>> {
        let subject = email::canonical(&email_in.chars().take(320).collect::<String>());
        let key = ThrottleKey {
            tenant_id: tenant.id.clone(),
            scope: "password",
            subject,
        };
        let now = self.now();
        let attempts = match self
            .store
            .throttle_attempt(&key, &ThrottlePolicy::PASSWORD, now)
            .await?
        {
            ThrottleDecision::Allowed { failures } => failures,
            ThrottleDecision::Locked { retry_after_secs } => {
                tracing::info!(tenant_id = %tenant.id, "sign-in throttled");
                self.audit_signin(
                    tenant,
                    None,
                    meta,
                    AuditAction::SignIn,
                    AuditOutcome::Refused,
                    "throttled",
                )
                .await?;
                return Err(ServiceError::TooManyAttempts { retry_after_secs });
            }
        };
        let user = match Email::parse(email_in) {
            Ok(e) => self.store.find_user_by_email(&tenant.id, e.as_str()).await?,
            Err(_) => None,
        };
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        // Over-long input is refused after the same work, so its timing says nothing.
        let pw = if password_in.len() > password::MAX_CHARS * 4 {
            String::new()
        } else {
            password_in.to_owned()
        };
        let ok = self
            .with_hasher(move |app| !pw.is_empty() && app.passwords.verify(&pw, stored.as_deref()))
            .await?;
        let user = match (ok, user) {
            (true, Some(u)) => u,
            (_, user) => {
                tracing::info!(tenant_id = %tenant.id, outcome = "failure", "password sign-in failed");
                self.audit_signin(
                    tenant,
                    user.as_ref(),
                    meta,
                    AuditAction::SignIn,
                    AuditOutcome::Failure,
                    "invalid_credentials",
                )
                .await?;
                return Err(ServiceError::InvalidCredentials);
            }
        };
        self.store.throttle_clear(&key).await?;
        tracing::info!(tenant_id = %tenant.id, user_id = %user.id, outcome = "success", "password sign-in");
        // Adaptive MFA (off unless the tenant turns it on): how risky this sign-in looks.
        // This attempt was counted too: the wrong passwords are the ones before it.
        let password_failures = attempts.saturating_sub(1);
        let device = PresentedDevice::new(extras.device_token);
        let known_device = self.known_device(&device, tenant, &user.id, meta).await?;
        let risk = self
            .assess_signin(tenant, &user.id, meta, known_device, password_failures)
            .await?;
        let detail = |what: &str| risk.as_ref().map_or_else(|| what.to_owned(), |r| r.detail(what));
        let mut extras = *extras;
        if let Some(check) = &risk {
            let refusal = match check.decision {
                RiskDecision::Allow => None,
                RiskDecision::Deny => Some("risk_denied"),
                // No factor to prove: enrolling one now would let whoever holds the password
                // bind a factor of their own to the account, so a risky sign-in of a user
                // without one is refused instead (docs/policy.md, "Adaptive").
                RiskDecision::RequireMfa if !self.has_second_factor(tenant, &user.id).await? => {
                    Some("risk_no_factor")
                }
                // A second factor now: no remembered device stands in for it.
                RiskDecision::RequireMfa => {
                    extras.risky = true;
                    None
                }
            };
            if let Some(why) = refusal {
                tracing::info!(tenant_id = %tenant.id, user_id = %user.id, why, "sign-in refused by its risk");
                self.record_signin(tenant, &user.id, check, PastOutcome::Denied, None)
                    .await?;
                self.audit_signin(
                    tenant,
                    Some(&user),
                    meta,
                    AuditAction::SignIn,
                    AuditOutcome::Refused,
                    &check.detail(why),
                )
                .await?;
                return Err(ServiceError::SignInRefused);
            }
        }
        // An enrollment ticket is spent by the sign-in whose password verified for its user
        // (a wrong password spends nothing); what follows must then be a second factor.
        if let Some(ticket) = extras.ticket {
            let kind = self.spend_enrollment_ticket(tenant, &user, ticket, meta).await?;
            extras.ticket_spent = Some(TicketDemand { kind });
        }
        // Signed in without a challenge: by the password alone, or with a remembered device
        // standing in for the second factor (taken as proven when the device was remembered:
        // the session's second factor dates from then, so no step-up is met by it).
        let gate = self
            .second_factor_gate(tenant, &user, &extras, &device, meta)
            .await?;
        let (what, amr, acr, mfa_at) = match gate {
            Gate::Open => ("complete".to_owned(), vec![Amr::Pwd], Aal::Aal1, None),
            Gate::Device(device) => (
                format!("remembered_device {}", device.id),
                vec![Amr::Pwd, Amr::Mfa],
                devices::SESSION_AAL,
                Some(device.created_at),
            ),
            Gate::Pending(pending) => {
                let (next, asked) = match &pending {
                    SignInOutcome::Enroll(_) => ("mfa_enroll", "enroll"),
                    _ => ("mfa_challenge", "prove"),
                };
                if let (Some(check), SignInOutcome::Enroll(p) | SignInOutcome::Challenge(p)) =
                    (&risk, &pending)
                {
                    // A success only once the second factor is proven (`confirm_signin`).
                    let challenge = Some(&p.challenge_id);
                    self.record_signin(tenant, &user.id, check, PastOutcome::Challenged, challenge)
                        .await?;
                }
                let u = Some(&user);
                self.audit_signin(
                    tenant,
                    u,
                    meta,
                    AuditAction::SignIn,
                    AuditOutcome::Success,
                    &detail(next),
                )
                .await?;
                self.audit_signin(
                    tenant,
                    u,
                    meta,
                    AuditAction::MfaChallenge,
                    AuditOutcome::Pending,
                    asked,
                )
                .await?;
                return Ok(pending);
            }
        };
        if let Some(check) = &risk {
            self.record_signin(tenant, &user.id, check, PastOutcome::Success, None)
                .await?;
        }
        self.audit_signin(
            tenant,
            Some(&user),
            meta,
            AuditAction::SignIn,
            AuditOutcome::Success,
            &detail(&what),
        )
        .await?;
        let tokens = self
            .start_session(tenant, &user, amr_strings(&amr), acr.as_str(), mfa_at)
            .await?;
        Ok(SignInOutcome::Complete((user, tokens)))
    }

    /// Exchanges a refresh token for a new pair. Tokens rotate: each works once, and a
    /// second use of one revokes the whole family (it means the token was copied).
    pub async fn refresh(&self, tenant_hint: Option<&TenantId>, presented: &str) -> ServiceResult<TokenPair> {
        let (tenant, session, next) = self.rotate_refresh(tenant_hint, presented, None).await?;
        Ok(self.tokens_for(&tenant, &session, next))
    }

    /// Rotates a refresh token of a session issued to `client` (`None`: the native API's
    /// and the pages' own sessions): the session, its tenant and the successor token. A
    /// token presented by anyone else ends its session, as a reused one does: it has left
    /// the client it was issued to.
    pub(super) async fn rotate_refresh(
        &self,
        tenant_hint: Option<&TenantId>,
        presented: &str,
        client: Option<&ApplicationId>,
    ) -> ServiceResult<(Tenant, Session, SecretString)> {
        if presented.len() > 200 || !presented.starts_with("rt_") {
            return Err(ServiceError::InvalidRefreshToken);
        }
        let presented_hash = self.refresh_hash(&SecretString::new(presented.to_owned()));
        if let Some(hint) = tenant_hint {
            match self.store.session_for_refresh(&presented_hash).await? {
                Some(s) if &s.tenant_id == hint => {}
                _ => return Err(ServiceError::InvalidRefreshToken),
            }
        }
        let next = opaque_token("rt_", self.rng.as_ref());
        let now = self.now();
        match self
            .store
            .rotate_refresh_token(&presented_hash, &self.refresh_hash(&next), now)
            .await?
        {
            RotateOutcome::Rotated(session) => {
                if session.client_id.as_ref() != client {
                    self.store.revoke_session(&session.id, now).await?;
                    tracing::warn!(session_id = %session.id, "refresh token presented by another client: session ended");
                    return Err(ServiceError::InvalidRefreshToken);
                }
                let tenant = match self.load_tenant(&session.tenant_id).await {
                    Err(ServiceError::TenantNotFound) => return Err(ServiceError::InvalidRefreshToken),
                    other => other?,
                };
                if session.mfa_at.is_none() && self.mfa_required(&tenant) {
                    // MFA became required after this password-only sign-in: the session ends
                    // rather than keep refreshing at aal1 (SECURITY.md test 73); signing in
                    // again leads to the second factor or its enrollment.
                    self.store.revoke_session(&session.id, now).await?;
                    tracing::info!(tenant_id = %tenant.id, session_id = %session.id, "password-only session ended: MFA is now required");
                    return Err(ServiceError::InvalidRefreshToken);
                }
                Ok((tenant, *session, next))
            }
            RotateOutcome::Reused => {
                tracing::warn!("refresh token reused: session family revoked");
                Err(ServiceError::InvalidRefreshToken)
            }
            RotateOutcome::Dead | RotateOutcome::Unknown => Err(ServiceError::InvalidRefreshToken),
        }
    }

    /// Ends a session: its refresh family stops working and its access tokens are refused.
    pub async fn signout_session(&self, session: &SessionId) -> ServiceResult<()> {
        self.store.revoke_session(session, self.now()).await?;
        Ok(())
    }

    /// Ends the session a refresh token belongs to.
    pub async fn signout_refresh(&self, presented: &str) -> ServiceResult<()> {
        let hash = self.refresh_hash(&SecretString::new(presented.to_owned()));
        match self.store.session_for_refresh(&hash).await? {
            Some(s) => self.signout_session(&s.id).await,
            None => Err(ServiceError::InvalidRefreshToken),
        }
    }

    /// Checks an access token: signature, issuer, expiry, and that its session is live.
    pub async fn authenticate_access(&self, token: &str) -> Option<AccessContext> {
        let claims = self
            .crypto
            .verify_access(
                &self.store,
                token,
                &|c: &Claims| self.accepts_issuer(&c.iss, &c.tid),
                self.now(),
            )
            .await
            .ok()?;
        let session_id = SessionId::parse(&claims.sid).ok()?;
        let session = self.store.get_session(&session_id).await.ok()??;
        if session.revoked_at.is_some() || session.user_id.as_str() != claims.sub {
            return None;
        }
        Some(AccessContext {
            tenant_id: session.tenant_id.clone(),
            user_id: session.user_id,
            session_id,
            claims,
        })
    }

    /// Finds a live secret key.
    pub async fn authenticate_api_key(&self, presented: &str) -> ServiceResult<Option<ApiKeyRecord>> {
        if !presented.starts_with("sk_live_") || presented.len() > 200 {
            return Ok(None);
        }
        let hash = self
            .crypto
            .hasher
            .hash(HashPurpose::ApiKey, "", presented.as_bytes());
        Ok(self
            .store
            .find_api_key_by_hash(&hash)
            .await?
            .filter(|k| k.revoked_at.is_none()))
    }

    pub async fn get_user(&self, tenant: &TenantId, id: &UserId) -> ServiceResult<User> {
        self.store
            .get_user(tenant, id)
            .await?
            .ok_or(ServiceError::UserNotFound)
    }

    /// A tenant, from the short-lived cache or the store (see `tenant_cache`).
    pub async fn load_tenant(&self, id: &TenantId) -> ServiceResult<Tenant> {
        if let Some(tenant) = self.tenants.get(id) {
            return Ok(tenant);
        }
        let tenant = self
            .store
            .get_tenant(id)
            .await?
            .ok_or(ServiceError::TenantNotFound)?;
        self.tenants.put(&tenant);
        Ok(tenant)
    }
}
