//! Keyed hashes for bearer secrets we must recognise but never store: API keys, refresh
//! tokens and, later, one-time codes. HMAC-SHA-256 under a server-wide pepper that is
//! itself sealed in the database, so a dump of the tables alone cannot test guesses
//! (NIST SP 800-63B-4 §3.1.2.2, ASVS 5.0 V6.5.2).

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

/// What a hash is for; mixed into the MAC so a hash for one purpose never matches another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HashPurpose {
    ApiKey,
    RefreshToken,
    BackupCode,
    OneTimeCode,
    /// A phone number or email address codes go to: look-ups and send limits without the
    /// value itself (it is sealed at rest).
    Destination,
    /// An `Idempotency-Key`, and the request it came with.
    Idempotency,
    /// A user's WebAuthn user handle: stable, opaque, and no personal data.
    WebauthnUserHandle,
    /// A passwordless WebAuthn ceremony's challenge, under which its state is found.
    WebauthnChallenge,
    /// A hosted page's anti-forgery token, derived from its cookie session's random id.
    CsrfToken,
    /// An OAuth 2.0 authorization code.
    AuthorizationCode,
    /// An application's client secret (context: the application id).
    ClientSecret,
    /// A link or code emailed to verify an address or reset a password (`links.rs`).
    EmailLink,
    /// A remembered device's token (context: the user id, so a token only ever finds its
    /// own user's device).
    DeviceToken,
    /// An enrollment ticket's token (`tickets.rs`).
    EnrollmentTicket,
}

impl HashPurpose {
    fn label(self) -> &'static [u8] {
        match self {
            HashPurpose::ApiKey => b"latchkey/api-key/v1",
            HashPurpose::RefreshToken => b"latchkey/refresh-token/v1",
            HashPurpose::BackupCode => b"latchkey/backup-code/v1",
            HashPurpose::OneTimeCode => b"latchkey/otp/v1",
            HashPurpose::Destination => b"latchkey/destination/v1",
            HashPurpose::Idempotency => b"latchkey/idempotency/v1",
            HashPurpose::WebauthnUserHandle => b"latchkey/webauthn-user-handle/v1",
            HashPurpose::WebauthnChallenge => b"latchkey/webauthn-challenge/v1",
            HashPurpose::CsrfToken => b"latchkey/csrf-token/v1",
            HashPurpose::AuthorizationCode => b"latchkey/authorization-code/v1",
            HashPurpose::ClientSecret => b"latchkey/client-secret/v1",
            HashPurpose::EmailLink => b"latchkey/email-link/v1",
            HashPurpose::DeviceToken => b"latchkey/device-token/v1",
            HashPurpose::EnrollmentTicket => b"latchkey/enrollment-ticket/v1",
        }
    }
}

#[derive(Clone)]
pub struct KeyedHasher {
    pepper: Zeroizing<Vec<u8>>,
}

impl std::fmt::Debug for KeyedHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyedHasher([redacted])")
    }
}

impl KeyedHasher {
    pub fn new(pepper: Zeroizing<Vec<u8>>) -> Self {
        Self { pepper }
    }

    /// Hex HMAC-SHA-256 of `value`, domain-separated by `purpose` and `context` (for example
    /// the owning factor id, so equal codes of two users hash differently).
    pub fn hash(&self, purpose: HashPurpose, context: &str, value: &[u8]) -> String {
        let mut mac = match Hmac::<Sha256>::new_from_slice(&self.pepper) {
            Ok(m) => m,
            // HMAC accepts keys of any length; this arm cannot be reached.
            Err(_) => return String::new(),
        };
        mac.update(purpose.label());
        mac.update(&[0]);
        mac.update(context.as_bytes());
        mac.update(&[0]);
        mac.update(value);
        hex(&mac.finalize().into_bytes())
    }
}

pub fn hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 0xF) as usize] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purpose_and_context_separate_hashes() {
        let h = KeyedHasher::new(Zeroizing::new(vec![7u8; 32]));
        let a = h.hash(HashPurpose::ApiKey, "", b"x");
        assert_eq!(a.len(), 64);
        assert_eq!(a, h.hash(HashPurpose::ApiKey, "", b"x"));
        assert_ne!(a, h.hash(HashPurpose::RefreshToken, "", b"x"));
        assert_ne!(a, h.hash(HashPurpose::ApiKey, "u", b"x"));
        let other = KeyedHasher::new(Zeroizing::new(vec![8u8; 32]));
        assert_ne!(a, other.hash(HashPurpose::ApiKey, "", b"x"));
    }
}
