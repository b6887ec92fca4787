//! Dates and times as the sources write them. Every value is Korean local time (KST).
//!
//! Formats seen in the wild (dossier §7.7): `20250523` as a number or a string, `2026.01.02`,
//! `0102` (month and day only), `1035` (HHMM as a number), `"출발 :10:45"`, `12"55`, `11:40`.

use crate::{ClockTime, Date};

/// Whether the parts form a real Gregorian date (years 1900–2999).
pub fn is_valid(year: u16, month: u8, day: u8) -> bool {
    (1900..3000).contains(&year) && (1..=12).contains(&month) && day >= 1 && day <= days_in_month(year, month)
}

/// Days in a month; 0 for a month outside 1–12.
pub fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400) => 29,
        2 => 28,
        _ => 0,
    }
}

/// `YYYYMMDD`, as KRA's `rc_date` and KSPO's `race_ymd` parameters want it.
pub fn yyyymmdd(date: &Date) -> String {
    format!("{:04}{:02}{:02}", date.year, date.month, date.day)
}

/// Reads a date from its digits: `20250523`, `"20250523"`, `"2026.01.02"`, `"2026-01-02"`.
pub fn parse_date(text: &str) -> Option<Date> {
    let digits: String = text.chars().filter(char::is_ascii_digit).collect();
    if digits.len() != 8 || text.trim().chars().any(|c| !(c.is_ascii_digit() || c == '.' || c == '-')) {
        return None;
    }
    let year = digits[0..4].parse().ok()?;
    let month = digits[4..6].parse().ok()?;
    let day = digits[6..8].parse().ok()?;
    Date::new(year, month, day)
}

/// Days since 1970-01-01 (negative before).
pub fn to_days(date: &Date) -> i64 {
    // Howard Hinnant's days_from_civil.
    let (y, m, d) = (i64::from(date.year), i64::from(date.month), i64::from(date.day));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date `days` after 1970-01-01, if it falls in the supported range.
pub fn from_days(days: i64) -> Option<Date> {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    Date::new(u16::try_from(year).ok()?, u8::try_from(month).ok()?, u8::try_from(day).ok()?)
}

/// `date` moved by `days` (may be negative).
pub fn add_days(date: &Date, days: i64) -> Option<Date> {
    from_days(to_days(date).checked_add(days)?)
}

/// Day of the week, 0 = Monday … 6 = Sunday.
pub fn weekday(date: &Date) -> u8 {
    // 1970-01-01 was a Thursday (3).
    u8::try_from((to_days(date) + 3).rem_euclid(7)).unwrap_or(0)
}

/// Reads a post time from any of the source formats: `1035`, `"출발 :10:45"`,
/// `"출발 : 10: 45"`, `12"55`, `11:40`. `None` for empty, zero or impossible values.
pub fn parse_clock(text: &str) -> Option<ClockTime> {
    let runs: Vec<&str> = text.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).collect();
    let (hour, minute): (u32, u32) = match runs.as_slice() {
        [hh, mm] if hh.len() <= 2 && mm.len() <= 2 => (hh.parse().ok()?, mm.parse().ok()?),
        [hhmm] if (3..=4).contains(&hhmm.len()) => {
            let n: u32 = hhmm.parse().ok()?;
            (n / 100, n % 100)
        }
        _ => return None,
    };
    if hour == 0 && minute == 0 || hour > 23 || minute > 59 {
        return None;
    }
    Some(ClockTime { hour: u8::try_from(hour).ok()?, minute: u8::try_from(minute).ok()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(y: u16, m: u8, day: u8) -> Date {
        Date { year: y, month: m, day }
    }

    #[test]
    fn dates_in_every_source_format() {
        assert_eq!(parse_date("20250523"), Some(d(2025, 5, 23)));
        assert_eq!(parse_date("2026.01.02"), Some(d(2026, 1, 2)));
        assert_eq!(parse_date("2026-01-02"), Some(d(2026, 1, 2)));
        assert_eq!(parse_date("20250231"), None);
        assert_eq!(parse_date("0102"), None);
        assert_eq!(parse_date("2025x0523"), None);
        assert_eq!(yyyymmdd(&d(2026, 1, 2)), "20260102");
    }

    #[test]
    fn day_arithmetic_round_trips() {
        let date = d(2024, 2, 28);
        assert_eq!(add_days(&date, 1), Some(d(2024, 2, 29)));
        assert_eq!(add_days(&date, 2), Some(d(2024, 3, 1)));
        assert_eq!(add_days(&d(2026, 1, 1), -1), Some(d(2025, 12, 31)));
        assert_eq!(to_days(&d(1970, 1, 1)), 0);
        assert_eq!(weekday(&d(2026, 11, 28)), 5, "2026-11-28 is a Saturday");
    }

    #[test]
    fn post_times_in_every_source_format() {
        let t = |h, m| Some(ClockTime { hour: h, minute: m });
        assert_eq!(parse_clock("출발 :10:45"), t(10, 45));
        assert_eq!(parse_clock("출발 : 10: 45"), t(10, 45));
        assert_eq!(parse_clock("12\"55"), t(12, 55));
        assert_eq!(parse_clock("11:40"), t(11, 40));
        assert_eq!(parse_clock("1035"), t(10, 35));
        assert_eq!(parse_clock("935"), t(9, 35));
        assert_eq!(parse_clock("0"), None);
        assert_eq!(parse_clock("-"), None);
        assert_eq!(parse_clock("25:10"), None);
        assert_eq!(parse_clock("10:45:30"), None);
    }
}
