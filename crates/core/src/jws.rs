//! Compact JWS (RFC 7515) for ID tokens: `RS256` (RSA 2048, RSASSA-PKCS1-v1_5 with SHA-256,
//! RFC 7518 §3.3), `ES256` (ECDSA on P-256 with SHA-256, RFC 7518 §3.4) and `EdDSA`
//! (Ed25519, RFC 8037). Access tokens keep their own, narrower module ([`crate::jwt`]).
//!
//! Keys are stored as bytes: the private part (sealed by the caller) as PKCS#8 DER for RSA
//! and P-256, and as the 32-byte seed for Ed25519 (the form Latchkey has always stored its
//! access-token key in, so existing keys load unchanged); the public part as SubjectPublicKeyInfo
//! DER, or the raw 32 bytes for Ed25519. A key's id is a hash of its public bytes
//! ([`kid_for_public`]; for Ed25519 the same id [`crate::jwt::kid_for`] gives).
//!
//! Verification trusts nothing in the token before the signature checks out: the header's
//! `alg` must be one the caller allows and must equal the algorithm of the key its `kid`
//! names (RFC 8725 §3.1: no algorithm confusion, so an RSA key's token re-labelled `HS256`,
//! `none` or `ES256` is refused), `typ` must be the expected one (RFC 8725 §3.11: an access
//! token cannot pass as an ID token), a `crit` header is refused (RFC 7515 §4.1.11: we
//! understand no extension), and ECDSA signatures must be the 64-byte `r || s` of RFC 7518
//! §3.4, never DER. Claims (`exp`, `iss`, `aud`) are the caller's to check: the logout
//! endpoint accepts an `id_token_hint` that has expired.
//!
//! RSA and P-256 run on OpenSSL (already linked for WebAuthn and TLS). Their key generation
//! draws from OpenSSL's own CSPRNG, the one place in this crate where randomness does not
//! come in through [`SecureRandom`]: OpenSSL's key generation cannot take an outside source.

use crate::jwt::JwtError;
use crate::oidc::SigningAlg;
use crate::rand::{self, SecureRandom};
use crate::secret::{b64url, b64url_decode};
use ed25519_dalek::Signer as _;
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private, Public};
use openssl::rsa::Rsa;
use serde_json::Value;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// The longest token [`verify`] reads: an ID token with every standard claim and an RSA
/// signature is well under 2 KiB; anything near this is not ours.
pub const MAX_TOKEN_LEN: usize = 8192;
/// RSA keys we generate, and the smallest we accept (RFC 7518 §3.3: 2048 bits or larger).
pub const RSA_BITS: u32 = 2048;
/// ES256's coordinate and scalar size in bytes; a signature is two of them (RFC 7518 §3.4).
const P256_BYTES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwsError {
    #[error("not a usable {0:?} key")]
    InvalidKey(SigningAlg),
    #[error("the cryptographic library failed: {0}")]
    Crypto(String),
}

fn crypto(e: openssl::error::ErrorStack) -> JwsError {
    JwsError::Crypto(e.to_string())
}

/// The key id of public key bytes (SPKI DER, or Ed25519's raw 32 bytes): the first 16 hex
/// digits of their SHA-256. Different keys, of whatever algorithm, get different ids.
pub fn kid_for_public(public: &[u8]) -> String {
    crate::hash::hex(&Sha256::digest(public)[..8])
}

fn p256() -> Result<EcGroup, JwsError> {
    EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(crypto)
}

/// A private signing key of one algorithm, with its key id. No `Debug` of the key itself.
pub struct SigningKey {
    alg: SigningAlg,
    kid: String,
    private: PrivateKey,
}

enum PrivateKey {
    Rsa(PKey<Private>),
    Ec(EcKey<Private>),
    // Boxed: the Ed25519 key (with its expanded form) dwarfs the OpenSSL handles.
    Ed(Box<ed25519_dalek::SigningKey>),
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} {})", self.alg.as_str(), self.kid)
    }
}

