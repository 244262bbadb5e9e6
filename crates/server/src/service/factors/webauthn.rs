//! WebAuthn factors: one factor per credential (a synced passkey or a device-bound security
//! key), built on webauthn-rs, which runs every ceremony check (challenge, type, origin, RP
//! id hash, flags, signature, attestation). This module adds what the library leaves to
//! its user, each for a reason given where it is done:
//! - ceremony state lives sealed in the database (the pending factor's secret during
//!   registration, the sign-in challenge's state column, a passwordless ceremony row), is
//!   bound to its row, and is taken once;
//! - the signature counter is checked and advanced by the store, in the transaction that
//!   completes the challenge (the library only compares with the copy in the state);
//! - `crossOrigin: true` and `topOrigin` are refused unless the tenant allows framing;
//! - credential ids over 1023 bytes are refused (WebAuthn L3 §7.1 step 23);
//! - the tenant's user-verification and attestation policy chooses the library's flow.

use super::{Answer, Begun, Cx, EnrollDetails, FactorModule, NewFactor, Proven};
use crate::service::{InputError, ServiceError, ServiceResult};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use latchkey_core::assurance::{Aal, Amr, Method};
use latchkey_core::hash::HashPurpose;
use latchkey_core::ids::ChallengeId;
use latchkey_core::settings::{AttestationPolicy, UserVerification};
use latchkey_store::model::{Challenge, Check, Factor, Proof, SealedColumn, User, WebauthnCredential};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::time::Duration;
use webauthn_rs::prelude::*;

/// WebAuthn L3 §7.1 step 23: a credential id longer than this is refused.
pub const MAX_CREDENTIAL_ID_BYTES: usize = 1023;

/// How long a ceremony may take (the browser's timeout, and the state's lifetime).
pub const CEREMONY_SECS: u64 = 300;

pub struct Webauthn;

/// The registration state kept (sealed) on the pending factor: which of the library's
/// flows began it.
#[derive(Serialize, Deserialize)]
enum Registration {
    Passkey(PasskeyRegistration),
    Attested(AttestedPasskeyRegistration),
    SecurityKey(SecurityKeyRegistration),
}

/// A sign-in ceremony's state, kept (sealed) on the challenge or a passwordless ceremony.
#[derive(Serialize, Deserialize)]
pub(crate) enum Authentication {
    Passkey(PasskeyAuthentication),
    SecurityKey(SecurityKeyAuthentication),
    Discoverable(DiscoverableAuthentication),
}

fn internal(what: &str, e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Internal(format!("{what}: {e}"))
}

/// The relying party of the tenant: its RP id, name and exact origins, from its settings or
/// the server's public URL (a loopback address stands for `localhost`, which browsers treat
/// as a secure context; an IP address cannot be an RP id).
pub(crate) fn relying_party(cx: &Cx<'_>) -> ServiceResult<webauthn_rs::Webauthn> {
    let w = &cx.tenant.settings.webauthn;
    let public = Url::parse(&cx.public_url).map_err(|e| internal("public URL", e))?;
    let host = public
        .host_str()
        .ok_or_else(|| internal("public URL", "has no host"))?;
    let is_ip = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<std::net::IpAddr>()
        .is_ok();
    let public_host = if is_ip {
        "localhost".to_owned()
    } else {
        host.to_owned()
    };
    let default_origin = {
        let mut o = format!("{}://{}", public.scheme(), public_host);
        if let Some(port) = public.port() {
            o.push_str(&format!(":{port}"));
        }
        o
    };
    let rp_id = w.rp_id.clone().unwrap_or(public_host);
    let origins: Vec<String> = if w.origins.is_empty() {
        vec![default_origin]
    } else {
        w.origins.clone()
    };
    let urls = origins
        .iter()
        .map(|o| Url::parse(o).map_err(|e| internal("webauthn origin", e)))
        .collect::<ServiceResult<Vec<Url>>>()?;
    let first = urls.first().ok_or_else(|| internal("webauthn", "no origin"))?;
    let name = w.rp_name.clone().unwrap_or_else(|| cx.app_name.clone());
    let mut builder = WebauthnBuilder::new(&rp_id, first)
        .map_err(|e| internal("webauthn relying party", e))?
        .rp_name(&name)
        .timeout(Duration::from_secs(CEREMONY_SECS))
        .allow_subdomains(false)
        .allow_any_port(false);
    for url in &urls[1..] {
        builder = builder.append_allowed_origin(url);
    }
    builder.build().map_err(|e| internal("webauthn relying party", e))
}

