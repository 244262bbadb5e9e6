//! Password policy and hashing.
//!
//! NIST SP 800-63B-4 §3.1.1.2: at least 8 characters, accept at least 64 (we accept 1024),
//! all printable Unicode, normalised before hashing (we use NFKC, then trim surrounding
//! whitespace so a pasted trailing newline does not lock a user out). Hashing is Argon2id
//! with OWASP's current minimum (m = 19 MiB, t = 2, p = 1), configurable upward.

use crate::rand::{self, SecureRandom};
use argon2::password_hash::PasswordHash;
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
///
/// The 19 MiB of Argon2 working memory is kept per thread and reused: allocating it per call
/// made the allocator hold on to a fresh block for each of many calls (measured: +19 MiB of
/// resident memory per sign-in, up to ~190 MB).
#[derive(Clone)]
pub struct PasswordHasher {
    argon: Argon2<'static>,
    params: Params,
    /// A hash of a random password, verified against when the account does not exist so an
    /// unknown email costs the same time as a wrong password (ASVS 5.0 V6.3.8).
    dummy: String,
}

#[derive(Debug, thiserror::Error)]
#[error("password hashing failed: {0}")]
pub struct HashError(String);

thread_local! {
    static BLOCKS: std::cell::RefCell<Vec<Block>> = const { std::cell::RefCell::new(Vec::new()) };
}

const OUTPUT_LEN: usize = 32;

/// Runs Argon2 with this thread's reusable working memory.
fn compute(
    argon: &Argon2<'_>,
    params: &Params,
    pwd: &[u8],
    salt: &[u8],
    out: &mut [u8],
) -> Result<(), HashError> {
    BLOCKS.with(|cell| {
        let mut blocks = cell.borrow_mut();
        let need = params.block_count();
        if blocks.len() < need {
            blocks.resize(need, Block::default());
        }
        argon
            .hash_password_into_with_memory(pwd, salt, out, &mut blocks[..need])
            .map_err(|e| HashError(e.to_string()))
    })
}

impl PasswordHasher {
    pub fn new(params: Argon2Params, rng: &dyn SecureRandom) -> Result<Self, HashError> {
        let p = Params::new(
            params.memory_kib,
            params.iterations,
            params.parallelism,
            Some(OUTPUT_LEN),
        )
        .map_err(|e| HashError(e.to_string()))?;
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, p.clone());
        let mut me = Self {
            argon,
            params: p,
            dummy: String::new(),
        };
        let random: [u8; 24] = rand::bytes(rng);
        let pw = crate::secret::b64url(&random);
        me.dummy = me.hash(&pw, rng)?;
        Ok(me)
    }

    /// Hashes an already-normalised password into a PHC string
    /// (`$argon2id$v=19$m=…,t=…,p=…$salt$hash`).
    pub fn hash(&self, normalized: &str, rng: &dyn SecureRandom) -> Result<String, HashError> {
        let salt: [u8; 16] = rand::bytes(rng);
        let mut out = Zeroizing::new([0u8; OUTPUT_LEN]);
        compute(&self.argon, &self.params, normalized.as_bytes(), &salt, &mut *out)?;
        Ok(format!(
            "$argon2id$v=19$m={},t={},p={}${}${}",
            self.params.m_cost(),
            self.params.t_cost(),
            self.params.p_cost(),
            b64_std_nopad(&salt),
            b64_std_nopad(&*out)
        ))
    }

    /// Verifies a raw password against a stored hash, or against the dummy hash when there
    /// is no account, so both paths do the same work. Hashes made with other parameters (an
    /// operator raised them) still verify, with their own parameters.
    pub fn verify(&self, raw: &str, stored: Option<&str>) -> bool {
        let n = normalize(raw);
        let (phc, real) = match stored {
            Some(s) => (s, true),
            None => (self.dummy.as_str(), false),
        };
        let ok = self.verify_phc(n.as_bytes(), phc).unwrap_or(false);
        ok && real
    }

    fn verify_phc(&self, pwd: &[u8], phc: &str) -> Option<bool> {
        let parsed = PasswordHash::new(phc).ok()?;
        if parsed.algorithm.as_str() != "argon2id" || parsed.version.is_some_and(|v| v != 0x13) {
            return None;
        }
        let expected = parsed.hash?;
        let stored = Params::try_from(&parsed).ok()?;
        let params = Params::new(
            stored.m_cost(),
            stored.t_cost(),
            stored.p_cost(),
            Some(expected.len()),
        )
        .ok()?;
        let mut salt_buf = [0u8; 64];
        let salt = parsed.salt?.decode_b64(&mut salt_buf).ok()?;
        let mut out = Zeroizing::new(vec![0u8; expected.len()]);
        if params == self.params {
            compute(&self.argon, &self.params, pwd, salt, &mut out).ok()?;
        } else {
            let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
            compute(&argon, &params, pwd, salt, &mut out).ok()?;
        }
        Some(crate::secret::ct_eq(&out, expected.as_bytes()))
    }
}

fn b64_std_nopad(bytes: &[u8]) -> String {
    use base64::engine::general_purpose::STANDARD_NO_PAD;
    use base64::Engine as _;
    STANDARD_NO_PAD.encode(bytes)
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
        assert!(stored.starts_with("$argon2id$v=19$m=256,t=1,p=1$"));
        // The PHC string is standard: the argon2 crate's own verifier accepts it.
        use argon2::password_hash::PasswordVerifier as _;
        let parsed = PasswordHash::new(&stored).unwrap();
        assert!(Argon2::default()
            .verify_password(b"correct horse", &parsed)
            .is_ok());
        assert!(h.verify("correct horse", Some(&stored)));
        assert!(h.verify(" correct horse\n", Some(&stored)));
        // Full-width letters normalise to ASCII under NFKC.
        assert!(h.verify("ｃｏｒｒｅｃｔ horse", Some(&stored)));
        assert!(!h.verify("correct horsf", Some(&stored)));
        assert!(!h.verify("correct horse", None));
        assert!(!h.verify("correct horse", Some("not a phc string")));
        // A hash made with other parameters (or by another Argon2 implementation) verifies.
        use argon2::password_hash::{PasswordHasher as _, SaltString};
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(512, 2, 1, None).unwrap(),
        )
        .hash_password(b"correct horse", &salt)
        .unwrap()
        .to_string();
        assert!(h.verify("correct horse", Some(&other)));
        assert!(!h.verify("correct horsf", Some(&other)));
    }
}
