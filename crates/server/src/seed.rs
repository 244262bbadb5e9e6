//! Bulk seeding for benchmarks and size tests (`latchkey seed`): users with one active TOTP
//! factor each and pending sign-in challenges, written through the store in large
//! transactions, and a manifest the load generator reads (ids and TOTP secrets: test data
//! only, never run this against a production database).

use crate::service::{ServiceError, ServiceResult};
use crate::App;
use latchkey_core::email::Email;
use latchkey_core::factor::{ChallengePurpose, FactorKind, FactorStatus};
use latchkey_core::ids::{ChallengeId, FactorId, UserId};
use latchkey_core::{rand, totp};
use latchkey_store::model::{Challenge, Factor, SealedColumn, User};
use serde::{Deserialize, Serialize};

/// The password every seeded user has.
pub const SEED_PASSWORD: &str = "bench-password-123";

/// One seeded user, as the load generator needs it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SeededUser {
    pub email: String,
    pub user_id: String,
    pub factor_id: String,
    pub totp_secret: String,
    pub challenges: Vec<String>,
}

impl App {
    /// Seeds `users` users (emails `{prefix}{i}@bench.test`), each with an active TOTP factor
    /// and `challenges` pending sign-in challenges valid for a day. Returns the manifest.
    pub async fn seed(
        &self,
        prefix: &str,
        users: usize,
        challenges: usize,
    ) -> ServiceResult<Vec<SeededUser>> {
        let tenant = self.load_tenant(&self.default_tenant).await?;
        let params_hash = {
            let normalized = latchkey_core::password::normalize(SEED_PASSWORD);
            self.passwords
                .hash(&normalized, self.rng.as_ref())
                .map_err(|e| ServiceError::Internal(e.to_string()))?
        };
        let now = self.now();
        let rng = self.rng.as_ref();
        let mut rows_u = Vec::with_capacity(users);
        let mut rows_f = Vec::with_capacity(users);
        let mut rows_c = Vec::with_capacity(users * challenges);
        let mut manifest = Vec::with_capacity(users);
        for i in 0..users {
            let email = Email::parse(&format!("{prefix}{i}@bench.test"))
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            let user_id = UserId::generate(now, rng);
            let factor_id = FactorId::generate(now, rng);
            let secret: [u8; totp::SECRET_BYTES] = rand::bytes(rng);
            let sealed = self
                .crypto
                .keyring
                .seal(&secret, &SealedColumn::FactorSecret.aad(factor_id.as_str()), rng)
                .map_err(|e| ServiceError::Internal(e.to_string()))?;
            let mut ids = Vec::with_capacity(challenges);
            for _ in 0..challenges {
                let id = ChallengeId::generate(now, rng);
                ids.push(id.to_string());
                rows_c.push(Challenge {
                    id,
                    tenant_id: tenant.id.clone(),
                    user_id: user_id.clone(),
                    purpose: ChallengePurpose::SignIn,
                    amr: vec!["pwd".into()],
                    factor_id: None,
                    created_at: now,
                    expires_at: now + 86_400_000,
                    completed_at: None,
                    state_sealed: None,
                });
            }
            manifest.push(SeededUser {
                email: email.to_string(),
                user_id: user_id.to_string(),
                factor_id: factor_id.to_string(),
                totp_secret: totp::base32_encode(&secret),
                challenges: ids,
            });
            rows_f.push(Factor {
                id: factor_id,
                tenant_id: tenant.id.clone(),
                user_id: user_id.clone(),
                kind: FactorKind::Totp,
                name: Some("bench".into()),
                status: FactorStatus::Active,
                secret_sealed: Some(sealed),
                last_step: None,
                destination_sealed: None,
                enrolled_by: None,
                algorithm: None,
                created_at: now,
                expires_at: None,
                confirmed_at: Some(now),
                last_used_at: None,
            });
            rows_u.push(User {
                id: user_id,
                tenant_id: tenant.id.clone(),
                email,
                password_hash: params_hash.clone(),
                name: None,
                phone_sealed: None,
                phone_hash: None,
                phone_verified_at: None,
                email_verified_at: None,
                created_at: now,
                updated_at: now,
            });
        }
        self.store.seed(&rows_u, &rows_f, &rows_c).await?;
        Ok(manifest)
    }
}
