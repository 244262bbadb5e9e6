//! Password policy and hashing.
//!
//! NIST SP 800-63B-4 §3.1.1.2: at least 8 characters, accept at least 64 (we accept 1024),
//! all printable Unicode, normalised before hashing (we use NFKC, then trim surrounding
//! whitespace so a pasted trailing newline does not lock a user out). Hashing is Argon2id
//! with OWASP's current minimum (m = 19 MiB, t = 2, p = 1), configurable upward.

use crate::rand::{self, SecureRandom};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use unicode_normalization::UnicodeNormalization;
use zeroize::Zeroizing;

pub const MIN_CHARS: usize = 8;
pub const MAX_CHARS: usize = 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("password must be at least {MIN_CHARS} characters")]
    TooShort,
    #[error("password must be at most {MAX_CHARS} characters")]
    TooLong,
}

/// The normalised form that is hashed: NFKC, surrounding whitespace trimmed.
pub fn normalize(raw: &str) -> Zeroizing<String> {
    let n: Zeroizing<String> = Zeroizing::new(raw.nfkc().collect());
    Zeroizing::new(n.trim().to_owned())
}

/// Normalises and checks a new password against the length policy.
pub fn check_new(raw: &str) -> Result<Zeroizing<String>, PasswordError> {
    // Cap before normalising: NFKC of a huge input is itself work an attacker could ask for.
    if raw.len() > MAX_CHARS * 4 {
        return Err(PasswordError::TooLong);
    }
    let n = normalize(raw);
    let chars = n.chars().count();
    if chars < MIN_CHARS {
        return Err(PasswordError::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PasswordError::TooLong);
    }
    Ok(n)
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl Default for Argon2Params {
    /// OWASP Password Storage Cheat Sheet: Argon2id, m=19456 KiB, t=2, p=1.
    fn default() -> Self {
        Self {
            memory_kib: 19_456,
            iterations: 2,
            parallelism: 1,
        }
    }
}

impl Argon2Params {
    pub fn validate(&self) -> Result<(), String> {
        Params::new(self.memory_kib, self.iterations, self.parallelism, None)
            .map(|_| ())
            .map_err(|e| format!("invalid Argon2 parameters: {e}"))
    }
}

/// Hashes and verifies passwords with one set of parameters. CPU-heavy: callers run it
/// off the async reactor.
#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
    /// A hash of a random password, verified against when the account does not exist so an
    /// unknown email costs the same time as a wrong password (ASVS 5.0 V6.3.8).
    dummy: String,
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

impl PasswordHasher {
    pub fn new(params: Argon2Params, rng: &dyn SecureRandom) -> Result<Self, HashError> {
        let p = Params::new(params.memory_kib, params.iterations, params.parallelism, None)
            .map_err(|e| HashError(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p);
        let mut me = Self {
            argon,
            dummy: String::new(),
        };
        let random: [u8; 24] = rand::bytes(rng);
        let pw = crate::secret::b64url(&random);
        me.dummy = me.hash(&pw, rng)?;
        Ok(me)
    }

    /// Hashes an already-normalised password into a PHC string.
    pub fn hash(&self, normalized: &str, rng: &dyn SecureRandom) -> Result<String, HashError> {
        let salt_bytes: [u8; 16] = rand::bytes(rng);
        let salt = SaltString::encode_b64(&salt_bytes).map_err(|e| HashError(e.to_string()))?;
        self.argon
            .hash_password(normalized.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| HashError(e.to_string()))
    }

    /// Verifies a raw password against a stored hash, or against the dummy hash when there
    /// is no account, so both paths do the same work.
    pub fn verify(&self, raw: &str, stored: Option<&str>) -> bool {
        let n = normalize(raw);
        let (phc, real) = match stored {
            Some(s) => (s, true),
            None => (self.dummy.as_str(), false),
        };
        let ok = match PasswordHash::new(phc) {
            Ok(parsed) => self.argon.verify_password(n.as_bytes(), &parsed).is_ok(),
            Err(_) => false,
        };
        ok && real
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::OsRandom;

    fn cheap() -> PasswordHasher {
        PasswordHasher::new(
            Argon2Params {
                memory_kib: 256,
                iterations: 1,
                parallelism: 1,
            },
            &OsRandom,
        )
        .unwrap()
    }

    #[test]
    fn length_policy_counts_characters_after_normalising() {
        assert_eq!(check_new("short"), Err(PasswordError::TooShort));
        assert_eq!(check_new("  1234567  "), Err(PasswordError::TooShort));
        assert!(check_new("12345678").is_ok());
        assert!(check_new(&"é".repeat(64)).is_ok());
        assert!(check_new(&"a".repeat(1024)).is_ok());
        assert_eq!(check_new(&"a".repeat(1025)), Err(PasswordError::TooLong));
    }

    #[test]
    fn hashes_verify_after_normalisation() {
        let h = cheap();
        let stored = h.hash(&check_new("correct horse").unwrap(), &OsRandom).unwrap();
        assert!(stored.starts_with("$argon2id$v=19$"));
        assert!(h.verify("correct horse", Some(&stored)));
        assert!(h.verify(" correct horse\n", Some(&stored)));
        // Full-width letters normalise to ASCII under NFKC.
        assert!(h.verify("ｃｏｒｒｅｃｔ horse", Some(&stored)));
        assert!(!h.verify("correct horsf", Some(&stored)));
        assert!(!h.verify("correct horse", None));
        assert!(!h.verify("correct horse", Some("not a phc string")));
    }
}
