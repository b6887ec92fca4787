//! The HTTP side of `racelab serve`: liveness, readiness and a status summary.
//!
//! | path | answers |
//! |---|---|
//! | `GET /healthz` | 200 while the process runs (liveness: restart me if this stops) |
//! | `GET /readyz` | 200 when the database answers within a second, else 503 (take me out of rotation) |
//! | `/api/plugins…` | the plugin registry (`admin.rs`) |
//! | `GET /status` | JSON: jobs by state for today (KST), open failures, per track today (races, results final, final odds, gaps, pre-race odds stopped), this worker's counters, each source's health, each dataset's drift (unmapped and missing fields) |

pub mod admin;

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json};
use axum::routing::get;
use serde_json::json;

use crate::daemon::Daemon;
use crate::jobs::ledger;
use crate::jobs::worker::Worker;

/// What the handlers read.
#[derive(Debug, Clone)]
pub struct ApiState {
    pub pool: sqlx::PgPool,
    pub worker: Worker,
    pub clock: crate::clock::Clock,
    /// The cadence's `odds_stop_after_no_data`, to tell which track-days stopped polling.
    pub odds_stop_after_no_data: u32,
}

impl ApiState {
    /// The state of a started daemon.
    pub fn of(daemon: &Daemon) -> Self {
        ApiState {
            pool: daemon.pool.clone(),
            worker: daemon.worker.clone(),
            clock: daemon.clock.clone(),
            odds_stop_after_no_data: daemon.planner.cadence().odds_stop_after_no_data,
        }
    }
}

/// The routes.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/status", get(status))
        .with_state(state)
}

async fn readyz(State(state): State<ApiState>) -> impl IntoResponse {
    let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.pool);
    match tokio::time::timeout(Duration::from_secs(1), ping).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n".to_string()),
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("database error: {e}\n")),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "the database did not answer within 1 s\n".to_string()),
    }
}

async fn status(State(state): State<ApiState>) -> impl IntoResponse {
    let today = state.clock.today();
    let jobs = ledger::jobs_by_op_and_state(&state.pool, today).await;
    let open = ledger::open_failures(&state.pool).await;
    let tracks = crate::jobs::gaps::track_days(&state.pool, today, state.odds_stop_after_no_data).await;
    // Drift is a help, not a condition of the page: a read error leaves it out.
    let drift = crate::store::drift_by_dataset(&state.pool).await.unwrap_or_else(|e| {
        tracing::warn!("/status without drift: {e}");
        Vec::new()
    });
    // Backfill runs are shown, not required: a read error leaves them out.
    let backfill = crate::jobs::backfill::status(&state.pool, 5).await.unwrap_or_else(|e| {
        tracing::warn!("/status without backfill runs: {e}");
        Vec::new()
    });
    let s = state.worker.stats();
    let figures = s.sources.snapshot();
    let sources: serde_json::Map<String, serde_json::Value> = state
        .worker
        .plugins()
        .into_iter()
        .map(|(name, plugin, stuck)| {
            let f = figures.get(&name).cloned().unwrap_or_default();
            let value = json!({
                "plugin": plugin,
                "health": f.health(),
                "stuck_calls": stuck,
                "jobs_done": f.done,
                "jobs_failed": f.failed,
                "jobs_timed_out": f.timed_out,
                "failures_in_a_row": f.failures_in_a_row,
                "last_success": f.last_success,
                "last_failure": f.last_failure,
            });
            (name, value)
        })
        .collect();
    match (jobs, open, tracks) {
        (Ok(jobs), Ok(open), Ok(tracks)) => (
            StatusCode::OK,
            Json(json!({
                "kst_date": today,
                "jobs_today": jobs.into_iter().map(|(op, st, n)| json!({"op": op.as_str(), "state": st.as_str(), "count": n})).collect::<Vec<_>>(),
                "open_failures": open,
                "tracks_today": tracks,
                "sources": sources,
                "drift": drift,
                "backfill": backfill,
                "worker": {
                    "name": state.worker.name(),
                    "done": s.done.load(Relaxed),
                    "no_data": s.no_data.load(Relaxed),
                    "retried": s.retried.load(Relaxed),
                    "failed": s.failed.load(Relaxed),
                    "superseded": s.superseded.load(Relaxed),
                    "paused": s.paused.load(Relaxed),
                    "requests": s.requests.load(Relaxed),
                },
            })),
        ),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "error": e.to_string() })))
        }
    }
}
