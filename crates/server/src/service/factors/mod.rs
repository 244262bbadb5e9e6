//! One module per factor kind, each with the same verbs: begin an enrollment, say what
//! confirms it, begin a sign-in challenge, say what an answer proves, and name the
//! authentication method a proof is. [`module`] is the one place a kind is mapped to its
//! module; the kind-independent flow (who may act, throttling, the attempt transaction,
//! audit, sessions) is in `service/mfa.rs`.
//!
//! Modules compute and never touch the store, the network or the clock themselves: they get
//! a [`Cx`] (keys, hasher, randomness, the time, the tenant) and return what to store or
//! send, which the flow then does. So each is unit-tested on its own, and adding a kind is
//! one new module here plus its row in core's kind table (see docs/architecture.md, "Adding
//! a factor kind").

pub mod backup_codes;
pub mod sent_code;
pub mod totp;
pub mod webauthn;

use super::ServiceResult;
use latchkey_core::assurance::Method;
use latchkey_core::audit::AuditAction;
use latchkey_core::clock::UnixMillis;
use latchkey_core::factor::Channel;
use latchkey_core::factor::FactorKind;
use latchkey_core::hash::KeyedHasher;
use latchkey_core::ids::ChallengeId;
use latchkey_core::rand::SecureRandom;
use latchkey_core::seal::Keyring;
use latchkey_store::model::{Challenge, Check, CodeIssue, Factor, Proof, Tenant, User, WebauthnCredential};
use zeroize::Zeroizing;

/// What a started enrollment shows the user (once).
pub enum EnrollDetails {
    Totp {
        secret_base32: Zeroizing<String>,
        otpauth_uri: Zeroizing<String>,
        qr_code_svg: String,
    },
    /// A code went (is going) to this masked destination.
    Sent { channel: Channel, destination: String },
    /// Created active by an admin without a code (an already verified phone), with the
    /// backup codes a first factor brings.
    Confirmed {
        destination: String,
        backup_codes: Option<Vec<String>>,
    },
    /// A WebAuthn registration to run in the browser: `{"publicKey": {…}}`, the
    /// `PublicKeyCredentialCreationOptions` as JSON.
    Webauthn { options: serde_json::Value },
}

/// What a user answers a factor with.
#[derive(Debug, Clone, Copy)]
pub enum Answer<'a> {
    /// A code typed in: from an authenticator app, a message, or a backup code.
    Code(&'a str),
    /// A WebAuthn response (`RegistrationResponseJSON` or `AuthenticationResponseJSON`).
    Credential(&'a serde_json::Value),
}

impl<'a> Answer<'a> {
    /// The code, for kinds answered with one.
    pub fn code(self) -> ServiceResult<&'a str> {
        match self {
            Answer::Code(code) => Ok(code),
            Answer::Credential(_) => Err(super::InputError::CodeRequired.into()),
        }
    }
}

/// What choosing a factor for a sign-in challenge starts.
#[derive(Default)]
pub struct ChallengeStart {
    /// A code to send.
    pub send: Option<CodeIssue>,
    /// Ceremony state to keep on the challenge (sealed, bound to it), taken by the answer.
    pub state_sealed: Option<String>,
    /// What the client runs (WebAuthn's request options).
    pub options: Option<serde_json::Value>,
}

/// What a right answer proves: the proof the store consumes, and the method it is.
pub struct Proven {
    pub proof: Proof,
    pub method: Method,
}

/// What a kind module may use. No store and no network: a module says what to store or
/// send, and the flow in `mfa.rs` does it.
pub struct Cx<'a> {
    pub keyring: &'a Keyring,
    pub hasher: &'a KeyedHasher,
    pub rng: &'a dyn SecureRandom,
    /// The server clock's reading for this request (modules never read a clock).
    pub now: UnixMillis,
    pub tenant: &'a Tenant,
    /// The issuer authenticator apps show (no colon).
    pub issuer: String,
    /// The name messages show.
    pub app_name: String,
    /// The client address, for per-address send limits.
    pub ip: Option<&'a str>,
    /// The tenant's issuer URL: the default WebAuthn relying party (its host) and origin.
    pub public_url: String,
}

