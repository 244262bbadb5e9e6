//! A software WebAuthn authenticator together with the browser half of the ceremony, so tests
//! can register and sign in with passkeys and security keys without a browser, and forge every
//! negative case a server has to refuse.
//!
//! [`SoftAuthenticator::register`] takes the server's creation options (the JSON that would be
//! handed to `navigator.credentials.create()`, either `{"publicKey":{...}}` or the inner object)
//! and returns what a browser would post back: the `RegisterPublicKeyCredential` JSON
//! (`{"id","rawId","type":"public-key","response":{"clientDataJSON","attestationObject",
//! "transports"},"authenticatorAttachment","extensions"}`). [`SoftAuthenticator::assert`] does
//! the same for `navigator.credentials.get()` and returns the `PublicKeyCredential` JSON
//! (`response` holds `clientDataJSON`, `authenticatorData`, `signature` and, for resident
//! credentials, `userHandle`). Binary values are base64url without padding, as browsers'
//! `toJSON()` writes them and webauthn-rs 0.5 reads them.
//!
//! Keys are ES256 (P-256 through OpenSSL), signatures DER-encoded, public keys COSE-encoded
//! (kty 2, alg -7, crv 1, x, y); the attestation is `none`, or `packed` self-attestation when
//! built with [`SoftAuthenticator::packed_self_attestation`]. The CBOR is written by the small
//! encoder at the bottom of this file, in CTAP2 canonical key order.
//!
//! With an empty [`Forge`] the output is what a well-behaved authenticator and browser produce:
//! UP=1; UV=1 when the options ask for user verification (`required` or `preferred`, the default)
//! and the authenticator can verify; BE/BS as the authenticator is configured (device-bound
//! 0/0 by default, [`SoftAuthenticator::synced`] 1/1); a signature counter that goes up by one
//! per assertion (or stays 0 with [`SoftAuthenticator::counter_always_zero`]); the user handle
//! from the creation options' `user.id`; the RP ID from `rp.id` / `rpId` (or the origin's host
//! when absent); the challenge copied from the options; and clientDataJSON
//! `{"type","challenge","origin","crossOrigin":false}`. Like a real authenticator it refuses to
//! register when it already holds a credential listed in `excludeCredentials`, and an assertion
//! uses a credential from `allowCredentials`, or the newest resident one for the RP when that
//! list is empty (discoverable sign-in). Each field of [`Forge`] breaks exactly one thing.
//!
//! What this does not model: no origin/RP ID consistency check (a browser would refuse an
//! `rp.id` that is not a suffix of the origin's host; here the origin is simply what you pass),
//! no extensions other than `credProps` in the client output, only ES256.

use std::fmt;

use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use serde_json::{json, Map, Value};

/// COSE algorithm identifier of ES256.
pub const COSE_ES256: i64 = -7;

const FLAG_UP: u8 = 0x01;
const FLAG_UV: u8 = 0x04;
const FLAG_BE: u8 = 0x08;
const FLAG_BS: u8 = 0x10;
const FLAG_AT: u8 = 0x40;

/// How the binary fields of the client's JSON are written.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Base64Style {
    /// base64url without padding, as browsers write it.
    #[default]
    UrlNoPad,
    /// base64url with `=` padding.
    UrlPadded,
    /// Standard base64 (`+`, `/`, padding).
    Standard,
    /// base64url with a character outside every base64 alphabet (`*`) appended.
    Invalid,
}

