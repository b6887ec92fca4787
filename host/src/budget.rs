//! Request budgets per source dataset: the daily quota and the per-second rate, shared by every
//! host process through PostgreSQL.
//!
//! data.go.kr counts quotas per dataset, per service key, per KST day, and limits the request rate
//! per dataset. Several host processes can share one key (a deploy overlapping the old daemon, a
//! backfill beside it), so a limiter inside one process would let them overrun it together. Both
//! limits therefore live in the database, each settled by one atomic statement per request:
//!
//! - **quota** (`quota_usage`): the day's count is incremented only while below the limit
//!   (`ON CONFLICT … DO UPDATE … WHERE used < limit`), so concurrent processes never overshoot.
//!   The day is the KST date of the [`Clock`], which tests and demos move, not the database's.
//!   Backfill may use only a share of it ([`Budget::with_backfill_share`]); live work keeps the rest.
//! - **rate** (`rate_slots`): one row per dataset holds the next free send instant; a request
//!   reserves it and moves it one interval on (virtual scheduling), then sleeps until its slot.
//!   Slots are in the database's real time, so processes agree whatever their own clocks say.
//! - **pauses**: the source's "retry after" ([`Budget::pause_for`]) holds every process; a quota
//!   the source declares exhausted ([`Budget::exhausted`]) is marked used up until KST midnight.
//!
//! The price is one or two statements per request, small beside the HTTP round trip it guards.
//! A dataset with no quota has nothing to refuse, so its requests are counted in the process and
//! written in one statement at most once a second ([`COUNT_FLUSH`]) and on [`Budget::flush`]:
//! the per-request upsert of one shared row was the slowest statement of a job (every request of
//! a dataset queued on that row's lock through its commit). A crash loses at most that second's
//! counts of unlimited datasets, which only inform. Their pause is read at a job's first
//! request ([`Budget::acquire_with`]).

use std::collections::{BTreeMap, HashMap};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

use crate::clock::{Clock, kst};

/// Backfill's default share of a daily quota: live polling on a race day keeps the last fifth.
pub const DEFAULT_BACKFILL_SHARE: f64 = 0.8;

/// The longest pause (the source's "retry after") that [`Budget::acquire`] waits out itself. A
/// longer one returns [`BudgetError::Paused`], so the caller can put its job back for later
/// instead of holding a worker.
pub const MAX_PAUSE_WAIT: Duration = Duration::from_secs(30);

/// The longest pause [`Budget::pause_for`] records: a garbled "retry after" must not silence a
/// dataset for longer than a quota day; if the source still means it, it will say so again.
pub const MAX_PAUSE: Duration = Duration::from_secs(24 * 3600);

/// How often the counts of datasets without a quota are written at the latest.
pub const COUNT_FLUSH: Duration = Duration::from_secs(1);

/// Who is asking: live work (today's cards, odds, results) may use the whole quota, backfill
/// only its share.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// Today's and upcoming races: may use the whole quota.
    Live,
    /// Past days filled in: may use [`Budget::with_backfill_share`] of the quota.
    Backfill,
}

/// The limits of one source's dataset. `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DatasetLimit {
    /// Requests per KST day.
    pub daily_quota: Option<u32>,
    /// Requests per second, across all processes. Requests are spaced evenly (no burst): the
    /// sources do not say over which window they measure, and even spacing passes any window.
    /// `Some(0)` is unlimited too: a dataset that must not be asked has `daily_quota: Some(0)`.
    pub per_second: Option<u32>,
}

/// A source's dataset, the unit both limits apply to: `kra/15056743` in messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Bucket {
    /// The plugin's name, e.g. `kra`.
    pub source: String,
    /// The dataset the plugin named on the request.
    pub dataset: String,
}

impl Bucket {
    fn new(source: &str, dataset: &str) -> Self {
        Bucket { source: source.to_string(), dataset: dataset.to_string() }
    }
}

impl std::fmt::Display for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.source, self.dataset)
    }
}