/// What starting an enrollment asks for, checked by the flow (a valid name).
pub struct NewFactor<'a> {
    /// For SMS: the number to enroll.
    pub phone_number: Option<&'a str>,
    /// The account's own phone number (opened), used when `phone_number` is absent.
    pub account_phone: Option<&'a str>,
    /// The user's registered WebAuthn credentials (a new one must be another authenticator).
    pub credentials: &'a [WebauthnCredential],
}

/// A started enrollment, for the flow to store.
pub struct Begun {
    /// The pending factor.
    pub factor: Factor,
    /// What the user sees once (a TOTP secret, the masked destination of a code).
    pub details: EnrollDetails,
    /// A code to send; it is stored with the factor in one transaction.
    pub send: Option<CodeIssue>,
}

/// What a factor listing shows beyond the common fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Listing {
    Plain,
    /// How many codes are left unused.
    RemainingCodes,
    /// The latest message sent for the factor.
    LastDelivery,
    /// The WebAuthn credential's flags.
    Credential,
}

/// The verbs every factor kind answers.
pub trait FactorModule: Sync {
    /// Starts enrolling `factor` (pending; its common fields set) for `user`, for a
    /// challenge's forced enrollment when `challenge` is given.
    fn begin_enrollment(
        &self,
        cx: &Cx<'_>,
        user: &User,
        factor: Factor,
        request: &NewFactor<'_>,
        challenge: Option<&ChallengeId>,
    ) -> ServiceResult<Begun>;

    /// What confirms pending `factor` with `answer` (the store consumes it when it activates
    /// the factor), or `None` when the answer is wrong.
    fn confirmation(
        &self,
        cx: &Cx<'_>,
        factor: &Factor,
        answer: Answer<'_>,
        challenge: Option<&ChallengeId>,
    ) -> ServiceResult<Option<Check>>;

    /// What choosing `factor` for a sign-in challenge does: a code to send, a ceremony to
    /// run over the `offered` factors (whose WebAuthn `credentials` are given), or (the
    /// default, for a factor answered from the user's own device) nothing.
    fn begin_challenge(
        &self,
        _cx: &Cx<'_>,
        _user: &User,
        _factor: &Factor,
        _challenge: &Challenge,
        _offered: &[Factor],
        _credentials: &[WebauthnCredential],
    ) -> ServiceResult<ChallengeStart> {
        Ok(ChallengeStart::default())
    }

    /// What `answer` proves for `factor` on `challenge` (consumed by the store with the
    /// challenge), or `None` when it is wrong. A challenge's ceremony state, if any, was
    /// taken (once) before this is asked.
    fn proof(
        &self,
        cx: &Cx<'_>,
        factor: &Factor,
        answer: Answer<'_>,
        challenge: &Challenge,
    ) -> ServiceResult<Option<Proven>>;

    /// Whether enrolling or challenging this kind needs the user's registered WebAuthn
    /// credentials ([`NewFactor::credentials`], `begin_challenge`'s `credentials`); other
    /// kinds get none, and the flow does not read them.
    fn uses_credentials(&self) -> bool {
        false
    }

    /// Whether one sign-in ceremony covers every factor of this kind the user has (so none
    /// needs to be chosen): WebAuthn's options allow all the user's credentials.
    fn one_ceremony_for_all(&self) -> bool {
        false
    }

    /// The authentication method confirming `factor` with `check` is (a forced enrollment
    /// signs in with the factor it confirms); by default, what a proof with it is.
    fn confirmed_method(&self, factor: &Factor, _check: &Check) -> Method {
        self.method(factor)
    }

    /// The authentication method a proof with `factor` is.
    fn method(&self, factor: &Factor) -> Method;

    /// The keyed hash of the phone number a confirmed `factor` proves the user owns.
    fn proves_phone(&self, _cx: &Cx<'_>, _factor: &Factor) -> ServiceResult<Option<String>> {
        Ok(None)
    }

    /// The audit action of a successful sign-in proof.
    fn sign_in_action(&self) -> AuditAction {
        AuditAction::MfaVerify
    }

