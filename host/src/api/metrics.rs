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
    let today = state.clock.today();
    let budget = state.worker.budget();
    budget.flush_or_warn().await;
    let used: Vec<(String, String, i32)> =
        sqlx::query_as("SELECT source, dataset, used FROM quota_usage WHERE kst_day = $1")
            .bind(today)
            .fetch_all(pool)
            .await?;
    for (source, dataset, n) in &used {
        gauge!("racelab_quota_used_requests", "source" => source.clone(), "dataset" => dataset.clone())
            .set(f64::from(*n));
    }
    for (bucket, limit) in budget.limits() {
        let Some(quota) = limit.daily_quota else { continue };
        let n = used.iter().find(|(s, d, _)| *s == bucket.source && *d == bucket.dataset).map_or(0, |(_, _, n)| *n);
        let left = (i64::from(quota) - i64::from(n)).max(0);
        gauge!("racelab_quota_left_requests", "source" => bucket.source.clone(), "dataset" => bucket.dataset.clone())
            .set(left as f64);
        if n == 0 {
            gauge!("racelab_quota_used_requests", "source" => bucket.source, "dataset" => bucket.dataset).set(0.0);
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
    let drift = crate::store::drift_by_dataset(pool).await?;
    for d in drift {
        for (kind, n) in [("unmapped", d.unmapped.len()), ("missing", d.missing.len())] {
            gauge!("racelab_drift_fields", "source" => d.source.clone(), "dataset" => d.dataset.clone(), "kind" => kind)
                .set(n as f64);
        }
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
