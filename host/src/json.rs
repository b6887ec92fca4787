//! JSON renderings of plugin values for the CLI and the HTTP API: each record is an object
//! with a `"type"` field and the WIT record's fields in snake_case; dates are `YYYY-MM-DD`,
//! times `HH:MM`, pools their codes.
//!
//! Operations and planned requests also read back ([`operation_from`], [`http_request_from`]):
//! the raw archive keeps them in this form (migrations/0011) so a response can be parsed again.

use serde_json::{Value, json};

use crate::plugins::wit::{
    ClockTime, Date, DayRef, Drift, DriftKind, FinishStatus, HttpRequest, OddsBoard, OddsQuery, OddsTiming, Operation,
    OperationKind, PluginManifest, Pool, Quote, RaceKey, RaceRef, RaceStatus, Record, Sex, SourceError,
    selection_width,
};
use crate::plugins::{error_kind, error_message};

/// `YYYY-MM-DD`.
pub fn date(d: &Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

fn time(t: &ClockTime) -> String {
    format!("{:02}:{:02}", t.hour, t.minute)
}

/// The pool's code, e.g. `WIN`.
pub fn pool(p: Pool) -> &'static str {
    match p {
        Pool::Win => "WIN",
        Pool::Plc => "PLC",
        Pool::Qnl => "QNL",
        Pool::Exa => "EXA",
        Pool::Qpl => "QPL",
        Pool::Tla => "TLA",
        Pool::Tri => "TRI",
        Pool::Xla => "XLA",
    }
}

/// Every pool, in the contract's order.
pub const POOLS: [Pool; 8] = [Pool::Win, Pool::Plc, Pool::Qnl, Pool::Exa, Pool::Qpl, Pool::Tla, Pool::Tri, Pool::Xla];

/// Every pool's code, in the order of [`POOLS`] (the store's odds statements bind one
/// parameter pair per code in this order).
pub const POOL_CODES: [&str; 8] = ["WIN", "PLC", "QNL", "EXA", "QPL", "TLA", "TRI", "XLA"];

/// The pool with KRA code `code` (case-insensitive).
pub fn pool_from_code(code: &str) -> Option<Pool> {
    POOLS.into_iter().find(|p| pool(*p).eq_ignore_ascii_case(code.trim()))
}

/// The operation kind's name, e.g. `schedule`.
pub fn operation_kind(k: OperationKind) -> &'static str {
    match k {
        OperationKind::Schedule => "schedule",
        OperationKind::Entries => "entries",
        OperationKind::Odds => "odds",
        OperationKind::Results => "results",
    }
}

fn race_key(k: &RaceKey) -> Value {
    json!({"track": k.track, "date": date(&k.date), "number": k.number})
}

fn status(s: &FinishStatus) -> Value {
    let name = match s {
        FinishStatus::Finished => "finished",
        FinishStatus::Disqualified => "disqualified",
        FinishStatus::DidNotFinish => "did_not_finish",
        FinishStatus::ExcludedAtStart => "excluded_at_start",
        FinishStatus::Excluded => "excluded",
        FinishStatus::Withdrawn => "withdrawn",
        FinishStatus::NoContest => "no_contest",
        FinishStatus::Cancelled => "cancelled",
        FinishStatus::Other(text) => return json!({"other": text}),
    };
    json!(name)
}

