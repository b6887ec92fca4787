//! The durable job queue: what the planner decided, as tasks in apalis-postgres' queue.
//!
//! A job is one plugin operation for one key at one time slot, e.g. "odds WIN+PLC for seoul
//! 2026-11-28 race 3 at 13:25:30 KST". The planner's ledger, `planned_jobs`, makes it unique per
//! (source, operation, key, slot): [`enqueue`] inserts there with `ON CONFLICT DO NOTHING` and
//! pushes an apalis task only for the rows it created, in one transaction, so hosts planning the
//! same slot at once queue it once.
//!
//! The tasks live in apalis' tables (schema `apalis`) and are pushed and fetched with
//! apalis-postgres' own queries (`push_tasks`, `fetch_next`, which locks with
//! `FOR UPDATE SKIP LOCKED`, and `reenqueue_orphaned` for the tasks of a host that died). A task
//! is settled by [`settle`] inside the job's own transaction, so the data, the job's progress
//! and the task's status commit together.
//!
//! | file | owns |
//! |---|---|
//! | `planner.rs` | what is due: the schedule sync, entries, the odds cadence, results |
//! | `worker.rs` | running a task: the plugin, the budget, the archive, the store, failures |
//! | `retry.rs` | backoff with full jitter; `racelab retry` |
//! | `health.rs` | how each source's jobs ended: `ok`, `failing`, `timing_out` |
//! | `gaps.rs` | completeness: races given up on become `incomplete` failures, resolved when filled |
//! | `words.rs` | the typed words of the job tables: state, lane, operation; queue priority |

pub mod gaps;
pub mod health;
pub mod planner;
pub mod retry;
pub mod words;
pub mod worker;

pub use words::{JobState, priority};

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apalis_core::task::builder::TaskBuilder;
use apalis_core::task::task_id::TaskId;
use apalis_postgres::PgTask;
use chrono::{DateTime, NaiveDate, Utc};
use racelab_sim::Clock;
use serde::{Deserialize, Serialize};
use sqlx::{PgConnection, PgPool};

use crate::budget::Lane;
use crate::plugins::wit::OperationKind;

/// The apalis queue (its `job_type`) every RaceLab task goes to.
pub const QUEUE: &str = "racelab";

/// What a job asks a plugin for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// A track-day's races.
    Schedule,
    /// A race's entries and scratches.
    Entries,
    /// A pre-race odds poll of the configured pools.
    Odds,
    /// A poll after post, of every pool, until the final odds are in; stored in full.
    OddsFinal,
    /// Results and dividends.
    Results,
}

impl Op {
    /// Every operation.
    pub const ALL: [Op; 5] = [Op::Schedule, Op::Entries, Op::Odds, Op::OddsFinal, Op::Results];

    /// The name in `planned_jobs.op` and in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Schedule => "schedule",
            Op::Entries => "entries",
            Op::Odds => "odds",
            Op::OddsFinal => "odds_final",
            Op::Results => "results",
        }
    }

    /// Reads [`Op::as_str`]'s form.
    pub fn parse(s: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.as_str() == s)
    }

    /// Whether an empty answer means "not published yet" (the job ends `no_data` and the
    /// planner asks again) rather than "there is none" (a day without races: `done`).
    pub fn waits_for_publication(self) -> bool {
        matches!(self, Op::Odds | Op::OddsFinal | Op::Results)
    }

    /// The plugin operation it needs: a plugin whose manifest lacks it is not asked.
    pub fn kind(self) -> OperationKind {
        match self {
            Op::Schedule => OperationKind::Schedule,
            Op::Entries => OperationKind::Entries,
            Op::Odds | Op::OddsFinal => OperationKind::Odds,
            Op::Results => OperationKind::Results,
        }
    }
}

/// One job as the planner decides it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobSpec {
    /// The source (`kra`, `kspo`), whose plugin runs it.
    pub source: String,
    pub op: Op,
    pub track: String,
    pub race_date: NaiveDate,
    /// 0 for a whole-day operation.
    pub race_number: u8,
    /// When it is due, on the host's clock.
    pub slot: DateTime<Utc>,
    pub lane: Lane,
    /// The race's post time the job was planned from.
    pub post_time: Option<DateTime<Utc>>,
    /// KRA pool codes, for odds.
    pub pools: Vec<String>,
}

impl JobSpec {
    /// Queue priority (see [`priority`]).
    pub fn priority(&self) -> usize {
        priority(self.lane, self.op)
    }
}

/// What a task carries: the planned job it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payload {
    pub job: i64,
}

/// How many attempts apalis is told a task has; the worker decides retries itself (see
/// [`retry`]), so this only has to be above any configured maximum.
const TASK_MAX_ATTEMPTS: usize = 1_000;

/// A queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("database error while {context}: {source}")]
    Database { context: String, source: sqlx::Error },
    #[error("the job queue refused the tasks: {0}")]
    Queue(#[from] apalis_postgres::Error),
    #[error("failure #{failure} cannot be retried: {reason}")]
    NotRetryable { failure: i64, reason: String },
}

pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(sqlx::Error) -> JobError {
    let context = context.into();
    move |source| JobError::Database { context, source }
}

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
    let mut tasks = Vec::with_capacity(created.len());
    let mut ids = Vec::with_capacity(created.len());
    for (id, source, op, track, date, number, slot) in &created {
        let Some(spec) = by_key.get(&(source.as_str(), op.as_str(), track.as_str(), *date, *number, *slot)) else {
            continue;
        };
        let (task_id, task) = task(clock, *id, spec.priority(), spec.slot);
        tasks.push(task);
        ids.push((*id, task_id));
    }
    apalis_postgres::queries::push_tasks(&mut *conn, QUEUE, tasks).await?;
    let (job_ids, task_ids): (Vec<i64>, Vec<String>) = ids.into_iter().unzip();
    sqlx::query("UPDATE planned_jobs p SET task_id = t.task FROM UNNEST($1::bigint[], $2::text[]) AS t(id, task) WHERE p.id = t.id")
        .bind(&job_ids)
        .bind(&task_ids)
        .execute(&mut *conn)
        .await
        .map_err(db("recording the tasks of planned jobs"))?;
    // push_tasks keeps whole seconds; on a fast clock a second is minutes of slots, so the
    // exact due time is set here, in the same transaction.
    let due: Vec<f64> = job_ids
        .iter()
        .filter_map(|id| created.iter().find(|c| c.0 == *id))
        .map(|c| real_unix_secs_f64(clock, c.6))
        .collect();
    sqlx::query(
        "UPDATE apalis.jobs j SET run_at = to_timestamp(t.at) FROM UNNEST($1::text[], $2::float8[]) AS t(id, at)
         WHERE j.id = t.id",
    )
    .bind(&task_ids)
    .bind(&due)
    .execute(&mut *conn)
    .await
    .map_err(db("setting the tasks' due times"))?;
    Ok(created.len() as u64)
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
