//! Email addresses as account identifiers, in one canonical form.
//!
//! Canonicalisation (documented in `docs/identifiers.md`): trim surrounding whitespace,
//! Unicode NFKC (so full-width `ＡＬＩＣＥ` and the Kelvin sign fold to ASCII), then
//! lower-case. The canonical form is the key for lookup, uniqueness and throttling, so
//! `ALICE@x.com`, ` alice@x.com ` and `ａｌｉｃｅ@x.com` are one account with one failure
//! counter (SECURITY.md tests 14 and 69; Authelia CVE-2025-24806).

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
            .any(|c| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"".contains(c))
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
    fn masks() {
        assert_eq!(
            Email::parse("alice@example.com").unwrap().masked(),
            "a***@example.com"
        );
    }
}
