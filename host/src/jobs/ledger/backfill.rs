//! The backfill's statements: runs and their slices (migrations/0014_backfill.sql), and the
//! planned jobs of a slice. Every step is one statement (with the tasks of the jobs it plans, in
//! one transaction) that re-reads the committed state, so hosts planning at once, or a host
//! that died between two steps, neither skip nor repeat anything.

use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use sqlx::PgPool;

use super::push_tasks;
use crate::budget::Lane;
use crate::clock::Clock;
use crate::jobs::{JobError, Op, db, priority};

/// A run as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct RunRow {
    pub id: i64,
    pub from_date: NaiveDate,
    pub to_date: NaiveDate,
    pub sources: Vec<String>,
    pub tracks: Vec<String>,
    pub ops: Vec<String>,
    pub requested_at: DateTime<Utc>,
    pub finished_at: Option<DateTime<Utc>>,
}

impl RunRow {
    /// The slot of the run's jobs: when it was asked for, less its id in microseconds, so that
    /// a later run over the same days plans its own jobs rather than meeting the earlier run's
    /// (even on a clock that stands still), and the jobs are due at once.
    pub fn slot(&self) -> DateTime<Utc> {
        self.requested_at - TimeDelta::microseconds(self.id)
    }
}

/// What one source is asked in a run: the operations (as in `planned_jobs.op`) and, for the
/// final odds, the pools.
#[derive(Debug, Clone, PartialEq)]
pub struct SourceOps {
    pub source: String,
    pub ops: Vec<Op>,
    pub pools: Vec<String>,
}

/// `SELECT` of a run's columns from `backfill_runs`, to which a statement adds its condition.
macro_rules! select_runs {
    () => {
        "SELECT id, from_date, to_date, sources, tracks, ops, requested_at, finished_at FROM backfill_runs"
    };
}

/// The unfinished run that asked exactly this, if there is one (a resumed backfill).
pub async fn find_open_run(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
    sources: &[String],
    tracks: &[String],
    ops: &[String],
) -> Result<Option<RunRow>, JobError> {
    sqlx::query_as(concat!(
        select_runs!(),
        " WHERE finished_at IS NULL AND from_date = $1 AND to_date = $2 AND sources = $3 AND tracks = $4 AND ops = $5
         ORDER BY id LIMIT 1"
    ))
    .bind(from)
    .bind(to)
    .bind(sources)
    .bind(tracks)
    .bind(ops)
    .fetch_optional(pool)
    .await
    .map_err(db("looking for an unfinished backfill"))
}

/// Creates a run and its slices, one per (source's track, day). A slice that an earlier run
/// finished without a failed job, asking at least these operations, starts done: a rerun skips
/// it.
pub async fn create_run(
    pool: &PgPool,
    requested_at: DateTime<Utc>,
    (from, to): (NaiveDate, NaiveDate),
    tracks: &[(String, String)],
    ops: &[String],
) -> Result<RunRow, JobError> {
    let mut sources: Vec<String> = tracks.iter().map(|(s, _)| s.clone()).collect();
    sources.sort();
    sources.dedup();
    let mut track_codes: Vec<String> = tracks.iter().map(|(_, t)| t.clone()).collect();
    track_codes.sort();
    let mut tx = pool.begin().await.map_err(db("starting a backfill run"))?;
    let run: RunRow = sqlx::query_as(
        "INSERT INTO backfill_runs (from_date, to_date, sources, tracks, ops, requested_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, from_date, to_date, sources, tracks, ops, requested_at, finished_at",
    )
    .bind(from)
    .bind(to)
    .bind(&sources)
    .bind(&track_codes)
    .bind(ops)
    .bind(requested_at)
    .fetch_one(&mut *tx)
    .await
    .map_err(db("recording the backfill run"))?;
    let (slice_sources, slice_tracks): (Vec<String>, Vec<String>) = tracks.iter().cloned().unzip();
    sqlx::query(
        "INSERT INTO backfill_slices (run, source, track, day, state, finished_at)
         SELECT $1, t.source, t.track, d.day,
                CASE WHEN x.done THEN 'done' ELSE 'waiting' END, CASE WHEN x.done THEN now() END
         FROM UNNEST($2::text[], $3::text[]) AS t(source, track)
         CROSS JOIN generate_series($4::date, $5::date, interval '1 day') AS g(at)
         CROSS JOIN LATERAL (SELECT g.at::date AS day) d
         CROSS JOIN LATERAL (
             SELECT EXISTS (SELECT 1 FROM backfill_slices o JOIN backfill_runs r ON r.id = o.run
                            WHERE o.track = t.track AND o.day = d.day AND o.state = 'done'
                              AND o.started_at IS NOT NULL AND o.failed = 0 AND r.ops @> $6) AS done) x",
    )
    .bind(run.id)
    .bind(&slice_sources)
    .bind(&slice_tracks)
    .bind(from)
    .bind(to)
    .bind(ops)
    .execute(&mut *tx)
    .await
    .map_err(db("cutting the backfill into slices"))?;
    tx.commit().await.map_err(db("committing the backfill run"))?;
    Ok(run)
}

