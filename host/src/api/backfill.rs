//! `GET /api/backfill`: the backfill runs and how far each has come.

use axum::extract::{Query, State};
use axum::response::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::error::{ApiError, ErrorBody};
use crate::jobs::ledger::backfill::{RunCounts, RunRow};

/// How many runs.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BackfillQuery {
    /// The newest runs to show, 1 to 100 (default 10).
    #[param(minimum = 1, maximum = 100)]
    pub latest: Option<i64>,
}

/// One run.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackfillRun {
    pub run: RunRow,
    pub counts: RunCounts,
    /// The run in one line, as `racelab backfill --status` prints it.
    pub summary: String,
}

#[utoipa::path(
    get,
    path = "/api/backfill",
    tag = "backfill",
    summary = "Backfill runs, newest first, with their progress",
    params(BackfillQuery),
    responses(
        (status = 200, description = "The runs", body = Vec<BackfillRun>),
        (status = 400, description = "latest out of range", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn runs(
    State(state): State<ApiState>,
    query: Result<Query<BackfillQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<BackfillRun>>, ApiError> {
    let latest = match query {
        Ok(Query(BackfillQuery { latest: None })) => 10,
        Ok(Query(BackfillQuery { latest: Some(n) })) if (1..=100).contains(&n) => n,
        _ => return Err(ApiError::bad_request("latest is 1 to 100")),
    };
    let runs = crate::jobs::backfill::status(&state.pool, latest)
        .await
        .map_err(|e| ApiError::unavailable("reading backfill runs", e))?;
    Ok(Json(runs.into_iter().map(|s| BackfillRun { summary: s.line(), run: s.run, counts: s.counts }).collect()))
}
