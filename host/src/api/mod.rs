//! The HTTP side of `racelab serve`: probes, the admin API and its OpenAPI document.
//!
//! | path | answers |
//! |---|---|
//! | `GET /healthz` | 200 while the process runs (liveness: restart me if this stops) |
//! | `GET /readyz` | 200 when the database answers within a second, else 503 (take me out of rotation) |
//! | `GET /status` | JSON: jobs by state for today (KST), open failures, per track today, this worker's counters, each source's health, drift, backfill runs |
//! | `GET /api/openapi.json` | the OpenAPI 3 document of everything under `/api`, generated from the handlers |
//! | `GET /api/status` | per source and dataset: plugin, health, last success, next job, queue by lane, quota, pauses, failures, drift; per track today |
//! | `GET /api/failures`, `POST /api/failures/{id}/retry`, `POST /api/failures/retry` | failures and gaps, paged and filtered; retrying them (`failures.rs`) |
//! | `GET /api/races`, `/api/races/{id}`, `/api/races/{id}/odds` | race days as stored (`races.rs`) |
//! | `GET /api/backfill` | backfill runs and their progress |
//! | `/api/plugins…` | the plugin registry (`admin.rs`) |
//! | `GET /metrics` | Prometheus text format (`metrics.rs`, names in `telemetry.rs`) |
//! | `GET /`, `/assets/…` | the dashboard (`dashboard.rs`), embedded in the binary |
//!
//! Changes need the admin token (`auth.rs`); every answer carries a request id, and errors are
//! JSON with a fixed text (`error.rs`).

pub mod admin;
pub mod auth;
pub mod backfill;
pub mod dashboard;
pub mod error;
pub mod failures;
pub mod metrics;
pub mod races;
pub mod status;

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use axum::Router;
use axum::extract::{FromRef, State};
use axum::http::{StatusCode, header};
use axum::middleware;
use axum::response::{IntoResponse, Json, Response};
use axum::routing::get;
use serde_json::json;
use utoipa::OpenApi;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::admin::AdminState;
use self::error::ApiError;
use crate::daemon::Daemon;
use crate::jobs::ledger;
use crate::jobs::worker::Worker;
use crate::secret::Secret;

/// What the handlers read.
#[derive(Clone)]
pub struct ApiState {
    pub pool: sqlx::PgPool,
    pub worker: Worker,
    pub clock: crate::clock::Clock,
    /// The cadence's `odds_stop_after_no_data`, to tell which track-days stopped polling.
    pub odds_stop_after_no_data: u32,
    /// `RACELAB_ADMIN_TOKEN`; `None` turns every change through the API off.
    pub token: Option<Secret>,
    /// The plugin registry and the runtime that checks what is installed.
    pub registry: crate::plugins::registry::Registry,
    pub runtime: Arc<crate::plugins::Runtime>,
}

impl ApiState {
    /// The state of a started daemon, with the admin token `token`.
    pub fn of(daemon: &Daemon, token: Option<Secret>) -> Self {
        ApiState {
            pool: daemon.pool.clone(),
            worker: daemon.worker.clone(),
            clock: daemon.clock.clone(),
            odds_stop_after_no_data: daemon.planner.cadence().odds_stop_after_no_data,
            token,
            registry: daemon.registry.clone(),
            runtime: daemon.runtime.clone(),
        }
    }
}

impl std::fmt::Debug for ApiState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiState")
            .field("worker", &self.worker)
            .field("token_set", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

impl FromRef<ApiState> for AdminState {
    fn from_ref(state: &ApiState) -> Self {
        AdminState { registry: state.registry.clone(), runtime: state.runtime.clone(), token: state.token.clone() }
    }
}

/// The document's frame: title, tags, the admin token's scheme. The paths come from the
/// handlers (`routes`).
#[derive(OpenApi)]
#[openapi(
    info(
        title = "RaceLab host",
        description = "The admin API of a RaceLab ingestion host. Reads are open; every change needs `Authorization: Bearer <RACELAB_ADMIN_TOKEN>` and is off when the host has no token. Errors are `{\"error\", \"request_id\"}`; the request id is also in the `x-request-id` header of every answer."
    ),
    modifiers(&AdminTokenScheme),
    tags(
        (name = "status", description = "What the host is doing"),
        (name = "failures", description = "Failures and gaps, and retrying them"),
        (name = "races", description = "Race days as stored"),
        (name = "backfill", description = "Backfill runs"),
        (name = "plugins", description = "The plugin registry"),
    )
)]
struct ApiDoc;

struct AdminTokenScheme;

impl utoipa::Modify for AdminTokenScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(auth::SCHEME, SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)));
    }
}

/// Every `/api` route with its part of the document.
pub fn routes() -> OpenApiRouter<ApiState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(status::status))
        .routes(routes!(failures::list))
        .routes(routes!(failures::retry_all))
        .routes(routes!(failures::retry_one))
        .routes(routes!(races::list))
        .routes(routes!(races::detail))
        .routes(routes!(races::odds))
        .routes(routes!(backfill::runs))
        .merge(admin::routes())
}

/// The OpenAPI document of the API.
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes().into_openapi()
}

/// Every route of the host.
pub fn router(state: ApiState) -> Router {
    crate::telemetry::handle();
    let (api, doc) = routes().split_for_parts();
    let doc: Arc<str> = doc.to_pretty_json().unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}")).into();
    let router = api
        .route(
            "/api/openapi.json",
            get(move || async move { ([(header::CONTENT_TYPE, "application/json")], doc.to_string()) }),
        )
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/status", get(legacy_status))
        .route("/metrics", get(metrics::metrics))
        .route("/", get(dashboard::index))
        .route("/assets/{name}", get(dashboard::asset))
        .with_state(state);
    finish(router)
}

/// The answers every router of the host shares: JSON for a path or method it does not have,
/// and a request id on every answer.
pub(crate) fn finish(router: Router) -> Router {
    router
        .fallback(error::no_route)
        .method_not_allowed_fallback(error::wrong_method)
        .layer(middleware::from_fn(error::with_request_id))
}

async fn readyz(State(state): State<ApiState>) -> Response {
    let ping = sqlx::query_scalar::<_, i32>("SELECT 1").fetch_one(&state.pool);
    match tokio::time::timeout(Duration::from_secs(1), ping).await {
        Ok(Ok(_)) => (StatusCode::OK, "ready\n").into_response(),
        Ok(Err(e)) => {
            tracing::warn!(request_id = %error::request_id(), "not ready: the database failed: {e}");
            (StatusCode::SERVICE_UNAVAILABLE, "not ready: the database failed (see the log)\n").into_response()
        }
        Err(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "not ready: the database did not answer within 1 s\n").into_response()
        }
    }
}

/// The summary `/status` has answered since the first release; `/api/status` is the API's.
async fn legacy_status(State(state): State<ApiState>) -> Response {
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
        (Ok(jobs), Ok(open), Ok(tracks)) => Json(json!({
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
        }))
        .into_response(),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => ApiError::unavailable("reading /status", e).into_response(),
    }
}
