//! Phone numbers: parsed and validated with libphonenumber's metadata (the `phonenumber`
//! crate), stored only in E.164 (SECURITY.md test 68). Full-width digits and the usual
//! punctuation are accepted on input; numbers without a country code are refused.
//!
//! Every valid number also gets a [`NumberClass`] when it belongs to a range where SMS
//! costs the sender far more than usual or pays the receiver (satellite, international
//! networks, universal and premium numbers: the "SMS pumping" or toll-fraud ranges of
//! SECURITY.md tests 19 and 76). Parsing does not refuse them; the tenant policy does
//! (`TenantSettings::sms_number_class_allowed`), so an operator can allow one explicitly.

use serde::{Deserialize, Serialize};
use std::fmt;
use unicode_normalization::UnicodeNormalization;

/// A valid number in E.164 form, with its ISO 3166 alpha-2 region and risk class.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Phone {
    e164: String,
    region: Option<String>,
    class: Option<NumberClass>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone_number must be an international number starting with + and a country code")]
    Invalid,
}

/// The kinds of number SMS is refused to unless the tenant allows them by name. A closed
/// set, matched exhaustively, so a new class cannot be forgotten by the admin API or docs.
///
/// The international classes come from the calling code: ITU-T E.164 assigns the
/// "non-geographic" codes below to shared services rather than countries (libphonenumber
/// files them under region `001`). The others come from libphonenumber's number type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NumberClass {
    /// Global mobile satellite systems: +881 (Iridium, Globalstar…) and +870 (Inmarsat).
    Satellite,
    /// International networks and services (+882, +883, +878, and any other
    /// non-geographic code): carriers allocated ranges outside any country, a favourite of
    /// SMS pumping because termination fees are high and paid out.
    InternationalNetwork,
    /// Universal International Freephone Numbers, +800 (ITU-T E.169.1).
    Universal,
    /// Premium-rate numbers: national ranges libphonenumber types as such, and the
    /// Universal International Premium Rate Number, +979 (ITU-T E.169.2).
    PremiumRate,
    /// Shared-cost numbers: national ranges, and the Universal International Shared Cost
    /// Number, +808 (ITU-T E.169.3).
    SharedCost,
    /// Universal access ("company") numbers, including +888 (UN OCHA).
    Uan,
    /// Personal numbers that forward anywhere (for example UK 070): a known fraud route.
    PersonalNumber,
}

impl NumberClass {
    pub const ALL: [NumberClass; 7] = [
        NumberClass::Satellite,
        NumberClass::InternationalNetwork,
        NumberClass::Universal,
        NumberClass::PremiumRate,
        NumberClass::SharedCost,
        NumberClass::Uan,
        NumberClass::PersonalNumber,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NumberClass::Satellite => "satellite",
            NumberClass::InternationalNetwork => "international_network",
            NumberClass::Universal => "universal",
            NumberClass::PremiumRate => "premium_rate",
            NumberClass::SharedCost => "shared_cost",
            NumberClass::Uan => "uan",
            NumberClass::PersonalNumber => "personal_number",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == s)
    }

    /// The class of a valid parsed number, if it is a risky one.
    fn of(number: &phonenumber::PhoneNumber) -> Option<Self> {
        use phonenumber::metadata::DATABASE;
        use phonenumber::Type;
        // "001" is UN M.49's code for the world: libphonenumber's region for every
        // non-geographic calling code (ITU-T E.164 §6.2.2 "global services").
        let non_geographic = number.metadata(&DATABASE).is_some_and(|m| m.id() == "001");
        if non_geographic {
            return Some(match number.code().value() {
                870 | 881 => NumberClass::Satellite,
                800 => NumberClass::Universal,
                808 => NumberClass::SharedCost,
                979 => NumberClass::PremiumRate,
                888 => NumberClass::Uan,
                // 878, 882, 883, and any global code the metadata adds later: fail closed.
                _ => NumberClass::InternationalNetwork,
            });
        }
        match number.number_type(&DATABASE) {
            Type::PremiumRate => Some(NumberClass::PremiumRate),
            Type::SharedCost => Some(NumberClass::SharedCost),
            Type::Uan => Some(NumberClass::Uan),
            Type::PersonalNumber => Some(NumberClass::PersonalNumber),
            Type::FixedLine
            | Type::Mobile
            | Type::FixedLineOrMobile
            | Type::TollFree
            | Type::Voip
            | Type::Pager
            | Type::Emergency
            | Type::Voicemail
            | Type::ShortCode
            | Type::StandardRate
            | Type::Carrier
            | Type::NoInternational
            | Type::Unknown => None,
        }
    }
}

