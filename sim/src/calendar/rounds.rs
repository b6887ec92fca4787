//! KSPO rounds (회차): consecutive race days numbered within the year.
//!
//! A round is held whole or not at all. Rounds that would straddle New Year are never held
//! (the holiday break), so a round's days always share one `stnd_yr`.

use chrono::{Datelike, NaiveDate, TimeDelta, Weekday};

use super::{CANCEL_RATE, Calendar, Meeting, Track};
use crate::rng::label;

/// First weekday and length in days of a round; `None` for KRA tracks.
fn shape(track: Track) -> Option<(Weekday, u32)> {
    match track {
        Track::Gwangmyeong => Some((Weekday::Fri, 3)),
        Track::Misari => Some((Weekday::Wed, 2)),
        Track::Seoul | Track::Jeju | Track::Busan => None,
    }
}

/// Every date of `year` falling on `weekday`, in order.
fn weekdays_of(year: i32, weekday: Weekday) -> impl Iterator<Item = NaiveDate> {
    let jan1 = NaiveDate::from_ymd_opt(year, 1, 1);
    let first = jan1.map(|d| {
        let ahead = (7 + weekday.num_days_from_monday() - d.weekday().num_days_from_monday()) % 7;
        d + TimeDelta::days(i64::from(ahead))
    });
    std::iter::successors(first, |d| d.checked_add_signed(TimeDelta::days(7))).take_while(move |d| d.year() == year)
}

impl Calendar {
    fn round_held(&self, track: Track, start: NaiveDate, len: u32) -> bool {
        let end = start + TimeDelta::days(i64::from(len) - 1);
        start.year() == end.year() && !self.chance(label::CANCEL, track, start, CANCEL_RATE)
    }

    /// The first days of the rounds held on `track` in `year`, in order (round 1 first).
    /// Empty for KRA tracks.
    pub fn round_starts(&self, track: Track, year: i32) -> Vec<NaiveDate> {
        let Some((weekday, len)) = shape(track) else {
            return Vec::new();
        };
        weekdays_of(year, weekday).filter(|start| self.round_held(track, *start, len)).collect()
    }

    /// The KSPO round and day of `date`, or `None` when `track` does not race that day
    /// (always `None` for KRA tracks).
    pub fn meeting(&self, track: Track, date: NaiveDate) -> Option<Meeting> {
        let (weekday, len) = shape(track)?;
        let back = (7 + date.weekday().num_days_from_monday() - weekday.num_days_from_monday()) % 7;
        if back >= len {
            return None;
        }
        let start = date - TimeDelta::days(i64::from(back));
        if !self.round_held(track, start, len) {
            return None;
        }
        let round = weekdays_of(start.year(), weekday)
            .take_while(|s| *s <= start)
            .filter(|s| self.round_held(track, *s, len))
            .count();
        Some(Meeting { year: start.year(), round: u32::try_from(round).ok()?, day: back + 1 })
    }

    /// The dates of round `round` of `year` on `track`; empty if there is no such round.
    pub fn round_days(&self, track: Track, year: i32, round: u32) -> Vec<NaiveDate> {
        let Some((_, len)) = shape(track) else {
            return Vec::new();
        };
        let index = usize::try_from(round).unwrap_or(usize::MAX).checked_sub(1);
        let start = index.and_then(|i| self.round_starts(track, year).get(i).copied());
        start.map(|s| (0..len).map(|d| s + TimeDelta::days(i64::from(d))).collect()).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid test date")
    }

    #[test]
    fn rounds_are_numbered_in_order_and_round_trip() {
        let cal = Calendar::new(7);
        for track in [Track::Gwangmyeong, Track::Misari] {
            let starts = cal.round_starts(track, 2026);
            assert!(starts.len() > 40, "{track:?}: {} rounds", starts.len());
            for (i, start) in starts.iter().enumerate() {
                let m = cal.meeting(track, *start).expect("a round start is a race day");
                assert_eq!((m.year, m.round, m.day), (2026, i as u32 + 1, 1));
                let days = cal.round_days(track, 2026, m.round);
                assert_eq!(days.first(), Some(start));
                for (d, day) in days.iter().enumerate() {
                    let m = cal.meeting(track, *day).expect("every day of a round races");
                    assert_eq!(m.day, d as u32 + 1);
                }
            }
        }
    }

    #[test]
    fn rounds_never_straddle_new_year() {
        let cal = Calendar::new(1);
        // 2027-12-31 is a Friday: its round would run into 2028.
        assert_eq!(cal.meeting(Track::Gwangmyeong, date(2027, 12, 31)), None);
        assert_eq!(cal.meeting(Track::Gwangmyeong, date(2028, 1, 1)), None);
        assert_eq!(cal.meeting(Track::Misari, date(2026, 1, 5)), None, "a Monday");
    }
}
