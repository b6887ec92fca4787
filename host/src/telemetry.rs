//! Prometheus metrics: what the host counts as it works, through the `metrics` facade, and
//! the page `GET /metrics` renders (`api/metrics.rs`).
//!
//! Counted where it happens (see README, "Metrics"):
//!
//! | name | type | labels |
//! |---|---|---|
//! | `racelab_fetch_duration_seconds` | histogram | `source`, `dataset`, `outcome` (`ok`, `http_error`, `transport_error`) |
//! | `racelab_fetch_responses_total` | counter | `source`, `dataset`, `status` (HTTP status, `none` without an answer) |
//! | `racelab_rows_written_total` | counter | `table` |
//! | `racelab_jobs_total` | counter | `op`, `lane`, `result` (`done`, `no_data`, `superseded`, `retried`, `paused`, `failed`) |
//! | `racelab_failures_total` | counter | `kind` |
//! | `racelab_alerts_sent_total` | counter | `state` (`open`, `resolved`) |
//!
//! Read from the database when the page is asked for: quota used and left, queue depth, open
//! failures, drift, the active plugin versions, and the process's memory.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use metrics::{counter, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Fetch latency buckets, in seconds: the sources answer in tens of milliseconds to seconds.
const FETCH_BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

/// The recorder's handle, installed once per process on first use. `None` when another
/// recorder was installed first (the metrics then go there, and the page shows none).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full("racelab_fetch_duration_seconds".into()), &FETCH_BUCKETS);
            match builder.and_then(PrometheusBuilder::install_recorder) {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(e) => {
                    tracing::warn!("metrics are off: {e}");
                    None
                }
            }
        })
        .as_ref()
}

fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_histogram!(
        "racelab_fetch_duration_seconds",
        Unit::Seconds,
        "Time from sending a request to a source to its answer"
    );
    describe_counter!("racelab_fetch_responses_total", "Requests to the sources by HTTP status of the answer");
    describe_counter!("racelab_rows_written_total", "Rows inserted or changed, by table");
    describe_counter!("racelab_jobs_total", "Job runs by operation, lane and how they ended");
    describe_counter!("racelab_failures_total", "Failures recorded, by kind (a gap is `incomplete`)");
    describe_counter!("racelab_alerts_sent_total", "Alerts delivered, by whether they open or resolve an incident");
    describe_gauge!("racelab_quota_used_requests", "Requests counted today (KST) per dataset");
    describe_gauge!("racelab_quota_left_requests", "Requests left today (KST) per dataset with a quota");
    describe_gauge!("racelab_queue_depth_jobs", "Queued jobs by source and lane");
    describe_gauge!("racelab_failures_open", "Unresolved failures by source");
    describe_gauge!("racelab_drift_fields", "Fields drifted per dataset: unmapped (new in responses) or missing");
    describe_gauge!("racelab_plugin_info", "The plugin version each source runs (always 1)");
    describe_gauge!("process_resident_memory_bytes", Unit::Bytes, "Resident memory of the host process");
}

/// Dataset labels kept per source; a plugin naming more (it is untrusted code) has the rest
/// counted under `other`, so no plugin can grow the page and the host's memory without bound.
const MAX_DATASETS_PER_SOURCE: usize = 64;
/// The longest dataset name kept as a label.
const MAX_DATASET_LABEL: usize = 64;

/// The label of `dataset` of `source`: itself while the source has named few enough.
fn dataset_label(source: &str, dataset: &str) -> String {
    static SEEN: Mutex<BTreeMap<String, BTreeSet<String>>> = Mutex::new(BTreeMap::new());
    let mut seen = SEEN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let known = seen.entry(source.to_string()).or_default();
    if known.contains(dataset) {
        return dataset.to_string();
    }
    if known.len() < MAX_DATASETS_PER_SOURCE && dataset.len() <= MAX_DATASET_LABEL {
        known.insert(dataset.to_string());
        return dataset.to_string();
    }
    "other".to_string()
}