/// One record.
pub fn record(r: &Record) -> Value {
    match r {
        Record::Race(x) => json!({
            "type": "race", "race": race_key(&x.key), "meeting": x.meeting, "name": x.name,
            "distance_m": x.distance_m, "post_time": x.post_time.as_ref().map(time), "grade": x.grade,
            "field_size": x.field_size, "status": x.status.map(race_status),
        }),
        Record::Entry(x) => json!({
            "type": "entry", "race": race_key(&x.race), "number": x.number, "runner_id": x.runner_id,
            "runner_name": x.runner_name, "jockey": x.jockey, "jockey_id": x.jockey_id, "trainer": x.trainer,
            "trainer_id": x.trainer_id, "weight_kg": x.weight_kg, "rating": x.rating, "age": x.age,
            "sex": x.sex.map(sex),
        }),
        Record::Scratch(x) => {
            json!({"type": "scratch", "race": race_key(&x.race), "number": x.number, "reason": x.reason})
        }
        Record::Odds(x) => json!({
            "type": "odds_board", "race": race_key(&x.race), "pool": pool(x.pool),
            "selections": x.selections.chunks(selection_width(x.pool).max(1)).collect::<Vec<_>>(),
            "quotes": x.quotes.iter().map(|q| match q { Quote::Price(p) => json!(p), Quote::Capped => json!("capped") }).collect::<Vec<_>>(),
        }),
        Record::Result(x) => json!({
            "type": "result", "race": race_key(&x.race), "number": x.number, "runner_id": x.runner_id,
            "runner_name": x.runner_name, "position": x.position, "status": status(&x.status), "time_s": x.time_s,
            "margin": x.margin, "win_odds": x.win_odds, "place_odds": x.place_odds,
        }),
        Record::Dividend(x) => json!({
            "type": "dividend", "race": race_key(&x.race), "pool": pool(x.pool), "selection": x.selection,
            "payout": x.payout,
        }),
    }
}

/// Records as JSON rows: one per record, one per price of an odds board (`type` `odds`, with
/// `selection`, `price` and `capped`), as the store keeps them.
pub fn records(records: &[Record]) -> Vec<Value> {
    let mut rows = Vec::with_capacity(records.len());
    for r in records {
        match r {
            Record::Odds(board) => rows.extend(board.prices().map(|(selection, quote)| price(board, selection, quote))),
            other => rows.push(record(other)),
        }
    }
    rows
}

/// One price of an odds board as a row.
pub fn price(board: &OddsBoard, selection: &[u8], quote: Quote) -> Value {
    let (price, capped) = match quote {
        Quote::Price(p) => (Some(p), false),
        Quote::Capped => (None, true),
    };
    json!({"type": "odds", "race": race_key(&board.race), "pool": pool(board.pool), "selection": selection,
           "price": price, "capped": capped})
}

/// A page's drift as `[{"kind": "unmapped", "field": "jkNo"}]`.
pub fn drift(drift: &[Drift]) -> Value {
    Value::Array(drift.iter().map(|d| json!({"kind": drift_kind(d.kind), "field": d.field})).collect())
}

/// `unmapped` or `missing`.
pub fn drift_kind(kind: DriftKind) -> &'static str {
    match kind {
        DriftKind::Unmapped => "unmapped",
        DriftKind::Missing => "missing",
    }
}

/// `scheduled`, `run` or `cancelled`, as stored.
pub fn race_status(status: RaceStatus) -> &'static str {
    match status {
        RaceStatus::Scheduled => "scheduled",
        RaceStatus::Run => "run",
        RaceStatus::Cancelled => "cancelled",
    }
}

/// `male`, `female` or `gelding`, as stored.
pub fn sex(sex: Sex) -> &'static str {
    match sex {
        Sex::Male => "male",
        Sex::Female => "female",
        Sex::Gelding => "gelding",
    }
}

/// A request, with the URL the host would send (credential left out).
pub fn request(r: &HttpRequest, url: &str) -> Value {
    json!({"dataset": r.dataset, "url": url})
}

/// An operation, as the archive keeps it: `{"kind":"schedule","track","date"}`, or for the
/// others `{"kind","race":{"track","date","number"},"meeting"}`, odds with `"pools"` (codes,
/// in the order asked).
pub fn operation(op: &Operation) -> Value {
    let race = |r: &RaceRef| (race_key(&r.key), r.meeting.clone());
    match op {
        Operation::Schedule(day) => json!({"kind": "schedule", "track": day.track, "date": date(&day.date)}),
        Operation::Entries(r) => {
            let (key, meeting) = race(r);
            json!({"kind": "entries", "race": key, "meeting": meeting})
        }
        Operation::Results(r) => {
            let (key, meeting) = race(r);
            json!({"kind": "results", "race": key, "meeting": meeting})
        }
        Operation::Odds(q) => {
            let (key, meeting) = race(&q.race);
            let pools: Vec<&str> = q.pools.iter().map(|p| pool(*p)).collect();
            json!({"kind": "odds", "race": key, "meeting": meeting, "pools": pools})
        }
    }
}

