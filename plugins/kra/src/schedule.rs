//! The schedule: the day's races from API72_2 `racePlan_2`, and post times from API26_2
//! `entrySheet_2` for the races whose `schStTime` is not set yet (`0`).
//!
//! `parse` is stateless, so the entry sheet cannot be told which races lacked a time: it
//! answers with a race record for every race it lists, carrying the plan's fields plus the
//! post time and the declared field size. The host receives it after the plan's record for
//! the same key.

use racelab_plugin_sdk::envelope::Envelope;
use racelab_plugin_sdk::fields::Row;
use racelab_plugin_sdk::request::next_page;
use racelab_plugin_sdk::{HttpRequest, Page, Race, RaceStatus, Record, SourceError};

use crate::endpoints::{ENTRY_SHEET, RACE_PLAN};
use crate::manifest::page_size_of;
use crate::scope::{Scope, race_number};
use crate::values;

type Result<T> = std::result::Result<T, SourceError>;

/// The first request of a schedule: the day's race plan.
pub fn requests(scope: &Scope, page_size: u32) -> Vec<HttpRequest> {
    vec![RACE_PLAN.request(scope, page_size)]
}

/// A page of `racePlan_2`: one race per row, and the day's entry sheet as a follow-up when
/// a race has no post time.
pub fn from_plan(scope: &Scope, request: &HttpRequest, envelope: &Envelope) -> Result<Page> {
    let rows = scope.rows(envelope, "racePlan_2")?;
    let mut records = Vec::with_capacity(rows.len());
    let mut untimed = false;
    for row in rows {
        let race = race(scope, row, "schStTime", None)?;
        untimed |= race.post_time.is_none();
        records.push(Record::Race(race));
    }
    let mut next: Vec<HttpRequest> = next_page(request, envelope).into_iter().collect();
    if untimed {
        next.push(ENTRY_SHEET.request(&scope.whole_day(), page_size_of(request)));
    }
    Ok(Page::new(records, next))
}

/// A page of the day's `entrySheet_2`, read for the schedule: one race per race number.
pub fn from_sheet(scope: &Scope, request: &HttpRequest, envelope: &Envelope) -> Result<Page> {
    let mut seen: Vec<u8> = Vec::new();
    let mut records = Vec::new();
    for row in scope.rows(envelope, "entrySheet_2")? {
        let number = race_number(row)?;
        if seen.contains(&number) {
            continue;
        }
        seen.push(number);
        records.push(Record::Race(race(scope, row, "stTime", Some("dusu"))?));
    }
    Ok(Page::new(records, next_page(request, envelope).into_iter().collect()))
}

/// A race from a plan or sheet row; the two services share every field but the post time's
/// and the field size's.
fn race(scope: &Scope, row: &Row, post_time: &str, field_size: Option<&str>) -> Result<Race> {
    Ok(Race {
        key: scope.key(race_number(row)?),
        meeting: None,
        name: values::text(row, "rcName")?,
        distance_m: values::positive(row, "rcDist")?,
        post_time: values::clock(row, post_time)?,
        grade: values::text(row, "rank")?,
        field_size: match field_size {
            Some(key) => values::positive(row, key)?,
            None => None,
        },
        // On the card: the results service says when it was run (results.rs).
        status: Some(RaceStatus::Scheduled),
    })
}
