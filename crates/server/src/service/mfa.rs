//! Multi-factor authentication, the flow every factor kind shares: who may enroll, confirm
//! or remove a factor (and with what re-checked in the transaction that completes it), the
//! sign-in challenge and its verification (one throttled transaction per attempt), forced
//! enrollment, audit, sessions and the admin reset. What differs by kind is in
//! `service/factors/`; this file never matches on a kind.
//!
//! Codes are checked against the server clock only; proofs are consumed in the same
//! transaction that completes the challenge; every attempt is counted per factor in the
//! database before it is evaluated.

use super::admin::Attempt;
use super::audit::{Actor, Audit, RequestMeta};
use super::devices::PresentedDevice;
use super::factors::{
    backup_codes, module, sent_code, webauthn, Answer, Cx, EnrollDetails, Listing, NewFactor,
};
use super::outcome::{OfferedFactor, PendingChallenge, SignInExtras, SignInOutcome};
use super::sessions::TokenPair;
use super::{InputError, ServiceError, ServiceResult};
use crate::metrics::MfaStep;
use crate::App;
use latchkey_core::assurance::{amr_strings, Amr};
use latchkey_core::audit::{AuditAction, AuditOutcome};
use latchkey_core::clock::UnixMillis;
use latchkey_core::devices::SignInAsks;
use latchkey_core::factor::{ChallengePurpose, Channel, FactorKind, FactorStatus};
use latchkey_core::ids::{ChallengeId, FactorId, UserId};
use latchkey_core::policy::engine::MinAssurance;
use latchkey_core::policy::{self, ChangeRule, FactorFact, MfaPolicy, SignInDecision};
use latchkey_core::scope::KeyScope;
use latchkey_core::throttle::ThrottleDecision;
use latchkey_store::model::{
    ActivateOutcome, ActivationRules, AttemptOutcome, Challenge, Check, Factor, Proof, RememberedDevice,
    SealedColumn, SignInAttempt, SignInWrites, Tenant, ThrottleKey, User, WebauthnCredential,
};

/// How long a started enrollment waits for its confirming code.
pub const ENROLLMENT_TTL_SECS: i64 = 600;
pub use latchkey_core::policy::STEP_UP_SECS;

/// Which factor of a challenge a request means: named, or left to the server when the
/// choice is unambiguous (review item 12; the reference SDK's `submitTOTP(challengeId, code)`).
#[derive(Debug, Clone, Default)]
pub struct FactorChoice {
    pub factor_id: Option<String>,
    pub kind: Option<FactorKind>,
}

/// A started enrollment, with what the user needs next. A TOTP secret appears here and
/// nowhere else, ever.
pub struct Enrollment {
    pub factor: Factor,
    pub details: EnrollDetails,
}

/// What a user asks to enroll.
pub struct EnrollRequest {
    pub kind: FactorKind,
    pub name: Option<String>,
    pub phone_number: Option<String>,
    /// Admin only: create an SMS factor active, for the user's verified phone.
    pub confirmed: bool,
}

/// A factor as listed, with the number of unused codes for backup codes and the latest
/// delivery for SMS and email factors.
pub struct FactorSummary {
    pub factor: Factor,
    /// Masked destination of SMS and email factors.
    pub destination: Option<String>,
    pub remaining_codes: Option<i64>,
    pub last_delivery: Option<latchkey_store::model::OutboxMessage>,
    /// A WebAuthn factor's credential flags (synced or device-bound, clone suspicion).
    pub credential: Option<WebauthnCredential>,
    /// The user's preferred factor (the one a code is sent to first).
    pub preferred: bool,
}

/// A factor chosen for a sign-in challenge, and what the client does next.
pub struct SelectedFactor {
    pub challenge: Challenge,
    pub factor: Factor,
    /// When the challenge now expires.
    pub expires_at: UnixMillis,
    /// WebAuthn request options to run in the browser.
    pub options: Option<serde_json::Value>,
}

pub struct Verified {
    pub tokens: TokenPair,
    pub factor: Factor,
    /// A remembered device's token, when this verification remembered one (once).
    pub device_token: Option<latchkey_core::secret::SecretString>,
    /// Backup codes installed by a forced enrollment: shown once.
    pub backup_codes: Option<Vec<String>>,
}

/// The attempt counter of one factor, whichever path (code, WebAuthn, passwordless) tries it.
/// What a correct password leads to (`second_factor_gate`).
pub(super) enum Gate<T> {
    /// Signed in with the password alone.
    Open,
    /// Signed in: a remembered device stands in for the second factor.
    Device(Box<RememberedDevice>),
    /// A second factor to prove, or to enroll.
    Pending(SignInOutcome<T>),
}

pub(super) fn throttle_key(factor: &Factor) -> ThrottleKey {
    ThrottleKey {
        tenant_id: factor.tenant_id.clone(),
        scope: "factor",
        subject: factor.id.to_string(),
    }
}

impl App {
    /// The kinds a forced enrollment of `user` asks for (and whose presence ends it).
    async fn enrollment_kinds(&self, tenant: &Tenant, user: &UserId) -> ServiceResult<Vec<FactorKind>> {
        let decision = self.mfa_decision(tenant, user, None).await?;
        Ok(policy::enrollment_challenge_kinds(&MfaPolicy {
            required: decision.required,
            allowed: &decision.allowed,
        }))
    }

    /// Whether `user` may enroll (or an admin give them) a factor of `kind`: the tenant
    /// allows it and no organization, role or rule of theirs leaves it out.
    async fn user_allows(&self, tenant: &Tenant, user: &UserId, kind: FactorKind) -> ServiceResult<bool> {
        if !tenant.settings.allows(kind) {
            return Ok(false);
        }
        Ok(self
            .mfa_decision(tenant, user, None)
            .await?
            .allowed
            .contains(&kind))
    }

    pub(super) fn mfa_required(&self, tenant: &Tenant) -> bool {
        self.config.mfa_required || tenant.settings.mfa_required
    }

