//! The software authenticator against the real library: webauthn-rs 0.5.5 accepts what an empty
//! `Forge` produces, and each forge knob is checked for what webauthn-rs does with it.
//!
//! What webauthn-rs 0.5.5 does on its own (each line is a case below; error names in brackets):
//!
//! Registration (passkey flow unless said otherwise)
//! - rejects: clientData type `webauthn.get` (InvalidClientDataType); another challenge
//!   (MismatchedChallenge); another origin or port (InvalidRPOrigin); `crossOrigin: true`
//!   (CredentialCrossOrigin); a UTF-8 BOM before clientDataJSON and clientDataJSON that is not
//!   JSON (ParseJSONFailure: serde_json does not skip a BOM); another RP ID hash
//!   (InvalidRPIDHash); UP=0 (UserNotPresent); UV=0 in the passkey flow (UserNotVerified);
//!   BE=0 with BS=1 (CredentialMayNotBeHardwareBound); a COSE alg it did not offer (ES384 on a
//!   P-256 key: CredentialAlteredAlgFromRequest); an alg that does not fit an EC2 key (EdDSA:
//!   COSEKeyInvalidType); an unknown attestation format (AttestationNotSupported); `packed` with
//!   an empty statement (AttestationStatementAlgMissing) or a self-attestation signed by another
//!   key (AttestationStatementSigInvalid); a credential ID it listed in excludeCredentials
//!   (CredentialAlteredAlgFromRequest); an attestation object that is not CBOR
//!   (ParseCBORFailure); truncated authenticator data (ParseNOMFailure); a character outside
//!   base64 (the JSON does not even deserialise).
//! - accepts: `topOrigin`; a 1024-byte credential ID (the spec caps it at 1023) and an empty
//!   one; a non-zero counter; UV=0 in the security-key flow (`preferred`); BE=1 with BS=0;
//!   padded base64url and standard base64; a new credential from an authenticator that ignored
//!   excludeCredentials (it has no way to tell).
//!
//! Authentication (passkey flow unless said otherwise)
//! - rejects: clientData type `webauthn.create`; another challenge; another origin; a BOM;
//!   another RP ID hash; UP=0; UV=0 (passkey flow, and security-key flow once the key verified
//!   the user at registration); BS=1 on a credential registered with BE=0, even when the
//!   response also says BE=1 (CredentialMayNotBeHardwareBound); BE 1 -> 0
//!   (CredentialBackupEligibilityInconsistent); BE 0 -> 1 in the security-key and discoverable
//!   flows (same); a counter not above the stored non-zero one, including back to 0
//!   (CredentialPossibleCompromise); a signature by another key (AuthenticationFailure); an
//!   unknown credential ID or one not in allowCredentials (CredentialNotFound); truncated
//!   authenticator data (ParseNOMFailure); invalid base64; no userHandle in the discoverable
//!   flow (identify_discoverable_authentication: InvalidUserUniqueId).
//! - accepts: `crossOrigin: true` (webauthn-rs checks it only at registration); `topOrigin`;
//!   BE 0 -> 1 with BS=0 in the passkey flow (allow_backup_eligible_upgrade is on there); a
//!   counter that stays 0 while the stored one is 0 (synced passkeys); no userHandle in the
//!   passkey and security-key flows; another user's userHandle (webauthn-rs never compares it
//!   with the credential's owner: the application must check that the user
//!   identify_discoverable_authentication returns owns the credential); padded base64url and
//!   standard base64.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // tests fail loudly by design

use latchkey_testkit::webauthn::{Base64Style, Forge, SoftAuthError, SoftAuthenticator};
use serde_json::Value;
use webauthn_rs::prelude::*;

const ORIGIN: &str = "http://localhost:8080";

fn rp() -> Webauthn {
    WebauthnBuilder::new("localhost", &Url::parse(ORIGIN).unwrap())
        .unwrap()
        .build()
        .unwrap()
}

