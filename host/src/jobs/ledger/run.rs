//! The worker's statements: register and beat, claim with the job's race, and book a run
//! (done, paused, retried, failed, finished without running).

use std::collections::HashMap;
use std::time::Duration;

use apalis_core::worker::context::WorkerContext;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};

use super::{Settle, settle};
use crate::budget::Lane;
use crate::clock::Clock;
use crate::jobs::decide::Facts;
use crate::jobs::{FailureKind, JobError, JobState, Op, Payload, QUEUE, db};

/// A planned job with its race, as the claim reads it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct JobRow {
    pub id: i64,
    pub source: String,
    pub op: Op,
    pub track: String,
    pub race_date: NaiveDate,
    pub race_number: i16,
    pub slot: DateTime<Utc>,
    pub lane: Lane,
    pub post_time: Option<DateTime<Utc>>,
    pub pools: Vec<String>,
    pub state: JobState,
    pub attempts: i32,
    pub not_before: Option<DateTime<Utc>>,
    /// The race as stored now (race jobs whose race is known): post time and meeting tag.
    pub race_post_time: Option<DateTime<Utc>>,
    pub race_meeting: Option<String>,
    /// Odds captured after post are stored for the race.
    pub race_final_odds: Option<bool>,
    /// Results and dividends are stored for the race (read for results jobs only).
    pub race_complete: Option<bool>,
}

impl JobRow {
    /// "kra odds seoul 2026-11-28 race 3", for logs and alerts.
    pub fn describe(&self) -> String {
        let race = if self.race_number > 0 { format!(" race {}", self.race_number) } else { String::new() };
        format!("{} {} {} {}{race}", self.source, self.op.as_str(), self.track, self.race_date)
    }

    /// What the decision core needs of it.
    pub fn facts(&self) -> Facts {
        Facts {
            op: self.op,
            state: self.state,
            slot: self.slot,
            not_before: self.not_before,
            planned_post: self.post_time,
            race_post: self.race_post_time,
            race_final_odds: self.race_final_odds,
            race_complete: self.race_complete,
        }
    }
}

/// The open failures of planned job `$1` resolved (a CTE named `resolved`), then the
/// incidents (source, dataset, kind) that leaves with no open failure: what a job's success or
/// its end without a run clears. A macro so that `concat!` builds both statements from it.
macro_rules! resolve_failures {
    () => {
        "resolved AS (
             UPDATE ingestion_failures SET resolved_at = now()
             WHERE planned_job = $1 AND resolved_at IS NULL
             RETURNING id, source, dataset, error_kind)
         SELECT DISTINCT r.source, r.dataset, r.error_kind FROM resolved r
         WHERE NOT EXISTS (SELECT 1 FROM ingestion_failures f
                           WHERE f.resolved_at IS NULL AND f.id <> ALL (SELECT id FROM resolved)
                             AND f.source = r.source AND f.dataset IS NOT DISTINCT FROM r.dataset
                             AND f.error_kind = r.error_kind)"
    };
}

/// Which tasks a claim may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lanes {
    Any,
    /// Live tasks only: the worker's backfill slots are full.
    Live,
    /// Backfill tasks only: a host that runs only a backfill (`racelab backfill`) leaves live
    /// work to the hosts that plan it.
    Backfill,
}

/// Planned jobs with their race, read in one statement for a whole claim.
const READ_JOBS: &str = "SELECT j.id, j.source, j.op, j.track, j.race_date, j.race_number, j.slot, j.lane, j.post_time,
            j.pools, j.state, j.attempts, j.not_before,
            r.post_time AS race_post_time, r.meeting AS race_meeting,
            p.final_odds AS race_final_odds,
            CASE WHEN j.op = 'results' THEN p.complete END AS race_complete
     FROM planned_jobs j
     LEFT JOIN races r ON j.race_number > 0 AND r.track = j.track AND r.race_date = j.race_date
                      AND r.race_number = j.race_number
     LEFT JOIN race_progress p ON (p.track, p.race_date, p.race_number) = (r.track, r.race_date, r.race_number)
     WHERE j.id = ANY($1)";

/// An incident a settled job leaves with no open failure: (source, dataset, kind).
pub(crate) type Cleared = Vec<(String, Option<String>, FailureKind)>;