    /// What the kind modules may use for one request.
    pub(super) fn factor_cx<'a>(&'a self, tenant: &'a Tenant, meta: &'a RequestMeta) -> Cx<'a> {
        Cx {
            keyring: &self.crypto.keyring,
            hasher: &self.crypto.hasher,
            rng: self.rng.as_ref(),
            now: self.now(),
            tenant,
            issuer: self.totp_issuer(tenant),
            app_name: self.app_name(tenant),
            ip: meta.ip.as_deref(),
            public_url: self.issuer_for(&tenant.id).url,
        }
    }

    /// A user's factors and what a correct password leads to for them now.
    /// `require_mfa`: this sign-in must pass a second factor whatever the tenant says (an
    /// application asked for it with `acr_values`).
    async fn sign_in_decision(
        &self,
        tenant: &Tenant,
        user: &UserId,
        require_mfa: bool,
    ) -> ServiceResult<(Vec<Factor>, SignInDecision, MinAssurance)> {
        let factors = self.store.list_factors(&tenant.id, user).await?;
        let rules = self.mfa_decision(tenant, user, None).await?;
        // Within an enrollment grace a user without a factor still signs in by password;
        // an application that asks for a second factor is not a policy one can wait out.
        let in_grace = rules.grace_until.is_some_and(|g| self.now() < g);
        let policy = MfaPolicy {
            required: (rules.required && !in_grace) || require_mfa,
            allowed: &rules.allowed,
        };
        let decision = policy::sign_in(&facts(&factors), &policy);
        Ok((factors, decision, rules.min_aal))
    }

    /// The user an actor may manage and, for a change, what the change must still find
    /// true when it completes (its activation rules). Users act only on themselves, and
    /// with a factor on the account only from a session that passed one recently.
    pub(super) async fn managed_user(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        target: &UserId,
        change: bool,
    ) -> ServiceResult<(User, ActivationRules)> {
        let rules = match actor {
            Actor::Admin { key_id, .. } => ActivationRules {
                only_without: None,
                keep_session: None,
                enrolled_by: Some(key_id.to_string()),
            },
            Actor::User {
                user_id,
                session_id,
                mfa_time,
            } => {
                if user_id != target {
                    return Err(ServiceError::Forbidden);
                }
                let mut rules = ActivationRules {
                    only_without: None,
                    keep_session: Some(session_id.clone()),
                    enrolled_by: Some(session_id.to_string()),
                };
                if change {
                    let factors = self.store.list_factors(&tenant.id, target).await?;
                    let step_up = self.mfa_decision(tenant, target, None).await?.step_up_secs;
                    match policy::self_service_change(
                        &facts(&factors),
                        *mfa_time,
                        self.now().div_euclid(1000),
                        i64::from(step_up),
                    ) {
                        ChangeRule::Allowed => {}
                        ChangeRule::StepUpRequired => return Err(ServiceError::MfaVerificationRequired),
                        ChangeRule::WhileWithout(kinds) => rules.only_without = Some(kinds),
                    }
                }
                rules
            }
            Actor::Client { application_id, .. } => ActivationRules {
                only_without: None,
                keep_session: None,
                enrolled_by: Some(application_id.to_string()),
            },
            Actor::SigningIn { .. } | Actor::Operator => return Err(ServiceError::Forbidden),
        };
        Ok((self.get_user(&tenant.id, target).await?, rules))
    }

    /// A factor as a sign-in challenge offers it.
    fn offered(&self, factor: &Factor) -> OfferedFactor {
        OfferedFactor {
            id: factor.id.clone(),
            kind: factor.kind,
            name: factor.name.clone(),
            destination: self.masked_destination(factor),
        }
    }

    /// Stores a new challenge for `user` and describes it for the client.
    async fn new_challenge(
        &self,
        tenant: &Tenant,
        user: &UserId,
        purpose: ChallengePurpose,
        amr: Vec<String>,
        factors: Vec<OfferedFactor>,
        allowed: Vec<FactorKind>,
    ) -> ServiceResult<PendingChallenge> {
        let now = self.now();
        let challenge = Challenge {
            id: ChallengeId::generate(now, self.rng.as_ref()),
            tenant_id: tenant.id.clone(),
            user_id: user.clone(),
            purpose,
            amr,
            factor_id: None,
            created_at: now,
            expires_at: now + i64::try_from(tenant.settings.challenge_ttl_secs).unwrap_or(300) * 1000,
            completed_at: None,
            state_sealed: None,
        };
        self.store.insert_challenge(&challenge).await?;
        self.metrics.challenge(&tenant.id, purpose.as_str());
        Ok(PendingChallenge {
            challenge_id: challenge.id,
            expires_at: challenge.expires_at,
            factors,
            allowed,
        })
    }

    /// Whether the user has a factor a sign-in could ask for: asking for a second factor
    /// then means proving one, not enrolling one (adaptive MFA refuses a risky sign-in
    /// rather than let it enroll).
    pub(super) async fn has_second_factor(&self, tenant: &Tenant, user: &UserId) -> ServiceResult<bool> {
        let (_, decision, _) = self.sign_in_decision(tenant, user, true).await?;
        Ok(matches!(decision, SignInDecision::Prove { .. }))
    }

    /// After a correct password (or at sign-up): decide whether a second factor is needed,
    /// and whether a remembered device the sign-in presents stands in for it.
    pub(super) async fn second_factor_gate<T>(
        &self,
        tenant: &Tenant,
        user: &User,
        extras: &SignInExtras<'_>,
        device: &PresentedDevice<'_>,
        meta: &RequestMeta,
    ) -> ServiceResult<Gate<T>> {
        let (factors, decision, min_assurance) = self
            .sign_in_decision(tenant, &user.id, extras.requires_mfa())
            .await?;
        let pwd = amr_strings(&[Amr::Pwd]);
        match decision {
            SignInDecision::Complete => Ok(Gate::Open),
            SignInDecision::Prove { offer, .. } => {
                let asks = SignInAsks {
                    min_assurance,
                    application: extras.requires,
                    risky: extras.risky,
                };
                if let Some(device) = self
                    .standing_device(device, tenant, &user.id, &asks, meta)
                    .await?
                {
                    return Ok(Gate::Device(Box::new(device)));
                }
                let offered = offer.iter().map(|&i| self.offered(&factors[i])).collect();
                let pending = self
                    .new_challenge(
                        tenant,
                        &user.id,
                        ChallengePurpose::SignIn,
                        pwd,
                        offered,
                        Vec::new(),
                    )
                    .await?;
                Ok(Gate::Pending(SignInOutcome::Challenge(pending)))
            }
            SignInDecision::Enroll { mut kinds } => {
                // An enrollment ticket that names a kind the tenant (still) allows asks for
                // that kind only; one that no longer fits leaves the tenant's choice.
                if let Some(kind) = extras.ticket_spent.and_then(|t| t.kind) {
                    if kinds.contains(&kind) {
                        kinds.retain(|k| *k == kind);
                    }
                }
                let pending = self
                    .new_challenge(tenant, &user.id, ChallengePurpose::Enroll, pwd, Vec::new(), kinds)
                    .await?;
                Ok(Gate::Pending(SignInOutcome::Enroll(pending)))
            }
        }
    }

    /// Starts enrolling a factor for `target`.
    pub async fn enroll_factor(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        target: &UserId,
        req: EnrollRequest,
        meta: &RequestMeta,
    ) -> ServiceResult<Enrollment> {
        let (user, rules) = self.managed_user(tenant, actor, target, true).await?;
        if req.confirmed {
            return self
                .admin_confirmed_sms(tenant, actor, &user, req, rules, meta)
                .await;
        }
        self.begin_enrollment(tenant, actor, &user, req, None, rules.enrolled_by, meta)
            .await
    }

    /// An admin creates an SMS factor for the user's already verified phone: no code needed.
    async fn admin_confirmed_sms(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        user: &User,
        req: EnrollRequest,
        rules: ActivationRules,
        meta: &RequestMeta,
    ) -> ServiceResult<Enrollment> {
        if !matches!(actor, Actor::Admin { .. } | Actor::Client { .. }) {
            return Err(ServiceError::Forbidden);
        }
        self.require_scope(
            tenant,
            actor,
            meta,
            KeyScope::MfaAdmin,
            Attempt {
                action: AuditAction::FactorCreateConfirmed,
                user: Some(&user.id),
                detail: req.kind.as_str(),
            },
        )
        .await?;
        if req.kind.channel() != Some(Channel::Sms) || !self.user_allows(tenant, &user.id, req.kind).await? {
            return Err(ServiceError::FactorNotAllowed);
        }
        let cx = self.factor_cx(tenant, meta);
        let phone = self
            .verified_phone(tenant, actor, user, req.phone_number.as_deref(), meta)
            .await?;
        let id = FactorId::generate(cx.now, self.rng.as_ref());
        let factor = Factor {
            destination_sealed: Some(self.seal_text(
                SealedColumn::FactorDestination,
                id.as_str(),
                phone.e164(),
            )?),
            enrolled_by: rules.enrolled_by.clone(),
            ..self.pending_factor(id, tenant, user, req.kind, req.name.as_deref())?
        };
        self.store.insert_factor(&factor).await?;
        let backup_id = self.backup_factor_id(tenant, &user.id).await?;
        let (codes, install) = backup_codes::new_set(&cx, &user.id, backup_id);
        // The phone was verified by a code earlier; activation needs no new proof. A first
        // factor brings backup codes, as any first factor does (review item 15): they are
        // returned once, for the admin to hand to the user.
        let installed = match self
            .store
            .activate_factor(&factor.id, &Check::Preverified, &install, &rules, cx.now)
            .await?
        {
            ActivateOutcome::Activated { backup_installed } => backup_installed,
            ActivateOutcome::Stale
            | ActivateOutcome::Rejected
            | ActivateOutcome::NotPending
            | ActivateOutcome::CredentialTaken => return Err(ServiceError::FactorNotPending),
        };
        self.audit(
            Audit::on_factor(
                tenant,
                actor,
                meta,
                &factor,
                AuditAction::FactorCreateConfirmed,
                AuditOutcome::Success,
            )
            .with_detail(if installed {
                "sms, backup codes issued"
            } else {
                "sms"
            }),
        )
        .await?;
        let active = self
            .store
            .get_factor(&tenant.id, &factor.id)
            .await?
            .ok_or(ServiceError::FactorNotFound)?;
        Ok(Enrollment {
            factor: active,
            details: EnrollDetails::Confirmed {
                destination: phone.masked(),
                backup_codes: installed.then_some(codes),
            },
        })
    }

    /// The user's phone number (`given`, else the account's) if it is the account's
    /// verified one (it received a code that came back) and SMS may go to it in this
    /// tenant; refusals by the destination policy are counted as at any send. The one
    /// check behind every SMS factor made without a new code (an admin's `confirmed`, a
    /// forced setup's auto-completion).
    async fn verified_phone(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        user: &User,
        given: Option<&str>,
        meta: &RequestMeta,
    ) -> ServiceResult<latchkey_core::phone::Phone> {
        let cx = self.factor_cx(tenant, meta);
        let given = given.map(str::to_owned).or_else(|| self.user_phone(user));
        let phone = self
            .refusals_counted(
                tenant,
                actor,
                user,
                meta,
                sent_code::sms_destination(&cx, given.as_deref()),
            )
            .await?;
        if !self.is_verified_phone(user, phone.e164()) {
            return Err(ServiceError::PhoneNotVerified);
        }
        Ok(phone)
    }

    /// Whether `e164` is the user's verified phone number.
    fn is_verified_phone(&self, user: &User, e164: &str) -> bool {
        user.phone_verified_at.is_some()
            && user.phone_hash.as_deref() == Some(self.destination_hash(e164).as_str())
    }

    /// Forced enrollment without a new code (nauth's auto-completed SMS setup): when the
    /// user of an `mfa_setup_required` challenge has a verified phone number and SMS is a
    /// kind they may enroll, a pending SMS factor for that number is started for the
    /// challenge and no code is sent. `None` when there is no verified number (the caller
    /// then enrolls with a code). The factor becomes active only with the sign-in's
    /// completion ([`App::complete_with_verified_phone`]), in one transaction, after the
    /// number is checked again.
    pub async fn enroll_verified_phone(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<Option<Enrollment>> {
        let challenge = self.open_challenge(tenant, challenge_id).await?;
        if challenge.purpose != ChallengePurpose::Enroll {
            return Err(ServiceError::InvalidChallenge);
        }
        let user = self.get_user(&tenant.id, &challenge.user_id).await?;
        if user.phone_verified_at.is_none() || self.user_phone(&user).is_none() {
            return Ok(None);
        }
        let kinds = self.enrollment_kinds(tenant, &user.id).await?;
        let factors = self.store.list_factors(&tenant.id, &user.id).await?;
        if factors
            .iter()
            .any(|f| f.status == FactorStatus::Active && kinds.contains(&f.kind))
        {
            return Err(ServiceError::ChallengeExpired);
        }
        if !self.user_allows(tenant, &user.id, FactorKind::Sms).await? {
            return Err(ServiceError::FactorNotAllowed);
        }
        let actor = Actor::SigningIn {
            user_id: user.id.clone(),
        };
        let phone = match self.verified_phone(tenant, &actor, &user, None, meta).await {
            Err(ServiceError::PhoneNotVerified) => return Ok(None),
            other => other?,
        };
        let cx = self.factor_cx(tenant, meta);
        let id = FactorId::generate(cx.now, self.rng.as_ref());
        let factor = Factor {
            destination_sealed: Some(self.seal_text(
                SealedColumn::FactorDestination,
                id.as_str(),
                phone.e164(),
            )?),
            enrolled_by: Some(challenge.id.to_string()),
            ..self.pending_factor(id, tenant, &user, FactorKind::Sms, None)?
        };
        self.store.insert_factor(&factor).await?;
        self.store
            .choose_factor(&challenge.id, &factor.id, cx.now)
            .await?;
        self.audit(Audit {
            tenant,
            actor: &actor,
            meta,
            user: Some(&user.id),
            factor: Some(&factor.id),
            action: AuditAction::FactorEnroll,
            outcome: AuditOutcome::Pending,
            detail: Some("sms, verified account phone".into()),
        })
        .await?;
        self.metrics
            .mfa(&tenant.id, FactorKind::Sms, MfaStep::EnrollStarted);
        Ok(Some(Enrollment {
            factor,
            details: EnrollDetails::Sent {
                channel: Channel::Sms,
                destination: phone.masked(),
            },
        }))
    }

    /// Completes a forced enrollment started by [`App::enroll_verified_phone`]: the factor
    /// becomes active without a code because its number is (still) the account's verified
    /// one, and the sign-in ends with a session, in one transaction (the store's
    /// `attempt_sign_in`, counted against the factor like any answer). Nothing is proven
    /// now but the password: as with a remembered device, the session claims `aal2` with
    /// `amr` `pwd mfa`, and its second factor dates from when the number was verified, so
    /// no step-up is met by it.
    pub async fn complete_with_verified_phone(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
        factor_id: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<Verified> {
        let challenge = self.open_challenge(tenant, challenge_id).await?;
        if challenge.purpose != ChallengePurpose::Enroll {
            return Err(ServiceError::InvalidChallenge);
        }
        let choice = FactorChoice {
            factor_id: Some(factor_id.to_owned()),
            kind: Some(FactorKind::Sms),
        };
        let (factor, _, _) = match self.challenge_factor(tenant, &challenge, &choice).await {
            Err(ServiceError::FactorNotFound) => return Err(ServiceError::InvalidCode),
            other => other?,
        };
        let user = self.get_user(&tenant.id, &challenge.user_id).await?;
        let destination = self.factor_destination(&factor)?;
        let verified_at = match user.phone_verified_at {
            Some(at) if self.is_verified_phone(&user, &destination) => at,
            _ => return Err(ServiceError::PhoneNotVerified),
        };
        let actor = Actor::SigningIn {
            user_id: user.id.clone(),
        };
        let cx = self.factor_cx(tenant, meta);
        let backup_id = self.backup_factor_id(tenant, &user.id).await?;
        let (codes, backup) = backup_codes::new_set(&cx, &user.id, backup_id);
        let proof = Proof::Enrollment {
            factor_id: factor.id.clone(),
            check: Check::Preverified,
            backup: Box::new(backup),
            rules: ActivationRules {
                only_without: Some(self.enrollment_kinds(tenant, &user.id).await?),
                keep_session: None,
                enrolled_by: Some(challenge.id.to_string()),
            },
        };
        let mut amr = challenge.amr.clone();
        amr.push(Amr::Mfa.as_str().to_owned());
        let (session, refresh_hash, tokens) = self.new_session(
            tenant,
            &user,
            amr,
            latchkey_core::devices::SESSION_AAL.as_str(),
            Some(verified_at),
        );
        let on_factor = |action, outcome| {
            self.audit_event(
                Audit::on_factor(tenant, &actor, meta, &factor, action, outcome)
                    .with_detail("sms, verified account phone"),
            )
        };
        let attempt = SignInAttempt {
            challenge_id: challenge.id.clone(),
            proof: Some(proof),
            throttle: throttle_key(&factor),
            policy: tenant.settings.factor_throttle(),
            writes: SignInWrites {
                clear_throttle: None,
                audit: Some(on_factor(AuditAction::FactorConfirm, AuditOutcome::Success)),
                session: Some((session, refresh_hash)),
                device: None,
            },
            on_failure: Some(on_factor(AuditAction::FactorConfirm, AuditOutcome::Failure)),
            on_locked: Some(on_factor(AuditAction::MfaAttempt, AuditOutcome::Locked)),
        };
        let backup_installed = match self.store.attempt_sign_in(&attempt, cx.now).await? {
            AttemptOutcome::Completed { backup_installed } => {
                if let Some(event) = &attempt.writes.audit {
                    self.recorded(event);
                }
                self.confirm_signin(tenant, &challenge.id).await?;
                self.metrics
                    .mfa(&tenant.id, factor.kind, MfaStep::EnrollConfirmed);
                backup_installed
            }
            AttemptOutcome::ChallengeGone => return Err(ServiceError::InvalidChallenge),
            AttemptOutcome::Stale => return Err(ServiceError::ChallengeExpired),
            AttemptOutcome::Rejected => {
                if let Some(event) = &attempt.on_failure {
                    self.recorded(event);
                }
                return Err(ServiceError::InvalidCode);
            }
            AttemptOutcome::Locked { retry_after_secs } => {
                if let Some(event) = &attempt.on_locked {
                    self.recorded(event);
                }
                return Err(ServiceError::TooManyAttempts { retry_after_secs });
            }
        };
        Ok(Verified {
            tokens,
            factor,
            device_token: None,
            backup_codes: backup_installed.then_some(codes),
        })
    }

    /// The user of an open sign-in challenge and what the challenge asks for (a surface
    /// that answers every kind of challenge at one route needs to know which it holds).
    pub async fn challenge_user(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
    ) -> ServiceResult<(User, ChallengePurpose)> {
        let challenge = self.open_challenge(tenant, challenge_id).await?;
        let user = self.get_user(&tenant.id, &challenge.user_id).await?;
        Ok((user, challenge.purpose))
    }

    /// Sends a forced enrollment's code again: the enrollment the challenge started (its
    /// chosen factor) begins anew for the same destination, as a second `/v1/mfa/enroll`
    /// would, within the same send limits.
    pub async fn resend_enrollment_code(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<Enrollment> {
        let challenge = self.open_challenge(tenant, challenge_id).await?;
        if challenge.purpose != ChallengePurpose::Enroll {
            return Err(ServiceError::InvalidChallenge);
        }
        let pending = match &challenge.factor_id {
            Some(id) => self.store.get_factor(&tenant.id, id).await?,
            None => None,
        }
        .filter(|f| {
            f.user_id == challenge.user_id
                && f.status == FactorStatus::Pending
                && f.enrolled_by.as_deref() == Some(challenge.id.as_str())
                && f.kind.channel().is_some()
        })
        .ok_or(ServiceError::FactorNotFound)?;
        let phone_number = match pending.kind.channel() {
            Some(Channel::Sms) => Some(self.factor_destination(&pending)?.to_string()),
            _ => None,
        };
        let request = EnrollRequest {
            kind: pending.kind,
            name: pending.name.clone(),
            phone_number,
            confirmed: false,
        };
        self.enroll_for_challenge(tenant, challenge_id, request, meta)
            .await
    }

    /// The user's preferred factor, if set and still active.
    pub async fn preferred_factor(&self, tenant: &Tenant, user: &UserId) -> ServiceResult<Option<FactorId>> {
        Ok(self.store.preferred_factor(&tenant.id, user).await?)
    }

    /// Makes one of the user's active factors (backup codes aside) the preferred one: the
    /// factor a sign-in that sends its code by itself sends it to. Not a change to what
    /// protects the account, so no step-up; audited.
    pub async fn set_preferred_factor(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        target: &UserId,
        factor_id: &FactorId,
        meta: &RequestMeta,
    ) -> ServiceResult<Factor> {
        let (user, _) = self.managed_user(tenant, actor, target, false).await?;
        let factor = self
            .store
            .get_factor(&tenant.id, factor_id)
            .await?
            .filter(|f| f.user_id == user.id && f.status == FactorStatus::Active && !f.kind.is_recovery())
            .ok_or(ServiceError::FactorNotFound)?;
        if !self
            .store
            .set_preferred_factor(&tenant.id, &user.id, &factor.id, self.now())
            .await?
        {
            return Err(ServiceError::FactorNotFound);
        }
        self.audit(
            Audit::on_factor(
                tenant,
                actor,
                meta,
                &factor,
                AuditAction::FactorPreferred,
                AuditOutcome::Success,
            )
            .with_detail(factor.kind.as_str()),
        )
        .await?;
        Ok(factor)
    }

    /// A pending factor of `kind` for `user`, not yet stored.
    fn pending_factor(
        &self,
        id: FactorId,
        tenant: &Tenant,
        user: &User,
        kind: FactorKind,
        name: Option<&str>,
    ) -> ServiceResult<Factor> {
        let now = self.now();
        Ok(Factor {
            id,
            tenant_id: tenant.id.clone(),
            user_id: user.id.clone(),
            kind,
            name: name.map(check_factor_name).transpose()?,
            status: FactorStatus::Pending,
            secret_sealed: None,
            last_step: None,
            destination_sealed: None,
            enrolled_by: None,
            algorithm: None,
            created_at: now,
            expires_at: Some(now + ENROLLMENT_TTL_SECS * 1000),
            confirmed_at: None,
            last_used_at: None,
        })
    }

    /// Starts an enrollment: the kind's module prepares the factor (and a code to send), and
    /// it is stored (with the code and its message, in one transaction).
    #[allow(clippy::too_many_arguments)] // one enrollment's facts; a struct would only rename them
    async fn begin_enrollment(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        user: &User,
        req: EnrollRequest,
        challenge: Option<&Challenge>,
        enrolled_by: Option<String>,
        meta: &RequestMeta,
    ) -> ServiceResult<Enrollment> {
        let kind = req.kind;
        if !kind.enrollable() || !self.user_allows(tenant, &user.id, kind).await? {
            return Err(ServiceError::FactorNotAllowed);
        }
        let sms = kind.channel() == Some(Channel::Sms);
        if req.phone_number.is_some() && !sms {
            return Err(InputError::PhoneNumberNotForKind.into());
        }
        let cx = self.factor_cx(tenant, meta);
        let id = FactorId::generate(cx.now, self.rng.as_ref());
        let factor = Factor {
            enrolled_by,
            ..self.pending_factor(id, tenant, user, kind, req.name.as_deref())?
        };
        let account_phone = if sms { self.user_phone(user) } else { None };
        let credentials = self.credentials_for(kind, tenant, &user.id).await?;
        let request = NewFactor {
            phone_number: req.phone_number.as_deref(),
            account_phone: account_phone.as_deref(),
            credentials: &credentials,
        };
        let begun = self
            .refusals_counted(
                tenant,
                actor,
                user,
                meta,
                module(kind).begin_enrollment(&cx, user, factor, &request, challenge.map(|c| &c.id)),
            )
            .await?;
        match begun.send {
            // Stored together with its first code and outbox message, atomically.
            Some(issue) => {
                self.issue_code(tenant, user, &begun.factor, &issue, meta).await?;
            }
            None => self.store.insert_factor(&begun.factor).await?,
        }
        self.audit(Audit {
            tenant,
            actor,
            meta,
            user: Some(&user.id),
            factor: Some(&begun.factor.id),
            action: AuditAction::FactorEnroll,
            outcome: AuditOutcome::Pending,
            detail: Some(kind.as_str().into()),
        })
        .await?;
        self.metrics.mfa(&tenant.id, kind, MfaStep::EnrollStarted);
        Ok(Enrollment {
            factor: begun.factor,
            details: begun.details,
        })
    }

    fn totp_issuer(&self, tenant: &Tenant) -> String {
        let name = if tenant.id == self.default_tenant {
            &self.config.totp_issuer
        } else {
            &tenant.name
        };
        // A colon would split the otpauth label.
        name.replace(':', " ")
    }

    /// The user's WebAuthn credentials, where `kind` works with them (none are read else).
    async fn credentials_for(
        &self,
        kind: FactorKind,
        tenant: &Tenant,
        user: &UserId,
    ) -> ServiceResult<Vec<WebauthnCredential>> {
        if !module(kind).uses_credentials() {
            return Ok(Vec::new());
        }
        Ok(self.store.list_webauthn_credentials(&tenant.id, user).await?)
    }

    /// The id backup codes of this user are (or will be) hashed under.
    async fn backup_factor_id(&self, tenant: &Tenant, user: &UserId) -> ServiceResult<FactorId> {
        let existing = self
            .store
            .list_factors(&tenant.id, user)
            .await?
            .into_iter()
            .find(|f| f.kind.is_recovery());
        Ok(existing
            .map(|f| f.id)
            .unwrap_or_else(|| FactorId::generate(self.now(), self.rng.as_ref())))
    }

    /// Counts an attempt on `factor`; refuses while its delay runs.
    async fn count_attempt(
        &self,
        tenant: &Tenant,
        factor: &Factor,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> ServiceResult<()> {
        let decision = self
            .store
            .throttle_attempt(
                &throttle_key(factor),
                &tenant.settings.factor_throttle(),
                self.now(),
            )
            .await?;
        match decision {
            ThrottleDecision::Allowed { .. } => Ok(()),
            ThrottleDecision::Locked { retry_after_secs } => {
                self.audit(Audit::on_factor(
                    tenant,
                    actor,
                    meta,
                    factor,
                    AuditAction::MfaAttempt,
                    AuditOutcome::Locked,
                ))
                .await?;
                self.metrics.mfa(&tenant.id, factor.kind, MfaStep::Locked);
                Err(ServiceError::TooManyAttempts { retry_after_secs })
            }
        }
    }

    /// After a factor becomes active: what it proves about the user (an SMS factor, the
    /// phone number) is recorded.
    async fn after_activation(&self, cx: &Cx<'_>, user: &User, factor: &Factor) -> ServiceResult<()> {
        if let Some(phone_hash) = module(factor.kind).proves_phone(cx, factor)? {
            self.store
                .mark_phone_verified(&user.id, &phone_hash, cx.now)
                .await?;
        }
        Ok(())
    }

    /// Confirms a pending factor with a code from its new secret. The user's first factor
    /// also brings backup codes, returned here once. The step-up rule is applied as of now,
    /// and again inside the activating transaction (review item 2): a session that started
    /// an enrollment while the account had no factor cannot finish it once one is active.
    pub async fn confirm_factor(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        target: &UserId,
        factor_id: &FactorId,
        answer: Answer<'_>,
        meta: &RequestMeta,
    ) -> ServiceResult<(Factor, Option<Vec<String>>)> {
        let (user, rules) = self.managed_user(tenant, actor, target, true).await?;
        let factor = self
            .store
            .get_factor(&tenant.id, factor_id)
            .await?
            .filter(|f| f.user_id == user.id)
            .ok_or(ServiceError::FactorNotFound)?;
        if factor.status != FactorStatus::Pending || !factor.is_current(self.now()) {
            return Err(ServiceError::FactorNotPending);
        }
        self.count_attempt(tenant, &factor, actor, meta).await?;
        let cx = self.factor_cx(tenant, meta);
        let check = module(factor.kind).confirmation(&cx, &factor, answer, None)?;
        let on_factor =
            |outcome| Audit::on_factor(tenant, actor, meta, &factor, AuditAction::FactorConfirm, outcome);
        let wrong = match answer {
            Answer::Code(_) => ServiceError::InvalidCode,
            Answer::Credential(_) => ServiceError::InvalidCredential,
        };
        let Some(check) = check else {
            self.audit(on_factor(AuditOutcome::Failure)).await?;
            return Err(wrong);
        };
        let backup_id = self.backup_factor_id(tenant, &user.id).await?;
        let (codes, install) = backup_codes::new_set(&cx, &user.id, backup_id);
        let installed = match self
            .store
            .activate_factor(&factor.id, &check, &install, &rules, cx.now)
            .await?
        {
            ActivateOutcome::Activated { backup_installed } => backup_installed,
            ActivateOutcome::Rejected => {
                self.audit(on_factor(AuditOutcome::Failure)).await?;
                return Err(wrong);
            }
            ActivateOutcome::CredentialTaken => {
                self.audit(Audit {
                    detail: Some("credential registered already".into()),
                    ..on_factor(AuditOutcome::Refused)
                })
                .await?;
                return Err(ServiceError::CredentialTaken);
            }
            ActivateOutcome::NotPending => return Err(ServiceError::FactorNotPending),
            ActivateOutcome::Stale => {
                self.audit(on_factor(AuditOutcome::Refused)).await?;
                return Err(ServiceError::MfaVerificationRequired);
            }
        };
        self.after_activation(&cx, &user, &factor).await?;
        self.store.throttle_clear(&throttle_key(&factor)).await?;
        self.audit(Audit {
            detail: installed.then(|| "backup codes issued".into()),
            ..on_factor(AuditOutcome::Success)
        })
        .await?;
        self.metrics
            .mfa(&tenant.id, factor.kind, MfaStep::EnrollConfirmed);
        let active = self
            .store
            .get_factor(&tenant.id, &factor.id)
            .await?
            .ok_or(ServiceError::FactorNotFound)?;
        Ok((active, installed.then_some(codes)))
    }

    pub async fn list_user_factors(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        target: &UserId,
    ) -> ServiceResult<Vec<FactorSummary>> {
        let (user, _) = self.managed_user(tenant, actor, target, false).await?;
        self.factor_summaries(tenant, &user.id).await
    }

    pub(super) async fn factor_summaries(
        &self,
        tenant: &Tenant,
        user: &UserId,
    ) -> ServiceResult<Vec<FactorSummary>> {
        let now = self.now();
        let mut out = Vec::new();
        let mut credentials = None;
        let preferred = self.store.preferred_factor(&tenant.id, user).await?;
        for factor in self.store.list_factors(&tenant.id, user).await? {
            if !factor.is_current(now) {
                continue;
            }
            let (mut remaining_codes, mut last_delivery, mut credential) = (None, None, None);
            match module(factor.kind).listing() {
                Listing::Plain => {}
                Listing::RemainingCodes => {
                    remaining_codes = Some(self.store.unused_backup_codes(&factor.id).await?)
                }
                Listing::LastDelivery => last_delivery = self.store.last_delivery(&factor.id).await?,
                Listing::Credential => {
                    if credentials.is_none() {
                        credentials = Some(self.store.list_webauthn_credentials(&tenant.id, user).await?);
                    }
                    credential = credentials
                        .iter()
                        .flatten()
                        .find(|c| c.factor_id == factor.id)
                        .cloned();
                }
            }
            out.push(FactorSummary {
                preferred: preferred.as_ref() == Some(&factor.id),
                destination: self.masked_destination(&factor),
                factor,
                remaining_codes,
                last_delivery,
                credential,
            });
        }
        Ok(out)
    }

    /// Removes a factor. Every session of the user ends, but the caller's own (review item 5).
    pub async fn delete_factor(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        target: &UserId,
        factor_id: &FactorId,
        meta: &RequestMeta,
    ) -> ServiceResult<()> {
        let (user, rules) = self.managed_user(tenant, actor, target, true).await?;
        // Its kind, for the audit record (and so the user's notice) once it is gone.
        let kind = self
            .store
            .get_factor(&tenant.id, factor_id)
            .await?
            .filter(|f| f.user_id == user.id)
            .map(|f| f.kind.as_str().to_owned());
        // An admin removing a user's factor resets their MFA one factor at a time.
        self.require_scope(
            tenant,
            actor,
            meta,
            KeyScope::MfaAdmin,
            Attempt {
                action: AuditAction::FactorDelete,
                user: Some(&user.id),
                detail: kind.as_deref().unwrap_or("unknown factor"),
            },
        )
        .await?;
        if !self
            .store
            .delete_factor(
                &tenant.id,
                &user.id,
                factor_id,
                rules.keep_session.as_ref(),
                self.now(),
            )
            .await?
        {
            return Err(ServiceError::FactorNotFound);
        }
        self.audit(Audit {
            tenant,
            actor,
            meta,
            user: Some(&user.id),
            factor: Some(factor_id),
            action: AuditAction::FactorDelete,
            outcome: AuditOutcome::Success,
            detail: kind,
        })
        .await
    }

    /// Replaces the user's backup codes with a new set (all old codes stop working). Every
    /// session of the user ends, but the caller's own (review item 5).
    pub async fn regenerate_backup_codes(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        target: &UserId,
        meta: &RequestMeta,
    ) -> ServiceResult<Vec<String>> {
        let (user, rules) = self.managed_user(tenant, actor, target, true).await?;
        // Codes an admin receives are a confirmed credential of the user's, in other hands.
        self.require_scope(
            tenant,
            actor,
            meta,
            KeyScope::MfaAdmin,
            Attempt {
                action: AuditAction::BackupCodesRegenerate,
                user: Some(&user.id),
                detail: "regenerate",
            },
        )
        .await?;
        let factors = self.store.list_factors(&tenant.id, &user.id).await?;
        if !policy::has_factor(&facts(&factors)) {
            return Err(ServiceError::MfaNotEnabled);
        }
        let id = self.backup_factor_id(tenant, &user.id).await?;
        let (codes, install) = backup_codes::new_set(&self.factor_cx(tenant, meta), &user.id, id);
        let id = self
            .store
            .replace_backup_codes(&install, rules.keep_session.as_ref(), self.now())
            .await?;
        self.audit(Audit {
            tenant,
            actor,
            meta,
            user: Some(&user.id),
            factor: Some(&id),
            action: AuditAction::BackupCodesRegenerate,
            outcome: AuditOutcome::Success,
            detail: None,
        })
        .await?;
        Ok(codes)
    }

    /// An open challenge of this tenant, or why it cannot be used.
    pub(super) async fn open_challenge(&self, tenant: &Tenant, id: &str) -> ServiceResult<Challenge> {
        let id = ChallengeId::parse(id).map_err(|_| ServiceError::InvalidChallenge)?;
        let challenge = self
            .store
            .get_challenge(&tenant.id, &id)
            .await?
            .ok_or(ServiceError::InvalidChallenge)?;
        if challenge.completed_at.is_some() {
            return Err(ServiceError::InvalidChallenge);
        }
        if self.now() >= challenge.expires_at {
            return Err(ServiceError::ChallengeExpired);
        }
        Ok(challenge)
    }

    /// The factor of the challenge's user that `choice` means, and whether proving it must
    /// be followed by enrolling an allowed kind. A sign-in challenge takes the factors
    /// sign-in offers now; a forced enrollment only the pending factor it started.
    async fn challenge_factor(
        &self,
        tenant: &Tenant,
        challenge: &Challenge,
        choice: &FactorChoice,
    ) -> ServiceResult<(Factor, bool, Vec<Factor>)> {
        let now = self.now();
        let (factors, decision, _) = self.sign_in_decision(tenant, &challenge.user_id, false).await?;
        let (candidates, then_enroll): (Vec<&Factor>, bool) = match challenge.purpose {
            ChallengePurpose::SignIn => match &decision {
                SignInDecision::Prove { offer, then_enroll } => {
                    (offer.iter().map(|&i| &factors[i]).collect(), *then_enroll)
                }
                SignInDecision::Complete | SignInDecision::Enroll { .. } => (Vec::new(), false),
            },
            ChallengePurpose::Enroll => (
                factors
                    .iter()
                    .filter(|f| {
                        f.status == FactorStatus::Pending
                            && f.is_current(now)
                            && tenant.settings.allows(f.kind)
                            && f.enrolled_by.as_deref() == Some(challenge.id.as_str())
                    })
                    .collect(),
                false,
            ),
        };
        let pick = |found: Option<&&Factor>| found.map(|f| (*f).clone()).ok_or(ServiceError::FactorNotFound);
        let factor = if let Some(raw) = &choice.factor_id {
            let id = FactorId::parse(raw).map_err(|_| ServiceError::FactorNotFound)?;
            pick(candidates.iter().find(|f| f.id == id))?
        } else {
            let of_kind: Vec<&&Factor> = candidates
                .iter()
                .filter(|f| match choice.kind {
                    Some(kind) => f.kind == kind,
                    None => !f.kind.is_recovery(),
                })
                .collect();
            let selected = challenge
                .factor_id
                .as_ref()
                .and_then(|sel| of_kind.iter().find(|f| &f.id == sel).copied());
            // Several factors of one kind answered by one ceremony (WebAuthn: the options allow
            // every credential, and the answer names its own) need no choosing.
            let one_ceremony = of_kind.first().is_some_and(|first| {
                module(first.kind).one_ceremony_for_all() && of_kind.iter().all(|f| f.kind == first.kind)
            });
            match (selected, of_kind.as_slice()) {
                (Some(f), _) => (*f).clone(),
                (None, [only]) => (**only).clone(),
                (None, []) => return Err(ServiceError::FactorNotFound),
                (None, [first, ..]) if one_ceremony => (**first).clone(),
                (None, _) => return Err(ServiceError::FactorIdRequired),
            }
        };
        let offered = candidates.into_iter().cloned().collect();
        Ok((factor, then_enroll, offered))
    }

    /// Records the factor chosen for a sign-in challenge; its kind may send a code (again:
    /// calling it twice is the resend, after the cooldown). Returns the challenge, the
    /// factor, and when the challenge now expires (a sent code keeps it open as long as the
    /// code lives, review item 11).
    pub async fn select_factor(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
        choice: &FactorChoice,
        meta: &RequestMeta,
    ) -> ServiceResult<SelectedFactor> {
        let challenge = self.open_challenge(tenant, challenge_id).await?;
        if challenge.purpose != ChallengePurpose::SignIn {
            return Err(ServiceError::InvalidChallenge);
        }
        let (factor, _, offered) = self.challenge_factor(tenant, &challenge, choice).await?;
        if !self
            .store
            .choose_factor(&challenge.id, &factor.id, self.now())
            .await?
        {
            return Err(ServiceError::InvalidChallenge);
        }
        let user = self.get_user(&tenant.id, &challenge.user_id).await?;
        let cx = self.factor_cx(tenant, meta);
        let credentials = self.credentials_for(factor.kind, tenant, &user.id).await?;
        let start = self
            .refusals_counted(
                tenant,
                &Actor::SigningIn {
                    user_id: user.id.clone(),
                },
                &user,
                meta,
                module(factor.kind).begin_challenge(&cx, &user, &factor, &challenge, &offered, &credentials),
            )
            .await?;
        let mut expires_at = challenge.expires_at;
        if let Some(issue) = start.send {
            expires_at = expires_at.max(self.issue_code(tenant, &user, &factor, &issue, meta).await?);
        }
        if let Some(state) = &start.state_sealed {
            if !self
                .store
                .set_challenge_state(&challenge.id, state, cx.now)
                .await?
            {
                return Err(ServiceError::InvalidChallenge);
            }
        }
        Ok(SelectedFactor {
            challenge,
            factor,
            expires_at,
            options: start.options,
        })
    }

    /// Forced enrollment: starts a factor for the user of an `mfa_setup_required` challenge,
    /// if the user still has no usable factor (review item 1: a challenge kept from before
    /// the user enrolled fails like an expired one).
    pub async fn enroll_for_challenge(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
        req: EnrollRequest,
        meta: &RequestMeta,
    ) -> ServiceResult<Enrollment> {
        let challenge = self.open_challenge(tenant, challenge_id).await?;
        if challenge.purpose != ChallengePurpose::Enroll {
            return Err(ServiceError::InvalidChallenge);
        }
        if req.confirmed {
            return Err(ServiceError::Forbidden);
        }
        let factors = self.store.list_factors(&tenant.id, &challenge.user_id).await?;
        let kinds = self.enrollment_kinds(tenant, &challenge.user_id).await?;
        if factors
            .iter()
            .any(|f| f.status == FactorStatus::Active && kinds.contains(&f.kind))
        {
            return Err(ServiceError::ChallengeExpired);
        }
        let user = self.get_user(&tenant.id, &challenge.user_id).await?;
        let actor = Actor::SigningIn {
            user_id: user.id.clone(),
        };
        let enrollment = self
            .begin_enrollment(
                tenant,
                &actor,
                &user,
                req,
                Some(&challenge),
                Some(challenge.id.to_string()),
                meta,
            )
            .await?;
        // The challenge's own factor: `/v1/mfa/verify` may leave `factor_id` out.
        self.store
            .choose_factor(&challenge.id, &enrollment.factor.id, self.now())
            .await?;
        Ok(enrollment)
    }

    /// The verified phone number of the user of a forced-enrollment challenge, which the
    /// pages offer for an SMS factor (the user may type another).
    pub async fn enrollment_phone(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
    ) -> ServiceResult<Option<String>> {
        let challenge = self.open_challenge(tenant, challenge_id).await?;
        if challenge.purpose != ChallengePurpose::Enroll {
            return Err(ServiceError::InvalidChallenge);
        }
        let user = self.get_user(&tenant.id, &challenge.user_id).await?;
        Ok(user.phone_verified_at.and_then(|_| self.user_phone(&user)))
    }

    /// Completes a challenge with a code: the second factor of a sign-in, or the first
    /// confirmation of a forced enrollment. Issues the session on success, unless the
    /// factor proven is of a kind no longer allowed: then the user must enroll an allowed
    /// kind first (review item 4), and a new enrollment challenge is the answer.
    /// `remember`: the client asks for this device to be remembered (the tenant's
    /// `remember_device` mode decides).
    pub async fn verify_challenge(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
        choice: &FactorChoice,
        answer: Answer<'_>,
        remember: bool,
        meta: &RequestMeta,
    ) -> ServiceResult<SignInOutcome<Verified>> {
        let wrong = || match answer {
            Answer::Code(_) => ServiceError::InvalidCode,
            Answer::Credential(_) => ServiceError::InvalidCredential,
        };
        match self
            .verify_answer(tenant, challenge_id, choice, answer, remember, meta)
            .await
        {
            Err(ServiceError::InvalidCode) => Err(wrong()),
            other => other,
        }
    }

    async fn verify_answer(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
        choice: &FactorChoice,
        answer: Answer<'_>,
        remember: bool,
        meta: &RequestMeta,
    ) -> ServiceResult<SignInOutcome<Verified>> {
        let mut challenge = self.open_challenge(tenant, challenge_id).await?;
        let mut choice = choice.clone();
        if let (Answer::Credential(value), ChallengePurpose::SignIn) = (answer, challenge.purpose) {
            // The credential names its factor; another user's (or tenant's) fails below like
            // any wrong answer.
            if choice.factor_id.is_none() {
                let id = webauthn::asserted_credential_id(value).ok_or(InputError::CredentialFormat)?;
                let found = self.store.find_webauthn_credential(&tenant.id, &id).await?;
                choice.factor_id = Some(found.ok_or(ServiceError::InvalidCode)?.factor_id.to_string());
            }
            // The ceremony's state is taken once, whatever the answer turns out to be: a second
            // answer to the same ceremony (a replay, or a race) finds none.
            let state = challenge.state_sealed.clone().ok_or(ServiceError::InvalidCode)?;
            if !self
                .store
                .take_challenge_state(&challenge.id, &state, self.now())
                .await?
            {
                return Err(ServiceError::InvalidCode);
            }
            challenge.state_sealed = Some(state);
        }
        let challenge = challenge;
        // Another user's factor, or one that does not fit, fails like a wrong code: verify
        // errors never say which part was wrong (SECURITY.md test 58).
        let (factor, then_enroll, _) = match self.challenge_factor(tenant, &challenge, &choice).await {
            Err(ServiceError::FactorNotFound) => return Err(ServiceError::InvalidCode),
            other => other?,
        };
        let actor = Actor::SigningIn {
            user_id: challenge.user_id.clone(),
        };
        let cx = self.factor_cx(tenant, meta);
        let kind = module(factor.kind);
        // The answer is checked here (pure computation); the store then decides, in one
        // transaction, whether the factor is locked, consumes the proof, and counts a
        // failure or forgets the earlier ones (`attempt_sign_in`).
        let mut issued_codes = None;
        let mut method = kind.method(&factor);
        let (proof, action) = match challenge.purpose {
            ChallengePurpose::SignIn => {
                let proven = kind.proof(&cx, &factor, answer, &challenge)?;
                if let Some(p) = &proven {
                    method = p.method.clone();
                }
                (proven.map(|p| p.proof), kind.sign_in_action())
            }
            ChallengePurpose::Enroll => {
                let proof = match kind.confirmation(&cx, &factor, answer, Some(&challenge.id))? {
                    Some(check) => {
                        method = kind.confirmed_method(&factor, &check);
                        let backup_id = self.backup_factor_id(tenant, &factor.user_id).await?;
                        let (codes, backup) = backup_codes::new_set(&cx, &factor.user_id, backup_id);
                        issued_codes = Some(codes);
                        Some(Proof::Enrollment {
                            factor_id: factor.id.clone(),
                            check,
                            backup: Box::new(backup),
                            // Still no usable factor, as when the challenge was issued.
                            rules: ActivationRules {
                                only_without: Some(self.enrollment_kinds(tenant, &factor.user_id).await?),
                                keep_session: None,
                                enrolled_by: Some(challenge.id.to_string()),
                            },
                        })
                    }
                    None => None,
                };
                (proof, AuditAction::FactorConfirm)
            }
        };
        // Everything the attempt writes goes into one transaction: on success the factor's
        // failures forgotten (only this factor's, NIST SP 800-63B-4 §3.2.2), the audit
        // record and the new session; on failure the counted failure and its audit record.
        let user = self.get_user(&tenant.id, &challenge.user_id).await?;
        let on_factor = |action, outcome| {
            self.audit_event(
                Audit::on_factor(tenant, &actor, meta, &factor, action, outcome)
                    .with_detail(factor.kind.as_str()),
            )
        };
        let mut amr = challenge.amr.clone();
        amr.extend(amr_strings(&method.amr));
        // A device remembered only with a session, and never by a step-up's challenge (a
        // sign-in's only: verification here always completes a sign-in).
        let remembered = if then_enroll {
            None
        } else {
            self.device_to_remember(tenant, &user.id, method.aal, remember, meta)
        };
        let (session, tokens) = if then_enroll {
            (None, None)
        } else {
            let mut session_amr = amr.clone();
            session_amr.push(Amr::Mfa.as_str().to_owned());
            let (session, refresh_hash, tokens) =
                self.new_session(tenant, &user, session_amr, method.aal.as_str(), Some(cx.now));
            (Some((session, refresh_hash)), Some(tokens))
        };
        let attempt = SignInAttempt {
            challenge_id: challenge.id.clone(),
            proof,
            throttle: throttle_key(&factor),
            policy: tenant.settings.factor_throttle(),
            writes: SignInWrites {
                clear_throttle: None,
                audit: Some(on_factor(action, AuditOutcome::Success)),
                session,
                device: remembered.as_ref().map(|r| (r.device.clone(), r.event.clone())),
            },
            on_failure: Some(on_factor(AuditAction::MfaVerify, AuditOutcome::Failure)),
            on_locked: Some(self.audit_event(Audit::on_factor(
                tenant,
                &actor,
                meta,
                &factor,
                AuditAction::MfaAttempt,
                AuditOutcome::Locked,
            ))),
        };
        let backup_installed = match self.store.attempt_sign_in(&attempt, cx.now).await? {
            AttemptOutcome::Completed { backup_installed } => {
                if let Some(event) = &attempt.writes.audit {
                    self.recorded(event);
                }
                if let Some((_, event)) = &attempt.writes.device {
                    self.recorded(event);
                }
                self.confirm_signin(tenant, &challenge.id).await?;
                let step = match challenge.purpose {
                    ChallengePurpose::SignIn => MfaStep::VerifySucceeded,
                    ChallengePurpose::Enroll => MfaStep::EnrollConfirmed,
                };
                self.metrics.mfa(&tenant.id, factor.kind, step);
                backup_installed
            }
            AttemptOutcome::ChallengeGone => return Err(ServiceError::InvalidChallenge),
            AttemptOutcome::Stale => {
                self.audit(
                    Audit::on_factor(
                        tenant,
                        &actor,
                        meta,
                        &factor,
                        AuditAction::FactorConfirm,
                        AuditOutcome::Refused,
                    )
                    .with_detail("the user has enrolled since this challenge was issued"),
                )
                .await?;
                return Err(ServiceError::ChallengeExpired);
            }
            AttemptOutcome::Rejected => {
                if let Some(event) = &attempt.on_failure {
                    self.recorded(event);
                }
                self.record_second_factor_failure(tenant, &user.id, meta).await?;
                self.metrics.mfa(&tenant.id, factor.kind, MfaStep::VerifyFailed);
                if let Some(Proof::WebauthnAssertion { .. }) = &attempt.proof {
                    self.audit_clone_flag(tenant, &actor, meta, &factor).await?;
                }
                return Err(ServiceError::InvalidCode);
            }
            AttemptOutcome::Locked { retry_after_secs } => {
                if let Some(event) = &attempt.on_locked {
                    self.recorded(event);
                }
                self.metrics.mfa(&tenant.id, factor.kind, MfaStep::Locked);
                return Err(ServiceError::TooManyAttempts { retry_after_secs });
            }
        };
        if challenge.purpose == ChallengePurpose::Enroll {
            self.after_activation(&cx, &user, &factor).await?;
        }
        let Some(tokens) = tokens else {
            // Proven with a factor of a kind no longer allowed: enroll an allowed one now.
            let kinds = self.enrollment_kinds(tenant, &user.id).await?;
            let pending = self
                .new_challenge(tenant, &user.id, ChallengePurpose::Enroll, amr, Vec::new(), kinds)
                .await?;
            return Ok(SignInOutcome::Enroll(pending));
        };
        Ok(SignInOutcome::Complete(Verified {
            tokens,
            factor,
            device_token: remembered.map(|r| r.token),
            backup_codes: if backup_installed { issued_codes } else { None },
        }))
    }

    /// Audits a credential the store has just flagged as possibly cloned (its counter went
    /// backwards in the attempt that flagged it).
    pub(super) async fn audit_clone_flag(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        meta: &RequestMeta,
        factor: &Factor,
    ) -> ServiceResult<()> {
        let flagged = self
            .store
            .list_webauthn_credentials(&tenant.id, &factor.user_id)
            .await?
            .into_iter()
            .find(|c| c.factor_id == factor.id)
            .and_then(|c| c.clone_suspected_at);
        if flagged == Some(self.now()) || flagged.is_some_and(|at| self.now() - at < 1000) {
            tracing::warn!(factor = %factor.id, "webauthn signature counter went backwards: credential flagged");
            self.audit(
                Audit::on_factor(
                    tenant,
                    actor,
                    meta,
                    factor,
                    AuditAction::WebauthnCloneSuspected,
                    AuditOutcome::Refused,
                )
                .with_detail("signature counter did not advance; the credential is refused until removed"),
            )
            .await?;
        }
        Ok(())
    }

    /// The user a factor of the tenant belongs to, for the APIs that name a factor alone
    /// (Auth0's `/guardian/enrollments/{id}`).
    pub async fn factor_owner(&self, tenant: &Tenant, factor: &FactorId) -> ServiceResult<UserId> {
        self.store
            .get_factor(&tenant.id, factor)
            .await?
            .map(|f| f.user_id)
            .ok_or(ServiceError::FactorNotFound)
    }

    /// Admin view of a user's factors.
    pub async fn admin_user_mfa(&self, tenant: &Tenant, user: &UserId) -> ServiceResult<Vec<FactorSummary>> {
        let user = self.get_user(&tenant.id, user).await?;
        self.factor_summaries(tenant, &user.id).await
    }

    /// Removes every factor of a user and ends every session; they enroll again at their
    /// next sign-in if MFA is required.
    pub async fn admin_reset_mfa(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        user: &UserId,
        meta: &RequestMeta,
    ) -> ServiceResult<u64> {
        let user = self.get_user(&tenant.id, user).await?;
        self.require_scope(
            tenant,
            actor,
            meta,
            KeyScope::MfaAdmin,
            Attempt {
                action: AuditAction::MfaReset,
                user: Some(&user.id),
                detail: "reset",
            },
        )
        .await?;
        let removed = self.store.reset_mfa(&tenant.id, &user.id, self.now()).await?;
        self.audit(Audit {
            tenant,
            actor,
            meta,
            user: Some(&user.id),
            factor: None,
            action: AuditAction::MfaReset,
            outcome: AuditOutcome::Success,
            detail: Some(format!("{removed} factor(s) removed")),
        })
        .await?;
        Ok(removed)
    }
}

/// The facts policy decides on.
fn facts(factors: &[Factor]) -> Vec<FactorFact> {
    factors
        .iter()
        .map(|f| FactorFact {
            kind: f.kind,
            status: f.status,
        })
        .collect()
}

fn check_factor_name(raw: &str) -> ServiceResult<String> {
    match latchkey_core::text::display_name(raw, 100) {
        Ok(name) if !name.is_empty() => Ok(name),
        _ => Err(InputError::FactorName.into()),
    }
}
