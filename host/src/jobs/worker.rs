//! Running tasks: claim from the queue, run the plugin operation with every request through
//! the budget and every response into the raw archive, then write the records, the job's
//! progress and the task's status in one transaction.
//!
//! Failures follow DESIGN §5: `transient` and `rate_limited` (and a database that failed
//! mid-job) are retried with exponential backoff and full jitter up to a maximum of attempts;
//! `quota_exhausted` puts the job back until the quota resets at KST midnight, without counting
//! an attempt; everything else (auth, bad request, malformed, unsupported, a plugin fault, an
//! output the store refused) is final at once. A final failure is an `ingestion_failures` row —
//! with the raw response that caused it — and one alert; a later success of the same job
//! resolves both.
//!
//! A task this host cannot settle because the database is gone is released when it comes back;
//! a task of a host that died is handed to another by apalis' orphan re-enqueue once its
//! heartbeat is older than `orphan_after`. Either way the job runs again, and since every write
//! is an upsert on natural keys, nothing is duplicated.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use apalis_core::worker::context::WorkerContext;
use chrono::{DateTime, Datelike, NaiveDate, Utc};
use racelab_sim::Clock;
use sqlx::PgPool;
use tokio::task::JoinSet;

use super::health::{Ending, Health, SourceHealth, UNHEALTHY_AFTER};
use super::retry::Backoff;
use super::{JobError, JobState, Op, Payload, QUEUE, Settle, db, settle};
use crate::alerts::{Alert, Alerter, Incident};
use crate::budget::{Budget, Lane};
use crate::fetch::{Endpoint, Fetcher};
use crate::plugins::wit::{
    Date, DayRef, HttpRequest, HttpResponse, OddsQuery, Operation, RaceKey, RaceRef, Record, SourceError,
};
use crate::plugins::{Plugin, text};
use crate::runner::{self, Hooks, Policy, RunError};
use crate::store::{JobOutput, Store, StoreError};

/// One source as the worker runs it.
#[derive(Debug, Clone)]
pub struct SourceRuntime {
    pub plugin: Plugin,
    pub endpoint: Endpoint,
    /// The tracks the configuration gives this source: the store refuses the plugin's records
    /// for any other, whatever its manifest claims.
    pub tracks: Vec<String>,
    /// The plugin's configuration values.
    pub config: Vec<(String, String)>,
}

/// How the worker works.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    /// Tasks run at once.
    pub concurrency: usize,
    /// Real time between polls of an empty queue.
    pub poll: Duration,
    pub backoff: Backoff,
    /// Retries within one attempt (per request), before the job-level backoff.
    pub policy: Policy,
    /// Real time between heartbeats.
    pub heartbeat: Duration,
    /// A host whose heartbeat is older than this is dead; its tasks go to others.
    pub orphan_after: Duration,
    /// Real time one job may take, requests and plugin calls together; past it the job is a
    /// plugin fault and its slot is free for the next.
    pub job_timeout: Duration,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            concurrency: 8,
            poll: Duration::from_millis(200),
            backoff: Backoff::default(),
            policy: Policy::default(),
            heartbeat: Duration::from_secs(5),
            orphan_after: Duration::from_secs(30),
            job_timeout: Duration::from_secs(300),
        }
    }
}

/// Counters, for the progress view and the status endpoint.
#[derive(Debug, Default)]
pub struct WorkerStats {
    pub done: AtomicU64,
    /// Answered with nothing published yet.
    pub no_data: AtomicU64,
    pub retried: AtomicU64,
    pub failed: AtomicU64,
    pub superseded: AtomicU64,
    pub paused: AtomicU64,
    pub requests: AtomicU64,
    /// How each source's jobs ended.
    pub sources: SourceHealth,
}

/// Runs tasks. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Worker {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker").field("name", &self.inner.name).finish_non_exhaustive()
    }
}

struct Inner {
    name: String,
    context: WorkerContext,
    pool: PgPool,
    store: Store,
    clock: Clock,
    budget: Budget,
    alerter: Option<Alerter>,
    sources: HashMap<String, SourceRuntime>,
    fetcher: Fetcher,
    settings: WorkerSettings,
    stats: WorkerStats,
    /// Tasks claimed and not yet settled.
    in_hand: Mutex<BTreeSet<String>>,
}

/// The parts a worker is built from.
#[derive(Debug)]
pub struct WorkerParts {
    /// Unique among the hosts sharing the database (host name and process id, say).
    pub name: String,
    pub store: Store,
    pub clock: Clock,
    pub budget: Budget,
    pub alerter: Option<Alerter>,
    /// By source name.
    pub sources: HashMap<String, SourceRuntime>,
    pub fetcher: Fetcher,
    pub settings: WorkerSettings,
}

