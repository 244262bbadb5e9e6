//! Codes sent by SMS or email (one module, parameterised by channel): the destination and
//! its policy, the code and its message, and recognising a code that comes back.
//!
//! A code is six digits from the CSPRNG, stored only as a keyed hash bound to its factor and
//! challenge, living as long as the tenant says (at most 10 minutes, NIST SP 800-63B-4
//! §3.1.3.2). What to send is a [`CodeIssue`]: the code, its sealed message for the outbox,
//! and every send limit to count, which the store writes in one transaction or not at all.
//! SMS is a restricted authenticator (§3.1.3.3) and a target of SMS pumping: a destination
//! is checked against the tenant's country list and risky number classes at enrollment and
//! again at every send.

use super::EnrollDetails;
use super::{Answer, Begun, ChallengeStart, Cx, FactorModule, Listing, NewFactor, Proven};
use crate::service::outgoing::{queued_message, send_limits, Outgoing};
use crate::service::sealed::{destination_hash, factor_destination, seal_text};
use crate::service::{InputError, ServiceError, ServiceResult};
use latchkey_core::assurance::Method;
use latchkey_core::factor::{Channel, FactorStatus};
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::ChallengeId;
use latchkey_core::otp;
use latchkey_core::phone::Phone;
use latchkey_store::model::{
    Challenge, Check, CodeIssue, Factor, OtpCode, Proof, SealedColumn, User, WebauthnCredential,
};

/// Codes sent through one channel.
pub struct SentCode {
    channel: Channel,
}

pub const SMS: SentCode = SentCode {
    channel: Channel::Sms,
};
pub const EMAIL: SentCode = SentCode {
    channel: Channel::Email,
};

impl FactorModule for SentCode {
    fn begin_enrollment(
        &self,
        cx: &Cx<'_>,
        user: &User,
        factor: Factor,
        request: &NewFactor<'_>,
        challenge: Option<&ChallengeId>,
    ) -> ServiceResult<Begun> {
        let (destination, masked) = match self.channel {
            Channel::Sms => {
                // Without a number, the account's own (nauth-sms-mfa.txt relies on it); the
                // enrollment code proves it either way.
                let phone = sms_destination(cx, request.phone_number.or(request.account_phone))?;
                (phone.e164().to_owned(), phone.masked())
            }
            Channel::Email => (user.email.to_string(), user.email.masked()),
        };
        let factor = Factor {
            destination_sealed: Some(seal_text(
                cx.keyring,
                cx.rng,
                SealedColumn::FactorDestination,
                factor.id.as_str(),
                &destination,
            )?),
            ..factor
        };
        let send = self.issue(cx, user, &factor, &destination, challenge, true)?;
        Ok(Begun {
            factor,
            details: EnrollDetails::Sent {
                channel: self.channel,
                destination: masked,
            },
            send: Some(send),
        })
    }

    fn confirmation(
        &self,
        cx: &Cx<'_>,
        factor: &Factor,
        answer: Answer<'_>,
        challenge: Option<&ChallengeId>,
    ) -> ServiceResult<Option<Check>> {
        let code = answer.code()?;
        Ok(
            code_hash(cx, factor, challenge, code).map(|code_hash| Check::SentCode {
                code_hash,
                challenge_id: challenge.cloned(),
            }),
        )
    }

    fn begin_challenge(
        &self,
        cx: &Cx<'_>,
        user: &User,
        factor: &Factor,
        challenge: &Challenge,
        _offered: &[Factor],
        _credentials: &[WebauthnCredential],
    ) -> ServiceResult<ChallengeStart> {
        let destination = factor_destination(cx.keyring, factor)?;
        if self.channel == Channel::Sms {
            // The policy may have changed since enrollment: checked at every send.
            sms_policy(cx, &Phone::from_trusted(&destination))?;
        }
        Ok(ChallengeStart {
            send: Some(self.issue(cx, user, factor, &destination, Some(&challenge.id), false)?),
            ..ChallengeStart::default()
        })
    }

    fn proof(
        &self,
        cx: &Cx<'_>,
        factor: &Factor,
        answer: Answer<'_>,
        challenge: &Challenge,
    ) -> ServiceResult<Option<Proven>> {
        let code = answer.code()?;
        Ok(
            code_hash(cx, factor, Some(&challenge.id), code).map(|code_hash| Proven {
                proof: Proof::SentCode {
                    factor_id: factor.id.clone(),
                    code_hash,
                },
                method: self.method(factor),
            }),
        )
    }

    fn method(&self, factor: &Factor) -> Method {
        Method {
            amr: vec![factor.kind.amr()],
            aal: factor.kind.acr_with_password(),
        }
    }

