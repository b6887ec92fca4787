//! The finishing order and dividends of one race, from two services.
//!
//! The result service names the top three (`rank1..3`: `②이길섭`) and the winning
//! combinations (`poolN_val`); the rank service lists every racer by id with `race_rank`
//! (`"06"`, or a word such as `실격` for a non-finisher). Places 1–3 are taken from the
//! first (it has the number), everyone else from the second, so each racer appears once.

use racelab_plugin_sdk::envelope::Envelope;
use racelab_plugin_sdk::fields::{Row, clip};
use racelab_plugin_sdk::request::next_page;
use racelab_plugin_sdk::{
    Dividend, FinishStatus, HttpRequest, Page, Pool, Race, RaceKey, RaceStatus, Record, ResultRow, SourceError, log,
    malformed,
};

use crate::api::query_opt;
use crate::marks::{is_bare_amount, payouts, runner_mark};
use crate::names::racer_name;
use crate::rows::{agrees, date};
use crate::tracks::Track;

/// The places the result service names.
const PLACES: [(&str, u8); 3] = [("rank1", 1), ("rank2", 2), ("rank3", 3)];

/// Which pool each dividend field pays (dossier §3, §6).
fn pool_fields(track: Track) -> &'static [(&'static str, Pool)] {
    match track {
        Track::Gwangmyeong => &[
            ("pool1_val", Pool::Win),
            ("pool2_val", Pool::Plc),
            ("pool4_val", Pool::Exa),
            ("pool5_val", Pool::Qnl),
            ("pool6_val", Pool::Tla),
            ("pool7_val", Pool::Tri),
            ("pool8_val", Pool::Xla),
        ],
        // 연승 pays the first and second in two fields; boat has no 삼쌍승 or 쌍복승.
        Track::Misari => &[
            ("pool1_val", Pool::Win),
            ("pool2_val", Pool::Plc),
            ("pool3_val", Pool::Plc),
            ("pool4_val", Pool::Exa),
            ("pool5_val", Pool::Qnl),
            ("pool6_val", Pool::Tla),
        ],
    }
}

/// Reads the result service: places 1–3 and the dividends. No row yet is a normal answer.
pub fn parse_result(
    track: Track,
    key: &RaceKey,
    request: &HttpRequest,
    envelope: &Envelope,
) -> Result<Page, SourceError> {
    let week: Option<i64> = query_opt(request, "week_tcnt");
    let day: Option<i64> = query_opt(request, "day_tcnt");
    let mut rows = envelope.items.iter().filter(|row| {
        track.holds(row)
            && agrees(row, "race_no", Some(key.number.into()))
            && agrees(row, "week_tcnt", week)
            && agrees(row, "day_tcnt", day)
    });
    let Some(row) = rows.next() else {
        return Ok(Page::new(Vec::new(), next_page(request, envelope).into_iter().collect()));
    };
    if rows.next().is_some() {
        log::warn(&format!(
            "kspo: more than one result row for {} race {} on {}; the first is read",
            track.code(),
            key.number,
            key.date
        ));
    }
    let mut records = places(key, row)?;
    records.extend(dividends(track, key, row)?);
    // A result row is the source saying the race was run.
    records.push(Record::Race(Race::status_only(key.clone(), RaceStatus::Run)));
    Ok(Page::new(records, Vec::new()))
}

fn places(key: &RaceKey, row: &Row) -> Result<Vec<Record>, SourceError> {
    let mut records = Vec::new();
    for (field, position) in PLACES {
        let Some(text) = row.text(field) else { continue };
        let (number, name) =
            runner_mark(&text).ok_or_else(|| row.missing(field, "a circled number and a name, like ②이길섭"))?;
        records.push(Record::Result(ResultRow {
            race: key.clone(),
            number: Some(number),
            runner_id: None,
            runner_name: racer_name(name),
            position: Some(position),
            status: FinishStatus::Finished,
            time_s: None,
            margin: None,
            win_odds: None,
            place_odds: None,
        }));
    }
    Ok(records)
}

