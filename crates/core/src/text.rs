//! Characters that must not appear in identifiers or in names shown to people: invisible
//! ones, bidirectional controls and other non-printing code points.
//!
//! Why: an email with a zero-width space, a soft hyphen or a joiner in it renders exactly
//! like the address without it, so sign-up would create a second account that looks like
//! the first (SECURITY.md tests 69 and 77); a name holding U+202E RIGHT-TO-LEFT OVERRIDE
//! displays its text reversed wherever it is shown (the "Trojan Source" class,
//! CVE-2021-42574). This follows the idea of PRECIS (RFC 8264 §9.13/§9.14: Default_Ignorable
//! and control code points are disallowed) and UTS #39 §3.1 (General Security Profile:
//! Default_Ignorable_Code_Point is not allowed in identifiers), without the full profiles.
//!
//! A character is refused when it is any of:
//! - `Default_Ignorable_Code_Point` (Unicode `DerivedCoreProperties.txt`, hard-coded below:
//!   soft hyphen, zero-width space/joiners, word joiner and invisible operators, bidi marks,
//!   embeddings, overrides and isolates, BOM, variation selectors, tags, Hangul fillers…);
//! - `Bidi_Control` (Unicode `PropList.txt`: U+061C, U+200E–200F, U+202A–202E, U+2066–2069;
//!   all default-ignorable too, listed for clarity);
//! - of General_Category Cc (controls), Cf (format), Zl and Zp (line and paragraph
//!   separators), Cs (surrogates), Co (private use) or Cn (unassigned, noncharacters), from
//!   the `unicode-properties` tables; a code point assigned after those tables is refused
//!   until they catch up, which fails closed;
//! - U+2800 BRAILLE PATTERN BLANK, which is not ignorable but draws nothing and is the usual
//!   way to make a name look empty.

use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

/// `Default_Ignorable_Code_Point`, from Unicode 16.0 `DerivedCoreProperties.txt`, adjacent
/// ranges merged. Sorted, for the binary search.
const DEFAULT_IGNORABLE: &[(char, char)] = &[
    ('\u{00AD}', '\u{00AD}'),   // SOFT HYPHEN
    ('\u{034F}', '\u{034F}'),   // COMBINING GRAPHEME JOINER
    ('\u{061C}', '\u{061C}'),   // ARABIC LETTER MARK
    ('\u{115F}', '\u{1160}'),   // HANGUL CHOSEONG FILLER..HANGUL JUNGSEONG FILLER
    ('\u{17B4}', '\u{17B5}'),   // KHMER VOWEL INHERENT AQ..AA
    ('\u{180B}', '\u{180F}'),   // MONGOLIAN FREE VARIATION SELECTORS, VOWEL SEPARATOR
    ('\u{200B}', '\u{200F}'),   // ZWSP, ZWNJ, ZWJ, LRM, RLM
    ('\u{202A}', '\u{202E}'),   // LRE, RLE, PDF, LRO, RLO
    ('\u{2060}', '\u{206F}'),   // WORD JOINER..INVISIBLE PLUS, isolates, deprecated format
    ('\u{3164}', '\u{3164}'),   // HANGUL FILLER
    ('\u{FE00}', '\u{FE0F}'),   // VARIATION SELECTOR-1..16
    ('\u{FEFF}', '\u{FEFF}'),   // ZERO WIDTH NO-BREAK SPACE (BOM)
    ('\u{FFA0}', '\u{FFA0}'),   // HALFWIDTH HANGUL FILLER
    ('\u{FFF0}', '\u{FFF8}'),   // reserved
    ('\u{1BCA0}', '\u{1BCA3}'), // SHORTHAND FORMAT LETTER OVERLAP..UP STEP
    ('\u{1D173}', '\u{1D17A}'), // MUSICAL SYMBOL BEGIN BEAM..END PHRASE
    ('\u{E0000}', '\u{E0FFF}'), // tags, VARIATION SELECTOR-17..256, reserved
];

