//! What the planner, `/status` and the demo read: the races to plan, the track-days whose
//! pre-race polls stopped, job and failure counts.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

use crate::jobs::{JobError, JobState, Op, db};

/// Today's jobs by operation and state.
pub async fn jobs_by_op_and_state(pool: &PgPool, date: NaiveDate) -> Result<Vec<(Op, JobState, i64)>, JobError> {
    sqlx::query_as(
        "SELECT op, state, count(*) FROM planned_jobs WHERE race_date = $1 GROUP BY op, state ORDER BY op, state",
    )
    .bind(date)
    .fetch_all(pool)
    .await
    .map_err(db("counting today's jobs"))
}

/// Unresolved failures (gaps included).
pub async fn open_failures(pool: &PgPool) -> Result<i64, JobError> {
    sqlx::query_scalar("SELECT count(*) FROM ingestion_failures WHERE resolved_at IS NULL")
        .fetch_one(pool)
        .await
        .map_err(db("counting open failures"))
}

/// Every planned job so far.
pub async fn planned_jobs(pool: &PgPool) -> Result<i64, JobError> {
    sqlx::query_scalar("SELECT count(*) FROM planned_jobs").fetch_one(pool).await.map_err(db("counting jobs"))
}

/// How far the jobs are, at `now`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// Ran: done or no data.
    pub ran: i64,
    pub queued: i64,
    /// Queued and due.
    pub due: i64,
    pub failed: i64,
}

/// [`JobCounts`] over every planned job.
pub async fn job_counts(pool: &PgPool, now: DateTime<Utc>) -> Result<JobCounts, JobError> {
    let (ran, queued, due, failed) = sqlx::query_as(
        "SELECT count(*) FILTER (WHERE state IN ('done', 'no_data')), count(*) FILTER (WHERE state = 'queued'),
                count(*) FILTER (WHERE state = 'queued' AND slot <= $1),
                count(*) FILTER (WHERE state = 'failed')
         FROM planned_jobs",
    )
    .bind(now)
    .fetch_one(pool)
    .await
    .map_err(db("counting jobs"))?;
    Ok(JobCounts { ran, queued, due, failed })
}

/// A race as the planner reads it: (track, date, number, post time, complete, when the results
/// poll that completed it ran, final odds in).
pub(crate) type RaceRow = (String, NaiveDate, i16, DateTime<Utc>, bool, Option<DateTime<Utc>>, bool);

/// The races of `tracks` from `from` to `to` that have a post time, with what they have so far.
pub(crate) async fn planned_races(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
    tracks: &[&str],
) -> Result<Vec<RaceRow>, JobError> {
    sqlx::query_as(
        "WITH results_done AS (
             SELECT track, race_date, race_number, max(slot) AS at FROM planned_jobs
             WHERE op = 'results' AND state = 'done' AND race_date BETWEEN $1 AND $2
             GROUP BY track, race_date, race_number)
         SELECT r.track, r.race_date, r.race_number, r.post_time, r.complete,
                CASE WHEN r.complete THEN d.at END, r.final_odds
         FROM race_progress r
         LEFT JOIN results_done d USING (track, race_date, race_number)
         WHERE r.race_date BETWEEN $1 AND $2 AND r.post_time IS NOT NULL AND r.track = ANY($3)",
    )
    .bind(from)
    .bind(to)
    .bind(tracks)
    .fetch_all(pool)
    .await
    .map_err(db("reading the races to plan"))
}

/// Supersedes the queued pre-race odds polls of `source`'s `track` on `date`; returns how many.
pub(crate) async fn supersede_pre_race(
    pool: &PgPool,
    source: &str,
    track: &str,
    date: NaiveDate,
) -> Result<u64, JobError> {
    Ok(sqlx::query(
        "UPDATE planned_jobs SET state = 'superseded', finished_at = now()
         WHERE op = 'odds' AND state = 'queued' AND source = $1 AND track = $2 AND race_date = $3",
    )
    .bind(source)
    .bind(track)
    .bind(date)
    .execute(pool)
    .await
    .map_err(db("stopping a track-day's pre-race odds polls"))?
    .rows_affected())
}

/// The (source, track, race day)s from `from` to `to` whose last `n` finished pre-race odds
/// polls all found nothing: the cadence plans no more pre-race polls for them.
pub async fn pre_race_stopped(
    pool: &PgPool,
    from: NaiveDate,
    to: NaiveDate,
    n: u32,
) -> Result<Vec<(String, String, NaiveDate)>, JobError> {
    if n == 0 {
        return Ok(Vec::new());
    }
    sqlx::query_as(
        "SELECT source, track, race_date FROM (
             SELECT source, track, race_date, state,
                    row_number() OVER (PARTITION BY source, track, race_date ORDER BY slot DESC) AS k
             FROM planned_jobs
             WHERE op = 'odds' AND state IN ('done', 'no_data', 'failed') AND race_date BETWEEN $1 AND $2
         ) latest
         WHERE k <= $3
         GROUP BY source, track, race_date
         HAVING count(*) = $3 AND bool_and(state = 'no_data')
         ORDER BY track, race_date",
    )
    .bind(from)
    .bind(to)
    .bind(i64::from(n))
    .fetch_all(pool)
    .await
    .map_err(db("reading the pre-race odds answers"))
}
