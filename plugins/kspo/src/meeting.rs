//! The `meeting` tag: which KSPO round and day a race belongs to.
//!
//! KSPO's services key a race by year, 회차 (`week_tcnt` / `tms`) and 일차 (`day_tcnt` /
//! `day_ord`), not by date. The plugin writes those on every race record as `YYYY/WW/D`
//! (`2026/01/1`: 2026, round 1, day 1) and the host hands the tag back with the race.

use racelab_plugin_sdk::fields::{Row, clip};
use racelab_plugin_sdk::{RaceRef, SourceError, malformed};

/// Rounds are sent as two digits (`"01"`), so there are at most 99 a year.
pub const MAX_WEEK: u8 = 99;
/// Rounds last two (boat) or three (cycle) days; the tag has one digit for the day.
pub const MAX_DAY: u8 = 9;

/// A round and a day of one year.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meeting {
    /// `stnd_yr` / `stnd_year`.
    pub year: u16,
    /// 회차: `week_tcnt` / `tms`, 1–99.
    pub week: u8,
    /// 일차: `day_tcnt` / `day_ord`, 1–9.
    pub day: u8,
}

impl Meeting {
    /// The meeting tag the host handed back with `race`, read; `None` when the host has none.
    pub fn of(race: &RaceRef) -> Result<Option<Meeting>, SourceError> {
        race.meeting.as_deref().map(Meeting::parse).transpose()
    }

    /// The meeting if every part is in range.
    pub fn new(year: u16, week: u8, day: u8) -> Option<Meeting> {
        ((1900..3000).contains(&year) && (1..=MAX_WEEK).contains(&week) && (1..=MAX_DAY).contains(&day))
            .then_some(Meeting { year, week, day })
    }

    /// Reads a tag this plugin wrote. A tag it cannot read is the host's mistake.
    pub fn parse(tag: &str) -> Result<Meeting, SourceError> {
        let bad = || {
            SourceError::BadRequest(format!(
                "meeting tag {:?} is not YYYY/WW/D (year, round 1–99, day 1–9), e.g. `2026/01/1`; \
                 pass the tag from this plugin's race record, or none",
                clip(tag, 40)
            ))
        };
        let parts: Vec<&str> = tag.trim().split('/').collect();
        let [year, week, day] = parts.as_slice() else { return Err(bad()) };
        let digits = |s: &str, max_len: usize| {
            (!s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse::<u16>().ok())
                .flatten()
        };
        let year = digits(year, 4).filter(|_| year.len() == 4).ok_or_else(bad)?;
        let week = digits(week, 2).and_then(|w| u8::try_from(w).ok()).ok_or_else(bad)?;
        let day = digits(day, 1).and_then(|d| u8::try_from(d).ok()).ok_or_else(bad)?;
        Meeting::new(year, week, day).ok_or_else(bad)
    }

    /// The tag, `YYYY/WW/D`.
    pub fn tag(&self) -> String {
        format!("{:04}/{:02}/{}", self.year, self.week, self.day)
    }

    /// The meeting a row names in `week_tcnt` and `day_tcnt` (a number or a padded string,
    /// dossier §7.5), in `stnd_yr` or, without one, `year`.
    pub fn of_row(row: &Row, year: u16) -> Result<Meeting, SourceError> {
        let year = match row.int("stnd_yr") {
            Some(y) => u16::try_from(y).map_err(|_| row.missing("stnd_yr", "a year"))?,
            None => year,
        };
        let week: u8 = row.require_int("week_tcnt")?;
        let day: u8 = row.require_int("day_tcnt")?;
        Meeting::new(year, week, day).ok_or_else(|| {
            malformed!("item {}: round {week} / day {day} of {year} is out of range (round 1–99, day 1–9)", row.index)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn tags_round_trip() {
        let m = Meeting { year: 2026, week: 1, day: 1 };
        assert_eq!(m.tag(), "2026/01/1");
        assert_eq!(Meeting::parse("2026/01/1"), Ok(m));
        assert_eq!(Meeting::parse("2026/24/2").map(|m| m.tag()).as_deref(), Ok("2026/24/2"));
        assert_eq!(
            Meeting::parse("2026/5/2"),
            Ok(Meeting { year: 2026, week: 5, day: 2 }),
            "an unpadded round is read too"
        );
    }

    #[test]
    fn bad_tags_are_bad_requests() {
        for tag in [
            "",
            "2026/01",
            "2026/01/1/1",
            "26/01/1",
            "2026/00/1",
            "2026/100/1",
            "2026/01/0",
            "2026/01/10",
            "2026/-1/1",
            "2026/+1/1",
            "abcd/01/1",
            "2026/٠١/1",
        ] {
            assert!(
                matches!(Meeting::parse(tag), Err(SourceError::BadRequest(m)) if m.contains("YYYY/WW/D")),
                "{tag:?}"
            );
        }
    }

    #[test]
    fn rows_give_numbers_or_padded_strings() {
        let row = |v: serde_json::Value| match v {
            serde_json::Value::Object(m) => Row::new(4, m),
            _ => Row::new(4, Default::default()),
        };
        assert_eq!(
            Meeting::of_row(&row(json!({"week_tcnt": 5, "day_tcnt": "1"})), 2026),
            Ok(Meeting { year: 2026, week: 5, day: 1 })
        );
        assert_eq!(
            Meeting::of_row(&row(json!({"stnd_yr": "2025", "week_tcnt": "05", "day_tcnt": 2})), 2026),
            Ok(Meeting { year: 2025, week: 5, day: 2 })
        );
        let Err(SourceError::Malformed(m)) = Meeting::of_row(&row(json!({"week_tcnt": "x", "day_tcnt": "1"})), 2026)
        else {
            panic!()
        };
        assert!(m.contains("item 4") && m.contains("week_tcnt"), "{m}");
        assert!(Meeting::of_row(&row(json!({"week_tcnt": 0, "day_tcnt": 1})), 2026).is_err());
    }
}