    /// What a listing of the factor adds.
    fn listing(&self) -> Listing {
        Listing::Plain
    }
}

/// The module of each kind: the one place a kind is mapped to its code.
pub fn module(kind: FactorKind) -> &'static dyn FactorModule {
    match kind {
        FactorKind::Totp => &totp::Totp,
        FactorKind::BackupCodes => &backup_codes::BackupCodes,
        FactorKind::Sms => &sent_code::SMS,
        FactorKind::EmailOtp => &sent_code::EMAIL,
        FactorKind::Webauthn => &webauthn::Webauthn,
    }
}

#[cfg(any(test, feature = "fuzzing"))]
#[allow(clippy::unwrap_used, dead_code)] // fixtures fail loudly; the fuzz build uses a part
pub(crate) mod testing {
    //! A [`Cx`] for unit tests and the fuzz targets (`crate::fuzzing`): fresh keys, a fixed
    //! time.

    use super::*;
    use latchkey_core::rand::OsRandom;
    use latchkey_core::seal::MasterKey;
    use latchkey_core::settings::TenantSettings;

    pub struct Fixture {
        pub keyring: Keyring,
        pub hasher: KeyedHasher,
        pub tenant: Tenant,
    }

    pub const NOW: UnixMillis = 1_800_000_000_000;

    impl Fixture {
        pub fn new() -> Self {
            Self {
                keyring: Keyring::new(MasterKey::generate(&OsRandom), Vec::new()),
                hasher: KeyedHasher::new(zeroize::Zeroizing::new(vec![7; 32])),
                tenant: Tenant {
                    id: latchkey_core::ids::TenantId::generate(NOW, &OsRandom),
                    name: "Acme".into(),
                    settings: TenantSettings::default(),
                    created_at: NOW,
                    slug: None,
                    host: None,
                    mfa_rules: 0,
                    webhooks: 0,
                },
            }
        }

        pub fn cx(&self, now: UnixMillis) -> Cx<'_> {
            Cx {
                keyring: &self.keyring,
                hasher: &self.hasher,
                rng: &OsRandom,
                now,
                tenant: &self.tenant,
                issuer: "Acme".into(),
                app_name: "Acme".into(),
                ip: Some("192.0.2.1"),
                public_url: "https://login.example.com".into(),
            }
        }

        pub fn user(&self) -> User {
            User {
                id: latchkey_core::ids::UserId::generate(NOW, &OsRandom),
                tenant_id: self.tenant.id.clone(),
                email: latchkey_core::email::Email::parse("alice@example.com").unwrap(),
                password_hash: String::new(),
                name: None,
                phone_sealed: None,
                phone_hash: None,
                phone_verified_at: None,
                email_verified_at: None,
                created_at: NOW,
                updated_at: NOW,
            }
        }

        /// An open sign-in challenge of `user`.
        pub fn challenge(&self, user: &User) -> Challenge {
            Challenge {
                id: ChallengeId::generate(NOW, &OsRandom),
                tenant_id: self.tenant.id.clone(),
                user_id: user.id.clone(),
                purpose: latchkey_core::factor::ChallengePurpose::SignIn,
                amr: vec!["pwd".into()],
                factor_id: None,
                created_at: NOW,
                expires_at: NOW + 300_000,
                completed_at: None,
                state_sealed: None,
            }
        }

        /// A pending factor of `kind` for `user`, its common fields set as the flow sets them.
        pub fn pending(&self, user: &User, kind: FactorKind) -> Factor {
            Factor {
                id: latchkey_core::ids::FactorId::generate(NOW, &OsRandom),
                tenant_id: self.tenant.id.clone(),
                user_id: user.id.clone(),
                kind,
                name: None,
                status: latchkey_core::factor::FactorStatus::Pending,
                secret_sealed: None,
                last_step: None,
                destination_sealed: None,
                enrolled_by: None,
                algorithm: None,
                created_at: NOW,
                expires_at: Some(NOW + 600_000),
                confirmed_at: None,
                last_used_at: None,
            }
        }
    }
}
