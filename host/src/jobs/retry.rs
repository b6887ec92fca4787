//! Trying again: the backoff between a job's attempts, and `racelab retry` for a job that
//! failed for good.

use std::time::Duration;

use rand::Rng;
use sqlx::PgPool;

use super::{FailureKind, JobError, JobSpec, JobState, Op, db, enqueue_in, ledger, priority, push_task};
use crate::budget::Lane;
use crate::clock::Clock;

/// Exponential backoff with full jitter: attempt `n` waits a uniformly random time between zero
/// and `min(cap, base · 2ⁿ)`. The randomness spreads the retries of many jobs that failed
/// together (a source outage), so they do not come back in one burst.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    /// Attempts in all, the first included; a job that fails this often is a failure row.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff { base: Duration::from_secs(2), cap: Duration::from_secs(300), max_attempts: 6 }
    }
}

impl Backoff {
    /// The wait before attempt `attempt + 1`, after `attempt` failures.
    pub fn delay(&self, attempt: u32) -> Duration {
        self.delay_with(attempt, &mut rand::rng())
    }

    /// [`Backoff::delay`] with the caller's randomness.
    pub fn delay_with(&self, attempt: u32, rng: &mut impl Rng) -> Duration {
        let ceiling = self.base.saturating_mul(1 << attempt.min(20)).min(self.cap);
        ceiling.mul_f64(rng.random::<f64>())
    }
}

/// What `racelab retry` did with one failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Retried {
    /// The job is queued again; the failure resolves when it succeeds.
    Queued { failure: i64, job: i64, task: String },
    /// The job was queued already (retried before, not run yet).
    AlreadyQueued { failure: i64, job: i64 },
}

/// Queues the job behind failure `failure` again, due now.
pub async fn retry_failure(pool: &PgPool, clock: &Clock, failure: i64) -> Result<Retried, JobError> {
    let mut tx = pool.begin().await.map_err(db("starting a retry"))?;
    let row = ledger::lock_failure(&mut tx, failure).await?;
    let Some((job, resolved, kind, spec)) = row else {
        return Err(JobError::NotRetryable { failure, reason: "there is no such failure".into() });
    };
    if let Some(at) = resolved {
        return Err(JobError::NotRetryable { failure, reason: format!("it was resolved at {at}") });
    }
    if kind == FailureKind::Incomplete {
        // A gap has no job of its own: queue the one that fills it, due now. The planner's
        // completeness sweep resolves the gap once the data is in.
        let retried = queue_gap_job(&mut tx, clock, failure, spec).await?;
        tx.commit().await.map_err(db("committing a retry"))?;
        return Ok(retried);
    }
    let Some(job) = job else {
        return Err(JobError::NotRetryable { failure, reason: "it is not the failure of a queued job".into() });
    };
    let (state, lane, op) = ledger::lock_job(&mut tx, job).await?;
    if state == JobState::Queued {
        return Ok(Retried::AlreadyQueued { failure, job });
    }
    ledger::requeue(&mut tx, job).await?;
    let task = push_task(&mut tx, clock, job, priority(lane, op)).await?;
    tx.commit().await.map_err(db("committing a retry"))?;
    Ok(Retried::Queued { failure, job, task })
}

/// What a gap's row keeps of the job that would fill it.
#[derive(Debug, serde::Deserialize)]
struct GapJob {
    source: String,
    op: Op,
    track: String,
    race_date: chrono::NaiveDate,
    race_number: u8,
    post_time: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pools: Vec<String>,
}

/// Queues the job of gap `failure`, due now, within `tx`.
async fn queue_gap_job(
    tx: &mut sqlx::PgConnection,
    clock: &Clock,
    failure: i64,
    spec: Option<serde_json::Value>,
) -> Result<Retried, JobError> {
    let gap: GapJob = spec.and_then(|v| serde_json::from_value(v).ok()).ok_or_else(|| JobError::NotRetryable {
        failure,
        reason: "the gap does not say which job would fill it".into(),
    })?;
    let spec = JobSpec {
        source: gap.source,
        op: gap.op,
        track: gap.track,
        race_date: gap.race_date,
        race_number: gap.race_number,
        slot: clock.now().to_utc(),
        lane: Lane::Live,
        post_time: gap.post_time,
        pools: gap.pools,
    };
    enqueue_in(&mut *tx, clock, std::slice::from_ref(&spec)).await?;
    let (job, task) = ledger::job_of(&mut *tx, &spec).await?;
    Ok(Retried::Queued { failure, job, task: task.unwrap_or_default() })
}

/// [`retry_failure`] for every unresolved failure of a job, oldest first.
pub async fn retry_all_open(pool: &PgPool, clock: &Clock) -> Result<Vec<Retried>, JobError> {
    let open = ledger::open_retryable(pool).await?;
    let mut done = Vec::with_capacity(open.len());
    for failure in open {
        done.push(retry_failure(pool, clock, failure).await?);
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn full_jitter_stays_under_the_doubling_ceiling_and_the_cap() {
        let b = Backoff { base: Duration::from_millis(100), cap: Duration::from_secs(1), max_attempts: 6 };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for attempt in 0..10 {
            let ceiling = Duration::from_millis(100 * (1 << attempt)).min(Duration::from_secs(1));
            let delays: Vec<Duration> = (0..200).map(|_| b.delay_with(attempt, &mut rng)).collect();
            assert!(delays.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            // Full jitter: spread over the whole range, not bunched at the ceiling.
            assert!(delays.iter().any(|d| *d < ceiling / 4), "attempt {attempt}");
            assert!(delays.iter().any(|d| *d > ceiling * 3 / 4), "attempt {attempt}");
        }
    }
}
