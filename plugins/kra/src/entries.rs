//! Entries: the runners of a race from API26_2 `entrySheet_2`, and its scratches from API9_1
//! `raceHorseCancelInfo_1`, which answers for the whole day and is filtered to the race.
//!
//! Scratched runners stay on the entry sheet, so they come back as entries and as scratches.

use racelab_plugin_sdk::envelope::Envelope;
use racelab_plugin_sdk::fields::Row;
use racelab_plugin_sdk::request::next_page;
use racelab_plugin_sdk::{Entry, HttpRequest, Page, RaceKey, Record, Scratch, Sex, SourceError};

use crate::endpoints::{CANCELLATIONS, ENTRY_SHEET};
use crate::scope::{Scope, saddle_number};
use crate::values;

type Result<T> = std::result::Result<T, SourceError>;

/// The race's entry sheet and the day's scratches.
pub fn requests(scope: &Scope, page_size: u32) -> Vec<HttpRequest> {
    vec![ENTRY_SHEET.request(scope, page_size), CANCELLATIONS.request(&scope.whole_day(), page_size)]
}

/// A page of `entrySheet_2`: one entry per runner of the asked race.
pub fn from_sheet(scope: &Scope, request: &HttpRequest, envelope: &Envelope) -> Result<Page> {
    let race = scope.race_key()?;
    let records = scope
        .rows(envelope, "entrySheet_2")?
        .into_iter()
        .map(|row| entry(&race, row).map(Record::Entry))
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::new(records, next_page(request, envelope).into_iter().collect()))
}

/// A page of `raceHorseCancelInfo_1`: the scratches of the asked race.
pub fn from_cancellations(scope: &Scope, request: &HttpRequest, envelope: &Envelope) -> Result<Page> {
    let race = scope.race_key()?;
    let records = scope
        .rows(envelope, "raceHorseCancelInfo_1")?
        .into_iter()
        .map(|row| scratch(&race, row).map(Record::Scratch))
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::new(records, next_page(request, envelope).into_iter().collect()))
}

fn entry(race: &RaceKey, row: &Row) -> Result<Entry> {
    Ok(Entry {
        race: race.clone(),
        number: saddle_number(row)?,
        runner_id: values::text(row, "hrNo")?,
        runner_name: row.require_text("hrName")?,
        jockey: values::text(row, "jkName")?,
        // Text with its leading zeros (`080565`), as KRA writes it (dossier §2.1).
        jockey_id: values::text(row, "jkNo")?,
        trainer: values::text(row, "trName")?,
        trainer_id: values::text(row, "trNo")?,
        weight_kg: values::positive_float(row, "wgBudam")?,
        // `"-"` marks an unrated horse; `0` is what an unrated horse shows elsewhere (§2.1).
        rating: values::positive_float(row, "rating")?,
        age: values::positive(row, "age")?,
        sex: values::text(row, "sex")?.and_then(|s| sex(&s)),
    })
}

/// KRA's `sex`: 수 (colt or horse), 암 (filly or mare), 거 (gelding). Anything else is left
/// unsaid rather than guessed.
fn sex(text: &str) -> Option<Sex> {
    match text {
        "수" => Some(Sex::Male),
        "암" => Some(Sex::Female),
        "거" => Some(Sex::Gelding),
        _ => None,
    }
}

fn scratch(race: &RaceKey, row: &Row) -> Result<Scratch> {
    // docs/sources.md assumes `reason`; one published field list calls it `cancelReason`.
    let reason = match values::text(row, "reason")? {
        Some(reason) => Some(reason),
        None => values::text(row, "cancelReason")?,
    };
    Ok(Scratch { race: race.clone(), number: saddle_number(row)?, reason })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tracks::Track;
    use racelab_plugin_sdk::Date;
    use serde_json::{Value, json};

    fn envelope(items: Value) -> Envelope {
        let Value::Array(items) = items else { unreachable!("test items are an array") };
        let items: Vec<Row> = items
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| match v {
                Value::Object(m) => Some(Row::new(i, m)),
                _ => None,
            })
            .collect();
        Envelope { total_count: items.len() as u64, page_no: 1, num_of_rows: 1000, items }
    }

    fn scope() -> Scope {
        Scope { track: Track::Seoul, date: Date { year: 2026, month: 1, day: 3 }, race: Some(1) }
    }

    #[test]
    fn scratch_reason_under_either_name() {
        let env = envelope(json!([
            {"chulNo": 5, "rcDate": 20260103, "rcNo": 1, "reason": "마체이상"},
            {"chulNo": 6, "rcDate": 20260103, "rcNo": 1, "cancelReason": "부상"},
            {"chulNo": "7", "meet": "1", "rcDate": "20260103", "rcNo": "1"},
        ]));
        let request = CANCELLATIONS.request(&scope().whole_day(), 1000);
        let page = from_cancellations(&scope(), &request, &env).expect("scratches");
        let reasons: Vec<(u8, Option<String>)> = page
            .records
            .iter()
            .filter_map(|r| match r {
                Record::Scratch(s) => Some((s.number, s.reason.clone())),
                _ => None,
            })
            .collect();
        assert_eq!(reasons, [(5, Some("마체이상".into())), (6, Some("부상".into())), (7, None)]);
    }

    #[test]
    fn an_entry_needs_a_name_and_a_number() {
        let request = ENTRY_SHEET.request(&scope(), 1000);
        let no_name = envelope(json!([{"chulNo": 1, "rcNo": 1, "hrName": "-"}]));
        assert!(
            matches!(from_sheet(&scope(), &request, &no_name), Err(SourceError::Malformed(m)) if m.contains("item 0: field `hrName`"))
        );
        let no_number = envelope(json!([{"chulNo": 0, "rcNo": 1, "hrName": "질풍"}]));
        assert!(
            matches!(from_sheet(&scope(), &request, &no_number), Err(SourceError::Malformed(m)) if m.contains("`chulNo`"))
        );
    }
}