/// One knob per thing to break. `Forge::default()` breaks nothing.
#[derive(Debug, Default, Clone)]
pub struct Forge {
    /// clientDataJSON `type` (e.g. `"webauthn.create"` in an assertion).
    pub client_data_type: Option<String>,
    /// Answer this challenge instead of the one in the options.
    pub challenge: Option<Vec<u8>>,
    /// clientDataJSON `crossOrigin` (otherwise `false`).
    pub cross_origin: Option<bool>,
    /// Adds clientDataJSON `topOrigin`.
    pub top_origin: Option<String>,
    /// Puts a UTF-8 byte order mark before clientDataJSON.
    pub bom: bool,
    /// Replaces clientDataJSON with these bytes as they are (signatures still cover them).
    pub raw_client_data_json: Option<Vec<u8>>,
    /// rpIdHash of this RP ID instead of the options' one (the credential is still stored
    /// under the real RP ID).
    pub rp_id: Option<String>,
    /// User Present flag (otherwise 1).
    pub up: Option<bool>,
    /// User Verified flag (otherwise from `userVerification` and the authenticator).
    pub uv: Option<bool>,
    /// Backup Eligible flag (otherwise as the authenticator is configured).
    pub be: Option<bool>,
    /// Backup State flag (otherwise as the authenticator is configured).
    pub bs: Option<bool>,
    /// Signature counter to report (the stored counter is left alone).
    pub counter: Option<u32>,
    /// COSE `alg` claimed in the credential public key (the key stays P-256).
    pub alg: Option<i64>,
    /// Registration: length of the new random credential ID (default 32; e.g. 1024).
    pub credential_id_len: Option<usize>,
    /// Registration: use this credential ID (e.g. one already registered); a stored credential
    /// with the same ID is replaced. Assertion: report this ID in `id`/`rawId` while signing
    /// with the credential that was picked.
    pub credential_id: Option<Vec<u8>>,
    /// Assertion: `Some(Some(h))` sends `h` as userHandle, `Some(None)` leaves it out.
    pub user_handle: Option<Option<Vec<u8>>>,
    /// Assertion: answer with this stored credential, whatever allowCredentials and the RP ID say.
    pub use_credential: Option<Vec<u8>>,
    /// Registration: create the credential even if it is listed in excludeCredentials.
    pub ignore_exclude_credentials: bool,
    /// Registration: claim this attestation format (the statement stays what it was).
    pub attestation_fmt: Option<String>,
    /// Sign with a freshly generated key instead of the credential's (assertion signature and
    /// packed self-attestation signature).
    pub wrong_signing_key: bool,
    /// Replaces the authenticator data with these bytes (inside the attestation object when
    /// registering; signed as they are when asserting).
    pub raw_authenticator_data: Option<Vec<u8>>,
    /// Registration: replaces the whole attestation object with these bytes.
    pub raw_attestation_object: Option<Vec<u8>>,
    /// Encoding of the binary JSON fields.
    pub base64: Base64Style,
}

/// Why the authenticator refused (what a browser reports as a DOMException).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SoftAuthError {
    /// It holds a credential listed in excludeCredentials (InvalidStateError).
    Excluded,
    /// No stored credential matches the request (NotAllowedError).
    NoCredential,
    /// `userVerification: "required"` and the authenticator cannot verify.
    UserVerificationUnavailable,
    /// pubKeyCredParams offers no ES256 (NotSupportedError).
    UnsupportedAlgorithm,
    /// The options are not what a browser would accept.
    BadOptions(String),
}

impl fmt::Display for SoftAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SoftAuthError::Excluded => f.write_str("authenticator holds an excluded credential"),
            SoftAuthError::NoCredential => f.write_str("no matching credential"),
            SoftAuthError::UserVerificationUnavailable => {
                f.write_str("user verification required but not available")
            }
            SoftAuthError::UnsupportedAlgorithm => f.write_str("no supported algorithm offered"),
            SoftAuthError::BadOptions(m) => write!(f, "bad options: {m}"),
        }
    }
}

impl std::error::Error for SoftAuthError {}

struct StoredCredential {
    id: Vec<u8>,
    key: PKey<Private>,
    rp_id: String,
    user_handle: Vec<u8>,
    counter: u32,
    resident: bool,
}

/// A software authenticator holding ES256 credentials, plus the client (browser) around it.
pub struct SoftAuthenticator {
    credentials: Vec<StoredCredential>,
    uv_capable: bool,
    backup_eligible: bool,
    backup_state: bool,
    counter_always_zero: bool,
    always_resident: bool,
    packed: bool,
    /// Full `packed` attestation: the attestation key and its certificate (DER).
    attestation: Option<(PKey<Private>, Vec<u8>)>,
    attachment: &'static str,
    aaguid: [u8; 16],
}

impl Default for SoftAuthenticator {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SoftAuthenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftAuthenticator")
            .field("credentials", &self.credentials.len())
            .field("uv_capable", &self.uv_capable)
            .field("backup_eligible", &self.backup_eligible)
            .field("backup_state", &self.backup_state)
            .field("counter_always_zero", &self.counter_always_zero)
            .finish_non_exhaustive()
    }
}

impl SoftAuthenticator {
    /// A device-bound platform authenticator (BE=0, BS=0) that can verify the user, makes every
    /// credential resident, counts signatures and attests `none`.
    pub fn new() -> Self {
        SoftAuthenticator {
            credentials: Vec::new(),
            uv_capable: true,
            backup_eligible: false,
            backup_state: false,
            counter_always_zero: false,
            always_resident: true,
            packed: false,
            attestation: None,
            attachment: "platform",
            aaguid: [0; 16],
        }
    }

