//! Entry points for coverage-guided fuzzing (`fuzz/`, `cargo +nightly fuzz run webauthn`),
//! built only with the `fuzzing` feature. They drive the WebAuthn module exactly as a request
//! does, from one real registration and one real assertion made by the software
//! authenticator, with the fuzzer's bytes in place of one field of the browser's answer.

use crate::service::factors::testing::{self, NOW};
use crate::service::factors::webauthn::{self, Asserted, Authentication, Webauthn};
use crate::service::factors::{Answer, Cx, EnrollDetails, FactorModule, NewFactor};
use crate::service::ServiceError;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use latchkey_core::factor::FactorKind;
use latchkey_store::model::{Check, Factor};
use latchkey_testkit::webauthn::{Forge, SoftAuthenticator};
use serde_json::Value;
use std::sync::OnceLock;
use webauthn_rs::prelude::Credential;

const ORIGIN: &str = "https://login.example.com";

struct Fixture {
    /// The factor modules' own test fixture: keys, a tenant allowing WebAuthn, the clock.
    fx: testing::Fixture,
    /// A pending factor and the browser's registration answer for it.
    pending: Factor,
    registration: Value,
    /// The registered credential, one ceremony's state (JSON) and the answer to it.
    credential: Credential,
    state: Value,
    assertion: Value,
}

impl Fixture {
    fn cx(&self) -> Cx<'_> {
        self.fx.cx(NOW)
    }
}

#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a harness: fails loudly
fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let mut fx = testing::Fixture::new();
        assert_eq!(fx.cx(NOW).public_url, ORIGIN);
        fx.tenant.settings.mfa_allowed_factors.push(FactorKind::Webauthn);
        let cx = fx.cx(NOW);
        let user = fx.user();
        let mut auth = SoftAuthenticator::new();
        let request = NewFactor {
            phone_number: None,
            account_phone: None,
            credentials: &[],
        };
        let begun = Webauthn
            .begin_enrollment(
                &cx,
                &user,
                fx.pending(&user, FactorKind::Webauthn),
                &request,
                None,
            )
            .unwrap();
        let EnrollDetails::Webauthn { options } = begun.details else {
            panic!("webauthn options")
        };
        let pending = begun.factor;
        let registration = auth.register(&options, ORIGIN, &Forge::default()).unwrap();
        let Some(Check::WebauthnRegistration {
            credential_sealed, ..
        }) = Webauthn
            .confirmation(&cx, &pending, Answer::Credential(&registration), None)
            .unwrap()
        else {
            panic!("the registration is valid")
        };
        let active = Factor {
            secret_sealed: Some(credential_sealed),
            ..pending.clone()
        };
        let credential = webauthn::credential(&cx, &active).unwrap();
        let (options, state) = webauthn::start_authentication(&cx, vec![credential.clone()]).unwrap();
        let state = serde_json::to_value(&state).unwrap();
        let assertion = auth.assert(&options, ORIGIN, &Forge::default()).unwrap();
        drop(cx);
        Fixture {
            fx,
            pending,
            registration,
            credential,
            state,
            assertion,
        }
    })
}

/// The fuzzer's input: its first byte chooses the field its other bytes replace.
///
/// 0: `attestationObject`, 1: `clientDataJSON` of the registration; 2: `authenticatorData`,
/// 3: `signature`, 4: `clientDataJSON`, 5: `userHandle` of the assertion; 6: the assertion's
/// whole JSON text. Whatever comes in, the answer is an outcome or a refusal, never a panic
/// or an internal error, and a changed assertion is never valid.
#[allow(clippy::panic)] // a finding is a panic, which the fuzzer reports with its input
pub fn webauthn_answer(data: &[u8]) {
    let Some((&which, bytes)) = data.split_first() else {
        return;
    };
    let fx = fixture();
    let field = |v: &Value, name: &str| {
        let mut v = v.clone();
        v["response"][name] = Value::String(URL_SAFE_NO_PAD.encode(bytes));
        v
    };
    match which % 7 {
        0 | 1 => {
            let name = if which % 7 == 0 {
                "attestationObject"
            } else {
                "clientDataJSON"
            };
            let answer = field(&fx.registration, name);
            if let Err(ServiceError::Internal(e)) =
                Webauthn.confirmation(&fx.cx(), &fx.pending, Answer::Credential(&answer), None)
            {
                panic!("internal error on a registration: {e}");
            }
        }
        n => {
            let answer = match n {
                2 => field(&fx.assertion, "authenticatorData"),
                3 => field(&fx.assertion, "signature"),
                4 => field(&fx.assertion, "clientDataJSON"),
                5 => field(&fx.assertion, "userHandle"),
                _ => match serde_json::from_slice::<Value>(bytes) {
                    Ok(v) => v,
                    Err(_) => return,
                },
            };
            let same = answer == fx.assertion;
            let Ok(state) = serde_json::from_value::<Authentication>(fx.state.clone()) else {
                panic!("state round trip")
            };
            match webauthn::finish_authentication(
                &fx.cx(),
                state,
                &answer,
                std::slice::from_ref(&fx.credential),
            ) {
                Ok(Asserted::Valid { .. }) | Ok(Asserted::CounterRegressed { .. }) if !same && n != 5 => {
                    panic!("a changed assertion was accepted")
                }
                Err(ServiceError::Internal(e)) => panic!("internal error on an assertion: {e}"),
                _ => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    /// The harness itself works: every field, an unchanged answer among them (run with
    /// `cargo test -p latchkey-server --features fuzzing --lib fuzzing`).
    #[test]
    fn every_field_can_be_fuzzed() {
        for which in 0u8..7 {
            for bytes in [&b""[..], b"{}", b"\xa1\x00", &[0xff; 64]] {
                let mut input = vec![which];
                input.extend_from_slice(bytes);
                super::webauthn_answer(&input);
            }
        }
        let f = super::fixture();
        let same = serde_json::to_vec(&f.assertion).unwrap();
        super::webauthn_answer(&[[6u8].as_slice(), &same].concat());
    }
}
