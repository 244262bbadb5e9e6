//! Multi-factor authentication: enrolling and managing factors, the sign-in challenge,
//! verification, forced enrollment and the admin reset.
//!
//! Each factor kind is handled in one exhaustive `match` per verb (enroll, prove), so a
//! new kind does not compile until every verb handles it. Codes are checked against the
//! server clock only; proofs are consumed in the same transaction that completes the
//! challenge; every attempt is counted per factor in the database before it is evaluated.

use super::audit::{log_audit, Actor, Audit, RequestMeta};
use super::auth::TokenPair;
use super::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::backup;
use latchkey_core::clock::UnixMillis;
use latchkey_core::factor::{ChallengePurpose, Channel, FactorKind, FactorStatus};
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::{ChallengeId, FactorId, UserId};
use latchkey_core::rand;
use latchkey_core::throttle::ThrottleDecision;
use latchkey_core::totp;
use latchkey_store::model::{
    AttemptOutcome, BackupInstall, Challenge, Check, Factor, Proof, SealedColumn, SignInAttempt,
    SignInWrites, Tenant, ThrottleKey, User,
};
use zeroize::Zeroizing;

/// How long a started enrollment waits for its confirming code.
pub const ENROLLMENT_TTL_SECS: i64 = 600;
/// How recently a user's session must have passed a second factor to change factors
/// (ASVS 5.0 V7.5.1; Supabase and Kratos use similar windows).
pub const STEP_UP_SECS: i64 = 900;

/// A challenge the client must answer, as sign-in reports it.
#[derive(Debug, Clone)]
pub struct PendingChallenge {
    pub challenge_id: ChallengeId,
    pub expires_at: UnixMillis,
    /// For `mfa_required`: the factors the user can answer with.
    pub factors: Vec<Factor>,
    /// For `mfa_setup_required`: the kinds the user may enroll.
    pub allowed: Vec<FactorKind>,
}

/// A started enrollment, with what the user needs next. A TOTP secret appears here and
/// nowhere else, ever.
pub struct Enrollment {
    pub factor: Factor,
    pub details: EnrollDetails,
}

pub enum EnrollDetails {
    Totp {
        secret_base32: Zeroizing<String>,
        otpauth_uri: Zeroizing<String>,
        qr_code_svg: String,
    },
    /// A code went (is going) to this masked destination.
    Sent { channel: Channel, destination: String },
    /// Created active by an admin without a code (an already verified phone).
    Confirmed { destination: String },
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
    pub remaining_codes: Option<i64>,
    pub last_delivery: Option<latchkey_store::model::OutboxMessage>,
}

pub struct Verified {
    pub tokens: TokenPair,
    pub factor: Factor,
    /// Backup codes installed by a forced enrollment: shown once.
    pub backup_codes: Option<Vec<String>>,
}

fn throttle_key(factor: &Factor) -> ThrottleKey {
    ThrottleKey {
        tenant_id: factor.tenant_id.clone(),
        scope: "factor",
        subject: factor.id.to_string(),
    }
}

impl App {
    /// The user an actor may manage, checking ownership and (for changes) step-up.
    async fn managed_user(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        target: &UserId,
        change: bool,
    ) -> ServiceResult<User> {
        match actor {
            Actor::Admin { .. } => {}
            Actor::User { user_id, mfa_time } => {
                if user_id != target {
                    return Err(ServiceError::Forbidden);
                }
                if change && self.has_active_factor(tenant, target).await? {
                    let fresh = mfa_time.is_some_and(|t| self.now().div_euclid(1000) - t <= STEP_UP_SECS);
                    if !fresh {
                        return Err(ServiceError::MfaVerificationRequired);
                    }
                }
            }
            Actor::SigningIn { .. } => return Err(ServiceError::Forbidden),
        }
        self.get_user(&tenant.id, target).await
    }

    async fn has_active_factor(&self, tenant: &Tenant, user: &UserId) -> ServiceResult<bool> {
        Ok(self
            .store
            .list_factors(&tenant.id, user)
            .await?
            .iter()
            .any(|f| f.status == FactorStatus::Active && f.kind != FactorKind::BackupCodes))
    }