    /// A synced passkey provider: BE=1, BS=1 and a counter that always stays 0.
    pub fn synced() -> Self {
        Self::new().backup(true, true).counter_always_zero()
    }

    /// Sets the backup eligibility and backup state flags it reports.
    pub fn backup(mut self, eligible: bool, state: bool) -> Self {
        self.backup_eligible = eligible;
        self.backup_state = state;
        self
    }

    /// Reports a signature counter of 0 in every response.
    pub fn counter_always_zero(mut self) -> Self {
        self.counter_always_zero = true;
        self
    }

    /// Cannot verify the user (a security key without PIN): UV=0, and `required` is refused.
    pub fn without_user_verification(mut self) -> Self {
        self.uv_capable = false;
        self
    }

    /// A roaming security key: `cross-platform`, transport `usb`, and resident credentials only
    /// when the options ask for them (`residentKey` required/preferred or `requireResidentKey`).
    pub fn security_key(mut self) -> Self {
        self.attachment = "cross-platform";
        self.always_resident = false;
        self
    }

    /// Attests with `packed` self-attestation (signed by the credential key) instead of `none`.
    pub fn packed_self_attestation(mut self) -> Self {
        self.packed = true;
        self
    }

    /// Attests with full `packed` attestation: signed by the key of `certificate`, which
    /// the statement carries (`x5c`). Build both with [`AttestationCa`]; the AAGUID is
    /// the certificate's.
    pub fn packed_attestation(mut self, ca: &AttestationCa) -> Self {
        self.packed = true;
        self.aaguid = ca.aaguid;
        self.attestation = Some((ca.leaf_key.clone(), ca.leaf_der.clone()));
        self
    }

    /// Sets the AAGUID put into attested credential data (all zeroes by default).
    pub fn aaguid(mut self, aaguid: [u8; 16]) -> Self {
        self.aaguid = aaguid;
        self
    }

    /// IDs of the stored credentials, oldest first.
    pub fn credential_ids(&self) -> Vec<Vec<u8>> {
        self.credentials.iter().map(|c| c.id.clone()).collect()
    }

    /// The stored signature counter of a credential.
    pub fn counter(&self, cred_id: &[u8]) -> Option<u32> {
        self.find(cred_id).map(|c| c.counter)
    }

    /// Sets the stored signature counter; the next assertion reports `n + 1`.
    pub fn set_counter(&mut self, cred_id: &[u8], n: u32) {
        let cred = self
            .credentials
            .iter_mut()
            .find(|c| c.id == cred_id)
            .expect("set_counter: no such credential");
        cred.counter = n;
    }

    /// Forgets a credential (the user deleted the passkey on the device).
    pub fn remove_credential(&mut self, cred_id: &[u8]) {
        self.credentials.retain(|c| c.id != cred_id);
    }

    fn find(&self, cred_id: &[u8]) -> Option<&StoredCredential> {
        self.credentials.iter().find(|c| c.id == cred_id)
    }

    /// `navigator.credentials.create()`: makes a credential for `options` (the server's creation
    /// options) as seen from `origin`, and returns the JSON the browser would send back.
    pub fn register(&mut self, options: &Value, origin: &str, forge: &Forge) -> Result<Value, SoftAuthError> {
        let opts = public_key(options);
        let challenge = match &forge.challenge {
            Some(c) => c.clone(),
            None => b64_field(opts, "challenge")?,
        };
        let rp_id = match opts.pointer("/rp/id").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => host_of(origin)?,
        };
        let user_handle = b64_field(
            opts.get("user")
                .ok_or_else(|| SoftAuthError::BadOptions("missing user".into()))?,
            "id",
        )?;

        if let Some(params) = opts.get("pubKeyCredParams").and_then(Value::as_array) {
            if !params.is_empty()
                && !params
                    .iter()
                    .any(|p| p.get("alg").and_then(Value::as_i64) == Some(COSE_ES256))
            {
                return Err(SoftAuthError::UnsupportedAlgorithm);
            }
        }

        if !forge.ignore_exclude_credentials {
            for id in descriptor_ids(opts.get("excludeCredentials"))? {
                if self.credentials.iter().any(|c| c.id == id && c.rp_id == rp_id) {
                    return Err(SoftAuthError::Excluded);
                }
            }
        }

