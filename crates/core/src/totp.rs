//! HOTP (RFC 4226) and TOTP (RFC 6238), Base32 (RFC 4648) and `otpauth://` URIs
//! (Google Authenticator key-URI format).
//!
//! The time is always an argument: the verifier uses the server clock only (ASVS 5.0
//! V6.5.8). Codes compare in constant time (totp-rs CVE-2022-29185). Verification returns
//! the matched time step so the caller can store it and refuse any step at or before it
//! (RFC 6238 §5.2: "MUST NOT accept the second attempt of the OTP").

use crate::clock::UnixMillis;
use crate::secret::ct_eq;
use hmac::{Hmac, Mac};
use sha1::Sha1;

/// The only parameters we issue: what every authenticator app understands.
pub const DIGITS: u32 = 6;
pub const PERIOD_SECS: i64 = 30;
/// 160-bit seeds, RFC 4226 §4's recommendation (NIST asks at least 112).
pub const SECRET_BYTES: usize = 20;

/// HOTP value for `counter`, `digits` long (RFC 4226 §5.3).
pub fn hotp(secret: &[u8], counter: u64, digits: u32) -> u32 {
    let mut mac = match Hmac::<Sha1>::new_from_slice(secret) {
        Ok(m) => m,
        // HMAC takes keys of any length; unreachable.
        Err(_) => return 0,
    };
    mac.update(&counter.to_be_bytes());
    let h = mac.finalize().into_bytes();
    let offset = usize::from(h[19] & 0x0f);
    let bin = (u32::from(h[offset]) & 0x7f) << 24
        | u32::from(h[offset + 1]) << 16
        | u32::from(h[offset + 2]) << 8
        | u32::from(h[offset + 3]);
    bin % 10u32.pow(digits)
}

/// The TOTP time step of an instant (T0 = 0, X = 30 s), as a 64-bit counter (RFC 6238 §4
/// requires T beyond 32 bits).
pub fn step_at(now: UnixMillis) -> i64 {
    now.div_euclid(1000).div_euclid(PERIOD_SECS)
}

/// The zero-padded code for a step.
pub fn code_at_step(secret: &[u8], step: i64) -> String {
    format!(
        "{:0width$}",
        hotp(secret, step.max(0) as u64, DIGITS),
        width = DIGITS as usize
    )
}

/// Whether `code` has the exact shape of a code: `DIGITS` ASCII digits, nothing else
/// (no Unicode digits, spaces or signs; SECURITY.md test 67).
pub fn well_formed(code: &str) -> bool {
    code.len() == DIGITS as usize && code.bytes().all(|b| b.is_ascii_digit())
}

/// Checks `code` against the steps within `window` of now, newest first, skipping any step
/// not after `last_step`. Returns the step that matched.
pub fn verify(secret: &[u8], code: &str, now: UnixMillis, window: u8, last_step: Option<i64>) -> Option<i64> {
    if !well_formed(code) {
        return None;
    }
    let current = step_at(now);
    let w = i64::from(window.min(1));
    let mut matched = None;
    // Every candidate is computed and compared, so timing does not reveal which matched.
    for step in (current - w..=current + w).rev() {
        let fresh = last_step.is_none_or(|last| step > last);
        let equal = ct_eq(code_at_step(secret, step).as_bytes(), code.as_bytes());
        if equal && fresh && matched.is_none() {
            matched = Some(step);
        }
    }
    matched
}

const B32: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// RFC 4648 Base32, upper case, without padding (as `otpauth://` wants).
pub fn base32_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u64 = 0;
    let mut bits = 0;
    for &b in bytes {
        buffer = (buffer << 8) | u64::from(b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(B32[((buffer >> bits) & 0x1f) as usize] as char);
        }
    }
    if bits > 0 {
        out.push(B32[((buffer << (5 - bits)) & 0x1f) as usize] as char);
    }
    out
}