    /// The factors a user can answer a sign-in challenge with: active, allowed by the
    /// tenant, and backup codes only beside another factor.
    async fn usable_factors(&self, tenant: &Tenant, user: &UserId) -> ServiceResult<Vec<Factor>> {
        let mut usable: Vec<Factor> = self
            .store
            .list_factors(&tenant.id, user)
            .await?
            .into_iter()
            .filter(|f| f.status == FactorStatus::Active && tenant.settings.allows(f.kind))
            .collect();
        if usable.iter().all(|f| f.kind == FactorKind::BackupCodes) {
            usable.clear();
        }
        Ok(usable)
    }

    fn mfa_required(&self, tenant: &Tenant) -> bool {
        self.config.mfa_required || tenant.settings.mfa_required
    }

    /// After a correct password: decide whether a second factor is needed. `Ok(())` means
    /// the password alone completes sign-in.
    pub(super) async fn second_factor_gate(&self, tenant: &Tenant, user: &User) -> ServiceResult<()> {
        let factors = self.usable_factors(tenant, &user.id).await?;
        let purpose = if !factors.is_empty() {
            ChallengePurpose::SignIn
        } else if self.mfa_required(tenant) {
            ChallengePurpose::Enroll
        } else {
            return Ok(());
        };
        let now = self.now();
        let challenge = Challenge {
            id: ChallengeId::generate(now, self.rng.as_ref()),
            tenant_id: tenant.id.clone(),
            user_id: user.id.clone(),
            purpose,
            amr: vec!["pwd".into()],
            factor_id: None,
            created_at: now,
            expires_at: now + i64::try_from(tenant.settings.challenge_ttl_secs).unwrap_or(300) * 1000,
            completed_at: None,
        };
        self.store.insert_challenge(&challenge).await?;
        let pending = PendingChallenge {
            challenge_id: challenge.id,
            expires_at: challenge.expires_at,
            factors,
            allowed: tenant
                .settings
                .mfa_allowed_factors
                .iter()
                .copied()
                .filter(|k| k.enrollable())
                .collect(),
        };
        Err(match purpose {
            ChallengePurpose::SignIn => ServiceError::MfaRequired(pending),
            ChallengePurpose::Enroll => ServiceError::MfaSetupRequired(pending),
        })
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
        let user = self.managed_user(tenant, actor, target, true).await?;
        if req.confirmed {
            return self.admin_confirmed_sms(tenant, actor, &user, req, meta).await;
        }
        self.begin_enrollment(tenant, actor, &user, req, None, meta).await
    }

