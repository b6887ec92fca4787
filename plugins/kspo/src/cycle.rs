//! 경륜 at 광명: the round's card read into races and entries, and the round search that
//! gives races without a meeting tag their round and day.
//!
//! Card rows (one per racer, all strings but `row_num`, dossier §3.1): `meet_nm` `"광명  "`,
//! `stnd_yr`, `week_tcnt` `"01"`, `day_tcnt` `"1"`, `race_no` `"01"`, `race_ymd`
//! `"2026.01.02"`, `back_no`, `racer_nm`, `racer_grd_cd` (the race class), `dptre_tm`
//! `12"55`, `race_len`, `tot_tms_avg_scr`. No racer id.

use std::collections::BTreeMap;

use racelab_plugin_sdk::calendar::parse_clock;
use racelab_plugin_sdk::envelope::Envelope;
use racelab_plugin_sdk::fields::Row;
use racelab_plugin_sdk::request::next_page;
use racelab_plugin_sdk::{
    Date, Entry, HttpRequest, Operation, Page, Race, RaceKey, RaceRef, RaceStatus, Record, SourceError,
};

use crate::api::{self, cycle_card, is_probe, query_int};
use crate::meeting::Meeting;
use crate::names::racer_name;
use crate::rounds::{self, Card, Outcome};
use crate::rows::{agrees, date, number};
use crate::tracks::Track;

/// The first request of a schedule: the card of the round the date most likely falls in.
pub fn plan_schedule(date: &Date) -> Vec<HttpRequest> {
    vec![cycle_card(date.year, rounds::guess(date))]
}

/// Entries: the card of the tagged round, or the round search.
pub fn plan_entries(race: &RaceRef) -> Result<Vec<HttpRequest>, SourceError> {
    Ok(match Meeting::of(race)? {
        Some(m) => vec![cycle_card(m.year, m.week)],
        None => plan_schedule(&race.key.date),
    })
}

/// Results: both result services of the tagged race, or the round search first.
pub fn plan_results(race: &RaceRef) -> Result<Vec<HttpRequest>, SourceError> {
    Ok(match Meeting::of(race)? {
        Some(m) => api::results(Track::Gwangmyeong, &m, race.key.number, &race.key.date),
        None => plan_schedule(&race.key.date),
    })
}

/// Reads a page of a card (or a probe) for the operation.
pub fn parse_card(op: &Operation, request: &HttpRequest, envelope: &Envelope) -> Result<Page, SourceError> {
    let year: u16 = query_int(request, "stnd_yr")?;
    let week: u8 = query_int(request, "week_tcnt")?;
    let round: Vec<&Row> = envelope.items.iter().filter(|row| in_round(row, year, week)).collect();
    if let Operation::Entries(race) = op
        && let Some(m) = Meeting::of(race)?
    {
        let rows: Vec<&Row> = round.into_iter().filter(|r| agrees(r, "day_tcnt", Some(m.day.into()))).collect();
        let records = entries(&race.key, &rows)?;
        return Ok(Page::new(records, next_page(request, envelope).into_iter().collect()));
    }
    let date = match op {
        Operation::Schedule(day) => day.date,
        Operation::Entries(race) | Operation::Results(race) => race.key.date,
        Operation::Odds(_) => return Err(crate::no_odds()),
    };
    let card = Card {
        year,
        week,
        page: api::query_opt(request, "pageNo").unwrap_or(1),
        rows: round.into_iter().map(|row| Ok((date_of(row)?, row))).collect::<Result<_, SourceError>>()?,
        next_page: next_page(request, envelope),
    };
    let outcome = if is_probe(request) {
        rounds::probe(card, &date)?
    } else {
        match op {
            Operation::Entries(race) | Operation::Results(race) => {
                rounds::search(card, &date, |row| Ok(number(row, "race_no")? == race.key.number))?
            }
            _ => rounds::search(card, &date, |_| Ok(true))?,
        }
    };
    match outcome {
        Outcome::Found(rows, next) => found(op, year, week, &rows, next),
        Outcome::Ask(request) => Ok(Page::new(Vec::new(), vec![request])),
        Outcome::NoRaces => Ok(Page::empty()),
    }
}

