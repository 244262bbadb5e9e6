//! Codes sent by SMS and email: choosing and checking the destination, issuing a code with
//! its outbox message under every send limit, and recognising a code that comes back.
//!
//! Issuing writes the code (as a keyed hash), the sealed message and the limit counters in
//! one transaction, then wakes the outbox worker: the request never waits for a provider.

use super::audit::{Actor, Audit, RequestMeta};
use super::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::clock::UnixMillis;
use latchkey_core::factor::{Channel, FactorKind};
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::ChallengeId;
use latchkey_core::otp;
use latchkey_core::phone::Phone;
use latchkey_store::model::{
    Challenge, CodeIssue, DeliveryStatus, Factor, IssueOutcome, OtpCode, OutboxMessage, SealedColumn,
    SendLimit, Tenant, User,
};

impl App {
    /// Parses an SMS destination and checks it against the tenant's country list and allowed
    /// number classes, before any provider is involved. Refusals are counted for the
    /// operator.
    pub(super) async fn sms_destination(&self, tenant: &Tenant, raw: Option<&str>) -> ServiceResult<Phone> {
        let raw = raw.ok_or_else(|| ServiceError::InvalidInput {
            code: "invalid_phone_number",
            message: "phone_number is required for an sms factor".into(),
        })?;
        let phone = Phone::parse(raw).map_err(|e| ServiceError::InvalidInput {
            code: "invalid_phone_number",
            message: e.to_string(),
        })?;
        self.check_sms_policy(tenant, &phone).await?;
        Ok(phone)
    }

    /// The tenant's SMS destination policy: the country list, then the risky number classes
    /// (satellite, international networks, premium rate…: SMS pumping, SECURITY.md tests 19
    /// and 76), refused unless allowed by name. Each refusal is counted by reason.
    async fn check_sms_policy(&self, tenant: &Tenant, phone: &Phone) -> ServiceResult<()> {
        if !tenant.settings.sms_region_allowed(phone.region()) {
            self.store.bump_stat(&tenant.id, "sms_refused", "country").await?;
            return Err(ServiceError::CountryNotAllowed);
        }
        if let Some(class) = phone.risk() {
            if !tenant.settings.sms_number_class_allowed(Some(class)) {
                self.store
                    .bump_stat(&tenant.id, "sms_refused", class.as_str())
                    .await?;
                return Err(ServiceError::NumberTypeNotAllowed(class));
            }
        }
        Ok(())
    }

    /// The keyed hash a sent code is stored under, bound to its factor and challenge; `None`
    /// for anything that is not six ASCII digits.
    pub(super) fn sent_code_hash(
        &self,
        factor: &Factor,
        challenge: Option<&ChallengeId>,
        code: &str,
    ) -> Option<String> {
        if !otp::well_formed(code) {
            return None;
        }
        let context = format!("{}:{}", factor.id, challenge.map(|c| c.as_str()).unwrap_or(""));
        Some(
            self.crypto
                .hasher
                .hash(HashPurpose::OneTimeCode, &context, code.as_bytes()),
        )
    }

    /// After a factor becomes active: an SMS factor proves the user's phone number.
    pub(super) async fn after_activation(&self, user: &User, factor: &Factor) -> ServiceResult<()> {
        match factor.kind {
            FactorKind::Sms => {
                let number = self.factor_destination(factor)?;
                self.store
                    .mark_phone_verified(&user.id, &self.destination_hash(&number), self.now())
                    .await?;
            }
            FactorKind::Totp | FactorKind::BackupCodes | FactorKind::EmailOtp => {}
        }
        Ok(())
    }

    /// The name messages show.
    pub fn app_name(&self, tenant: &Tenant) -> String {
        match &tenant.settings.app_name {
            Some(name) => name.clone(),
            None if tenant.id == self.default_tenant => self.config.totp_issuer.clone(),
            None => tenant.name.clone(),
        }
    }

