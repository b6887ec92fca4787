//! `/api/failures`: what failed for good and the gaps, and retrying them.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::ApiState;
use super::auth::require_admin;
use super::error::{ApiError, ErrorBody, text};
use crate::jobs::retry::{Retried, retry_failure};
use crate::jobs::{FailureKind, JobError};

/// Which failures by their state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FailureState {
    /// Not resolved yet.
    #[default]
    Open,
    Resolved,
    All,
}

/// The filter and page of a failure listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FailureQuery {
    /// `open` (the default), `resolved` or `all`.
    #[serde(default)]
    #[param(inline)]
    pub state: FailureState,
    /// The error kind (`transient`, `malformed`, `plugin_fault`, `incomplete`, …).
    pub kind: Option<String>,
    /// The source (`kra`, `kspo`).
    pub source: Option<String>,
    /// The page, from 1.
    #[param(minimum = 1, maximum = 1_000_000)]
    pub page: Option<u32>,
    /// Failures per page, 1 to 500 (default 50).
    #[param(minimum = 1, maximum = 500)]
    pub per_page: Option<u32>,
}

/// A page of failures, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct FailurePage {
    /// Failures matching the filter, on all pages.
    pub total: i64,
    pub page: u32,
    pub per_page: u32,
    pub failures: Vec<Failure>,
}

/// One failure (`ingestion_failures`).
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct Failure {
    pub id: i64,
    pub occurred_at: DateTime<Utc>,
    pub source: String,
    pub dataset: Option<String>,
    pub operation: String,
    pub track: Option<String>,
    pub race_date: Option<NaiveDate>,
    pub race_number: Option<i16>,
    /// `transient`, `malformed`, `plugin_fault`, `incomplete` (a gap), ….
    pub kind: String,
    pub message: String,
    pub attempts: i32,
    pub resolved_at: Option<DateTime<Utc>>,
    /// The job that failed, if it was a job's.
    pub planned_job: Option<i64>,
    /// The archived response it failed on, if kept.
    pub raw_response_id: Option<i64>,
    /// Whether `POST /api/failures/{id}/retry` can queue it again.
    pub retryable: bool,
}

/// Bounds a page request: (page from 1, per page 1..=500, offset).
fn page_of(q: &FailureQuery) -> Result<(u32, u32, i64), ApiError> {
    let page = q.page.unwrap_or(1);
    let per_page = q.per_page.unwrap_or(50);
    if page == 0 || page > 1_000_000 {
        return Err(ApiError::bad_request("page counts from 1 (at most 1000000)"));
    }
    if !(1..=500).contains(&per_page) {
        return Err(ApiError::bad_request("per_page is 1 to 500"));
    }
    Ok((page, per_page, i64::from(page - 1) * i64::from(per_page)))
}

/// The kind filter, checked against the known kinds.
fn kind_of(kind: Option<&str>) -> Result<Option<&'static str>, ApiError> {
    kind.map(|k| {
        FailureKind::parse(k).map(FailureKind::as_str).ok_or_else(|| {
            let known: Vec<&str> = FailureKind::ALL.iter().map(|k| k.as_str()).collect();
            ApiError::bad_request(format!("kind is one of {}", known.join(", ")))
        })
    })
    .transpose()
}

#[utoipa::path(
    get,
    path = "/api/failures",
    tag = "failures",
    summary = "Failures and gaps, newest first",
    params(FailureQuery),
    responses(
        (status = 200, description = "A page of failures", body = FailurePage),
        (status = 400, description = "A filter or page out of range", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<ApiState>,
    query: Result<Query<FailureQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<FailurePage>, ApiError> {
    let Query(q) = query.map_err(|e| ApiError::bad_request(format!("the query is not valid: {}", e.body_text())))?;
    let (page, per_page, offset) = page_of(&q)?;
    let kind = kind_of(q.kind.as_deref())?;
    let source = q.source.as_deref().map(|s| text("source", s)).transpose()?;
    let filter = "($1 = 'all' OR ($1 = 'open') = (resolved_at IS NULL))
                  AND ($2::text IS NULL OR error_kind = $2) AND ($3::text IS NULL OR source = $3)";
    let state_word = match q.state {
        FailureState::Open => "open",
        FailureState::Resolved => "resolved",
        FailureState::All => "all",
    };
    let total: i64 =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM ingestion_failures WHERE {filter}")))
            .bind(state_word)
            .bind(kind)
            .bind(q.source.as_deref())
            .fetch_one(&state.pool)
            .await
            .map_err(|e| ApiError::unavailable("counting failures", e))?;
    let failures: Vec<Failure> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "SELECT id, occurred_at, source, dataset, operation, track, race_date, race_number, error_kind AS kind,
                message, attempts, resolved_at, planned_job, raw_response_id,
                resolved_at IS NULL AND (planned_job IS NOT NULL OR error_kind = 'incomplete') AS retryable
         FROM ingestion_failures WHERE {filter} ORDER BY occurred_at DESC, id DESC LIMIT $4 OFFSET $5"
    )))
    .bind(state_word)
    .bind(kind)
    .bind(source)
    .bind(i64::from(per_page))
    .bind(offset)
    .fetch_all(&state.pool)
    .await
    .map_err(|e| ApiError::unavailable("listing failures", e))?;
    Ok(Json(FailurePage { total, page, per_page, failures }))
}

/// What a retry did with one failure.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryOutcome {
    pub failure: i64,
    /// The job queued again.
    pub job: i64,
    /// The queue's task carrying it; none when it was queued already.
    pub task: Option<String>,
    /// The job was queued already (retried before, not run yet).
    pub already_queued: bool,
}