/// What webauthn-rs said: `Ok(())` or the error's Debug text (or why the JSON did not parse).
type Verdict = Result<(), String>;

fn parse<T: serde::de::DeserializeOwned>(v: Value) -> Result<T, String> {
    serde_json::from_value(v).map_err(|e| format!("Deserialise: {e}"))
}

fn register_passkey(
    rp: &Webauthn,
    auth: &mut SoftAuthenticator,
    user: Uuid,
    origin: &str,
    forge: &Forge,
) -> Result<Passkey, String> {
    let (ccr, state) = rp
        .start_passkey_registration(user, "claire", "Claire", None)
        .unwrap();
    let json = auth
        .register(&serde_json::to_value(&ccr).unwrap(), origin, forge)
        .unwrap();
    let reg: RegisterPublicKeyCredential = parse(json)?;
    rp.finish_passkey_registration(&reg, &state)
        .map_err(|e| format!("{e:?}"))
}

fn authenticate_passkey(
    rp: &Webauthn,
    auth: &mut SoftAuthenticator,
    keys: &[Passkey],
    origin: &str,
    forge: &Forge,
) -> Result<AuthenticationResult, String> {
    let (rcr, state) = rp.start_passkey_authentication(keys).unwrap();
    let json = auth
        .assert(&serde_json::to_value(&rcr).unwrap(), origin, forge)
        .unwrap();
    let cred: PublicKeyCredential = parse(json)?;
    rp.finish_passkey_authentication(&cred, &state)
        .map_err(|e| format!("{e:?}"))
}

fn register_security_key(
    rp: &Webauthn,
    auth: &mut SoftAuthenticator,
    forge: &Forge,
) -> Result<SecurityKey, String> {
    let (ccr, state) = rp
        .start_securitykey_registration(Uuid::new_v4(), "claire", "Claire", None, None, None)
        .unwrap();
    let json = auth
        .register(&serde_json::to_value(&ccr).unwrap(), ORIGIN, forge)
        .unwrap();
    let reg: RegisterPublicKeyCredential = parse(json)?;
    rp.finish_securitykey_registration(&reg, &state)
        .map_err(|e| format!("{e:?}"))
}

fn authenticate_security_key(
    rp: &Webauthn,
    auth: &mut SoftAuthenticator,
    keys: &[SecurityKey],
    forge: &Forge,
) -> Result<AuthenticationResult, String> {
    let (rcr, state) = rp.start_securitykey_authentication(keys).unwrap();
    let json = auth
        .assert(&serde_json::to_value(&rcr).unwrap(), ORIGIN, forge)
        .unwrap();
    let cred: PublicKeyCredential = parse(json)?;
    rp.finish_securitykey_authentication(&cred, &state)
        .map_err(|e| format!("{e:?}"))
}

/// Checks a verdict: `None` expects acceptance, `Some(prefix)` a rejection whose text starts so.
fn expect(case: &str, verdict: Verdict, expected: Option<&str>) {
    match (verdict, expected) {
        (Ok(()), None) => {}
        (Err(e), Some(prefix)) if e.starts_with(prefix) => {}
        (verdict, expected) => {
            panic!("{case}: expected {expected:?}, webauthn-rs said {verdict:?}")
        }
    }
}

fn ok<T>(r: Result<T, String>) -> Verdict {
    r.map(|_| ())
}

#[test]
fn passkey_registers_and_authenticates() {
    let rp = rp();
    let mut auth = SoftAuthenticator::new();
    let user = Uuid::new_v4();
    let mut passkey = register_passkey(&rp, &mut auth, user, ORIGIN, &Forge::default()).unwrap();
    assert_eq!(auth.credential_ids(), vec![passkey.cred_id().to_vec()]);

    for expected_counter in 1..=3 {
        let res = authenticate_passkey(
            &rp,
            &mut auth,
            std::slice::from_ref(&passkey),
            ORIGIN,
            &Forge::default(),
        )
        .unwrap();
        assert_eq!(res.counter(), expected_counter);
        assert!(res.user_verified());
        assert!(!res.backup_eligible() && !res.backup_state());
        passkey.update_credential(&res);
    }

    // The counter is the authenticator's to set: jump ahead, and the library follows.
    auth.set_counter(passkey.cred_id(), 100);
    let res = authenticate_passkey(&rp, &mut auth, &[passkey], ORIGIN, &Forge::default()).unwrap();
    assert_eq!(res.counter(), 101);
}

