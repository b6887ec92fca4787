//! Writing the sample responses a component bundles (see [`crate::bundle_samples!`]): the
//! document the host's plugin registry reads, with each sample's operation and request in the
//! host's archive form. A plugin derives its samples from its fixtures in a test, so the file
//! cannot drift from what the mapping reads (`plugins/kra/tests/samples.rs`).

use serde_json::{Value, json};

use crate::{Date, HttpRequest, Operation, RaceRef};

fn date(d: &Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

fn race(r: &RaceRef) -> Value {
    json!({"track": r.key.track, "date": date(&r.key.date), "number": r.key.number})
}

/// An operation as the host archives it.
pub fn operation(op: &Operation) -> Value {
    match op {
        Operation::Schedule(day) => json!({"kind": "schedule", "track": day.track, "date": date(&day.date)}),
        Operation::Entries(r) => json!({"kind": "entries", "race": race(r), "meeting": r.meeting}),
        Operation::Results(r) => json!({"kind": "results", "race": race(r), "meeting": r.meeting}),
        Operation::Odds(q) => json!({
            "kind": "odds", "race": race(&q.race), "meeting": q.race.meeting,
            "pools": q.pools.iter().map(|p| p.code()).collect::<Vec<_>>(),
        }),
    }
}

/// One sample: `body` as the answer (HTTP 200) to `request` planned for `op`, whose parse
/// returns `records` records.
pub fn sample(op: &Operation, request: &HttpRequest, body: &str, records: usize) -> Value {
    json!({
        "operation": operation(op),
        "request": {"dataset": request.dataset, "path": request.path, "query": request.query},
        "response": {"status": 200, "body": body},
        "records": records,
    })
}

/// The document of `samples`, as the file `bundle_samples!` includes.
pub fn document(samples: Vec<Value>) -> String {
    serde_json::to_string_pretty(&json!({ "samples": samples })).unwrap_or_default() + "\n"
}

/// Compares `document` with the file at `path`, writing it first when the environment sets
/// `RACELAB_WRITE_SAMPLES`; `Err` says how to refresh a file that drifted.
pub fn check_file(path: &std::path::Path, document: &str) -> Result<(), String> {
    if std::env::var_os("RACELAB_WRITE_SAMPLES").is_some() {
        std::fs::write(path, document).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    }
    let bundled = std::fs::read_to_string(path).unwrap_or_default();
    if bundled == document {
        return Ok(());
    }
    Err(format!(
        "{} differs from the samples the fixtures give; after an intended change rerun the test with RACELAB_WRITE_SAMPLES=1",
        path.display()
    ))
}
