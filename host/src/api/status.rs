//! `GET /api/status`: what the host is doing, per source and dataset, and today's race days.

use std::collections::{BTreeMap, BTreeSet};

use axum::extract::State;
use axum::response::Json;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::ApiState;
use super::error::{ApiError, ErrorBody};
use crate::jobs::gaps::TrackToday;
use crate::jobs::health::Health;

/// The host's picture of its work.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// Today in Korea (KST) on the host's clock: the day `tracks_today` is about.
    pub kst_date: NaiveDate,
    /// The host's clock.
    pub now: DateTime<Utc>,
    /// The answering process's worker name.
    pub worker: String,
    pub sources: Vec<SourceStatus>,
    /// Every track racing today.
    pub tracks_today: Vec<TrackToday>,
}

/// One source.
#[derive(Debug, Serialize, ToSchema)]
pub struct SourceStatus {
    pub source: String,
    /// The plugin version this process runs for the source (`name version`).
    pub plugin: String,
    /// The answering process's view of the source's recent jobs.
    pub health: Health,
    /// Plugin calls that ran past their deadline and are still held.
    pub stuck_calls: u64,
    /// When a job of the source last succeeded (any host).
    pub last_success: Option<DateTime<Utc>>,
    /// When a job of the source last failed for good, or a gap was found.
    pub last_failure: Option<DateTime<Utc>>,
    /// The queued job due first.
    pub next_due: Option<NextJob>,
    /// Queued jobs by lane.
    pub queue: Lanes,
    /// Queued jobs waiting to be tried again after a failed attempt (backing off).
    pub retrying: i64,
    /// Queued jobs held until a quota resets.
    pub paused: i64,
    /// Unresolved failures.
    pub open_failures: i64,
    pub datasets: Vec<DatasetStatus>,
}

/// A queued job.
#[derive(Debug, Serialize, ToSchema, sqlx::FromRow)]
pub struct NextJob {
    pub op: String,
    pub track: String,
    pub race_date: NaiveDate,
    /// 0 for a whole-day operation.
    pub race_number: i16,
    pub lane: String,
    /// When it runs at the earliest: its slot, or later while its quota is spent.
    pub due: DateTime<Utc>,
}

/// Counts by lane.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct Lanes {
    pub live: i64,
    pub backfill: i64,
}

/// One dataset of a source: its quota today, whether it is held up, its drift.
#[derive(Debug, Default, Serialize, ToSchema)]
pub struct DatasetStatus {
    pub dataset: String,
    /// Requests allowed per KST day; none is unlimited.
    pub daily_quota: Option<u32>,
    /// Of which backfill may use.
    pub backfill_quota: Option<u32>,
    /// Requests per second across all hosts; none is unlimited.
    pub per_second: Option<u32>,
    /// Requests counted today (KST).
    pub used_today: i64,
    /// Requests left today; none when unlimited.
    pub left_today: Option<i64>,
    /// The quota is spent until `quota_resets_at`.
    pub exhausted: bool,
    pub quota_resets_at: DateTime<Utc>,
    /// The source asked to wait: nothing is sent before this (real time, whatever clock the
    /// host plans on).
    pub paused_until: Option<DateTime<Utc>>,
    /// Response fields the plugin does not map.
    pub drift_unmapped: i64,
    /// Fields the plugin expects that the responses lack.
    pub drift_missing: i64,
}

/// The job figures of each source, from the database (every host's jobs).
type SourceRow = (String, Option<DateTime<Utc>>, Option<DateTime<Utc>>, i64, i64, i64, i64, i64);