/// The runs not finished yet, oldest first.
pub async fn open_runs(pool: &PgPool) -> Result<Vec<RunRow>, JobError> {
    sqlx::query_as(concat!(select_runs!(), " WHERE finished_at IS NULL ORDER BY id"))
        .fetch_all(pool)
        .await
        .map_err(db("reading the open backfill runs"))
}

/// The latest runs, newest first.
pub async fn recent_runs(pool: &PgPool, limit: i64) -> Result<Vec<RunRow>, JobError> {
    sqlx::query_as(concat!(select_runs!(), " ORDER BY id DESC LIMIT $1"))
        .bind(limit)
        .fetch_all(pool)
        .await
        .map_err(db("reading the backfill runs"))
}

/// Run `id`.
pub async fn run(pool: &PgPool, id: i64) -> Result<Option<RunRow>, JobError> {
    sqlx::query_as(concat!(select_runs!(), " WHERE id = $1"))
        .bind(id)
        .fetch_optional(pool)
        .await
        .map_err(db(format!("reading backfill run {id}")))
}

/// One planning step of `run`; returns how many jobs it queued. In order: waiting slices start
/// while fewer than `in_flight` are open (newest day first) and get their schedule job — unless
/// their day's races are known already, a schedule synced on the day or later found none, or the
/// source is not asked for schedules; slices whose
/// schedule job finished get the jobs of their races that lack what is asked; slices with no
/// job left queued are done; a run with every slice done is finished.
pub async fn advance(
    pool: &PgPool,
    clock: &Clock,
    run: &RunRow,
    sources: &[SourceOps],
    in_flight: i64,
) -> Result<u64, JobError> {
    let slot = run.slot();
    let mut queued = 0;
    let scheduled: Vec<&str> =
        sources.iter().filter(|s| s.ops.contains(&Op::Schedule)).map(|s| s.source.as_str()).collect();
    let mut tx = pool.begin().await.map_err(db("starting backfill slices"))?;
    let ids: Vec<i64> = sqlx::query_scalar(
        "WITH open AS (SELECT count(*) AS n FROM backfill_slices WHERE run = $1 AND state IN ('schedule', 'races')),
         pick AS (SELECT track, day FROM backfill_slices WHERE run = $1 AND state = 'waiting'
                  ORDER BY day DESC, track LIMIT GREATEST($2 - (SELECT n FROM open), 0) FOR UPDATE SKIP LOCKED),
         started AS (UPDATE backfill_slices s SET state = 'schedule', started_at = now() FROM pick
                     WHERE s.run = $1 AND (s.track, s.day) = (pick.track, pick.day)
                     RETURNING s.source, s.track, s.day)
         INSERT INTO planned_jobs (source, op, track, race_date, race_number, slot, lane, backfill_run)
         SELECT st.source, 'schedule', st.track, st.day, 0, $3, 'backfill', $1 FROM started st
         WHERE st.source = ANY($4)
           AND NOT EXISTS (SELECT 1 FROM races r WHERE r.track = st.track AND r.race_date = st.day)
           -- A schedule synced on the day or later that found no race: a day without races.
           AND NOT EXISTS (SELECT 1 FROM planned_jobs j
                           WHERE j.op = 'schedule' AND j.track = st.track AND j.race_date = st.day
                             AND j.race_number = 0 AND j.state = 'done'
                             AND j.slot >= st.day::timestamp AT TIME ZONE 'Asia/Seoul')
         ON CONFLICT (source, op, track, race_date, race_number, slot) DO NOTHING
         RETURNING id",
    )
    .bind(run.id)
    .bind(in_flight)
    .bind(slot)
    .bind(&scheduled)
    .fetch_all(&mut *tx)
    .await
    .map_err(db(format!("starting slices of backfill run {}", run.id)))?;
    queued += ids.len() as u64;
    let tasks: Vec<_> = ids.iter().map(|id| (*id, priority(Lane::Backfill, Op::Schedule), slot)).collect();
    push_tasks(&mut tx, clock, &tasks).await?;
    tx.commit().await.map_err(db("committing started backfill slices"))?;

    // Per source: its name, the race operations asked and its pools, as comma-joined text.
    let names: Vec<&str> = sources.iter().map(|s| s.source.as_str()).collect();
    let ops: Vec<String> = sources
        .iter()
        .map(|s| s.ops.iter().filter(|op| **op != Op::Schedule).map(|op| op.as_str()).collect::<Vec<_>>().join(","))
        .collect();
    let pools: Vec<String> = sources.iter().map(|s| s.pools.join(",")).collect();
    let mut tx = pool.begin().await.map_err(db("planning backfill races"))?;
    let created: Vec<(i64, String)> = sqlx::query_as(
        "WITH ready AS (
             UPDATE backfill_slices s SET state = 'races',
                    races = (SELECT count(*) FROM races r WHERE r.track = s.track AND r.race_date = s.day)
             WHERE s.run = $1 AND s.state = 'schedule'
               AND NOT EXISTS (SELECT 1 FROM planned_jobs j
                               WHERE j.backfill_run = $1 AND j.track = s.track AND j.race_date = s.day
                                 AND j.race_number = 0 AND j.state = 'queued')
             RETURNING s.source, s.track, s.day),
         want AS (SELECT * FROM UNNEST($2::text[], $3::text[], $4::text[]) AS w(source, ops, pools))
         INSERT INTO planned_jobs (source, op, track, race_date, race_number, slot, lane, post_time, pools, backfill_run)
         SELECT rd.source, o.op, p.track, p.race_date, p.race_number, $5, 'backfill', p.post_time,
                CASE WHEN o.op = 'odds_final' THEN COALESCE(string_to_array(NULLIF(w.pools, ''), ','), '{}')
                     ELSE '{}' END,
                $1
         FROM ready rd
         JOIN want w ON w.source = rd.source
         JOIN race_progress p ON p.track = rd.track AND p.race_date = rd.day
         CROSS JOIN LATERAL unnest(COALESCE(string_to_array(NULLIF(w.ops, ''), ','), '{}')) AS o(op)
         WHERE CASE o.op
                   WHEN 'entries' THEN NOT EXISTS (
                       SELECT 1 FROM entries e
                       WHERE (e.track, e.race_date, e.race_number) = (p.track, p.race_date, p.race_number))
                   WHEN 'odds_final' THEN NOT p.final_odds AND w.pools <> ''
                   WHEN 'results' THEN NOT p.complete
                   ELSE false
               END
         ON CONFLICT (source, op, track, race_date, race_number, slot) DO NOTHING
         RETURNING id, op",
    )
    .bind(run.id)
    .bind(&names)
    .bind(&ops)
    .bind(&pools)
    .bind(slot)
    .fetch_all(&mut *tx)
    .await
    .map_err(db(format!("planning the races of backfill run {}", run.id)))?;
    queued += created.len() as u64;
    let tasks: Vec<_> = created
        .iter()
        .map(|(id, op)| (*id, priority(Lane::Backfill, Op::parse(op).unwrap_or(Op::Results)), slot))
        .collect();
    push_tasks(&mut tx, clock, &tasks).await?;
    tx.commit().await.map_err(db("committing backfill race jobs"))?;

    sqlx::query(
        "UPDATE backfill_slices s SET state = 'done', finished_at = now(),
                failed = (SELECT count(*) FROM planned_jobs j
                          WHERE j.backfill_run = s.run AND j.track = s.track AND j.race_date = s.day
                            AND j.state = 'failed')
         WHERE s.run = $1 AND s.state = 'races'
           AND NOT EXISTS (SELECT 1 FROM planned_jobs j
                           WHERE j.backfill_run = s.run AND j.track = s.track AND j.race_date = s.day
                             AND j.state = 'queued')",
    )
    .bind(run.id)
    .execute(pool)
    .await
    .map_err(db(format!("finishing slices of backfill run {}", run.id)))?;
    sqlx::query(
        "UPDATE backfill_runs SET finished_at = now()
         WHERE id = $1 AND finished_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM backfill_slices WHERE run = $1 AND state <> 'done')",
    )
    .bind(run.id)
    .execute(pool)
    .await
    .map_err(db(format!("finishing backfill run {}", run.id)))?;
    Ok(queued)
}

