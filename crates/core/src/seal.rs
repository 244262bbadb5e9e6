//! Sealing: authenticated encryption of secrets at rest (JWT signing keys, TOTP seeds,
//! provider credentials).
//!
//! XChaCha20-Poly1305 with a random 192-bit nonce per seal (no nonce bookkeeping), the
//! master key's id stored beside the ciphertext so keys can rotate (ASVS 5.0 V11.2.2), and
//! the owning table, column and row bound as associated data so a sealed value copied to
//! another row or column does not open (as Authelia's `encryption_aad.go` does).
//!
//! Format: `lk1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`.

use crate::rand::{self, SecureRandom};
use crate::secret::{b64url, b64url_decode};
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

const VERSION: &str = "lk1";
const NONCE_LEN: usize = 24;

/// One 256-bit master key and its public id.
#[derive(Clone)]
pub struct MasterKey {
    id: String,
    key: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "MasterKey({})", self.id)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("master key must be 32 bytes, given as 64 hex characters or base64")]
    BadKey,
    #[error("sealed value is malformed")]
    Malformed,
    #[error("sealed with master key {0}, which is not configured")]
    UnknownKey(String),
    #[error("sealed value failed authentication (wrong key, row or tampering)")]
    Forged,
}

impl MasterKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        let digest = Sha256::new()
            .chain_update(b"latchkey master key id v1\0")
            .chain_update(bytes)
            .finalize();
        Self {
            id: crate::hash::hex(&digest[..8]),
            key: Zeroizing::new(bytes),
        }
    }

    pub fn generate(rng: &dyn SecureRandom) -> Self {
        Self::from_bytes(rand::bytes(rng))
    }

    /// Parses 64 hex characters or standard/URL-safe base64 of 32 bytes.
    pub fn parse(text: &str) -> Result<Self, SealError> {
        use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
        use base64::Engine as _;
        let t = text.trim();
        let decoded: Option<Vec<u8>> = if t.len() == 64 && t.bytes().all(|b| b.is_ascii_hexdigit()) {
            (0..32)
                .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok())
                .collect()
        } else {
            STANDARD
                .decode(t)
                .or_else(|_| URL_SAFE.decode(t))
                .or_else(|_| URL_SAFE_NO_PAD.decode(t))
                .ok()
        };
        let v = Zeroizing::new(decoded.ok_or(SealError::BadKey)?);
        let arr: [u8; 32] = v.as_slice().try_into().map_err(|_| SealError::BadKey)?;
        Ok(Self::from_bytes(arr))
    }

    /// Base64 text of the key, for writing a generated key to its file.
    pub fn to_text(&self) -> Zeroizing<String> {
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine as _;
        Zeroizing::new(STANDARD.encode(*self.key))
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&*self.key).into())
    }
}

/// The current key (seals) and older keys (open only, until re-sealed).
/// Whether `text` has the shape of a sealed value (version, key id, and a body long enough
/// for a nonce and a tag). Tells values sealed by [`Keyring::seal`] from plaintext stored
/// before a column was sealed; an email address or phone number never has this shape.
pub fn looks_sealed(text: &str) -> bool {
    let mut parts = text.splitn(3, '.');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(kid), Some(body)) => {
            !kid.is_empty()
                && kid.bytes().all(|b| b.is_ascii_alphanumeric())
                && b64url_decode(body).is_some_and(|b| b.len() >= NONCE_LEN + 16)
        }
        _ => false,
    }
}

#[derive(Debug, Clone)]
pub struct Keyring {
    current: MasterKey,
    previous: Vec<MasterKey>,
}

impl Keyring {
    pub fn new(current: MasterKey, previous: Vec<MasterKey>) -> Self {
        let previous = previous.into_iter().filter(|k| k.id != current.id).collect();
        Self { current, previous }
    }

    /// A keyring that seals with `new` and still opens everything this one opens.
    pub fn with_new_current(&self, new: MasterKey) -> Keyring {
        let mut previous = vec![self.current.clone()];
        previous.extend(self.previous.iter().cloned());
        Keyring::new(new, previous)
    }

