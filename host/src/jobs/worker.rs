//! The worker: claim due tasks, run each, settle it, beat, drain. What a job does is decided
//! in [`super::decide`] and booked through [`super::ledger`]; this module is only the loop and
//! the I/O between them.
//!
//! A run puts every request through the budget and every response into the raw archive
//! ([`JobHooks`]), then writes the records, the job's progress and the task's status in one
//! transaction. Failures follow [`super::decide::book`]: transient faults are retried with
//! backoff, an exhausted quota pauses the job until the reset, anything else is a failure row
//! with the raw response that caused it, and one alert; a later success of the same job
//! resolves both.
//!
//! A task this host cannot settle because the database is gone is released when it comes back;
//! a task of a host that died is handed to another by apalis' orphan re-enqueue once its
//! heartbeat is older than `orphan_after`. Either way the job runs again, and since every write
//! is an upsert on natural keys, nothing is duplicated.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use apalis_core::worker::context::WorkerContext;
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::task::JoinSet;

use super::decide::{self, Booking, Ended, Start, Superseded};
use super::health::{Ending, Health, SourceHealth, UNHEALTHY_AFTER};
use super::ledger::{self, Cleared, Failure, JobRow, Lanes, Settle};
use super::retry::Backoff;
use super::{FailureKind, JobError, JobState, Op};
use crate::alerts::{Alert, Alerter, Incident};
use crate::budget::{Budget, BudgetError, Lane};
use crate::clock::Clock;
use crate::fetch::{Endpoint, Fetcher};
use crate::plugins::wit::{HttpRequest, HttpResponse, Operation};
use crate::plugins::{Plugin, text};
use crate::runner::{self, Hooks, Policy, RunError, Stopped, Trace};
use crate::store::{Archived, JobOutput, Store, StoreError};

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
    /// Backfill jobs run at once, at most: the other slots stay free for live work.
    pub backfill_slots: usize,
    /// Whether it runs live jobs; a backfill-only host (`racelab backfill`) does not, so a
    /// kill of it never holds up a live job.
    pub live: bool,
    /// How long after post the final odds are taken to be official (the cadence's first
    /// final-odds poll): a backfilled race's final odds are stored as captured then, as a live
    /// host would have captured them.
    pub final_odds_after: Duration,
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
            backfill_slots: 6,
            live: true,
            final_odds_after: Duration::from_secs(600),
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
    /// By source name. A job takes its source's entry when it starts and runs on it to the end.
    sources: RwLock<HashMap<String, Arc<SourceRuntime>>>,
    fetcher: Fetcher,
    settings: WorkerSettings,
    stats: WorkerStats,
    /// Tasks claimed and not yet settled.
    in_hand: Mutex<BTreeSet<String>>,
    /// Backfill jobs running now.
    backfill_running: Arc<AtomicUsize>,
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

/// Why [`JobHooks`] stopped a run.
#[derive(Debug, thiserror::Error)]
enum HookStop {
    /// The rate limiter or the quota refused the request.
    #[error(transparent)]
    Budget(#[from] BudgetError),
    /// The raw archive could not keep a response, so it was not parsed.
    #[error(transparent)]
    Archive(#[from] StoreError),
}

impl HookStop {
    fn kind(&self) -> FailureKind {
        match self {
            HookStop::Budget(BudgetError::Exhausted { .. }) => FailureKind::QuotaExhausted,
            HookStop::Budget(BudgetError::Paused { .. }) => FailureKind::RateLimited,
            HookStop::Budget(_) | HookStop::Archive(_) => FailureKind::Transient,
        }
    }
}

/// The budget and the archive around one job's requests.
struct JobHooks<'a> {
    inner: &'a Inner,
    source: &'a str,
    lane: Lane,
    /// Datasets whose pause this job has read, and not heard "wait" from since.
    pause_read: BTreeSet<String>,
    /// What the archive keeps beside each response for a replay.
    operation: &'a Operation,
    captured_at: DateTime<Utc>,
}

impl Hooks for JobHooks<'_> {
    type Stop = HookStop;

