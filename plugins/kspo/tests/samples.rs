//! The sample responses the component bundles (`samples.json`, through the SDK's
//! `bundle_samples!`): the plugin registry parses each before a KSPO version may become
//! active. Derived from the fixtures as the plugin reads them; `RACELAB_WRITE_SAMPLES=1 cargo
//! test -p racelab-plugin-kspo --test samples` writes the file anew after an intended change.

mod common;

use common::*;
use racelab_plugin_sdk::samples::{check_file, document, sample};
use racelab_plugin_sdk::{HttpRequest, Operation};

fn from_fixture(op: &Operation, request: &HttpRequest, file: &str) -> serde_json::Value {
    let body = fixture_text(file);
    let records = parse_ok(op, request, body.clone()).rows();
    assert!(records > 0, "{file} yields records");
    sample(op, request, &body, records)
}

#[test]
fn the_bundled_samples_are_the_fixtures_as_the_plugin_reads_them() {
    // Small pages only: a sample travels in every copy of the component.
    let cycle_results = results("gwangmyeong", d(2026, 1, 2), 1, Some("2026/01/1"));
    let boat_day = schedule("misari", d(2026, 1, 28));
    let boat_results = results("misari", d(2026, 1, 28), 1, Some("2026/05/1"));
    let samples = document(vec![
        from_fixture(&cycle_results, &plan(&cycle_results)[0], "cycle_result.json"),
        from_fixture(&boat_day, &plan_one(&boat_day), "boat_doc.json"),
        from_fixture(&boat_results, &plan(&boat_results)[0], "boat_result.json"),
    ]);
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("samples.json");
    if let Err(drift) = check_file(&path, &samples) {
        panic!("{drift}");
    }
}