/// Reads back what [`operation`] wrote; the error says which field is wrong.
pub fn operation_from(value: &Value) -> Result<Operation, String> {
    let kind = text_field(value, "kind")?;
    if kind == "schedule" {
        let track = text_field(value, "track")?.to_string();
        return Ok(Operation::Schedule(DayRef { track, date: date_from(text_field(value, "date")?)? }));
    }
    let key = value.get("race").ok_or("no \"race\"")?;
    let number = key.get("number").and_then(Value::as_u64).ok_or("no race \"number\"")?;
    let race = RaceRef {
        key: RaceKey {
            track: text_field(key, "track")?.to_string(),
            date: date_from(text_field(key, "date")?)?,
            number: u8::try_from(number).map_err(|_| format!("race number {number} out of range"))?,
        },
        meeting: match value.get("meeting") {
            None | Some(Value::Null) => None,
            Some(Value::String(m)) => Some(m.clone()),
            Some(other) => return Err(format!("\"meeting\" is {other}, not text")),
        },
    };
    match kind {
        "entries" => Ok(Operation::Entries(race)),
        "results" => Ok(Operation::Results(race)),
        "odds" => {
            let codes = value.get("pools").and_then(Value::as_array).ok_or("no \"pools\" list")?;
            let pools = codes
                .iter()
                .map(|c| c.as_str().and_then(pool_from_code).ok_or_else(|| format!("unknown pool {c}")))
                .collect::<Result<_, _>>()?;
            Ok(Operation::Odds(OddsQuery { race, pools }))
        }
        other => Err(format!("unknown operation kind {other:?}")),
    }
}

/// A request as the plugin planned it, as the archive keeps it: `{"dataset","path","query":
/// [[name, value], …]}`, values not yet encoded. The host adds the credential only when it
/// sends, so it is never here.
pub fn http_request(r: &HttpRequest) -> Value {
    json!({"dataset": r.dataset, "path": r.path, "query": r.query})
}

/// Reads back what [`http_request`] wrote; the error says which field is wrong.
pub fn http_request_from(value: &Value) -> Result<HttpRequest, String> {
    let pairs = value.get("query").and_then(Value::as_array).ok_or("no \"query\" list")?;
    let query = pairs
        .iter()
        .map(|pair| match pair.as_array().map(Vec::as_slice) {
            Some([Value::String(k), Value::String(v)]) => Ok((k.clone(), v.clone())),
            _ => Err(format!("query pair {pair} is not [name, value]")),
        })
        .collect::<Result<_, _>>()?;
    Ok(HttpRequest {
        dataset: text_field(value, "dataset")?.to_string(),
        path: text_field(value, "path")?.to_string(),
        query,
    })
}

fn text_field<'v>(value: &'v Value, name: &str) -> Result<&'v str, String> {
    value.get(name).and_then(Value::as_str).ok_or_else(|| format!("no text field \"{name}\""))
}

/// A `YYYY-MM-DD` date that exists.
fn date_from(text: &str) -> Result<Date, String> {
    let bad = || format!("{text:?} is not a YYYY-MM-DD date");
    let d = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| bad())?;
    use chrono::Datelike;
    Ok(Date {
        year: u16::try_from(d.year()).map_err(|_| bad())?,
        month: u8::try_from(d.month()).map_err(|_| bad())?,
        day: u8::try_from(d.day()).map_err(|_| bad())?,
    })
}