        let selection = opts.get("authenticatorSelection");
        let uv = self.user_verification(
            selection
                .and_then(|s| s.get("userVerification"))
                .and_then(Value::as_str),
        )?;
        let resident = self.always_resident
            || selection.is_some_and(|s| {
                s.get("requireResidentKey").and_then(Value::as_bool) == Some(true)
                    || matches!(
                        s.get("residentKey").and_then(Value::as_str),
                        Some("required" | "preferred")
                    )
            });

        let cred_id = match &forge.credential_id {
            Some(id) => id.clone(),
            None => random_bytes(forge.credential_id_len.unwrap_or(32)),
        };
        let key = new_p256_key();
        let cose_key = cose_es256(&key, forge.alg.unwrap_or(COSE_ES256));

        let counter = forge.counter.unwrap_or(0);
        let flags = self.flags(uv, forge) | FLAG_AT;
        let auth_data = match &forge.raw_authenticator_data {
            Some(raw) => raw.clone(),
            None => {
                let mut d = rp_id_hash(forge.rp_id.as_deref().unwrap_or(&rp_id)).to_vec();
                d.push(flags);
                d.extend_from_slice(&counter.to_be_bytes());
                d.extend_from_slice(&self.aaguid);
                let len = u16::try_from(cred_id.len()).expect("credential ID longer than 65535");
                d.extend_from_slice(&len.to_be_bytes());
                d.extend_from_slice(&cred_id);
                d.extend_from_slice(&cose_key);
                d
            }
        };

        let client_data = client_data_json("webauthn.create", &challenge, origin, forge);
        let (fmt, att_stmt) = if self.packed {
            let signing = if forge.wrong_signing_key {
                new_p256_key()
            } else {
                key.clone()
            };
            let signing = match (&self.attestation, forge.wrong_signing_key) {
                (Some((att_key, _)), false) => att_key.clone(),
                _ => signing,
            };
            let sig = sign(&signing, &[&auth_data, &sha256(&client_data)]);
            let mut stmt = vec![
                (Cbor::text("alg"), Cbor::Int(COSE_ES256)),
                (Cbor::text("sig"), Cbor::Bytes(sig)),
            ];
            if let Some((_, der)) = &self.attestation {
                stmt.push((Cbor::text("x5c"), Cbor::Array(vec![Cbor::Bytes(der.clone())])));
            }
            ("packed", Cbor::Map(stmt))
        } else {
            ("none", Cbor::Map(Vec::new()))
        };
        let fmt = forge.attestation_fmt.as_deref().unwrap_or(fmt);
        let attestation_object = match &forge.raw_attestation_object {
            Some(raw) => raw.clone(),
            None => Cbor::Map(vec![
                (Cbor::text("fmt"), Cbor::text(fmt)),
                (Cbor::text("attStmt"), att_stmt),
                (Cbor::text("authData"), Cbor::Bytes(auth_data)),
            ])
            .encode(),
        };

        self.credentials.retain(|c| c.id != cred_id);
        self.credentials.push(StoredCredential {
            id: cred_id.clone(),
            key,
            rp_id,
            user_handle,
            counter: 0,
            resident,
        });

