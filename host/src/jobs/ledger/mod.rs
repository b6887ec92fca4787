//! The ledger: every statement on `planned_jobs`, apalis' tables and `ingestion_failures`.
//!
//! A job is one plugin operation for one key at one time slot, e.g. "odds WIN+PLC for seoul
//! 2026-11-28 race 3 at 13:25:30 KST". `planned_jobs` makes it unique per (source, operation,
//! key, slot): [`enqueue`] inserts there with `ON CONFLICT DO NOTHING` and pushes an apalis
//! task only for the rows it created, in one transaction, so hosts planning the same slot at
//! once queue it once.
//!
//! The tasks live in apalis' tables (schema `apalis`) and are pushed and fetched with
//! apalis-postgres' own queries (`push_tasks`, `fetch_next`, which locks with
//! `FOR UPDATE SKIP LOCKED`, and `reenqueue_orphaned` for the tasks of a host that died). A task
//! is settled by [`settle`] inside the job's own transaction, so the data, the job's progress
//! and the task's status commit together.
//!
//! The worker claims and books runs here ([`claim`], [`settle_run`], [`pause`],
//! [`retry_later`], [`fail`], [`finish`]); `racelab retry`, the completeness sweep, the planner,
//! `/status` and the demo read and write through here too.
//!
//! | file | owns |
//! |---|---|
//! | `mod.rs` | the queue: planning jobs with their tasks, settling and releasing tasks |
//! | `run.rs` | the worker's statements: claim with the job's race, book a run |
//! | `failures.rs` | failure rows that are not a run's: gaps, `racelab retry` |
//! | `reads.rs` | what the planner, `/status` and the demo read |
//! | `backfill.rs` | backfill runs, their slices, and the jobs planned for them |

pub mod backfill;
mod failures;
mod reads;
mod run;

pub(crate) use failures::*;
pub use reads::*;
pub use run::*;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::task_id::TaskId;
use apalis_postgres::PgTask;
use chrono::{DateTime, NaiveDate, Utc};
use sqlx::{PgConnection, PgPool};

use super::{JobError, JobSpec, Payload, QUEUE, db};
use crate::clock::Clock;

/// How many attempts apalis is told a task has; the worker decides retries itself (see
/// [`super::retry`]), so this only has to be above any configured maximum.
const TASK_MAX_ATTEMPTS: usize = 1_000;

/// The real (wall-clock) instant at which the host clock reads `t`, in Unix seconds, for a
/// task's `run_at`: apalis compares it with the database's `now()`.
pub(crate) fn real_unix_secs(clock: &Clock, t: DateTime<Utc>) -> u64 {
    real_unix_secs_f64(clock, t) as u64
}

/// [`real_unix_secs`] with the fraction.
pub(crate) fn real_unix_secs_f64(clock: &Clock, t: DateTime<Utc>) -> f64 {
    let at = SystemTime::now() + clock.real_until(t.fixed_offset());
    at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs_f64()
}

/// A task for `job`, due when the clock reads `at`. Task ids are ULIDs, as apalis-postgres
/// reads them back; `planned_jobs.task_id` links the two.
fn task(clock: &Clock, job: i64, priority: usize, at: DateTime<Utc>) -> (String, PgTask) {
    let ulid = ulid::Ulid::generate();
    let id = ulid.to_string();
    let body = serde_json::to_vec(&Payload { job }).unwrap_or_default();
    let task = TaskBuilder::new(body)
        .task_id(TaskId::from_ulid(ulid))
        .priority(priority)
        .max_attempts(TASK_MAX_ATTEMPTS)
        .run_at_timestamp(real_unix_secs(clock, at))
        .build();
    (id, task)
}

/// Pushes a new task for an existing job (`racelab retry`), due now.
pub(crate) async fn push_task(
    conn: &mut PgConnection,
    clock: &Clock,
    job: i64,
    priority: usize,
) -> Result<String, JobError> {
    let (id, task) = task(clock, job, priority, clock.now().to_utc());
    apalis_postgres::queries::push_tasks(&mut *conn, QUEUE, vec![task]).await?;
    sqlx::query("UPDATE planned_jobs SET task_id = $2 WHERE id = $1")
        .bind(job)
        .bind(&id)
        .execute(&mut *conn)
        .await
        .map_err(db(format!("recording task {id}")))?;
    Ok(id)
}

