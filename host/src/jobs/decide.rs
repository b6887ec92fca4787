//! A job's decisions, without I/O: whether a claimed job runs, and how a run is booked.
//!
//! The worker reads the facts (the job and its race, as the claim read them; how the run
//! ended), asks here, and carries out the answer through the ledger. Keeping the policy apart
//! keeps it testable without PostgreSQL, a plugin or a clock, and in one place.

use std::time::Duration;

use chrono::{DateTime, Utc};
use rand::Rng;

use super::retry::Backoff;
use super::{FailureKind, JobState, Op};

/// What the claim read about a job and its race.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Facts {
    pub op: Op,
    pub state: JobState,
    pub slot: DateTime<Utc>,
    /// Paused until then (a quota reset).
    pub not_before: Option<DateTime<Utc>>,
    /// The race's post time when the job was planned.
    pub planned_post: Option<DateTime<Utc>>,
    /// The race's post time as stored now.
    pub race_post: Option<DateTime<Utc>>,
    /// The race has odds captured after post.
    pub race_final_odds: Option<bool>,
    /// The race has results and dividends.
    pub race_complete: Option<bool>,
}

impl Facts {
    /// When the job may run: its slot, or later when it is paused.
    pub fn due(&self) -> DateTime<Utc> {
        self.not_before.map_or(self.slot, |nb| nb.max(self.slot))
    }
}

/// Why a job ends without running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Superseded {
    /// The race's post time moved since the job was planned: the planner plans it anew.
    PostMoved { from: DateTime<Utc>, to: DateTime<Utc> },
    /// A pre-race odds poll whose race has started: run now, it would store the race's later
    /// odds as a pre-race snapshot, and spend quota on it (a job that waited out a quota
    /// pause, a backlog, or was retried by hand hours later).
    RaceStarted,
    /// A repeating job whose data came in meanwhile (its next slot queued ahead, or a retry by
    /// hand): nothing is left to ask for.
    DataIn,
}

/// What to do with a claimed job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// Settled already (another run finished it): only its task is left to settle.
    Finished,
    /// Not due before this instant of the host clock.
    NotDue(DateTime<Utc>),
    /// End it without running.
    Superseded(Superseded),
    /// Run it.
    Run,
}

/// Whether the job `facts` describes runs at `now`.
pub fn start(facts: &Facts, now: DateTime<Utc>) -> Start {
    if facts.state != JobState::Queued {
        return Start::Finished;
    }
    let due = facts.due();
    if now < due {
        return Start::NotDue(due);
    }
    if let (Some(from), Some(to)) = (facts.planned_post, facts.race_post)
        && from != to
    {
        return Start::Superseded(Superseded::PostMoved { from, to });
    }
    if facts.op == Op::Odds && facts.planned_post.is_some_and(|post| post <= now) {
        return Start::Superseded(Superseded::RaceStarted);
    }
    let filled = match facts.op {
        Op::OddsFinal => facts.race_final_odds == Some(true),
        Op::Results => facts.race_complete == Some(true),
        _ => false,
    };
    if filled {
        return Start::Superseded(Superseded::DataIn);
    }
    Start::Run
}

/// How a run ended, as far as the books care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// The source answered and the store took the answer: this many records.
    Stored(usize),
    /// The run failed, or the store refused its output.
    Failed {
        kind: FailureKind,
        /// The plugin ran out of time (the source's health counts it apart).
        timed_out: bool,
    },
}

/// How a run is booked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Booking {
    /// Finished: `Done`, or `NoData` (an empty answer to an operation that waits for
    /// publication; the planner asks again at the race's next slot).
    Finished(JobState),
    /// Run again after `delay` (real time); `attempts` is the count so far.
    RetryIn { attempts: u32, delay: Duration },
    /// The quota ran out: run again when it resets, without counting an attempt.
    PauseUntil(DateTime<Utc>),
    /// Failed for good after `attempts`: a failure row and an alert.
    Failed { attempts: u32, kind: FailureKind },
}

/// What the books need besides the run's end.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    pub backoff: Backoff,
    /// When the quota resets (the next KST midnight).
    pub quota_resets: DateTime<Utc>,
}

/// How a job of `op` ends whose answer, `records` records, the store took: an empty answer
/// to an operation that waits for publication is "not yet" (`NoData`; the planner asks again at
/// the race's next slot), never done with nothing.
pub fn answered(op: Op, records: usize) -> JobState {
    if records == 0 && op.waits_for_publication() { JobState::NoData } else { JobState::Done }
}