impl From<Retried> for RetryOutcome {
    fn from(r: Retried) -> Self {
        match r {
            Retried::Queued { failure, job, task } => {
                RetryOutcome { failure, job, task: Some(task).filter(|t| !t.is_empty()), already_queued: false }
            }
            Retried::AlreadyQueued { failure, job } => RetryOutcome { failure, job, task: None, already_queued: true },
        }
    }
}

/// A retry's answer for a failure that cannot be retried, or the host's own trouble.
fn retry_error(e: JobError) -> ApiError {
    match e {
        JobError::NotRetryable { .. } => ApiError::new(StatusCode::CONFLICT, e.to_string()),
        e => ApiError::unavailable("retrying a failure", e),
    }
}

#[utoipa::path(
    post,
    path = "/api/failures/{id}/retry",
    tag = "failures",
    summary = "Queue the job behind a failure again, due now",
    description = "The failure stays open until the job succeeds. A gap queues the job that fills it.",
    params(("id" = i64, Path, description = "The failure's id", minimum = 1)),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "Queued", body = RetryOutcome),
        (status = 400, description = "Not a failure id", body = ErrorBody),
        (status = 401, description = "No valid admin token", body = ErrorBody),
        (status = 403, description = "Changes through the API are off on this host", body = ErrorBody),
        (status = 404, description = "No such failure", body = ErrorBody),
        (status = 409, description = "Resolved already, or not a job's failure", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn retry_one(
    State(state): State<ApiState>,
    headers: HeaderMap,
    id: Result<Path<i64>, axum::extract::rejection::PathRejection>,
) -> Result<Json<RetryOutcome>, ApiError> {
    require_admin(state.token.as_ref(), &headers)?;
    let Path(id) = id.map_err(|_| ApiError::bad_request("the failure id is a number"))?;
    let exists: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM ingestion_failures WHERE id = $1)")
        .bind(id)
        .fetch_one(&state.pool)
        .await
        .map_err(|e| ApiError::unavailable("reading a failure", e))?;
    if !exists {
        return Err(ApiError::not_found(format!("there is no failure {id}")));
    }
    let retried = retry_failure(&state.pool, &state.clock, id).await.map_err(retry_error)?;
    tracing::info!(failure = id, "failure retried through the API");
    Ok(Json(retried.into()))
}

/// Which open failures a bulk retry takes.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct RetryFilter {
    /// Only failures of this kind.
    pub kind: Option<String>,
    /// Only failures of this source.
    pub source: Option<String>,
}

/// What a bulk retry did.
#[derive(Debug, Serialize, ToSchema)]
pub struct RetryAll {
    pub retried: Vec<RetryOutcome>,
    /// Open failures that matched but cannot be retried, with why.
    pub refused: Vec<Refused>,
}

/// A failure a bulk retry left.
#[derive(Debug, Serialize, ToSchema)]
pub struct Refused {
    pub failure: i64,
    pub reason: String,
}

#[utoipa::path(
    post,
    path = "/api/failures/retry",
    tag = "failures",
    summary = "Queue the jobs behind every open failure again (or those of a kind or source)",
    params(RetryFilter),
    security(("admin_token" = [])),
    responses(
        (status = 200, description = "What was queued and what was not", body = RetryAll),
        (status = 400, description = "An unknown kind", body = ErrorBody),
        (status = 401, description = "No valid admin token", body = ErrorBody),
        (status = 403, description = "Changes through the API are off on this host", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn retry_all(
    State(state): State<ApiState>,
    headers: HeaderMap,
    filter: Result<Query<RetryFilter>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RetryAll>, ApiError> {
    require_admin(state.token.as_ref(), &headers)?;
    let Query(filter) =
        filter.map_err(|e| ApiError::bad_request(format!("the query is not valid: {}", e.body_text())))?;
    let kind = kind_of(filter.kind.as_deref())?;
    let source = filter.source.as_deref().map(|s| text("source", s)).transpose()?;
    let open = crate::jobs::ledger::open_retryable_where(&state.pool, kind, source)
        .await
        .map_err(|e| ApiError::unavailable("listing open failures", e))?;
    let mut out = RetryAll { retried: Vec::new(), refused: Vec::new() };
    for failure in open {
        match retry_failure(&state.pool, &state.clock, failure).await {
            Ok(r) => out.retried.push(r.into()),
            Err(JobError::NotRetryable { failure, reason }) => out.refused.push(Refused { failure, reason }),
            Err(e) => return Err(ApiError::unavailable("retrying open failures", e)),
        }
    }
    tracing::info!(retried = out.retried.len(), refused = out.refused.len(), "open failures retried through the API");
    Ok(Json(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(page: Option<u32>, per_page: Option<u32>) -> FailureQuery {
        FailureQuery { state: FailureState::Open, kind: None, source: None, page, per_page }
    }

    #[test]
    fn pages_count_from_one_and_stay_bounded() {
        assert_eq!(page_of(&q(None, None)).expect("default"), (1, 50, 0));
        assert_eq!(page_of(&q(Some(3), Some(20))).expect("third"), (3, 20, 40));
        assert_eq!(page_of(&q(Some(0), None)).expect_err("zero").status(), StatusCode::BAD_REQUEST);
        assert_eq!(page_of(&q(None, Some(501))).expect_err("too many").status(), StatusCode::BAD_REQUEST);
        assert_eq!(page_of(&q(None, Some(0))).expect_err("none").status(), StatusCode::BAD_REQUEST);
    }

    #[test]
    fn a_kind_filter_is_a_known_kind() {
        assert_eq!(kind_of(Some("plugin_fault")).expect("known"), Some("plugin_fault"));
        assert_eq!(kind_of(None).expect("none"), None);
        let unknown = kind_of(Some("boom")).expect_err("unknown");
        assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    }
}