/// The user handle authenticators store with a discoverable credential: derived from the
/// user id under the server's key, so it names nobody and needs no column.
pub(crate) fn user_handle(cx: &Cx<'_>, user: &User) -> Uuid {
    let hex = cx
        .hasher
        .hash(HashPurpose::WebauthnUserHandle, "", user.id.as_str().as_bytes());
    let mut bytes = [0u8; 16];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = u8::from_str_radix(hex.get(2 * i..2 * i + 2).unwrap_or("00"), 16).unwrap_or(0);
    }
    Uuid::from_bytes(bytes)
}

fn seal(cx: &Cx<'_>, column: SealedColumn, row: &str, value: &impl Serialize) -> ServiceResult<String> {
    let json = zeroize::Zeroizing::new(serde_json::to_vec(value).map_err(|e| internal("webauthn state", e))?);
    cx.keyring
        .seal(&json, &column.aad(row), cx.rng)
        .map_err(|e| internal("sealing webauthn state", e))
}

fn open<T: for<'de> Deserialize<'de>>(
    cx: &Cx<'_>,
    column: SealedColumn,
    row: &str,
    sealed: &str,
) -> ServiceResult<T> {
    let plain = cx
        .keyring
        .open(sealed, &column.aad(row))
        .map_err(|e| internal("opening webauthn state", e))?;
    serde_json::from_slice(&plain).map_err(|e| internal("webauthn state", e))
}

/// The credential a factor holds (sealed, bound to the factor).
pub(crate) fn credential(cx: &Cx<'_>, factor: &Factor) -> ServiceResult<Credential> {
    let sealed = factor
        .secret_sealed
        .as_deref()
        .ok_or_else(|| internal("webauthn factor", "without a credential"))?;
    open(cx, SealedColumn::FactorSecret, factor.id.as_str(), sealed)
}

/// Seals ceremony state for a row of `column`.
pub(crate) fn seal_state(
    cx: &Cx<'_>,
    column: SealedColumn,
    row: &str,
    state: &Authentication,
) -> ServiceResult<String> {
    seal(cx, column, row, state)
}

pub(crate) fn open_state(
    cx: &Cx<'_>,
    column: SealedColumn,
    row: &str,
    sealed: &str,
) -> ServiceResult<Authentication> {
    open(cx, column, row, sealed)
}

/// The client's answer as the library reads it; a malformed one is refused as input.
fn parse<T: for<'de> Deserialize<'de>>(answer: Answer<'_>) -> ServiceResult<T> {
    match answer {
        Answer::Credential(value) if strictly_encoded(value) => {
            serde_json::from_value(value.clone()).map_err(|_| InputError::CredentialFormat.into())
        }
        Answer::Credential(_) => Err(InputError::CredentialFormat.into()),
        Answer::Code(_) => Err(InputError::CredentialRequired.into()),
    }
}

