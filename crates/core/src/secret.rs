//! Secrets as types, opaque bearer tokens, and constant-time comparison.

use crate::rand::{self, SecureRandom};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use std::fmt;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

/// A string that must never be printed: `Debug` and `Display` show `[redacted]`, and the
/// memory is wiped on drop.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(Zeroizing<String>);

impl SecretString {
    pub fn new(s: String) -> Self {
        Self(Zeroizing::new(s))
    }
    /// Access for the few places that must use the value (hashing, sending, showing once).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl From<String> for SecretString {
    fn from(s: String) -> Self {
        Self::new(s)
    }
}

pub fn b64url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn b64url_decode(s: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(s).ok()
}

const LOWER_B32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

/// Lower-case RFC 4648 base32 without padding: tokens that survive copy, paste and URLs.
pub fn b32_lower(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 8 / 5 + 1);
    let mut buffer: u32 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u32::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(LOWER_B32[((buffer >> bits) & 0x1F) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(LOWER_B32[((buffer << (5 - bits)) & 0x1F) as usize] as char);
    }
    out
}

/// A new opaque bearer token: `prefix` followed by 256 bits from the CSPRNG
/// (ASVS 5.0 V7.2.3 asks for at least 128).
pub fn opaque_token(prefix: &str, rng: &dyn SecureRandom) -> SecretString {
    let raw: Zeroizing<[u8; 32]> = Zeroizing::new(rand::bytes(rng));
    SecretString::new(format!("{prefix}{}", b32_lower(&*raw)))
}

/// Constant-time equality for secrets of equal length; unequal lengths return early,
/// which reveals only the length (ASVS 5.0 V11.2.4).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::OsRandom;

    #[test]
    fn secrets_do_not_print() {
        let s = SecretString::new("hunter2hunter2".into());
        assert_eq!(format!("{s:?}"), "[redacted]");
    }

    #[test]
    fn base32_matches_rfc4648_lowercased() {
        assert_eq!(b32_lower(b""), "");
        assert_eq!(b32_lower(b"f"), "my");
        assert_eq!(b32_lower(b"foobar"), "mzxw6ytboi");
        assert_eq!(
            b32_lower(b"12345678901234567890"),
            "gezdgnbvgy3tqojqgezdgnbvgy3tqojq"
        );
    }

    #[test]
    fn tokens_are_long_and_distinct() {
        let a = opaque_token("sk_live_", &OsRandom);
        let b = opaque_token("sk_live_", &OsRandom);
        assert_eq!(a.expose().len(), 8 + 52);
        assert_ne!(a, b);
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }
}