/// A planned job, as read back.
#[derive(Debug, Clone, sqlx::FromRow)]
struct JobRow {
    id: i64,
    source: String,
    op: Op,
    track: String,
    race_date: NaiveDate,
    race_number: i16,
    slot: DateTime<Utc>,
    lane: Lane,
    post_time: Option<DateTime<Utc>>,
    pools: Vec<String>,
    state: JobState,
    attempts: i32,
    not_before: Option<DateTime<Utc>>,
    /// The race as stored now (race jobs whose race is known): post time and meeting tag.
    race_post_time: Option<DateTime<Utc>>,
    race_meeting: Option<String>,
    /// Odds captured after post are stored for the race.
    race_final_odds: Option<bool>,
    /// Results and dividends are stored for the race (read for results jobs only).
    race_complete: Option<bool>,
}

/// The open failures of planned job `$1` resolved (a CTE named `resolved`), then the
/// incidents (source, dataset, kind) that leaves with no open failure: what a job's success or
/// its end without a run clears. A macro so that `concat!` builds both statements from it.
macro_rules! resolve_failures {
    () => {
        "resolved AS (
             UPDATE ingestion_failures SET resolved_at = now()
             WHERE planned_job = $1 AND resolved_at IS NULL
             RETURNING id, source, dataset, error_kind)
         SELECT DISTINCT r.source, r.dataset, r.error_kind FROM resolved r
         WHERE NOT EXISTS (SELECT 1 FROM ingestion_failures f
                           WHERE f.resolved_at IS NULL AND f.id <> ALL (SELECT id FROM resolved)
                             AND f.source = r.source AND f.dataset IS NOT DISTINCT FROM r.dataset
                             AND f.error_kind = r.error_kind)"
    };
}

/// Planned jobs with their race, read in one statement for a whole claim.
const READ_JOBS: &str = "SELECT j.id, j.source, j.op, j.track, j.race_date, j.race_number, j.slot, j.lane, j.post_time,
            j.pools, j.state, j.attempts, j.not_before,
            r.post_time AS race_post_time, r.meeting AS race_meeting,
            r.odds_captured_at > r.post_time AS race_final_odds,
            CASE WHEN j.op = 'results' AND r.track IS NOT NULL THEN
                EXISTS (SELECT 1 FROM results x WHERE (x.track, x.race_date, x.race_number)
                                                    = (r.track, r.race_date, r.race_number))
                AND EXISTS (SELECT 1 FROM dividends d WHERE (d.track, d.race_date, d.race_number)
                                                          = (r.track, r.race_date, r.race_number))
            END AS race_complete
     FROM planned_jobs j
     LEFT JOIN races r ON j.race_number > 0 AND r.track = j.track AND r.race_date = j.race_date
                      AND r.race_number = j.race_number
     WHERE j.id = ANY($1)";

impl JobRow {
    fn describe(&self) -> String {
        let race = if self.race_number > 0 { format!(" race {}", self.race_number) } else { String::new() };
        format!("{} {} {} {}{race}", self.source, self.op.as_str(), self.track, self.race_date)
    }
}

/// What the hooks saw during one run.
#[derive(Debug, Default)]
struct Seen {
    /// Requests sent, retries included.
    sent: usize,
    dataset: Option<String>,
    raw_response: Option<i64>,
    datasets: BTreeSet<String>,
    /// Datasets whose pause this job has read, and not heard "wait" from since.
    pause_read: BTreeSet<String>,
}

/// The budget and the archive around one job's requests.
struct JobHooks<'a> {
    inner: &'a Inner,
    source: &'a str,
    lane: Lane,
    seen: Mutex<Seen>,
}

impl JobHooks<'_> {
    fn seen(&self) -> std::sync::MutexGuard<'_, Seen> {
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Hooks for JobHooks<'_> {
    async fn before_send(&self, request: &HttpRequest) -> Result<(), RunError> {
        let recheck = {
            let mut seen = self.seen();
            seen.sent += 1;
            seen.dataset = Some(request.dataset.clone());
            seen.datasets.insert(request.dataset.clone());
            !seen.pause_read.contains(&request.dataset)
        };
        self.inner.budget.acquire_with(self.source, &request.dataset, self.lane, recheck).await?;
        self.seen().pause_read.insert(request.dataset.clone());
        self.inner.stats.requests.fetch_add(1, Relaxed);
        Ok(())
    }

    async fn received(&self, request: &HttpRequest, url: &str, response: &HttpResponse) -> Result<(), RunError> {
        let id = self
            .inner
            .store
            .archive(&self.inner.pool, self.source, &request.dataset, url, response.status, &response.body)
            .await?;
        self.seen().raw_response = Some(id);
        Ok(())
    }

    async fn rate_limited(&self, request: &HttpRequest, wait: Duration) {
        self.seen().pause_read.remove(&request.dataset);
        if let Err(e) = self.inner.budget.pause_for(self.source, &request.dataset, wait).await {
            tracing::warn!("could not share a rate-limit pause: {e}");
        }
    }
}