/// Queues the jobs of `specs` that were not planned before and returns how many were new.
pub async fn enqueue(pool: &PgPool, clock: &Clock, specs: &[JobSpec]) -> Result<u64, JobError> {
    if specs.is_empty() {
        return Ok(0);
    }
    let mut tx = pool.begin().await.map_err(db("starting to queue jobs"))?;
    let new = enqueue_in(&mut tx, clock, specs).await?;
    tx.commit().await.map_err(db("committing queued jobs"))?;
    Ok(new)
}

/// [`enqueue`] within the caller's transaction.
pub async fn enqueue_in(conn: &mut PgConnection, clock: &Clock, specs: &[JobSpec]) -> Result<u64, JobError> {
    let mut cols = Columns::default();
    for s in specs {
        cols.push(s);
    }
    type Created = (i64, String, String, String, NaiveDate, i16, DateTime<Utc>);
    let created: Vec<Created> = sqlx::query_as(
        "INSERT INTO planned_jobs (source, op, track, race_date, race_number, slot, lane, post_time, pools)
         SELECT source, op, track, race_date, race_number, slot, lane, post_time,
                COALESCE(string_to_array(NULLIF(pools, ''), ','), '{}')
         FROM UNNEST($1::text[], $2::text[], $3::text[], $4::date[], $5::smallint[], $6::timestamptz[],
                     $7::text[], $8::timestamptz[], $9::text[])
              AS s(source, op, track, race_date, race_number, slot, lane, post_time, pools)
         -- A job planned before is skipped here, before its row draws an id: the planner
         -- offers every due job on every tick, and ON CONFLICT alone would burn an id each time.
         WHERE NOT EXISTS (SELECT 1 FROM planned_jobs p
                           WHERE (p.source, p.op, p.track, p.race_date, p.race_number, p.slot)
                               = (s.source, s.op, s.track, s.race_date, s.race_number, s.slot))
         ON CONFLICT (source, op, track, race_date, race_number, slot) DO NOTHING
         RETURNING id, source, op, track, race_date, race_number, slot",
    )
    .bind(&cols.source)
    .bind(&cols.op)
    .bind(&cols.track)
    .bind(&cols.race_date)
    .bind(&cols.race_number)
    .bind(&cols.slot)
    .bind(&cols.lane)
    .bind(&cols.post_time)
    .bind(&cols.pools)
    .fetch_all(&mut *conn)
    .await
    .map_err(db("planning jobs"))?;
    if created.is_empty() {
        return Ok(0);
    }
    let by_key: HashMap<_, &JobSpec> = specs
        .iter()
        .map(|s| {
            ((s.source.as_str(), s.op.as_str(), s.track.as_str(), s.race_date, i16::from(s.race_number), s.slot), s)
        })
        .collect();
    let new: Vec<(i64, usize, DateTime<Utc>)> = created
        .iter()
        .filter_map(|(id, source, op, track, date, number, slot)| {
            let spec = by_key.get(&(source.as_str(), op.as_str(), track.as_str(), *date, *number, *slot))?;
            Some((*id, spec.priority(), spec.slot))
        })
        .collect();
    push_tasks(conn, clock, &new).await?;
    Ok(created.len() as u64)
}

/// Pushes one task for each newly planned job `(id, priority, slot)`, due at its slot, and
/// links the job to it; within the caller's transaction.
pub(crate) async fn push_tasks(
    conn: &mut PgConnection,
    clock: &Clock,
    jobs: &[(i64, usize, DateTime<Utc>)],
) -> Result<(), JobError> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut tasks = Vec::with_capacity(jobs.len());
    let mut job_ids = Vec::with_capacity(jobs.len());
    let mut task_ids = Vec::with_capacity(jobs.len());
    for (id, priority, slot) in jobs {
        let (task_id, task) = task(clock, *id, *priority, *slot);
        tasks.push(task);
        job_ids.push(*id);
        task_ids.push(task_id);
    }
    apalis_postgres::queries::push_tasks(&mut *conn, QUEUE, tasks).await?;
    sqlx::query("UPDATE planned_jobs p SET task_id = t.task FROM UNNEST($1::bigint[], $2::text[]) AS t(id, task) WHERE p.id = t.id")
        .bind(&job_ids)
        .bind(&task_ids)
        .execute(&mut *conn)
        .await
        .map_err(db("recording the tasks of planned jobs"))?;
    // push_tasks keeps whole seconds; on a fast clock a second is minutes of slots, so the
    // exact due time is set here, in the same transaction.
    let due: Vec<f64> = jobs.iter().map(|(_, _, slot)| real_unix_secs_f64(clock, *slot)).collect();
    sqlx::query(
        "UPDATE apalis.jobs j SET run_at = to_timestamp(t.at) FROM UNNEST($1::text[], $2::float8[]) AS t(id, at)
         WHERE j.id = t.id",
    )
    .bind(&task_ids)
    .bind(&due)
    .execute(&mut *conn)
    .await
    .map_err(db("setting the tasks' due times"))?;
    Ok(())
}

