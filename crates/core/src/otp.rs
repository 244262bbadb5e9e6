//! One-time codes sent by SMS or email: six digits from the CSPRNG (NIST SP 800-63B-4
//! §3.1.3.2: "at least six decimal digits", approved RBG), and the messages that carry them.

use crate::rand::{self, SecureRandom};

pub const DIGITS: usize = 6;

/// A uniformly random six-digit code (rejection sampling, so no digit is favoured).
pub fn generate(rng: &dyn SecureRandom) -> String {
    const RANGE: u32 = 1_000_000;
    // The largest multiple of RANGE that fits in a u32; values above it are redrawn.
    const LIMIT: u32 = u32::MAX - (u32::MAX % RANGE);
    loop {
        let v = u32::from_be_bytes(rand::bytes(rng));
        if v < LIMIT {
            return format!("{:06}", v % RANGE);
        }
    }
}

/// Exactly six ASCII digits.
pub fn well_formed(code: &str) -> bool {
    code.len() == DIGITS && code.bytes().all(|b| b.is_ascii_digit())
}

/// Fills `{code}`, `{app_name}` and `{minutes}` in a template. With `html`, the app name is
/// escaped (the code is digits and needs none).
pub fn render(template: &str, code: &str, app_name: &str, minutes: u64, html: bool) -> String {
    let app = if html {
        escape_html(app_name)
    } else {
        app_name.to_owned()
    };
    template
        .replace("{code}", code)
        .replace("{app_name}", &app)
        .replace("{minutes}", &minutes.to_string())
}

/// `s` with the five HTML special characters escaped.
pub fn escape_html(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rand::OsRandom;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// Exactly six ASCII digits and nothing else (SECURITY.md test 67).
        #[test]
        fn well_formed_is_exactly_six_ascii_digits(s in "\\PC{0,10}") {
            let expected = s.len() == 6 && s.bytes().all(|b| b.is_ascii_digit());
            prop_assert_eq!(well_formed(&s), expected);
        }

        /// Unicode digits, spaces, signs and invisible characters never make a code, in place
        /// of a digit or added to one; Unicode digits are never folded to ASCII.
        #[test]
        fn lookalike_digits_never_pass(
            digits in "[0-9]{6}",
            at in 0usize..6,
            odd in prop_oneof![
                "[０-９]", "[٠-٩]", "[۰-۹]", "[०-९]", "[𝟎-𝟗]",
                "[ +\\-\\t.,_%]", Just("\u{200B}".to_owned()), Just("\0".to_owned()),
            ],
        ) {
            let mut replaced: Vec<String> = digits.chars().map(String::from).collect();
            replaced[at] = odd.clone();
            prop_assert!(!well_formed(&replaced.concat()));
            let mut inserted = digits.clone();
            inserted.insert_str(at, &odd);
            prop_assert!(!well_formed(&inserted));
            prop_assert!(well_formed(&digits));
        }
    }

    #[test]
    fn codes_are_six_digits_and_spread() {
        let mut seen = std::collections::HashSet::new();
        let mut first_digit = [0u32; 10];
        for _ in 0..5000 {
            let c = generate(&OsRandom);
            assert!(well_formed(&c));
            first_digit[usize::from(c.as_bytes()[0] - b'0')] += 1;
            seen.insert(c);
        }
        assert!(seen.len() > 4900);
        assert!(first_digit.iter().all(|n| *n > 350), "{first_digit:?}");
    }

    #[test]
    fn templates() {
        assert_eq!(
            render("{app_name}: {code} ({minutes} min)", "012345", "A<b>", 10, false),
            "A<b>: 012345 (10 min)"
        );
        assert_eq!(
            render("<p>{app_name} {code}</p>", "012345", "A<b>", 10, true),
            "<p>A&lt;b&gt; 012345</p>"
        );
        assert!(!well_formed("12345"));
        assert!(!well_formed("１２３４５６"));
    }
}