/// One claimed task: its id, its job, and the job as the claim read it (`None` when that read
/// failed; the job is read again alone).
pub(crate) type Claim = (String, i64, Option<JobRow>);

/// Records worker `name` in `apalis.workers` (its heartbeat row).
pub(crate) async fn register_worker(pool: &PgPool, name: &str) -> Result<(), JobError> {
    sqlx::query(
        "INSERT INTO apalis.workers (id, worker_type, storage_name, layers, last_seen)
         VALUES ($1, $2, 'racelab', '', now())
         ON CONFLICT (id) DO UPDATE SET last_seen = now()",
    )
    .bind(name)
    .bind(QUEUE)
    .execute(pool)
    .await
    .map_err(db(format!("registering worker {name}")))?;
    Ok(())
}

/// Worker `name`'s heartbeat.
pub(crate) async fn beat(pool: &PgPool, name: &str) -> Result<(), JobError> {
    sqlx::query("UPDATE apalis.workers SET last_seen = now() WHERE id = $1")
        .bind(name)
        .execute(pool)
        .await
        .map_err(db("sending the heartbeat"))?;
    Ok(())
}

/// Hands the tasks of workers silent for `dead_for` back to the queue (apalis' own query).
pub(crate) async fn reenqueue_orphaned(pool: &PgPool, dead_for: Duration) -> Result<u64, JobError> {
    let mut conn = pool.acquire().await.map_err(db("re-enqueueing orphaned tasks"))?;
    Ok(apalis_postgres::queries::reenqueue_orphaned(&mut *conn, QUEUE, dead_for.as_secs().max(1)).await?)
}

/// Up to `n` due tasks, locked to `context`'s worker, each with its planned job as read at the
/// claim (one statement for all of them). A task that is not a RaceLab job is killed. `lanes`
/// says which tasks may be taken: backfill tasks are those of priority 0.
pub(crate) async fn claim(
    pool: &PgPool,
    clock: &Clock,
    context: &WorkerContext,
    n: usize,
    lanes: Lanes,
) -> Result<Vec<Claim>, JobError> {
    let mut conn = pool.acquire().await.map_err(db("claiming tasks"))?;
    let tasks: Vec<(String, Vec<u8>)> = if lanes != Lanes::Any {
        // apalis' `get_jobs` with one more condition: the same pick, order and lock.
        sqlx::query_as(
            "WITH picked AS (
                 SELECT id FROM apalis.jobs
                 WHERE (status = 'Pending' OR (status = 'Failed' AND attempts < max_attempts))
                   AND run_at < now() AND job_type = $1 AND (priority > 0) = $4
                 ORDER BY priority DESC, run_at ASC
                 LIMIT $2 FOR UPDATE SKIP LOCKED)
             UPDATE apalis.jobs j SET status = 'Queued', lock_by = $3, lock_at = now()
             FROM picked WHERE j.id = picked.id
             RETURNING j.id, j.job",
        )
        .bind(QUEUE)
        .bind(i64::try_from(n).unwrap_or(i64::MAX))
        .bind(context.name())
        .bind(lanes == Lanes::Live)
        .fetch_all(&mut *conn)
        .await
        .map_err(db("claiming tasks of one lane"))?
    } else {
        let config = apalis_postgres::Config::default().queue(QUEUE).batch_size(n);
        apalis_postgres::queries::fetch_next(&mut *conn, &config, context)
            .await?
            .into_iter()
            .map(|task| (task.task_id().map(ToString::to_string).unwrap_or_default(), task.args))
            .collect()
    };
    let mut out = Vec::with_capacity(tasks.len());
    for (id, args) in tasks {
        match serde_json::from_slice::<Payload>(&args) {
            Ok(p) => out.push((id, p.job, None)),
            Err(e) => {
                tracing::error!(task = %id, "a task in the queue is not a RaceLab job ({e}); killing it");
                settle(&mut conn, clock, &id, Settle::Killed, "not a RaceLab job").await?;
            }
        }
    }
    if !out.is_empty() {
        let ids: Vec<i64> = out.iter().map(|(_, job, _)| *job).collect();
        // A failed read only costs each job its own read later.
        match sqlx::query_as::<_, JobRow>(READ_JOBS).bind(&ids).fetch_all(&mut *conn).await {
            Ok(rows) => {
                let mut rows: HashMap<i64, JobRow> = rows.into_iter().map(|r| (r.id, r)).collect();
                for (_, job, row) in &mut out {
                    *row = rows.remove(job);
                }
            }
            Err(e) => tracing::warn!("reading the claimed jobs: {e}"),
        }
    }
    Ok(out)
}