/// Strict RFC 4648 Base32 decoding: alphabet `A–Z2–7` (upper case), optional correct `=`
/// padding, and canonical trailing bits (§3.5). Anything else is refused (§3.3).
pub fn base32_decode(text: &str) -> Option<Vec<u8>> {
    let body = text.trim_end_matches('=');
    let pad = text.len() - body.len();
    if pad > 0 && (!text.len().is_multiple_of(8) || pad > 6) {
        return None;
    }
    if matches!(body.len() % 8, 1 | 3 | 6) {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 5 / 8);
    let mut buffer: u64 = 0;
    let mut bits = 0;
    for c in body.bytes() {
        let v = B32.iter().position(|&a| a == c)? as u64;
        buffer = (buffer << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(((buffer >> bits) & 0xff) as u8);
        }
    }
    // Leftover bits must be zero for the encoding to be canonical.
    if bits > 0 && buffer & ((1 << bits) - 1) != 0 {
        return None;
    }
    Some(out)
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
fn pct(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The provisioning URI: `otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30`.
/// Issuer and account are percent-encoded, so a colon inside either cannot split the label.
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8]) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm=SHA1&digits={DIGITS}&period={PERIOD_SECS}",
        pct(issuer),
        pct(account),
        base32_encode(secret),
        pct(issuer)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";

    #[test]
    fn rfc4226_appendix_d() {
        let want = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, expected) in want.iter().enumerate() {
            assert_eq!(
                hotp(RFC_SECRET, counter as u64, 6),
                *expected,
                "counter {counter}"
            );
        }
    }

    #[test]
    fn rfc4226_truncation_example() {
        // §5.4: HMAC 1f8698690e02ca16618550ef7f19da8e945b555a → offset 0xa → 0x50ef7f19 → 872921.
        let h: [u8; 20] = [
            0x1f, 0x86, 0x98, 0x69, 0x0e, 0x02, 0xca, 0x16, 0x61, 0x85, 0x50, 0xef, 0x7f, 0x19, 0xda, 0x8e,
            0x94, 0x5b, 0x55, 0x5a,
        ];
        let offset = usize::from(h[19] & 0x0f);
        let bin = (u32::from(h[offset]) & 0x7f) << 24
            | u32::from(h[offset + 1]) << 16
            | u32::from(h[offset + 2]) << 8
            | u32::from(h[offset + 3]);
        assert_eq!(bin % 1_000_000, 872921);
    }

    #[test]
    fn rfc6238_appendix_b_sha1() {
        let cases = [
            (59i64, 94287082),
            (1111111109, 7081804),
            (1111111111, 14050471),
            (1234567890, 89005924),
            (2000000000, 69279037),
            (20000000000, 65353130),
        ];
        for (t, eight) in cases {
            let step = step_at(t * 1000);
            assert_eq!(hotp(RFC_SECRET, step as u64, 8), eight, "T={t}");
            // The 6-digit code is the last six digits.
            assert_eq!(
                code_at_step(RFC_SECRET, step),
                format!("{:06}", eight % 1_000_000)
            );
        }
    }

    #[test]
    fn leading_zeros_and_exact_length() {
        let now = 1111111109 * 1000;
        assert_eq!(code_at_step(RFC_SECRET, step_at(now)), "081804");
        assert!(verify(RFC_SECRET, "081804", now, 0, None).is_some());
        for bad in [
            "81804",
            "0081804",
            " 081804",
            "081804 ",
            "０８１８０４",
            "08180４",
            "+81804",
            "",
            "08 1804",
        ] {
            assert!(verify(RFC_SECRET, bad, now, 1, None).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn window_and_replay() {
        let now = 1_800_000_000_000;
        let n = step_at(now);
        let code = |s| code_at_step(RFC_SECRET, s);
        assert_eq!(verify(RFC_SECRET, &code(n), now, 1, None), Some(n));
        assert_eq!(verify(RFC_SECRET, &code(n - 1), now, 1, None), Some(n - 1));
        assert_eq!(verify(RFC_SECRET, &code(n + 1), now, 1, None), Some(n + 1));
        assert_eq!(verify(RFC_SECRET, &code(n - 2), now, 1, None), None);
        assert_eq!(verify(RFC_SECRET, &code(n + 2), now, 1, None), None);
        assert_eq!(verify(RFC_SECRET, &code(n - 1), now, 0, None), None);
        // A window wider than one step is never used.
        assert_eq!(verify(RFC_SECRET, &code(n - 2), now, 9, None), None);
        // Steps at or before the last accepted one are refused.
        assert_eq!(verify(RFC_SECRET, &code(n), now, 1, Some(n)), None);
        assert_eq!(verify(RFC_SECRET, &code(n - 1), now, 1, Some(n)), None);
        assert_eq!(verify(RFC_SECRET, &code(n + 1), now, 1, Some(n)), Some(n + 1));
    }

    #[test]
    fn base32_vectors_and_strictness() {
        let vectors: [(&[u8], &str); 7] = [
            (b"", ""),
            (b"f", "MY"),
            (b"fo", "MZXQ"),
            (b"foo", "MZXW6"),
            (b"foob", "MZXW6YQ"),
            (b"fooba", "MZXW6YTB"),
            (b"foobar", "MZXW6YTBOI"),
        ];
        for (raw, enc) in vectors {
            assert_eq!(base32_encode(raw), enc);
            assert_eq!(base32_decode(enc).unwrap(), raw);
        }
        assert_eq!(base32_decode("MY======").unwrap(), b"f");
        assert_eq!(base32_decode("MZXW6YQ=").unwrap(), b"foob");
        assert_eq!(base32_decode("MZXW6YTBOI======").unwrap(), b"foobar");
        assert_eq!(base32_encode(RFC_SECRET), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        for bad in ["MY0", "M1", "MZ8", "MY9", "my", "MZ", "MZXW6Y==", "MY=====", "M"] {
            assert!(base32_decode(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn otpauth_uri_shape() {
        let uri = otpauth_uri("ACME Co", "jöhn:doe@example.com", RFC_SECRET);
        assert_eq!(
            uri,
            "otpauth://totp/ACME%20Co:j%C3%B6hn%3Adoe%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(uri.matches("secret=").count(), 1);
    }
}