#[test]
fn synced_passkey_with_zero_counter_authenticates_repeatedly() {
    let rp = rp();
    let mut auth = SoftAuthenticator::synced();
    let passkey = register_passkey(&rp, &mut auth, Uuid::new_v4(), ORIGIN, &Forge::default()).unwrap();
    for _ in 0..3 {
        let res = authenticate_passkey(
            &rp,
            &mut auth,
            std::slice::from_ref(&passkey),
            ORIGIN,
            &Forge::default(),
        )
        .unwrap();
        assert_eq!(res.counter(), 0);
        assert!(res.backup_eligible() && res.backup_state());
    }
    assert_eq!(auth.counter(passkey.cred_id()), Some(0));
}

#[test]
fn packed_self_attestation_is_accepted() {
    let rp = rp();
    let mut auth = SoftAuthenticator::new().packed_self_attestation();
    let passkey = register_passkey(&rp, &mut auth, Uuid::new_v4(), ORIGIN, &Forge::default()).unwrap();
    authenticate_passkey(&rp, &mut auth, &[passkey], ORIGIN, &Forge::default()).unwrap();

    let forge = Forge {
        wrong_signing_key: true,
        ..Forge::default()
    };
    expect(
        "packed self-attestation signed by another key",
        ok(register_passkey(&rp, &mut auth, Uuid::new_v4(), ORIGIN, &forge)),
        Some("AttestationStatementSigInvalid"),
    );
}

#[test]
fn discoverable_authentication() {
    let rp = rp();
    let mut auth = SoftAuthenticator::new();
    let user = Uuid::new_v4();
    let passkey = register_passkey(&rp, &mut auth, user, ORIGIN, &Forge::default()).unwrap();
    // Another RP's credential on the same authenticator is never offered.
    let other = serde_json::json!({"publicKey": {
        "rp": {"id": "other.example", "name": "Other"},
        "user": {"id": "AAAA", "name": "x", "displayName": "x"},
        "challenge": "AAAA",
        "pubKeyCredParams": [{"type": "public-key", "alg": -7}],
    }});
    auth.register(&other, "https://other.example", &Forge::default())
        .unwrap();

    let discover = |auth: &mut SoftAuthenticator, forge: &Forge| -> Verdict {
        let (rcr, state) = rp.start_discoverable_authentication().unwrap();
        let options = serde_json::to_value(&rcr).unwrap();
        assert_eq!(options["publicKey"]["allowCredentials"], serde_json::json!([]));
        let json = auth.assert(&options, ORIGIN, forge).unwrap();
        let cred: PublicKeyCredential = parse(json)?;
        let (found_user, cred_id) = rp
            .identify_discoverable_authentication(&cred)
            .map_err(|e| format!("{e:?}"))?;
        assert_eq!(found_user, user, "userHandle names the user");
        assert_eq!(cred_id, passkey.cred_id().as_slice());
        rp.finish_discoverable_authentication(&cred, state, &[DiscoverableKey::from(&passkey)])
            .map(|_| ())
            .map_err(|e| format!("{e:?}"))
    };
    discover(&mut auth, &Forge::default()).unwrap();

    let cases: Vec<(&str, Forge, Option<&str>)> = vec![
        (
            "no userHandle",
            Forge {
                user_handle: Some(None),
                ..Forge::default()
            },
            Some("InvalidUserUniqueId"),
        ),
        (
            "BE 0 -> 1 (no upgrade in this flow)",
            Forge {
                be: Some(true),
                ..Forge::default()
            },
            Some("CredentialBackupEligibilityInconsistent"),
        ),
    ];
    for (case, forge, expected) in cases {
        expect(case, discover(&mut auth, &forge), expected);
    }
}

