//! Backup (recovery) codes: look-up secrets a user keeps on paper.
//!
//! Ten codes of 13 Base32 characters each, 65 bits from the CSPRNG (NIST SP 800-63B-4
//! §4.2.1.1 asks at least 64), shown grouped as `XXXX-XXXX-XXXXX`. Stored only as keyed
//! hashes bound to their owner; the grouping, case and spaces are ignored when checking.

use crate::rand::{self, SecureRandom};

pub const COUNT: usize = 10;
const CHARS: usize = 13;
const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/// A new set of codes, formatted for reading.
pub fn generate(rng: &dyn SecureRandom) -> Vec<String> {
    let mut codes = Vec::with_capacity(COUNT);
    while codes.len() < COUNT {
        let raw: [u8; CHARS] = rand::bytes(rng);
        // 256 is a multiple of 32, so taking the low five bits is unbiased.
        let plain: String = raw
            .iter()
            .map(|b| ALPHABET[usize::from(b & 0x1f)] as char)
            .collect();
        let shown = format!("{}-{}-{}", &plain[..4], &plain[4..8], &plain[8..]);
        if !codes.contains(&shown) {
            codes.push(shown);
        }
    }
    codes
}

/// The canonical form of user input: separators and spaces dropped, upper case. `None` if
/// what remains cannot be a code (wrong length or alphabet), so it never reaches the hash.
pub fn normalize(input: &str) -> Option<String> {
    if input.len() > 64 {
        return None;
    }
    let s: String = input
        .chars()
        .filter(|c| *c != '-' && *c != ' ')
        .map(|c| c.to_ascii_uppercase())
        .collect();
    (s.len() == CHARS && s.bytes().all(|b| ALPHABET.contains(&b))).then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::OsRandom;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Never panics; anything accepted is exactly 13 characters of the code alphabet,
        /// and normalising is idempotent (the stored hash and the checked hash agree).
        #[test]
        fn normalize_output_is_canonical(input in "\\PC{0,70}") {
            if let Some(n) = normalize(&input) {
                prop_assert_eq!(n.len(), CHARS);
                prop_assert!(n.bytes().all(|b| ALPHABET.contains(&b)));
                prop_assert_eq!(normalize(&n), Some(n.clone()));
            }
        }

        /// Grouping, case and spaces do not matter; nothing else is folded (no Unicode
        /// look-alikes such as fullwidth letters).
        #[test]
        fn formatting_is_ignored(code in "[A-Z2-7]{13}", sep in "[- ]{0,2}", lower in any::<bool>()) {
            let shown = format!("{}{sep}{}{sep}{}", &code[..4], &code[4..8], &code[8..]);
            let shown = if lower { shown.to_lowercase() } else { shown };
            prop_assert_eq!(normalize(&shown), Some(code.clone()));
            let fullwidth: String = code
                .chars()
                .map(|c| char::from_u32(u32::from(c) - 0x21 + 0xFF01).unwrap_or(c))
                .collect();
            prop_assert_eq!(normalize(&fullwidth), None);
        }
    }

    #[test]
    fn ten_distinct_grouped_codes() {
        let codes = generate(&OsRandom);
        assert_eq!(codes.len(), 10);
        for c in &codes {
            assert_eq!(c.len(), 15);
            assert_eq!(c.matches('-').count(), 2);
            assert!(normalize(c).is_some());
        }
        let mut all = std::collections::HashSet::new();
        for _ in 0..200 {
            for c in generate(&OsRandom) {
                assert!(all.insert(c), "duplicate code across sets");
            }
        }
    }

    #[test]
    fn input_is_normalised_before_the_length_check() {
        let c = "ABCD-EFGH-IJKLM";
        assert_eq!(normalize(c).as_deref(), Some("ABCDEFGHIJKLM"));
        assert_eq!(normalize("abcd efgh ijklm").as_deref(), Some("ABCDEFGHIJKLM"));
        assert_eq!(normalize("ABCDEFGHIJKL"), None);
        assert_eq!(normalize("ABCD-EFGH-IJKL1"), None);
        assert_eq!(normalize("' OR 1=1 --"), None);
        assert_eq!(normalize(&"A".repeat(100)), None);
    }
}