/// Why a request may not be sent.
#[derive(Debug, thiserror::Error)]
pub enum BudgetError {
    /// Today's quota, or for backfill its share of it, is used up.
    #[error(
        "{bucket}: {} is used up ({used} of {limit} requests today); it resets at {} KST",
        .lane.quota_name(), .resets_at.with_timezone(&kst()).format("%Y-%m-%d %H:%M")
    )]
    Exhausted {
        bucket: Bucket,
        /// The lane that was refused: backfill may be refused while live work goes on.
        lane: Lane,
        /// Requests counted today.
        used: u32,
        /// The limit that applied to this lane.
        limit: u32,
        /// The next KST midnight, as UTC.
        resets_at: DateTime<Utc>,
    },
    /// The source asked to wait longer than [`MAX_PAUSE_WAIT`]; retry after `until`.
    #[error("{bucket}: the source asked to wait; nothing is sent before {} KST", .until.with_timezone(&kst()).format("%Y-%m-%d %H:%M:%S"))]
    Paused { bucket: Bucket, until: DateTime<Utc> },
    /// The database failed; usually passing, so the job can be retried.
    #[error("database error while {action} for {bucket}: {error}")]
    Database {
        bucket: Bucket,
        /// What the budget was doing, e.g. `counting a request`.
        action: &'static str,
        #[source]
        error: sqlx::Error,
    },
}

impl Lane {
    fn quota_name(self) -> &'static str {
        match self {
            Lane::Live => "the daily quota",
            Lane::Backfill => "backfill's share of the daily quota",
        }
    }
}

/// A `Result` with a [`BudgetError`].
pub type Result<T, E = BudgetError> = std::result::Result<T, E>;

/// The request budgets of every dataset; cheap to clone, clones share the pool and the clock.
#[derive(Debug, Clone)]
pub struct Budget {
    pool: PgPool,
    clock: Clock,
    /// Shared by the clones: a plugin swap may bring datasets and hints of its own.
    limits: Arc<std::sync::RwLock<HashMap<Bucket, DatasetLimit>>>,
    backfill_share: f64,
    /// Requests of datasets without a quota, not yet written.
    unwritten: Arc<Mutex<Unwritten>>,
}

#[derive(Debug, Default)]
struct Unwritten {
    /// In key order: two processes writing the same rows lock them in the same order.
    counts: BTreeMap<(Bucket, NaiveDate), u32>,
    written: Option<Instant>,
}

impl Budget {
    /// A budget with no limits configured: every dataset unlimited, but counted.
    pub fn new(pool: PgPool, clock: impl Into<Clock>) -> Self {
        Budget {
            pool,
            clock: clock.into(),
            limits: Arc::default(),
            backfill_share: DEFAULT_BACKFILL_SHARE,
            unwritten: Arc::default(),
        }
    }

    /// Sets the limits of a dataset.
    pub fn with_limit(self, source: &str, dataset: &str, limit: DatasetLimit) -> Self {
        self.set_limit(source, dataset, limit);
        self
    }

    /// Sets the limits of a dataset, for every clone of this budget.
    pub fn set_limit(&self, source: &str, dataset: &str, limit: DatasetLimit) {
        let mut limits = self.limits.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        limits.insert(Bucket::new(source, dataset), limit);
    }

    /// The fraction of a daily quota backfill may use (default [`DEFAULT_BACKFILL_SHARE`]),
    /// rounded down to whole requests; live work keeps the rest. Clamped to 0..=1; a NaN is 0,
    /// which protects live work.
    pub fn with_backfill_share(mut self, share: f64) -> Self {
        self.backfill_share = if share.is_nan() { 0.0 } else { share.clamp(0.0, 1.0) };
        self
    }

    /// Waits for this request's turn and counts it against today's quota.
    ///
    /// Refuses at once with [`BudgetError::Exhausted`] when today's quota (for
    /// [`Lane::Backfill`], its share) is used up, and with [`BudgetError::Paused`] while the
    /// source has asked to wait longer than [`MAX_PAUSE_WAIT`]; a shorter pause is waited out.
    /// Otherwise reserves the dataset's next send slot and sleeps until it, however far off: a
    /// reservation cannot be handed back without moving every later one, and the queue drains
    /// at the limit anyway. Cancelling the returned future after it counted leaves the request
    /// counted and its slot unused: it costs a little quota and throughput, never the limits.
    pub async fn acquire(&self, source: &str, dataset: &str, lane: Lane) -> Result<()> {
        self.acquire_with(source, dataset, lane, true).await
    }