/// Where a run stands, from its slices and its jobs.
#[derive(Debug, Clone, Default, PartialEq, sqlx::FromRow, serde::Serialize, utoipa::ToSchema)]
pub struct RunCounts {
    pub slices: i64,
    pub slices_done: i64,
    /// Done by an earlier run: skipped.
    pub slices_skipped: i64,
    /// Worked and done today (KST, by the database's clock): the pace a quota-bound run keeps.
    pub slices_done_today: i64,
    /// Races found on the days planned so far.
    pub races: i64,
    pub jobs_finished: i64,
    pub jobs_queued: i64,
    /// Queued jobs waiting for a quota reset.
    pub jobs_paused: i64,
    pub jobs_failed: i64,
    /// Requests made by the jobs that finished.
    pub requests: i64,
    /// Records those jobs stored (an odds board counts one).
    pub records: i64,
}

/// The counts of run `id`.
pub async fn counts(pool: &PgPool, id: i64) -> Result<RunCounts, JobError> {
    sqlx::query_as(
        "SELECT s.slices, s.slices_done, s.slices_skipped, s.slices_done_today, s.races,
                j.jobs_finished, j.jobs_queued, j.jobs_paused, j.jobs_failed, j.requests, j.records
         FROM (SELECT count(*) AS slices,
                      count(*) FILTER (WHERE state = 'done') AS slices_done,
                      count(*) FILTER (WHERE state = 'done' AND started_at IS NULL) AS slices_skipped,
                      count(*) FILTER (WHERE state = 'done' AND started_at IS NOT NULL
                                         AND finished_at >= date_trunc('day', now() AT TIME ZONE 'Asia/Seoul')
                                                            AT TIME ZONE 'Asia/Seoul') AS slices_done_today,
                      COALESCE(sum(races), 0)::bigint AS races
               FROM backfill_slices WHERE run = $1) s,
              (SELECT count(*) FILTER (WHERE state <> 'queued') AS jobs_finished,
                      count(*) FILTER (WHERE state = 'queued') AS jobs_queued,
                      count(*) FILTER (WHERE state = 'queued' AND not_before IS NOT NULL) AS jobs_paused,
                      count(*) FILTER (WHERE state = 'failed') AS jobs_failed,
                      COALESCE(sum(requests), 0)::bigint AS requests,
                      COALESCE(sum(records), 0)::bigint AS records
               FROM planned_jobs WHERE backfill_run = $1) j",
    )
    .bind(id)
    .fetch_one(pool)
    .await
    .map_err(db(format!("counting backfill run {id}")))
}
