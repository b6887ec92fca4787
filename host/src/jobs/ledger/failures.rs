//! Failure rows that are not a run's: gaps (`incomplete`), and `racelab retry`.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};

use crate::budget::Lane;
use crate::jobs::{FailureKind, JobError, JobSpec, JobState, Op, db};

/// A gap to record: the race, the operation that would fill it and the job kept for
/// `racelab retry`.
#[derive(Debug)]
pub(crate) struct GapRow<'a> {
    pub source: &'a str,
    pub op: Op,
    pub track: &'a str,
    pub date: NaiveDate,
    pub number: u8,
    pub message: &'a str,
    pub job: serde_json::Value,
}

/// Records `gap` unless the race has that gap open already; returns whether it is new.
pub(crate) async fn record_gap(tx: &mut PgConnection, gap: &GapRow<'_>) -> Result<bool, JobError> {
    let inserted = sqlx::query(
        "INSERT INTO ingestion_failures (source, operation, track, race_date, race_number, error_kind, message,
                                         attempts, job)
         SELECT $1, $2, $3, $4, $5, 'incomplete', $6, 0, $7
         -- An open gap is skipped before the row draws an id (the sweep offers it every tick).
         WHERE NOT EXISTS (SELECT 1 FROM ingestion_failures o
                           WHERE o.error_kind = 'incomplete' AND o.resolved_at IS NULL
                             AND (o.source, o.operation, o.track, o.race_date, o.race_number) = ($1, $2, $3, $4, $5))
         ON CONFLICT (source, operation, track, race_date, race_number)
             WHERE error_kind = 'incomplete' AND resolved_at IS NULL DO NOTHING",
    )
    .bind(gap.source)
    .bind(gap.op)
    .bind(gap.track)
    .bind(gap.date)
    .bind(i16::from(gap.number))
    .bind(gap.message)
    .bind(&gap.job)
    .execute(&mut *tx)
    .await
    .map_err(db("recording a gap"))?
    .rows_affected();
    Ok(inserted > 0)
}

/// Resolves the gaps whose data is in now; returns the (source, track, date)s they leave with
/// no open gap.
pub(crate) async fn resolve_gaps(tx: &mut PgConnection) -> Result<Vec<(String, String, NaiveDate)>, JobError> {
    sqlx::query_as(
        "WITH resolved AS (
             UPDATE ingestion_failures f SET resolved_at = now()
             FROM race_progress r
             WHERE f.error_kind = 'incomplete' AND f.resolved_at IS NULL
               AND (r.track, r.race_date, r.race_number) = (f.track, f.race_date, f.race_number)
               AND CASE f.operation WHEN 'odds_final' THEN r.final_odds ELSE r.complete END
             RETURNING f.id, f.source, f.track, f.race_date)
         SELECT DISTINCT r.source, r.track, r.race_date FROM resolved r
         WHERE NOT EXISTS (SELECT 1 FROM ingestion_failures o
                           WHERE o.error_kind = 'incomplete' AND o.resolved_at IS NULL
                             AND o.id <> ALL (SELECT id FROM resolved)
                             AND (o.source, o.track, o.race_date) = (r.source, r.track, r.race_date))",
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(db("resolving gaps"))
}

/// Per track racing on `date`: races, with results final, with final odds, open gaps.
pub(crate) async fn track_day_counts(
    pool: &PgPool,
    date: NaiveDate,
) -> Result<Vec<(String, i64, i64, i64, i64)>, JobError> {
    sqlx::query_as(
        "SELECT r.track, count(*), count(*) FILTER (WHERE r.complete), count(*) FILTER (WHERE r.final_odds),
                (SELECT count(*) FROM ingestion_failures f
                 WHERE f.error_kind = 'incomplete' AND f.resolved_at IS NULL AND f.track = r.track
                   AND f.race_date = $1)
         FROM race_progress r WHERE r.race_date = $1 GROUP BY r.track ORDER BY r.track",
    )
    .bind(date)
    .fetch_all(pool)
    .await
    .map_err(db("reading today's tracks"))
}

// `racelab retry`.

/// Failure `id`, locked: its job, when it was resolved, its kind and the job it keeps.
pub(crate) type FailureRow = (Option<i64>, Option<DateTime<Utc>>, FailureKind, Option<serde_json::Value>);

/// Reads failure `id` and locks it until `tx` ends.
pub(crate) async fn lock_failure(tx: &mut PgConnection, id: i64) -> Result<Option<FailureRow>, JobError> {
    sqlx::query_as("SELECT planned_job, resolved_at, error_kind, job FROM ingestion_failures WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_optional(&mut *tx)
        .await
        .map_err(db(format!("reading failure {id}")))
}

/// Job `id`'s state, lane and operation, locked until `tx` ends.
pub(crate) async fn lock_job(tx: &mut PgConnection, id: i64) -> Result<(JobState, Lane, Op), JobError> {
    sqlx::query_as("SELECT state, lane, op FROM planned_jobs WHERE id = $1 FOR UPDATE")
        .bind(id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db(format!("reading job {id}")))
}

/// Job `id` queued again from scratch: no attempts, no pause.
pub(crate) async fn requeue(tx: &mut PgConnection, id: i64) -> Result<(), JobError> {
    sqlx::query(
        "UPDATE planned_jobs SET state = 'queued', attempts = 0, finished_at = NULL, not_before = NULL WHERE id = $1",
    )
    .bind(id)
    .execute(&mut *tx)
    .await
    .map_err(db(format!("re-queueing job {id}")))?;
    Ok(())
}

/// The planned job of `spec` and its task.
pub(crate) async fn job_of(tx: &mut PgConnection, spec: &JobSpec) -> Result<(i64, Option<String>), JobError> {
    sqlx::query_as(
        "SELECT id, task_id FROM planned_jobs
         WHERE (source, op, track, race_date, race_number, slot) = ($1, $2, $3, $4, $5, $6)",
    )
    .bind(&spec.source)
    .bind(spec.op)
    .bind(&spec.track)
    .bind(spec.race_date)
    .bind(i16::from(spec.race_number))
    .bind(spec.slot)
    .fetch_one(&mut *tx)
    .await
    .map_err(db("reading the queued job of a gap"))
}

/// The unresolved failures `racelab retry --all-open` can queue again (a job's, or a gap),
/// oldest first.
pub(crate) async fn open_retryable(pool: &PgPool) -> Result<Vec<i64>, JobError> {
    open_retryable_where(pool, None, None).await
}

/// [`open_retryable`] of one kind, one source, or both.
pub(crate) async fn open_retryable_where(
    pool: &PgPool,
    kind: Option<&str>,
    source: Option<&str>,
) -> Result<Vec<i64>, JobError> {
    sqlx::query_scalar(
        "SELECT id FROM ingestion_failures
         WHERE resolved_at IS NULL AND (planned_job IS NOT NULL OR error_kind = 'incomplete')
           AND ($1::text IS NULL OR error_kind = $1) AND ($2::text IS NULL OR source = $2)
         ORDER BY id",
    )
    .bind(kind)
    .bind(source)
    .fetch_all(pool)
    .await
    .map_err(db("listing open failures"))
}