    /// [`Budget::acquire`] for a later request of the same job: with `recheck_pause` false, a
    /// dataset with neither a quota nor a per-second limit skips reading the pause again (the
    /// job's first request just did; the caller rechecks after the source asked to wait).
    pub async fn acquire_with(&self, source: &str, dataset: &str, lane: Lane, recheck_pause: bool) -> Result<()> {
        let bucket = Bucket::new(source, dataset);
        let limit = self.limit(&bucket);
        if limit.daily_quota.is_none() {
            let per_second = limit.per_second.and_then(NonZeroU32::new);
            let wait = if per_second.is_none() && !recheck_pause {
                Duration::ZERO
            } else {
                self.turn(&bucket, per_second).await?
            };
            self.count_here(bucket).await;
            tokio::time::sleep(wait).await;
            return Ok(());
        }
        self.count(&bucket, lane, limit.daily_quota).await?;
        match self.turn(&bucket, limit.per_second.and_then(NonZeroU32::new)).await {
            Ok(wait) => {
                tokio::time::sleep(wait).await;
                Ok(())
            }
            Err(error) => {
                // Nothing will be sent: give the count back. A failure here only over-counts.
                if let Err(refund) = self.refund(&bucket).await {
                    tracing::warn!(%bucket, error = %refund, "a refused request stays counted");
                }
                Err(error)
            }
        }
    }

