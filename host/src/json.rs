//! JSON renderings of plugin values for the CLI and the HTTP API: each record is an object
//! with a `"type"` field and the WIT record's fields in snake_case; dates are `YYYY-MM-DD`,
//! times `HH:MM`, pools their codes.

use serde_json::{Value, json};

use crate::plugins::wit::{
    ClockTime, Date, FinishStatus, HttpRequest, OperationKind, PluginManifest, Pool, Quote, RaceKey, Record,
    SourceError,
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
            "field_size": x.field_size,
        }),
        Record::Entry(x) => json!({
            "type": "entry", "race": race_key(&x.race), "number": x.number, "runner_id": x.runner_id,
            "runner_name": x.runner_name, "jockey": x.jockey, "trainer": x.trainer, "weight_kg": x.weight_kg,
            "rating": x.rating,
        }),
        Record::Scratch(x) => {
            json!({"type": "scratch", "race": race_key(&x.race), "number": x.number, "reason": x.reason})
        }
        Record::Odds(x) => {
            let (price, capped) = match x.quote {
                Quote::Price(p) => (Some(p), false),
                Quote::Capped => (None, true),
            };
            json!({"type": "odds", "race": race_key(&x.race), "pool": pool(x.pool), "selection": x.selection,
                   "price": price, "capped": capped})
        }
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

/// A request, with the URL the host would send (credential left out).
pub fn request(r: &HttpRequest, url: &str) -> Value {
    json!({"dataset": r.dataset, "url": url})
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
        "pools": m.pools.iter().map(|p| pool(*p)).collect::<Vec<_>>(),
        "credential_param": m.credential_param,
        "config": m.config.iter().map(|c| json!({"name": c.name, "description": c.description, "default": c.default_value})).collect::<Vec<_>>(),
        "datasets": m.datasets.iter().map(|d| json!({"dataset": d.dataset, "daily_quota": d.daily_quota, "per_second": d.per_second})).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::{POOL_CODES, POOLS, pool, pool_from_code};

    #[test]
    fn pool_codes_follow_the_pools_and_read_back() {
        for (p, code) in POOLS.into_iter().zip(POOL_CODES) {
            assert_eq!(pool(p), code);
            assert_eq!(pool_from_code(&code.to_lowercase()), Some(p));
        }
        assert_eq!(pool_from_code("PICK6"), None);
    }
}