/// `Bidi_Control`, from Unicode 16.0 `PropList.txt`.
const BIDI_CONTROL: &[(char, char)] = &[
    ('\u{061C}', '\u{061C}'), // ARABIC LETTER MARK
    ('\u{200E}', '\u{200F}'), // LRM, RLM
    ('\u{202A}', '\u{202E}'), // LRE, RLE, PDF, LRO, RLO
    ('\u{2066}', '\u{2069}'), // LRI, RLI, FSI, PDI
];

fn in_ranges(c: char, ranges: &[(char, char)]) -> bool {
    ranges
        .binary_search_by(|&(lo, hi)| {
            if c < lo {
                std::cmp::Ordering::Greater
            } else if c > hi {
                std::cmp::Ordering::Less
            } else {
                std::cmp::Ordering::Equal
            }
        })
        .is_ok()
}

/// Unicode `Default_Ignorable_Code_Point`: rendered as nothing by default.
pub fn is_default_ignorable(c: char) -> bool {
    in_ranges(c, DEFAULT_IGNORABLE)
}

/// Unicode `Bidi_Control`: marks, embeddings, overrides and isolates (UAX #9).
pub fn is_bidi_control(c: char) -> bool {
    in_ranges(c, BIDI_CONTROL)
}

/// Whether `c` is refused in identifiers and display names (see the module comment).
pub fn is_forbidden(c: char) -> bool {
    is_default_ignorable(c)
        || is_bidi_control(c)
        || c == '\u{2800}'
        || match c.general_category() {
            GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
            | GeneralCategory::Surrogate
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned => true,
            GeneralCategory::UppercaseLetter
            | GeneralCategory::LowercaseLetter
            | GeneralCategory::TitlecaseLetter
            | GeneralCategory::ModifierLetter
            | GeneralCategory::OtherLetter
            | GeneralCategory::NonspacingMark
            | GeneralCategory::SpacingMark
            | GeneralCategory::EnclosingMark
            | GeneralCategory::DecimalNumber
            | GeneralCategory::LetterNumber
            | GeneralCategory::OtherNumber
            | GeneralCategory::ConnectorPunctuation
            | GeneralCategory::DashPunctuation
            | GeneralCategory::OpenPunctuation
            | GeneralCategory::ClosePunctuation
            | GeneralCategory::InitialPunctuation
            | GeneralCategory::FinalPunctuation
            | GeneralCategory::OtherPunctuation
            | GeneralCategory::MathSymbol
            | GeneralCategory::CurrencySymbol
            | GeneralCategory::ModifierSymbol
            | GeneralCategory::OtherSymbol
            | GeneralCategory::SpaceSeparator => false,
        }
}

/// Why a display name was refused. The messages never repeat the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisplayNameError {
    #[error("name must be at most {0} characters")]
    TooLong(usize),
    #[error("name must not contain control, invisible or bidirectional-control characters")]
    Forbidden,
}