#[utoipa::path(
    get,
    path = "/api/status",
    tag = "status",
    summary = "What the host is doing",
    description = "Per source: plugin, health, last success and failure, next due job, queue depth by lane, jobs retrying or paused, open failures, and per dataset the quota used and left today, a pause the source asked for, and drift. Per track racing today (KST): races, with results, with final odds, gaps.",
    responses(
        (status = 200, description = "The status", body = Status),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    )
)]
pub async fn status(State(state): State<ApiState>) -> Result<Json<Status>, ApiError> {
    let now = state.clock.now().to_utc();
    let today = state.clock.today();
    let plugins = state.worker.plugins();
    let names: Vec<String> = plugins.iter().map(|(name, _, _)| name.clone()).collect();
    let sources: Vec<SourceRow> = sqlx::query_as(
        "SELECT s.source,
                (SELECT max(j.finished_at) FROM planned_jobs j WHERE j.state = 'done' AND j.source = s.source),
                (SELECT max(f.occurred_at) FROM ingestion_failures f WHERE f.source = s.source),
                (SELECT count(*) FROM planned_jobs j WHERE j.state = 'queued' AND j.source = s.source AND j.lane = 'live'),
                (SELECT count(*) FROM planned_jobs j WHERE j.state = 'queued' AND j.source = s.source AND j.lane = 'backfill'),
                (SELECT count(*) FROM planned_jobs j WHERE j.state = 'queued' AND j.source = s.source AND j.attempts > 0),
                (SELECT count(*) FROM planned_jobs j WHERE j.state = 'queued' AND j.source = s.source AND j.not_before > $2),
                (SELECT count(*) FROM ingestion_failures f WHERE f.resolved_at IS NULL AND f.source = s.source)
         FROM unnest($1::text[]) AS s(source)",
    )
    .bind(&names)
    .bind(now)
    .fetch_all(&state.pool)
    .await
    .map_err(|e| ApiError::unavailable("reading the sources' jobs for /api/status", e))?;
    let next: Vec<(String, NextJob)> = sqlx::query_as::<_, NextRow>(
        "SELECT DISTINCT ON (source) source, op, track, race_date, race_number, lane,
                GREATEST(slot, COALESCE(not_before, slot)) AS due
         FROM planned_jobs WHERE state = 'queued' AND source = ANY($1)
         ORDER BY source, GREATEST(slot, COALESCE(not_before, slot))",
    )
    .bind(&names)
    .fetch_all(&state.pool)
    .await
    .map_err(|e| ApiError::unavailable("reading the next jobs for /api/status", e))?
    .into_iter()
    .map(NextRow::split)
    .collect();
    let mut datasets = datasets(&state, today).await?;
    let tracks_today = crate::jobs::gaps::track_days(&state.pool, today, state.odds_stop_after_no_data)
        .await
        .map_err(|e| ApiError::unavailable("reading today's tracks for /api/status", e))?;
    let figures = state.worker.stats().sources.snapshot();
    let mut next: BTreeMap<String, NextJob> = next.into_iter().collect();
    let mut rows: BTreeMap<String, SourceRow> = sources.into_iter().map(|row| (row.0.clone(), row)).collect();
    let sources = plugins
        .into_iter()
        .map(|(name, plugin, stuck)| {
            let f = figures.get(&name).cloned().unwrap_or_default();
            let (_, last_success, last_failure, live, backfill, retrying, paused, open_failures) =
                rows.remove(&name).unwrap_or_default();
            SourceStatus {
                next_due: next.remove(&name),
                datasets: datasets.remove(&name).unwrap_or_default(),
                source: name,
                plugin,
                health: f.health(),
                stuck_calls: stuck as u64,
                last_success,
                last_failure,
                queue: Lanes { live, backfill },
                retrying,
                paused,
                open_failures,
            }
        })
        .collect();
    Ok(Json(Status { kst_date: today, now, worker: state.worker.name().to_string(), sources, tracks_today }))
}

#[derive(sqlx::FromRow)]
struct NextRow {
    source: String,
    #[sqlx(flatten)]
    job: NextJob,
}

impl NextRow {
    fn split(self) -> (String, NextJob) {
        (self.source, self.job)
    }
}

/// Every dataset each source has limits, use, a pause or drift on, by source.
pub(super) async fn datasets(
    state: &ApiState,
    today: NaiveDate,
) -> Result<BTreeMap<String, Vec<DatasetStatus>>, ApiError> {
    let budget = state.worker.budget();
    // This process's counts not yet written go in first.
    budget.flush_or_warn().await;
    let used: Vec<(String, String, i32)> =
        sqlx::query_as("SELECT source, dataset, used FROM quota_usage WHERE kst_day = $1")
            .bind(today)
            .fetch_all(&state.pool)
            .await
            .map_err(|e| ApiError::unavailable("reading quota use by dataset", e))?;
    let paused: Vec<(String, String, DateTime<Utc>)> =
        sqlx::query_as("SELECT source, dataset, paused_until FROM rate_slots WHERE paused_until > clock_timestamp()")
            .fetch_all(&state.pool)
            .await
            .map_err(|e| ApiError::unavailable("reading pauses by dataset", e))?;
    let drift = crate::store::drift_by_dataset(&state.pool)
        .await
        .map_err(|e| ApiError::unavailable("reading drift by dataset", e))?;
    let mut keys: BTreeSet<(String, String)> = BTreeSet::new();
    keys.extend(budget.limits().into_iter().map(|(b, _)| (b.source, b.dataset)));
    keys.extend(used.iter().map(|(s, d, _)| (s.clone(), d.clone())));
    keys.extend(paused.iter().map(|(s, d, _)| (s.clone(), d.clone())));
    keys.extend(drift.iter().map(|d| (d.source.clone(), d.dataset.clone())));
    let resets = budget.quota_resets_at();
    let mut out: BTreeMap<String, Vec<DatasetStatus>> = BTreeMap::new();
    for (source, dataset) in keys {
        let limit = budget.limit_of(&source, &dataset);
        let used_today =
            used.iter().find(|(s, d, _)| *s == source && *d == dataset).map_or(0, |(_, _, n)| i64::from(*n));
        let left_today = limit.daily_quota.map(|q| (i64::from(q) - used_today).max(0));
        let drift = drift.iter().find(|d| d.source == source && d.dataset == dataset);
        out.entry(source.clone()).or_default().push(DatasetStatus {
            daily_quota: limit.daily_quota,
            backfill_quota: budget.backfill_quota(&source, &dataset),
            per_second: limit.per_second.filter(|n| *n > 0),
            used_today,
            left_today,
            exhausted: left_today == Some(0),
            quota_resets_at: resets,
            paused_until: paused.iter().find(|(s, d, _)| *s == source && *d == dataset).map(|(_, _, at)| *at),
            drift_unmapped: drift.map_or(0, |d| d.unmapped.len() as i64),
            drift_missing: drift.map_or(0, |d| d.missing.len() as i64),
            dataset,
        });
    }
    Ok(out)
}