        let mut extensions = Map::new();
        if opts.pointer("/extensions/credProps").and_then(Value::as_bool) == Some(true) {
            extensions.insert("credProps".into(), json!({ "rk": resident }));
        }
        let transport = if self.attachment == "platform" {
            "internal"
        } else {
            "usb"
        };
        let b = forge.base64;
        Ok(json!({
            "id": b64(b, &cred_id),
            "rawId": b64(b, &cred_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(b, &client_data),
                "attestationObject": b64(b, &attestation_object),
                "transports": [transport],
            },
            "authenticatorAttachment": self.attachment,
            "extensions": extensions,
        }))
    }

    /// `navigator.credentials.get()`: signs the challenge of `options` (the server's request
    /// options) as seen from `origin`, and returns the JSON the browser would send back.
    pub fn assert(&mut self, options: &Value, origin: &str, forge: &Forge) -> Result<Value, SoftAuthError> {
        let opts = public_key(options);
        let challenge = match &forge.challenge {
            Some(c) => c.clone(),
            None => b64_field(opts, "challenge")?,
        };
        let rp_id = match opts.get("rpId").and_then(Value::as_str) {
            Some(id) => id.to_owned(),
            None => host_of(origin)?,
        };
        let uv = self.user_verification(opts.get("userVerification").and_then(Value::as_str))?;

        let index = match &forge.use_credential {
            Some(id) => self.credentials.iter().position(|c| &c.id == id),
            None => {
                let allowed = descriptor_ids(opts.get("allowCredentials"))?;
                if allowed.is_empty() {
                    self.credentials
                        .iter()
                        .rposition(|c| c.resident && c.rp_id == rp_id)
                } else {
                    self.credentials
                        .iter()
                        .position(|c| c.rp_id == rp_id && allowed.contains(&c.id))
                }
            }
        }
        .ok_or(SoftAuthError::NoCredential)?;

        let always_zero = self.counter_always_zero;
        let flags = self.flags(uv, forge);
        let cred = &mut self.credentials[index];
        if !always_zero {
            cred.counter = cred.counter.wrapping_add(1);
        }
        let counter = forge
            .counter
            .unwrap_or(if always_zero { 0 } else { cred.counter });

        let auth_data = match &forge.raw_authenticator_data {
            Some(raw) => raw.clone(),
            None => {
                let mut d = rp_id_hash(forge.rp_id.as_deref().unwrap_or(&rp_id)).to_vec();
                d.push(flags);
                d.extend_from_slice(&counter.to_be_bytes());
                d
            }
        };
        let client_data = client_data_json("webauthn.get", &challenge, origin, forge);
        let signing = if forge.wrong_signing_key {
            new_p256_key()
        } else {
            cred.key.clone()
        };
        let signature = sign(&signing, &[&auth_data, &sha256(&client_data)]);

        let user_handle = match &forge.user_handle {
            Some(h) => h.clone(),
            None => cred.resident.then(|| cred.user_handle.clone()),
        };
        let cred_id = forge.credential_id.clone().unwrap_or_else(|| cred.id.clone());
        let b = forge.base64;
        let mut response = json!({
            "clientDataJSON": b64(b, &client_data),
            "authenticatorData": b64(b, &auth_data),
            "signature": b64(b, &signature),
        });
        if let Some(h) = user_handle {
            response["userHandle"] = Value::String(b64(b, &h));
        }
        Ok(json!({
            "id": b64(b, &cred_id),
            "rawId": b64(b, &cred_id),
            "type": "public-key",
            "response": response,
            "authenticatorAttachment": self.attachment,
            "extensions": {},
        }))
    }

    /// Whether to verify the user for a `userVerification` value (absent means `preferred`).
    fn user_verification(&self, requested: Option<&str>) -> Result<bool, SoftAuthError> {
        match requested.unwrap_or("preferred") {
            "required" if !self.uv_capable => Err(SoftAuthError::UserVerificationUnavailable),
            "discouraged" => Ok(false),
            _ => Ok(self.uv_capable),
        }
    }

    /// UP, UV, BE and BS as configured, then as forged.
    fn flags(&self, uv: bool, forge: &Forge) -> u8 {
        let mut flags = 0;
        let mut set = |bit: u8, default: bool, forged: Option<bool>| {
            if forged.unwrap_or(default) {
                flags |= bit;
            }
        };
        set(FLAG_UP, true, forge.up);
        set(FLAG_UV, uv, forge.uv);
        set(FLAG_BE, self.backup_eligible, forge.be);
        set(FLAG_BS, self.backup_state, forge.bs);
        flags
    }
}

/// The `publicKey` member of `{"publicKey":{...}}`, or the value itself.
fn public_key(options: &Value) -> &Value {
    options.get("publicKey").unwrap_or(options)
}

fn b64_field(obj: &Value, name: &str) -> Result<Vec<u8>, SoftAuthError> {
    let s = obj
        .get(name)
        .and_then(Value::as_str)
        .ok_or_else(|| SoftAuthError::BadOptions(format!("missing {name}")))?;
    decode_b64(s).ok_or_else(|| SoftAuthError::BadOptions(format!("{name} is not base64")))
}

/// Decodes base64url or standard base64, padded or not.
pub fn decode_b64(s: &str) -> Option<Vec<u8>> {
    let s: String = s
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '+' => '-',
            '/' => '_',
            c => c,
        })
        .collect();
    URL_SAFE_NO_PAD.decode(s).ok()
}

fn b64(style: Base64Style, data: &[u8]) -> String {
    match style {
        Base64Style::UrlNoPad => URL_SAFE_NO_PAD.encode(data),
        Base64Style::UrlPadded => URL_SAFE.encode(data),
        Base64Style::Standard => STANDARD.encode(data),
        Base64Style::Invalid => URL_SAFE_NO_PAD.encode(data) + "*",
    }
}

