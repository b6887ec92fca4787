//! Results: the finishing order from API214_1 `RaceDetailResult_1` (with each runner's final
//! win and place odds), and the winning combinations' dividends from API160_1
//! `integratedInfo_1` (dossier §2.1, §2.4).
//!
//! - `ord` 1… is the placing; 91–99 are status codes (§7.11); 0 means not official yet, and
//!   such rows are skipped, so an unofficial race reads as an empty page.
//! - `rcTime` 0, `winOdds` 0 and `plcOdds` 0 mean "none" (a non-finisher, §7.8).
//! - `diffUnit` is text (`"½"`, `"코"`) or a number (`7`) in the same page (§7.5); both become
//!   the margin text, `"-"` (the winner) none.

use racelab_plugin_sdk::envelope::Envelope;
use racelab_plugin_sdk::fields::{Field, Row};
use racelab_plugin_sdk::request::next_page;
use racelab_plugin_sdk::{Dividend, FinishStatus, HttpRequest, Page, Race, RaceStatus, Record, ResultRow, SourceError};

use crate::endpoints::{DIVIDENDS, RESULTS};
use crate::scope::{Scope, saddle_number};
use crate::{selection, values};

type Result<T> = std::result::Result<T, SourceError>;

/// The race's result detail and its dividends.
pub fn requests(scope: &Scope, page_size: u32) -> Vec<HttpRequest> {
    vec![RESULTS.request(scope, page_size), DIVIDENDS.request(scope, page_size)]
}

/// How a runner's race ended, from `ord`; `None` while the race is not official.
pub fn finish(ord: u8) -> Option<(Option<u8>, FinishStatus)> {
    let status = match ord {
        0 => return None,
        1..=90 => return Some((Some(ord), FinishStatus::Finished)),
        91 => FinishStatus::Disqualified,
        92 => FinishStatus::DidNotFinish,
        93 => FinishStatus::ExcludedAtStart,
        94 => FinishStatus::Excluded,
        95 => FinishStatus::Withdrawn,
        98 => FinishStatus::NoContest,
        99 => FinishStatus::Cancelled,
        other => FinishStatus::Other(format!("ord {other}")),
    };
    Some((None, status))
}

/// A page of `RaceDetailResult_1`: one result row per runner of the asked race.
pub fn from_results(scope: &Scope, request: &HttpRequest, envelope: &Envelope) -> Result<Page> {
    let race = scope.race_key()?;
    let mut records = Vec::with_capacity(envelope.items.len());
    for row in scope.rows(envelope, "RaceDetailResult_1")? {
        let ord = values::int::<u8>(row, "ord")?.ok_or_else(|| row.missing("ord", "a finishing order"))?;
        let Some((position, status)) = finish(ord) else { continue };
        records.push(Record::Result(ResultRow {
            race: race.clone(),
            number: Some(saddle_number(row)?),
            runner_id: values::text(row, "hrNo")?,
            runner_name: values::text(row, "hrName")?,
            position,
            status,
            time_s: values::positive_float(row, "rcTime")?,
            margin: margin(row)?,
            win_odds: values::positive_float(row, "winOdds")?,
            place_odds: values::positive_float(row, "plcOdds")?,
        }));
    }
    // The race was run, or, when every runner's ord says so, called off.
    let results = records.iter().filter(|r| matches!(r, Record::Result(_)));
    let cancelled =
        results.clone().all(|r| matches!(r, Record::Result(ResultRow { status: FinishStatus::Cancelled, .. })));
    if results.count() > 0 {
        let status = if cancelled { RaceStatus::Cancelled } else { RaceStatus::Run };
        records.push(Record::Race(Race::status_only(race, status)));
    }
    Ok(Page::new(records, next_page(request, envelope).into_iter().collect()))
}

/// A page of `integratedInfo_1`: one dividend per winning combination (연승식 one per placed
/// runner, 복연승식 three). A payout of 0 (nothing paid) is skipped.
pub fn from_dividends(scope: &Scope, request: &HttpRequest, envelope: &Envelope) -> Result<Page> {
    let race = scope.race_key()?;
    let mut records = Vec::new();
    for row in scope.rows(envelope, "integratedInfo_1")? {
        let pool = selection::pool(row)?.ok_or_else(|| row.missing("pool", "a pool name"))?;
        values::float(row, "odds")?.ok_or_else(|| row.missing("odds", "a dividend"))?;
        let Some(payout) = values::positive_float(row, "odds")? else { continue };
        let selection = selection::read(row, pool)?.to_vec();
        records.push(Record::Dividend(Dividend { race: race.clone(), pool, selection, payout }));
    }
    Ok(Page::new(records, next_page(request, envelope).into_iter().collect()))
}

/// The margin as the source wrote it; a numeric `0` or `"0"` is no margin.
fn margin(row: &Row) -> Result<Option<String>> {
    if matches!(row.field("diffUnit"), Field::Number(n) if n.as_f64() == Some(0.0)) {
        return Ok(None);
    }
    Ok(values::text(row, "diffUnit")?.filter(|m| m != "0"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ord_codes_map_to_statuses() {
        assert_eq!(finish(0), None);
        assert_eq!(finish(1), Some((Some(1), FinishStatus::Finished)));
        assert_eq!(finish(90), Some((Some(90), FinishStatus::Finished)));
        let status = finish;
        assert_eq!(status(91), Some((None, FinishStatus::Disqualified)));
        assert_eq!(status(92), Some((None, FinishStatus::DidNotFinish)));
        assert_eq!(status(93), Some((None, FinishStatus::ExcludedAtStart)));
        assert_eq!(status(94), Some((None, FinishStatus::Excluded)));
        assert_eq!(status(95), Some((None, FinishStatus::Withdrawn)));
        assert_eq!(status(96), Some((None, FinishStatus::Other("ord 96".into()))));
        assert_eq!(status(98), Some((None, FinishStatus::NoContest)));
        assert_eq!(status(99), Some((None, FinishStatus::Cancelled)));
        assert_eq!(status(200), Some((None, FinishStatus::Other("ord 200".into()))));
    }
}