#[test]
fn discoverable_needs_a_resident_credential() {
    let rp = rp();
    let mut auth = SoftAuthenticator::new().security_key();
    let (ccr, _state) = rp
        .start_passkey_registration(Uuid::new_v4(), "claire", "Claire", None)
        .unwrap();
    let ccr = serde_json::to_value(&ccr).unwrap();
    auth.register(&ccr, ORIGIN, &Forge::default()).unwrap();
    let (rcr, _state) = rp.start_discoverable_authentication().unwrap();
    let err = auth
        .assert(&serde_json::to_value(&rcr).unwrap(), ORIGIN, &Forge::default())
        .unwrap_err();
    assert_eq!(err, SoftAuthError::NoCredential);
}

#[test]
fn security_key_flow() {
    let rp = rp();
    // A key without PIN: UV=0, which `preferred` lets through.
    let mut auth = SoftAuthenticator::new()
        .security_key()
        .without_user_verification();
    let key = register_security_key(&rp, &mut auth, &Forge::default()).unwrap();
    let res = authenticate_security_key(&rp, &mut auth, &[key], &Forge::default()).unwrap();
    assert!(!res.user_verified());
    assert_eq!(res.counter(), 1);

    // A key with PIN verified at registration must keep verifying.
    let mut auth = SoftAuthenticator::new().security_key();
    let key = register_security_key(&rp, &mut auth, &Forge::default()).unwrap();
    let keys = [key];
    let res = authenticate_security_key(&rp, &mut auth, &keys, &Forge::default()).unwrap();
    assert!(res.user_verified());
    let forge = Forge {
        uv: Some(false),
        ..Forge::default()
    };
    expect(
        "UV 1 -> 0 under preferred",
        ok(authenticate_security_key(&rp, &mut auth, &keys, &forge)),
        Some("UserNotVerified"),
    );
    let forge = Forge {
        be: Some(true),
        bs: Some(true),
        ..Forge::default()
    };
    expect(
        "BE 0 -> 1 (no upgrade in this flow)",
        ok(authenticate_security_key(&rp, &mut auth, &keys, &forge)),
        Some("CredentialBackupEligibilityInconsistent"),
    );
    let forge = Forge {
        user_handle: Some(None),
        ..Forge::default()
    };
    expect(
        "no userHandle",
        ok(authenticate_security_key(&rp, &mut auth, &keys, &forge)),
        None,
    );
}

#[test]
fn exclude_credentials_is_honoured() {
    let rp = rp();
    let mut auth = SoftAuthenticator::new();
    let user = Uuid::new_v4();
    let passkey = register_passkey(&rp, &mut auth, user, ORIGIN, &Forge::default()).unwrap();
    let excluded = Some(vec![passkey.cred_id().clone()]);

    let (ccr, state) = rp
        .start_passkey_registration(user, "claire", "Claire", excluded)
        .unwrap();
    let ccr = serde_json::to_value(&ccr).unwrap();
    assert_eq!(
        auth.register(&ccr, ORIGIN, &Forge::default()).unwrap_err(),
        SoftAuthError::Excluded
    );

    // Forced past the exclusion with a fresh ID: nothing for the library to notice.
    let forge = Forge {
        ignore_exclude_credentials: true,
        ..Forge::default()
    };
    let json = auth.register(&ccr, ORIGIN, &forge).unwrap();
    let reg: RegisterPublicKeyCredential = parse(json).unwrap();
    rp.finish_passkey_registration(&reg, &state).unwrap();

    // Forced to answer with the excluded ID: the library refuses it.
    let (ccr, state) = rp
        .start_passkey_registration(user, "claire", "Claire", Some(vec![passkey.cred_id().clone()]))
        .unwrap();
    let forge = Forge {
        ignore_exclude_credentials: true,
        credential_id: Some(passkey.cred_id().to_vec()),
        ..Forge::default()
    };
    let json = auth
        .register(&serde_json::to_value(&ccr).unwrap(), ORIGIN, &forge)
        .unwrap();
    let reg: RegisterPublicKeyCredential = parse(json).unwrap();
    expect(
        "excluded credential ID",
        ok(rp
            .finish_passkey_registration(&reg, &state)
            .map_err(|e| format!("{e:?}"))),
        Some("CredentialAlteredAlgFromRequest"),
    );
}

