//! Signed webhooks in the Standard Webhooks format (<https://www.standardwebhooks.com>,
//! whose verifier libraries our receivers use): the secret's shape, the signature, and when
//! a failed delivery is tried again. No I/O: the time and the randomness come in.
//!
//! A secret is `whsec_` and the base64 of 32 random bytes (the specification asks for 24 to
//! 64). A message is signed with HMAC-SHA-256, keyed with the secret's decoded bytes, over
//! `{webhook-id}.{webhook-timestamp}.{body}`; the `webhook-signature` header carries
//! `v1,` and the base64 of the MAC. The receiver recomputes it over the raw body and
//! compares in constant time, and refuses a timestamp too far from its clock (replays).

use crate::rand::{self, SecureRandom};
use crate::secret::SecretString;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

pub const SECRET_PREFIX: &str = "whsec_";

/// Attempts before a delivery is given up (the first one included): with the backoff
/// below, about 70 minutes of an endpoint being down.
pub const MAX_ATTEMPTS: i64 = 12;

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret(rng: &dyn SecureRandom) -> SecretString {
    let raw: Zeroizing<[u8; 32]> = Zeroizing::new(rand::bytes(rng));
    SecretString::new(format!("{SECRET_PREFIX}{}", STANDARD.encode(*raw)))
}

/// The key a secret stands for (its decoded bytes), or `None` if it is not one of ours.
pub fn secret_key(secret: &str) -> Option<Zeroizing<Vec<u8>>> {
    let b64 = secret.strip_prefix(SECRET_PREFIX)?;
    let key = Zeroizing::new(STANDARD.decode(b64).ok()?);
    (key.len() >= 24 && key.len() <= 64).then_some(key)
}

/// The `webhook-signature` header's value for one message: `v1,<base64 HMAC-SHA-256>`.
pub fn signature(key: &[u8], msg_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length (RFC 2104 §2), so this cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// How long to wait after the `attempts`-th failed attempt: exponential (1 s, 2 s, 4 s …,
/// at most an hour) with "equal jitter" (half fixed, half random, from `random`), so that
/// endpoints coming back up are not hit by every retry at the same instant.
pub fn retry_delay_ms(attempts: i64, random: u64) -> i64 {
    let full = (1000i64 << attempts.clamp(1, 22).saturating_sub(1)).min(3_600_000);
    let half = full / 2;
    // `half` is positive and below 2^31, so the remainder fits.
    half + i64::try_from(random % (half as u64 + 1)).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::OsRandom;

    /// The example of the Standard Webhooks specification's reference libraries.
    #[test]
    fn signs_as_the_reference_implementation() {
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            signature(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn secrets_have_the_documented_shape() {
        let s = new_secret(&OsRandom);
        assert!(s.expose().starts_with("whsec_"));
        assert_eq!(secret_key(s.expose()).unwrap().len(), 32);
        assert!(secret_key("whsec_short").is_none());
        assert!(secret_key("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").is_none());
    }

    #[test]
    fn retries_back_off_with_bounded_jitter() {
        for (attempts, low, high) in [(1, 500, 1000), (2, 1000, 2000), (3, 2000, 4000)] {
            assert_eq!(retry_delay_ms(attempts, 0), low);
            assert_eq!(retry_delay_ms(attempts, low as u64), high);
            for r in [1, 7, 12345, u64::MAX] {
                let d = retry_delay_ms(attempts, r);
                assert!((low..=high).contains(&d), "{attempts} {r} {d}");
            }
        }
        assert_eq!(retry_delay_ms(40, 1_800_000), 3_600_000, "capped at an hour");
        assert_eq!(retry_delay_ms(40, 0), 1_800_000);
    }
}
