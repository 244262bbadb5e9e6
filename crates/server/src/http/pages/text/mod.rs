//! Every word the hosted pages show, one module per language with the same names
//! ([`en`] is the reference, [`de`] a translation): templates name these and never spell
//! text of their own. A page names a word with [`t!`], which picks the module of the
//! request's language ([`lang`]); a name missing from one module is a compile error, so no
//! page can show a language half-done.
//!
//! The language is chosen per request by the pages' middleware ([`negotiate`]): the
//! waiting application's `ui_locales` (OpenID Connect Core §3.1.2.1) first, then the
//! browser's `Accept-Language` (RFC 9110 §12.5.4), then English.

pub mod de;
pub mod en;

/// A language the pages speak.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    En,
    De,
}

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::En, Lang::De];

    /// The language's BCP 47 tag.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    /// The language a BCP 47 tag names, by its primary subtag (`de-AT` is German).
    pub fn from_tag(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?;
        Lang::ALL
            .into_iter()
            .find(|l| l.tag().eq_ignore_ascii_case(primary))
    }
}

tokio::task_local! {
    /// The language of the page being rendered (set by the pages' middleware).
    pub static LANG: Lang;
}

/// The language of the page being rendered: English outside a page request.
pub fn lang() -> Lang {
    LANG.try_with(|l| *l).unwrap_or(Lang::En)
}

/// A word (or a function making a sentence) in the request's language:
/// `t!(LOGIN_TITLE)`, `t!(too_many_attempts)(secs)`.
macro_rules! t {
    ($name:ident) => {
        match $crate::http::pages::text::lang() {
            $crate::http::pages::text::Lang::En => $crate::http::pages::text::en::$name,
            $crate::http::pages::text::Lang::De => $crate::http::pages::text::de::$name,
        }
    };
}
pub(crate) use t;

/// The language for a request: the first of the application's `ui_locales` (a
/// space-separated list, most preferred first) that the pages speak; otherwise the
/// browser's `Accept-Language` choice with the highest weight; otherwise English.
pub fn negotiate(ui_locales: Option<&str>, accept_language: Option<&str>) -> Lang {
    if let Some(l) = ui_locales
        .into_iter()
        .flat_map(|s| s.split_ascii_whitespace())
        .find_map(Lang::from_tag)
    {
        return l;
    }
    accept_language.and_then(from_accept_language).unwrap_or(Lang::En)
}

/// The best language of an `Accept-Language` header we speak: the highest `q`, the
/// earlier one on a tie; `q=0` means "not this one"; `*` says nothing about which.
fn from_accept_language(header: &str) -> Option<Lang> {
    let mut best: Option<(Lang, u16)> = None;
    for item in header.split(',').take(32) {
        let mut parts = item.split(';');
        let tag = parts.next().unwrap_or("").trim();
        let q = parts
            .find_map(|p| p.trim().strip_prefix("q="))
            .map(quality)
            .unwrap_or(Some(1000));
        let (Some(lang), Some(q)) = (Lang::from_tag(tag), q) else {
            continue;
        };
        if q > 0 && best.is_none_or(|(_, b)| q > b) {
            best = Some((lang, q));
        }
    }
    best.map(|(l, _)| l)
}

/// An RFC 9110 weight (`0`, `0.5`, `1.000`) in thousandths; `None` if malformed.
fn quality(raw: &str) -> Option<u16> {
    let raw = raw.trim();
    let (int, frac) = raw.split_once('.').unwrap_or((raw, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let frac_value: u16 = format!("{frac:0<3}").parse().ok()?;
    match int {
        "0" => Some(frac_value),
        "1" if frac_value == 0 => Some(1000),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_locales_come_first() {
        assert_eq!(negotiate(Some("fr de-CH en"), Some("en")), Lang::De);
        assert_eq!(negotiate(Some("fr"), Some("de")), Lang::De);
        assert_eq!(negotiate(Some(""), None), Lang::En);
    }

    #[test]
    fn accept_language_by_weight() {
        assert_eq!(negotiate(None, Some("de-DE,de;q=0.9,en;q=0.8")), Lang::De);
        assert_eq!(negotiate(None, Some("en;q=0.5, de;q=0.7")), Lang::De);
        assert_eq!(negotiate(None, Some("de;q=0.5, en")), Lang::En);
        assert_eq!(negotiate(None, Some("fr, de;q=0.1")), Lang::De);
        assert_eq!(negotiate(None, Some("de;q=0, en;q=0.1")), Lang::En);
        assert_eq!(negotiate(None, Some("fr, *;q=0.5")), Lang::En);
        assert_eq!(negotiate(None, Some("de;q=2, de;q=abc, en-GB")), Lang::En);
        assert_eq!(negotiate(None, Some("")), Lang::En);
        assert_eq!(negotiate(None, None), Lang::En);
    }
}
