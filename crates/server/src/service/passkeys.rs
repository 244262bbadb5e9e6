//! Passwordless sign-in with a passkey: a discoverable WebAuthn credential names its user, and
//! with user verification (which these ceremonies require) it is a multi-factor,
//! phishing-resistant authenticator on its own.
//!
//! The ceremony belongs to nobody until it finishes, so its state is kept in its own row,
//! found by the keyed hash of its challenge (which the answer carries) and taken once. The
//! credential's factor is throttled like any other, its counter advanced in the store, and
//! the user handle the authenticator returns must be its owner's (webauthn-rs does not
//! compare it).

use super::audit::{Actor, Audit, RequestMeta};
use super::factors::webauthn::{self, Asserted};
use super::mfa::throttle_key;
use super::outcome::SignInOutcome;
use super::sessions::TokenPair;
use super::{InputError, ServiceError, ServiceResult};
use crate::App;
use latchkey_core::assurance::{amr_strings, Amr};
use latchkey_core::audit::{AuditAction, AuditOutcome};
use latchkey_core::factor::{FactorKind, FactorStatus};
use latchkey_core::hash::HashPurpose;
use latchkey_core::throttle::ThrottleDecision;
use latchkey_store::model::{SealedColumn, Tenant, User};
use serde_json::Value;

impl App {
    fn ceremony_hash(&self, tenant: &Tenant, challenge: &[u8]) -> String {
        self.crypto
            .hasher
            .hash(HashPurpose::WebauthnChallenge, tenant.id.as_str(), challenge)
    }

    /// Starts a passwordless ceremony: request options for any discoverable credential of
    /// the tenant's relying party (`allowCredentials` empty, so nothing about any user is
    /// said), with `mediation: conditional` for autofill.
    pub async fn passkey_options(&self, tenant: &Tenant, meta: &RequestMeta) -> ServiceResult<Value> {
        if !tenant.settings.allows(FactorKind::Webauthn) {
            return Err(ServiceError::FactorNotAllowed);
        }
        let cx = self.factor_cx(tenant, meta);
        let (options, state) = webauthn::start_discoverable(&cx)?;
        let challenge = options
            .pointer("/publicKey/challenge")
            .and_then(Value::as_str)
            .and_then(webauthn::decode_b64url)
            .ok_or_else(|| ServiceError::Internal("webauthn options without a challenge".into()))?;
        let hash = self.ceremony_hash(tenant, &challenge);
        let sealed = webauthn::seal_state(&cx, SealedColumn::PasskeyCeremonyState, &hash, &state)?;
        let ttl = i64::try_from(webauthn::CEREMONY_SECS).unwrap_or(300) * 1000;
        self.store
            .insert_passkey_ceremony(&tenant.id, &hash, &sealed, cx.now, cx.now + ttl)
            .await?;
        Ok(options)
    }

    /// Finishes a passwordless ceremony. Every refusal is the same `invalid_credential`, so
    /// an answer says nothing about which credentials or users exist.
    pub async fn passkey_signin(
        &self,
        tenant: &Tenant,
        credential: &Value,
        meta: &RequestMeta,
    ) -> ServiceResult<SignInOutcome<(User, TokenPair)>> {
        if !tenant.settings.allows(FactorKind::Webauthn) {
            return Err(ServiceError::InvalidCredential);
        }
        let data = webauthn::client_data(credential).ok_or(InputError::CredentialFormat)?;
        let id = webauthn::asserted_credential_id(credential).ok_or(InputError::CredentialFormat)?;
        let cx = self.factor_cx(tenant, meta);
        // The ceremony is taken first, whatever follows: one answer per ceremony.
        let hash = self.ceremony_hash(tenant, &data.challenge);
        let Some(sealed) = self
            .store
            .take_passkey_ceremony(&tenant.id, &hash, cx.now)
            .await?
        else {
            return Err(ServiceError::InvalidCredential);
        };
        let state = webauthn::open_state(&cx, SealedColumn::PasskeyCeremonyState, &hash, &sealed)?;
        let Some(record) = self.store.find_webauthn_credential(&tenant.id, &id).await? else {
            return Err(ServiceError::InvalidCredential);
        };
        let factor = match self.store.get_factor(&tenant.id, &record.factor_id).await? {
            Some(f) if f.status == FactorStatus::Active && record.clone_suspected_at.is_none() => f,
            _ => return Err(ServiceError::InvalidCredential),
        };
        let user = self.get_user(&tenant.id, &factor.user_id).await?;
        let actor = Actor::SigningIn {
            user_id: user.id.clone(),
        };
        let on_factor =
            |outcome| Audit::on_factor(tenant, &actor, meta, &factor, AuditAction::PasskeySignIn, outcome);
        // The user handle must be the credential owner's (WebAuthn L3 §7.2 step 6).
        let handle = credential
            .pointer("/response/userHandle")
            .and_then(Value::as_str)
            .and_then(webauthn::decode_b64url);
        if handle.as_deref() != Some(webauthn::user_handle(&cx, &user).as_bytes().as_slice()) {
            self.audit(on_factor(AuditOutcome::Failure).with_detail("user handle of another user"))
                .await?;
            return Err(ServiceError::InvalidCredential);
        }
        let key = throttle_key(&factor);
        if let ThrottleDecision::Locked { retry_after_secs } = self
            .store
            .throttle_attempt(&key, &tenant.settings.factor_throttle(), cx.now)
            .await?
        {
            self.audit(on_factor(AuditOutcome::Locked)).await?;
            return Err(ServiceError::TooManyAttempts { retry_after_secs });
        }
        let cred = webauthn::credential(&cx, &factor)?;
        let (sign_count, backup_state, method) =
            match webauthn::finish_authentication(&cx, state, credential, std::slice::from_ref(&cred))? {
                Asserted::Valid {
                    sign_count,
                    backup_state,
                    method,
                } => (sign_count, backup_state, Some(method)),
                Asserted::CounterRegressed { sign_count } => (sign_count, cred.backup_state, None),
                Asserted::Invalid => {
                    self.audit(on_factor(AuditOutcome::Failure)).await?;
                    return Err(ServiceError::InvalidCredential);
                }
            };
        // The counter is the store's to judge: it moves forward, or the credential is flagged.
        let advanced = self
            .store
            .advance_webauthn_counter(&factor.id, sign_count, backup_state, cx.now)
            .await?;
        let Some(method) = method.filter(|_| advanced) else {
            self.audit(on_factor(AuditOutcome::Failure)).await?;
            self.audit_clone_flag(tenant, &actor, meta, &factor).await?;
            return Err(ServiceError::InvalidCredential);
        };
        if !method.amr.contains(&Amr::User) {
            // Discoverable ceremonies require user verification, so the library refuses an
            // answer without it; should that ever change, a key alone is one factor.
            self.audit(on_factor(AuditOutcome::Refused).with_detail("no user verification"))
                .await?;
            return Err(ServiceError::InvalidCredential);
        }
        self.store.throttle_clear(&key).await?;
        let mut amr = amr_strings(&method.amr);
        amr.push(Amr::Mfa.as_str().to_owned());
        let tokens = self
            .start_session(tenant, &user, amr, method.aal.as_str(), Some(cx.now))
            .await?;
        self.audit(on_factor(AuditOutcome::Success)).await?;
        Ok(SignInOutcome::Complete((user, tokens)))
    }
}