/// Planned job `id` with its race.
pub(crate) async fn read_job(pool: &PgPool, id: i64) -> Result<Option<JobRow>, JobError> {
    sqlx::query_as::<_, JobRow>(READ_JOBS)
        .bind([id])
        .fetch_optional(pool)
        .await
        .map_err(db(format!("reading job {id}")))
}

/// Jobs due by `now` that are not finished.
pub async fn open_due_jobs(pool: &PgPool, now: DateTime<Utc>) -> Result<i64, JobError> {
    sqlx::query_scalar(
        "SELECT count(*) FROM planned_jobs
         WHERE state = $2 AND GREATEST(slot, COALESCE(not_before, slot)) <= $1",
    )
    .bind(now)
    .bind(JobState::Queued)
    .fetch_one(pool)
    .await
    .map_err(db("counting open jobs"))
}

/// Whether `job`'s race has its final odds, locking the race's row until `tx` ends: a second
/// final poll that ran alongside the first waits here for the first to commit.
pub(crate) async fn lock_race_final_odds(tx: &mut PgConnection, job: &JobRow) -> Result<bool, sqlx::Error> {
    let already: Option<bool> = sqlx::query_scalar(
        "SELECT p.final_odds FROM races r
         JOIN race_progress p ON (p.track, p.race_date, p.race_number) = (r.track, r.race_date, r.race_number)
         WHERE r.track = $1 AND r.race_date = $2 AND r.race_number = $3 FOR UPDATE OF r",
    )
    .bind(&job.track)
    .bind(job.race_date)
    .bind(job.race_number)
    .fetch_optional(&mut *tx)
    .await?;
    Ok(already == Some(true))
}

/// In one statement: the job finished as `state` with its records and requests, its task
/// settled (as [`settle`] does with [`Settle::Done`]), and its failures resolved.
pub(crate) async fn settle_run(
    tx: &mut PgConnection,
    job: &JobRow,
    task: &str,
    state: JobState,
    records: usize,
    requests: usize,
) -> Result<Cleared, sqlx::Error> {
    sqlx::query_as(concat!(
        "WITH job AS (
             UPDATE planned_jobs SET state = $6, finished_at = now(), attempts = attempts + 1,
                    records = $2, requests = $3
             WHERE id = $1),
         task AS (
             UPDATE apalis.jobs SET status = 'Done', done_at = now(), last_result = $5, attempts = attempts + 1
             WHERE id = $4), ",
        resolve_failures!()
    ))
    .bind(job.id)
    .bind(i32::try_from(records).unwrap_or(i32::MAX))
    .bind(i32::try_from(requests).unwrap_or(i32::MAX))
    .bind(task)
    .bind(serde_json::json!({ "note": state.as_str() }))
    .bind(state)
    .fetch_all(&mut *tx)
    .await
}

/// Puts the job back until `until` on the host clock (a quota reset), without an attempt.
pub(crate) async fn pause(
    pool: &PgPool,
    clock: &Clock,
    job: &JobRow,
    task: &str,
    until: DateTime<Utc>,
    note: &str,
) -> Result<(), JobError> {
    let mut tx = pool.begin().await.map_err(db("pausing a job"))?;
    sqlx::query("UPDATE planned_jobs SET not_before = $2 WHERE id = $1")
        .bind(job.id)
        .bind(until)
        .execute(&mut *tx)
        .await
        .map_err(db("pausing a job"))?;
    settle(&mut tx, clock, task, Settle::RetryAt(until), note).await?;
    tx.commit().await.map_err(db("pausing a job"))
}

