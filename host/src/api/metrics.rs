//! `GET /metrics`: the Prometheus text page. What the host counted as it worked
//! (`telemetry.rs`), and what it reads from the database as the page is asked for.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use std::collections::BTreeMap;
use std::sync::Mutex;

use metrics::gauge;

use super::ApiState;
use super::error::ApiError;

/// The content type of the Prometheus text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

pub async fn metrics(State(state): State<ApiState>) -> Response {
    let Some(handle) = crate::telemetry::handle() else {
        return ApiError::new(StatusCode::NOT_FOUND, "metrics are off in this process").into_response();
    };
    // The page still answers with what was counted when the database does not.
    if let Err(e) = read_gauges(&state).await {
        tracing::warn!(request_id = %super::error::request_id(), "/metrics without the database's figures: {e}");
    }
    if let Some(rss) = crate::telemetry::resident_memory_bytes() {
        gauge!("process_resident_memory_bytes").set(rss as f64);
    }
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, TEXT_FORMAT)], handle.render()).into_response()
}

/// Sets the gauges read from the database: quota, queue depth, open failures, drift, plugins.
async fn read_gauges(state: &ApiState) -> anyhow::Result<()> {
    let pool = &state.pool;
    // The datasets' quota use and drift, as /api/status computes them (its errors are logged
    // there, under the request id).
    let datasets = super::status::datasets(state, state.clock.today())
        .await
        .map_err(|_| anyhow::anyhow!("the datasets' quota and drift could not be read"))?;
    for (source, d) in datasets.iter().flat_map(|(source, ds)| ds.iter().map(move |d| (source, d))) {
        let labels = || [("source", source.clone()), ("dataset", d.dataset.clone())];
        if d.used_today > 0 || d.daily_quota.is_some() {
            gauge!("racelab_quota_used_requests", &labels()).set(d.used_today as f64);
        }
        if let Some(left) = d.left_today {
            gauge!("racelab_quota_left_requests", &labels()).set(left as f64);
        }
        if d.drift_unmapped + d.drift_missing > 0 {
            for (kind, n) in [("unmapped", d.drift_unmapped), ("missing", d.drift_missing)] {
                let labels = [("source", source.clone()), ("dataset", d.dataset.clone()), ("kind", kind.to_string())];
                gauge!("racelab_drift_fields", &labels).set(n as f64);
            }
        }
    }
    let queued: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT s.source, l.lane,
                (SELECT count(*) FROM planned_jobs j WHERE j.state = 'queued' AND j.source = s.source AND j.lane = l.lane)
         FROM unnest($1::text[]) AS s(source) CROSS JOIN (VALUES ('live'), ('backfill')) AS l(lane)",
    )
    .bind(state.worker.plugins().into_iter().map(|(name, _, _)| name).collect::<Vec<_>>())
    .fetch_all(pool)
    .await?;
    for (source, lane, n) in queued {
        gauge!("racelab_queue_depth_jobs", "source" => source, "lane" => lane).set(n as f64);
    }
    let open: Vec<(String, i64)> =
        sqlx::query_as("SELECT source, count(*) FROM ingestion_failures WHERE resolved_at IS NULL GROUP BY source")
            .fetch_all(pool)
            .await?;
    for (source, n) in open {
        gauge!("racelab_failures_open", "source" => source).set(n as f64);
    }
    plugin_info(state.worker.plugins().into_iter().map(|(source, plugin, _)| (source, plugin)));
    Ok(())
}

/// `racelab_plugin_info{source, plugin, version} 1` for the version each source runs; the
/// version it ran before drops to 0, so a query for `== 1` finds one version per source.
fn plugin_info(running: impl Iterator<Item = (String, String)>) {
    static SHOWN: Mutex<BTreeMap<String, String>> = Mutex::new(BTreeMap::new());
    let mut shown = SHOWN.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let info = |source: &str, label: &str, value: f64| {
        let (name, version) = label.split_once(' ').unwrap_or((label, ""));
        gauge!("racelab_plugin_info", "source" => source.to_string(), "plugin" => name.to_string(), "version" => version.to_string())
            .set(value);
    };
    for (source, label) in running {
        if let Some(before) = shown.insert(source.clone(), label.clone())
            && before != label
        {
            info(&source, &before, 0.0);
        }
        info(&source, &label, 1.0);
    }
}
