//! Ground truth for contract tests: how many rows the plugins should produce per race,
//! computed from the model (never by serving and re-parsing).
//!
//! Counts describe the final state of a day (every scratch announced, every race official).

use chrono::NaiveDate;

use crate::calendar::{Calendar, Discipline, Track};
use crate::pools::Pool;
use crate::race::SimRace;

/// Expected row counts of one race.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct RaceCounts {
    /// Race number.
    pub number: u8,
    /// Declared runners, scratched ones included (KRA entry sheet rows; KSPO card rows).
    pub entries: usize,
    /// Scratched runners (always 0 at KSPO).
    pub scratches: usize,
    /// Runners that start.
    pub starters: usize,
    /// Result rows the plugins emit: KRA every starter of API214_1 (non-finishers too);
    /// KSPO one per runner (top three from the result service, the rest from rank).
    pub result_rows: usize,
    /// Dividend rows the plugins emit: KRA the rows of integratedInfo_1 (WIN 1, PLC 2 or 3,
    /// QNL 1, EXA 1, QPL 3, TLA 1, TRI 1); cycle 8; boat 6.
    pub dividend_rows: usize,
    /// KRA: odds rows over WIN, PLC, QNL, EXA, QPL, TLA and TRI for the starters; 0 at KSPO.
    pub odds_rows_all_pools: usize,
}

/// Counts for every race of `track` on `date`; empty on a non-race day.
pub fn day(calendar: &Calendar, track: Track, date: NaiveDate) -> Vec<RaceCounts> {
    calendar.day(track, date).map(|d| d.races.iter().map(|r| counts(track, r)).collect()).unwrap_or_default()
}

/// Race days of `track` from `from` to `to`, both included.
pub fn race_days(calendar: &Calendar, track: Track, from: NaiveDate, to: NaiveDate) -> Vec<NaiveDate> {
    calendar.race_days(track, from, to)
}

fn counts(track: Track, race: &SimRace) -> RaceCounts {
    let entries = race.runners.len();
    let starters = race.starters().count();
    let (dividend_rows, odds_rows_all_pools) = match track.discipline() {
        Discipline::Horse => {
            // WIN + PLC (one per placed runner) + QNL + EXA + QPL (three pairs) + TLA + TRI.
            let dividends = 1 + race.places_paid() + 1 + 1 + 3 + 1 + 1;
            let odds = Pool::KRA.iter().map(|p| p.combinations(starters)).sum();
            (dividends, odds)
        }
        // WIN + PLC ×2 + EXA + QNL + TLA + TRI + XLA.
        Discipline::Cycle => (8, 0),
        // WIN + PLC ×2 + EXA + QNL + TLA.
        Discipline::Boat => (6, 0),
    };
    RaceCounts {
        number: race.number,
        entries,
        scratches: entries - starters,
        starters,
        result_rows: match track.discipline() {
            Discipline::Horse => starters,
            Discipline::Cycle | Discipline::Boat => entries,
        },
        dividend_rows,
        odds_rows_all_pools,
    }
}