impl SigningKey {
    /// A new key. Ed25519 takes its seed from `rng`; RSA and P-256 from OpenSSL (see the
    /// module comment). RSA generation takes a noticeable fraction of a second: run it off
    /// the async reactor.
    pub fn generate(alg: SigningAlg, rng: &dyn SecureRandom) -> Result<Self, JwsError> {
        let private = match alg {
            SigningAlg::RS256 => {
                PrivateKey::Rsa(PKey::from_rsa(Rsa::generate(RSA_BITS).map_err(crypto)?).map_err(crypto)?)
            }
            SigningAlg::ES256 => {
                let group = p256()?;
                PrivateKey::Ec(EcKey::generate(&group).map_err(crypto)?)
            }
            SigningAlg::EdDSA => {
                let seed: Zeroizing<[u8; 32]> = Zeroizing::new(rand::bytes(rng));
                PrivateKey::Ed(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed)))
            }
        };
        Self::new(alg, private)
    }

    /// Loads a key from its stored private bytes ([`SigningKey::private_bytes`]); refuses
    /// bytes of another algorithm, another curve or an RSA key under 2048 bits.
    pub fn from_private(alg: SigningAlg, bytes: &[u8]) -> Result<Self, JwsError> {
        let invalid = || JwsError::InvalidKey(alg);
        let private = match alg {
            SigningAlg::RS256 => {
                let key = PKey::private_key_from_pkcs8(bytes).map_err(|_| invalid())?;
                if key.id() != Id::RSA || key.bits() < RSA_BITS {
                    return Err(invalid());
                }
                PrivateKey::Rsa(key)
            }
            SigningAlg::ES256 => {
                let key = PKey::private_key_from_pkcs8(bytes).map_err(|_| invalid())?;
                let ec = key.ec_key().map_err(|_| invalid())?;
                if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
                    return Err(invalid());
                }
                PrivateKey::Ec(ec)
            }
            SigningAlg::EdDSA => {
                let seed: Zeroizing<[u8; 32]> = Zeroizing::new(bytes.try_into().map_err(|_| invalid())?);
                PrivateKey::Ed(Box::new(ed25519_dalek::SigningKey::from_bytes(&seed)))
            }
        };
        Self::new(alg, private)
    }

    fn new(alg: SigningAlg, private: PrivateKey) -> Result<Self, JwsError> {
        let mut key = SigningKey {
            alg,
            kid: String::new(),
            private,
        };
        key.kid = kid_for_public(&key.public()?.to_bytes()?);
        Ok(key)
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The private key as stored (to be sealed): PKCS#8 DER, or Ed25519's 32-byte seed.
    pub fn private_bytes(&self) -> Result<Zeroizing<Vec<u8>>, JwsError> {
        Ok(Zeroizing::new(match &self.private {
            PrivateKey::Rsa(k) => k.private_key_to_pkcs8().map_err(crypto)?,
            PrivateKey::Ec(k) => PKey::from_ec_key(k.clone())
                .and_then(|p| p.private_key_to_pkcs8())
                .map_err(crypto)?,
            PrivateKey::Ed(k) => k.to_bytes().to_vec(),
        }))
    }

    pub fn public(&self) -> Result<PublicKey, JwsError> {
        let public = match &self.private {
            PrivateKey::Rsa(k) => {
                let der = k.public_key_to_der().map_err(crypto)?;
                PublicKeyInner::Rsa(PKey::public_key_from_der(&der).map_err(crypto)?)
            }
            PrivateKey::Ec(k) => {
                PublicKeyInner::Ec(EcKey::from_public_key(k.group(), k.public_key()).map_err(crypto)?)
            }
            PrivateKey::Ed(k) => PublicKeyInner::Ed(Box::new(k.verifying_key())),
        };
        Ok(PublicKey {
            alg: self.alg,
            inner: public,
        })
    }

    /// The public key as a JWK ([`PublicKey::jwk`]) under this key's id.
    pub fn jwk(&self) -> Result<Value, JwsError> {
        Ok(self.public()?.jwk(&self.kid))
    }

    /// A compact JWS of `claims` with the header `{alg, typ, kid}`. ID tokens use typ `JWT`.
    pub fn sign(&self, typ: &str, claims: &Value) -> Result<String, JwsError> {
        let header = serde_json::json!({ "alg": self.alg.as_str(), "typ": typ, "kid": self.kid });
        // Serialising a `Value` cannot fail.
        let h = serde_json::to_vec(&header).unwrap_or_default();
        let c = serde_json::to_vec(claims).unwrap_or_default();
        let input = format!("{}.{}", b64url(&h), b64url(&c));
        let signature = self.sign_bytes(input.as_bytes())?;
        Ok(format!("{input}.{}", b64url(&signature)))
    }

    /// The JWS signature of `input` in its JWS form (for ES256, `r || s`).
    fn sign_bytes(&self, input: &[u8]) -> Result<Vec<u8>, JwsError> {
        match &self.private {
            PrivateKey::Rsa(k) => {
                // PKCS#1 v1.5 is OpenSSL's default padding for an RSA signer.
                let mut signer = openssl::sign::Signer::new(MessageDigest::sha256(), k).map_err(crypto)?;
                signer.update(input).map_err(crypto)?;
                signer.sign_to_vec().map_err(crypto)
            }
            PrivateKey::Ec(k) => {
                let sig = EcdsaSig::sign(&Sha256::digest(input), k).map_err(crypto)?;
                let mut out = sig.r().to_vec_padded(P256_BYTES as i32).map_err(crypto)?;
                out.extend(sig.s().to_vec_padded(P256_BYTES as i32).map_err(crypto)?);
                Ok(out)
            }
            PrivateKey::Ed(k) => Ok(k.sign(input).to_bytes().to_vec()),
        }
    }
}