/// One request to a source and how it ended: its HTTP status, or none.
pub fn fetched(source: &str, dataset: &str, status: Option<u16>, elapsed: Duration) {
    let outcome = match status {
        Some(200..=299) => "ok",
        Some(_) => "http_error",
        None => "transport_error",
    };
    let (source, dataset) = (source.to_string(), dataset_label(source, dataset));
    histogram!("racelab_fetch_duration_seconds", "source" => source.clone(), "dataset" => dataset.clone(), "outcome" => outcome)
        .record(elapsed.as_secs_f64());
    let status = status.map_or_else(|| "none".to_string(), |s| s.to_string());
    counter!("racelab_fetch_responses_total", "source" => source, "dataset" => dataset, "status" => status)
        .increment(1);
}

/// Rows a job wrote, by table.
pub fn rows_written(written: &crate::store::WriteStats) {
    for (table, n) in [
        ("races", written.races),
        ("entries", written.entries),
        ("odds_snapshots", written.odds_inserted),
        ("results", written.results),
        ("dividends", written.dividends),
    ] {
        if n > 0 {
            counter!("racelab_rows_written_total", "table" => table).increment(n);
        }
    }
}

/// A job run that ended as `result`.
pub fn job_ended(op: &str, lane: &str, result: &'static str) {
    counter!("racelab_jobs_total", "op" => op.to_string(), "lane" => lane.to_string(), "result" => result).increment(1);
}

/// A failure of `kind` recorded.
pub fn failure(kind: &'static str) {
    counter!("racelab_failures_total", "kind" => kind).increment(1);
}

/// An alert delivered: one that opens an incident, or one that says it is resolved.
pub fn alert_sent(resolved: bool) {
    counter!("racelab_alerts_sent_total", "state" => if resolved { "resolved" } else { "open" }).increment(1);
}

/// The process's resident memory, from `/proc/self/status` (Linux); `None` elsewhere.
pub fn resident_memory_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_what_was_counted_with_its_labels() {
        let handle = handle().expect("the recorder installs");
        fetched("kra", "API214_1", Some(200), Duration::from_millis(30));
        fetched("kra", "API214_1", None, Duration::from_secs(2));
        job_ended("odds", "live", "done");
        failure("malformed");
        alert_sent(false);
        let page = handle.render();
        for line in [
            r#"racelab_fetch_duration_seconds_bucket{source="kra",dataset="API214_1",outcome="ok",le="0.05"}"#,
            r#"racelab_fetch_responses_total{source="kra",dataset="API214_1",status="none"}"#,
            r#"racelab_jobs_total{op="odds",lane="live",result="done"}"#,
            r#"racelab_failures_total{kind="malformed"}"#,
            r#"racelab_alerts_sent_total{state="open"}"#,
            "# TYPE racelab_fetch_duration_seconds histogram",
        ] {
            assert!(page.contains(line), "{line} not in\n{page}");
        }
    }

    #[test]
    fn a_plugin_naming_endless_datasets_gets_a_bounded_number_of_labels() {
        let labels: BTreeSet<String> = (0..500).map(|n| dataset_label("flood", &format!("DS{n}"))).collect();
        assert_eq!(labels.len(), MAX_DATASETS_PER_SOURCE + 1, "{labels:?}");
        assert!(labels.contains("other"));
        assert_eq!(dataset_label("flood", "DS3"), "DS3", "a known dataset keeps its label");
        assert_eq!(dataset_label("other-source", &"x".repeat(200)), "other", "a long name is not a label");
        assert_eq!(dataset_label("other-source", "API214_1"), "API214_1");
    }

    #[test]
    fn resident_memory_is_read_on_linux() {
        let rss = resident_memory_bytes().expect("VmRSS");
        assert!(rss > 1 << 20, "{rss}");
    }
}
