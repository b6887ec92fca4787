//! 경정 at 미사리: the race doc (a date's races with their round and day) and the card of
//! one race.
//!
//! Race doc rows (docs/sources.md, assumed fields): `stnd_yr`, `week_tcnt`, `day_tcnt`,
//! `race_ymd` `"20260128"`, `race_no`, `dptre_tm` `"11:40"`. Its Swagger describes a row
//! per racer (with `race_reg_no`) instead of a row per race; both shapes are read, the
//! second also giving the field size. Card rows: `race_no`, `week_tcnt`, `day_tcnt`,
//! `race_reg_no` (the lane, 1–6), `racer_nm`, `wght`. No venue field, no racer id.

use std::collections::BTreeMap;

use racelab_plugin_sdk::calendar::parse_clock;
use racelab_plugin_sdk::envelope::Envelope;
use racelab_plugin_sdk::fields::Row;
use racelab_plugin_sdk::request::next_page;
use racelab_plugin_sdk::{
    Date, Entry, HttpRequest, Operation, Page, Race, RaceKey, RaceRef, RaceStatus, Record, Sex, SourceError,
};

use crate::api::{self, boat_card, boat_doc, query_int, query_opt};
use crate::meeting::Meeting;
use crate::names::racer_name;
use crate::rows::{agrees, date, number};
use crate::tracks::Track;

/// The first request of a schedule: the day's race doc.
pub fn plan_schedule(date: &Date) -> Vec<HttpRequest> {
    vec![boat_doc(date)]
}

/// Entries: the tagged race's card, or the race doc first to learn its round and day.
pub fn plan_entries(race: &RaceRef) -> Result<Vec<HttpRequest>, SourceError> {
    Ok(match Meeting::of(race)? {
        Some(m) => vec![boat_card(&m, race.key.number)],
        None => plan_schedule(&race.key.date),
    })
}

/// Results: both result services of the tagged race, or the race doc first.
pub fn plan_results(race: &RaceRef) -> Result<Vec<HttpRequest>, SourceError> {
    Ok(match Meeting::of(race)? {
        Some(m) => api::results(Track::Misari, &m, race.key.number, &race.key.date),
        None => plan_schedule(&race.key.date),
    })
}

/// Reads a page of the race doc: the day's races, or the round and day of one race.
pub fn parse_doc(op: &Operation, request: &HttpRequest, envelope: &Envelope) -> Result<Page, SourceError> {
    let asked = match op {
        Operation::Schedule(day) => day.date,
        Operation::Entries(race) | Operation::Results(race) => race.key.date,
        Operation::Odds(_) => return Err(crate::no_odds()),
    };
    let year: u16 = query_int(request, "stnd_yr")?;
    let mut on_date = Vec::new();
    for row in &envelope.items {
        if date(row, "race_ymd")? == asked {
            on_date.push(row);
        }
    }
    let next_page = next_page(request, envelope);
    let race = match op {
        Operation::Entries(race) | Operation::Results(race) => race,
        _ => return Ok(Page::new(races(&asked, year, &on_date)?, next_page.into_iter().collect())),
    };
    let mut found = None;
    for row in on_date {
        if number(row, "race_no")? == race.key.number {
            found = Some(Meeting::of_row(row, year)?);
            break;
        }
    }
    let next = match (found, op) {
        (Some(m), Operation::Entries(_)) => vec![boat_card(&m, race.key.number)],
        (Some(m), _) => api::results(Track::Misari, &m, race.key.number, &race.key.date),
        (None, _) => next_page.into_iter().collect(),
    };
    Ok(Page::new(Vec::new(), next))
}

/// One race record per race number; the meeting, post time and field size from its rows.
fn races(date: &Date, year: u16, rows: &[&Row]) -> Result<Vec<Record>, SourceError> {
    let mut by_race: BTreeMap<u8, Vec<&Row>> = BTreeMap::new();
    for row in rows {
        by_race.entry(number(row, "race_no")?).or_default().push(row);
    }
    let mut records = Vec::with_capacity(by_race.len());
    for (race_no, rows) in by_race {
        let Some(first) = rows.first() else { continue };
        let lanes = rows.iter().filter(|r| r.text("race_reg_no").is_some()).count();
        records.push(Record::Race(Race {
            key: RaceKey { track: Track::Misari.code().to_string(), date: *date, number: race_no },
            meeting: Some(Meeting::of_row(first, year)?.tag()),
            name: None,
            distance_m: None,
            post_time: first.text("dptre_tm").and_then(|t| parse_clock(&t)),
            grade: None,
            field_size: u8::try_from(lanes).ok().filter(|n| *n > 0),
            status: Some(RaceStatus::Scheduled),
        }));
    }
    Ok(records)
}

/// Reads a page of one race's card into its entries.
pub fn parse_card(op: &Operation, request: &HttpRequest, envelope: &Envelope) -> Result<Page, SourceError> {
    let Operation::Entries(race) = op else { return Err(crate::not_for(op, api::Service::BoatCard)) };
    let week: Option<i64> = query_opt(request, "week_tcnt");
    let day: Option<i64> = query_opt(request, "day_tcnt");
    let mut records = Vec::new();
    for row in &envelope.items {
        if number(row, "race_no")? != race.key.number
            || !agrees(row, "week_tcnt", week)
            || !agrees(row, "day_tcnt", day)
        {
            continue;
        }
        let runner_name =
            racer_name(&row.require_text("racer_nm")?).ok_or_else(|| row.missing("racer_nm", "a name"))?;
        records.push(Record::Entry(Entry {
            race: race.key.clone(),
            number: number(row, "race_reg_no")?,
            // The card names racers, not their numbers (racer_no): the rank service does.
            runner_id: None,
            runner_name,
            jockey: None,
            jockey_id: None,
            trainer: None,
            trainer_id: None,
            weight_kg: row.float("wght").filter(|w| *w > 0.0),
            rating: None,
            age: row.int("racer_age").and_then(|a| u8::try_from(a).ok()).filter(|a| *a > 0),
            sex: row.text("sex_cd").and_then(|s| match s.as_str() {
                "남" => Some(Sex::Male),
                "여" => Some(Sex::Female),
                _ => None,
            }),
        }));
    }
    Ok(Page::new(records, next_page(request, envelope).into_iter().collect()))
}