    /// Writes the counts of datasets without a quota that are not in the database yet. The
    /// worker calls it with its heartbeat and when it stops; a failed write keeps the counts for
    /// the next.
    pub async fn flush(&self) -> Result<()> {
        let counts = {
            let mut unwritten = self.unwritten();
            unwritten.written = Some(Instant::now());
            std::mem::take(&mut unwritten.counts)
        };
        let Some(((first, _), _)) = counts.first_key_value() else { return Ok(()) };
        let first = first.clone();
        let (mut sources, mut datasets, mut days, mut used) = (vec![], vec![], vec![], vec![]);
        for ((bucket, day), n) in &counts {
            sources.push(bucket.source.as_str());
            datasets.push(bucket.dataset.as_str());
            days.push(*day);
            used.push(to_i32(*n));
        }
        let written = sqlx::query(
            "INSERT INTO quota_usage AS q (source, dataset, kst_day, used)
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::date[], $4::integer[])
             ON CONFLICT (source, dataset, kst_day) DO UPDATE SET used = q.used + EXCLUDED.used",
        )
        .bind(&sources)
        .bind(&datasets)
        .bind(&days)
        .bind(&used)
        .execute(&self.pool)
        .await;
        if let Err(error) = written {
            let mut unwritten = self.unwritten();
            for (key, n) in counts {
                *unwritten.counts.entry(key).or_default() += n;
            }
            return Err(db(&first, "writing request counts")(error));
        }
        Ok(())
    }

    /// Counts a request of a dataset without a quota, writing the counts when they are older
    /// than [`COUNT_FLUSH`] (the first request of a process writes at once).
    async fn count_here(&self, bucket: Bucket) {
        let due = {
            let mut unwritten = self.unwritten();
            *unwritten.counts.entry((bucket, self.kst_day())).or_default() += 1;
            unwritten.written.is_none_or(|at| at.elapsed() >= COUNT_FLUSH)
        };
        if due {
            self.flush_or_warn().await;
        }
    }

    /// [`flush`](Self::flush), logging a failure: the counts stay in the process for the next
    /// write, so the caller's work goes on.
    pub async fn flush_or_warn(&self) {
        if let Err(e) = self.flush().await {
            tracing::warn!("request counts not written yet, kept for the next write: {e}");
        }
    }

    fn unwritten(&self) -> std::sync::MutexGuard<'_, Unwritten> {
        self.unwritten.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The source says today's quota is exhausted (data.go.kr code 22, or a 429 saying so): marks
    /// it used up, so every process stops until the next KST midnight. Without a configured
    /// quota there is no count to fill, so the dataset is paused until then instead.
    pub async fn exhausted(&self, source: &str, dataset: &str) -> Result<()> {
        let bucket = Bucket::new(source, dataset);
        let Some(quota) = self.limit(&bucket).daily_quota else {
            let left = (self.quota_resets_at() - self.clock.now().to_utc()).to_std().unwrap_or_default();
            return self.pause_for(source, dataset, left).await;
        };
        sqlx::query(
            "INSERT INTO quota_usage AS q (source, dataset, kst_day, used) VALUES ($1, $2, $3, $4)
             ON CONFLICT (source, dataset, kst_day) DO UPDATE SET used = GREATEST(q.used, EXCLUDED.used)",
        )
        .bind(source)
        .bind(dataset)
        .bind(self.kst_day())
        .bind(to_i32(quota))
        .execute(&self.pool)
        .await
        .map_err(db(&bucket, "marking the quota used up"))?;
        Ok(())
    }

    /// The source says "retry after `wait`": no process sends to this dataset before then (real
    /// time, at most [`MAX_PAUSE`]). An earlier pause that ends later is kept.
    pub async fn pause_for(&self, source: &str, dataset: &str, wait: Duration) -> Result<()> {
        let bucket = Bucket::new(source, dataset);
        sqlx::query(
            "INSERT INTO rate_slots AS s (source, dataset, paused_until)
             VALUES ($1, $2, clock_timestamp() + $3::interval)
             ON CONFLICT (source, dataset) DO UPDATE
                 SET paused_until = GREATEST(s.paused_until, EXCLUDED.paused_until)",
        )
        .bind(source)
        .bind(dataset)
        .bind(to_interval(wait.min(MAX_PAUSE)))
        .execute(&self.pool)
        .await
        .map_err(db(&bucket, "recording a pause"))?;
        Ok(())
    }

    /// Whether the dataset cannot be asked now: today's quota (the whole of it) is used up, or
    /// the source's pause holds. A job that succeeds right after another ran the quota out
    /// (its requests counted just before) must not clear the incident.
    pub async fn held_up(&self, source: &str, dataset: &str) -> Result<bool> {
        let bucket = Bucket::new(source, dataset);
        let quota = self.limit(&bucket).daily_quota.map(to_i32);
        sqlx::query_scalar(
            "SELECT COALESCE((SELECT used FROM quota_usage WHERE source = $1 AND dataset = $2 AND kst_day = $3)
                             >= $4, false)
                 OR EXISTS (SELECT 1 FROM rate_slots
                            WHERE source = $1 AND dataset = $2 AND paused_until > clock_timestamp())",
        )
        .bind(source)
        .bind(dataset)
        .bind(self.kst_day())
        .bind(quota)
        .fetch_one(&self.pool)
        .await
        .map_err(db(&bucket, "reading whether the dataset is held up"))
    }

    /// Requests counted today (KST, by the clock) for the dataset.
    pub async fn used_today(&self, source: &str, dataset: &str) -> Result<u32> {
        self.flush().await?;
        self.used_on(&Bucket::new(source, dataset), self.kst_day()).await
    }

    /// The next KST midnight after the clock's now, as UTC: when an exhausted quota resets.
    pub fn quota_resets_at(&self) -> DateTime<Utc> {
        crate::clock::next_kst_midnight(self.clock.now().to_utc())
    }

    /// The limits of a dataset (unlimited when none is set).
    pub fn limit_of(&self, source: &str, dataset: &str) -> DatasetLimit {
        self.limit(&Bucket::new(source, dataset))
    }

    /// Every dataset with limits set, in order.
    pub fn limits(&self) -> Vec<(Bucket, DatasetLimit)> {
        let limits = self.limits.read().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut all: Vec<_> = limits.iter().map(|(b, l)| (b.clone(), *l)).collect();
        all.sort_by(|a, b| a.0.cmp(&b.0));
        all
    }

    /// Requests a day backfill may make on a dataset: its share of the daily quota, rounded
    /// down as [`Budget::acquire`] counts it; `None` when the dataset has no quota.
    pub fn backfill_quota(&self, source: &str, dataset: &str) -> Option<u32> {
        self.limit_of(source, dataset).daily_quota.map(|q| (f64::from(q) * self.backfill_share).floor() as u32)
    }

    fn limit(&self, bucket: &Bucket) -> DatasetLimit {
        self.limits.read().unwrap_or_else(std::sync::PoisonError::into_inner).get(bucket).copied().unwrap_or_default()
    }

    fn kst_day(&self) -> NaiveDate {
        self.clock.today()
    }

    /// Counts one request for today unless the lane's limit is reached.
    async fn count(&self, bucket: &Bucket, lane: Lane, quota: Option<u32>) -> Result<()> {
        let limit = quota.map(|quota| match lane {
            Lane::Live => quota,
            // Rounded down: backfill never takes a request that belongs to live work.
            Lane::Backfill => (f64::from(quota) * self.backfill_share).floor() as u32,
        });
        let day = self.kst_day();
        // A limit of 0 must refuse before the INSERT, which would create the row at 1.
        let counted = if limit == Some(0) {
            None
        } else {
            sqlx::query_scalar::<_, i32>(
                "INSERT INTO quota_usage AS q (source, dataset, kst_day, used) VALUES ($1, $2, $3, 1)
                 ON CONFLICT (source, dataset, kst_day) DO UPDATE SET used = q.used + 1
                     WHERE $4::integer IS NULL OR q.used < $4
                 RETURNING used",
            )
            .bind(&bucket.source)
            .bind(&bucket.dataset)
            .bind(day)
            .bind(limit.map(to_i32))
            .fetch_optional(&self.pool)
            .await
            .map_err(db(bucket, "counting a request"))?
        };
        match (counted, limit) {
            (None, Some(limit)) => Err(BudgetError::Exhausted {
                bucket: bucket.clone(),
                lane,
                used: self.used_on(bucket, day).await?,
                limit,
                resets_at: self.quota_resets_at(),
            }),
            _ => Ok(()),
        }
    }

    /// Gives back a count taken by a request that will not be sent.
    async fn refund(&self, bucket: &Bucket) -> Result<()> {
        sqlx::query(
            "UPDATE quota_usage SET used = used - 1
             WHERE source = $1 AND dataset = $2 AND kst_day = $3 AND used > 0",
        )
        .bind(&bucket.source)
        .bind(&bucket.dataset)
        .bind(self.kst_day())
        .execute(&self.pool)
        .await
        .map_err(db(bucket, "giving back a request's count"))?;
        Ok(())
    }

    /// How long to wait before sending: until the reserved slot, or the end of a short pause.
    async fn turn(&self, bucket: &Bucket, per_second: Option<NonZeroU32>) -> Result<Duration> {
        let Some(rate) = per_second else {
            return match self.pause(bucket).await? {
                Some(pause) if pause.wait() > MAX_PAUSE_WAIT => Err(paused(bucket, pause.at)),
                Some(pause) => Ok(pause.wait()),
                None => Ok(Duration::ZERO),
            };
        };
        loop {
            if let Some(slot) = self.reserve(bucket, rate).await? {
                return Ok(slot.wait());
            }
            // Refused for a long pause. Should it have ended since, reserve again.
            if let Some(pause) = self.pause(bucket).await? {
                return Err(paused(bucket, pause.at));
            }
        }
    }

    /// Takes the dataset's next send slot; `None` while a pause longer than [`MAX_PAUSE_WAIT`]
    /// is on. The upsert creates the row on first use, so no set-up step can be forgotten.
    async fn reserve(&self, bucket: &Bucket, rate: NonZeroU32) -> Result<Option<DbTime>> {
        // Rounded up so that the spacing never undercuts the limit.
        let interval = Duration::from_micros(1_000_000u64.div_ceil(u64::from(rate.get())));
        // clock_timestamp(), not now(): now() is when the statement began, which can be well
        // before it got the row lock under contention.
        sqlx::query_as::<_, (DateTime<Utc>, DateTime<Utc>)>(
            "INSERT INTO rate_slots AS s (source, dataset, next_free)
             VALUES ($1, $2, clock_timestamp() + $3::interval)
             ON CONFLICT (source, dataset) DO UPDATE
                 SET next_free = GREATEST(s.next_free, s.paused_until, clock_timestamp()) + $3::interval
                 WHERE s.paused_until IS NULL OR s.paused_until <= clock_timestamp() + $4::interval
             RETURNING s.next_free - $3::interval, clock_timestamp()",
        )
        .bind(&bucket.source)
        .bind(&bucket.dataset)
        .bind(interval)
        .bind(MAX_PAUSE_WAIT)
        .fetch_optional(&self.pool)
        .await
        .map(|row| row.map(|(at, db_now)| DbTime { at, db_now }))
        .map_err(db(bucket, "reserving a send slot"))
    }

    /// The pause in force on the dataset, if any.
    async fn pause(&self, bucket: &Bucket) -> Result<Option<DbTime>> {
        sqlx::query_as::<_, (DateTime<Utc>, DateTime<Utc>)>(
            "SELECT paused_until, clock_timestamp() FROM rate_slots
             WHERE source = $1 AND dataset = $2 AND paused_until > clock_timestamp()",
        )
        .bind(&bucket.source)
        .bind(&bucket.dataset)
        .fetch_optional(&self.pool)
        .await
        .map(|row| row.map(|(at, db_now)| DbTime { at, db_now }))
        .map_err(db(bucket, "reading the dataset's pause"))
    }

    async fn used_on(&self, bucket: &Bucket, day: NaiveDate) -> Result<u32> {
        let used: Option<i32> =
            sqlx::query_scalar("SELECT used FROM quota_usage WHERE source = $1 AND dataset = $2 AND kst_day = $3")
                .bind(&bucket.source)
                .bind(&bucket.dataset)
                .bind(day)
                .fetch_optional(&self.pool)
                .await
                .map_err(db(bucket, "reading today's count"))?;
        Ok(used.map_or(0, |used| u32::try_from(used).unwrap_or(0)))
    }
}