impl fmt::Display for NumberClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Phone {
    /// Loads libphonenumber's metadata (parsed lazily on first use: seconds in a debug
    /// build), so the first SMS enrollment after a start does not pay for it.
    pub fn warm_up() {
        let _ = Self::parse("+14155552671");
    }

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
        let e164 = number.format().mode(phonenumber::Mode::E164).to_string();
        let region = number.country().id().map(|id| id.as_ref().to_owned());
        let class = NumberClass::of(&number);
        Ok(Self { e164, region, class })
    }

    /// Rebuilds a number we stored ourselves.
    pub fn from_trusted(e164: &str) -> Self {
        Self::parse(e164).unwrap_or_else(|_| Self {
            e164: e164.to_owned(),
            region: None,
            class: None,
        })
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// ISO 3166 alpha-2 region (`US`, `GB`…), when the number maps to one.
    pub fn region(&self) -> Option<&str> {
        self.region.as_deref()
    }

    /// The risky class this number belongs to, if any; `None` for ordinary fixed-line,
    /// mobile, toll-free and VoIP numbers of a country.
    pub fn risk(&self) -> Option<NumberClass> {
        self.class
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
    use proptest::prelude::*;

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
            assert_eq!(p.risk(), None);
        }
        let uk = Phone::parse("+44 20 7946 0958").unwrap();
        assert_eq!(uk.e164(), "+442079460958");
        assert_eq!(uk.region(), Some("GB"));
        assert_eq!(uk.risk(), None);
        assert_eq!(uk.masked(), "+44***0958");
        assert_eq!(Phone::parse("+14155552671").unwrap().masked(), "+1***2671");
        // Ordinary mobile and toll-free numbers are not risky classes.
        assert_eq!(Phone::parse("+44 7400 123456").unwrap().risk(), None);
        assert_eq!(Phone::parse("+44 800 123 4567").unwrap().risk(), None);
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
    }

    /// One example per class, from libphonenumber's own example numbers (SECURITY.md test 76).
    const CLASSED: [(&str, NumberClass); 14] = [
        ("+881 6 12345678", NumberClass::Satellite),  // Iridium
        ("+870 301 234 567", NumberClass::Satellite), // Inmarsat
        ("+882 34 21234", NumberClass::InternationalNetwork),
        ("+882 390123456789", NumberClass::InternationalNetwork),
        ("+883 510 012345", NumberClass::InternationalNetwork),
        ("+878 10 1234567890", NumberClass::InternationalNetwork),
        ("+800 1234 5678", NumberClass::Universal),
        ("+808 1234 5678", NumberClass::SharedCost),
        ("+979 1 2345 6789", NumberClass::PremiumRate),
        ("+888 123 456 78901", NumberClass::Uan),
        ("+44 909 879 0000", NumberClass::PremiumRate), // UK 09xx
        ("+41 840 123 456", NumberClass::SharedCost),   // Swiss 084x
        ("+44 55 1234 5678", NumberClass::Uan),         // UK 055
        ("+44 70 1234 5678", NumberClass::PersonalNumber), // UK 070
    ];

    #[test]
    fn risky_ranges_are_classified() {
        for (input, class) in CLASSED {
            let p = Phone::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(p.risk(), Some(class), "{input}");
            // The class survives a round trip through storage.
            assert_eq!(Phone::from_trusted(p.e164()).risk(), Some(class), "{input}");
        }
        // Non-geographic numbers belong to no country, so a country list refuses them too.
        assert_eq!(Phone::parse("+881612345678").unwrap().region(), None);
        for c in NumberClass::ALL {
            assert_eq!(NumberClass::parse(c.as_str()), Some(c));
            assert_eq!(serde_json::to_string(&c).unwrap(), format!("\"{c}\""));
        }
        assert_eq!(NumberClass::parse("Satellite"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Whatever comes in, parsing never panics, and what comes out is E.164 (ITU-T
        /// E.164 §6: at most 15 digits, no leading zero) that parses back to itself.
        #[test]
        fn parse_never_panics_and_yields_e164(input in "\\PC{0,40}") {
            check_e164(&input)?;
        }

        #[test]
        fn plausible_numbers_round_trip(
            plus in prop_oneof!["\\+", "＋", "\\+ "],
            digits in "[0-9 ()\\-]{1,20}",
        ) {
            check_e164(&format!("{plus}{digits}"))?;
        }
    }

    fn check_e164(input: &str) -> Result<(), TestCaseError> {
        if let Ok(p) = Phone::parse(input) {
            let e = p.e164();
            prop_assert!(e.starts_with('+'), "{e}");
            let digits = &e[1..];
            prop_assert!((2..=15).contains(&digits.len()), "{e}");
            prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{e}");
            prop_assert!(!digits.starts_with('0'), "{e}");
            let again = Phone::parse(e).map_err(|err| TestCaseError::fail(format!("{e}: {err}")))?;
            prop_assert_eq!(&again, &p);
        }
        Ok(())
    }
}
