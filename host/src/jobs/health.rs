//! How each source is doing, as this host has seen its jobs end: the figures `/status` shows.
//!
//! A source whose jobs all fail, or all time out, must not look healthy just because the
//! process runs: once [`UNHEALTHY_AFTER`] jobs in a row have ended in a final failure the
//! source is `failing`, and when each of them was a plugin that ran out of time (a deadline,
//! the watchdog, the job's budget) it is `timing_out`. One success makes it `ok` again.

use std::collections::BTreeMap;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};
use serde::Serialize;

/// Final failures in a row after which a source is no longer `ok`.
pub const UNHEALTHY_AFTER: u32 = 3;

/// A source's state, as `/status` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// No run of failures.
    Ok,
    /// Its last jobs failed for good.
    Failing,
    /// Its last jobs failed because its plugin ran out of time.
    TimingOut,
}

/// How a job ended, as far as its source's health goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    Done,
    Failed,
    /// Failed because the plugin ran out of time.
    TimedOut,
}

/// One source's figures.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SourceFigures {
    pub done: u64,
    pub failed: u64,
    /// Failures that were the plugin running out of time (included in `failed`).
    pub timed_out: u64,
    /// Final failures since the last success.
    pub failures_in_a_row: u32,
    /// Of those, the ones that were timeouts, while every one of them was.
    pub timeouts_in_a_row: u32,
    pub last_success: Option<DateTime<Utc>>,
    pub last_failure: Option<DateTime<Utc>>,
}

impl SourceFigures {
    /// The state these figures add up to.
    pub fn health(&self) -> Health {
        if self.timeouts_in_a_row >= UNHEALTHY_AFTER {
            Health::TimingOut
        } else if self.failures_in_a_row >= UNHEALTHY_AFTER {
            Health::Failing
        } else {
            Health::Ok
        }
    }

    /// Counts a job's ending at `at`.
    fn record(&mut self, ending: Ending, at: DateTime<Utc>) {
        match ending {
            Ending::Done => {
                self.done += 1;
                self.failures_in_a_row = 0;
                self.timeouts_in_a_row = 0;
                self.last_success = Some(at);
            }
            Ending::Failed | Ending::TimedOut => {
                self.failed += 1;
                self.last_failure = Some(at);
                if ending == Ending::TimedOut {
                    self.timed_out += 1;
                }
                // A timeout run is unbroken only while every failure in the run is one.
                if ending == Ending::TimedOut && self.timeouts_in_a_row == self.failures_in_a_row {
                    self.timeouts_in_a_row += 1;
                } else {
                    self.timeouts_in_a_row = 0;
                }
                self.failures_in_a_row += 1;
            }
        }
    }
}

/// Every source's figures, shared by the worker's tasks.
#[derive(Debug, Default)]
pub struct SourceHealth {
    figures: Mutex<BTreeMap<String, SourceFigures>>,
}

impl SourceHealth {
    /// Counts a job of `source` ending; returns the source's health when this ending changed it.
    pub fn record(&self, source: &str, ending: Ending, at: DateTime<Utc>) -> Option<Health> {
        let mut figures = self.figures.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = figures.entry(source.to_string()).or_default();
        let before = entry.health();
        entry.record(ending, at);
        let after = entry.health();
        (after != before).then_some(after)
    }

    /// A copy of every source's figures.
    pub fn snapshot(&self) -> BTreeMap<String, SourceFigures> {
        self.figures.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + s, 0).expect("time")
    }

    #[test]
    fn a_source_whose_jobs_all_time_out_is_timing_out_until_one_succeeds() {
        let health = SourceHealth::default();
        assert_eq!(health.record("kra", Ending::TimedOut, at(1)), None);
        assert_eq!(health.record("kra", Ending::TimedOut, at(2)), None);
        assert_eq!(health.record("kra", Ending::TimedOut, at(3)), Some(Health::TimingOut));
        assert_eq!(health.record("kra", Ending::TimedOut, at(4)), None);
        assert_eq!(health.record("kspo", Ending::Done, at(4)), None, "other sources are apart");
        let kra = &health.snapshot()["kra"];
        assert_eq!((kra.failed, kra.timed_out, kra.last_success), (4, 4, None));
        assert_eq!(kra.last_failure, Some(at(4)));
        assert_eq!(health.record("kra", Ending::Done, at(5)), Some(Health::Ok));
        assert_eq!(health.snapshot()["kspo"].health(), Health::Ok);
    }

    #[test]
    fn mixed_failures_are_failing_not_timing_out() {
        let health = SourceHealth::default();
        health.record("kra", Ending::TimedOut, at(1));
        health.record("kra", Ending::Failed, at(2));
        assert_eq!(health.record("kra", Ending::TimedOut, at(3)), Some(Health::Failing));
        assert_eq!(health.snapshot()["kra"].timeouts_in_a_row, 0);
        health.record("kra", Ending::Done, at(4));
        for s in 5..8 {
            health.record("kra", Ending::Failed, at(s));
        }
        assert_eq!(health.snapshot()["kra"].health(), Health::Failing);
    }
}
