//! Phone numbers: parsed and validated with libphonenumber's metadata (the `phonenumber`
//! crate), stored only in E.164 (SECURITY.md test 68). Full-width digits and the usual
//! punctuation are accepted on input; numbers without a country code, premium-rate and
//! shared-cost numbers are refused before any provider is called.

use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// A valid number in E.164 form, with its ISO 3166 alpha-2 region.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone {
    e164: String,
    region: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone_number must be an international number starting with + and a country code")]
    Invalid,
    #[error("premium-rate and shared-cost numbers are not accepted")]
    Costly,
}

impl Phone {
    pub fn parse(input: &str) -> Result<Self, PhoneError> {
        if input.len() > 64 {
            return Err(PhoneError::Invalid);
        }
        let text: String = input.nfkc().collect();
        let text = text.trim();
        // Without a leading + we would have to guess the country; we do not.
        if !text.starts_with('+') || text.chars().any(|c| c.is_alphabetic()) {
            return Err(PhoneError::Invalid);
        }
        let number = phonenumber::parse(None, text).map_err(|_| PhoneError::Invalid)?;
        if !phonenumber::is_valid(&number) {
            return Err(PhoneError::Invalid);
        }
        if number.extension().is_some() {
            return Err(PhoneError::Invalid);
        }
        use phonenumber::metadata::DATABASE;
        use phonenumber::Type;
        match number.number_type(&DATABASE) {
            Type::PremiumRate | Type::SharedCost => return Err(PhoneError::Costly),
            _ => {}
        }
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        let region = number.country().id().map(|id| id.as_ref().to_owned());
        Ok(Self { e164, region })
    }

    /// Rebuilds a number we stored ourselves.
    pub fn from_trusted(e164: &str) -> Self {
        Self::parse(e164).unwrap_or_else(|_| Self {
            e164: e164.to_owned(),
            region: None,
        })
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// ISO 3166 alpha-2 region (`US`, `GB`…), when the number maps to one.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// `+1***2671`: the country code and the last four digits.
    pub fn masked(&self) -> String {
        mask_e164(&self.e164)
    }
}

/// Masks an E.164 string: the calling code (guessed from the region when known), `***`, the
/// last four digits.
pub fn mask_e164(e164: &str) -> String {
    let digits: Vec<char> = e164.trim_start_matches('+').chars().collect();
    if digits.len() < 6 {
        return "***".into();
    }
    let cc_len = match phonenumber::parse(None, e164) {
        Ok(n) => n.code().value().to_string().len(),
        Err(_) => 1,
    };
    let cc: String = digits[..cc_len].iter().collect();
    let last: String = digits[digits.len() - 4..].iter().collect();
    format!("+{cc}***{last}")
}

impl fmt::Debug for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Phone({})", self.masked())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_we_accept_become_e164() {
        for input in [
            "+14155552671",
            "+1 415-555-2671",
            "+1 (415) 555 2671",
            "＋１４１５５５５２６７１",
        ] {
            let p = Phone::parse(input).unwrap();
            assert_eq!(p.e164(), "+14155552671", "{input}");
            assert_eq!(p.region(), Some("US"));
        }
        let uk = Phone::parse("+44 20 7946 0958").unwrap();
        assert_eq!(uk.e164(), "+442079460958");
        assert_eq!(uk.region(), Some("GB"));
        assert_eq!(uk.masked(), "+44***0958");
        assert_eq!(Phone::parse("+14155552671").unwrap().masked(), "+1***2671");
    }

    #[test]
    fn refuses_what_is_not_a_plain_international_number() {
        for bad in [
            "4155552671",
            "+0123456789",
            "+1415555267112345678",
            "+1-415-555-2671 ext 12",
            "+1 415 CALL NOW",
            "not a number",
            "",
            "+",
            "+1234",
        ] {
            assert!(Phone::parse(bad).is_err(), "{bad:?} accepted");
        }
        // UK premium rate (09xx).
        assert_eq!(Phone::parse("+44 909 879 0000"), Err(PhoneError::Costly));
    }
}