/// A public key of one algorithm: what verifies, and what `/.well-known/jwks.json` shows.
#[derive(Clone)]
pub struct PublicKey {
    alg: SigningAlg,
    inner: PublicKeyInner,
}

#[derive(Clone)]
enum PublicKeyInner {
    Rsa(PKey<Public>),
    Ec(EcKey<Public>),
    Ed(Box<ed25519_dalek::VerifyingKey>),
}

impl std::fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PublicKey({})", self.alg.as_str())
    }
}

impl PublicKey {
    /// Loads a public key from its stored bytes ([`PublicKey::to_bytes`]), refusing bytes
    /// of another algorithm, another curve or an RSA key under 2048 bits.
    pub fn from_bytes(alg: SigningAlg, bytes: &[u8]) -> Result<Self, JwsError> {
        let invalid = || JwsError::InvalidKey(alg);
        let inner = match alg {
            SigningAlg::RS256 => {
                let key = PKey::public_key_from_der(bytes).map_err(|_| invalid())?;
                if key.id() != Id::RSA || key.bits() < RSA_BITS {
                    return Err(invalid());
                }
                PublicKeyInner::Rsa(key)
            }
            SigningAlg::ES256 => {
                let key = PKey::public_key_from_der(bytes).map_err(|_| invalid())?;
                let ec = key.ec_key().map_err(|_| invalid())?;
                if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
                    return Err(invalid());
                }
                PublicKeyInner::Ec(ec)
            }
            SigningAlg::EdDSA => {
                let raw: [u8; 32] = bytes.try_into().map_err(|_| invalid())?;
                PublicKeyInner::Ed(Box::new(
                    ed25519_dalek::VerifyingKey::from_bytes(&raw).map_err(|_| invalid())?,
                ))
            }
        };
        Ok(PublicKey { alg, inner })
    }

    pub fn alg(&self) -> SigningAlg {
        self.alg
    }

    /// SubjectPublicKeyInfo DER, or Ed25519's raw 32 bytes.
    pub fn to_bytes(&self) -> Result<Vec<u8>, JwsError> {
        match &self.inner {
            PublicKeyInner::Rsa(k) => k.public_key_to_der().map_err(crypto),
            PublicKeyInner::Ec(k) => k.public_key_to_der().map_err(crypto),
            PublicKeyInner::Ed(k) => Ok(k.to_bytes().to_vec()),
        }
    }

    /// The raw Ed25519 key, for the access-token verifier; `None` for other algorithms.
    pub fn ed25519(&self) -> Option<[u8; 32]> {
        match &self.inner {
            PublicKeyInner::Ed(k) => Some(k.to_bytes()),
            PublicKeyInner::Rsa(_) | PublicKeyInner::Ec(_) => None,
        }
    }

    /// The key as a JWK (RFC 7517 §4, RFC 7518 §6, RFC 8037 §2) with `alg`, `use: sig` and
    /// `kid`. RSA's `n` and `e` are unsigned big-endian without leading zeros (RFC 7518
    /// §6.3.1); P-256's `x` and `y` are always the full 32 bytes (§6.2.1.2).
    pub fn jwk(&self, kid: &str) -> Value {
        let (alg, sig) = (self.alg.as_str(), "sig");
        match &self.inner {
            PublicKeyInner::Rsa(k) => {
                let (n, e) = match k.rsa() {
                    Ok(rsa) => (rsa.n().to_vec(), rsa.e().to_vec()),
                    // An RSA `PKey` always yields its RSA key; were it not to, the JWK would
                    // be visibly empty rather than the server failing.
                    Err(_) => (Vec::new(), Vec::new()),
                };
                serde_json::json!({
                    "kty": "RSA", "alg": alg, "use": sig, "kid": kid,
                    "n": b64url(&n), "e": b64url(&e),
                })
            }
            PublicKeyInner::Ec(k) => {
                let (x, y) = ec_coordinates(k).unwrap_or_default();
                serde_json::json!({
                    "kty": "EC", "crv": "P-256", "alg": alg, "use": sig, "kid": kid,
                    "x": b64url(&x), "y": b64url(&y),
                })
            }
            PublicKeyInner::Ed(k) => crate::jwt::jwk(kid, k.as_bytes()),
        }
    }

    /// Whether `signature` (in its JWS form) signs `input` under this key.
    fn verifies(&self, input: &[u8], signature: &[u8]) -> bool {
        match &self.inner {
            PublicKeyInner::Rsa(k) => {
                // RFC 7518 §3.3: the signature is exactly as long as the modulus.
                if signature.len() != k.size() {
                    return false;
                }
                openssl::sign::Verifier::new(MessageDigest::sha256(), k)
                    .and_then(|mut v| {
                        v.update(input)?;
                        v.verify(signature)
                    })
                    .unwrap_or(false)
            }
            PublicKeyInner::Ec(k) => {
                // RFC 7518 §3.4: exactly 64 bytes, `r` then `s`; a DER signature is refused.
                if signature.len() != 2 * P256_BYTES {
                    return false;
                }
                let (r, s) = signature.split_at(P256_BYTES);
                BigNum::from_slice(r)
                    .and_then(|r| Ok((r, BigNum::from_slice(s)?)))
                    .and_then(|(r, s)| EcdsaSig::from_private_components(r, s))
                    .and_then(|sig| sig.verify(&Sha256::digest(input), k))
                    .unwrap_or(false)
            }
            PublicKeyInner::Ed(k) => <[u8; 64]>::try_from(signature).is_ok_and(|bytes| {
                k.verify_strict(input, &ed25519_dalek::Signature::from_bytes(&bytes))
                    .is_ok()
            }),
        }
    }
}

