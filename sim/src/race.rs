//! The generated world: race days, races, runners and what happened in each race.
//!
//! Discipline-specific detail (a horse's jockey, a cyclist's gear ratio, a boat's motor) sits
//! in crate-private enums; the public surface is what tests and tools need to reason about a
//! race without knowing the wire formats.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeDelta};

use crate::calendar::{Meeting, Track};
use crate::clock::kst;

/// Cards and the schedule are published this many days before the race day (at 00:00 KST).
pub const PUBLISH_DAYS_AHEAD: i64 = 3;
/// Results and dividends become official this long after post time.
pub const OFFICIAL_AFTER_MINUTES: i64 = 10;

/// Everything raced on one track on one date.
#[derive(Debug, Clone)]
pub struct RaceDay {
    /// The track.
    pub track: Track,
    /// The race date (KST).
    pub date: NaiveDate,
    /// KSPO round and day; `None` for KRA.
    pub meeting: Option<Meeting>,
    /// The races, numbered from 1 in post-time order.
    pub races: Vec<SimRace>,
    /// Weather label (`맑음`, `흐림`, …).
    pub(crate) weather: &'static str,
    /// Track moisture in percent (KRA going).
    pub(crate) moisture: u8,
}

impl RaceDay {
    /// When the day's schedule and cards become visible: race day − 3 days, 00:00 KST.
    pub fn published_at(&self) -> DateTime<FixedOffset> {
        published_at(self.date)
    }
}

/// Race day − [`PUBLISH_DAYS_AHEAD`] days at midnight KST.
pub(crate) fn published_at(date: NaiveDate) -> DateTime<FixedOffset> {
    kst_time(date - TimeDelta::days(PUBLISH_DAYS_AHEAD), NaiveTime::MIN)
}

/// A local KST date and time as an instant.
pub(crate) fn kst_time(date: NaiveDate, time: NaiveTime) -> DateTime<FixedOffset> {
    // A fixed offset has no gaps or folds, so this is never ambiguous.
    date.and_time(time)
        .and_local_timezone(kst())
        .single()
        .unwrap_or_else(|| date.and_time(time).and_utc().fixed_offset())
}

/// One race.
#[derive(Debug, Clone)]
pub struct SimRace {
    /// The track.
    pub track: Track,
    /// The race date (KST).
    pub date: NaiveDate,
    /// Race number within the day, from 1.
    pub number: u8,
    /// Scheduled post time.
    pub post_time: DateTime<FixedOffset>,
    /// Distance in metres.
    pub distance: u32,
    /// The race class (`국6등급`, `특선`, …).
    pub class: &'static str,
    /// The race name (`일반` for an ordinary race).
    pub name: String,
    /// Every declared runner, scratched ones included, by number.
    pub runners: Vec<Runner>,
    /// What happened.
    pub outcome: RaceOutcome,
    pub(crate) detail: RaceDetail,
}

impl SimRace {
    /// When the card (and, in live mode, the odds) become visible.
    pub fn published_at(&self) -> DateTime<FixedOffset> {
        published_at(self.date)
    }

    /// When results and dividends become visible: post + 10 minutes.
    pub fn official_at(&self) -> DateTime<FixedOffset> {
        self.post_time + TimeDelta::minutes(OFFICIAL_AFTER_MINUTES)
    }

    /// Runners that were not scratched (as of the end of the day).
    pub fn starters(&self) -> impl Iterator<Item = &Runner> {
        self.runners.iter().filter(|r| r.scratch.is_none())
    }

    /// Runners that start as far as is known at `now`: a scratch counts once announced.
    pub(crate) fn starters_at(&self, now: DateTime<FixedOffset>) -> impl Iterator<Item = &Runner> {
        self.runners.iter().filter(move |r| r.scratch.as_ref().is_none_or(|s| s.announced > now))
    }

    /// The runner with this saddle/back/lane number.
    pub fn runner(&self, number: u8) -> Option<&Runner> {
        self.runners.iter().find(|r| r.number == number)
    }

    /// Places paid in the place pool: 3 with eight or more starters, else 2 (KRA rule; KSPO
    /// fields of 6–7 always pay 2).
    pub fn places_paid(&self) -> usize {
        if self.starters().count() >= 8 { 3 } else { 2 }
    }
}

