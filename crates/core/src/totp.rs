//! HOTP (RFC 4226) and TOTP (RFC 6238), Base32 (RFC 4648) and `otpauth://` URIs
//! (Google Authenticator key-URI format).
//!
//! The time is always an argument: the verifier uses the server clock only (ASVS 5.0
//! V6.5.8). Codes compare in constant time (totp-rs CVE-2022-29185). Verification returns
//! the matched time step so the caller can store it and refuse any step at or before it
//! (RFC 6238 §5.2: "MUST NOT accept the second attempt of the OTP").
//!
//! The HMAC is SHA-1 by default, as RFC 4226 defines and every authenticator app supports;
//! RFC 6238 §1.2 also allows HMAC-SHA-256 and HMAC-SHA-512, which a tenant may ask for
//! (many apps ignore `algorithm=` and silently compute SHA-1, so it is never the default).

use crate::clock::UnixMillis;
use crate::secret::ct_eq;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha1::Sha1;
use sha2::{Sha256, Sha512};

/// The only parameters we issue: what every authenticator app understands.
pub const DIGITS: u32 = 6;
pub const PERIOD_SECS: i64 = 30;
/// 160-bit seeds, RFC 4226 §4's recommendation (NIST asks at least 112).
pub const SECRET_BYTES: usize = 20;

/// The HMAC behind the code (RFC 6238 §1.2), named as the key-URI format spells it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Algorithm {
    #[default]
    #[serde(rename = "SHA1")]
    Sha1,
    #[serde(rename = "SHA256")]
    Sha256,
    #[serde(rename = "SHA512")]
    Sha512,
}

impl Algorithm {
    pub const ALL: [Algorithm; 3] = [Algorithm::Sha1, Algorithm::Sha256, Algorithm::Sha512];

    /// The `algorithm=` value of the key-URI format.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "SHA1",
            Algorithm::Sha256 => "SHA256",
            Algorithm::Sha512 => "SHA512",
        }
    }

    /// Exactly `SHA1`, `SHA256` or `SHA512`.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// The truncated HMAC of the 8-byte big-endian counter (RFC 4226 §5.2–5.3; RFC 6238 §4
/// for T beyond 32 bits), without allocating.
fn truncated<M: Mac + KeyInit>(secret: &[u8], counter: u64) -> u32 {
    // HMAC takes keys of any length (RFC 2104 §2), so this error cannot occur.
    let Ok(mut mac) = <M as KeyInit>::new_from_slice(secret) else {
        return 0;
    };
    mac.update(&counter.to_be_bytes());
    truncate(&mac.finalize().into_bytes())
}

/// RFC 4226 §5.3 dynamic truncation: the low four bits of the last byte pick the offset
/// (RFC 6238 Appendix A does the same for the longer SHA-2 outputs), then 31 bits from there.
fn truncate(h: &[u8]) -> u32 {
    let Some(last) = h.last() else { return 0 };
    let offset = usize::from(last & 0x0f);
    // The offset is at most 15 and every HMAC here is at least 20 bytes long.
    match h.get(offset..offset + 4) {
        Some(&[a, b, c, d]) => u32::from_be_bytes([a & 0x7f, b, c, d]),
        _ => 0,
    }
}

/// HOTP value for `counter`, `digits` long (RFC 4226 §5.3), with the given HMAC.
pub fn hotp(alg: Algorithm, secret: &[u8], counter: u64, digits: u32) -> u32 {
    let bin = match alg {
        Algorithm::Sha1 => truncated::<Hmac<Sha1>>(secret, counter),
        Algorithm::Sha256 => truncated::<Hmac<Sha256>>(secret, counter),
        Algorithm::Sha512 => truncated::<Hmac<Sha512>>(secret, counter),
    };
    // More than 9 digits would overflow; RFC 4226 §5.3 asks 6 to 8.
    bin % 10u32.pow(digits.min(9))
}

/// The TOTP time step of an instant (T0 = 0, X = 30 s), as a 64-bit counter (RFC 6238 §4
/// requires T beyond 32 bits).
pub fn step_at(now: UnixMillis) -> i64 {
    now.div_euclid(1000).div_euclid(PERIOD_SECS)
}