fn dividends(track: Track, key: &RaceKey, row: &Row) -> Result<Vec<Record>, SourceError> {
    let mut records = Vec::new();
    for &(field, pool) in pool_fields(track) {
        let Some(text) = row.text(field) else { continue };
        if is_bare_amount(&text) {
            // No combination to pay (e.g. `0` for a pool not sold): nothing to record.
            log::warn(&format!("kspo: item {}: field `{field}` {text:?} names no selection; skipped", row.index));
            continue;
        }
        let groups =
            payouts(&text).map_err(|e| malformed!("item {}: field `{field}` {:?}: {e}", row.index, clip(&text, 40)))?;
        for payout in groups {
            if payout.selection.len() != pool.legs() {
                return Err(malformed!(
                    "item {}: field `{field}` {:?}: a {} selection names {} runners, found {:?}",
                    row.index,
                    clip(&text, 40),
                    pool.code(),
                    pool.legs(),
                    payout.selection
                ));
            }
            if !(payout.amount > 0.0 && payout.amount.is_finite()) {
                log::warn(&format!("kspo: item {}: field `{field}` pays {}; skipped", row.index, payout.amount));
                continue;
            }
            records.push(Record::Dividend(Dividend {
                race: key.clone(),
                pool,
                selection: pool.canonical(payout.selection),
                payout: payout.amount,
            }));
        }
    }
    Ok(records)
}

/// Reads the rank service: every racer not placed 1–3, by id.
pub fn parse_rank(
    track: Track,
    key: &RaceKey,
    request: &HttpRequest,
    envelope: &Envelope,
) -> Result<Page, SourceError> {
    let week: Option<i64> = query_opt(request, "tms");
    let day: Option<i64> = query_opt(request, "day_ord");
    let mut records = Vec::new();
    for row in &envelope.items {
        // The cycle rank service also serves 창원 and 부산, and takes no venue parameter.
        let same_race = track.holds(row)
            && agrees(row, "race_no", Some(key.number.into()))
            && agrees(row, "tms", week)
            && agrees(row, "day_ord", day)
            && (row.text("race_day").is_none() || date(row, "race_day")? == key.date);
        if !same_race {
            continue;
        }
        if let Some(record) = rank_row(key, row)? {
            records.push(record);
        }
    }
    Ok(Page::new(records, next_page(request, envelope).into_iter().collect()))
}

fn rank_row(key: &RaceKey, row: &Row) -> Result<Option<Record>, SourceError> {
    // No rank yet (`""`, `"-"`): the order is not official.
    let Some(raw) = row.text("race_rank") else { return Ok(None) };
    let (position, status) = match row.int("race_rank") {
        Some(1..=3) => return Ok(None),
        Some(n) if n > 3 => {
            let position = u8::try_from(n).map_err(|_| row.missing("race_rank", "a place from 1 to 255"))?;
            (Some(position), FinishStatus::Finished)
        }
        _ => (None, status(&raw)),
    };
    let runner_id = row.text("racer_no");
    let runner_name = row.text("racer_nm").and_then(|n| racer_name(&n));
    if runner_id.is_none() && runner_name.is_none() {
        return Err(row.missing("racer_no", "the racer's id (there is no racer_nm either)"));
    }
    Ok(Some(Record::Result(ResultRow {
        race: key.clone(),
        number: None,
        runner_id,
        runner_name,
        position,
        status,
        time_s: None,
        margin: None,
        win_odds: None,
        place_odds: None,
    })))
}

/// A non-numeric `race_rank` as a status. KSPO's words follow KRA's status codes where they
/// mean the same; any other word is kept as written.
pub fn status(word: &str) -> FinishStatus {
    let word: String = word.split_whitespace().collect();
    match word.as_str() {
        "실격" => FinishStatus::Disqualified,
        "낙차" | "주행중지" | "기권" | "중도기권" | "완주실패" => FinishStatus::DidNotFinish,
        "출발제외" => FinishStatus::ExcludedAtStart,
        "경주제외" | "제외" => FinishStatus::Excluded,
        "출전취소" | "결장" => FinishStatus::Withdrawn,
        "경주불성립" | "불성립" => FinishStatus::NoContest,
        "경주취소" => FinishStatus::Cancelled,
        _ => FinishStatus::Other(word),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_words() {
        assert_eq!(status("실격"), FinishStatus::Disqualified);
        assert_eq!(status("실  격"), FinishStatus::Disqualified);
        assert_eq!(status("낙차"), FinishStatus::DidNotFinish);
        assert_eq!(status("F"), FinishStatus::Other("F".into()));
        assert_eq!(status("00"), FinishStatus::Other("00".into()));
    }
}