/// Whether every binary field of a response is base64url without padding, as browsers'
/// `toJSON()` writes it. The library also takes padded and standard base64; we take one
/// spelling of each value only (SECURITY.md test 52).
pub(crate) fn strictly_encoded(credential: &Value) -> bool {
    let b64url = |v: &Value| {
        v.as_str().is_some_and(|s| {
            s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
    };
    let ok = |v: Option<&Value>| v.is_none_or(|v| v.is_null() || b64url(v));
    let response = credential.get("response");
    ok(credential.get("id"))
        && ok(credential.get("rawId"))
        && response.is_some_and(|r| {
            [
                "clientDataJSON",
                "attestationObject",
                "authenticatorData",
                "signature",
                "userHandle",
            ]
            .iter()
            .all(|k| ok(r.get(*k)))
        })
}

/// What `clientDataJSON` says about framing, read before the library's checks: the
/// library accepts `crossOrigin: true` and ignores `topOrigin`; we refuse both unless the
/// tenant expects to be framed. Also the challenge, by which a passwordless answer finds
/// its ceremony.
pub(crate) struct ClientData {
    pub challenge: Vec<u8>,
    pub framed: bool,
}

pub(crate) fn client_data(credential: &Value) -> Option<ClientData> {
    let raw = credential.get("response")?.get("clientDataJSON")?.as_str()?;
    let bytes = decode_b64url(raw)?;
    // WebAuthn L3 §7.2 step 6 decodes UTF-8 without BOM; a BOM is stripped first.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let data: Value = serde_json::from_slice(bytes).ok()?;
    let challenge = decode_b64url(data.get("challenge")?.as_str()?)?;
    let framed = data.get("crossOrigin").and_then(Value::as_bool).unwrap_or(false)
        || data.get("topOrigin").is_some_and(|t| !t.is_null());
    Some(ClientData { challenge, framed })
}

/// base64url as browsers write it (padding tolerated here; `strictly_encoded` refuses it
/// where an answer is checked).
pub(crate) fn decode_b64url(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s.trim_end_matches('=')).ok()
}

/// The credential id (base64url) an assertion names, if well formed.
pub(crate) fn asserted_credential_id(credential: &Value) -> Option<String> {
    let raw = credential
        .get("rawId")
        .or_else(|| credential.get("id"))?
        .as_str()?;
    let bytes = decode_b64url(raw)?;
    (!bytes.is_empty() && bytes.len() <= MAX_CREDENTIAL_ID_BYTES).then(|| URL_SAFE_NO_PAD.encode(bytes))
}

/// Refuses a ceremony run inside a cross-origin frame unless the tenant allows it.
fn framing_allowed(cx: &Cx<'_>, credential: &Value) -> bool {
    match client_data(credential) {
        Some(cd) => !cd.framed || cx.tenant.settings.webauthn.allow_cross_origin,
        None => false,
    }
}

/// The tenant's attestation roots restricted to its allowed models.
fn attestation_cas(cx: &Cx<'_>) -> ServiceResult<AttestationCaList> {
    let w = &cx.tenant.settings.webauthn;
    let mut builder = AttestationCaListBuilder::new();
    for pem in &w.attestation_ca_pems {
        for aaguid in &w.allowed_aaguids {
            let id = Uuid::parse_str(aaguid).map_err(|e| internal("aaguid", e))?;
            builder
                .insert_device_pem(pem.trim().as_bytes(), id, aaguid.clone(), Default::default())
                .map_err(|_| ServiceError::Input(InputError::AttestationRoot))?;
        }
    }
    Ok(builder.build())
}

/// The options the browser gets, adjusted where the library's defaults would not make a
/// passkey: a resident (discoverable) credential is preferred, so the same key signs in
/// without a password later. Options are hints to the browser; nothing checked relies on them.
///
/// A security key (user verification `preferred`) is asked for no `credProtect` policy: the
/// library asks for `userVerificationRequired` (not enforced) beside `userVerification:
/// preferred`, a combination Chromium refuses outright (`NotSupportedError`, "protection
/// policy inconsistent"), so no security key could be added in Chrome or Edge; and on a key
/// with a PIN that policy would demand the PIN at every use, which `preferred` does not.
/// The library only records whether the key applied it.
fn creation_options(ccr: &CreationChallengeResponse, discoverable: bool) -> ServiceResult<Value> {
    let mut v = serde_json::to_value(ccr).map_err(|e| internal("webauthn options", e))?;
    if !discoverable {
        if let Some(ext) = v
            .get_mut("publicKey")
            .and_then(|p| p.get_mut("extensions"))
            .and_then(Value::as_object_mut)
        {
            ext.remove("credentialProtectionPolicy");
            ext.remove("enforceCredentialProtectionPolicy");
        }
    }
    if discoverable {
        if let Some(sel) = v
            .get_mut("publicKey")
            .and_then(|p| p.get_mut("authenticatorSelection"))
            .and_then(Value::as_object_mut)
        {
            sel.insert("residentKey".into(), "preferred".into());
            sel.insert("requireResidentKey".into(), false.into());
        }
    }
    Ok(v)
}

/// What a credential's flags say one verification with it proves.
pub(crate) fn method_of(backup_eligible: bool, user_verified: bool) -> Method {
    let key = if backup_eligible { Amr::Swk } else { Amr::Hwk };
    if user_verified {
        Method {
            amr: vec![key, Amr::User],
            aal: Aal::Aal2Phr,
        }
    } else {
        Method {
            amr: vec![key],
            aal: Aal::Aal2,
        }
    }
}

/// Starts an authentication for `credentials` (a second factor), per the tenant's policy.
pub(crate) fn start_authentication(
    cx: &Cx<'_>,
    credentials: Vec<Credential>,
) -> ServiceResult<(Value, Authentication)> {
    let rp = relying_party(cx)?;
    let (rcr, state) = match cx.tenant.settings.webauthn.user_verification {
        UserVerification::Required => {
            let keys: Vec<Passkey> = credentials.into_iter().map(Passkey::from).collect();
            let (rcr, s) = rp
                .start_passkey_authentication(&keys)
                .map_err(|e| internal("webauthn authentication", e))?;
            (rcr, Authentication::Passkey(s))
        }
        UserVerification::Preferred => {
            let keys: Vec<SecurityKey> = credentials.into_iter().map(SecurityKey::from).collect();
            let (rcr, s) = rp
                .start_securitykey_authentication(&keys)
                .map_err(|e| internal("webauthn authentication", e))?;
            (rcr, Authentication::SecurityKey(s))
        }
    };
    let options = serde_json::to_value(&rcr).map_err(|e| internal("webauthn options", e))?;
    Ok((options, state))
}

/// Starts a passwordless ceremony: any discoverable credential of the tenant's RP, with user
/// verification (it is the whole sign-in). The options say `mediation: conditional` for
/// autofill; a button-started ceremony drops it.
pub(crate) fn start_discoverable(cx: &Cx<'_>) -> ServiceResult<(Value, Authentication)> {
    let rp = relying_party(cx)?;
    let (rcr, state) = rp
        .start_discoverable_authentication()
        .map_err(|e| internal("webauthn authentication", e))?;
    let options = serde_json::to_value(&rcr).map_err(|e| internal("webauthn options", e))?;
    Ok((options, Authentication::Discoverable(state)))
}

/// The outcome of checking an assertion.
pub(crate) enum Asserted {
    /// Valid: the counter and flags to store, and what it proves.
    Valid {
        sign_count: i64,
        backup_state: bool,
        method: Method,
    },
    /// Valid signature, but the counter did not move past the copy in the state: the store
    /// is told this counter, refuses it and flags the credential.
    CounterRegressed { sign_count: i64 },
    /// Anything else wrong.
    Invalid,
}

/// Checks an assertion against a ceremony's state; `credentials` are those the user may
/// answer with (for a passwordless ceremony, the one the assertion names).
pub(crate) fn finish_authentication(
    cx: &Cx<'_>,
    state: Authentication,
    answer: &Value,
    credentials: &[Credential],
) -> ServiceResult<Asserted> {
    let rp = relying_party(cx)?;
    if !framing_allowed(cx, answer) {
        return Ok(Asserted::Invalid);
    }
    if !strictly_encoded(answer) {
        return Err(InputError::CredentialFormat.into());
    }
    let Ok(response) = serde_json::from_value::<PublicKeyCredential>(answer.clone()) else {
        return Err(InputError::CredentialFormat.into());
    };
    let result = match state {
        Authentication::Passkey(s) => rp.finish_passkey_authentication(&response, &s),
        Authentication::SecurityKey(s) => rp.finish_securitykey_authentication(&response, &s),
        Authentication::Discoverable(s) => {
            let keys: Vec<DiscoverableKey> = credentials
                .iter()
                .cloned()
                .map(|c| DiscoverableKey::from(Passkey::from(c)))
                .collect();
            rp.finish_discoverable_authentication(&response, s, &keys)
        }
    };
    Ok(match result {
        // The ceremony may allow several credentials; the answer proves only the one it was
        // made with, which must be the one (or one of those) the caller binds it to: else a
        // clone of key B, named as factor A, would be counted on A and B never flagged.
        Ok(r) if !credentials.iter().any(|c| c.cred_id == *r.cred_id()) => Asserted::Invalid,
        // Backup eligibility is fixed when a credential is made (WebAuthn L3 §6.1.3): the
        // passkey flow lets it rise from 0 to 1; we hold it to what was registered.
        Ok(r)
            if credentials
                .iter()
                .any(|c| c.cred_id == *r.cred_id() && c.backup_eligible != r.backup_eligible()) =>
        {
            Asserted::Invalid
        }
        Ok(r) => Asserted::Valid {
            sign_count: i64::from(r.counter()),
            backup_state: r.backup_state(),
            method: method_of(r.backup_eligible(), r.user_verified()),
        },
        Err(WebauthnError::CredentialPossibleCompromise)
            if credentials
                .iter()
                .any(|c| AsRef::<[u8]>::as_ref(&c.cred_id) == response.get_credential_id()) =>
        {
            match counter_of(&response) {
                Some(sign_count) => Asserted::CounterRegressed { sign_count },
                None => Asserted::Invalid,
            }
        }
        Err(WebauthnError::CredentialPossibleCompromise) => Asserted::Invalid,
        Err(e) => {
            tracing::debug!(error = %e, "webauthn assertion refused");
            Asserted::Invalid
        }
    })
}

/// The signature counter in an assertion's authenticator data (bytes 33 to 36, big-endian).
fn counter_of(response: &PublicKeyCredential) -> Option<i64> {
    let data: &[u8] = response.response.authenticator_data.as_ref();
    let bytes: [u8; 4] = data.get(33..37)?.try_into().ok()?;
    Some(i64::from(u32::from_be_bytes(bytes)))
}

/// The stored record of a newly registered credential.
fn record(factor: &Factor, cred: &Credential) -> WebauthnCredential {
    let aaguid = match &cred.attestation.metadata {
        AttestationMetadata::Packed { aaguid } | AttestationMetadata::Tpm { aaguid, .. } => {
            Some(aaguid.to_string())
        }
        _ => None,
    };
    WebauthnCredential {
        factor_id: factor.id.clone(),
        tenant_id: factor.tenant_id.clone(),
        user_id: factor.user_id.clone(),
        credential_id: URL_SAFE_NO_PAD.encode(cred.cred_id.as_ref() as &[u8]),
        sign_count: i64::from(cred.counter),
        backup_eligible: cred.backup_eligible,
        backup_state: cred.backup_state,
        user_verified: cred.user_verified,
        aaguid,
        transports: cred
            .transports
            .as_ref()
            .and_then(|t| serde_json::to_string(t).ok()),
        clone_suspected_at: None,
    }
}

impl FactorModule for Webauthn {
    fn begin_enrollment(
        &self,
        cx: &Cx<'_>,
        user: &User,
        factor: Factor,
        request: &NewFactor<'_>,
        _challenge: Option<&ChallengeId>,
    ) -> ServiceResult<Begun> {
        let rp = relying_party(cx)?;
        let exclude: Vec<CredentialID> = request
            .credentials
            .iter()
            .filter_map(|c| URL_SAFE_NO_PAD.decode(&c.credential_id).ok())
            .map(CredentialID::from)
            .collect();
        let exclude = (!exclude.is_empty()).then_some(exclude);
        let handle = user_handle(cx, user);
        let name = user.email.as_str();
        let display = user.name.as_deref().unwrap_or(name);
        let w = &cx.tenant.settings.webauthn;
        let ca = match w.attestation {
            AttestationPolicy::None => None,
            AttestationPolicy::Direct => Some(attestation_cas(cx)?),
        };
        let fail = |e: WebauthnError| internal("webauthn registration", e);
        let (ccr, state, discoverable) = match (w.user_verification, ca) {
            (UserVerification::Required, None) => {
                let (ccr, s) = rp
                    .start_passkey_registration(handle, name, display, exclude)
                    .map_err(fail)?;
                (ccr, Registration::Passkey(s), true)
            }
            (UserVerification::Required, Some(ca)) => {
                let (ccr, s) = rp
                    .start_attested_passkey_registration(handle, name, display, exclude, ca, None)
                    .map_err(fail)?;
                (ccr, Registration::Attested(s), true)
            }
            (UserVerification::Preferred, ca) => {
                let (ccr, s) = rp
                    .start_securitykey_registration(handle, name, display, exclude, ca, None)
                    .map_err(fail)?;
                (ccr, Registration::SecurityKey(s), false)
            }
        };
        let sealed = seal(cx, SealedColumn::FactorSecret, factor.id.as_str(), &state)?;
        Ok(Begun {
            factor: Factor {
                secret_sealed: Some(sealed),
                ..factor
            },
            details: EnrollDetails::Webauthn {
                options: creation_options(&ccr, discoverable)?,
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
        let response: RegisterPublicKeyCredential = parse(answer)?;
        let state_sealed = factor
            .secret_sealed
            .clone()
            .ok_or_else(|| internal("webauthn factor", "without registration state"))?;
        let state: Registration = open(cx, SealedColumn::FactorSecret, factor.id.as_str(), &state_sealed)?;
        if let Answer::Credential(v) = answer {
            if !framing_allowed(cx, v) {
                return Ok(None);
            }
        }
        let rp = relying_party(cx)?;
        let finished = match state {
            Registration::Passkey(s) => rp
                .finish_passkey_registration(&response, &s)
                .map(Credential::from),
            Registration::Attested(s) => rp
                .finish_attested_passkey_registration(&response, &s)
                .map(Credential::from),
            Registration::SecurityKey(s) => rp
                .finish_securitykey_registration(&response, &s)
                .map(Credential::from),
        };
        let cred = match finished {
            Ok(cred) => cred,
            Err(e) => {
                tracing::debug!(error = %e, "webauthn registration refused");
                return Ok(None);
            }
        };
        let id_len = AsRef::<[u8]>::as_ref(&cred.cred_id).len();
        if !(1..=MAX_CREDENTIAL_ID_BYTES).contains(&id_len) {
            return Ok(None);
        }
        let record = record(factor, &cred);
        if cx.tenant.settings.webauthn.attestation == AttestationPolicy::Direct
            && !record.aaguid.as_ref().is_some_and(|a| {
                cx.tenant
                    .settings
                    .webauthn
                    .allowed_aaguids
                    .iter()
                    .any(|x| x.eq_ignore_ascii_case(a))
            })
        {
            return Ok(None);
        }
        let credential_sealed = seal(cx, SealedColumn::FactorSecret, factor.id.as_str(), &cred)?;
        Ok(Some(Check::WebauthnRegistration {
            state_sealed,
            credential_sealed,
            credential: Box::new(record),
        }))
    }

    fn begin_challenge(
        &self,
        cx: &Cx<'_>,
        _user: &User,
        _factor: &Factor,
        challenge: &Challenge,
        offered: &[Factor],
        credentials: &[WebauthnCredential],
    ) -> ServiceResult<super::ChallengeStart> {
        // Every usable credential of the user: the browser offers whichever is at hand.
        let usable = offered.iter().filter(|f| {
            f.kind == latchkey_core::factor::FactorKind::Webauthn
                && credentials
                    .iter()
                    .any(|c| c.factor_id == f.id && c.clone_suspected_at.is_none())
        });
        let creds = usable
            .map(|f| credential(cx, f))
            .collect::<ServiceResult<Vec<_>>>()?;
        if creds.is_empty() {
            return Err(ServiceError::FactorNotFound);
        }
        let (options, state) = start_authentication(cx, creds)?;
        Ok(super::ChallengeStart {
            send: None,
            state_sealed: Some(seal_state(
                cx,
                SealedColumn::ChallengeState,
                challenge.id.as_str(),
                &state,
            )?),
            options: Some(options),
        })
    }

    fn proof(
        &self,
        cx: &Cx<'_>,
        factor: &Factor,
        answer: Answer<'_>,
        challenge: &Challenge,
    ) -> ServiceResult<Option<Proven>> {
        let Answer::Credential(value) = answer else {
            return Err(InputError::CredentialRequired.into());
        };
        // The flow took the state from the challenge (once) before asking.
        let Some(sealed) = challenge.state_sealed.as_deref() else {
            return Ok(None);
        };
        let state = open_state(cx, SealedColumn::ChallengeState, challenge.id.as_str(), sealed)?;
        let cred = credential(cx, factor)?;
        let proof = |sign_count, backup_state| Proof::WebauthnAssertion {
            factor_id: factor.id.clone(),
            sign_count,
            backup_state,
        };
        Ok(
            match finish_authentication(cx, state, value, std::slice::from_ref(&cred))? {
                Asserted::Valid {
                    sign_count,
                    backup_state,
                    method,
                } => Some(Proven {
                    proof: proof(sign_count, backup_state),
                    method,
                }),
                // The store refuses it and flags the credential, in the attempt's transaction.
                Asserted::CounterRegressed { sign_count } => Some(Proven {
                    proof: proof(sign_count, cred.backup_state),
                    method: self.method(factor),
                }),
                Asserted::Invalid => None,
            },
        )
    }

    fn confirmed_method(&self, factor: &Factor, check: &Check) -> Method {
        match check {
            Check::WebauthnRegistration { credential, .. } => {
                method_of(credential.backup_eligible, credential.user_verified)
            }
            _ => self.method(factor),
        }
    }

    fn uses_credentials(&self) -> bool {
        true
    }

    fn one_ceremony_for_all(&self) -> bool {
        true
    }

    fn listing(&self) -> super::Listing {
        super::Listing::Credential
    }

    fn method(&self, _factor: &Factor) -> Method {
        // Without a verification in hand: the least a WebAuthn credential proves.
        method_of(true, false)
    }
}

#[cfg(test)]
mod tests {
    //! The module alone, with the software authenticator: a right registration and assertion
    //! pass; and, as a fuzz harness run with the suite (SECURITY.md test 52), hundreds of
    //! mutated responses (bytes flipped, truncated, extended, in the CBOR of the attestation
    //! and authenticator data, the client data and the signature) end without a panic or an
    //! internal error, and every mutated assertion is refused.

    use super::super::testing::{Fixture, NOW};
    use super::*;
    use latchkey_core::factor::FactorKind;
    use latchkey_testkit::webauthn::{Forge, SoftAuthenticator};
    use proptest::prelude::*;

    const ORIGIN: &str = "https://login.example.com";

    fn allowing(fx: &mut Fixture) {
        fx.tenant.settings.mfa_allowed_factors.push(FactorKind::Webauthn);
    }

    /// A registration begun for a fresh user: the pending factor and the browser's answer.
    fn registered(fx: &Fixture, auth: &mut SoftAuthenticator) -> (Factor, Value) {
        let user = fx.user();
        let request = NewFactor {
            phone_number: None,
            account_phone: None,
            credentials: &[],
        };
        let begun = Webauthn
            .begin_enrollment(
                &fx.cx(NOW),
                &user,
                fx.pending(&user, FactorKind::Webauthn),
                &request,
                None,
            )
            .unwrap();
        let EnrollDetails::Webauthn { options } = begun.details else {
            panic!("webauthn options")
        };
        let answer = auth.register(&options, ORIGIN, &Forge::default()).unwrap();
        (begun.factor, answer)
    }

    fn b64(v: &Value, field: &str) -> Vec<u8> {
        URL_SAFE_NO_PAD
            .decode(v["response"][field].as_str().unwrap())
            .unwrap()
    }

    fn with(v: &Value, field: &str, bytes: &[u8]) -> Value {
        let mut v = v.clone();
        v["response"][field] = Value::String(URL_SAFE_NO_PAD.encode(bytes));
        v
    }

    /// One mutation of a byte string: flip a byte, cut it, or grow it.
    fn mutate(bytes: &[u8], op: u8, at: usize, with: u8) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let i = at % out.len().max(1);
        match op % 3 {
            0 if !out.is_empty() => out[i] ^= with.max(1),
            1 => out.truncate(i),
            _ => out
                .splice(i..i, std::iter::repeat_n(with, 1 + at % 64))
                .for_each(drop),
        }
        out
    }

    #[test]
    fn a_registration_and_an_assertion_pass_and_say_what_they_prove() {
        let mut fx = Fixture::new();
        allowing(&mut fx);
        let mut auth = SoftAuthenticator::new();
        let (factor, answer) = registered(&fx, &mut auth);
        let cx = fx.cx(NOW);
        let Some(Check::WebauthnRegistration {
            credential_sealed,
            credential,
            ..
        }) = Webauthn
            .confirmation(&cx, &factor, Answer::Credential(&answer), None)
            .unwrap()
        else {
            panic!("registered")
        };
        assert!(!credential.backup_eligible && credential.user_verified);
        let active = Factor {
            secret_sealed: Some(credential_sealed),
            ..factor
        };
        let cred = super::credential(&cx, &active).unwrap();
        let (options, state) = start_authentication(&cx, vec![cred.clone()]).unwrap();
        let assertion = auth.assert(&options, ORIGIN, &Forge::default()).unwrap();
        match finish_authentication(&cx, state, &assertion, &[cred]).unwrap() {
            Asserted::Valid {
                sign_count, method, ..
            } => {
                assert_eq!(sign_count, 1);
                assert_eq!(method.aal, Aal::Aal2Phr);
                assert_eq!(method.amr, vec![Amr::Hwk, Amr::User]);
            }
            _ => panic!("a valid assertion"),
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn mutated_registrations_fail_cleanly(field in 0usize..2, op: u8, at: usize, byte: u8) {
            let mut fx = Fixture::new();
            allowing(&mut fx);
            let mut auth = SoftAuthenticator::new();
            let (factor, answer) = registered(&fx, &mut auth);
            let name = ["attestationObject", "clientDataJSON"][field];
            let original = b64(&answer, name);
            let changed = mutate(&original, op, at, byte);
            prop_assume!(changed != original);
            // With attestation `none` nothing signs a registration: a mutation that still
            // parses is the registration of another (well-formed) credential, which anyone
            // could have made. So the property is: never a panic or an internal error, and
            // a refusal whenever the answer no longer parses or no longer fits the ceremony.
            let outcome = Webauthn.confirmation(&fx.cx(NOW), &factor, Answer::Credential(&with(&answer, name, &changed)), None);
            prop_assert!(!matches!(outcome, Err(ServiceError::Internal(_))), "{name}: internal error");
        }

        #[test]
        fn mutated_assertions_are_refused(field in 0usize..3, op: u8, at: usize, byte: u8) {
            let mut fx = Fixture::new();
            allowing(&mut fx);
            let mut auth = SoftAuthenticator::new();
            let (factor, answer) = registered(&fx, &mut auth);
            let cx = fx.cx(NOW);
            let Some(Check::WebauthnRegistration { credential_sealed, .. }) =
                Webauthn.confirmation(&cx, &factor, Answer::Credential(&answer), None).unwrap()
            else {
                panic!("registered")
            };
            let active = Factor { secret_sealed: Some(credential_sealed), ..factor };
            let cred = super::credential(&cx, &active).unwrap();
            let (options, state) = start_authentication(&cx, vec![cred.clone()]).unwrap();
            let assertion = auth.assert(&options, ORIGIN, &Forge::default()).unwrap();
            let name = ["authenticatorData", "clientDataJSON", "signature"][field];
            let original = b64(&assertion, name);
            let changed = mutate(&original, op, at, byte);
            prop_assume!(changed != original);
            let outcome = finish_authentication(&cx, state, &with(&assertion, name, &changed), &[cred]);
            prop_assert!(
                matches!(outcome, Ok(Asserted::Invalid) | Err(ServiceError::Input(_))),
                "{name}: not refused"
            );
        }
    }
}