/// One declared runner: a horse, a cyclist or a boat.
#[derive(Debug, Clone)]
pub struct Runner {
    /// Saddle number (`chulNo`), back number (`back_no`) or lane (`race_reg_no`).
    pub number: u8,
    /// Stable identity: `hrNo` (horse) or `racer_no` (KSPO).
    pub id: String,
    /// Name as served.
    pub name: String,
    /// Set when the runner is withdrawn before the race.
    pub scratch: Option<Scratch>,
    /// Hidden true ability for this race; the finishing order is drawn from it.
    pub(crate) strength: f64,
    /// The betting public's final view (pool shares), close to but not equal to strength.
    pub(crate) public: f64,
    /// The public's early view, from which live odds drift towards `public`.
    pub(crate) early: f64,
    pub(crate) detail: RunnerDetail,
}

/// A withdrawal (출전취소).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scratch {
    /// The reason as served (`마체이상`, …).
    pub reason: &'static str,
    /// When the withdrawal is announced (visible in `raceHorseCancelInfo_1`).
    pub announced: DateTime<FixedOffset>,
}

/// The result of a race.
#[derive(Debug, Clone, Default)]
pub struct RaceOutcome {
    /// Every starter once: finishers in finishing order, then non-finishers.
    pub placings: Vec<Placing>,
}

impl RaceOutcome {
    /// Numbers of the first `k` finishers, in order.
    pub fn top(&self, k: usize) -> Vec<u8> {
        self.placings.iter().filter(|p| matches!(p.finish, Finish::Place(_))).take(k).map(|p| p.number).collect()
    }
}

/// One starter's line in the result.
#[derive(Debug, Clone)]
pub struct Placing {
    /// Saddle/back/lane number.
    pub number: u8,
    /// Where or how the runner finished.
    pub finish: Finish,
    /// Race time in tenths of a second (KRA; 0 for non-finishers).
    pub(crate) time_tenths: u32,
    /// Margin to the runner ahead (KRA `diffUnit`).
    pub(crate) margin: Margin,
}

/// How a starter finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    /// Finished in this place (1 = winner).
    Place(u8),
    /// Disqualified (KRA `ord` 91, KSPO `실격`).
    Disqualified,
    /// Did not finish (KRA `ord` 92 주행중지, cycle `낙차`, boat `전복`).
    DidNotFinish,
}

/// A margin behind the runner ahead, as KRA writes it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Margin {
    /// The winner or a non-finisher: `"-"`.
    None,
    /// A word or fraction such as `코`, `½`, `1½`, served as a string.
    Text(&'static str),
    /// A whole number of lengths, served as a JSON number.
    Lengths(u32),
}

/// Race conditions that only one discipline has.
#[derive(Debug, Clone)]
pub(crate) enum RaceDetail {
    Horse(HorseRace),
    Kspo,
}

/// KRA race conditions.
#[derive(Debug, Clone)]
pub(crate) struct HorseRace {
    pub age_cond: &'static str,
    pub sex_cond: &'static str,
    pub budam: &'static str,
    pub prize_cond: String,
    pub buga: [u32; 3],
    pub chaksun: [u32; 5],
    pub sp_rating: u32,
    pub st_rating: u32,
    /// Which of the real spacing variants of `stTime` this race's sheet uses.
    pub st_time_style: u8,
    /// Race day ordinal of the year at this meet (`ilsu` in racePlan_2).
    pub day_ordinal: u32,
}

/// Per-runner detail by discipline.
#[derive(Debug, Clone)]
pub(crate) enum RunnerDetail {
    Horse(Box<HorseEntry>),
    Cyclist(Cyclist),
    Boat(BoatRacer),
}

/// A person with a KRA licence number.
#[derive(Debug, Clone)]
pub(crate) struct Person {
    pub no: String,
    pub name: String,
    pub name_en: String,
}

/// KRA owner numbers come as numbers or strings (§2.3).
#[derive(Debug, Clone)]
pub(crate) enum OwnerNo {
    Number(i64),
    Text(String),
}

#[derive(Debug, Clone)]
pub(crate) struct HorseEntry {
    pub name_en: String,
    pub sex: &'static str,
    pub age: u32,
    pub origin: &'static str,
    pub rating: Option<u32>,
    pub weight_carried_tenths: u32,
    pub body_weight: u32,
    pub body_delta: i32,
    pub days_since_last: u32,
    pub jockey: Person,
    pub trainer: Person,
    pub owner_name: String,
    pub owner_no: OwnerNo,
}

#[derive(Debug, Clone)]
pub(crate) struct Cyclist {
    pub grade_now: &'static str,
    pub gear_rate_hundredths: u32,
    pub best_200m_hundredths: u32,
    pub avg_score_thousandths: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct BoatRacer {
    pub grade: &'static str,
    pub sex: &'static str,
    pub age: u32,
    pub weight: u32,
    pub motor_no: u32,
    pub boat_no: u32,
}