    /// Issues a code for `factor` (inserting it, pending, when `new_factor`), bound to
    /// `challenge` if any, and queues its message. Refuses over any send limit, inside the
    /// resend cooldown, or for a country or number class the tenant does not allow, before
    /// anything is sent. Returns when the code expires (the challenge is kept open at least
    /// that long).
    pub(super) async fn send_code(
        &self,
        tenant: &Tenant,
        user: &User,
        factor: &Factor,
        challenge: Option<&Challenge>,
        new_factor: bool,
        meta: &RequestMeta,
    ) -> ServiceResult<UnixMillis> {
        let channel = factor.kind.channel().ok_or_else(|| {
            ServiceError::Internal(format!("{} factors receive no codes", factor.kind.as_str()))
        })?;
        let destination = self.factor_destination(factor)?;
        // Limits count by the keyed hash: the number itself is never a key in the database.
        let destination_key = self.destination_hash(&destination);
        let region = match channel {
            Channel::Sms => {
                let phone = Phone::from_trusted(&destination);
                // The policy may have changed since enrollment: check at every send.
                self.check_sms_policy(tenant, &phone).await?;
                Some(phone.region().unwrap_or("unknown").to_owned())
            }
            Channel::Email => None,
        };
        let now = self.now();
        let expiry_secs = tenant.settings.otp_expiry_secs(channel);
        let code = otp::generate(self.rng.as_ref());
        let challenge_id = challenge.map(|c| c.id.clone());
        let code_hash = self
            .sent_code_hash(factor, challenge_id.as_ref(), &code)
            .ok_or_else(|| ServiceError::Internal("generated code is malformed".into()))?;
        let app_name = self.app_name(tenant);
        let minutes = expiry_secs.div_ceil(60);
        let s = &tenant.settings;
        let payload = match channel {
            Channel::Sms => {
                serde_json::json!({ "body": otp::render(&s.sms_template, &code, &app_name, minutes, false) })
            }
            Channel::Email => serde_json::json!({
                "subject": otp::render(&s.email_subject_template, &code, &app_name, minutes, false),
                "text": otp::render(&s.email_text_template, &code, &app_name, minutes, false),
                "html": otp::render(&s.email_html_template, &code, &app_name, minutes, true),
            }),
        };
        let message_id = format!("msg_{}", latchkey_core::ids::ulid(now, self.rng.as_ref()));
        let payload_bytes = zeroize::Zeroizing::new(payload.to_string().into_bytes());
        let payload_sealed = self
            .crypto
            .keyring
            .seal(
                &payload_bytes,
                &SealedColumn::OutboxPayload.aad(&message_id),
                self.rng.as_ref(),
            )
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let expires_at = now + i64::try_from(expiry_secs).unwrap_or(600) * 1000;
        let destination_sealed =
            self.seal_text(SealedColumn::OutboxDestination, &message_id, &destination)?;
        let l = &s.send_limits;
        let mut limits = vec![
            limit("destination_hourly", &destination_key, 3600, l.destination_hourly),
            limit("destination_daily", &destination_key, 86_400, l.destination_daily),
            limit("user_hourly", user.id.as_str(), 3600, l.user_hourly),
            limit("user_daily", user.id.as_str(), 86_400, l.user_daily),
            limit("tenant_hourly", tenant.id.as_str(), 3600, l.tenant_hourly),
            limit("tenant_daily", tenant.id.as_str(), 86_400, l.tenant_daily),
        ];
        if let Some(ip) = &meta.ip {
            limits.push(limit("ip_hourly", ip, 3600, l.ip_hourly));
            limits.push(limit("ip_daily", ip, 86_400, l.ip_daily));
        }
        let cooldown_key = match challenge {
            Some(c) => format!("chl:{}:{}", c.id, factor.id),
            None => format!("enroll:{}:{}", user.id, factor.kind.as_str()),
        };
        let mut stats = vec![("codes_issued", channel.as_str().to_owned())];
        if let Some(region) = region {
            stats.push(("sms_by_country", region));
        }
        let issue = CodeIssue {
            tenant_id: tenant.id.clone(),
            new_factor: new_factor.then(|| factor.clone()),
            code: OtpCode {
                id: format!("otp_{}", latchkey_core::ids::ulid(now, self.rng.as_ref())),
                factor_id: factor.id.clone(),
                challenge_id,
                code_hash,
                created_at: now,
                expires_at,
            },
            message: OutboxMessage {
                id: message_id,
                tenant_id: tenant.id.clone(),
                user_id: user.id.clone(),
                factor_id: factor.id.clone(),
                channel,
                destination_sealed,
                payload_sealed,
                status: DeliveryStatus::Queued,
                attempts: 0,
                next_attempt_at: now,
                locked_until: None,
                expires_at,
                last_error: None,
                provider: None,
                provider_message_id: None,
                created_at: now,
                updated_at: now,
            },
            limits,
            cooldown_key,
            cooldown_secs: i64::try_from(s.otp_resend_cooldown_secs).unwrap_or(60),
            stats,
        };
        let actor = Actor::SigningIn {
            user_id: user.id.clone(),
        };
        let refused = |reason: &'static str| {
            Audit::on_factor(tenant, &actor, meta, factor, "code.send", "refused").with_detail(reason)
        };
        match self.store.issue_code(&issue, now).await? {
            IssueOutcome::Issued => {
                self.outbox_wakeup.notify_one();
                self.audit(
                    Audit::on_factor(tenant, &actor, meta, factor, "code.send", "queued")
                        .with_detail(channel.as_str()),
                )
                .await?;
                Ok(expires_at)
            }
            IssueOutcome::Cooldown { retry_after_secs } => {
                self.store
                    .bump_stat(&tenant.id, "codes_refused", "cooldown")
                    .await?;
                self.audit(refused("cooldown")).await?;
                Err(ServiceError::RateLimited { retry_after_secs })
            }
            IssueOutcome::Limited {
                scope,
                retry_after_secs,
            } => {
                self.store.bump_stat(&tenant.id, "codes_refused", scope).await?;
                self.audit(refused(scope)).await?;
                Err(ServiceError::RateLimited { retry_after_secs })
            }
        }
    }
}

fn limit(scope: &'static str, subject: &str, window_secs: i64, limit: u32) -> SendLimit {
    SendLimit {
        scope,
        subject: subject.to_owned(),
        window_secs,
        limit,
    }
}