    /// Every key, the current one first.
    pub fn keys(&self) -> Vec<&MasterKey> {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .collect()
    }

    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    pub fn seal(&self, plaintext: &[u8], aad: &str, rng: &dyn SecureRandom) -> Result<String, SealError> {
        let nonce: [u8; NONCE_LEN] = rand::bytes(rng);
        // Encryption fails only for inputs beyond 256 GiB.
        let ct = self
            .current
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad: aad.as_bytes(),
                },
            )
            .map_err(|_| SealError::Malformed)?;
        let mut blob = Vec::with_capacity(NONCE_LEN + ct.len());
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ct);
        Ok(format!("{VERSION}.{}.{}", self.current.id, b64url(&blob)))
    }

    pub fn open(&self, sealed: &str, aad: &str) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(VERSION), Some(kid), Some(body)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(SealError::Malformed);
        };
        let key = std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|k| k.id == kid)
            .ok_or_else(|| SealError::UnknownKey(kid.to_owned()))?;
        let blob = b64url_decode(body).ok_or(SealError::Malformed)?;
        if blob.len() < NONCE_LEN + 16 {
            return Err(SealError::Malformed);
        }
        let (nonce, ct) = blob.split_at(NONCE_LEN);
        key.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: aad.as_bytes(),
                },
            )
            .map(Zeroizing::new)
            .map_err(|_| SealError::Forged)
    }

    /// Whether `sealed` was made with an older key and should be re-sealed.
    pub fn is_stale(&self, sealed: &str) -> bool {
        sealed.split('.').nth(1) != Some(self.current.id.as_str())
    }
}

/// The associated data naming where a sealed value lives.
pub fn aad(table: &str, column: &str, row: &str) -> String {
    format!("{table}.{column}:{row}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::OsRandom;

    #[test]
    fn round_trip_and_binding() {
        let ring = Keyring::new(MasterKey::generate(&OsRandom), vec![]);
        let s = ring.seal(b"seed", "factors.secret:fac_1", &OsRandom).unwrap();
        assert!(s.starts_with(&format!("lk1.{}.", ring.current_id())));
        assert!(!s.contains("seed"));
        assert_eq!(&**ring.open(&s, "factors.secret:fac_1").unwrap(), b"seed");
        assert_eq!(ring.open(&s, "factors.secret:fac_2"), Err(SealError::Forged));
        let mut tampered = s.clone();
        tampered.pop();
        tampered.push(if s.ends_with('A') { 'B' } else { 'A' });
        assert!(ring.open(&tampered, "factors.secret:fac_1").is_err());
        // Two seals of one plaintext differ (random nonce).
        assert_ne!(s, ring.seal(b"seed", "factors.secret:fac_1", &OsRandom).unwrap());
    }

    #[test]
    fn rotation_keeps_old_values_readable() {
        let old = MasterKey::generate(&OsRandom);
        let s = Keyring::new(old.clone(), vec![])
            .seal(b"x", "t.c:r", &OsRandom)
            .unwrap();
        let new = MasterKey::generate(&OsRandom);
        let rotated = Keyring::new(new.clone(), vec![old]);
        assert!(rotated.is_stale(&s));
        assert_eq!(&**rotated.open(&s, "t.c:r").unwrap(), b"x");
        let without_old = Keyring::new(new, vec![]);
        assert!(matches!(
            without_old.open(&s, "t.c:r"),
            Err(SealError::UnknownKey(_))
        ));
    }

    #[test]
    fn parses_key_text() {
        let k = MasterKey::generate(&OsRandom);
        let back = MasterKey::parse(&k.to_text()).unwrap();
        assert_eq!(back.id(), k.id());
        assert!(MasterKey::parse(&"ab".repeat(32)).is_ok());
        assert_eq!(MasterKey::parse("short").unwrap_err(), SealError::BadKey);
    }

    #[test]
    fn sealed_values_are_told_from_plaintext() {
        let ring = Keyring::new(MasterKey::generate(&OsRandom), vec![]);
        assert!(looks_sealed(
            &ring
                .seal(b"+14155552671", "users.phone_sealed:usr_1", &OsRandom)
                .unwrap()
        ));
        for plain in [
            "+14155552671",
            "lk1.abc@example.com",
            "lk1.k.sealed",
            "",
            "lk1..x",
            "alice@example.com",
        ] {
            assert!(!looks_sealed(plain), "{plain}");
        }
    }
}
