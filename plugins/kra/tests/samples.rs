//! The sample responses the component bundles (`samples.json`, through the SDK's
//! `bundle_samples!`): the plugin registry parses each before a KRA version may become active.
//! Each is a fixture as the answer to the request the plugin plans for its operation, with the
//! record count the parse gives. The file is derived here, so it cannot drift from the mapping:
//! this test fails when it differs, and `RACELAB_WRITE_SAMPLES=1 cargo test -p
//! racelab-plugin-kra --test samples` writes it anew after an intended change.

mod common;

use common::*;
use racelab_plugin_sdk::{HttpRequest, Operation, Pool, RaceRef};
use serde_json::{Value, json};

fn date_text(d: &racelab_plugin_sdk::Date) -> String {
    format!("{:04}-{:02}-{:02}", d.year, d.month, d.day)
}

fn race_ref(r: &RaceRef) -> Value {
    let k = &r.key;
    json!({"track": k.track, "date": date_text(&k.date), "number": k.number})
}

/// The operation in the host's archive form (host/src/json.rs).
fn operation(op: &Operation) -> Value {
    match op {
        Operation::Schedule(day) => json!({"kind": "schedule", "track": day.track, "date": date_text(&day.date)}),
        Operation::Entries(r) => json!({"kind": "entries", "race": race_ref(r), "meeting": r.meeting}),
        Operation::Results(r) => json!({"kind": "results", "race": race_ref(r), "meeting": r.meeting}),
        Operation::Odds(q) => json!({
            "kind": "odds", "race": race_ref(&q.race), "meeting": q.race.meeting,
            "pools": q.pools.iter().map(|p| p.code()).collect::<Vec<_>>(),
        }),
    }
}

fn sample(op: &Operation, request: &HttpRequest, file: &str) -> Value {
    let body = String::from_utf8(fixture(file)).expect("utf-8");
    let records = parse_fixture(op, request, file).records.len();
    assert!(records > 0, "{file} yields records");
    json!({
        "operation": operation(op),
        "request": {"dataset": request.dataset, "path": request.path, "query": request.query},
        "response": {"status": 200, "body": body},
        "records": records,
    })
}

#[test]
fn the_bundled_samples_are_the_fixtures_as_the_plugin_reads_them() {
    let day = seoul_day();
    let schedule = schedule("seoul", day);
    let entries = entries("seoul", day, 1);
    let odds = odds("seoul", day, 1, &[Pool::Win, Pool::Plc]);
    let samples = json!({"samples": [
        sample(&schedule, &plan(&schedule)[0], "racePlan_2.json"),
        sample(&entries, &planned(&entries, "entrySheet_2", None), "entrySheet_2.json"),
        sample(&odds, &planned(&odds, "Dividend_rate_total", Some(Pool::Win)), "Dividend_rate_total_WIN.json"),
    ]});
    let text = serde_json::to_string_pretty(&samples).expect("json") + "\n";
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples.json");
    if std::env::var_os("RACELAB_WRITE_SAMPLES").is_some() {
        std::fs::write(&path, &text).expect("write samples.json");
    }
    let bundled = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        bundled == text,
        "plugins/kra/samples.json differs from the fixtures as the plugin reads them; after an intended change run RACELAB_WRITE_SAMPLES=1 cargo test -p racelab-plugin-kra --test samples"
    );
}