    async fn before_send(&mut self, request: &HttpRequest) -> Result<(), HookStop> {
        let recheck = !self.pause_read.contains(&request.dataset);
        self.inner.budget.acquire_with(self.source, &request.dataset, self.lane, recheck).await?;
        self.pause_read.insert(request.dataset.clone());
        self.inner.stats.requests.fetch_add(1, Relaxed);
        Ok(())
    }

    async fn received(
        &mut self,
        request: &HttpRequest,
        url: &str,
        response: &HttpResponse,
    ) -> Result<Option<i64>, HookStop> {
        let inner = self.inner;
        let archived = Archived {
            source: self.source,
            operation: Some(self.operation),
            request,
            url,
            status: response.status,
            body: &response.body,
            captured_at: self.captured_at,
        };
        Ok(Some(inner.store.archive(&inner.pool, &archived).await?))
    }

    fn fetched(&mut self, request: &HttpRequest, status: Option<u16>, elapsed: Duration) {
        crate::telemetry::fetched(self.source, &request.dataset, status, elapsed);
    }

    async fn rate_limited(&mut self, request: &HttpRequest, wait: Duration) {
        self.pause_read.remove(&request.dataset);
        if let Err(e) = self.inner.budget.pause_for(self.source, &request.dataset, wait).await {
            tracing::warn!("could not share a rate-limit pause: {e}");
        }
    }
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
                sources: RwLock::new(parts.sources.into_iter().map(|(name, s)| (name, Arc::new(s))).collect()),
                fetcher: parts.fetcher,
                settings: parts.settings,
                stats: WorkerStats::default(),
                in_hand: Mutex::new(BTreeSet::new()),
                backfill_running: Arc::default(),
            }),
        }
    }

    /// The source `name` as a job starting now runs it.
    pub fn source(&self, name: &str) -> Option<Arc<SourceRuntime>> {
        self.inner.sources.read().unwrap_or_else(PoisonError::into_inner).get(name).cloned()
    }

    /// Runs source `name` as `source` from the next job on; jobs running keep the one they
    /// started with. Returns the label of the plugin it replaces.
    pub fn set_source(&self, name: &str, source: SourceRuntime) -> Option<String> {
        let mut sources = self.inner.sources.write().unwrap_or_else(PoisonError::into_inner);
        sources.insert(name.to_string(), Arc::new(source)).map(|was| was.plugin.label().to_string())
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
        ledger::register_worker(&self.inner.pool, &self.inner.name).await
    }

    /// One heartbeat: tasks this worker dropped (see [`ledger::release_abandoned`]) and tasks
    /// of dead hosts go back to the queue.
    pub async fn heartbeat(&self) -> Result<u64, JobError> {
        let pool = &self.inner.pool;
        ledger::beat(pool, &self.inner.name).await?;
        self.inner.budget.flush_or_warn().await;
        let in_hand: Vec<String> = self.in_hand().iter().cloned().collect();
        let released = ledger::release_abandoned(pool, &self.inner.name, &in_hand).await?;
        if released > 0 {
            tracing::info!(released, "handed unsettled tasks back to the queue");
        }
        ledger::reenqueue_orphaned(pool, self.inner.settings.orphan_after).await
    }

    /// Claims and runs tasks until `stop` completes; then gives the tasks in hand `grace` to
    /// finish and aborts those still running, so none is left detached when this returns
    /// (their tasks go back to the queue: see [`ledger::release_abandoned`]). Returns how many
    /// were aborted.
    pub async fn run(&self, stop: impl Future<Output = ()>, grace: Duration) -> usize {
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
                        self.spawn(&mut running, task, job, row);
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
        let drained = tokio::time::timeout(grace, async { while running.join_next().await.is_some() {} }).await;
        let aborted = running.len();
        if drained.is_err() {
            tracing::warn!(aborted, "jobs still running after the grace period; stopping them");
            running.abort_all();
            while running.join_next().await.is_some() {}
            self.in_hand().clear();
        }
        self.inner.budget.flush_or_warn().await;
        aborted
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
                    self.spawn(&mut running, task, job, row);
                }
            }
            if !running.is_empty() {
                if claimed == 0 || running.len() == concurrency {
                    running.join_next().await;
                }
                continue;
            }
            if ledger::open_due_jobs(&self.inner.pool, self.inner.clock.now().to_utc()).await? == 0 {
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

    /// Claims up to `n` due tasks, of which at most as many backfill tasks as there are free
    /// backfill slots: those first from the whole queue (live tasks still come first there),
    /// the rest from live tasks only. A backfill-only worker claims backfill tasks alone.
    async fn claim(&self, n: usize) -> Result<Vec<ledger::Claim>, JobError> {
        let inner = &*self.inner;
        let room = inner.settings.backfill_slots.saturating_sub(inner.backfill_running.load(Relaxed));
        let any = n.min(room);
        if !inner.settings.live {
            if any == 0 {
                return Ok(Vec::new());
            }
            return ledger::claim(&inner.pool, &inner.clock, &inner.context, any, Lanes::Backfill).await;
        }
        let mut tasks = if any > 0 {
            ledger::claim(&inner.pool, &inner.clock, &inner.context, any, Lanes::Any).await?
        } else {
            Vec::new()
        };
        if n > any {
            tasks.extend(ledger::claim(&inner.pool, &inner.clock, &inner.context, n - any, Lanes::Live).await?);
        }
        Ok(tasks)
    }

    /// Runs a claimed task in `running`, counting it while it runs if it is backfill.
    fn spawn(&self, running: &mut JoinSet<()>, task: String, job: i64, row: Option<JobRow>) {
        let me = self.clone();
        let backfill = row.as_ref().is_some_and(|r| r.lane == Lane::Backfill);
        let counter = backfill.then(|| {
            self.inner.backfill_running.fetch_add(1, Relaxed);
            BackfillSlot(self.inner.backfill_running.clone())
        });
        running.spawn(async move {
            let _slot = counter;
            me.execute(&task, job, row).await;
        });
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
        let (pool, clock) = (&inner.pool, &inner.clock);
        let job = match read {
            Some(job) => Some(job),
            None => ledger::read_job(pool, job_id).await?,
        };
        let Some(job) = job else {
            return ledger::settle_alone(pool, clock, task, Settle::Killed, "no such planned job").await;
        };
        let mut start = decide::start(&job.facts(), clock.now().to_utc());
        if let Start::NotDue(due) = start {
            // Early (queued ahead by the planner, or paused until the quota resets): wait a
            // moment, or hand it back with its exact due time — a worker slot is not held for a
            // wait (a fixed clock moves only when told: a second).
            let wait = clock.real_until(due.fixed_offset());
            if wait.is_zero() || wait > Duration::from_millis(20) {
                let back = if wait.is_zero() { Duration::from_secs(1) } else { wait };
                return ledger::settle_alone(pool, clock, task, Settle::RetryIn(back), "not due yet").await;
            }
            tokio::time::sleep(wait).await;
            start = decide::start(&job.facts(), clock.now().to_utc().max(due));
        }
        match start {
            Start::Run => {}
            Start::NotDue(_) | Start::Finished => {
                return ledger::settle_alone(pool, clock, task, Settle::Done, "already finished").await;
            }
            Start::Superseded(why) => {
                match why {
                    Superseded::PostMoved { from, to } => {
                        tracing::info!(
                            job = job.id,
                            "{}: post time moved from {from} to {to}; superseded",
                            job.describe()
                        );
                    }
                    Superseded::RaceStarted => tracing::info!(
                        job = job.id,
                        "{}: the race has started; the pre-race poll is superseded",
                        job.describe()
                    ),
                    Superseded::DataIn => {
                        tracing::debug!(job = job.id, "{}: the race's data is in already; superseded", job.describe());
                    }
                }
                let cleared = ledger::finish(pool, clock, &job, task, JobState::Superseded, Settle::Done).await?;
                inner.stats.superseded.fetch_add(1, Relaxed);
                crate::telemetry::job_ended(job.op.as_str(), job.lane.as_str(), "superseded");
                self.clear(cleared);
                return Ok(());
            }
        }
        let Some(source) = self.source(&job.source) else {
            let message = format!("no plugin is configured for source {}", job.source);
            let ended = Ended::Failed { kind: FailureKind::Config, timed_out: false };
            return self.book(task, &job, ended, &message, &Trace::default()).await;
        };
        let operation = operation(&job);
        let captured_at = match (job.lane, job.op, job.post_time) {
            // A past race's final odds, as a live host would have captured them.
            (Lane::Backfill, Op::OddsFinal, Some(post)) => {
                post + chrono::TimeDelta::from_std(inner.settings.final_odds_after).unwrap_or_default()
            }
            _ => clock.now().to_utc(),
        };
        let mut hooks = JobHooks {
            inner,
            source: &job.source,
            lane: job.lane,
            pause_read: BTreeSet::new(),
            operation: &operation,
            captured_at,
        };
        let run = runner::Job {
            plugin: &source.plugin,
            endpoint: &source.endpoint,
            fetcher: &inner.fetcher,
            op: &operation,
            config: &source.config,
            policy: &inner.settings.policy,
        };
        // The watchdog of the whole job: whatever the plugin does, its slot is free again after
        // the budget.
        let ran = runner::run_with(&run, &mut hooks, Some(inner.settings.job_timeout)).await;
        let trace = ran.trace;
        self.note_drift(&job.source, source.plugin.label(), &trace).await;
        let records = match ran.result {
            Ok(records) => records,
            // Nothing published (yet): a valid, empty answer (see `Op::waits_for_publication`).
            Err(Stopped::Run(RunError::Source { error: crate::plugins::wit::SourceError::NoData(_), .. })) => {
                Vec::new()
            }
            Err(stopped) => {
                let (kind, timed_out) = match &stopped {
                    Stopped::Run(e) => (e.kind(), e.timed_out()),
                    Stopped::Hook(h) => (h.kind(), false),
                };
                if kind == FailureKind::QuotaExhausted
                    && matches!(stopped, Stopped::Run(_))
                    && let Some(dataset) = &trace.dataset
                    && let Err(be) = inner.budget.exhausted(&job.source, dataset).await
                {
                    tracing::warn!("could not record the exhausted quota: {be}");
                }
                let message = stopped.to_string();
                return self.book(task, &job, Ended::Failed { kind, timed_out }, &message, &trace).await;
            }
        };
        let output = JobOutput {
            plugin: source.plugin.label(),
            tracks: &source.tracks,
            asked: Some(&operation),
            records: &records,
            captured_at,
            final_odds: job.op == Op::OddsFinal,
        };
        let state = decide::answered(job.op, crate::plugins::wit::rows(&records));
        match self.commit_success(task, &job, &output, trace.requests, state).await {
            Ok(state) => {
                let counter = match state {
                    JobState::Done => &inner.stats.done,
                    JobState::NoData => &inner.stats.no_data,
                    _ => &inner.stats.superseded,
                };
                counter.fetch_add(1, Relaxed);
                crate::telemetry::job_ended(job.op.as_str(), job.lane.as_str(), state.as_str());
                self.note_ending(&job.source, Ending::Done);
                self.quota_answers_again(&job.source, &trace).await;
                Ok(())
            }
            Err(StoreError::Invalid { plugin, index, reason }) => {
                let message =
                    format!("plugin {plugin} returned an invalid record #{index}: {reason}; the output was refused");
                let ended = Ended::Failed { kind: FailureKind::PluginFault, timed_out: false };
                self.book(task, &job, ended, &message, &trace).await
            }
            Err(e) => {
                let ended = Ended::Failed { kind: FailureKind::Transient, timed_out: false };
                self.book(task, &job, ended, &e.to_string(), &trace).await
            }
        }
    }

    fn rules(&self) -> decide::Rules {
        decide::Rules { backoff: self.inner.settings.backoff, quota_resets: self.inner.budget.quota_resets_at() }
    }

    /// Counts the drift a job's pages reported and raises one alert per dataset whose shape
    /// changed: fields no page had reported before. Drift never fails a job; a database error
    /// here is logged, and the same drift is counted again by the next job that sees it.
    async fn note_drift(&self, source: &str, plugin: &str, trace: &Trace) {
        let inner = &*self.inner;
        let new = match crate::store::record_drift(&inner.pool, source, plugin, &trace.drift).await {
            Ok(new) => new,
            Err(e) => {
                tracing::warn!(source, "the plugin's drift was not counted: {e}");
                return;
            }
        };
        let mut by_dataset: std::collections::BTreeMap<&str, Vec<String>> = std::collections::BTreeMap::new();
        for (dataset, kind, field) in &new {
            let change = if *kind == "missing" { format!("{field} gone") } else { format!("{field} new") };
            by_dataset.entry(dataset).or_default().push(change);
        }
        for (dataset, changes) in by_dataset {
            let changes = changes.join(", ");
            tracing::warn!(source, dataset, plugin, "the dataset's shape changed: {changes}");
            if let Some(alerter) = &inner.alerter {
                // A shape change is an event, not a condition: each change is its own incident,
                // keyed by what changed, so a second change is not a repeat of the first.
                let digest = crate::plugins::registry::sha256_hex(changes.as_bytes());
                let incident = Incident::new(source, dataset, format!("shape_change_{}", &digest[..8]));
                alerter.raise(
                    Alert::new(incident, format!("the response shape of {dataset} changed: {changes}"))
                        .with("plugin", plugin),
                );
            }
        }
    }

    /// A dataset that answers again is no longer out of quota (a pause leaves no failure row
    /// to resolve it by) — unless this job's requests were counted just before another job ran
    /// the quota out: then it is still held up.
    async fn quota_answers_again(&self, source: &str, trace: &Trace) {
        let inner = &*self.inner;
        let Some(alerter) = &inner.alerter else { return };
        for dataset in &trace.datasets {
            let incident = Incident::new(source, dataset, FailureKind::QuotaExhausted.as_str());
            if alerter.is_open(&incident) && matches!(inner.budget.held_up(source, dataset).await, Ok(false)) {
                alerter.resolve(&incident);
            }
        }
    }

    /// Writes the records, marks the job done, resolves its open failures and settles the
    /// task — one transaction. Returns the state the job ended in.
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
        // (queued ahead, or re-run after its host died) waits for the first to commit, then
        // finds the race's final odds in and stores nothing.
        if output.final_odds
            && !output.records.is_empty()
            && ledger::lock_race_final_odds(&mut tx, job).await.map_err(db("reading the race's final odds"))?
        {
            state = JobState::Superseded;
        }
        let written =
            if state != JobState::Superseded { Some(inner.store.write(&mut tx, output).await?) } else { None };
        let cleared = ledger::settle_run(&mut tx, job, task, state, output.records.len(), requests)
            .await
            .map_err(db("marking the job done"))?;
        tx.commit().await.map_err(db("committing the job"))?;
        if let Some(written) = &written {
            crate::telemetry::rows_written(written);
        }
        self.clear(cleared);
        tracing::debug!(job = job.id, records = output.records.len(), "{}: {}", job.describe(), state.as_str());
        Ok(state)
    }

    /// Books a failed run: a retry later, a pause until the quota resets, or a final failure.
    async fn book(&self, task: &str, job: &JobRow, ended: Ended, message: &str, trace: &Trace) -> Result<(), JobError> {
        let inner = &*self.inner;
        let (pool, clock) = (&inner.pool, &inner.clock);
        // A plugin's words are in it: cut to size for the database, the log and the alert.
        let message = text::message(message);
        let attempts = u32::try_from(job.attempts).unwrap_or(0);
        let dataset = trace.dataset.as_deref();
        let booking = decide::book(job.op, ended, attempts, &self.rules(), &mut rand::rng());
        match booking {
            Booking::Finished(_) => Ok(()),
            Booking::PauseUntil(resets) => {
                ledger::pause(pool, clock, job, task, resets, &message).await?;
                inner.stats.paused.fetch_add(1, Relaxed);
                crate::telemetry::job_ended(job.op.as_str(), job.lane.as_str(), "paused");
                // Backfill running into its share is how a long backfill is paced, not an
                // incident: a line in the log, no alert. A quota spent for live work alerts.
                if job.lane == Lane::Backfill {
                    tracing::info!(job = job.id, "{}: {message}; paused until {resets}", job.describe());
                    return Ok(());
                }
                tracing::warn!(job = job.id, "{}: {message}; paused until {resets}", job.describe());
                if let Some(alerter) = &inner.alerter {
                    let incident =
                        Incident::new(&job.source, dataset.unwrap_or_default(), FailureKind::QuotaExhausted.as_str());
                    alerter.raise(
                        Alert::new(incident, format!("{message}; the dataset is paused until the quota resets"))
                            .with("resumes", resets.with_timezone(&crate::clock::kst()).to_rfc3339()),
                    );
                }
                Ok(())
            }
            Booking::RetryIn { attempts, delay } => {
                ledger::retry_later(pool, clock, job, task, attempts, delay, &message).await?;
                inner.stats.retried.fetch_add(1, Relaxed);
                crate::telemetry::job_ended(job.op.as_str(), job.lane.as_str(), "retried");
                let kind = match ended {
                    Ended::Failed { kind, .. } => kind.as_str(),
                    Ended::Stored(_) => "",
                };
                tracing::info!(
                    job = job.id,
                    attempt = attempts,
                    delay_ms = delay.as_millis() as u64,
                    "{}: {kind}: {message}; retrying",
                    job.describe()
                );
                Ok(())
            }
            Booking::Failed { attempts, kind } => {
                let failure = Failure { kind, message: &message, attempts, dataset, raw_response: trace.raw_response };
                let id = ledger::fail(pool, clock, job, task, &failure).await?;
                inner.stats.failed.fetch_add(1, Relaxed);
                crate::telemetry::job_ended(job.op.as_str(), job.lane.as_str(), "failed");
                crate::telemetry::failure(kind.as_str());
                tracing::error!(job = job.id, failure = id, "{}: {}: {message}", job.describe(), kind.as_str());
                let timed_out = matches!(ended, Ended::Failed { timed_out: true, .. });
                self.note_ending(&job.source, if timed_out { Ending::TimedOut } else { Ending::Failed });
                if let Some(alerter) = &inner.alerter {
                    let incident = Incident::new(&job.source, dataset.unwrap_or_default(), kind.as_str());
                    alerter.raise(
                        Alert::new(incident, message)
                            .with("job", job.describe())
                            .with("failure", format!("#{id} (racelab retry {id})"))
                            .with("attempts", attempts.to_string()),
                    );
                }
                Ok(())
            }
        }
    }

    /// Resolves the incidents a settled job left with no open failure.
    fn clear(&self, cleared: Cleared) {
        if let Some(alerter) = &self.inner.alerter {
            for (source, dataset, kind) in cleared {
                alerter.resolve(&Incident::new(source, dataset.unwrap_or_default(), kind.as_str()));
            }
        }
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

    /// The request budgets the worker's jobs spend.
    pub fn budget(&self) -> &Budget {
        &self.inner.budget
    }

    /// What each source's plugin is: its label and how many of its calls are stuck.
    pub fn plugins(&self) -> Vec<(String, String, usize)> {
        let sources = self.inner.sources.read().unwrap_or_else(PoisonError::into_inner);
        let mut plugins: Vec<_> = sources
            .iter()
            .map(|(name, s)| (name.clone(), s.plugin.label().to_string(), s.plugin.stuck_calls()))
            .collect();
        plugins.sort();
        plugins
    }
}

/// A backfill job's hold on a backfill slot, given back when the task ends (or is aborted).
struct BackfillSlot(Arc<AtomicUsize>);

impl Drop for BackfillSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}

/// The plugin operation a job asks for.
fn operation(job: &JobRow) -> Operation {
    let number = u8::try_from(job.race_number).unwrap_or(0);
    job.op.operation(&job.track, job.race_date, number, job.race_meeting.clone(), &job.pools)
}