    fn proves_phone(&self, cx: &Cx<'_>, factor: &Factor) -> ServiceResult<Option<String>> {
        Ok(match self.channel {
            Channel::Sms => Some(destination_hash(
                cx.hasher,
                &factor_destination(cx.keyring, factor)?,
            )),
            Channel::Email => None,
        })
    }

    fn listing(&self) -> Listing {
        Listing::LastDelivery
    }
}

impl SentCode {
    /// Everything sending a code to `destination` for `factor` writes, for the store to do
    /// in one transaction: the code (as a keyed hash) bound to `challenge` (or to the
    /// enrollment), its sealed message, the send limits to count, the resend cooldown, and
    /// statistics; with the factor itself when `new_factor`.
    fn issue(
        &self,
        cx: &Cx<'_>,
        user: &User,
        factor: &Factor,
        destination: &str,
        challenge: Option<&ChallengeId>,
        new_factor: bool,
    ) -> ServiceResult<CodeIssue> {
        let (tenant, s, now) = (cx.tenant, &cx.tenant.settings, cx.now);
        let channel = self.channel;
        // Limits count by the keyed hash: the destination itself is never a key in the database.
        let destination_key = destination_hash(cx.hasher, destination);
        let expiry_secs = s.otp_expiry_secs(channel);
        let code = otp::generate(cx.rng);
        let code_hash = code_hash(cx, factor, challenge, &code)
            .ok_or_else(|| ServiceError::Internal("generated code is malformed".into()))?;
        let minutes = expiry_secs.div_ceil(60);
        let app_name = cx.app_name.as_str();
        let payload = match channel {
            Channel::Sms => {
                // A code confirming a new number is worded as the tenant words enrollments.
                let template = match factor.status {
                    FactorStatus::Pending => s.sms_enrollment_template.as_deref().unwrap_or(&s.sms_template),
                    FactorStatus::Active => &s.sms_template,
                };
                serde_json::json!({ "body": otp::render(template, &code, app_name, minutes, false) })
            }
            Channel::Email => serde_json::json!({
                "subject": otp::render(&s.email_subject_template, &code, app_name, minutes, false),
                "text": otp::render(&s.email_text_template, &code, app_name, minutes, false),
                "html": otp::render(&s.email_html_template, &code, app_name, minutes, true),
            }),
        };
        let expires_at = now + i64::try_from(expiry_secs).unwrap_or(600) * 1000;
        let message = queued_message(
            cx.keyring,
            cx.rng,
            now,
            Outgoing {
                tenant: &tenant.id,
                user: &user.id,
                factor: Some(&factor.id),
                channel,
                destination,
                payload: &payload,
                expires_at,
            },
        )?;
        let limits = send_limits(&s.send_limits, &destination_key, &user.id, &tenant.id, cx.ip);
        let cooldown_key = match challenge {
            Some(c) => format!("chl:{c}:{}", factor.id),
            None => format!("enroll:{}:{}", user.id, factor.kind.as_str()),
        };
        let mut stats = vec![("codes_issued", channel.as_str().to_owned())];
        if channel == Channel::Sms {
            let region = Phone::from_trusted(destination)
                .region()
                .unwrap_or("unknown")
                .to_owned();
            stats.push(("sms_by_country", region));
        }
        Ok(CodeIssue {
            tenant_id: tenant.id.clone(),
            new_factor: new_factor.then(|| factor.clone()),
            code: OtpCode {
                id: format!("otp_{}", latchkey_core::ids::ulid(now, cx.rng)),
                factor_id: factor.id.clone(),
                challenge_id: challenge.cloned(),
                code_hash,
                created_at: now,
                expires_at,
            },
            message,
            limits,
            cooldown_key,
            cooldown_secs: i64::try_from(s.otp_resend_cooldown_secs).unwrap_or(60),
            stats,
        })
    }
}

/// Parses an SMS destination and checks it against the tenant's policy.
pub fn sms_destination(cx: &Cx<'_>, raw: Option<&str>) -> ServiceResult<Phone> {
    let raw = raw.ok_or(InputError::PhoneNumberMissing)?;
    let phone = Phone::parse(raw).map_err(InputError::from)?;
    sms_policy(cx, &phone)?;
    Ok(phone)
}

/// The tenant's SMS destination policy: the country list, then the risky number classes
/// (satellite, international networks, premium rate…: SMS pumping, SECURITY.md tests 19 and
/// 76), refused unless allowed by name. The flow counts each refusal by reason.
fn sms_policy(cx: &Cx<'_>, phone: &Phone) -> ServiceResult<()> {
    let s = &cx.tenant.settings;
    if !s.sms_region_allowed(phone.region()) {
        return Err(ServiceError::CountryNotAllowed);
    }
    match phone.risk() {
        Some(class) if !s.sms_number_class_allowed(Some(class)) => {
            Err(ServiceError::NumberTypeNotAllowed(class))
        }
        _ => Ok(()),
    }
}

