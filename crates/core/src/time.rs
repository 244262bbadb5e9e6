//! Timestamp formatting: RFC 3339 in UTC from Unix milliseconds (what the API returns).

use crate::clock::UnixMillis;

/// As [`rfc3339`], with milliseconds (`2026-03-22T10:00:00.000Z`), as JavaScript's
/// `toISOString` writes times and Auth0's APIs answer them.
pub fn rfc3339_millis(ms: UnixMillis) -> String {
    let base = rfc3339(ms);
    format!("{}.{:03}Z", base.trim_end_matches('Z'), ms.rem_euclid(1000))
}

/// Formats `ms` as `YYYY-MM-DDTHH:MM:SSZ` (UTC, second precision).
pub fn rfc3339(ms: UnixMillis) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

/// Days since 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_111_111_109_000), "2005-03-18T01:58:29Z");
        assert_eq!(rfc3339(2_000_000_000_999), "2033-05-18T03:33:20Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(rfc3339_millis(2_000_000_000_999), "2033-05-18T03:33:20.999Z");
        assert_eq!(rfc3339_millis(7), "1970-01-01T00:00:00.007Z");
    }
}