/// Counts the attempt and runs the job again after `delay` of real time.
pub(crate) async fn retry_later(
    pool: &PgPool,
    clock: &Clock,
    job: &JobRow,
    task: &str,
    attempts: u32,
    delay: Duration,
    note: &str,
) -> Result<(), JobError> {
    let mut tx = pool.begin().await.map_err(db("scheduling a retry"))?;
    sqlx::query("UPDATE planned_jobs SET attempts = $2 WHERE id = $1")
        .bind(job.id)
        .bind(i32::try_from(attempts).unwrap_or(i32::MAX))
        .execute(&mut *tx)
        .await
        .map_err(db("scheduling a retry"))?;
    settle(&mut tx, clock, task, Settle::RetryIn(delay), note).await?;
    tx.commit().await.map_err(db("scheduling a retry"))
}

/// A final failure, as `ingestion_failures` keeps it.
#[derive(Debug)]
pub(crate) struct Failure<'a> {
    pub kind: FailureKind,
    pub message: &'a str,
    pub attempts: u32,
    pub dataset: Option<&'a str>,
    /// The raw response that caused it.
    pub raw_response: Option<i64>,
}

/// Fails the job for good: its failure row (returned), the job `failed`, the task killed.
pub(crate) async fn fail(
    pool: &PgPool,
    clock: &Clock,
    job: &JobRow,
    task: &str,
    failure: &Failure<'_>,
) -> Result<i64, JobError> {
    let job_json = serde_json::json!({
        "planned_job": job.id, "source": job.source, "op": job.op, "track": job.track,
        "race_date": job.race_date, "race_number": job.race_number, "slot": job.slot, "pools": job.pools,
    });
    let attempts = i32::try_from(failure.attempts).unwrap_or(i32::MAX);
    let mut tx = pool.begin().await.map_err(db("recording a failure"))?;
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO ingestion_failures (source, dataset, operation, track, race_date, race_number, error_kind,
                                         message, attempts, raw_response_id, job, planned_job)
         VALUES ($1, $2, $3, $4, $5, NULLIF($6, 0), $7, $8, $9, $10, $11, $12)
         RETURNING id",
    )
    .bind(&job.source)
    .bind(failure.dataset)
    .bind(job.op)
    .bind(&job.track)
    .bind(job.race_date)
    .bind(job.race_number)
    .bind(failure.kind)
    .bind(failure.message)
    .bind(attempts)
    .bind(failure.raw_response)
    .bind(job_json)
    .bind(job.id)
    .fetch_one(&mut *tx)
    .await
    .map_err(db("recording a failure"))?;
    sqlx::query("UPDATE planned_jobs SET state = $3, attempts = $2, finished_at = now() WHERE id = $1")
        .bind(job.id)
        .bind(attempts)
        .bind(JobState::Failed)
        .execute(&mut *tx)
        .await
        .map_err(db("recording a failure"))?;
    settle(&mut tx, clock, task, Settle::Killed, failure.message).await?;
    tx.commit().await.map_err(db("recording a failure"))?;
    Ok(id)
}

/// Marks the job `state` and settles its task, in one transaction. A job that ends without
/// running (superseded) leaves nothing for its open failures to wait for: they are resolved
/// with it, and the incidents they leave clear are returned.
pub(crate) async fn finish(
    pool: &PgPool,
    clock: &Clock,
    job: &JobRow,
    task: &str,
    state: JobState,
    how: Settle,
) -> Result<Cleared, JobError> {
    let mut tx = pool.begin().await.map_err(db("finishing a job"))?;
    sqlx::query("UPDATE planned_jobs SET state = $2, finished_at = now() WHERE id = $1")
        .bind(job.id)
        .bind(state)
        .execute(&mut *tx)
        .await
        .map_err(db("finishing a job"))?;
    let cleared: Cleared = sqlx::query_as(concat!("WITH ", resolve_failures!()))
        .bind(job.id)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("resolving a finished job's failures"))?;
    settle(&mut tx, clock, task, how, state.as_str()).await?;
    tx.commit().await.map_err(db("finishing a job"))?;
    Ok(cleared)
}

/// Settles a task alone (its job is gone, finished, or not due yet).
pub(crate) async fn settle_alone(
    pool: &PgPool,
    clock: &Clock,
    task: &str,
    how: Settle,
    note: &str,
) -> Result<(), JobError> {
    let mut conn = pool.acquire().await.map_err(db("settling a task"))?;
    settle(&mut conn, clock, task, how, note).await
}
