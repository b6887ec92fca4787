//! The host's time, and Korea's.
//!
//! The planner, the worker, the budget, the queue and `/status` read the time only through
//! [`Clock`]: the system clock in the daemon, a clock the caller drives in tests and the demo.
//! The simulator's clock implements [`Time`], so a test and the simulator it runs read the same
//! time; the host does not otherwise depend on the simulator's notion of time.
//!
//! Korean racing runs on KST (UTC+9, no daylight saving): race days, post times, the daily
//! quotas and "today" in `/status` are KST. The helpers for it are here, in one place.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeDelta, Utc};

/// A source of the time.
pub trait Time: Send + Sync + std::fmt::Debug + 'static {
    /// Now.
    fn now(&self) -> DateTime<Utc>;

    /// The real time until the clock reads `t`: zero if it does already, and zero on a clock
    /// that moves only when told (waiting would never end).
    fn real_until(&self, t: DateTime<Utc>) -> Duration;

    /// Clock seconds per real second: 1 for real time, 0 for a clock that moves only when told.
    fn speed(&self) -> f64;
}

/// The machine's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemTime;

impl Time for SystemTime {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn real_until(&self, t: DateTime<Utc>) -> Duration {
        (t - Utc::now()).to_std().unwrap_or_default()
    }

    fn speed(&self) -> f64 {
        1.0
    }
}

impl Time for racelab_sim::Clock {
    fn now(&self) -> DateTime<Utc> {
        racelab_sim::Clock::now(self).to_utc()
    }

    fn real_until(&self, t: DateTime<Utc>) -> Duration {
        racelab_sim::Clock::real_until(self, t.fixed_offset())
    }

    fn speed(&self) -> f64 {
        racelab_sim::Clock::speed(self)
    }
}

/// The host's clock. Cheap to clone; clones read the same time.
#[derive(Debug, Clone)]
pub struct Clock(Arc<dyn Time>);

impl Default for Clock {
    fn default() -> Self {
        Clock::system()
    }
}

impl Clock {
    /// The machine's wall clock.
    pub fn system() -> Clock {
        Clock(Arc::new(SystemTime))
    }

    /// A clock reading `time`.
    pub fn new(time: impl Time) -> Clock {
        Clock(Arc::new(time))
    }

    /// Now, in KST.
    pub fn now(&self) -> DateTime<FixedOffset> {
        self.0.now().with_timezone(&kst())
    }

    /// Today's date in KST.
    pub fn today(&self) -> NaiveDate {
        self.now().date_naive()
    }

    /// Clock seconds per real second (see [`Time::speed`]).
    pub fn speed(&self) -> f64 {
        self.0.speed()
    }

    /// The real time until the clock reads `t` (see [`Time::real_until`]).
    pub fn real_until(&self, t: DateTime<FixedOffset>) -> Duration {
        self.0.real_until(t.to_utc())
    }
}

impl From<racelab_sim::Clock> for Clock {
    fn from(clock: racelab_sim::Clock) -> Self {
        Clock::new(clock)
    }
}

/// Korean Standard Time (UTC+9, no daylight saving).
pub fn kst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).unwrap_or_else(|| unreachable!("+09:00 is a valid offset"))
}

/// The KST date of `t`.
pub fn kst_date(t: DateTime<Utc>) -> NaiveDate {
    t.with_timezone(&kst()).date_naive()
}

/// `date` at `time` KST, as an instant. +09:00 has no gaps or folds.
pub fn kst_instant(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    (date.and_time(time) - TimeDelta::hours(9)).and_utc()
}

/// The next KST midnight after `t`: when a day's quota resets.
pub fn next_kst_midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    kst_instant(kst_date(t).succ_opt().unwrap_or(NaiveDate::MAX), NaiveTime::MIN)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("an RFC 3339 time").to_utc()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).expect("a December day")
    }

    #[test]
    fn the_kst_day_turns_at_15_utc() {
        assert_eq!(kst_date(t("2026-12-06T14:59:59Z")), day(6));
        assert_eq!(kst_date(t("2026-12-06T15:00:00Z")), day(7));
        assert_eq!(next_kst_midnight(t("2026-12-06T14:59:59Z")), t("2026-12-06T15:00:00Z"));
        assert_eq!(next_kst_midnight(t("2026-12-06T15:00:00Z")), t("2026-12-07T15:00:00Z"));
    }

    #[test]
    fn a_kst_wall_time_is_nine_hours_ahead_of_utc() {
        assert_eq!(kst_instant(day(6), NaiveTime::from_hms_opt(6, 0, 0).expect("06:00")), t("2026-12-05T21:00:00Z"));
    }

    #[test]
    fn a_host_clock_reads_the_simulator_clock_it_wraps() {
        let sim = racelab_sim::Clock::fixed(DateTime::parse_from_rfc3339("2026-12-06T10:00:00+09:00").expect("a time"));
        let clock = Clock::from(sim.clone());
        assert_eq!(clock.now(), sim.now());
        assert_eq!(clock.today(), day(6));
        sim.advance(TimeDelta::hours(15));
        assert_eq!(clock.today(), day(7));
        // A fixed clock moves only when told: no real wait.
        assert_eq!(clock.real_until(clock.now() + TimeDelta::hours(1)), Duration::ZERO);
        assert!(Clock::system().real_until(Clock::system().now() + TimeDelta::hours(1)) > Duration::from_secs(3590));
    }
}