/// A source error as `{"error":{"kind","message"}}`.
pub fn source_error(e: &SourceError) -> Value {
    json!({"error": {"kind": error_kind(e), "message": error_message(e)}})
}

/// A manifest.
pub fn manifest(m: &PluginManifest, api_version: &str) -> Value {
    json!({
        "name": m.name, "version": m.version, "api_version": api_version, "tracks": m.tracks,
        "operations": m.operations.iter().map(|k| operation_kind(*k)).collect::<Vec<_>>(),
        "odds_pools": m.odds_pools.iter().map(|p| pool(*p)).collect::<Vec<_>>(),
        "dividend_pools": m.dividend_pools.iter().map(|p| pool(*p)).collect::<Vec<_>>(),
        "odds_timing": match m.odds_timing { OddsTiming::AfterRace => "after-race", OddsTiming::BeforeRace => "before-race" },
        "credential_param": m.credential_param,
        "config": m.config.iter().map(|c| json!({"name": c.name, "description": c.description, "default": c.default_value})).collect::<Vec<_>>(),
        "datasets": m.datasets.iter().map(|d| json!({"dataset": d.dataset, "daily_quota": d.daily_quota, "per_second": d.per_second})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn race(number: u8, meeting: Option<&str>) -> RaceRef {
        RaceRef {
            key: RaceKey { track: "misari".into(), date: Date { year: 2026, month: 12, day: 2 }, number },
            meeting: meeting.map(str::to_string),
        }
    }

    #[test]
    fn operations_and_requests_read_back_as_written() {
        let ops = [
            Operation::Schedule(DayRef { track: "seoul".into(), date: Date { year: 2026, month: 1, day: 3 } }),
            Operation::Entries(race(1, None)),
            Operation::Results(race(12, Some("2026/48/2"))),
            Operation::Odds(OddsQuery { race: race(3, None), pools: vec![Pool::Tri, Pool::Win] }),
            Operation::Odds(OddsQuery { race: race(4, Some("m")), pools: vec![] }),
        ];
        for op in ops {
            let value = operation(&op);
            assert_eq!(operation_from(&value), Ok(op.clone()), "{value}");
        }
        let request = HttpRequest {
            dataset: "API26_2".into(),
            path: "/B551015/API26_2/entrySheet_2".into(),
            query: vec![("meet".into(), "1".into()), ("rc_date".into(), "20260103".into()), ("x".into(), "".into())],
        };
        assert_eq!(http_request_from(&http_request(&request)), Ok(request));
    }

    #[test]
    fn a_damaged_operation_or_request_says_what_is_wrong() {
        let bad = |v: Value| operation_from(&v).expect_err("refused");
        assert!(bad(json!({"kind": "draw"})).contains("race"), "no race");
        assert!(
            bad(json!({"kind": "entries", "race": {"track": "seoul", "date": "2026-02-30", "number": 1}}))
                .contains("2026-02-30")
        );
        assert!(
            bad(json!({"kind": "entries", "race": {"track": "seoul", "date": "2026-02-03", "number": 300}}))
                .contains("300")
        );
        assert!(
            bad(json!({"kind": "odds", "race": {"track": "seoul", "date": "2026-02-03", "number": 1}, "pools": ["PICK6"]}))
                .contains("PICK6")
        );
        assert!(
            bad(json!({"kind": "futures", "race": {"track": "seoul", "date": "2026-02-03", "number": 1}}))
                .contains("futures")
        );
        assert!(
            http_request_from(&json!({"dataset": "d", "path": "/", "query": [["a"]]}))
                .expect_err("pair")
                .contains("[\"a\"]")
        );
    }

    #[test]
    fn pool_codes_follow_the_pools_and_read_back() {
        for (p, code) in POOLS.into_iter().zip(POOL_CODES) {
            assert_eq!(pool(p), code);
            assert_eq!(pool_from_code(&code.to_lowercase()), Some(p));
        }
        assert_eq!(pool_from_code("PICK6"), None);
    }
}