fn found(op: &Operation, year: u16, week: u8, rows: &[&Row], next: Option<HttpRequest>) -> Result<Page, SourceError> {
    let next: Vec<HttpRequest> = next.into_iter().collect();
    match op {
        Operation::Schedule(day) => Ok(Page::new(races(&day.date, year, week, rows)?, next)),
        Operation::Entries(race) => Ok(Page::new(entries(&race.key, rows)?, next)),
        Operation::Results(race) => {
            let Some(first) = rows.first() else { return Ok(Page::empty()) };
            let meeting = meeting(first, year, week)?;
            Ok(Page::new(Vec::new(), api::results(Track::Gwangmyeong, &meeting, race.key.number, &race.key.date)))
        }
        Operation::Odds(_) => Err(crate::no_odds()),
    }
}

/// Rows of the round asked for: KSPO pads the venue, and writes the round as `"01"` or `1`.
fn in_round(row: &Row, year: u16, week: u8) -> bool {
    Track::Gwangmyeong.holds(row)
        && agrees(row, "stnd_yr", Some(year.into()))
        && agrees(row, "week_tcnt", Some(week.into()))
}

fn date_of(row: &Row) -> Result<Date, SourceError> {
    date(row, "race_ymd")
}

fn meeting(row: &Row, year: u16, week: u8) -> Result<Meeting, SourceError> {
    let day: u8 = row.require_int("day_tcnt")?;
    Meeting::new(year, week, day).ok_or_else(|| row.missing("day_tcnt", "a day of the round from 1 to 9"))
}

/// One race record per race number among the date's rows; the card has a row per racer.
fn races(date: &Date, year: u16, week: u8, rows: &[&Row]) -> Result<Vec<Record>, SourceError> {
    let mut by_race: BTreeMap<u8, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        by_race.entry(number(row, "race_no")?).or_default().push(row);
    }
    let mut records = Vec::with_capacity(by_race.len());
    for (race_no, rows) in by_race {
        let Some(first) = rows.first() else { continue };
        records.push(Record::Race(Race {
            key: RaceKey { track: Track::Gwangmyeong.code().to_string(), date: *date, number: race_no },
            meeting: Some(meeting(first, year, week)?.tag()),
            name: None,
            distance_m: first.int("race_len").and_then(|m| u32::try_from(m).ok()).filter(|m| *m > 0),
            post_time: first.text("dptre_tm").and_then(|t| parse_clock(&t)),
            grade: first.text("racer_grd_cd"),
            field_size: u8::try_from(rows.len()).ok(),
            status: Some(RaceStatus::Scheduled),
        }));
    }
    Ok(records)
}

/// The entries of one race among the rows.
fn entries(key: &RaceKey, rows: &[&Row]) -> Result<Vec<Record>, SourceError> {
    let mut records = Vec::new();
    for row in rows {
        if number(row, "race_no")? != key.number {
            continue;
        }
        let runner_name =
            racer_name(&row.require_text("racer_nm")?).ok_or_else(|| row.missing("racer_nm", "a name"))?;
        records.push(Record::Entry(Entry {
            race: key.clone(),
            number: number(row, "back_no")?,
            // The card names racers, not their numbers (racer_no): the rank service does.
            runner_id: None,
            runner_name,
            jockey: None,
            jockey_id: None,
            trainer: None,
            trainer_id: None,
            weight_kg: None,
            rating: row.float("tot_tms_avg_scr").filter(|r| *r > 0.0),
            age: row.int("racer_age").and_then(|a| u8::try_from(a).ok()).filter(|a| *a > 0),
            // Cycle cards carry no sex field.
            sex: None,
        }));
    }
    Ok(records)
}
