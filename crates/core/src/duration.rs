//! Human durations for settings (`"90s"`, `"15m"`, `"12h"`, `"30d"`), parsed strictly and
//! printed in the largest exact unit.

/// Parses a duration into whole seconds. Accepts a bare integer (seconds) or an integer
/// followed by exactly one of `s`, `m`, `h`, `d`.
pub fn parse_secs(input: &str) -> Result<u64, String> {
    let s = input.trim();
    let (num, mult) = match s.char_indices().last() {
        Some((i, 's')) => (&s[..i], 1),
        Some((i, 'm')) => (&s[..i], 60),
        Some((i, 'h')) => (&s[..i], 3600),
        Some((i, 'd')) => (&s[..i], 86_400),
        Some(_) => (s, 1),
        None => return Err("empty duration".into()),
    };
    if num.is_empty() || !num.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!(
            "`{}` is not a duration like 90s, 15m, 12h or 30d",
            input.escape_debug()
        ));
    }
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(mult))
        .ok_or_else(|| "duration too large".to_string())
}

/// Formats seconds in the largest unit that divides them exactly.
pub fn format_secs(secs: u64) -> String {
    match secs {
        0 => "0s".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_formats() {
        assert_eq!(parse_secs("15m"), Ok(900));
        assert_eq!(parse_secs("30d"), Ok(2_592_000));
        assert_eq!(parse_secs("90"), Ok(90));
        assert_eq!(parse_secs(" 2h "), Ok(7200));
        for bad in ["", "m", "1.5m", "-1s", "5 m", "1e3", "5w", "５m"] {
            assert!(parse_secs(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(format_secs(900), "15m");
        assert_eq!(format_secs(2_592_000), "30d");
        assert_eq!(format_secs(61), "61s");
    }
}
