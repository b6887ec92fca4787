//! Which days each track races, how KSPO rounds are numbered, and the lazy per-day cache.
//!
//! Whether a date is a race day is a pure function of (seed, track, date) and costs a few
//! hashes; only the races of a day are generated, on first use, and then cached.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use chrono::{Datelike, NaiveDate, TimeDelta, Weekday};

use crate::race::RaceDay;
use crate::rng::{self, label};
use crate::{gen_kra, gen_kspo};

mod rounds;

/// Share of meetings that do not take place (holidays, weather); about one in twenty.
const CANCEL_RATE: f64 = 0.05;
/// Share of cancelled KRA Sunday meetings that are raced on the Monday instead.
const MOVE_TO_MONDAY_RATE: f64 = 0.5;
/// Generated days kept in memory; a year of one track is ~150 days.
const CACHE_DAYS: usize = 4096;

/// A race track served by the simulator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Track {
    /// KRA 서울 (`meet=1`).
    Seoul,
    /// KRA 제주 (`meet=2`).
    Jeju,
    /// KRA 부산경남 (`meet=3`).
    Busan,
    /// KSPO cycle racing, 광명.
    Gwangmyeong,
    /// KSPO boat racing, 미사리.
    Misari,
}

/// What races on a track.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Discipline {
    /// KRA horse racing.
    Horse,
    /// KSPO cycle racing (경륜).
    Cycle,
    /// KSPO boat racing (경정).
    Boat,
}

impl Track {
    /// Every track, in a stable order.
    pub const ALL: [Track; 5] = [Track::Seoul, Track::Jeju, Track::Busan, Track::Gwangmyeong, Track::Misari];

    /// The track code used across RaceLab (`seoul`, `jeju`, `busan`, `gwangmyeong`, `misari`).
    pub fn code(self) -> &'static str {
        match self {
            Track::Seoul => "seoul",
            Track::Jeju => "jeju",
            Track::Busan => "busan",
            Track::Gwangmyeong => "gwangmyeong",
            Track::Misari => "misari",
        }
    }

    /// The track for a code from [`Track::code`]; `None` for anything else.
    pub fn parse(code: &str) -> Option<Track> {
        Track::ALL.into_iter().find(|t| t.code() == code)
    }

    /// What races here.
    pub fn discipline(self) -> Discipline {
        match self {
            Track::Seoul | Track::Jeju | Track::Busan => Discipline::Horse,
            Track::Gwangmyeong => Discipline::Cycle,
            Track::Misari => Discipline::Boat,
        }
    }

    /// The venue label most payloads carry (`서울`, `제주`, `부산경남`, `광명`, `미사리`).
    pub fn label(self) -> &'static str {
        match self {
            Track::Seoul => "서울",
            Track::Jeju => "제주",
            Track::Busan => "부산경남",
            Track::Gwangmyeong => "광명",
            Track::Misari => "미사리",
        }
    }

    /// KRA's `meet` number; `None` for KSPO tracks.
    pub fn kra_meet(self) -> Option<u8> {
        match self {
            Track::Seoul => Some(1),
            Track::Jeju => Some(2),
            Track::Busan => Some(3),
            Track::Gwangmyeong | Track::Misari => None,
        }
    }

    /// The regular race weekdays (the calendar then cancels or moves some meetings).
    fn weekdays(self) -> &'static [Weekday] {
        match self {
            Track::Seoul => &[Weekday::Sat, Weekday::Sun],
            Track::Jeju => &[Weekday::Sat],
            Track::Busan => &[Weekday::Fri, Weekday::Sun],
            Track::Gwangmyeong => &[Weekday::Fri, Weekday::Sat, Weekday::Sun],
            Track::Misari => &[Weekday::Wed, Weekday::Thu],
        }
    }
}

/// A KSPO race day's place in the year: 회차 (`week_tcnt`) and 일차 (`day_tcnt`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Meeting {
    /// `stnd_yr`: the year the round belongs to.
    pub year: i32,
    /// `week_tcnt`: ordinal of the round within the year, from 1.
    pub round: u32,
    /// `day_tcnt`: day within the round, from 1.
    pub day: u32,
}

/// The deterministic race calendar of every track for one seed.
///
/// Cheap to query; race days are generated lazily and cached (bounded).
#[derive(Debug)]
pub struct Calendar {
    seed: u64,
    cache: Mutex<HashMap<(Track, NaiveDate), Arc<RaceDay>>>,
}

impl Calendar {
    /// The calendar for `seed`; the same seed always gives the same data.
    pub fn new(seed: u64) -> Self {
        Self { seed, cache: Mutex::new(HashMap::new()) }
    }

    /// The seed this calendar was built from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    fn chance(&self, what: u64, track: Track, date: NaiveDate, rate: f64) -> bool {
        rng::unit(rng::hash(&[self.seed, what, track as u64, rng::day_key(date)])) < rate
    }

    /// Whether `track` races on `date` (without generating the day).
    pub fn is_race_day(&self, track: Track, date: NaiveDate) -> bool {
        match track.discipline() {
            Discipline::Horse => self.is_kra_day(track, date),
            Discipline::Cycle | Discipline::Boat => self.meeting(track, date).is_some(),
        }
    }

    fn is_kra_day(&self, track: Track, date: NaiveDate) -> bool {
        let days = track.weekdays();
        if days.contains(&date.weekday()) {
            return !self.chance(label::CANCEL, track, date, CANCEL_RATE);
        }
        // A cancelled Sunday meeting is sometimes raced on the Monday: weekdays are not a
        // reliable filter, exactly as at the real tracks.
        let sunday = date - TimeDelta::days(1);
        date.weekday() == Weekday::Mon
            && days.contains(&Weekday::Sun)
            && self.chance(label::CANCEL, track, sunday, CANCEL_RATE)
            && self.chance(label::MOVE, track, sunday, MOVE_TO_MONDAY_RATE)
    }

    /// The race days of `track` from `from` to `to`, both included.
    pub fn race_days(&self, track: Track, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
        from.iter_days().take_while(|d| *d <= to).filter(|d| self.is_race_day(track, *d)).collect()
    }

    /// The races of `track` on `date`, or `None` on a non-race day.
    pub fn day(&self, track: Track, date: NaiveDate) -> Option<Arc<RaceDay>> {
        if !self.is_race_day(track, date) {
            return None;
        }
        let key = (track, date);
        if let Some(day) = self.lock().get(&key) {
            return Some(Arc::clone(day));
        }
        // Generated outside the lock: concurrent requests may both generate the same day,
        // which is harmless (identical output) and cheaper than serialising all generation.
        let day = Arc::new(self.generate(track, date));
        let mut cache = self.lock();
        if cache.len() >= CACHE_DAYS {
            cache.clear();
        }
        cache.insert(key, Arc::clone(&day));
        Some(day)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Track, NaiveDate), Arc<RaceDay>>> {
        self.cache.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn generate(&self, track: Track, date: NaiveDate) -> RaceDay {
        match track.discipline() {
            Discipline::Horse => {
                let jan1 = NaiveDate::from_ymd_opt(date.year(), 1, 1).unwrap_or(date);
                let ordinal = self.race_days(track, jan1, date).len();
                gen_kra::day(self.seed, track, date, ordinal as u32)
            }
            Discipline::Cycle | Discipline::Boat => {
                let meeting = self.meeting(track, date);
                gen_kspo::day(self.seed, track, date, meeting)
            }
        }
    }
}
