//! Backup codes (NIST SP 800-63B-4 §3.1.2, §4.2.1.1): ten single-use look-up secrets,
//! installed with a user's first factor and replaced all at once on regeneration. Stored only
//! as keyed hashes bound to the owning factor; each is consumed by one conditional write in
//! the transaction that completes the challenge. Not enrolled on their own.

use super::{Answer, Begun, Cx, FactorModule, Listing, NewFactor, Proven};
use crate::service::{ServiceError, ServiceResult};
use latchkey_core::assurance::Method;
use latchkey_core::audit::AuditAction;
use latchkey_core::backup;
use latchkey_core::factor::{FactorKind, FactorStatus};
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::{ChallengeId, FactorId, UserId};
use latchkey_store::model::{BackupInstall, Challenge, Check, Factor, Proof, User};

pub struct BackupCodes;

impl FactorModule for BackupCodes {
    fn begin_enrollment(
        &self,
        _cx: &Cx<'_>,
        _user: &User,
        _factor: Factor,
        _request: &NewFactor<'_>,
        _challenge: Option<&ChallengeId>,
    ) -> ServiceResult<Begun> {
        // They come with the first factor (and on regeneration), never on their own.
        Err(ServiceError::FactorNotAllowed)
    }

    fn confirmation(
        &self,
        _cx: &Cx<'_>,
        _factor: &Factor,
        _answer: Answer<'_>,
        _challenge: Option<&ChallengeId>,
    ) -> ServiceResult<Option<Check>> {
        Ok(None)
    }

    fn proof(
        &self,
        cx: &Cx<'_>,
        factor: &Factor,
        answer: Answer<'_>,
        _challenge: &Challenge,
    ) -> ServiceResult<Option<Proven>> {
        let code = answer.code()?;
        Ok(backup::normalize(code).map(|n| Proven {
            proof: Proof::BackupCode {
                factor_id: factor.id.clone(),
                code_hash: code_hash(cx, &factor.id, &n),
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

    fn sign_in_action(&self) -> AuditAction {
        AuditAction::BackupCodeUse
    }

    fn listing(&self) -> Listing {
        Listing::RemainingCodes
    }
}

/// A code's keyed hash, bound to the factor that owns the set.
fn code_hash(cx: &Cx<'_>, owner: &FactorId, normalized: &str) -> String {
    cx.hasher
        .hash(HashPurpose::BackupCode, owner.as_str(), normalized.as_bytes())
}

/// A fresh set of codes owned by `factor_id` (the user's backup-codes factor, existing or
/// new): the codes for the user to read once, and what the store installs.
pub fn new_set(cx: &Cx<'_>, user: &UserId, factor_id: FactorId) -> (Vec<String>, BackupInstall) {
    let codes = backup::generate(cx.rng);
    let code_hashes = codes
        .iter()
        .filter_map(|c| backup::normalize(c))
        .map(|n| code_hash(cx, &factor_id, &n))
        .collect();
    let factor = Factor {
        id: factor_id,
        tenant_id: cx.tenant.id.clone(),
        user_id: user.clone(),
        kind: FactorKind::BackupCodes,
        name: None,
        status: FactorStatus::Active,
        secret_sealed: None,
        last_step: None,
        destination_sealed: None,
        enrolled_by: None,
        algorithm: None,
        created_at: cx.now,
        expires_at: None,
        confirmed_at: Some(cx.now),
        last_used_at: None,
    };
    (codes, BackupInstall { factor, code_hashes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::factors::testing::{Fixture, NOW};

    #[test]
    fn a_set_proves_with_any_of_its_codes_however_written() {
        let fx = Fixture::new();
        let cx = fx.cx(NOW);
        let user = fx.user();
        let id = FactorId::generate(NOW, &latchkey_core::rand::OsRandom);
        let (codes, install) = new_set(&cx, &user.id, id.clone());
        assert_eq!((codes.len(), install.code_hashes.len()), (10, 10));
        assert!(install
            .code_hashes
            .iter()
            .all(|h| !codes.iter().any(|c| h.contains(c))));
        let chl = fx.challenge(&fx.user());
        let messy = codes[3].to_lowercase().replace('-', " ");
        let Some(Proof::BackupCode { code_hash, .. }) = BackupCodes
            .proof(&cx, &install.factor, Answer::Code(&messy), &chl)
            .unwrap()
            .map(|p| p.proof)
        else {
            panic!("a proof")
        };
        assert_eq!(code_hash, install.code_hashes[3]);
        assert_eq!(
            BackupCodes
                .proof(&cx, &install.factor, Answer::Code("not-a-code"), &chl)
                .unwrap()
                .map(|p| p.proof),
            None
        );
        assert!(BackupCodes
            .begin_enrollment(
                &cx,
                &user,
                install.factor.clone(),
                &NewFactor {
                    phone_number: None,
                    account_phone: None,
                    credentials: &[],
                },
                None
            )
            .is_err());
    }
}