/// Credential IDs of an excludeCredentials / allowCredentials list.
fn descriptor_ids(list: Option<&Value>) -> Result<Vec<Vec<u8>>, SoftAuthError> {
    let Some(list) = list.filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| SoftAuthError::BadOptions("credential list is not an array".into()))?;
    list.iter().map(|d| b64_field(d, "id")).collect()
}

fn host_of(origin: &str) -> Result<String, SoftAuthError> {
    let rest = origin
        .split_once("://")
        .map(|(_, r)| r)
        .ok_or_else(|| SoftAuthError::BadOptions(format!("origin {origin} has no scheme")))?;
    let authority = rest.split('/').next().unwrap_or(rest);
    let host = match authority.find(']') {
        Some(end) if authority.starts_with('[') => &authority[..=end],
        _ => authority.split(':').next().unwrap_or(authority),
    };
    Ok(host.to_owned())
}

/// clientDataJSON as browsers serialise it: members in this order, no whitespace.
fn client_data_json(kind: &str, challenge: &[u8], origin: &str, forge: &Forge) -> Vec<u8> {
    if let Some(raw) = &forge.raw_client_data_json {
        return raw.clone();
    }
    let string = |s: &str| Value::String(s.to_owned()).to_string();
    let mut json = format!(
        "{{\"type\":{},\"challenge\":{},\"origin\":{},\"crossOrigin\":{}",
        string(forge.client_data_type.as_deref().unwrap_or(kind)),
        string(&URL_SAFE_NO_PAD.encode(challenge)),
        string(origin),
        forge.cross_origin.unwrap_or(false),
    );
    if let Some(top) = &forge.top_origin {
        json.push_str(&format!(",\"topOrigin\":{}", string(top)));
    }
    json.push('}');
    let mut out = Vec::new();
    if forge.bom {
        out.extend_from_slice(b"\xEF\xBB\xBF");
    }
    out.extend_from_slice(json.as_bytes());
    out
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0; n];
    openssl::rand::rand_bytes(&mut buf).expect("OpenSSL random bytes");
    buf
}

/// A manufacturer's attestation root and one attestation certificate it issued for an
/// authenticator model (`aaguid`), as FIDO's packed format requires (WebAuthn L3 §8.2.1:
/// version 3; subject C, O, OU "Authenticator Attestation", CN; not a CA; the AAGUID in
/// extension 1.3.6.1.4.1.45724.1.1.4).
pub struct AttestationCa {
    /// The root certificate, PEM, as a tenant configures it.
    pub root_pem: String,
    pub aaguid: [u8; 16],
    leaf_key: PKey<Private>,
    leaf_der: Vec<u8>,
}

impl AttestationCa {
    pub fn new(aaguid: [u8; 16]) -> Self {
        use openssl::asn1::{Asn1Object, Asn1OctetString, Asn1Time};
        use openssl::x509::extension::BasicConstraints;
        use openssl::x509::{X509Builder, X509Extension, X509NameBuilder};
        let name = |cn: &str, ou: &str| {
            let mut n = X509NameBuilder::new().unwrap();
            n.append_entry_by_text("C", "SE").unwrap();
            n.append_entry_by_text("O", "Latchkey Test Authenticators")
                .unwrap();
            n.append_entry_by_text("OU", ou).unwrap();
            n.append_entry_by_text("CN", cn).unwrap();
            n.build()
        };
        let serial = |n: u32| BigNum::from_u32(n).unwrap().to_asn1_integer().unwrap();
        let root_key = new_p256_key();
        let root_name = name("Latchkey Test Root CA", "Root");
        let mut root = X509Builder::new().unwrap();
        root.set_version(2).unwrap();
        root.set_serial_number(&serial(1)).unwrap();
        root.set_subject_name(&root_name).unwrap();
        root.set_issuer_name(&root_name).unwrap();
        root.set_pubkey(&root_key).unwrap();
        root.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        root.set_not_after(&Asn1Time::days_from_now(3650).unwrap())
            .unwrap();
        root.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
        root.sign(&root_key, MessageDigest::sha256()).unwrap();
        let root = root.build();

        let leaf_key = new_p256_key();
        let mut leaf = X509Builder::new().unwrap();
        leaf.set_version(2).unwrap();
        leaf.set_serial_number(&serial(2)).unwrap();
        leaf.set_subject_name(&name("Latchkey Test Key", "Authenticator Attestation"))
            .unwrap();
        leaf.set_issuer_name(&root_name).unwrap();
        leaf.set_pubkey(&leaf_key).unwrap();
        leaf.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
        leaf.set_not_after(&Asn1Time::days_from_now(3650).unwrap())
            .unwrap();
        leaf.append_extension(BasicConstraints::new().build().unwrap())
            .unwrap();
        let mut inner = vec![0x04, 16];
        inner.extend_from_slice(&aaguid);
        let ext = X509Extension::new_from_der(
            &Asn1Object::from_str("1.3.6.1.4.1.45724.1.1.4").unwrap(),
            false,
            &Asn1OctetString::new_from_bytes(&inner).unwrap(),
        )
        .unwrap();
        leaf.append_extension(ext).unwrap();
        leaf.sign(&root_key, MessageDigest::sha256()).unwrap();
        let leaf = leaf.build();
        AttestationCa {
            root_pem: String::from_utf8(root.to_pem().unwrap()).unwrap(),
            aaguid,
            leaf_key,
            leaf_der: leaf.to_der().unwrap(),
        }
    }

