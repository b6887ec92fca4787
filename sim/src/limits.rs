//! Daily quotas per (key, dataset) and the per-second limit per key.
//!
//! Quota days follow the simulated clock (KST), so a test can exhaust a quota and then move
//! the clock past midnight. The per-second limit follows real time: it is about how fast a
//! client really sends, whatever time the simulation shows.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Instant;

use chrono::NaiveDate;

/// How an exhausted daily quota is answered; both are seen on data.go.kr (§1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum QuotaStyle {
    /// Gateway XML with `returnReasonCode` 22 and HTTP 200 (default).
    #[default]
    Code22,
    /// HTTP 429 carrying the same code-22 XML body and no `Retry-After`.
    Http429,
}

/// Request limits. A limit of 0 means "no limit".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Requests per key per dataset per KST day, unless `per_dataset` says otherwise.
    pub daily: u32,
    /// Daily quota overrides by dataset name (`API301`, `15107830`, …).
    pub per_dataset: HashMap<String, u32>,
    /// Requests per second per key (a token bucket of this size, refilled at this rate).
    pub per_second: u32,
    /// How quota exhaustion is answered.
    pub quota_style: QuotaStyle,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { daily: 10_000, per_dataset: HashMap::new(), per_second: 50, quota_style: QuotaStyle::Code22 }
    }
}

impl Limits {
    /// No quota and no per-second limit.
    pub fn unlimited() -> Self {
        Limits { daily: 0, per_second: 0, ..Limits::default() }
    }

    /// The daily quota of `dataset` (0 = unlimited).
    pub fn quota_for(&self, dataset: &str) -> u32 {
        self.per_dataset.get(dataset).copied().unwrap_or(self.daily)
    }
}

/// (key, dataset).
type QuotaKey = (String, &'static str);

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The counters behind [`Limits`].
#[derive(Debug)]
pub(crate) struct Limiter {
    limits: Limits,
    buckets: Mutex<HashMap<String, Bucket>>,
    used: Mutex<HashMap<QuotaKey, (NaiveDate, u32)>>,
}

impl Limiter {
    pub fn new(limits: Limits) -> Self {
        Limiter { limits, buckets: Mutex::new(HashMap::new()), used: Mutex::new(HashMap::new()) }
    }

    pub fn quota_style(&self) -> QuotaStyle {
        self.limits.quota_style
    }

    /// Takes one token of `key`'s per-second bucket; `false` when it is empty.
    pub fn per_second(&self, key: &str, now: Instant) -> bool {
        let rate = f64::from(self.limits.per_second);
        if rate == 0.0 {
            return true;
        }
        let mut buckets = self.buckets.lock().unwrap_or_else(PoisonError::into_inner);
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: rate, at: now });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Counts one request of `key` on `dataset` for `day`; `false` (and not counted) when
    /// the day's quota is used up.
    pub fn quota(&self, key: &str, dataset: &'static str, day: NaiveDate) -> bool {
        let quota = self.limits.quota_for(dataset);
        if quota == 0 {
            return true;
        }
        let mut used = self.used.lock().unwrap_or_else(PoisonError::into_inner);
        let entry = used.entry((key.to_owned(), dataset)).or_insert((day, 0));
        if entry.0 != day {
            *entry = (day, 0);
        }
        if entry.1 >= quota {
            return false;
        }
        entry.1 += 1;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 1, d).expect("valid test date")
    }

    #[test]
    fn quota_is_per_key_dataset_and_day() {
        let mut limits = Limits::default();
        limits.per_dataset.insert("API301".into(), 2);
        let l = Limiter::new(limits);
        assert!(l.quota("k", "API301", day(1)));
        assert!(l.quota("k", "API301", day(1)));
        assert!(!l.quota("k", "API301", day(1)));
        assert!(l.quota("other", "API301", day(1)));
        assert!(l.quota("k", "API214_1", day(1)));
        assert!(l.quota("k", "API301", day(2)), "a new KST day resets the count");
    }

    #[test]
    fn per_second_bucket_refills() {
        let l = Limiter::new(Limits { per_second: 2, ..Limits::default() });
        let t0 = Instant::now();
        assert!(l.per_second("k", t0));
        assert!(l.per_second("k", t0));
        assert!(!l.per_second("k", t0));
        assert!(l.per_second("k", t0 + Duration::from_millis(600)));
    }
}