#[test]
fn user_verification_required_without_uv_is_refused_by_the_authenticator() {
    let rp = rp();
    let mut auth = SoftAuthenticator::new().without_user_verification();
    let (ccr, _) = rp
        .start_passkey_registration(Uuid::new_v4(), "claire", "Claire", None)
        .unwrap();
    assert_eq!(
        auth.register(&serde_json::to_value(&ccr).unwrap(), ORIGIN, &Forge::default())
            .unwrap_err(),
        SoftAuthError::UserVerificationUnavailable
    );
}

#[test]
fn registration_forgeries() {
    let rp = rp();
    let f = Forge::default;
    let cases: Vec<(&str, &str, Forge, Option<&str>)> = vec![
        ("valid", ORIGIN, f(), None),
        (
            "type webauthn.get",
            ORIGIN,
            Forge {
                client_data_type: Some("webauthn.get".into()),
                ..f()
            },
            Some("InvalidClientDataType"),
        ),
        (
            "other challenge",
            ORIGIN,
            Forge {
                challenge: Some(vec![7; 32]),
                ..f()
            },
            Some("MismatchedChallenge"),
        ),
        (
            "other origin",
            "http://evil.example:8080",
            f(),
            Some("InvalidRPOrigin"),
        ),
        (
            "other port",
            "http://localhost:8081",
            f(),
            Some("InvalidRPOrigin"),
        ),
        (
            "crossOrigin true",
            ORIGIN,
            Forge {
                cross_origin: Some(true),
                ..f()
            },
            Some("CredentialCrossOrigin"),
        ),
        (
            "topOrigin",
            ORIGIN,
            Forge {
                top_origin: Some("https://evil.example".into()),
                ..f()
            },
            None,
        ),
        (
            "BOM",
            ORIGIN,
            Forge { bom: true, ..f() },
            Some("ParseJSONFailure"),
        ),
        (
            "clientDataJSON not JSON",
            ORIGIN,
            Forge {
                raw_client_data_json: Some(b"{\"type\":".to_vec()),
                ..f()
            },
            Some("ParseJSONFailure"),
        ),
        (
            "other RP ID hash",
            ORIGIN,
            Forge {
                rp_id: Some("evil.example".into()),
                ..f()
            },
            Some("InvalidRPIDHash"),
        ),
        (
            "UP=0",
            ORIGIN,
            Forge {
                up: Some(false),
                ..f()
            },
            Some("UserNotPresent"),
        ),
        (
            "UV=0",
            ORIGIN,
            Forge {
                uv: Some(false),
                ..f()
            },
            Some("UserNotVerified"),
        ),
        (
            "BE=0 BS=1",
            ORIGIN,
            Forge {
                be: Some(false),
                bs: Some(true),
                ..f()
            },
            Some("CredentialMayNotBeHardwareBound"),
        ),
        (
            "BE=1 BS=0",
            ORIGIN,
            Forge {
                be: Some(true),
                bs: Some(false),
                ..f()
            },
            None,
        ),
        (
            "alg ES384 on a P-256 key",
            ORIGIN,
            Forge {
                alg: Some(-35),
                ..f()
            },
            Some("CredentialAlteredAlgFromRequest"),
        ),
        (
            "alg EdDSA on an EC2 key",
            ORIGIN,
            Forge { alg: Some(-8), ..f() },
            Some("COSEKeyInvalidType"),
        ),
        (
            "1024-byte credential ID",
            ORIGIN,
            Forge {
                credential_id_len: Some(1024),
                ..f()
            },
            None,
        ),
        (
            "empty credential ID",
            ORIGIN,
            Forge {
                credential_id_len: Some(0),
                ..f()
            },
            None,
        ),
        (
            "counter 5",
            ORIGIN,
            Forge {
                counter: Some(5),
                ..f()
            },
            None,
        ),
        (
            "fmt bogus",
            ORIGIN,
            Forge {
                attestation_fmt: Some("bogus".into()),
                ..f()
            },
            Some("AttestationNotSupported"),
        ),
        (
            "fmt packed, empty attStmt",
            ORIGIN,
            Forge {
                attestation_fmt: Some("packed".into()),
                ..f()
            },
            Some("AttestationStatementAlgMissing"),
        ),
        (
            "attestation object not CBOR",
            ORIGIN,
            Forge {
                raw_attestation_object: Some(vec![0xa3, 0x63, b'f', b'm']),
                ..f()
            },
            Some("ParseCBORFailure"),
        ),
        (
            "authenticator data truncated",
            ORIGIN,
            Forge {
                raw_authenticator_data: Some(vec![0; 20]),
                ..f()
            },
            Some("ParseNOMFailure"),
        ),
        (
            "padded base64url",
            ORIGIN,
            Forge {
                base64: Base64Style::UrlPadded,
                ..f()
            },
            None,
        ),
        (
            "standard base64",
            ORIGIN,
            Forge {
                base64: Base64Style::Standard,
                ..f()
            },
            None,
        ),
        (
            "invalid base64",
            ORIGIN,
            Forge {
                base64: Base64Style::Invalid,
                ..f()
            },
            Some("Deserialise"),
        ),
    ];
    for (case, origin, forge, expected) in cases {
        let mut auth = SoftAuthenticator::new();
        let verdict = ok(register_passkey(&rp, &mut auth, Uuid::new_v4(), origin, &forge));
        expect(case, verdict, expected);
    }
}

