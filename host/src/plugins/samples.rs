//! Sample responses a component carries for the registry's check before activation: each
//! bundled sample must parse. A plugin author bundles them with the SDK's `bundle_samples!`,
//! which puts a JSON document in a custom section named [`SECTION`] of the component's core
//! module; any number of such sections, at any depth of the component, are read.
//!
//! ```json
//! {"samples": [{"operation": {"kind": "schedule", "track": "seoul", "date": "2026-12-05"},
//!               "request": {"dataset": "API72_2", "path": "/B551015/API72_2/racePlan_2",
//!                           "query": [["rc_date", "20261205"]]},
//!               "response": {"status": 200, "body": "{…}"},
//!               "records": 11}]}
//! ```
//!
//! `operation` and `request` are in the archive's JSON form (`crate::json`); `body` is the
//! response as text; `records`, when given, is how many records the parse must return.

use serde::Deserialize;
use serde_json::Value;

use super::plugin::Plugin;
use super::wit::HttpResponse;

/// The custom section's name.
pub const SECTION: &str = "racelab-samples";

/// Samples one component may carry, at most (a check must stay quick).
const MAX_SAMPLES: usize = 200;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Bundle {
    samples: Vec<Sample>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Sample {
    operation: Value,
    request: Value,
    response: Response,
    #[serde(default)]
    records: Option<usize>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Response {
    #[serde(default = "ok")]
    status: u16,
    body: String,
}

fn ok() -> u16 {
    200
}

/// The contents of every [`SECTION`] custom section in `wasm`, outermost first.
pub fn sections(wasm: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    let mut found = Vec::new();
    for payload in wasmparser::Parser::new(0).parse_all(wasm) {
        let payload = payload.map_err(|e| format!("the component cannot be read: {e}"))?;
        if let wasmparser::Payload::CustomSection(section) = payload
            && section.name() == SECTION
        {
            found.push(section.data().to_vec());
        }
    }
    Ok(found)
}

/// Parses every bundled sample with `plugin`. `Ok(n)` when all `n` parse (and return the
/// records they promise); otherwise the first failure, saying which sample and why.
pub fn check(plugin: &Plugin, wasm: &[u8]) -> Result<usize, String> {
    let mut samples = Vec::new();
    for (i, data) in sections(wasm)?.into_iter().enumerate() {
        let bundle: Bundle = serde_json::from_slice(&data)
            .map_err(|e| format!("bundled samples (section {}) are not a valid samples document: {e}", i + 1))?;
        samples.extend(bundle.samples);
    }
    if samples.len() > MAX_SAMPLES {
        return Err(format!("{} bundled samples: at most {MAX_SAMPLES}", samples.len()));
    }
    for (i, sample) in samples.iter().enumerate() {
        let n = i + 1;
        let op = crate::json::operation_from(&sample.operation).map_err(|e| format!("sample {n}: operation: {e}"))?;
        let request =
            crate::json::http_request_from(&sample.request).map_err(|e| format!("sample {n}: request: {e}"))?;
        let response = HttpResponse {
            status: sample.response.status,
            headers: Vec::new(),
            body: sample.response.body.clone().into_bytes(),
        };
        let page = plugin.parse(&op, &request, &response).map_err(|e| {
            format!(
                "sample {n} ({} {}): {e}",
                crate::json::operation(&op)["kind"].as_str().unwrap_or("?"),
                request.path
            )
        })?;
        // Rows, not records: a price per selection of an odds board, so a 0.1 component's
        // samples (a record per price) count the same on this host.
        let rows = super::wit::rows(&page.records);
        if let Some(expected) = sample.records
            && rows != expected
        {
            return Err(format!("sample {n} ({}): {rows} records, the sample expects {expected}", request.path));
        }
    }
    Ok(samples.len())
}