/// A name people will see (a user's name, a factor's name): surrounding whitespace trimmed,
/// at most `max_chars` characters, and no character [`is_forbidden`] anywhere. The result may
/// be empty; whether that is allowed is the caller's decision.
pub fn display_name(raw: &str, max_chars: usize) -> Result<String, DisplayNameError> {
    let name = raw.trim();
    if name.chars().count() > max_chars {
        return Err(DisplayNameError::TooLong(max_chars));
    }
    if name.chars().any(is_forbidden) {
        return Err(DisplayNameError::Forbidden);
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// SECURITY.md test 77's list, and the rest of the brief's.
    const INVISIBLE: &[char] = &[
        '\u{00AD}',
        '\u{034F}',
        '\u{061C}',
        '\u{115F}',
        '\u{1160}',
        '\u{17B4}',
        '\u{180E}',
        '\u{200B}',
        '\u{200C}',
        '\u{200D}',
        '\u{200E}',
        '\u{200F}',
        '\u{202A}',
        '\u{202B}',
        '\u{202C}',
        '\u{202D}',
        '\u{202E}',
        '\u{2060}',
        '\u{2061}',
        '\u{2062}',
        '\u{2063}',
        '\u{2064}',
        '\u{2066}',
        '\u{2067}',
        '\u{2068}',
        '\u{2069}',
        '\u{206A}',
        '\u{3164}',
        '\u{FE00}',
        '\u{FE0F}',
        '\u{FEFF}',
        '\u{FFA0}',
        '\u{1BCA0}',
        '\u{1D173}',
        '\u{E0001}',
        '\u{E0020}',
        '\u{E007F}',
        '\u{E0100}',
        '\u{E01EF}',
        '\u{2800}',
        // Controls, separators, other format characters, private use, noncharacters.
        '\0',
        '\t',
        '\n',
        '\r',
        '\u{7F}',
        '\u{85}',
        '\u{9F}',
        '\u{2028}',
        '\u{2029}',
        '\u{0600}',
        '\u{FFF9}',
        '\u{E000}',
        '\u{F8FF}',
        '\u{FFFF}',
        '\u{FDD0}',
        '\u{10FFFF}',
    ];

    #[test]
    fn invisible_and_bidi_characters_are_forbidden() {
        for &c in INVISIBLE {
            assert!(is_forbidden(c), "U+{:04X}", u32::from(c));
        }
        for c in [
            '\u{061C}', '\u{200E}', '\u{200F}', '\u{202A}', '\u{202E}', '\u{2066}', '\u{2069}',
        ] {
            assert!(
                is_bidi_control(c) && is_default_ignorable(c),
                "U+{:04X}",
                u32::from(c)
            );
        }
        // Every Bidi_Control is also default-ignorable, as Unicode defines them.
        for &(lo, hi) in BIDI_CONTROL {
            assert!((lo..=hi).all(is_default_ignorable));
        }
    }

    #[test]
    fn ordinary_text_is_allowed() {
        for s in [
            "Alice Smith",
            "José Álvarez",
            "Zoë",
            "山田太郎",
            "Дмитрий",
            "محمد",
            "עברית",
            "O'Brien-Jones",
            "Work phone (2)",
            "e\u{0301}", // a combining accent is visible
            "🔑 key",
        ] {
            assert_eq!(display_name(s, 100).as_deref(), Ok(s), "{s:?}");
        }
    }

    #[test]
    fn display_names() {
        assert_eq!(display_name("  Alice  ", 10).as_deref(), Ok("Alice"));
        assert_eq!(display_name("", 10).as_deref(), Ok(""));
        assert_eq!(
            display_name(&"a".repeat(11), 10),
            Err(DisplayNameError::TooLong(10))
        );
        assert_eq!(
            display_name(&"é".repeat(10), 10).map(|s| s.chars().count()),
            Ok(10)
        );
        for bad in [
            "evil\u{202E}gpj.exe",
            "a\u{200B}b",
            "\u{2066}x\u{2069}",
            "line\u{2028}break",
            "tab\there",
            "\u{3164}",
            "\u{2800}",
            "x\u{E0041}",
        ] {
            assert_eq!(
                display_name(bad, 100),
                Err(DisplayNameError::Forbidden),
                "{bad:?}"
            );
        }
        // A forbidden character at the edge is not trimmed away: it is refused.
        assert_eq!(
            display_name("\u{FEFF}Alice", 100),
            Err(DisplayNameError::Forbidden)
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        /// Never panics; what it returns is trimmed, within the limit, and free of every
        /// forbidden character.
        #[test]
        fn display_name_output_is_clean(raw in any::<String>(), max in 0usize..50) {
            if let Ok(name) = display_name(&raw, max) {
                prop_assert!(!name.chars().any(is_forbidden));
                prop_assert!(name.chars().count() <= max);
                prop_assert_eq!(name.trim(), name.as_str());
            }
        }

        /// Inserting any forbidden character inside a name gets it refused.
        #[test]
        fn one_forbidden_character_is_enough(
            name in "[a-zA-Z ]{0,20}",
            at in 0usize..21,
            which in 0usize..INVISIBLE.len(),
        ) {
            let mut chars: Vec<char> = name.chars().collect();
            chars.insert(at.min(chars.len()), INVISIBLE[which]);
            // Between letters, so trimming cannot remove a whitespace control at an edge.
            let s: String = format!("x{}x", chars.into_iter().collect::<String>());
            prop_assert_eq!(display_name(&s, 100), Err(DisplayNameError::Forbidden));
        }
    }
}
