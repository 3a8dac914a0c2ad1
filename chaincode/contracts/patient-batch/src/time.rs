//! Event times as EPCIS writes them: RFC 3339 with a zone offset
//! (`2026-01-01T09:30:00+01:00`), converted to UTC seconds for comparison.
//! Pure functions (there is no clock in a contract: "now" is the proposal
//! timestamp), kept apart from the records because both msg and contract use
//! them.

use cellchain_contract::Timestamp;

/// An event time parsed from RFC 3339: the instant (UTC) and the zone offset
/// the client gave, in minutes east of UTC (EPCIS `eventTimeZoneOffset`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParsedTime {
    pub utc: Timestamp,
    pub offset_minutes: i32,
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
}

fn num(s: &str, what: &str) -> Result<u32, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the {what} {s:?} is not a number"));
    }
    s.parse()
        .map_err(|_| format!("the {what} {s:?} is not a number"))
}

/// Parses `YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)`. The zone is
/// required: an event time without one cannot be placed on the timeline.
pub fn parse_rfc3339(s: &str) -> Result<ParsedTime, String> {
    let shape = "use RFC 3339 with a zone, e.g. 2026-01-01T09:30:00+01:00";
    if !s.is_ascii() || s.len() < 20 {
        return Err(format!("{s:?} is not a date-time: {shape}"));
    }
    let b = s.as_bytes();
    if b[4] != b'-'
        || b[7] != b'-'
        || !matches!(b[10], b'T' | b't')
        || b[13] != b':'
        || b[16] != b':'
    {
        return Err(format!("{s:?} is not a date-time: {shape}"));
    }
    let year = i64::from(num(&s[0..4], "year")?);
    let month = num(&s[5..7], "month")?;
    let day = num(&s[8..10], "day")?;
    let hour = num(&s[11..13], "hour")?;
    let minute = num(&s[14..16], "minute")?;
    let second = num(&s[17..19], "second")?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return Err(format!("{s:?} has no such date"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!("{s:?} has no such time of day"));
    }
    let mut rest = &s[19..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let digits = frac.bytes().take_while(u8::is_ascii_digit).count();
        if digits == 0 || digits > 9 {
            return Err(format!("{s:?}: give 1 to 9 digits of fractional seconds"));
        }
        nanos = num(&frac[..digits], "fraction")? * 10u32.pow(9 - digits as u32);
        rest = &frac[digits..];
    }
    let offset_minutes = match rest {
        "Z" | "z" => 0,
        _ if rest.len() == 6
            && matches!(rest.as_bytes()[0], b'+' | b'-')
            && rest.as_bytes()[3] == b':' =>
        {
            let h = num(&rest[1..3], "zone hour")?;
            let m = num(&rest[4..6], "zone minute")?;
            if h > 23 || m > 59 {
                return Err(format!("{s:?} has no such zone offset"));
            }
            let sign = if rest.starts_with('-') { -1 } else { 1 };
            sign * (h * 60 + m) as i32
        }
        _ => return Err(format!("{s:?} lacks a zone offset: {shape}")),
    };
    let local =
        days_from_civil(year, month, day) * 86_400 + i64::from(hour * 3600 + minute * 60 + second);
    Ok(ParsedTime {
        utc: Timestamp::new(local - i64::from(offset_minutes) * 60, nanos),
        offset_minutes,
    })
}

/// `+HH:MM` / `-HH:MM`, EPCIS's `eventTimeZoneOffset`.
pub fn format_offset(offset_minutes: i32) -> String {
    let sign = if offset_minutes < 0 { '-' } else { '+' };
    let m = offset_minutes.unsigned_abs();
    format!("{sign}{:02}:{:02}", m / 60, m % 60)
}

/// A UTC instant as RFC 3339 (`2026-01-01T08:30:00Z`), for records and messages.
pub fn format_utc(t: Timestamp) -> String {
    let days = t.seconds.div_euclid(86_400);
    let secs = t.seconds.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    let frac = if t.nanos == 0 {
        String::new()
    } else {
        let f = format!(".{:09}", t.nanos);
        f.trim_end_matches('0').to_string()
    };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}{frac}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Whole seconds from `a` to `b` (negative if `b` is earlier), nanos ignored.
pub fn seconds_between(a: Timestamp, b: Timestamp) -> i64 {
    b.seconds - a.seconds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_zones_to_the_same_instant() {
        let utc = parse_rfc3339("2026-01-01T08:30:00Z").unwrap();
        assert_eq!(utc.utc, Timestamp::new(1_767_225_600 + 8 * 3600 + 1800, 0));
        let paris = parse_rfc3339("2026-01-01T09:30:00+01:00").unwrap();
        assert_eq!(paris.utc, utc.utc);
        assert_eq!(paris.offset_minutes, 60);
        let ny = parse_rfc3339("2026-01-01T03:30:00.250-05:00").unwrap();
        assert_eq!(ny.utc, Timestamp::new(utc.utc.seconds, 250_000_000));
        assert_eq!(format_offset(ny.offset_minutes), "-05:00");
        assert_eq!(format_utc(ny.utc), "2026-01-01T08:30:00.25Z");
        assert_eq!(
            format_utc(parse_rfc3339("2024-02-29T23:59:59Z").unwrap().utc),
            "2024-02-29T23:59:59Z"
        );
    }

    #[test]
    fn refuses_what_is_not_rfc3339_with_a_zone() {
        for (bad, reason) in [
            ("2026-01-01T08:30:00", "not a date-time"),
            ("2026-01-01 08:30:00Z", "not a date-time"),
            ("2026-01-01T08:30:00+0100", "lacks a zone"),
            ("2026-02-29T08:30:00Z", "no such date"),
            ("2026-13-01T08:30:00Z", "no such date"),
            ("2026-01-01T24:00:00Z", "no such time"),
            ("2026-01-01T08:30:00.Z", "fractional"),
            ("yesterday at noon, roughly", "not a date-time"),
        ] {
            let e = parse_rfc3339(bad).unwrap_err();
            assert!(e.contains(reason), "{bad}: {e}");
        }
    }
}