/// How a run ended, for the books.
enum Verdict {
    Success { records: Vec<Record>, requests: usize },
    Failed { kind: &'static str, message: String, retryable: bool, quota: bool, timed_out: bool },
}

impl Worker {
    /// A worker; call [`Worker::register`] before [`Worker::run`].
    pub fn new(parts: WorkerParts) -> Self {
        let context = WorkerContext::new(&parts.name);
        Worker {
            inner: Arc::new(Inner {
                context,
                pool: parts.store.pool().clone(),
                name: parts.name,
                store: parts.store,
                clock: parts.clock,
                budget: parts.budget,
                alerter: parts.alerter,
                sources: parts.sources,
                fetcher: parts.fetcher,
                settings: parts.settings,
                stats: WorkerStats::default(),
                in_hand: Mutex::new(BTreeSet::new()),
            }),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &WorkerStats {
        &self.inner.stats
    }

    /// The worker's name in `apalis.workers`.
    pub fn name(&self) -> &str {
        &self.inner.name
    }

    /// Records this worker in `apalis.workers` (its heartbeat row).
    pub async fn register(&self) -> Result<(), JobError> {
        sqlx::query(
            "INSERT INTO apalis.workers (id, worker_type, storage_name, layers, last_seen)
             VALUES ($1, $2, 'racelab', '', now())
             ON CONFLICT (id) DO UPDATE SET last_seen = now()",
        )
        .bind(&self.inner.name)
        .bind(QUEUE)
        .execute(&self.inner.pool)
        .await
        .map_err(db(format!("registering worker {}", self.inner.name)))?;
        Ok(())
    }

    /// One heartbeat: tasks this worker dropped (see [`super::release_abandoned`]) and tasks
    /// of dead hosts go back to the queue.
    pub async fn heartbeat(&self) -> Result<u64, JobError> {
        let pool = &self.inner.pool;
        sqlx::query("UPDATE apalis.workers SET last_seen = now() WHERE id = $1")
            .bind(&self.inner.name)
            .execute(pool)
            .await
            .map_err(db("sending the heartbeat"))?;
        self.inner.budget.flush_or_warn().await;
        let in_hand: Vec<String> = self.in_hand().iter().cloned().collect();
        let released = super::release_abandoned(pool, &self.inner.name, &in_hand).await?;
        if released > 0 {
            tracing::info!(released, "handed unsettled tasks back to the queue");
        }
        let mut conn = pool.acquire().await.map_err(db("re-enqueueing orphaned tasks"))?;
        let dead_for = self.inner.settings.orphan_after.as_secs().max(1);
        Ok(apalis_postgres::queries::reenqueue_orphaned(&mut *conn, QUEUE, dead_for).await?)
    }

    /// Claims and runs tasks until `stop` completes, then finishes the tasks in hand (the
    /// caller bounds that with its own deadline).
    pub async fn run(&self, stop: impl Future<Output = ()>) {
        tokio::pin!(stop);
        let mut running: JoinSet<()> = JoinSet::new();
        let mut last_beat = Instant::now() - self.inner.settings.heartbeat;
        let mut pause = self.inner.settings.poll;
        loop {
            if last_beat.elapsed() >= self.inner.settings.heartbeat {
                last_beat = Instant::now();
                if let Err(e) = self.heartbeat().await {
                    tracing::warn!("heartbeat failed: {e}");
                }
            }
            while running.try_join_next().is_some() {}
            let free = self.inner.settings.concurrency.saturating_sub(running.len());
            let claimed = if free == 0 { Ok(Vec::new()) } else { self.claim(free).await };
            let idle = match claimed {
                Ok(tasks) => {
                    let none = tasks.is_empty();
                    for (task, job, row) in tasks {
                        let me = self.clone();
                        running.spawn(async move { me.execute(&task, job, row).await });
                    }
                    pause = self.inner.settings.poll;
                    none
                }
                Err(e) => {
                    tracing::warn!("cannot claim tasks: {e}; retrying in {} ms", pause.as_millis());
                    pause = (pause * 2).min(Duration::from_secs(5));
                    true
                }
            };
            if idle || free == 0 {
                tokio::select! {
                    () = &mut stop => break,
                    _ = running.join_next(), if !running.is_empty() => {}
                    () = tokio::time::sleep(pause) => {}
                }
            } else if futures_util::FutureExt::now_or_never(&mut stop).is_some() {
                break;
            }
        }
        tracing::info!(in_flight = running.len(), "worker stopped claiming; finishing tasks in hand");
        while running.join_next().await.is_some() {}
        self.inner.budget.flush_or_warn().await;
    }

    /// Claims and runs every task that is due until none is (and no due job is left waiting
    /// for a retry), or `limit` real time passes. For tests and tools on a clock they move.
    pub async fn run_until_idle(&self, limit: Duration) -> Result<(), JobError> {
        let started = Instant::now();
        let concurrency = self.inner.settings.concurrency.max(1);
        let mut running = JoinSet::new();
        loop {
            // Refill once half the slots are free: a claim per finished task would cost a
            // queue query each, a claim per full batch would idle the batch's fast tasks.
            let free = concurrency - running.len();
            let mut claimed = 0;
            if free * 2 >= concurrency || running.is_empty() {
                let tasks = match self.claim(free).await {
                    Ok(tasks) => tasks,
                    Err(e) => {
                        while running.join_next().await.is_some() {}
                        return Err(e);
                    }
                };
                claimed = tasks.len();
                for (task, job, row) in tasks {
                    let me = self.clone();
                    running.spawn(async move { me.execute(&task, job, row).await });
                }
            }
            if !running.is_empty() {
                if claimed == 0 || running.len() == concurrency {
                    running.join_next().await;
                }
                continue;
            }
            if self.open_due_jobs().await? == 0 {
                self.inner.budget.flush_or_warn().await;
                return Ok(());
            }
            if started.elapsed() > limit {
                return Err(JobError::Database {
                    context: format!("waiting {} s for due jobs to finish", limit.as_secs()),
                    source: sqlx::Error::PoolTimedOut,
                });
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Jobs due by the clock that are not finished.
    async fn open_due_jobs(&self) -> Result<i64, JobError> {
        sqlx::query_scalar(
            "SELECT count(*) FROM planned_jobs
             WHERE state = 'queued' AND GREATEST(slot, COALESCE(not_before, slot)) <= $1",
        )
        .bind(self.inner.clock.now().to_utc())
        .fetch_one(&self.inner.pool)
        .await
        .map_err(db("counting open jobs"))
    }

    /// Up to `n` due tasks, locked to this worker, each with its planned job as read at the
    /// claim (one statement for all of them).
    async fn claim(&self, n: usize) -> Result<Vec<(String, i64, Option<JobRow>)>, JobError> {
        let config = apalis_postgres::Config::default().queue(QUEUE).batch_size(n);
        let mut conn = self.inner.pool.acquire().await.map_err(db("claiming tasks"))?;
        let tasks = apalis_postgres::queries::fetch_next(&mut *conn, &config, &self.inner.context).await?;
        let mut out = Vec::with_capacity(tasks.len());
        for task in tasks {
            let id = task.task_id().map(ToString::to_string).unwrap_or_default();
            match serde_json::from_slice::<Payload>(&task.args) {
                Ok(p) => out.push((id, p.job, None)),
                Err(e) => {
                    tracing::error!(task = %id, "a task in the queue is not a RaceLab job ({e}); killing it");
                    let mut conn = self.inner.pool.acquire().await.map_err(db("killing a foreign task"))?;
                    settle(&mut conn, &self.inner.clock, &id, Settle::Killed, "not a RaceLab job").await?;
                }
            }
        }
        if !out.is_empty() {
            let ids: Vec<i64> = out.iter().map(|(_, job, _)| *job).collect();
            // A failed read only costs each job its own read later.
            match sqlx::query_as::<_, JobRow>(READ_JOBS).bind(&ids).fetch_all(&mut *conn).await {
                Ok(rows) => {
                    let mut rows: HashMap<i64, JobRow> = rows.into_iter().map(|r| (r.id, r)).collect();
                    for (_, job, row) in &mut out {
                        *row = rows.remove(job);
                    }
                }
                Err(e) => tracing::warn!("reading the claimed jobs: {e}"),
            }
        }
        Ok(out)
    }

    fn in_hand(&self) -> std::sync::MutexGuard<'_, BTreeSet<String>> {
        self.inner.in_hand.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs one task to its end. When the database fails mid-way the job is tried again a few
    /// times; after that the task is dropped from hand and the next heartbeat that reaches the
    /// database hands it back to the queue (the job's data was not committed, so it reruns).
    async fn execute(&self, task: &str, job: i64, mut read: Option<JobRow>) {
        self.in_hand().insert(task.to_string());
        let mut wait = Duration::from_millis(200);
        for attempt in 1..=8 {
            match self.try_execute(task, job, read.take()).await {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(
                        task,
                        job,
                        attempt,
                        "could not finish the job: {e}; retrying in {} ms",
                        wait.as_millis()
                    );
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(5));
                }
            }
        }
        self.in_hand().remove(task);
    }

    /// Runs the job once; `read` is the job as the claim read it, if it did.
    async fn try_execute(&self, task: &str, job_id: i64, read: Option<JobRow>) -> Result<(), JobError> {
        let inner = &*self.inner;
        let job = match read {
            Some(job) => Some(job),
            None => sqlx::query_as::<_, JobRow>(READ_JOBS)
                .bind([job_id])
                .fetch_optional(&inner.pool)
                .await
                .map_err(db(format!("reading job {job_id}")))?,
        };
        let Some(job) = job else {
            return self.settle_alone(task, Settle::Killed, "no such planned job").await;
        };
        if job.state != JobState::Queued {
            return self.settle_alone(task, Settle::Done, "already finished").await;
        }
        // Early (queued ahead by the planner, or paused until the quota resets): wait briefly,
        // or hand it back until it is due.
        // A worker slot is not held for a wait: a task more than a moment early goes back to
        // the queue with its exact due time (a fixed clock moves only when told: a second).
        let due = job.not_before.map_or(job.slot, |nb| nb.max(job.slot));
        if inner.clock.now().to_utc() < due {
            let wait = inner.clock.real_until(due.fixed_offset());
            if wait.is_zero() || wait > Duration::from_millis(20) {
                let back = if wait.is_zero() { Duration::from_secs(1) } else { wait };
                return self.settle_alone(task, Settle::RetryIn(back), "not due yet").await;
            }
            tokio::time::sleep(wait).await;
        }
        let op = job.op;
        if let (Some(planned), Some(current)) = (job.post_time, job.race_post_time)
            && planned != current
        {
            tracing::info!(job = job.id, "{}: post time moved from {planned} to {current}; superseded", job.describe());
            return self.finish(task, &job, JobState::Superseded, Settle::Done).await;
        }
        // A pre-race odds poll whose race has started has nothing left to say — whether it
        // waited out a quota pause, a backlog, or was retried by hand hours later: run now, it
        // would store the race's later odds as a pre-race snapshot, and spend quota on it.
        if op == Op::Odds && job.post_time.is_some_and(|post| post <= inner.clock.now().to_utc()) {
            tracing::info!(job = job.id, "{}: the race has started; the pre-race poll is superseded", job.describe());
            return self.finish(task, &job, JobState::Superseded, Settle::Done).await;
        }
        // A repeating job whose data came in meanwhile (its next slot was queued ahead, or
        // retried by hand) has nothing left to ask for.
        let filled = match op {
            Op::OddsFinal => job.race_final_odds == Some(true),
            Op::Results => job.race_complete == Some(true),
            _ => false,
        };
        if filled {
            tracing::debug!(job = job.id, "{}: the race's data is in already; superseded", job.describe());
            return self.finish(task, &job, JobState::Superseded, Settle::Done).await;
        }
        let meeting = job.race_meeting.clone();
        let Some(source) = inner.sources.get(&job.source) else {
            let verdict = Verdict::Failed {
                kind: "config",
                message: format!("no plugin is configured for source {}", job.source),
                retryable: false,
                quota: false,
                timed_out: false,
            };
            return self.record(task, &job, op, verdict, &JobHooks::new(inner, &job)).await;
        };
        let operation = operation(&job, op, meeting);
        let hooks = JobHooks::new(inner, &job);
        let captured_at = inner.clock.now().to_utc();
        let run = runner::run_with(
            &source.plugin,
            &source.endpoint,
            &inner.fetcher,
            &operation,
            &source.config,
            &inner.settings.policy,
            &hooks,
        );
        // The watchdog of the whole job: whatever the plugin does, its slot is free again after
        // the budget.
        let budget = inner.settings.job_timeout;
        let run = tokio::time::timeout(budget, run).await.unwrap_or(Err(RunError::OverBudget(budget)));
        let verdict = match run {
            Ok(outcome) => Verdict::Success { records: outcome.records, requests: hooks.seen().sent },
            // Nothing published (yet): a valid, empty answer (see `Op::waits_for_publication`).
            Err(RunError::Source { error: SourceError::NoData(_), .. }) => {
                Verdict::Success { records: Vec::new(), requests: hooks.seen().sent }
            }
            Err(e) => {
                let kind = e.kind();
                let dataset = hooks.seen().dataset.clone();
                if let (RunError::Source { error: SourceError::QuotaExhausted(_), .. }, Some(dataset)) = (&e, dataset)
                    && let Err(be) = inner.budget.exhausted(&job.source, &dataset).await
                {
                    tracing::warn!("could not record the exhausted quota: {be}");
                }
                // A malformed answer is usually a body cut short on the way (a truncated page):
                // asked again with backoff like a transient error, a failure only if it stays so.
                let retryable = matches!(kind, "transient" | "rate_limited" | "malformed");
                let (quota, timed_out) = (kind == "quota_exhausted", e.timed_out());
                Verdict::Failed { kind, message: e.to_string(), retryable, quota, timed_out }
            }
        };
        if let Verdict::Success { records, requests } = &verdict {
            let output = JobOutput {
                plugin: source.plugin.label(),
                tracks: &source.tracks,
                asked: Some(&operation),
                records,
                captured_at,
                final_odds: op == Op::OddsFinal,
            };
            // Nothing published yet is not a result: the job ends `no_data` and the planner asks
            // again at the race's next slot.
            let state =
                if records.is_empty() && op.waits_for_publication() { JobState::NoData } else { JobState::Done };
            match self.commit_success(task, &job, &output, *requests, state).await {
                Ok(state) => {
                    let counter = match state {
                        JobState::Done => &inner.stats.done,
                        JobState::NoData => &inner.stats.no_data,
                        _ => &inner.stats.superseded,
                    };
                    counter.fetch_add(1, Relaxed);
                    self.note_ending(&job.source, Ending::Done);
                    // A dataset that answers again is no longer out of quota (a pause leaves no
                    // failure row to resolve it by) — unless this job's requests were counted
                    // just before another job ran the quota out: then it is still held up.
                    if let Some(alerter) = &inner.alerter {
                        let datasets: Vec<String> = hooks.seen().datasets.iter().cloned().collect();
                        for dataset in datasets {
                            let incident = Incident::new(&job.source, &dataset, "quota_exhausted");
                            if alerter.is_open(&incident)
                                && matches!(inner.budget.held_up(&job.source, &dataset).await, Ok(false))
                            {
                                alerter.resolve(&incident);
                            }
                        }
                    }
                    return Ok(());
                }
                Err(StoreError::Invalid { plugin, index, reason }) => {
                    let message = format!(
                        "plugin {plugin} returned an invalid record #{index}: {reason}; the output was refused"
                    );
                    let failed = Verdict::Failed {
                        kind: "plugin_fault",
                        message,
                        retryable: false,
                        quota: false,
                        timed_out: false,
                    };
                    return self.record(task, &job, op, failed, &hooks).await;
                }
                Err(e) => {
                    let message = e.to_string();
                    let failed =
                        Verdict::Failed { kind: "transient", message, retryable: true, quota: false, timed_out: false };
                    return self.record(task, &job, op, failed, &hooks).await;
                }
            }
        }
        self.record(task, &job, op, verdict, &hooks).await
    }

    /// Writes the records, marks the job done, resolves its open failures and settles the
    /// task — one transaction.
    async fn commit_success(
        &self,
        task: &str,
        job: &JobRow,
        output: &JobOutput<'_>,
        requests: usize,
        state: JobState,
    ) -> Result<JobState, StoreError> {
        let inner = &*self.inner;
        let db = |what: &str| {
            let context = format!("{what} for {}", job.describe());
            move |source| StoreError::Database { context, source }
        };
        let mut tx = inner.store.begin().await.map_err(db("starting the job transaction"))?;
        let mut state = state;
        // Final odds are stored once per race: a second final poll that ran alongside the first
        // (queued ahead, or re-run after its host died) waits here for the first to commit
        // (the race's row is locked), then finds the race's final odds in and stores nothing.
        if output.final_odds && !output.records.is_empty() {
            let already: Option<Option<bool>> = sqlx::query_scalar(
                "SELECT odds_captured_at > post_time FROM races
                 WHERE track = $1 AND race_date = $2 AND race_number = $3 FOR UPDATE",
            )
            .bind(&job.track)
            .bind(job.race_date)
            .bind(job.race_number)
            .fetch_optional(&mut *tx)
            .await
            .map_err(db("reading the race's final odds"))?;
            if already.flatten() == Some(true) {
                state = JobState::Superseded;
            }
        }
        if state != JobState::Superseded {
            inner.store.write(&mut tx, output).await?;
        }
        // One statement: the job done, its task settled (as `settle` does with `Settle::Done`),
        // and its failures resolved; an incident (source, dataset, kind) clears when no failure
        // of it is left open.
        let cleared: Vec<(String, Option<String>, String)> = sqlx::query_as(concat!(
            "WITH job AS (
                 UPDATE planned_jobs SET state = $6, finished_at = now(), attempts = attempts + 1,
                        records = $2, requests = $3
                 WHERE id = $1),
             task AS (
                 UPDATE apalis.jobs SET status = 'Done', done_at = now(), last_result = $5, attempts = attempts + 1
                 WHERE id = $4), ",
            resolve_failures!()
        ))
        .bind(job.id)
        .bind(i32::try_from(output.records.len()).unwrap_or(i32::MAX))
        .bind(i32::try_from(requests).unwrap_or(i32::MAX))
        .bind(task)
        .bind(serde_json::json!({ "note": state.as_str() }))
        .bind(state)
        .fetch_all(&mut *tx)
        .await
        .map_err(db("marking the job done"))?;
        tx.commit().await.map_err(db("committing the job"))?;
        if let Some(alerter) = &inner.alerter {
            for (source, dataset, kind) in cleared {
                alerter.resolve(&Incident::new(source, dataset.unwrap_or_default(), kind));
            }
        }
        tracing::debug!(job = job.id, records = output.records.len(), "{}: {}", job.describe(), state.as_str());
        Ok(state)
    }

    /// Books a failed run: a retry later, a pause until the quota resets, or a final failure.
    async fn record(
        &self,
        task: &str,
        job: &JobRow,
        op: Op,
        verdict: Verdict,
        hooks: &JobHooks<'_>,
    ) -> Result<(), JobError> {
        let inner = &*self.inner;
        let Verdict::Failed { kind, message, retryable, quota, timed_out } = verdict else { return Ok(()) };
        // A plugin's words are in it: cut to size for the database, the log and the alert.
        let message = text::message(&message);
        let (dataset, raw_response) = {
            let seen = hooks.seen();
            (seen.dataset.clone(), seen.raw_response)
        };
        if quota {
            let resets = inner.budget.quota_resets_at();
            let mut tx = inner.pool.begin().await.map_err(db("pausing a job"))?;
            sqlx::query("UPDATE planned_jobs SET not_before = $2 WHERE id = $1")
                .bind(job.id)
                .bind(resets)
                .execute(&mut *tx)
                .await
                .map_err(db("pausing a job"))?;
            settle(&mut tx, &inner.clock, task, Settle::RetryAt(resets), &message).await?;
            tx.commit().await.map_err(db("pausing a job"))?;
            inner.stats.paused.fetch_add(1, Relaxed);
            tracing::warn!(job = job.id, "{}: {message}; paused until {resets}", job.describe());
            if let Some(alerter) = &inner.alerter {
                let incident = Incident::new(&job.source, dataset.clone().unwrap_or_default(), kind);
                alerter.raise(
                    Alert::new(incident, format!("{message}; the dataset is paused until the quota resets"))
                        .with("resumes", resets.with_timezone(&crate::tracks::kst()).to_rfc3339()),
                );
            }
            return Ok(());
        }
        let attempts = u32::try_from(job.attempts).unwrap_or(0) + 1;
        if retryable && attempts < inner.settings.backoff.max_attempts {
            let delay = inner.settings.backoff.delay(attempts);
            let mut tx = inner.pool.begin().await.map_err(db("scheduling a retry"))?;
            sqlx::query("UPDATE planned_jobs SET attempts = $2 WHERE id = $1")
                .bind(job.id)
                .bind(attempts as i32)
                .execute(&mut *tx)
                .await
                .map_err(db("scheduling a retry"))?;
            settle(&mut tx, &inner.clock, task, Settle::RetryIn(delay), &message).await?;
            tx.commit().await.map_err(db("scheduling a retry"))?;
            inner.stats.retried.fetch_add(1, Relaxed);
            tracing::info!(
                job = job.id,
                attempt = attempts,
                delay_ms = delay.as_millis() as u64,
                "{}: {kind}: {message}; retrying",
                job.describe()
            );
            return Ok(());
        }
        let job_json = serde_json::json!({
            "planned_job": job.id, "source": job.source, "op": job.op, "track": job.track,
            "race_date": job.race_date, "race_number": job.race_number, "slot": job.slot, "pools": job.pools,
        });
        let mut tx = inner.pool.begin().await.map_err(db("recording a failure"))?;
        let failure: i64 = sqlx::query_scalar(
            "INSERT INTO ingestion_failures (source, dataset, operation, track, race_date, race_number, error_kind,
                                             message, attempts, raw_response_id, job, planned_job)
             VALUES ($1, $2, $3, $4, $5, NULLIF($6, 0), $7, $8, $9, $10, $11, $12)
             RETURNING id",
        )
        .bind(&job.source)
        .bind(&dataset)
        .bind(op.as_str())
        .bind(&job.track)
        .bind(job.race_date)
        .bind(job.race_number)
        .bind(kind)
        .bind(&message)
        .bind(attempts as i32)
        .bind(raw_response)
        .bind(job_json)
        .bind(job.id)
        .fetch_one(&mut *tx)
        .await
        .map_err(db("recording a failure"))?;
        sqlx::query("UPDATE planned_jobs SET state = 'failed', attempts = $2, finished_at = now() WHERE id = $1")
            .bind(job.id)
            .bind(attempts as i32)
            .execute(&mut *tx)
            .await
            .map_err(db("recording a failure"))?;
        settle(&mut tx, &inner.clock, task, Settle::Killed, &message).await?;
        tx.commit().await.map_err(db("recording a failure"))?;
        inner.stats.failed.fetch_add(1, Relaxed);
        tracing::error!(job = job.id, failure, "{}: {kind}: {message}", job.describe());
        let ending = if timed_out { Ending::TimedOut } else { Ending::Failed };
        self.note_ending(&job.source, ending);
        if let Some(alerter) = &inner.alerter {
            let incident = Incident::new(&job.source, dataset.unwrap_or_default(), kind);
            alerter.raise(
                Alert::new(incident, message)
                    .with("job", job.describe())
                    .with("failure", format!("#{failure} (racelab retry {failure})"))
                    .with("attempts", attempts.to_string()),
            );
        }
        Ok(())
    }

    /// Counts how a job of `source` ended; says so in the log when the source's health changes.
    fn note_ending(&self, source: &str, ending: Ending) {
        let now = self.inner.clock.now().to_utc();
        match self.inner.stats.sources.record(source, ending, now) {
            Some(Health::Ok) => tracing::info!(source, "source is healthy again: a job succeeded"),
            Some(health) => tracing::warn!(
                source,
                ?health,
                "source is unhealthy: its last {UNHEALTHY_AFTER} jobs failed{}",
                if health == Health::TimingOut { ", each because its plugin ran out of time" } else { "" }
            ),
            None => {}
        }
    }

    /// What each source's plugin is: its label and how many of its calls are stuck.
    pub fn plugins(&self) -> Vec<(String, String, usize)> {
        let mut plugins: Vec<_> = self
            .inner
            .sources
            .iter()
            .map(|(name, s)| (name.clone(), s.plugin.label().to_string(), s.plugin.stuck_calls()))
            .collect();
        plugins.sort();
        plugins
    }

    /// Marks the job `state` and settles its task, in one transaction.
    ///
    /// A job that ends without running (superseded) leaves nothing for its open failures to
    /// wait for: they are resolved with it, and so are the incidents they leave clear.
    async fn finish(&self, task: &str, job: &JobRow, state: JobState, how: Settle) -> Result<(), JobError> {
        let mut tx = self.inner.pool.begin().await.map_err(db("finishing a job"))?;
        sqlx::query("UPDATE planned_jobs SET state = $2, finished_at = now() WHERE id = $1")
            .bind(job.id)
            .bind(state)
            .execute(&mut *tx)
            .await
            .map_err(db("finishing a job"))?;
        let cleared: Vec<(String, Option<String>, String)> = sqlx::query_as(concat!("WITH ", resolve_failures!()))
            .bind(job.id)
            .fetch_all(&mut *tx)
            .await
            .map_err(db("resolving a finished job's failures"))?;
        settle(&mut tx, &self.inner.clock, task, how, state.as_str()).await?;
        tx.commit().await.map_err(db("finishing a job"))?;
        if state == JobState::Superseded {
            self.inner.stats.superseded.fetch_add(1, Relaxed);
        }
        if let Some(alerter) = &self.inner.alerter {
            for (source, dataset, kind) in cleared {
                alerter.resolve(&Incident::new(source, dataset.unwrap_or_default(), kind));
            }
        }
        Ok(())
    }

    async fn settle_alone(&self, task: &str, how: Settle, note: &str) -> Result<(), JobError> {
        let mut conn = self.inner.pool.acquire().await.map_err(db("settling a task"))?;
        settle(&mut conn, &self.inner.clock, task, how, note).await
    }
}

impl<'a> JobHooks<'a> {
    fn new(inner: &'a Inner, job: &'a JobRow) -> Self {
        JobHooks { inner, source: &job.source, lane: job.lane, seen: Mutex::new(Seen::default()) }
    }
}

/// The plugin operation a job asks for.
fn operation(job: &JobRow, op: Op, meeting: Option<String>) -> Operation {
    let date = Date {
        year: u16::try_from(job.race_date.year()).unwrap_or(0),
        month: u8::try_from(job.race_date.month()).unwrap_or(0),
        day: u8::try_from(job.race_date.day()).unwrap_or(0),
    };
    let race = RaceRef {
        key: RaceKey { track: job.track.clone(), date, number: u8::try_from(job.race_number).unwrap_or(0) },
        meeting,
    };
    match op {
        Op::Schedule => Operation::Schedule(DayRef { track: job.track.clone(), date }),
        Op::Entries => Operation::Entries(race),
        Op::Results => Operation::Results(race),
        Op::Odds | Op::OddsFinal => Operation::Odds(OddsQuery {
            race,
            pools: job.pools.iter().filter_map(|p| crate::json::pool_from_code(p)).collect(),
        }),
    }
}