/// The zero-padded code for a step.
pub fn code_at_step(alg: Algorithm, secret: &[u8], step: i64) -> String {
    format!(
        "{:0width$}",
        hotp(alg, secret, step.max(0) as u64, DIGITS),
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
pub fn verify(
    alg: Algorithm,
    secret: &[u8],
    code: &str,
    now: UnixMillis,
    window: u8,
    last_step: Option<i64>,
) -> Option<i64> {
    if !well_formed(code) {
        return None;
    }
    let current = step_at(now);
    let w = i64::from(window.min(1));
    let mut matched = None;
    // Every candidate is computed and compared, so timing does not reveal which matched.
    for step in (current - w..=current + w).rev() {
        let fresh = last_step.is_none_or(|last| step > last);
        let equal = ct_eq(code_at_step(alg, secret, step).as_bytes(), code.as_bytes());
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
/// `algorithm` is always written, even for the SHA1 default (Google Key URI format).
pub fn otpauth_uri(issuer: &str, account: &str, secret: &[u8], alg: Algorithm) -> String {
    format!(
        "otpauth://totp/{}:{}?secret={}&issuer={}&algorithm={}&digits={DIGITS}&period={PERIOD_SECS}",
        pct(issuer),
        pct(account),
        base32_encode(secret),
        pct(issuer),
        alg.as_str()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RFC_SECRET: &[u8] = b"12345678901234567890";
    /// RFC 6238 Appendix A's seeds: the ASCII digits repeated to each hash's output size
    /// (SECURITY.md §1.5); the SHA-2 columns of Appendix B need these, not the 20-byte one.
    const SEED_SHA256: &[u8] = b"12345678901234567890123456789012";
    const SEED_SHA512: &[u8] = b"1234567890123456789012345678901234567890123456789012345678901234";
    const SHA1: Algorithm = Algorithm::Sha1;

    #[test]
    fn rfc4226_appendix_d() {
        let hmacs = [
            "cc93cf18508d94934c64b65d8ba7667fb7cde4b0",
            "75a48a19d4cbe100644e8ac1397eea747a2d33ab",
            "0bacb7fa082fef30782211938bc1c5e70416ff44",
            "66c28227d03a2d5529262ff016a1e6ef76557ece",
            "a904c900a64b35909874b33e61c5938a8e15ed1c",
            "a37e783d7b7233c083d4f62926c7a25f238d0316",
            "bc9cd28561042c83f219324d3c607256c03272ae",
            "a4fb960c0bc06e1eabb804e5b397cdc4b45596fa",
            "1b3c89f65e6c9e883012052823443f048b4332db",
            "1637409809a679dc698207310c8c7fc07290d9e5",
        ];
        let truncated: [u32; 10] = [
            1284755224, 1094287082, 137359152, 1726969429, 1640338314, 868254676, 1918287922, 82162583,
            673399871, 645520489,
        ];
        let want = [
            755224, 287082, 359152, 969429, 338314, 254676, 287922, 162583, 399871, 520489,
        ];
        for (counter, expected) in want.iter().enumerate() {
            let c = counter as u64;
            let mut mac = <Hmac<Sha1> as KeyInit>::new_from_slice(RFC_SECRET).unwrap();
            mac.update(&c.to_be_bytes());
            let h = mac.finalize().into_bytes();
            assert_eq!(crate::hash::hex(&h), hmacs[counter], "counter {counter}");
            assert_eq!(truncate(&h), truncated[counter], "counter {counter}");
            assert_eq!(hotp(SHA1, RFC_SECRET, c, 6), *expected, "counter {counter}");
        }
    }

    #[test]
    fn rfc4226_truncation_example() {
        // §5.4: HMAC 1f8698690e02ca16618550ef7f19da8e945b555a → offset 0xa → 0x50ef7f19 → 872921.
        let h: [u8; 20] = [
            0x1f, 0x86, 0x98, 0x69, 0x0e, 0x02, 0xca, 0x16, 0x61, 0x85, 0x50, 0xef, 0x7f, 0x19, 0xda, 0x8e,
            0x94, 0x5b, 0x55, 0x5a,
        ];
        assert_eq!(truncate(&h), 0x50ef7f19);
        assert_eq!(truncate(&h) % 1_000_000, 872921);
    }

    /// RFC 6238 Appendix B: all 18 cases, 8 digits, X = 30, T0 = 0; each also as the
    /// 6-digit code an app shows (its last six digits) through `code_at_step` and `verify`.
    #[test]
    fn rfc6238_appendix_b_all_algorithms() {
        let cases: [(i64, &str, u32, Algorithm); 18] = [
            (59, "0000000000000001", 94287082, Algorithm::Sha1),
            (59, "0000000000000001", 46119246, Algorithm::Sha256),
            (59, "0000000000000001", 90693936, Algorithm::Sha512),
            (1111111109, "00000000023523EC", 7081804, Algorithm::Sha1),
            (1111111109, "00000000023523EC", 68084774, Algorithm::Sha256),
            (1111111109, "00000000023523EC", 25091201, Algorithm::Sha512),
            (1111111111, "00000000023523ED", 14050471, Algorithm::Sha1),
            (1111111111, "00000000023523ED", 67062674, Algorithm::Sha256),
            (1111111111, "00000000023523ED", 99943326, Algorithm::Sha512),
            (1234567890, "000000000273EF07", 89005924, Algorithm::Sha1),
            (1234567890, "000000000273EF07", 91819424, Algorithm::Sha256),
            (1234567890, "000000000273EF07", 93441116, Algorithm::Sha512),
            (2000000000, "0000000003F940AA", 69279037, Algorithm::Sha1),
            (2000000000, "0000000003F940AA", 90698825, Algorithm::Sha256),
            (2000000000, "0000000003F940AA", 38618901, Algorithm::Sha512),
            (20000000000, "0000000027BC86AA", 65353130, Algorithm::Sha1),
            (20000000000, "0000000027BC86AA", 77737706, Algorithm::Sha256),
            (20000000000, "0000000027BC86AA", 47863826, Algorithm::Sha512),
        ];
        for (t, t_hex, eight, alg) in cases {
            let seed = match alg {
                Algorithm::Sha1 => RFC_SECRET,
                Algorithm::Sha256 => SEED_SHA256,
                Algorithm::Sha512 => SEED_SHA512,
            };
            let now = t * 1000;
            let step = step_at(now);
            assert_eq!(format!("{step:016X}"), t_hex, "T={t}");
            assert_eq!(hotp(alg, seed, step as u64, 8), eight, "T={t} {alg:?}");
            let six = format!("{:06}", eight % 1_000_000);
            assert_eq!(code_at_step(alg, seed, step), six, "T={t} {alg:?}");
            assert_eq!(verify(alg, seed, &six, now, 0, None), Some(step), "T={t} {alg:?}");
            // The same six digits under another algorithm are (here) simply wrong.
            for other in Algorithm::ALL.into_iter().filter(|a| *a != alg) {
                assert_ne!(code_at_step(other, seed, step), six, "T={t} {alg:?} vs {other:?}");
            }
        }
    }

    #[test]
    fn algorithm_names() {
        for a in Algorithm::ALL {
            assert_eq!(Algorithm::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{}\"", a.as_str()));
        }
        assert_eq!(Algorithm::default(), Algorithm::Sha1);
        for bad in ["sha1", "SHA-256", "SHA384", "MD5", ""] {
            assert_eq!(Algorithm::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn leading_zeros_and_exact_length() {
        let now = 1111111109 * 1000;
        assert_eq!(code_at_step(SHA1, RFC_SECRET, step_at(now)), "081804");
        assert!(verify(SHA1, RFC_SECRET, "081804", now, 0, None).is_some());
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
            assert!(verify(SHA1, RFC_SECRET, bad, now, 1, None).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn window_and_replay() {
        let now = 1_800_000_000_000;
        let n = step_at(now);
        let code = |s| code_at_step(SHA1, RFC_SECRET, s);
        let v = |c: &str, w, last| verify(SHA1, RFC_SECRET, c, now, w, last);
        assert_eq!(v(&code(n), 1, None), Some(n));
        assert_eq!(v(&code(n - 1), 1, None), Some(n - 1));
        assert_eq!(v(&code(n + 1), 1, None), Some(n + 1));
        assert_eq!(v(&code(n - 2), 1, None), None);
        assert_eq!(v(&code(n + 2), 1, None), None);
        assert_eq!(v(&code(n - 1), 0, None), None);
        // A window wider than one step is never used.
        assert_eq!(v(&code(n - 2), 9, None), None);
        // Steps at or before the last accepted one are refused.
        assert_eq!(v(&code(n), 1, Some(n)), None);
        assert_eq!(v(&code(n - 1), 1, Some(n)), None);
        assert_eq!(v(&code(n + 1), 1, Some(n)), Some(n + 1));
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
        let uri = otpauth_uri("ACME Co", "jöhn:doe@example.com", RFC_SECRET, SHA1);
        assert_eq!(
            uri,
            "otpauth://totp/ACME%20Co:j%C3%B6hn%3Adoe%40example.com?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ\
             &issuer=ACME%20Co&algorithm=SHA1&digits=6&period=30"
        );
        assert_eq!(uri.matches("secret=").count(), 1);
        for alg in Algorithm::ALL {
            let uri = otpauth_uri("ACME Co", "a@x.com", RFC_SECRET, alg);
            assert_eq!(uri.matches("&algorithm=").count(), 1, "{uri}");
            assert!(
                uri.contains(&format!("&algorithm={}&digits=6&period=30", alg.as_str())),
                "{uri}"
            );
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Only `DIGITS` ASCII digits are a code: no Unicode digits (fullwidth, Arabic-Indic…),
        /// spaces or signs (SECURITY.md test 67).
        #[test]
        fn well_formed_is_exactly_six_ascii_digits(s in "\\PC{0,10}") {
            let expected = s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit());
            prop_assert_eq!(well_formed(&s), expected);
        }

        #[test]
        fn unicode_digits_and_separators_never_pass(
            digits in "[0-9]{6}",
            at in 0usize..6,
            odd in prop_oneof![
                "[０-９]", "[٠-٩]", "[۰-۹]", "[०-९]", Just(" ".to_owned()), Just("+".to_owned()),
                Just("-".to_owned()), Just("\u{200B}".to_owned()), Just("\0".to_owned())
            ],
        ) {
            let mut replaced: Vec<String> = digits.chars().map(String::from).collect();
            replaced[at] = odd.clone();
            prop_assert!(!well_formed(&replaced.concat()));
            let mut inserted = digits.clone();
            inserted.insert_str(at, &odd);
            prop_assert!(!well_formed(&inserted));
            prop_assert!(verify(SHA1, RFC_SECRET, &inserted, 0, 1, None).is_none());
        }

        /// Decode inverts encode, and the encoding is the only text that decodes to those
        /// bytes (RFC 4648 §3.5: canonical; padding is optional and otherwise exact).
        #[test]
        fn base32_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let enc = base32_encode(&bytes);
            prop_assert!(enc.bytes().all(|b| B32.contains(&b)));
            prop_assert_eq!(base32_decode(&enc), Some(bytes.clone()));
            let padded = format!("{enc}{}", "=".repeat((8 - enc.len() % 8) % 8));
            prop_assert_eq!(base32_decode(&padded), Some(bytes));
        }

        /// Anything that decodes re-encodes to the same text (minus padding), so no two
        /// texts stand for one secret; nothing panics.
        #[test]
        fn base32_decode_accepts_only_canonical_text(text in "[A-Z2-7a-z0-9=]{0,24}") {
            if let Some(bytes) = base32_decode(&text) {
                prop_assert_eq!(base32_encode(&bytes), text.trim_end_matches('='));
            }
        }

        /// The label is `issuer:account` with exactly one unencoded colon, whatever the
        /// names hold, and both decode back (Google Key URI format: no colon inside either).
        #[test]
        fn otpauth_label_has_one_separator(issuer in "\\PC{0,20}", account in "\\PC{0,30}") {
            let uri = otpauth_uri(&issuer, &account, RFC_SECRET, SHA1);
            let rest = uri.strip_prefix("otpauth://totp/").unwrap_or("");
            let (label, query) = rest.split_once('?').unwrap_or((rest, ""));
            prop_assert_eq!(label.matches(':').count(), 1, "{}", uri);
            prop_assert!(!query.contains(':') && !query.contains('#') && !label.contains('/'));
            let (i, a) = label.split_once(':').unwrap_or(("", ""));
            prop_assert_eq!(pct_decode(i), issuer.as_bytes());
            prop_assert_eq!(pct_decode(a), account.as_bytes());
            prop_assert_eq!(query.matches("secret=").count(), 1);
        }
    }

    fn pct_decode(s: &str) -> Vec<u8> {
        let b = s.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            if b[i] == b'%' {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            } else {
                out.push(b[i]);
                i += 1;
            }
        }
        out
    }
}