#[test]
fn authentication_forgeries() {
    let rp = rp();
    let f = Forge::default;
    let mut auth = SoftAuthenticator::new();
    let passkey = register_passkey(&rp, &mut auth, Uuid::new_v4(), ORIGIN, &f()).unwrap();
    // A second credential of the same authenticator and RP that the server does not list.
    let stranger = register_passkey(&rp, &mut auth, Uuid::new_v4(), ORIGIN, &f()).unwrap();
    let mut synced = SoftAuthenticator::synced();
    let synced_key = register_passkey(&rp, &mut synced, Uuid::new_v4(), ORIGIN, &f()).unwrap();

    let cases: Vec<(&str, &str, Forge, Option<&str>)> = vec![
        ("valid", ORIGIN, f(), None),
        (
            "type webauthn.create",
            ORIGIN,
            Forge {
                client_data_type: Some("webauthn.create".into()),
                ..f()
            },
            Some("InvalidClientDataType"),
        ),
        (
            "other challenge",
            ORIGIN,
            Forge {
                challenge: Some(vec![7; 32]),
                ..f()
            },
            Some("MismatchedChallenge"),
        ),
        (
            "other origin",
            "https://evil.example",
            f(),
            Some("InvalidRPOrigin"),
        ),
        (
            "crossOrigin true",
            ORIGIN,
            Forge {
                cross_origin: Some(true),
                ..f()
            },
            None,
        ),
        (
            "topOrigin",
            ORIGIN,
            Forge {
                top_origin: Some("https://evil.example".into()),
                ..f()
            },
            None,
        ),
        (
            "BOM",
            ORIGIN,
            Forge { bom: true, ..f() },
            Some("ParseJSONFailure"),
        ),
        (
            "other RP ID hash",
            ORIGIN,
            Forge {
                rp_id: Some("evil.example".into()),
                ..f()
            },
            Some("InvalidRPIDHash"),
        ),
        (
            "UP=0",
            ORIGIN,
            Forge {
                up: Some(false),
                ..f()
            },
            Some("UserNotPresent"),
        ),
        (
            "UV=0",
            ORIGIN,
            Forge {
                uv: Some(false),
                ..f()
            },
            Some("UserNotVerified"),
        ),
        (
            "BE=0 BS=1",
            ORIGIN,
            Forge {
                bs: Some(true),
                ..f()
            },
            Some("CredentialMayNotBeHardwareBound"),
        ),
        (
            "BE 0 -> 1, BS=0 (passkey flow allows the upgrade)",
            ORIGIN,
            Forge {
                be: Some(true),
                ..f()
            },
            None,
        ),
        (
            "BE 0 -> 1, BS=1 (BS is checked against the stored BE)",
            ORIGIN,
            Forge {
                be: Some(true),
                bs: Some(true),
                ..f()
            },
            Some("CredentialMayNotBeHardwareBound"),
        ),
        (
            "counter equal to the stored one",
            ORIGIN,
            Forge {
                counter: Some(1),
                ..f()
            },
            Some("CredentialPossibleCompromise"),
        ),
        (
            "counter back to 0",
            ORIGIN,
            Forge {
                counter: Some(0),
                ..f()
            },
            Some("CredentialPossibleCompromise"),
        ),
        (
            "signed by another key",
            ORIGIN,
            Forge {
                wrong_signing_key: true,
                ..f()
            },
            Some("AuthenticationFailure"),
        ),
        (
            "unknown credential ID",
            ORIGIN,
            Forge {
                credential_id: Some(vec![9; 32]),
                ..f()
            },
            Some("CredentialNotFound"),
        ),
        (
            "credential not in allowCredentials",
            ORIGIN,
            Forge {
                use_credential: Some(stranger.cred_id().to_vec()),
                ..f()
            },
            Some("CredentialNotFound"),
        ),
        (
            "no userHandle",
            ORIGIN,
            Forge {
                user_handle: Some(None),
                ..f()
            },
            None,
        ),
        (
            "another user's userHandle",
            ORIGIN,
            Forge {
                user_handle: Some(Some(Uuid::new_v4().as_bytes().to_vec())),
                ..f()
            },
            None,
        ),
        (
            "authenticator data truncated",
            ORIGIN,
            Forge {
                raw_authenticator_data: Some(vec![0; 20]),
                ..f()
            },
            Some("ParseNOMFailure"),
        ),
        (
            "padded base64url",
            ORIGIN,
            Forge {
                base64: Base64Style::UrlPadded,
                ..f()
            },
            None,
        ),
        (
            "standard base64",
            ORIGIN,
            Forge {
                base64: Base64Style::Standard,
                ..f()
            },
            None,
        ),
        (
            "invalid base64",
            ORIGIN,
            Forge {
                base64: Base64Style::Invalid,
                ..f()
            },
            Some("Deserialise"),
        ),
    ];
    let keys = [passkey];
    for (case, origin, forge, expected) in cases {
        // Each case starts from stored counter 1 on both sides, so the counter cases compare
        // against a non-zero value.
        let mut server_key = keys[0].clone();
        auth.set_counter(server_key.cred_id(), 0);
        let res = authenticate_passkey(&rp, &mut auth, &keys, ORIGIN, &f()).unwrap();
        server_key.update_credential(&res);
        let verdict = ok(authenticate_passkey(
            &rp,
            &mut auth,
            std::slice::from_ref(&server_key),
            origin,
            &forge,
        ));
        expect(case, verdict, expected);
    }

    let forge = Forge {
        be: Some(false),
        bs: Some(false),
        ..f()
    };
    expect(
        "BE 1 -> 0",
        ok(authenticate_passkey(
            &rp,
            &mut synced,
            &[synced_key],
            ORIGIN,
            &forge,
        )),
        Some("CredentialBackupEligibilityInconsistent"),
    );
}
