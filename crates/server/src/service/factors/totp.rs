//! TOTP factors (RFC 6238): a 160-bit secret sealed on the factor row, shown once as Base32,
//! an `otpauth://` URI and a QR code; codes checked against the server clock only, in the
//! tenant's window, never at or before the factor's last accepted step (the store advances
//! that step only forward, in the transaction that completes the challenge).

use super::EnrollDetails;
use super::{Answer, Begun, Cx, FactorModule, NewFactor, Proven};
use crate::service::{ServiceError, ServiceResult};
use latchkey_core::assurance::Method;
use latchkey_core::ids::ChallengeId;
use latchkey_core::{rand, totp};
use latchkey_store::model::{Challenge, Check, Factor, Proof, SealedColumn, User};
use zeroize::Zeroizing;

pub struct Totp;

impl FactorModule for Totp {
    fn begin_enrollment(
        &self,
        cx: &Cx<'_>,
        user: &User,
        factor: Factor,
        _request: &NewFactor<'_>,
        _challenge: Option<&ChallengeId>,
    ) -> ServiceResult<Begun> {
        let secret: Zeroizing<[u8; totp::SECRET_BYTES]> = Zeroizing::new(rand::bytes(cx.rng));
        let sealed = cx
            .keyring
            .seal(
                &*secret,
                &SealedColumn::FactorSecret.aad(factor.id.as_str()),
                cx.rng,
            )
            .map_err(|e| ServiceError::Internal(e.to_string()))?;
        // The tenant's algorithm now; the factor keeps it, whatever the setting becomes.
        let alg = cx.tenant.settings.totp_algorithm;
        let uri = Zeroizing::new(totp::otpauth_uri(&cx.issuer, user.email.as_str(), &*secret, alg));
        let qr_code_svg = qr_svg(&uri)?;
        Ok(Begun {
            factor: Factor {
                secret_sealed: Some(sealed),
                algorithm: Some(alg.as_str().to_owned()),
                ..factor
            },
            details: EnrollDetails::Totp {
                secret_base32: Zeroizing::new(totp::base32_encode(&*secret)),
                otpauth_uri: uri,
                qr_code_svg,
            },
            send: None,
        })
    }

    fn confirmation(
        &self,
        cx: &Cx<'_>,
        factor: &Factor,
        answer: Answer<'_>,
        _challenge: Option<&ChallengeId>,
    ) -> ServiceResult<Option<Check>> {
        Ok(step(cx, factor, answer)?.map(Check::TotpStep))
    }

    fn proof(
        &self,
        cx: &Cx<'_>,
        factor: &Factor,
        answer: Answer<'_>,
        _challenge: &Challenge,
    ) -> ServiceResult<Option<Proven>> {
        Ok(step(cx, factor, answer)?.map(|step| Proven {
            proof: Proof::TotpStep {
                factor_id: factor.id.clone(),
                step,
            },
            method: self.method(factor),
        }))
    }

    fn method(&self, factor: &Factor) -> Method {
        Method {
            amr: vec![factor.kind.amr()],
            aal: factor.kind.acr_with_password(),
        }
    }
}

/// The time step a code proves for `factor`, if any (server clock, tenant window, never at or
/// before the last accepted step).
fn step(cx: &Cx<'_>, factor: &Factor, answer: Answer<'_>) -> ServiceResult<Option<i64>> {
    let code = answer.code()?;
    let sealed = factor
        .secret_sealed
        .as_deref()
        .ok_or_else(|| ServiceError::Internal("TOTP factor without a secret".into()))?;
    let secret = cx
        .keyring
        .open(sealed, &SealedColumn::FactorSecret.aad(factor.id.as_str()))
        .map_err(|e| ServiceError::Internal(format!("cannot open factor secret: {e}")))?;
    // Factors from before algorithms were stored are SHA-1.
    let alg = match factor.algorithm.as_deref() {
        None => totp::Algorithm::Sha1,
        Some(name) => totp::Algorithm::parse(name)
            .ok_or_else(|| ServiceError::Internal(format!("unknown TOTP algorithm {name:?}")))?,
    };
    Ok(totp::verify(
        alg,
        &secret,
        code,
        cx.now,
        cx.tenant.settings.totp_window,
        factor.last_step,
    ))
}

fn qr_svg(data: &str) -> ServiceResult<String> {
    let code =
        qrcode::QrCode::new(data.as_bytes()).map_err(|e| ServiceError::Internal(format!("QR code: {e}")))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::factors::testing::{Fixture, NOW};
    use latchkey_core::factor::FactorKind;

    fn enrolled(fx: &Fixture) -> (Factor, Vec<u8>) {
        let user = fx.user();
        let pending = fx.pending(&user, FactorKind::Totp);
        let request = NewFactor {
            phone_number: None,
            account_phone: None,
            credentials: &[],
        };
        let begun = Totp
            .begin_enrollment(&fx.cx(NOW), &user, pending, &request, None)
            .unwrap();
        let EnrollDetails::Totp {
            secret_base32,
            otpauth_uri,
            ..
        } = begun.details
        else {
            panic!("TOTP details")
        };
        assert!(otpauth_uri.contains("issuer=Acme&algorithm=SHA1"));
        assert!(begun.send.is_none());
        (begun.factor, totp::base32_decode(&secret_base32).unwrap())
    }

    #[test]
    fn the_sealed_secret_confirms_and_proves_only_within_the_window() {
        let fx = Fixture::new();
        let (factor, secret) = enrolled(&fx);
        assert_eq!(secret.len(), 20);
        let sealed = factor.secret_sealed.clone().unwrap();
        assert!(!sealed.contains(&totp::base32_encode(&secret)), "sealed at rest");
        let cx = fx.cx(NOW);
        let now_step = totp::step_at(NOW);
        let code = |offset: i64| totp::code_at_step(totp::Algorithm::Sha1, &secret, now_step + offset);
        let confirm = |c: &str| Totp.confirmation(&cx, &factor, Answer::Code(c), None).unwrap();
        assert_eq!(confirm(&code(0)), Some(Check::TotpStep(now_step)));
        assert_eq!(confirm(&code(1)), Some(Check::TotpStep(now_step + 1)));
        assert_eq!(confirm(&code(2)), None, "outside the window");
        assert_eq!(confirm("12345"), None);
        let chl = fx.challenge(&fx.user());
        let used = Factor {
            last_step: Some(now_step),
            ..factor.clone()
        };
        assert_eq!(
            Totp.proof(&cx, &used, Answer::Code(&code(0)), &chl)
                .unwrap()
                .map(|p| p.proof),
            None,
            "never at or before the last accepted step"
        );
        assert_eq!(
            Totp.proof(&cx, &used, Answer::Code(&code(1)), &chl)
                .unwrap()
                .map(|p| p.proof),
            Some(Proof::TotpStep {
                factor_id: factor.id.clone(),
                step: now_step + 1
            })
        );
        assert_eq!(Totp.method(&factor).amr, vec![latchkey_core::assurance::Amr::Otp]);
    }

    #[test]
    fn a_secret_copied_to_another_factor_does_not_open() {
        let fx = Fixture::new();
        let (factor, _) = enrolled(&fx);
        let (other, _) = enrolled(&fx);
        let stolen = Factor {
            secret_sealed: factor.secret_sealed.clone(),
            ..other
        };
        assert!(Totp
            .confirmation(&fx.cx(NOW), &stolen, Answer::Code("000000"), None)
            .is_err());
    }
}