    /// The AAGUID as a UUID string.
    pub fn aaguid_string(&self) -> String {
        let h: String = self.aaguid.iter().map(|b| format!("{b:02x}")).collect();
        format!(
            "{}-{}-{}-{}-{}",
            &h[..8],
            &h[8..12],
            &h[12..16],
            &h[16..20],
            &h[20..]
        )
    }
}

fn sha256(data: &[u8]) -> [u8; 32] {
    openssl::sha::sha256(data)
}

fn rp_id_hash(rp_id: &str) -> [u8; 32] {
    sha256(rp_id.as_bytes())
}

fn new_p256_key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256 group");
    let key = EcKey::generate(&group).expect("P-256 key");
    PKey::from_ec_key(key).expect("P-256 PKey")
}

/// ECDSA with SHA-256 over the concatenation of `parts`; DER-encoded as WebAuthn wants.
fn sign(key: &PKey<Private>, parts: &[&[u8]]) -> Vec<u8> {
    let mut signer = Signer::new(MessageDigest::sha256(), key).expect("signer");
    for part in parts {
        signer.update(part).expect("signer update");
    }
    signer.sign_to_vec().expect("ECDSA signature")
}

/// COSE_Key of a P-256 public key: {1: 2 (EC2), 3: alg, -1: 1 (P-256), -2: x, -3: y}.
fn cose_es256(key: &PKey<Private>, alg: i64) -> Vec<u8> {
    let ec = key.ec_key().expect("EC key");
    let mut ctx = BigNumContext::new().expect("BN context");
    let mut x = BigNum::new().expect("BN");
    let mut y = BigNum::new().expect("BN");
    ec.public_key()
        .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
        .expect("affine coordinates");
    Cbor::Map(vec![
        (Cbor::Int(1), Cbor::Int(2)),
        (Cbor::Int(3), Cbor::Int(alg)),
        (Cbor::Int(-1), Cbor::Int(1)),
        (Cbor::Int(-2), Cbor::Bytes(x.to_vec_padded(32).expect("x"))),
        (Cbor::Int(-3), Cbor::Bytes(y.to_vec_padded(32).expect("y"))),
    ])
    .encode()
}

/// The part of CBOR (RFC 8949) that authenticators write. Map entries are written in the order
/// given; callers list them in CTAP2 canonical order.
#[derive(Debug, Clone, PartialEq)]
pub enum Cbor {
    Int(i64),
    Bytes(Vec<u8>),
    Text(String),
    Array(Vec<Cbor>),
    Map(Vec<(Cbor, Cbor)>),
    Bool(bool),
}

impl Cbor {
    pub fn text(s: &str) -> Cbor {
        Cbor::Text(s.to_owned())
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode_into(&mut out);
        out
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Cbor::Int(n) if *n >= 0 => head(out, 0, n.unsigned_abs()),
            // -1 - n for major type 1: -1 -> 0, -7 -> 6.
            Cbor::Int(n) => head(out, 1, (n + 1).unsigned_abs()),
            Cbor::Bytes(b) => {
                head(out, 2, b.len() as u64);
                out.extend_from_slice(b);
            }
            Cbor::Text(s) => {
                head(out, 3, s.len() as u64);
                out.extend_from_slice(s.as_bytes());
            }
            Cbor::Array(items) => {
                head(out, 4, items.len() as u64);
                for item in items {
                    item.encode_into(out);
                }
            }
            Cbor::Map(entries) => {
                head(out, 5, entries.len() as u64);
                for (k, v) in entries {
                    k.encode_into(out);
                    v.encode_into(out);
                }
            }
            Cbor::Bool(b) => out.push(if *b { 0xf5 } else { 0xf4 }),
        }
    }
}