/// The booking of a run of `op` that ended `ended`, after `attempts` earlier attempts.
pub fn book(op: Op, ended: Ended, attempts: u32, rules: &Rules, rng: &mut impl Rng) -> Booking {
    match ended {
        Ended::Stored(records) => Booking::Finished(answered(op, records)),
        Ended::Failed { kind: FailureKind::QuotaExhausted, .. } => Booking::PauseUntil(rules.quota_resets),
        Ended::Failed { kind, .. } => {
            let attempts = attempts + 1;
            if kind.retryable() && attempts < rules.backoff.max_attempts {
                Booking::RetryIn { attempts, delay: rules.backoff.delay_with(attempts, rng) }
            } else {
                Booking::Failed { attempts, kind }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeDelta;
    use rand::SeedableRng;

    fn t(minutes: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000, 0).expect("a valid instant") + TimeDelta::minutes(minutes)
    }

    fn facts(op: Op) -> Facts {
        Facts {
            op,
            state: JobState::Queued,
            slot: t(0),
            not_before: None,
            planned_post: Some(t(30)),
            race_post: Some(t(30)),
            race_final_odds: Some(false),
            race_complete: Some(false),
        }
    }

    fn rules() -> Rules {
        Rules { backoff: Backoff::default(), quota_resets: t(600) }
    }

    fn rng() -> rand_chacha::ChaCha8Rng {
        rand_chacha::ChaCha8Rng::seed_from_u64(7)
    }

    #[test]
    fn a_queued_job_runs_at_its_slot_not_before() {
        let f = facts(Op::Odds);
        assert_eq!(start(&f, t(-1)), Start::NotDue(t(0)));
        assert_eq!(start(&f, t(0)), Start::Run);
    }

    #[test]
    fn a_paused_job_waits_for_the_later_of_its_slot_and_its_pause() {
        let f = Facts { not_before: Some(t(10)), ..facts(Op::Entries) };
        assert_eq!(start(&f, t(5)), Start::NotDue(t(10)));
        let early_pause = Facts { not_before: Some(t(-10)), ..facts(Op::Entries) };
        assert_eq!(start(&early_pause, t(-5)), Start::NotDue(t(0)));
    }

    #[test]
    fn a_finished_job_is_only_settled() {
        for state in [JobState::Done, JobState::NoData, JobState::Failed, JobState::Superseded] {
            assert_eq!(start(&Facts { state, ..facts(Op::Odds) }, t(0)), Start::Finished);
        }
    }

    #[test]
    fn a_moved_post_time_supersedes_any_race_job() {
        let f = Facts { race_post: Some(t(45)), ..facts(Op::Results) };
        assert_eq!(start(&f, t(0)), Start::Superseded(Superseded::PostMoved { from: t(30), to: t(45) }));
        // A race not stored (yet) does not supersede it.
        assert_eq!(start(&Facts { race_post: None, ..facts(Op::Results) }, t(0)), Start::Run);
    }

    #[test]
    fn a_pre_race_poll_of_a_started_race_is_superseded_and_a_final_poll_is_not() {
        let late = |op| Facts { slot: t(31), ..facts(op) };
        assert_eq!(start(&late(Op::Odds), t(31)), Start::Superseded(Superseded::RaceStarted));
        assert_eq!(start(&late(Op::OddsFinal), t(31)), Start::Run);
        assert_eq!(start(&late(Op::Odds), t(29)), Start::NotDue(t(31)));
        assert_eq!(start(&facts(Op::Odds), t(30)), Start::Superseded(Superseded::RaceStarted));
    }

    #[test]
    fn a_repeating_job_whose_data_is_in_is_superseded() {
        let odds = Facts { race_final_odds: Some(true), ..facts(Op::OddsFinal) };
        assert_eq!(start(&odds, t(0)), Start::Superseded(Superseded::DataIn));
        let results = Facts { race_complete: Some(true), ..facts(Op::Results) };
        assert_eq!(start(&results, t(0)), Start::Superseded(Superseded::DataIn));
        // Other operations do not look at the race's data.
        let entries = Facts { race_final_odds: Some(true), race_complete: Some(true), ..facts(Op::Entries) };
        assert_eq!(start(&entries, t(0)), Start::Run);
        // Unknown is not "in".
        assert_eq!(start(&Facts { race_complete: None, ..facts(Op::Results) }, t(0)), Start::Run);
    }

    #[test]
    fn an_empty_answer_is_no_data_only_for_what_waits_for_publication() {
        for op in [Op::Odds, Op::OddsFinal, Op::Results] {
            assert_eq!(book(op, Ended::Stored(0), 0, &rules(), &mut rng()), Booking::Finished(JobState::NoData));
            assert_eq!(book(op, Ended::Stored(3), 0, &rules(), &mut rng()), Booking::Finished(JobState::Done));
        }
        for op in [Op::Schedule, Op::Entries] {
            assert_eq!(book(op, Ended::Stored(0), 0, &rules(), &mut rng()), Booking::Finished(JobState::Done));
        }
    }

    #[test]
    fn transient_rate_limited_and_malformed_are_retried_until_the_last_attempt() {
        let rules = rules();
        let last = rules.backoff.max_attempts;
        for kind in [FailureKind::Transient, FailureKind::RateLimited, FailureKind::Malformed] {
            let ended = Ended::Failed { kind, timed_out: false };
            for before in 0..last - 1 {
                match book(Op::Odds, ended, before, &rules, &mut rng()) {
                    Booking::RetryIn { attempts, delay } => {
                        assert_eq!(attempts, before + 1);
                        assert!(delay <= rules.backoff.cap, "{delay:?}");
                    }
                    other => panic!("{kind:?} after {before} attempts: {other:?}"),
                }
            }
            assert_eq!(book(Op::Odds, ended, last - 1, &rules, &mut rng()), Booking::Failed { attempts: last, kind });
        }
    }

    #[test]
    fn a_final_kind_fails_at_once() {
        for kind in [
            FailureKind::Auth,
            FailureKind::BadRequest,
            FailureKind::Unsupported,
            FailureKind::PluginFault,
            FailureKind::Config,
        ] {
            let ended = Ended::Failed { kind, timed_out: kind == FailureKind::PluginFault };
            assert_eq!(book(Op::Results, ended, 0, &rules(), &mut rng()), Booking::Failed { attempts: 1, kind });
        }
    }

    #[test]
    fn an_exhausted_quota_pauses_until_the_reset_without_counting_an_attempt() {
        let ended = Ended::Failed { kind: FailureKind::QuotaExhausted, timed_out: false };
        assert_eq!(book(Op::Odds, ended, 5, &rules(), &mut rng()), Booking::PauseUntil(t(600)));
    }
}