    /// An admin creates an SMS factor for the user's already verified phone: no code needed.
    async fn admin_confirmed_sms(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        user: &User,
        req: EnrollRequest,
        meta: &RequestMeta,
    ) -> ServiceResult<Enrollment> {
        if !matches!(actor, Actor::Admin { .. }) {
            return Err(ServiceError::Forbidden);
        }
        if req.kind != FactorKind::Sms || !tenant.settings.allows(FactorKind::Sms) {
            return Err(ServiceError::FactorNotAllowed);
        }
        let phone = self.sms_destination(tenant, req.phone_number.as_deref()).await?;
        let verified = user.phone_verified_at.is_some() && user.phone_number.as_deref() == Some(phone.e164());
        if !verified {
            return Err(ServiceError::PhoneNotVerified);
        }
        let now = self.now();
        let factor = Factor {
            id: FactorId::generate(now, self.rng.as_ref()),
            tenant_id: tenant.id.clone(),
            user_id: user.id.clone(),
            kind: FactorKind::Sms,
            name: req.name.as_deref().map(check_factor_name).transpose()?,
            status: FactorStatus::Pending,
            secret_sealed: None,
            last_step: None,
            destination: Some(phone.e164().to_owned()),
            created_at: now,
            expires_at: Some(now + ENROLLMENT_TTL_SECS * 1000),
            confirmed_at: None,
            last_used_at: None,
        };
        self.store.insert_factor(&factor).await?;
        let backup_id = self.backup_factor_id(tenant, &user.id).await?;
        let (_codes, install) = self.new_backup_codes(tenant, &user.id, backup_id);
        // The phone was verified by a code earlier; activation needs no new proof. Backup
        // codes are not handed to an admin: the user regenerates their own.
        let check = Check::Preverified;
        self.store
            .activate_factor(&factor.id, &check, &install, now)
            .await?
            .ok_or(ServiceError::FactorNotPending)?;
        self.audit(
            Audit::on_factor(tenant, actor, meta, &factor, "factor.create_confirmed", "success")
                .with_detail("sms"),
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
            },
        })
    }

    async fn begin_enrollment(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        user: &User,
        req: EnrollRequest,
        challenge: Option<&Challenge>,
        meta: &RequestMeta,
    ) -> ServiceResult<Enrollment> {
        let kind = req.kind;
        if !kind.enrollable() || !tenant.settings.allows(kind) {
            return Err(ServiceError::FactorNotAllowed);
        }
        if req.phone_number.is_some() && kind != FactorKind::Sms {
            return Err(ServiceError::InvalidInput {
                code: "invalid_request",
                message: "phone_number applies to sms factors only".into(),
            });
        }
        let name = match req.name {
            Some(n) => Some(check_factor_name(&n)?),
            None => None,
        };
        let now = self.now();
        let id = FactorId::generate(now, self.rng.as_ref());
        let enrollment = match kind {
            FactorKind::Totp => {
                let secret: Zeroizing<[u8; totp::SECRET_BYTES]> =
                    Zeroizing::new(rand::bytes(self.rng.as_ref()));
                let sealed = self
                    .crypto
                    .keyring
                    .seal(
                        &*secret,
                        &SealedColumn::FactorSecret.aad(id.as_str()),
                        self.rng.as_ref(),
                    )
                    .map_err(|e| ServiceError::Internal(e.to_string()))?;
                let issuer = self.totp_issuer(tenant);
                // TODO(lead): per-factor algorithm. Choose `tenant.settings.totp_algorithm` here,
                // store it on the factor, and verify with the factor's in `totp_step`; until
                // then every factor is SHA1, whatever the tenant setting says.
                let alg = totp::Algorithm::Sha1;
                let uri = Zeroizing::new(totp::otpauth_uri(&issuer, user.email.as_str(), &*secret, alg));
                let qr_code_svg = qr_svg(&uri)?;
                let factor = Factor {
                    id,
                    tenant_id: tenant.id.clone(),
                    user_id: user.id.clone(),
                    kind,
                    name,
                    status: FactorStatus::Pending,
                    secret_sealed: Some(sealed),
                    last_step: None,
                    destination: None,
                    created_at: now,
                    expires_at: Some(now + ENROLLMENT_TTL_SECS * 1000),
                    confirmed_at: None,
                    last_used_at: None,
                };
                self.store.insert_factor(&factor).await?;
                Enrollment {
                    factor,
                    details: EnrollDetails::Totp {
                        secret_base32: Zeroizing::new(totp::base32_encode(&*secret)),
                        otpauth_uri: uri,
                        qr_code_svg,
                    },
                }
            }
            FactorKind::Sms | FactorKind::EmailOtp => {
                let (channel, destination, masked) = match kind {
                    FactorKind::Sms => {
                        let phone = self.sms_destination(tenant, req.phone_number.as_deref()).await?;
                        (Channel::Sms, phone.e164().to_owned(), phone.masked())
                    }
                    _ => (Channel::Email, user.email.to_string(), user.email.masked()),
                };
                let factor = Factor {
                    id,
                    tenant_id: tenant.id.clone(),
                    user_id: user.id.clone(),
                    kind,
                    name,
                    status: FactorStatus::Pending,
                    secret_sealed: None,
                    last_step: None,
                    destination: Some(destination),
                    created_at: now,
                    expires_at: Some(now + ENROLLMENT_TTL_SECS * 1000),
                    confirmed_at: None,
                    last_used_at: None,
                };
                // Stored together with its first code and outbox message, atomically.
                self.send_code(tenant, user, &factor, challenge, true, meta)
                    .await?;
                Enrollment {
                    factor,
                    details: EnrollDetails::Sent {
                        channel,
                        destination: masked,
                    },
                }
            }
            FactorKind::BackupCodes => return Err(ServiceError::FactorNotAllowed),
        };
        self.audit(Audit {
            tenant,
            actor,
            meta,
            user: Some(&user.id),
            factor: Some(&enrollment.factor.id),
            action: "factor.enroll",
            outcome: "pending",
            detail: Some(kind.as_str().into()),
        })
        .await?;
        Ok(enrollment)
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

    /// A fresh set of backup codes (plain text for the user, hashes for the store), owned
    /// by `factor_id`.
    fn new_backup_codes(
        &self,
        tenant: &Tenant,
        user: &UserId,
        factor_id: FactorId,
    ) -> (Vec<String>, BackupInstall) {
        let now = self.now();
        let codes = backup::generate(self.rng.as_ref());
        let code_hashes = codes
            .iter()
            .filter_map(|c| backup::normalize(c))
            .map(|n| {
                self.crypto
                    .hasher
                    .hash(HashPurpose::BackupCode, factor_id.as_str(), n.as_bytes())
            })
            .collect();
        let factor = Factor {
            id: factor_id,
            tenant_id: tenant.id.clone(),
            user_id: user.clone(),
            kind: FactorKind::BackupCodes,
            name: None,
            status: FactorStatus::Active,
            secret_sealed: None,
            last_step: None,
            destination: None,
            created_at: now,
            expires_at: None,
            confirmed_at: Some(now),
            last_used_at: None,
        };
        (codes, BackupInstall { factor, code_hashes })
    }

    /// The id backup codes of this user are (or will be) hashed under.
    async fn backup_factor_id(&self, tenant: &Tenant, user: &UserId) -> ServiceResult<FactorId> {
        let existing = self
            .store
            .list_factors(&tenant.id, user)
            .await?
            .into_iter()
            .find(|f| f.kind == FactorKind::BackupCodes);
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
                    "mfa.attempt",
                    "locked",
                ))
                .await?;
                Err(ServiceError::TooManyAttempts { retry_after_secs })
            }
        }
    }

    /// The TOTP step a code proves for `factor`, if any (server clock, tenant window,
    /// never at or before the last accepted step).
    fn totp_step(&self, tenant: &Tenant, factor: &Factor, code: &str) -> ServiceResult<Option<i64>> {
        let sealed = factor
            .secret_sealed
            .as_deref()
            .ok_or_else(|| ServiceError::Internal("TOTP factor without a secret".into()))?;
        let secret = self
            .crypto
            .keyring
            .open(sealed, &SealedColumn::FactorSecret.aad(factor.id.as_str()))
            .map_err(|e| ServiceError::Internal(format!("cannot open factor secret: {e}")))?;
        Ok(totp::verify(
            totp::Algorithm::Sha1, // the factor's, once stored: see TODO(lead) in enrollment
            &secret,
            code,
            self.now(),
            tenant.settings.totp_window,
            factor.last_step,
        ))
    }

    /// Confirms a pending factor with a code from its new secret. The user's first factor
    /// also brings backup codes, returned here once.
    pub async fn confirm_factor(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        target: &UserId,
        factor_id: &FactorId,
        code: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<(Factor, Option<Vec<String>>)> {
        let user = self.managed_user(tenant, actor, target, false).await?;
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
        let check = match factor.kind {
            FactorKind::Totp => self.totp_step(tenant, &factor, code)?.map(Check::TotpStep),
            FactorKind::Sms | FactorKind::EmailOtp => {
                self.sent_code_hash(&factor, None, code)
                    .map(|code_hash| Check::SentCode {
                        code_hash,
                        challenge_id: None,
                    })
            }
            FactorKind::BackupCodes => None,
        };
        let invalid = || async {
            self.audit(Audit::on_factor(
                tenant,
                actor,
                meta,
                &factor,
                "factor.confirm",
                "failure",
            ))
            .await?;
            Err::<(Factor, Option<Vec<String>>), _>(ServiceError::InvalidCode)
        };
        let Some(check) = check else {
            return invalid().await;
        };
        let backup_id = self.backup_factor_id(tenant, &user.id).await?;
        let (codes, install) = self.new_backup_codes(tenant, &user.id, backup_id);
        let Some(installed) = self
            .store
            .activate_factor(&factor.id, &check, &install, self.now())
            .await?
        else {
            // A TOTP step cannot fail here; a sent code can (wrong, spent, superseded, expired).
            return match check {
                Check::TotpStep(_) | Check::Preverified => Err(ServiceError::FactorNotPending),
                Check::SentCode { .. } => invalid().await,
            };
        };
        self.after_activation(&user, &factor).await?;
        self.store.throttle_clear(&throttle_key(&factor)).await?;
        self.audit(Audit {
            tenant,
            actor,
            meta,
            user: Some(&user.id),
            factor: Some(&factor.id),
            action: "factor.confirm",
            outcome: "success",
            detail: installed.then(|| "backup codes issued".into()),
        })
        .await?;
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
        let user = self.managed_user(tenant, actor, target, false).await?;
        self.factor_summaries(tenant, &user.id).await
    }

    async fn factor_summaries(&self, tenant: &Tenant, user: &UserId) -> ServiceResult<Vec<FactorSummary>> {
        let now = self.now();
        let mut out = Vec::new();
        for factor in self.store.list_factors(&tenant.id, user).await? {
            if !factor.is_current(now) {
                continue;
            }
            let (remaining_codes, last_delivery) = match factor.kind {
                FactorKind::BackupCodes => (Some(self.store.unused_backup_codes(&factor.id).await?), None),
                FactorKind::Totp => (None, None),
                FactorKind::Sms | FactorKind::EmailOtp => (None, self.store.last_delivery(&factor.id).await?),
            };
            out.push(FactorSummary {
                factor,
                remaining_codes,
                last_delivery,
            });
        }
        Ok(out)
    }

    pub async fn delete_factor(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        target: &UserId,
        factor_id: &FactorId,
        meta: &RequestMeta,
    ) -> ServiceResult<()> {
        let user = self.managed_user(tenant, actor, target, true).await?;
        if !self.store.delete_factor(&tenant.id, &user.id, factor_id).await? {
            return Err(ServiceError::FactorNotFound);
        }
        self.audit(Audit {
            tenant,
            actor,
            meta,
            user: Some(&user.id),
            factor: Some(factor_id),
            action: "factor.delete",
            outcome: "success",
            detail: None,
        })
        .await
    }

    /// Replaces the user's backup codes with a new set (all old codes stop working).
    pub async fn regenerate_backup_codes(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        target: &UserId,
        meta: &RequestMeta,
    ) -> ServiceResult<Vec<String>> {
        let user = self.managed_user(tenant, actor, target, true).await?;
        if !self.has_active_factor(tenant, &user.id).await? {
            return Err(ServiceError::MfaNotEnabled);
        }
        let id = self.backup_factor_id(tenant, &user.id).await?;
        let (codes, install) = self.new_backup_codes(tenant, &user.id, id);
        let id = self.store.replace_backup_codes(&install).await?;
        self.audit(Audit {
            tenant,
            actor,
            meta,
            user: Some(&user.id),
            factor: Some(&id),
            action: "backup_codes.regenerate",
            outcome: "success",
            detail: None,
        })
        .await?;
        Ok(codes)
    }

    /// An open challenge of this tenant, or why it cannot be used.
    async fn open_challenge(&self, tenant: &Tenant, id: &str) -> ServiceResult<Challenge> {
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

    /// A factor of the challenge's user in the state the challenge needs.
    async fn challenge_factor(
        &self,
        tenant: &Tenant,
        challenge: &Challenge,
        factor_id: &str,
    ) -> ServiceResult<Factor> {
        let id = FactorId::parse(factor_id).map_err(|_| ServiceError::FactorNotFound)?;
        let factor = self
            .store
            .get_factor(&tenant.id, &id)
            .await?
            .filter(|f| f.user_id == challenge.user_id && tenant.settings.allows(f.kind))
            .ok_or(ServiceError::FactorNotFound)?;
        let fits = match challenge.purpose {
            ChallengePurpose::SignIn => factor.status == FactorStatus::Active,
            ChallengePurpose::Enroll => {
                factor.status == FactorStatus::Pending && factor.is_current(self.now())
            }
        };
        if fits {
            Ok(factor)
        } else {
            Err(ServiceError::FactorNotFound)
        }
    }

    /// Records the factor chosen for a sign-in challenge; for SMS and email it sends the code
    /// (again: calling it twice is the resend, after the cooldown).
    pub async fn select_factor(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
        factor_id: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<(Challenge, Factor)> {
        let challenge = self.open_challenge(tenant, challenge_id).await?;
        if challenge.purpose != ChallengePurpose::SignIn {
            return Err(ServiceError::InvalidChallenge);
        }
        let factor = self.challenge_factor(tenant, &challenge, factor_id).await?;
        if !self
            .store
            .choose_factor(&challenge.id, &factor.id, self.now())
            .await?
        {
            return Err(ServiceError::InvalidChallenge);
        }
        match factor.kind {
            FactorKind::Totp | FactorKind::BackupCodes => {}
            FactorKind::Sms | FactorKind::EmailOtp => {
                let user = self.get_user(&tenant.id, &challenge.user_id).await?;
                self.send_code(tenant, &user, &factor, Some(&challenge), false, meta)
                    .await?;
            }
        }
        Ok((challenge, factor))
    }

    /// Forced enrollment: starts a factor for the user of an `mfa_setup_required` challenge.
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
        let user = self.get_user(&tenant.id, &challenge.user_id).await?;
        let actor = Actor::SigningIn {
            user_id: user.id.clone(),
        };
        if req.confirmed {
            return Err(ServiceError::Forbidden);
        }
        self.begin_enrollment(tenant, &actor, &user, req, Some(&challenge), meta)
            .await
    }

    /// Completes a challenge with a code: the second factor of a sign-in, or the first
    /// confirmation of a forced enrollment. Issues the session on success.
    pub async fn verify_challenge(
        &self,
        tenant: &Tenant,
        challenge_id: &str,
        factor_id: &str,
        code: &str,
        meta: &RequestMeta,
    ) -> ServiceResult<Verified> {
        let challenge = self.open_challenge(tenant, challenge_id).await?;
        // Another user's factor, or one that does not fit, fails like a wrong code: verify
        // errors never say which part was wrong (SECURITY.md test 58).
        let factor = match self.challenge_factor(tenant, &challenge, factor_id).await {
            Err(ServiceError::FactorNotFound) => return Err(ServiceError::InvalidCode),
            other => other?,
        };
        let actor = Actor::SigningIn {
            user_id: challenge.user_id.clone(),
        };
        // The code is checked here (pure computation); the store then decides, in one
        // transaction, whether the factor is locked, consumes the proof, and counts a
        // failure or forgets the earlier ones (`attempt_sign_in`).
        let mut issued_codes = None;
        let proof = match (challenge.purpose, factor.kind) {
            (ChallengePurpose::SignIn, FactorKind::Totp) => {
                self.totp_step(tenant, &factor, code)?
                    .map(|step| Proof::TotpStep {
                        factor_id: factor.id.clone(),
                        step,
                    })
            }
            (ChallengePurpose::SignIn, FactorKind::BackupCodes) => {
                backup::normalize(code).map(|n| Proof::BackupCode {
                    factor_id: factor.id.clone(),
                    code_hash: self.crypto.hasher.hash(
                        HashPurpose::BackupCode,
                        factor.id.as_str(),
                        n.as_bytes(),
                    ),
                })
            }
            (ChallengePurpose::SignIn, FactorKind::Sms | FactorKind::EmailOtp) => self
                .sent_code_hash(&factor, Some(&challenge.id), code)
                .map(|code_hash| Proof::SentCode {
                    factor_id: factor.id.clone(),
                    code_hash,
                }),
            (ChallengePurpose::Enroll, kind) => {
                let check = match kind {
                    FactorKind::Totp => self.totp_step(tenant, &factor, code)?.map(Check::TotpStep),
                    FactorKind::Sms | FactorKind::EmailOtp => self
                        .sent_code_hash(&factor, Some(&challenge.id), code)
                        .map(|code_hash| Check::SentCode {
                            code_hash,
                            challenge_id: Some(challenge.id.clone()),
                        }),
                    FactorKind::BackupCodes => None,
                };
                match check {
                    Some(check) => {
                        let backup_id = self.backup_factor_id(tenant, &factor.user_id).await?;
                        let (codes, backup) = self.new_backup_codes(tenant, &factor.user_id, backup_id);
                        issued_codes = Some(codes);
                        Some(Proof::Enrollment {
                            factor_id: factor.id.clone(),
                            check,
                            backup: Box::new(backup),
                        })
                    }
                    None => None,
                }
            }
        };
        // Everything the attempt writes goes into one transaction: on success the factor's
        // failures forgotten (only this factor's, NIST SP 800-63B-4 §3.2.2), the audit
        // record and the new session; on failure the counted failure and its audit record.
        let user = self.get_user(&tenant.id, &challenge.user_id).await?;
        let action = match (challenge.purpose, factor.kind) {
            (ChallengePurpose::Enroll, _) => "factor.confirm",
            (ChallengePurpose::SignIn, FactorKind::BackupCodes) => "backup_code.use",
            (ChallengePurpose::SignIn, FactorKind::Totp | FactorKind::Sms | FactorKind::EmailOtp) => {
                "mfa.verify"
            }
        };
        let on_factor = |action, outcome| {
            self.audit_event(
                Audit::on_factor(tenant, &actor, meta, &factor, action, outcome)
                    .with_detail(factor.kind.as_str()),
            )
        };
        let mut amr = challenge.amr.clone();
        amr.push(factor.kind.amr().to_owned());
        amr.push("mfa".to_owned());
        let now = self.now();
        let (session, refresh_hash, tokens) =
            self.new_session(tenant, &user, amr, factor.kind.acr_with_password(), Some(now));
        let attempt = SignInAttempt {
            challenge_id: challenge.id.clone(),
            proof,
            throttle: throttle_key(&factor),
            policy: tenant.settings.factor_throttle(),
            writes: SignInWrites {
                clear_throttle: None,
                audit: Some(on_factor(action, "success")),
                session: Some((session, refresh_hash)),
            },
            on_failure: Some(on_factor("mfa.verify", "failure")),
            on_locked: Some(self.audit_event(Audit::on_factor(
                tenant,
                &actor,
                meta,
                &factor,
                "mfa.attempt",
                "locked",
            ))),
        };
        let backup_installed = match self.store.attempt_sign_in(&attempt, now).await? {
            AttemptOutcome::Completed { backup_installed } => {
                if let Some(event) = &attempt.writes.audit {
                    log_audit(event);
                }
                backup_installed
            }
            AttemptOutcome::ChallengeGone => return Err(ServiceError::InvalidChallenge),
            AttemptOutcome::Rejected => {
                if let Some(event) = &attempt.on_failure {
                    log_audit(event);
                }
                return Err(ServiceError::InvalidCode);
            }
            AttemptOutcome::Locked { retry_after_secs } => {
                if let Some(event) = &attempt.on_locked {
                    log_audit(event);
                }
                return Err(ServiceError::TooManyAttempts { retry_after_secs });
            }
        };
        if challenge.purpose == ChallengePurpose::Enroll {
            self.after_activation(&user, &factor).await?;
        }
        Ok(Verified {
            tokens,
            factor,
            backup_codes: if backup_installed { issued_codes } else { None },
        })
    }

    /// Admin view of a user's factors.
    pub async fn admin_user_mfa(&self, tenant: &Tenant, user: &UserId) -> ServiceResult<Vec<FactorSummary>> {
        let user = self.get_user(&tenant.id, user).await?;
        self.factor_summaries(tenant, &user.id).await
    }

    /// Removes every factor of a user; they enroll again at their next sign-in if MFA is
    /// required.
    pub async fn admin_reset_mfa(
        &self,
        tenant: &Tenant,
        actor: &Actor,
        user: &UserId,
        meta: &RequestMeta,
    ) -> ServiceResult<u64> {
        let user = self.get_user(&tenant.id, user).await?;
        let removed = self.store.reset_mfa(&tenant.id, &user.id, self.now()).await?;
        self.audit(Audit {
            tenant,
            actor,
            meta,
            user: Some(&user.id),
            factor: None,
            action: "mfa.reset",
            outcome: "success",
            detail: Some(format!("{removed} factor(s) removed")),
        })
        .await?;
        Ok(removed)
    }
}

fn check_factor_name(raw: &str) -> ServiceResult<String> {
    match latchkey_core::text::display_name(raw, 100) {
        Ok(name) if !name.is_empty() => Ok(name),
        _ => Err(ServiceError::InvalidInput {
            code: "invalid_name",
            message: "name must be 1 to 100 characters, without control, invisible or bidirectional-control characters".into(),
        }),
    }
}

fn qr_svg(data: &str) -> ServiceResult<String> {
    let code =
        qrcode::QrCode::new(data.as_bytes()).map_err(|e| ServiceError::Internal(format!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build())
}
