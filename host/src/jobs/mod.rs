//! The durable job queue: what the planner decided, as tasks in apalis-postgres' queue, run by
//! the worker. A job's life is in docs/architecture.md; the statements are all in [`ledger`].
//!
//! | file | owns |
//! |---|---|
//! | `planner.rs` | what is due: the schedule sync, entries, the odds cadence, results |
//! | `backfill.rs` | past days: runs cut into (track, day) slices, planned in the backfill lane |
//! | `decide.rs` | a job's decisions, without I/O: due, superseded or run; how a run is booked |
//! | `ledger.rs` | every statement on `planned_jobs`, apalis' tables and `ingestion_failures` |
//! | `worker.rs` | the loop: claim, run (plugin, budget, archive, store), settle, heartbeat, drain |
//! | `retry.rs` | backoff with full jitter; `racelab retry` |
//! | `health.rs` | how each source's jobs ended: `ok`, `failing`, `timing_out` |
//! | `gaps.rs` | completeness: races given up on become `incomplete` failures, resolved when filled |
//! | `words.rs` | the typed words of the job tables: state, lane, operation, failure kind; queue priority |

pub mod backfill;
pub mod decide;
pub mod gaps;
pub mod health;
pub mod ledger;
pub mod planner;
pub mod retry;
pub mod words;
pub mod worker;

pub(crate) use ledger::push_task;
pub use ledger::{Settle, enqueue, enqueue_in, release_abandoned, settle};
pub use words::{FailureKind, JobState, priority};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

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

    /// The plugin operation that asks this of `track` on `date` (race `number`, with the
    /// `meeting` tag its plugin put on the race; odds of `pools`, KRA codes).
    pub fn operation(
        self,
        track: &str,
        date: NaiveDate,
        number: u8,
        meeting: Option<String>,
        pools: &[String],
    ) -> crate::plugins::wit::Operation {
        use crate::plugins::wit::{Date, DayRef, OddsQuery, Operation, RaceKey, RaceRef};
        use chrono::Datelike;
        let date = Date {
            year: u16::try_from(date.year()).unwrap_or(0),
            month: u8::try_from(date.month()).unwrap_or(0),
            day: u8::try_from(date.day()).unwrap_or(0),
        };
        let race = RaceRef { key: RaceKey { track: track.to_string(), date, number }, meeting };
        match self {
            Op::Schedule => Operation::Schedule(DayRef { track: track.to_string(), date }),
            Op::Entries => Operation::Entries(race),
            Op::Results => Operation::Results(race),
            Op::Odds | Op::OddsFinal => Operation::Odds(OddsQuery {
                race,
                pools: pools.iter().filter_map(|p| crate::json::pool_from_code(p)).collect(),
            }),
        }
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
