//! The sample responses the component bundles (`samples.json`, through the SDK's
//! `bundle_samples!`): the plugin registry parses each before a KRA version may become active.
//! Each is a fixture as the answer to the request the plugin plans for its operation, with the
//! record count the parse gives. The file is derived here, so it cannot drift from the mapping:
//! this test fails when it differs, and `RACELAB_WRITE_SAMPLES=1 cargo test -p
//! racelab-plugin-kra --test samples` writes it anew after an intended change.

mod common;

use common::*;
use racelab_plugin_sdk::samples::{check_file, document, sample};
use racelab_plugin_sdk::{HttpRequest, Operation, Pool};

fn from_fixture(op: &Operation, request: &HttpRequest, file: &str) -> serde_json::Value {
    let records = parse_fixture(op, request, file).rows();
    assert!(records > 0, "{file} yields records");
    sample(op, request, &String::from_utf8(fixture(file)).expect("utf-8"), records)
}

#[test]
fn the_bundled_samples_are_the_fixtures_as_the_plugin_reads_them() {
    let day = seoul_day();
    let schedule = schedule("seoul", day);
    let entries = entries("seoul", day, 1);
    let odds = odds("seoul", day, 1, &[Pool::Win, Pool::Plc]);
    let samples = document(vec![
        from_fixture(&schedule, &plan(&schedule)[0], "racePlan_2.json"),
        from_fixture(&entries, &planned(&entries, "entrySheet_2", None), "entrySheet_2.json"),
        from_fixture(&odds, &planned(&odds, "Dividend_rate_total", Some(Pool::Win)), "Dividend_rate_total_WIN.json"),
    ]);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples.json");
    if let Err(drift) = check_file(&path, &samples) {
        panic!("{drift}");
    }
}