/// An instant on the database's clock, with that clock's reading when it was computed, so the
/// wait is measured on one clock.
struct DbTime {
    at: DateTime<Utc>,
    db_now: DateTime<Utc>,
}

impl DbTime {
    fn wait(&self) -> Duration {
        (self.at - self.db_now).to_std().unwrap_or_default()
    }
}

fn paused(bucket: &Bucket, until: DateTime<Utc>) -> BudgetError {
    BudgetError::Paused { bucket: bucket.clone(), until }
}

fn db(bucket: &Bucket, action: &'static str) -> impl FnOnce(sqlx::Error) -> BudgetError {
    let bucket = bucket.clone();
    move |error| BudgetError::Database { bucket, action, error }
}

fn to_i32(n: u32) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// `d` rounded up to whole microseconds, PostgreSQL's resolution (the driver refuses finer).
fn to_interval(d: Duration) -> Duration {
    let micros = d.as_nanos().div_ceil(1000);
    Duration::from_micros(u64::try_from(micros).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn backfill_gets_its_share_of_each_quota_rounded_down() {
        // A lazy pool never connects: these reads are of the budget's own settings.
        let pool = PgPool::connect_lazy("postgres://nobody@127.0.0.1:1/none").expect("a lazy pool");
        let budget = Budget::new(pool, Clock::system())
            .with_limit("kra", "API301", DatasetLimit { daily_quota: Some(1_000), per_second: Some(5) })
            .with_limit("kra", "API26_2", DatasetLimit { daily_quota: Some(7), per_second: None })
            .with_backfill_share(0.8);
        assert_eq!(budget.backfill_quota("kra", "API301"), Some(800));
        assert_eq!(budget.backfill_quota("kra", "API26_2"), Some(5), "5.6 requests is 5");
        assert_eq!(budget.backfill_quota("kspo", "15107830"), None, "no quota, no share");
        assert_eq!(budget.limit_of("kra", "API301").per_second, Some(5));
        assert_eq!(budget.limit_of("kra", "unknown"), DatasetLimit::default());
        let none = budget.clone().with_backfill_share(f64::NAN);
        assert_eq!(none.backfill_quota("kra", "API301"), Some(0), "a NaN share protects live work");
        let all = budget.with_backfill_share(7.0);
        assert_eq!(all.backfill_quota("kra", "API301"), Some(1_000), "clamped to the whole quota");
    }
}