/// Initial byte and argument of a data item, in the shortest form.
fn head(out: &mut Vec<u8>, major: u8, arg: u64) {
    let major = major << 5;
    if arg < 24 {
        out.push(major | arg as u8);
    } else if let Ok(a) = u8::try_from(arg) {
        out.push(major | 24);
        out.push(a);
    } else if let Ok(a) = u16::try_from(arg) {
        out.push(major | 25);
        out.extend_from_slice(&a.to_be_bytes());
    } else if let Ok(a) = u32::try_from(arg) {
        out.push(major | 26);
        out.extend_from_slice(&a.to_be_bytes());
    } else {
        out.push(major | 27);
        out.extend_from_slice(&arg.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cbor_encodes_like_rfc_8949_appendix_a() {
        let hex = |c: Cbor| c.encode().iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(hex(Cbor::Int(0)), "00");
        assert_eq!(hex(Cbor::Int(23)), "17");
        assert_eq!(hex(Cbor::Int(24)), "1818");
        assert_eq!(hex(Cbor::Int(1000)), "1903e8");
        assert_eq!(hex(Cbor::Int(1_000_000)), "1a000f4240");
        assert_eq!(hex(Cbor::Int(1_000_000_000_000)), "1b000000e8d4a51000");
        assert_eq!(hex(Cbor::Int(-1)), "20");
        assert_eq!(hex(Cbor::Int(-7)), "26");
        assert_eq!(hex(Cbor::Int(-100)), "3863");
        assert_eq!(hex(Cbor::Int(-1000)), "3903e7");
        assert_eq!(hex(Cbor::Int(i64::MIN)), "3b7fffffffffffffff");
        assert_eq!(hex(Cbor::Bytes(vec![1, 2, 3, 4])), "4401020304");
        assert_eq!(hex(Cbor::text("IETF")), "6449455446");
        assert_eq!(hex(Cbor::text("")), "60");
        assert_eq!(hex(Cbor::Bool(false)), "f4");
        assert_eq!(hex(Cbor::Bool(true)), "f5");
        assert_eq!(
            hex(Cbor::Array(vec![Cbor::Int(1), Cbor::Int(2), Cbor::Int(3)])),
            "83010203"
        );
        assert_eq!(
            hex(Cbor::Map(vec![
                (Cbor::Int(1), Cbor::Int(2)),
                (Cbor::Int(3), Cbor::Int(4))
            ])),
            "a201020304"
        );
        assert_eq!(
            hex(Cbor::Map(vec![(
                Cbor::text("a"),
                Cbor::Array(vec![Cbor::Int(1)])
            )])),
            "a1616181 01".replace(' ', "")
        );
        assert_eq!(hex(Cbor::Bytes(vec![0; 300]))[..6], *"59012c");
    }

    #[test]
    fn host_of_origin() {
        assert_eq!(host_of("http://localhost:8080").unwrap(), "localhost");
        assert_eq!(host_of("https://example.com").unwrap(), "example.com");
        assert_eq!(host_of("https://a.example.com/path").unwrap(), "a.example.com");
        assert_eq!(host_of("http://[::1]:8080").unwrap(), "[::1]");
        assert_eq!(host_of("http://[::1]").unwrap(), "[::1]");
    }

    #[test]
    fn client_data_json_in_browser_order() {
        let forge = Forge {
            top_origin: Some("https://a\"b".into()),
            ..Forge::default()
        };
        let json = client_data_json("webauthn.get", b"\xfb\xff", "http://localhost:8080", &forge);
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"type":"webauthn.get","challenge":"-_8","origin":"http://localhost:8080","crossOrigin":false,"topOrigin":"https://a\"b"}"#
        );
        let bom = Forge {
            bom: true,
            ..Forge::default()
        };
        assert!(client_data_json("webauthn.get", b"", "o", &bom).starts_with(b"\xEF\xBB\xBF{"));
    }

    #[test]
    fn base64_styles() {
        assert_eq!(b64(Base64Style::UrlNoPad, b"\xfb\xff"), "-_8");
        assert_eq!(b64(Base64Style::UrlPadded, b"\xfb\xff"), "-_8=");
        assert_eq!(b64(Base64Style::Standard, b"\xfb\xff"), "+/8=");
        assert_eq!(b64(Base64Style::Invalid, b"\xfb\xff"), "-_8*");
        assert_eq!(decode_b64("+/8=").unwrap(), b"\xfb\xff");
        assert_eq!(decode_b64("-_8").unwrap(), b"\xfb\xff");
    }
}