fn ec_coordinates(k: &EcKey<Public>) -> Result<(Vec<u8>, Vec<u8>), JwsError> {
    let mut ctx = openssl::bn::BigNumContext::new().map_err(crypto)?;
    let (mut x, mut y) = (BigNum::new().map_err(crypto)?, BigNum::new().map_err(crypto)?);
    k.public_key()
        .affine_coordinates(k.group(), &mut x, &mut y, &mut ctx)
        .map_err(crypto)?;
    Ok((
        x.to_vec_padded(P256_BYTES as i32).map_err(crypto)?,
        y.to_vec_padded(P256_BYTES as i32).map_err(crypto)?,
    ))
}

/// Whether a header's `typ` names `expected`: media types compare case-insensitively and
/// may drop their `application/` prefix (RFC 7515 §4.1.9).
fn typ_matches(typ: Option<&str>, expected: &str) -> bool {
    typ.is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        let expected = expected.to_ascii_lowercase();
        t == expected || t.strip_prefix("application/") == Some(expected.as_str())
    })
}

/// Verifies a compact JWS and returns its claims (a JSON object). `typ` is the type the
/// header must carry; `allowed` the algorithms the caller accepts; `key_for` maps a key id
/// to its public key. The header's `alg` must be allowed and equal the key's algorithm.
/// Expiry, issuer and audience are left to the caller.
pub fn verify(
    token: &str,
    typ: &str,
    allowed: &[SigningAlg],
    key_for: impl Fn(&str) -> Option<PublicKey>,
) -> Result<Value, JwtError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(JwtError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(h), Some(c), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed);
    };
    let header = b64url_decode(h)
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .ok_or(JwtError::Malformed)?;
    let header = header.as_object().ok_or(JwtError::Malformed)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(SigningAlg::parse)
        .filter(|a| allowed.contains(a))
        .ok_or(JwtError::BadHeader)?;
    if !typ_matches(header.get("typ").and_then(Value::as_str), typ) || header.contains_key("crit") {
        return Err(JwtError::BadHeader);
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(JwtError::Malformed)?;
    let key = key_for(kid).ok_or(JwtError::UnknownKey)?;
    // The key decides the algorithm, never the token (RFC 8725 §3.1).
    if key.alg() != alg {
        return Err(JwtError::BadHeader);
    }
    let signature = b64url_decode(s).ok_or(JwtError::Malformed)?;
    let signed = &token[..h.len() + 1 + c.len()];
    if !key.verifies(signed.as_bytes(), &signature) {
        return Err(JwtError::BadSignature);
    }
    b64url_decode(c)
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .filter(Value::is_object)
        .ok_or(JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::OsRandom;
    use openssl::sign::Verifier;
    use serde_json::json;
    use std::sync::OnceLock;

    /// One key per algorithm for the whole test module (RSA generation is slow).
    fn key(alg: SigningAlg) -> &'static SigningKey {
        static KEYS: OnceLock<Vec<SigningKey>> = OnceLock::new();
        let keys = KEYS.get_or_init(|| {
            SigningAlg::ALL
                .iter()
                .map(|a| SigningKey::generate(*a, &OsRandom).unwrap())
                .collect()
        });
        keys.iter().find(|k| k.alg() == alg).unwrap()
    }

    fn claims() -> Value {
        json!({ "iss": "https://id.example", "sub": "usr_1", "aud": "app_1", "exp": 2000, "nonce": "n-0S6_WzA2Mj" })
    }

    fn lookup(k: &SigningKey) -> impl Fn(&str) -> Option<PublicKey> + '_ {
        move |kid| (kid == k.kid()).then(|| k.public().unwrap())
    }

    fn parts(token: &str) -> Vec<Vec<u8>> {
        token.split('.').map(|p| b64url_decode(p).unwrap()).collect()
    }

    /// `input` signed by `k` under a header of our choosing.
    fn with_header(k: &SigningKey, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64url(&serde_json::to_vec(header).unwrap()),
            b64url(&serde_json::to_vec(claims).unwrap())
        );
        format!("{input}.{}", b64url(&k.sign_bytes(input.as_bytes()).unwrap()))
    }

    #[test]
    fn round_trip_for_each_algorithm() {
        for alg in SigningAlg::ALL {
            let k = key(alg);
            let token = k.sign("JWT", &claims()).unwrap();
            let header: Value = serde_json::from_slice(&parts(&token)[0]).unwrap();
            assert_eq!(
                header,
                json!({ "alg": alg.as_str(), "typ": "JWT", "kid": k.kid() })
            );
            assert_eq!(verify(&token, "JWT", &SigningAlg::ALL, lookup(k)), Ok(claims()));
            // Through its stored forms, the key is the same key.
            let again = SigningKey::from_private(alg, &k.private_bytes().unwrap()).unwrap();
            assert_eq!(again.kid(), k.kid());
            let public = PublicKey::from_bytes(alg, &k.public().unwrap().to_bytes().unwrap()).unwrap();
            assert_eq!(
                verify(&again.sign("JWT", &claims()).unwrap(), "JWT", &[alg], |_| Some(
                    public.clone()
                )),
                Ok(claims())
            );
            // Not allowed by the caller, unknown kid, wrong type.
            let others: Vec<_> = SigningAlg::ALL.into_iter().filter(|a| *a != alg).collect();
            assert_eq!(
                verify(&token, "JWT", &others, lookup(k)),
                Err(JwtError::BadHeader)
            );
            assert_eq!(
                verify(&token, "JWT", &SigningAlg::ALL, |_| None),
                Err(JwtError::UnknownKey)
            );
            assert_eq!(
                verify(&token, "at+jwt", &SigningAlg::ALL, lookup(k)),
                Err(JwtError::BadHeader)
            );
        }
    }

    #[test]
    fn key_ids_differ_and_match_the_access_token_ids() {
        let kids: std::collections::HashSet<_> = SigningAlg::ALL.iter().map(|a| key(*a).kid()).collect();
        assert_eq!(kids.len(), 3);
        let ed = SigningKey::from_private(SigningAlg::EdDSA, &[9u8; 32]).unwrap();
        assert_eq!(
            ed.kid(),
            crate::jwt::Signer::from_secret(&[9u8; 32]).unwrap().kid()
        );
    }

    #[test]
    fn tampering_is_refused() {
        for alg in SigningAlg::ALL {
            let k = key(alg);
            let token = k.sign("JWT", &claims()).unwrap();
            let p: Vec<&str> = token.split('.').collect();
            let mut c = claims();
            c["sub"] = "usr_2".into();
            let forged = format!("{}.{}.{}", p[0], b64url(&serde_json::to_vec(&c).unwrap()), p[2]);
            assert_eq!(
                verify(&forged, "JWT", &[alg], lookup(k)),
                Err(JwtError::BadSignature)
            );
            // A flipped signature bit.
            let mut sig = b64url_decode(p[2]).unwrap();
            sig[7] ^= 1;
            let flipped = format!("{}.{}.{}", p[0], p[1], b64url(&sig));
            assert_eq!(
                verify(&flipped, "JWT", &[alg], lookup(k)),
                Err(JwtError::BadSignature)
            );
            // A truncated or lengthened signature.
            let short = format!("{}.{}.{}", p[0], p[1], b64url(&sig[..sig.len() - 1]));
            assert_eq!(
                verify(&short, "JWT", &[alg], lookup(k)),
                Err(JwtError::BadSignature)
            );
            let mut long = b64url_decode(p[2]).unwrap();
            long.push(0);
            let long = format!("{}.{}.{}", p[0], p[1], b64url(&long));
            assert_eq!(
                verify(&long, "JWT", &[alg], lookup(k)),
                Err(JwtError::BadSignature)
            );
        }
    }

    #[test]
    fn algorithm_confusion_is_refused() {
        let rsa = key(SigningAlg::RS256);
        let token = rsa.sign("JWT", &claims()).unwrap();
        let p: Vec<&str> = token.split('.').collect();
        // The same token relabelled: HS256 (the public key as an HMAC secret), none, ES256
        // and EdDSA. Each is refused before any signature is checked.
        for alg in ["HS256", "none", "ES256", "EdDSA", "rs256", "RS512", "PS256"] {
            let h = b64url(
                json!({ "alg": alg, "typ": "JWT", "kid": rsa.kid() })
                    .to_string()
                    .as_bytes(),
            );
            for sig in [p[2], ""] {
                let t = format!("{h}.{}.{sig}", p[1]);
                assert_eq!(
                    verify(&t, "JWT", &SigningAlg::ALL, lookup(rsa)),
                    Err(JwtError::BadHeader),
                    "{alg}"
                );
            }
        }
        // A token truly signed with the ES256 key but naming the RSA key's kid.
        let ec = key(SigningAlg::ES256);
        let t = with_header(
            ec,
            &json!({ "alg": "ES256", "typ": "JWT", "kid": rsa.kid() }),
            &claims(),
        );
        assert_eq!(
            verify(&t, "JWT", &SigningAlg::ALL, lookup(rsa)),
            Err(JwtError::BadHeader)
        );
        // HS256 "signed" with the public key's bytes as the secret.
        use hmac::{Hmac, Mac};
        let h = b64url(
            json!({ "alg": "HS256", "typ": "JWT", "kid": rsa.kid() })
                .to_string()
                .as_bytes(),
        );
        let input = format!("{h}.{}", p[1]);
        let mut mac = Hmac::<Sha256>::new_from_slice(&rsa.public().unwrap().to_bytes().unwrap()).unwrap();
        mac.update(input.as_bytes());
        let t = format!("{input}.{}", b64url(&mac.finalize().into_bytes()));
        assert_eq!(
            verify(&t, "JWT", &SigningAlg::ALL, lookup(rsa)),
            Err(JwtError::BadHeader)
        );
    }

    #[test]
    fn malformed_input_is_refused() {
        let k = key(SigningAlg::EdDSA);
        let token = k.sign("JWT", &claims()).unwrap();
        let all = SigningAlg::ALL;
        for bad in ["", "a", "a.b", "a.b.c.d", "..", "!.!.!", &format!("{token}.x")] {
            assert_eq!(
                verify(bad, "JWT", &all, lookup(k)),
                Err(JwtError::Malformed),
                "{bad}"
            );
        }
        // Over-long: refused before anything is decoded.
        let long = format!("{token}{}", "A".repeat(MAX_TOKEN_LEN));
        assert_eq!(verify(&long, "JWT", &all, lookup(k)), Err(JwtError::Malformed));
        // A header that is not an object, a missing kid, a `crit` extension, a payload that
        // is not an object.
        let p: Vec<&str> = token.split('.').collect();
        let array = format!("{}.{}.{}", b64url(b"[1]"), p[1], p[2]);
        assert_eq!(verify(&array, "JWT", &all, lookup(k)), Err(JwtError::Malformed));
        let no_kid = with_header(k, &json!({ "alg": "EdDSA", "typ": "JWT" }), &claims());
        assert_eq!(verify(&no_kid, "JWT", &all, lookup(k)), Err(JwtError::Malformed));
        let crit = with_header(
            k,
            &json!({ "alg": "EdDSA", "typ": "JWT", "kid": k.kid(), "crit": ["exp"], "exp": 1 }),
            &claims(),
        );
        assert_eq!(verify(&crit, "JWT", &all, lookup(k)), Err(JwtError::BadHeader));
        let no_typ = with_header(k, &json!({ "alg": "EdDSA", "kid": k.kid() }), &claims());
        assert_eq!(verify(&no_typ, "JWT", &all, lookup(k)), Err(JwtError::BadHeader));
        let typed = with_header(
            k,
            &json!({ "alg": "EdDSA", "typ": "application/jwt", "kid": k.kid() }),
            &claims(),
        );
        assert_eq!(verify(&typed, "JWT", &all, lookup(k)), Ok(claims()));
        let header = json!({ "alg": "EdDSA", "typ": "JWT", "kid": k.kid() });
        let string = with_header(k, &header, &json!("just a string"));
        assert_eq!(verify(&string, "JWT", &all, lookup(k)), Err(JwtError::Malformed));
    }

    #[test]
    fn es256_signatures_are_raw_r_and_s() {
        let k = key(SigningAlg::ES256);
        let token = k.sign("JWT", &claims()).unwrap();
        let p: Vec<&str> = token.split('.').collect();
        let sig = b64url_decode(p[2]).unwrap();
        assert_eq!(sig.len(), 64);
        // Independently: OpenSSL's ECDSA verifier, given the same signature as DER.
        let der = EcdsaSig::from_private_components(
            BigNum::from_slice(&sig[..32]).unwrap(),
            BigNum::from_slice(&sig[32..]).unwrap(),
        )
        .unwrap()
        .to_der()
        .unwrap();
        let public = PKey::public_key_from_der(&k.public().unwrap().to_bytes().unwrap()).unwrap();
        let mut v = Verifier::new(MessageDigest::sha256(), &public).unwrap();
        v.update(format!("{}.{}", p[0], p[1]).as_bytes()).unwrap();
        assert!(v.verify(&der).unwrap());
        // The DER form itself is not a JWS signature.
        let as_der = format!("{}.{}.{}", p[0], p[1], b64url(&der));
        assert_eq!(
            verify(&as_der, "JWT", &[SigningAlg::ES256], lookup(k)),
            Err(JwtError::BadSignature)
        );
    }

    #[test]
    fn rs256_verifies_with_openssl_and_ed25519_too() {
        for alg in [SigningAlg::RS256, SigningAlg::EdDSA] {
            let k = key(alg);
            let token = k.sign("JWT", &claims()).unwrap();
            let p: Vec<&str> = token.split('.').collect();
            let sig = b64url_decode(p[2]).unwrap();
            let input = format!("{}.{}", p[0], p[1]);
            let ok = match alg {
                SigningAlg::RS256 => {
                    assert_eq!(sig.len(), 256);
                    let public = PKey::public_key_from_der(&k.public().unwrap().to_bytes().unwrap()).unwrap();
                    let mut v = Verifier::new(MessageDigest::sha256(), &public).unwrap();
                    v.set_rsa_padding(openssl::rsa::Padding::PKCS1).unwrap();
                    v.update(input.as_bytes()).unwrap();
                    v.verify(&sig).unwrap()
                }
                _ => {
                    let raw = k.public().unwrap().to_bytes().unwrap();
                    let public = PKey::public_key_from_raw_bytes(&raw, Id::ED25519).unwrap();
                    let mut v = Verifier::new_without_digest(&public).unwrap();
                    v.verify_oneshot(&sig, input.as_bytes()).unwrap()
                }
            };
            assert!(ok, "{alg:?}");
        }
    }

    #[test]
    fn jwks_decode_to_the_same_keys() {
        let field = |jwk: &Value, name: &str| b64url_decode(jwk[name].as_str().unwrap()).unwrap();
        for alg in SigningAlg::ALL {
            let k = key(alg);
            let jwk = k.jwk().unwrap();
            assert_eq!(jwk["alg"], alg.as_str());
            assert_eq!(jwk["use"], "sig");
            assert_eq!(jwk["kid"], k.kid());
            let stored = k.public().unwrap().to_bytes().unwrap();
            let rebuilt = match alg {
                SigningAlg::RS256 => {
                    assert_eq!(jwk["kty"], "RSA");
                    assert_eq!(jwk["e"], "AQAB");
                    let n = field(&jwk, "n");
                    assert_eq!(n.len(), 256, "no leading zero octet");
                    let rsa = Rsa::from_public_components(
                        BigNum::from_slice(&n).unwrap(),
                        BigNum::from_slice(&field(&jwk, "e")).unwrap(),
                    )
                    .unwrap();
                    PKey::from_rsa(rsa).unwrap().public_key_to_der().unwrap()
                }
                SigningAlg::ES256 => {
                    assert_eq!(
                        (jwk["kty"].as_str(), jwk["crv"].as_str()),
                        (Some("EC"), Some("P-256"))
                    );
                    let (x, y) = (field(&jwk, "x"), field(&jwk, "y"));
                    assert_eq!((x.len(), y.len()), (32, 32));
                    EcKey::from_public_key_affine_coordinates(
                        &p256().unwrap(),
                        &BigNum::from_slice(&x).unwrap(),
                        &BigNum::from_slice(&y).unwrap(),
                    )
                    .unwrap()
                    .public_key_to_der()
                    .unwrap()
                }
                SigningAlg::EdDSA => {
                    assert_eq!(
                        (jwk["kty"].as_str(), jwk["crv"].as_str()),
                        (Some("OKP"), Some("Ed25519"))
                    );
                    field(&jwk, "x")
                }
            };
            assert_eq!(rebuilt, stored, "{alg:?}");
        }
    }

    #[test]
    fn keys_of_the_wrong_kind_are_refused() {
        let rsa = key(SigningAlg::RS256).private_bytes().unwrap();
        let ec = key(SigningAlg::ES256).private_bytes().unwrap();
        assert!(SigningKey::from_private(SigningAlg::ES256, &rsa).is_err());
        assert!(SigningKey::from_private(SigningAlg::RS256, &ec).is_err());
        assert!(SigningKey::from_private(SigningAlg::EdDSA, &ec).is_err());
        assert!(SigningKey::from_private(SigningAlg::RS256, b"junk").is_err());
        // RSA under 2048 bits, and an EC key on another curve.
        let small = PKey::from_rsa(Rsa::generate(1024).unwrap()).unwrap();
        assert!(SigningKey::from_private(SigningAlg::RS256, &small.private_key_to_pkcs8().unwrap()).is_err());
        assert!(PublicKey::from_bytes(SigningAlg::RS256, &small.public_key_to_der().unwrap()).is_err());
        let p384 = EcKey::generate(&EcGroup::from_curve_name(Nid::SECP384R1).unwrap()).unwrap();
        let p384 = PKey::from_ec_key(p384).unwrap();
        assert!(SigningKey::from_private(SigningAlg::ES256, &p384.private_key_to_pkcs8().unwrap()).is_err());
        assert!(PublicKey::from_bytes(SigningAlg::ES256, &p384.public_key_to_der().unwrap()).is_err());
        let ed_public = key(SigningAlg::EdDSA).public().unwrap().to_bytes().unwrap();
        assert!(PublicKey::from_bytes(SigningAlg::RS256, &ed_public).is_err());
    }
}