/// The keyed hash a sent code is stored under, bound to its factor and challenge; `None` for
/// anything that is not six ASCII digits.
fn code_hash(cx: &Cx<'_>, factor: &Factor, challenge: Option<&ChallengeId>, code: &str) -> Option<String> {
    if !otp::well_formed(code) {
        return None;
    }
    let context = format!("{}:{}", factor.id, challenge.map(|c| c.as_str()).unwrap_or(""));
    Some(
        cx.hasher
            .hash(HashPurpose::OneTimeCode, &context, code.as_bytes()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::factors::testing::{Fixture, NOW};
    use crate::service::sealed::open_text;
    use latchkey_core::factor::FactorKind;

    fn request(phone: Option<&str>) -> NewFactor<'_> {
        NewFactor {
            phone_number: phone,
            account_phone: Some("+14155550100"),
            credentials: &[],
        }
    }

    #[test]
    fn an_sms_enrollment_seals_its_number_and_sends_one_bound_code() {
        let fx = Fixture::new();
        let cx = fx.cx(NOW);
        let user = fx.user();
        let begun = SMS
            .begin_enrollment(
                &cx,
                &user,
                fx.pending(&user, FactorKind::Sms),
                &request(Some("+1 415 555 2671")),
                None,
            )
            .unwrap();
        let sealed = begun.factor.destination_sealed.clone().unwrap();
        assert!(!sealed.contains("4155552671"));
        let issue = begun.send.unwrap();
        assert!(issue.new_factor.is_some());
        assert_eq!(issue.code.challenge_id, None);
        assert!(!issue.message.destination_sealed.contains("4155552671"));
        assert!(issue.limits.iter().all(|l| !l.subject.contains("4155552671")));
        assert!(issue.limits.iter().any(|l| l.scope == "ip_daily"));
        // The code in the (sealed) message confirms the factor, and only for the enrollment.
        let payload = open_text(
            cx.keyring,
            SealedColumn::OutboxPayload,
            &issue.message.id,
            &issue.message.payload_sealed,
        )
        .unwrap();
        let code: String = payload.chars().filter(char::is_ascii_digit).take(6).collect();
        let check = SMS
            .confirmation(&cx, &begun.factor, Answer::Code(&code), None)
            .unwrap()
            .unwrap();
        assert_eq!(
            check,
            Check::SentCode {
                code_hash: issue.code.code_hash.clone(),
                challenge_id: None
            }
        );
        let chl = fx.challenge(&fx.user());
        let elsewhere = SMS
            .proof(&cx, &begun.factor, Answer::Code(&code), &chl)
            .unwrap()
            .map(|p| p.proof);
        assert_ne!(
            elsewhere,
            Some(Proof::SentCode {
                factor_id: begun.factor.id.clone(),
                code_hash: issue.code.code_hash
            }),
            "bound to the enrollment, not to a challenge"
        );
        assert_eq!(
            SMS.proves_phone(&cx, &begun.factor).unwrap(),
            Some(destination_hash(cx.hasher, "+14155552671"))
        );
    }

    #[test]
    fn the_account_phone_is_used_and_policy_refuses_before_anything_is_sent() {
        let mut fx = Fixture::new();
        let user = fx.user();
        let begun = SMS
            .begin_enrollment(
                &fx.cx(NOW),
                &user,
                fx.pending(&user, FactorKind::Sms),
                &request(None),
                None,
            )
            .unwrap();
        assert!(
            matches!(begun.details, EnrollDetails::Sent { ref destination, .. } if destination == "+1***0100")
        );
        fx.tenant.settings.sms_allowed_countries = Some(vec!["GB".into()]);
        let refused = SMS.begin_enrollment(
            &fx.cx(NOW),
            &user,
            fx.pending(&user, FactorKind::Sms),
            &request(Some("+14155552671")),
            None,
        );
        assert!(matches!(refused, Err(ServiceError::CountryNotAllowed)));
        let satellite = SMS.begin_enrollment(
            &Fixture::new().cx(NOW),
            &user,
            fx.pending(&user, FactorKind::Sms),
            &request(Some("+881612345678")),
            None,
        );
        assert!(
            matches!(satellite, Err(ServiceError::NumberTypeNotAllowed(_))),
            "{:?}",
            satellite.err()
        );
    }

    #[test]
    fn codes_must_be_six_ascii_digits() {
        let fx = Fixture::new();
        let cx = fx.cx(NOW);
        let user = fx.user();
        let f = fx.pending(&user, FactorKind::EmailOtp);
        for bad in ["12345", "1234567", "１２３４５６", "12 456", ""] {
            assert_eq!(
                EMAIL.confirmation(&cx, &f, Answer::Code(bad), None).unwrap(),
                None,
                "{bad:?}"
            );
        }
    }
}
