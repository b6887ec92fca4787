//! The simulator's notion of "now": real, frozen, or running fast.
//!
//! Everything time-dependent (what is published, live odds, quota days) reads this clock, so
//! tests freeze it instead of sleeping and demos can replay a race day in minutes.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use chrono::{DateTime, FixedOffset, TimeDelta, Utc};

/// Korea Standard Time (UTC+9, no daylight saving).
pub fn kst() -> FixedOffset {
    FixedOffset::east_opt(9 * 3600).expect("+09:00 is within FixedOffset's range")
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    System,
    Fixed(DateTime<FixedOffset>),
    Accelerated { start: DateTime<FixedOffset>, origin: Instant, speed: f64 },
}

/// A cheap-to-clone handle on the simulated time; clones share the same time.
///
/// `now()` is always expressed in KST (`+09:00`).
#[derive(Debug, Clone)]
pub struct Clock {
    mode: Arc<Mutex<Mode>>,
}

impl Default for Clock {
    fn default() -> Self {
        Self::system()
    }
}

impl Clock {
    /// The machine's wall clock.
    pub fn system() -> Self {
        Self::with(Mode::System)
    }

    /// A clock that stands still at `t` until [`Clock::set`] or [`Clock::advance`] moves it.
    pub fn fixed(t: DateTime<FixedOffset>) -> Self {
        Self::with(Mode::Fixed(t))
    }

    /// Simulated time = `start` + real time elapsed since this call × `speed`.
    ///
    /// A negative or non-finite `speed` is treated as 1 (real time) rather than running
    /// backwards, which no consumer could make sense of.
    pub fn accelerated(start: DateTime<FixedOffset>, speed: f64) -> Self {
        let speed = if speed.is_finite() && speed >= 0.0 { speed } else { 1.0 };
        Self::with(Mode::Accelerated { start, origin: Instant::now(), speed })
    }

    fn with(mode: Mode) -> Self {
        Self { mode: Arc::new(Mutex::new(mode)) }
    }

    fn mode(&self) -> std::sync::MutexGuard<'_, Mode> {
        // The guarded value is plain data; a panic elsewhere cannot leave it half-written.
        self.mode.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The current simulated time in KST.
    pub fn now(&self) -> DateTime<FixedOffset> {
        let t = match *self.mode() {
            Mode::System => Utc::now().fixed_offset(),
            Mode::Fixed(t) => t,
            Mode::Accelerated { start, origin, speed } => {
                let real = origin.elapsed().as_secs_f64() * speed;
                // Saturate instead of overflowing after centuries of simulated time.
                let micros = (real * 1e6).min(i64::MAX as f64) as i64;
                start + TimeDelta::microseconds(micros)
            }
        };
        t.with_timezone(&kst())
    }

    /// Jumps to `t`. A fixed clock stays fixed at `t`; an accelerated clock keeps running at
    /// its speed from `t`; the system clock becomes a fixed clock at `t`.
    pub fn set(&self, t: DateTime<FixedOffset>) {
        let mut mode = self.mode();
        *mode = match *mode {
            Mode::System | Mode::Fixed(_) => Mode::Fixed(t),
            Mode::Accelerated { speed, .. } => Mode::Accelerated { start: t, origin: Instant::now(), speed },
        };
    }

    /// Moves the clock by `d` (see [`Clock::set`] for what happens to each kind of clock).
    pub fn advance(&self, d: TimeDelta) {
        self.set(self.now() + d);
    }

    /// A clock that read `start` at the real instant `epoch` and runs at `speed`: processes
    /// given the same three values read the same time (a simulator and the hosts under test).
    pub fn anchored(start: DateTime<FixedOffset>, speed: f64, epoch: std::time::SystemTime) -> Self {
        let elapsed = std::time::SystemTime::now().duration_since(epoch).unwrap_or_default().as_secs_f64() * speed;
        let micros = (elapsed * 1e6).min(i64::MAX as f64) as i64;
        Self::accelerated(start + TimeDelta::microseconds(micros), speed)
    }

    /// Reads `START,SPEED,EPOCH_MS` (RFC 3339, a number, Unix milliseconds) into
    /// [`Clock::anchored`].
    pub fn from_spec(spec: &str) -> Result<Self, String> {
        let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
        let [start, speed, epoch] = parts.as_slice() else {
            return Err(format!(
                "{spec:?}: expected START,SPEED,EPOCH_MS, e.g. 2026-12-05T10:00:00+09:00,60,1796000000000"
            ));
        };
        let start =
            DateTime::parse_from_rfc3339(start).map_err(|e| format!("{start:?} is not an RFC 3339 time: {e}"))?;
        let speed: f64 = speed
            .parse()
            .ok()
            .filter(|s: &f64| s.is_finite() && *s > 0.0)
            .ok_or_else(|| format!("{speed:?} is not a positive speed"))?;
        let epoch: u64 = epoch.parse().map_err(|_| format!("{epoch:?} is not Unix milliseconds"))?;
        Ok(Self::anchored(start, speed, std::time::UNIX_EPOCH + std::time::Duration::from_millis(epoch)))
    }

    /// How many clock seconds pass per real second: 1 for the system clock, the speed of an
    /// accelerated one, and 0 for a fixed clock (it moves only when told).
    pub fn speed(&self) -> f64 {
        match *self.mode() {
            Mode::System => 1.0,
            Mode::Fixed(_) => 0.0,
            Mode::Accelerated { speed, .. } => speed,
        }
    }

    /// The real time until the clock reads `t`: zero if it already does, and zero on a fixed
    /// clock (whoever holds it moves it; waiting would never end).
    pub fn real_until(&self, t: DateTime<FixedOffset>) -> std::time::Duration {
        let ahead = (t - self.now()).to_std().unwrap_or_default();
        let speed = self.speed();
        if speed > 0.0 { ahead.div_f64(speed) } else { std::time::Duration::ZERO }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).expect("test timestamp")
    }

    #[test]
    fn fixed_clock_reports_kst_and_moves_only_when_told() {
        let clock = Clock::fixed(t("2026-01-03T01:00:00Z"));
        assert_eq!(clock.now().to_rfc3339(), "2026-01-03T10:00:00+09:00");
        let shared = clock.clone();
        shared.advance(TimeDelta::minutes(5));
        assert_eq!(clock.now().to_rfc3339(), "2026-01-03T10:05:00+09:00");
    }

    #[test]
    fn accelerated_clock_runs_fast() {
        let clock = Clock::accelerated(t("2026-01-03T10:00:00+09:00"), 3600.0);
        std::thread::sleep(std::time::Duration::from_millis(5));
        // 5 ms × 3600 = 18 s at least.
        assert!(clock.now() >= t("2026-01-03T10:00:18+09:00"));
    }
}