/// `specs` as columns for one `UNNEST` insert.
#[derive(Default)]
struct Columns {
    source: Vec<String>,
    op: Vec<&'static str>,
    track: Vec<String>,
    race_date: Vec<NaiveDate>,
    race_number: Vec<i16>,
    slot: Vec<DateTime<Utc>>,
    lane: Vec<&'static str>,
    post_time: Vec<Option<DateTime<Utc>>>,
    pools: Vec<String>,
}

impl Columns {
    fn push(&mut self, s: &JobSpec) {
        self.source.push(s.source.clone());
        self.op.push(s.op.as_str());
        self.track.push(s.track.clone());
        self.race_date.push(s.race_date);
        self.race_number.push(i16::from(s.race_number));
        self.slot.push(s.slot);
        self.lane.push(s.lane.as_str());
        self.post_time.push(s.post_time);
        self.pools.push(s.pools.join(","));
    }
}

/// How a task ends.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Settle {
    /// Finished: done, or superseded. `lock_by` keeps the worker that finished it.
    Done,
    /// Finished for good without success (a failure row says why).
    Killed,
    /// Run it again when the host clock reads this (a quota reset).
    RetryAt(DateTime<Utc>),
    /// Run it again after this much real time (a backoff; a job not due yet).
    RetryIn(Duration),
}

/// Settles task `task_id`, normally within the job's transaction. apalis-postgres' own
/// `handle_results` cannot set a later `run_at`, which a backoff needs, so this is one UPDATE
/// of apalis' row.
pub async fn settle(
    conn: &mut PgConnection,
    clock: &Clock,
    task_id: &str,
    how: Settle,
    note: &str,
) -> Result<(), JobError> {
    let result = serde_json::json!({ "note": note });
    let retry_at = |secs: f64| {
        sqlx::query(
            "UPDATE apalis.jobs SET status = 'Failed', last_result = $3, lock_by = NULL, lock_at = NULL,
                    run_at = to_timestamp($2), attempts = attempts + 1
             WHERE id = $1",
        )
        .bind(task_id)
        .bind(secs)
        .bind(result.clone())
    };
    let query = match how {
        Settle::Done | Settle::Killed => sqlx::query(
            "UPDATE apalis.jobs SET status = $2, done_at = now(), last_result = $3, attempts = attempts + 1
             WHERE id = $1",
        )
        .bind(task_id)
        .bind(if how == Settle::Done { "Done" } else { "Killed" })
        .bind(result.clone()),
        Settle::RetryAt(at) => retry_at(real_unix_secs_f64(clock, at)),
        Settle::RetryIn(after) => {
            let at = SystemTime::now() + after;
            retry_at(at.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO).as_secs_f64())
        }
    };
    query.execute(conn).await.map_err(db(format!("settling task {task_id}")))?;
    Ok(())
}

/// Hands tasks this worker claimed but no longer holds back to the queue: after a database
/// outage left them unsettled, or a shutdown cut them short.
pub async fn release_abandoned(pool: &PgPool, worker: &str, in_hand: &[String]) -> Result<u64, JobError> {
    let done = sqlx::query(
        "UPDATE apalis.jobs SET status = 'Pending', lock_by = NULL, lock_at = NULL
         WHERE lock_by = $1 AND status IN ('Queued', 'Running') AND NOT (id = ANY($2))",
    )
    .bind(worker)
    .bind(in_hand)
    .execute(pool)
    .await
    .map_err(db("releasing abandoned tasks"))?;
    Ok(done.rows_affected())
}
