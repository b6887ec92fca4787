//! What KSPO (`/B551014`) queries select, and the text formats both KSPO services share.
//!
//! Races are keyed by (year, round 회차, day 일차, race number). Two parameter families
//! exist: `stnd_yr/week_tcnt/day_tcnt/race_no/race_ymd` and, on the rank services,
//! `stnd_year/tms/day_ord/race_no/race_day`.

use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Timelike};

use crate::calendar::Meeting;
use crate::calendar::Track;
use crate::endpoint::Ctx;
use crate::race::{Placing, RaceDay, Runner, SimRace};
use crate::rows::Rows;
use crate::wire::{Item, n};

/// Parameter names of one family.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Names {
    pub year: &'static str,
    pub round: &'static str,
    pub day: &'static str,
    pub race: &'static str,
    pub date: &'static str,
}

pub(crate) const STD: Names =
    Names { year: "stnd_yr", round: "week_tcnt", day: "day_tcnt", race: "race_no", date: "race_ymd" };

pub(crate) const RANK: Names =
    Names { year: "stnd_year", round: "tms", day: "day_ord", race: "race_no", date: "race_day" };

/// From when a race appears in a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Cards and schedules: from publication (race day − 3 days).
    Published,
    /// Results, ranks, payoffs: from post + 10 minutes.
    Official,
}

/// The races a query selects on `track`, in day and race order.
///
/// Round (`week_tcnt`/`tms`) and race number must be two-digit strings: anything else
/// matches nothing, silently, as on the real service (§3). Day numbers may be `1` or `01`.
/// Without a year the simulated clock's year is used.
pub(crate) fn races(ctx: &Ctx<'_>, track: Track, names: Names, gate: Gate) -> Vec<(Arc<RaceDay>, usize)> {
    select(ctx, track, names, gate).unwrap_or_default()
}

fn select(ctx: &Ctx<'_>, track: Track, names: Names, gate: Gate) -> Option<Vec<(Arc<RaceDay>, usize)>> {
    let param = |name: &str| ctx.query.get(name).filter(|v| !v.is_empty());
    let padded = |name: &str| match param(name) {
        None => Some(None),
        Some(v) if v.len() == 2 && v.bytes().all(|b| b.is_ascii_digit()) => v.parse::<u32>().ok().map(Some),
        Some(_) => None,
    };
    let round = padded(names.round)?;
    let race_no = padded(names.race)?;
    if param("meet_nm").is_some_and(|m| m.trim() != track.label()) {
        return None;
    }
    let day_no = match param(names.day) {
        None => None,
        Some(v) => Some(v.trim().parse::<u32>().ok()?),
    };
    let date = match param(names.date) {
        None => None,
        Some(v) => Some(parse_date(v)?),
    };
    let year = match param(names.year) {
        None => date.map_or(ctx.now.year(), |d| d.year()),
        Some(v) => v.trim().parse::<i32>().ok().filter(|_| v.trim().len() == 4)?,
    };
    let dates: Vec<NaiveDate> = match round {
        Some(r) => ctx.calendar.round_days(track, year, r),
        None => ctx
            .calendar
            .round_starts(track, year)
            .into_iter()
            .flat_map(|start| start.iter_days().take(3))
            .filter(|d| ctx.calendar.meeting(track, *d).is_some_and(|m| m.year == year))
            .collect(),
    };
    let mut out = Vec::new();
    for d in dates.into_iter().filter(|d| date.is_none_or(|w| w == *d)) {
        let Some(day) = ctx.calendar.day(track, d) else { continue };
        if day_no.is_some_and(|n| day.meeting.is_none_or(|m| m.day != n)) {
            continue;
        }
        for (i, race) in day.races.iter().enumerate() {
            let open = match gate {
                Gate::Published => ctx.now >= race.published_at(),
                Gate::Official => ctx.now >= race.official_at(),
            };
            if open && race_no.is_none_or(|n| n == u32::from(race.number)) {
                out.push((Arc::clone(&day), i));
            }
        }
    }
    Some(out)
}

/// `20260128`, `2026.01.28` or `2026-01-28`.
fn parse_date(v: &str) -> Option<NaiveDate> {
    let digits: String = v.chars().filter(|c| c.is_ascii_digit()).collect();
    (digits.len() == 8).then(|| NaiveDate::parse_from_str(&digits, "%Y%m%d").ok())?
}

/// Appends `row_num` (1-based position in the whole result, before paging).
pub(crate) fn numbered(items: Vec<Item>) -> Vec<Item> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, mut item)| {
            item.push(("row_num", n(i64::try_from(i + 1).unwrap_or(i64::MAX))));
            item
        })
        .collect()
}

/// `①`…`⑳` for back numbers and lanes.
pub(crate) fn circled(number: u8) -> char {
    char::from_u32(0x2460 + u32::from(number.clamp(1, 20)) - 1).unwrap_or('?')
}

/// A dividend as KSPO writes it inside text: always one decimal (`"3.0"`, `"20.5"`).
pub(crate) fn amount(tenths: u32) -> String {
    format!("{}.{}", tenths / 10, tenths % 10)
}

/// `"01"`.
pub(crate) fn two(number: impl Into<u32>) -> String {
    format!("{:02}", number.into())
}

/// Dates as KSPO writes them.
pub(crate) fn ymd(d: NaiveDate) -> String {
    d.format("%Y%m%d").to_string()
}

/// The race's day and the race itself.
pub(crate) fn race_of(day: &RaceDay, index: usize) -> Option<&SimRace> {
    day.races.get(index)
}

/// Post time as `HH"MM` (cycle) or `HH:MM` (boat).
pub(crate) fn post(race: &SimRace, separator: char) -> String {
    let t = race.post_time;
    format!("{:02}{separator}{:02}", t.hour(), t.minute())
}

/// Items as a page of rows.
pub(crate) fn rows(items: Vec<Item>) -> Rows<'static> {
    let mut rows = Rows::new();
    rows.extend(items);
    rows
}

/// One line of a rank service: a starter of an official race.
pub(crate) struct RankLine<'r> {
    pub race: &'r SimRace,
    pub meeting: Meeting,
    pub placing: &'r Placing,
    pub runner: &'r Runner,
}

/// The rank services' rows: every starter of every official race the query selects, in result
/// order, honouring the optional `racer_no` filter; `render` writes one line in the service's
/// own shape (cycle and boat differ in names, padding and words).
pub(crate) fn rank_rows(ctx: &Ctx<'_>, track: Track, render: impl Fn(RankLine<'_>) -> Item) -> Rows<'static> {
    let racer = ctx.query.get("racer_no").filter(|v| !v.is_empty());
    let mut items = Vec::new();
    for (day, i) in races(ctx, track, RANK, Gate::Official) {
        let (Some(race), Some(meeting)) = (race_of(&day, i), day.meeting) else { continue };
        for placing in &race.outcome.placings {
            let Some(runner) = race.runner(placing.number) else { continue };
            if racer.is_some_and(|no| no != runner.id) {
                continue;
            }
            items.push(render(RankLine { race, meeting, placing, runner }));
        }
    }
    rows(items)
}
