//! Email addresses as account identifiers, in one canonical form.
//!
//! Canonicalisation (documented in `docs/identifiers.md`): trim surrounding whitespace,
//! Unicode NFKC (so full-width `ＡＬＩＣＥ` and the Kelvin sign fold to ASCII), then
//! lower-case. The canonical form is the key for lookup, uniqueness and throttling, so
//! `ALICE@x.com`, ` alice@x.com ` and `ａｌｉｃｅ@x.com` are one account with one failure
//! counter (SECURITY.md tests 14 and 69; Authelia CVE-2025-24806).
//!
//! Invisible and bidirectional-control characters (zero-width space, soft hyphen, joiners,
//! bidi marks and overrides: [`crate::text::is_forbidden`]) are refused outright rather
//! than stripped: `alice\u{200B}@example.com` renders like `alice@example.com`, so accepting
//! it would make a look-alike second account (SECURITY.md test 77; UTS #39 §3.1).

use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// A syntactically valid email address in canonical form.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Email(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid email address: {0}")]
pub struct InvalidEmail(pub &'static str);

/// The canonical form of an identifier string, without validating it. Used where any input
/// (even an invalid one) needs a stable key, such as a throttling counter.
pub fn canonical(input: &str) -> String {
    input.trim().nfkc().collect::<String>().trim().to_lowercase()
}

impl Email {
    pub fn parse(input: &str) -> Result<Self, InvalidEmail> {
        let s = canonical(input);
        if s.is_empty() {
            return Err(InvalidEmail("empty"));
        }
        if s.len() > 254 {
            return Err(InvalidEmail("longer than 254 bytes"));
        }
        if s.chars()
            .any(|c| c.is_whitespace() || crate::text::is_forbidden(c) || "<>()[]\\,;:\"".contains(c))
        {
            return Err(InvalidEmail("contains a character not allowed in an address"));
        }
        let (local, domain) = s.split_once('@').ok_or(InvalidEmail("missing @"))?;
        if local.is_empty() || local.len() > 64 {
            return Err(InvalidEmail("local part must be 1 to 64 bytes"));
        }
        if domain.contains('@') {
            return Err(InvalidEmail("more than one @"));
        }
        let labels: Vec<&str> = domain.split('.').collect();
        if labels.len() < 2 || labels.iter().any(|l| l.is_empty() || l.len() > 63) {
            return Err(InvalidEmail("domain must have dot-separated labels"));
        }
        if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
            return Err(InvalidEmail("misplaced dot in local part"));
        }
        Ok(Self(s))
    }

    pub fn from_trusted(s: String) -> Self {
        Self(s)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `a***@example.com`: enough for a user to recognise, too little to harvest.
    pub fn masked(&self) -> String {
        match self.0.split_once('@') {
            Some((local, domain)) => {
                let first: String = local.chars().take(1).collect();
                format!("{first}***@{domain}")
            }
            None => "***".into(),
        }
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    // Addresses are personal data: debug output shows only the masked form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn variants_share_one_canonical_form() {
        let want = Email::parse("alice@x.com").unwrap();
        for v in [
            "ALICE@x.com",
            " alice@x.com ",
            "ａｌｉｃｅ@x.com",
            "Alice@X.COM",
            "\talice@x.com\n",
        ] {
            assert_eq!(Email::parse(v).unwrap(), want, "{v:?}");
        }
        // Kelvin sign folds to K under NFKC, then to k.
        assert_eq!(
            Email::parse("\u{212A}im@x.com").unwrap(),
            Email::parse("kim@x.com").unwrap()
        );
        // NFC/NFD forms of é are one account.
        assert_eq!(
            Email::parse("jos\u{00E9}@x.com").unwrap(),
            Email::parse("jose\u{0301}@x.com").unwrap()
        );
        // A Cyrillic look-alike stays a different account (no confusable folding).
        assert_ne!(
            Email::parse("\u{0430}lice@x.com").unwrap(),
            Email::parse("alice@x.com").unwrap()
        );
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "alice",
            "@x.com",
            "alice@",
            "alice@x",
            "a@b@x.com",
            "al ice@x.com",
            "alice@x..com",
            "alice\r\n@x.com",
            ".alice@x.com",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad:?} accepted");
        }
        assert!(Email::parse(&format!("{}@x.com", "a".repeat(65))).is_err());
    }

    #[test]
    fn invisible_characters_make_no_look_alike() {
        let real = Email::parse("alice@example.com").unwrap();
        for c in [
            '\u{200B}',
            '\u{200C}',
            '\u{200D}',
            '\u{00AD}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202B}',
            '\u{202C}',
            '\u{202D}',
            '\u{202E}',
            '\u{2066}',
            '\u{2067}',
            '\u{2068}',
            '\u{2069}',
            '\u{2060}',
            '\u{FEFF}',
            '\u{061C}',
            '\u{FE0F}',
            '\u{E0061}',
            '\u{3164}',
        ] {
            for v in [
                format!("alice{c}@example.com"),
                format!("{c}alice@example.com"),
                format!("alice@exa{c}mple.com"),
                format!("alice@example.com{c}"),
            ] {
                assert_eq!(
                    Email::parse(&v),
                    Err(InvalidEmail("contains a character not allowed in an address")),
                    "U+{:04X} in {v:?}",
                    u32::from(c)
                );
            }
        }
        // A line separator is whitespace: trimmed at the ends (the documented
        // canonicalisation), refused inside.
        assert_eq!(Email::parse("alice@example.com\u{2028}").unwrap(), real);
        assert!(Email::parse("ali\u{2028}ce@example.com").is_err());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Never panics; the canonical form is a fixed point (parsing it again gives it back),
        /// so lookup, uniqueness and throttling keys cannot drift apart; it holds no
        /// forbidden character.
        #[test]
        fn canonical_form_is_idempotent(input in "\\PC{0,40}") {
            check_idempotent(&input)?;
        }

        #[test]
        fn address_shaped_input_is_idempotent(
            local in "[a-zA-Zａ-ｚ0-9.+_\u{212A}\u{00E9}\u{0301}-]{1,20}",
            domain in "[a-zA-Z0-9-]{1,10}\\.[a-zA-Z]{2,4}",
            pad in "[ \t]{0,2}",
        ) {
            check_idempotent(&format!("{pad}{local}@{domain}{pad}"))?;
        }
    }

    fn check_idempotent(input: &str) -> Result<(), TestCaseError> {
        if let Ok(e) = Email::parse(input) {
            prop_assert_eq!(canonical(e.as_str()), e.as_str());
            prop_assert_eq!(Email::parse(e.as_str()), Ok(e.clone()));
            prop_assert!(!e.as_str().chars().any(crate::text::is_forbidden));
            prop_assert!(e.as_str().len() <= 254);
        }
        Ok(())
    }

    #[test]
    fn masks() {
        assert_eq!(
            Email::parse("alice@example.com").unwrap().masked(),
            "a***@example.com"
        );
    }
}
