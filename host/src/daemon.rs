//! The daemon: the planner on apalis-cron ticks, the worker on the queue, daily upkeep, all
//! stopped together. `racelab serve` runs it from the configuration; `racelab demo` runs it on
//! an accelerated clock against the simulator.

use std::collections::HashMap;
use std::future::Future;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use apalis_cron::CronScheduler;
use futures_util::StreamExt;
use sqlx::PgPool;
use tokio::sync::watch;

use crate::alerts::{self, AlertConfig, AlertTask, Alerter, SlackTarget};
use crate::budget::{Budget, DatasetLimit};
use crate::clock::Clock;
use crate::config::{Config, SourceConfig};
use crate::fetch::{Endpoint, Fetcher};
use crate::follow::{Followed, Follower};
use crate::jobs::planner::{Planner, SourcePlan};
use crate::jobs::retry::Backoff;
use crate::jobs::worker::{SourceRuntime, Worker, WorkerParts, WorkerSettings};
use crate::plugins::hints::{self, OddsTiming};
use crate::plugins::registry::{self, Registry};
use crate::plugins::{Limits, Plugin, Runtime};
use crate::store::{self, Store, StoreConfig};

/// What differs between `serve`, `demo` and tests.
#[derive(Debug, Clone)]
pub struct Options {
    /// The planner's clock.
    pub clock: Clock,
    /// This host's worker name, unique among hosts on the database.
    pub worker_name: String,
    /// Planner ticks, as a cron expression with seconds (apalis-cron).
    pub tick: String,
    /// Real time ahead the planner queues jobs (see [`Planner::new`]).
    pub lookahead: Duration,
    /// Real time between polls of an empty queue.
    pub poll: Duration,
    /// Whether the planner plans live work (`racelab backfill` plans only its backfill).
    pub live: bool,
}

impl Options {
    /// For `racelab serve`: the system clock, a tick every second.
    pub fn serve() -> Self {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "host".to_string());
        Options {
            clock: Clock::system(),
            worker_name: format!("racelab-{host}-{}", std::process::id()),
            tick: "* * * * * *".to_string(),
            lookahead: Duration::from_secs(2),
            poll: Duration::from_millis(200),
            live: true,
        }
    }
}

/// Everything running.
pub struct Daemon {
    pub pool: PgPool,
    pub store: Store,
    pub clock: Clock,
    pub planner: Planner,
    pub worker: Worker,
    pub alerter: Option<Alerter>,
    pub registry: Registry,
    pub runtime: Arc<Runtime>,
    pub budget: Budget,
    alert_task: Option<AlertTask>,
    /// Keeps each source on its plugin's active version (started by [`Daemon::run`]).
    follower: Option<Follower>,
    options: Options,
    raw_retention: Duration,
    grace: Duration,
}

impl std::fmt::Debug for Daemon {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Daemon").field("worker", &self.worker).finish_non_exhaustive()
    }
}

impl Daemon {
    /// Connects, migrates (under sqlx's advisory lock), creates the odds partitions ahead,
    /// loads every configured plugin and wires the parts. Any problem is an error that says
    /// what to fix; nothing runs yet.
    pub async fn start(config: &Config, options: Options) -> anyhow::Result<Daemon> {
        let pool = store::connect(config.database_url.expose()).await?;
        store::migrate(&pool).await?;
        let store = Store::new(pool.clone(), StoreConfig { skip_unchanged_odds: config.store.skip_unchanged_odds });
        let today = options.clock.today();
        store.ensure_partitions(today, 3).await?;
        // Native code only from the host's own compile cache (or compiled in memory).
        let runtime = Runtime::new(Limits::default()).context("starting the plugin runtime")?;
        let runtime = Arc::new(runtime.with_cache_dir(&config.cache_dir));
        let budget =
            Budget::new(pool.clone(), options.clock.clone()).with_backfill_share(config.jobs.backfill_quota_share);
        let registry = Registry::new(pool.clone());
        let mut sources = HashMap::new();
        let mut plans = Vec::new();
        let mut followed = Vec::new();
        if let Some(dir) = &config.plugin_dir {
            seed_from_dir(&registry, &runtime, dir, &options.worker_name).await?;
        }
        for (name, source) in &config.sources {
            let (plugin_name, version_id, plugin) =
                active_plugin(&registry, &runtime, name, source, &options.worker_name)
                    .await
                    .with_context(|| format!("loading the {name} plugin"))?;
            let (source_runtime, plan) = wire(name, source, plugin, &budget)?;
            tracing::info!(source = %name, plugin = %source_runtime.plugin.label(), tracks = ?source_runtime.tracks, "plugin loaded");
            sources.insert(name.clone(), source_runtime);
            plans.push(plan);
            followed.push(Followed { source: name.clone(), plugin: plugin_name, version_id, config: source.clone() });
        }
        // Without a Slack target alerts are still deduplicated and logged.
        let alert_config = AlertConfig {
            target: alert_target(config),
            repeat_window: Duration::from_secs(config.alerts.repeat_window_s),
            incidents: Some(pool.clone()),
            ..AlertConfig::default()
        };
        let (alerter, alert_task) = alerts::spawn(alert_config, alerts::SystemClock)?;
        match alerter.load_open().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(open = n, "alert incidents still open from before"),
            Err(e) => tracing::warn!("could not read the open alert incidents: {e}"),
        }
        let (alerter, alert_task) = (Some(alerter), Some(alert_task));
        let jobs = &config.jobs;
        let settings = WorkerSettings {
            concurrency: jobs.workers,
            poll: options.poll,
            backoff: Backoff {
                base: Duration::from_millis(jobs.backoff_base_ms),
                cap: Duration::from_secs(jobs.backoff_cap_s),
                max_attempts: jobs.max_attempts,
            },
            orphan_after: Duration::from_secs(jobs.orphan_after_s),
            job_timeout: Duration::from_secs(jobs.job_timeout_s),
            backfill_slots: if options.live {
                jobs.backfill_workers.min(jobs.workers.saturating_sub(1)).max(1)
            } else {
                jobs.workers
            },
            final_odds_after: Duration::from_secs(u64::from(config.cadence.final_odds_after_s)),
            // A backfill-only host runs backfill jobs on all its slots, and no live job.
            live: options.live,
            ..WorkerSettings::default()
        };
        let fetcher = Fetcher::new(Duration::from_secs(config.http.timeout_s))?;
        let worker = Worker::new(WorkerParts {
            name: options.worker_name.clone(),
            store: store.clone(),
            clock: options.clock.clone(),
            budget: budget.clone(),
            alerter: alerter.clone(),
            sources,
            fetcher,
            settings,
        });
        worker.register().await?;
        let planner =
            Planner::new(pool.clone(), options.clock.clone(), config.cadence.clone(), plans, options.lookahead)
                .with_alerter(alerter.clone())
                .with_work(options.live, Some(i64::from(jobs.backfill_slices)));
        let follower =
            Follower::new(registry.clone(), runtime.clone(), worker.clone(), planner.clone(), budget.clone(), followed);
        Ok(Daemon {
            registry,
            runtime,
            budget,
            follower: Some(follower),
            pool,
            store,
            clock: options.clock.clone(),
            planner,
            worker,
            alerter,
            alert_task,
            options,
            raw_retention: Duration::from_secs(u64::from(config.store.raw_retention_days) * 86_400),
            grace: Duration::from_secs(jobs.shutdown_grace_s),
        })
    }

    /// Runs until `shutdown` completes: then stops planning and claiming, gives the jobs in
    /// flight the configured grace to finish, hands any still running back to the queue and
    /// returns.
    pub async fn run(mut self, shutdown: impl Future<Output = ()> + Send) -> anyhow::Result<()> {
        let (stop_tx, stop_rx) = watch::channel(false);
        let schedule = cron::Schedule::from_str(&self.options.tick)
            .map_err(|e| anyhow::anyhow!("the planner tick {:?} is not a cron expression: {e}", self.options.tick))?;
        let planner = self.planner.clone();
        let store = self.store.clone();
        let clock = self.clock.clone();
        let retention = self.raw_retention;
        let mut stop_planner = stop_rx.clone();
        let planning = tokio::spawn(async move {
            let mut ticks = Box::pin(cron_ticks(schedule));
            let mut last_upkeep: Option<chrono::NaiveDate> = None;
            // During a database outage every tick fails: one warning a minute, with the count.
            let mut failing = RateLimited::new(Duration::from_secs(60));
            loop {
                tokio::select! {
                    _ = stop_planner.changed() => break,
                    tick = ticks.next() => {
                        if tick.is_none() { break }
                    }
                }
                match planner.tick().await {
                    Ok(n) => {
                        if let Some(failed) = failing.recovered() {
                            tracing::info!(failed_ticks = failed, "planning works again");
                        }
                        if n > 0 {
                            tracing::debug!(queued = n, "planner queued jobs");
                        }
                    }
                    Err(e) => {
                        if let Some(failed) = failing.failed() {
                            tracing::warn!(failed_ticks = failed, "planning failed: {e}; retrying every tick");
                        }
                    }
                }
                let today = clock.today();
                if last_upkeep != Some(today) {
                    last_upkeep = Some(today);
                    upkeep(&store, today, retention).await;
                }
            }
        });
        let following = self.follower.take().map(|follower| {
            let mut stop_following = stop_rx.clone();
            tokio::spawn(follower.run(async move {
                let _ = stop_following.changed().await;
            }))
        });
        let worker = self.worker.clone();
        let mut stop_worker = stop_rx.clone();
        let grace = self.grace;
        let working = tokio::spawn(async move {
            let stop = async move {
                let _ = stop_worker.changed().await;
            };
            worker.run(stop, grace).await
        });
        shutdown.await;
        tracing::info!(grace_s = self.grace.as_secs(), "shutting down: no new jobs; finishing those in flight");
        let _ = stop_tx.send(true);
        let _ = planning.await;
        if let Some(following) = following {
            let _ = following.await;
        }
        // The worker gives its jobs the grace, then stops those still running: none is left
        // detached to write after this returns.
        match working.await {
            Ok(0) => {}
            Ok(aborted) => tracing::warn!(aborted, "jobs stopped at the end of the grace period; handing them back"),
            Err(e) => tracing::warn!("the worker ended abnormally: {e}"),
        }
        // Whatever is still locked to this worker goes back to the queue now, not after the
        // orphan timeout.
        match crate::jobs::release_abandoned(&self.pool, self.worker.name(), &[]).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(released = n, "tasks handed back to the queue"),
            Err(e) => tracing::warn!("could not hand tasks back: {e}"),
        }
        if let Some(task) = self.alert_task.take() {
            task.shutdown(Duration::from_secs(2)).await;
        }
        Ok(())
    }
}

/// The planner's ticks. apalis-cron's stream, once a tick is late (a planner tick that outlasted
/// the interval, a database outage), answers every later poll at once with an out-of-range
/// error for that tick; taken for ticks, those made a busy loop of planner runs and warnings.
/// Here a late tick is dropped and the schedule restarted from now, with one warning a minute
/// at most.
fn cron_ticks(schedule: cron::Schedule) -> impl futures_util::Stream<Item = ()> {
    const WARN_EVERY: Duration = Duration::from_secs(60);
    let start = move || Box::pin(CronScheduler::new(schedule.clone()).into_stream());
    let state = (start(), None::<std::time::Instant>, 0u64);
    futures_util::stream::unfold(state, move |(mut ticks, mut warned, mut late)| {
        let start = start.clone();
        async move {
            loop {
                match ticks.next().await? {
                    Ok(_) => return Some(((), (ticks, warned, late))),
                    Err(e) => {
                        late += 1;
                        if warned.is_none_or(|at| at.elapsed() >= WARN_EVERY) {
                            tracing::warn!(late, "planner ticks fell behind ({e}); skipping to the next one");
                            (warned, late) = (Some(std::time::Instant::now()), 0);
                        }
                        ticks = start();
                    }
                }
            }
        }
    })
}

/// Counts repeated failures and says when one is worth a log line: the first, then at most
/// one per `every`, and when they stop.
#[derive(Debug)]
struct RateLimited {
    every: Duration,
    last: Option<std::time::Instant>,
    /// Failures since the last line.
    since_line: u64,
    /// Failures in a row.
    in_a_row: u64,
}

impl RateLimited {
    fn new(every: Duration) -> Self {
        RateLimited { every, last: None, since_line: 0, in_a_row: 0 }
    }

    /// A failure; `Some(count since the last line)` when a line is due.
    fn failed(&mut self) -> Option<u64> {
        self.since_line += 1;
        self.in_a_row += 1;
        if self.last.is_some_and(|at| at.elapsed() < self.every) {
            return None;
        }
        self.last = Some(std::time::Instant::now());
        Some(std::mem::take(&mut self.since_line))
    }

    /// A success; `Some(failures in a row)` if it ends a run of them.
    fn recovered(&mut self) -> Option<u64> {
        let failed = std::mem::take(&mut self.in_a_row);
        (self.last, self.since_line) = (None, 0);
        (failed > 0).then_some(failed)
    }
}

/// Daily: partitions ahead, old raw responses out.
async fn upkeep(store: &Store, today: chrono::NaiveDate, retention: Duration) {
    if let Err(e) = store.ensure_partitions(today, 3).await {
        tracing::warn!("creating odds partitions failed: {e}");
    }
    match store.prune_raw(retention).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(deleted = n, "raw responses past retention deleted"),
        Err(e) => tracing::warn!("pruning raw responses failed: {e}"),
    }
}

fn alert_target(config: &Config) -> Option<SlackTarget> {
    let a = &config.alerts;
    if let Some(url) = &a.slack_webhook_url {
        return Some(SlackTarget::webhook(url.expose()));
    }
    match (&a.slack_bot_token, &a.slack_channel) {
        (Some(token), Some(channel)) => Some(SlackTarget::bot(token.expose(), channel.clone())),
        _ => None,
    }
}

/// The budget limits of a source: the manifest's hints, overridden by the configuration
/// (`daily_quota` per dataset, or `"*"` for every dataset of the source).
fn set_limits(budget: &Budget, name: &str, plugin: &Plugin, source: &SourceConfig) {
    for hint in &plugin.manifest().datasets {
        let limit = DatasetLimit {
            daily_quota: source
                .daily_quota
                .get(&hint.dataset)
                .or_else(|| source.daily_quota.get("*"))
                .copied()
                .or(hint.daily_quota),
            per_second: source.per_second.or(hint.per_second),
        };
        budget.set_limit(name, &hint.dataset, limit);
    }
}

/// What source `name` runs with `plugin`: the worker's side and the planner's, its budget
/// limits set. Used at start and on every swap, so a new version's manifest (tracks, pools,
/// datasets, config keys) takes effect with it.
pub fn wire(
    name: &str,
    source: &SourceConfig,
    plugin: Plugin,
    budget: &Budget,
) -> anyhow::Result<(SourceRuntime, SourcePlan)> {
    let tracks = served_tracks(name, &plugin, &source.tracks)?;
    let set: Vec<(String, String)> = source.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let config =
        hints::effective_config(plugin.manifest(), &set).map_err(|e| anyhow::anyhow!("sources.{name}.config: {e}"))?;
    let plan = source_plan(name, &plugin, &tracks, &config).with_context(|| format!("sources.{name}.config"))?;
    let credential = match (&plugin.manifest().credential_param, &source.service_key) {
        (Some(param), Some(key)) => Some((param.clone(), key.clone())),
        _ => None,
    };
    let endpoint = Endpoint::new(source.base_url.as_deref().unwrap_or_default(), credential)
        .with_context(|| format!("RACELAB_{}_BASE_URL", name.to_ascii_uppercase()))?;
    set_limits(budget, name, &plugin, source);
    Ok((SourceRuntime { plugin, endpoint, tracks, config }, plan))
}

/// Seeds the registry with every `.wasm` in `dir` (`RACELAB_PLUGIN_DIR`) whose plugin it has no
/// version of. A file that does not load stops the start: it is the deployment's own image.
async fn seed_from_dir(
    registry: &Registry,
    runtime: &Arc<Runtime>,
    dir: &std::path::Path,
    host: &str,
) -> anyhow::Result<()> {
    let read = || -> std::io::Result<Vec<std::path::PathBuf>> {
        let mut files: Vec<_> = std::fs::read_dir(dir)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "wasm") && p.is_file())
            .collect();
        files.sort();
        Ok(files)
    };
    let files = read().with_context(|| format!("cannot read RACELAB_PLUGIN_DIR {}", dir.display()))?;
    for path in files {
        let bytes = std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        let (plugin, seeded) = registry
            .seed(runtime, bytes, &format!("seed:{host}"))
            .await
            .with_context(|| format!("RACELAB_PLUGIN_DIR: {}", path.display()))?;
        if seeded {
            tracing::info!(%plugin, file = %path.display(), "the registry had no version of this plugin: seeded it from the plugin directory");
        } else {
            tracing::debug!(%plugin, file = %path.display(), "the registry has this plugin already; the file is not used");
        }
    }
    Ok(())
}

/// The plugin source `name` runs at start: the registry's active version of it, after the
/// configured file seeded the registry if it had no version of that plugin. A file that is not
/// the active version is not run, and the log says so: once an operator has activated a
/// version, a restart must not undo it. Returns the plugin's registry name, the version's id
/// and the loaded plugin.
async fn active_plugin(
    registry: &Registry,
    runtime: &Arc<Runtime>,
    name: &str,
    source: &SourceConfig,
    host: &str,
) -> anyhow::Result<(String, i64, Plugin)> {
    let mut plugin_name = name.to_string();
    if let Some(path) = &source.plugin {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read plugin file {}", path.display()))?;
        let sha256 = registry::sha256_hex(&bytes);
        let (seeded_name, seeded) = registry.seed(runtime, bytes, &format!("seed:{host}")).await?;
        plugin_name = seeded_name;
        if seeded {
            tracing::info!(source = name, plugin = %plugin_name, file = %path.display(), "the registry had no version of this plugin: seeded it from the file and made it active");
        } else if let Some(active) = registry.active(std::slice::from_ref(&plugin_name)).await?.first()
            && active.sha256 != sha256
        {
            tracing::warn!(
                source = name,
                file = %path.display(),
                "RACELAB_{}_PLUGIN is not what runs: the registry's active {} is {}, and the registry wins once it has a version of a plugin; `racelab plugin install --activate {}` runs the file instead",
                name.to_ascii_uppercase(),
                plugin_name,
                active.version,
                path.display()
            );
        }
    }
    let active = registry.active(std::slice::from_ref(&plugin_name)).await?;
    let Some(active) = active.first() else {
        anyhow::bail!(
            "the plugin registry has no active version of {plugin_name}: set RACELAB_{}_PLUGIN to its component, put it in RACELAB_PLUGIN_DIR, or `racelab plugin install --activate FILE.wasm`",
            name.to_ascii_uppercase()
        );
    };
    let (_, version, bytes) = registry.component(active.version_id).await?;
    let plugin = registry::load_blocking(runtime, bytes, format!("{plugin_name}@{version}")).await?;
    Ok((plugin_name, active.version_id, plugin))
}

/// The tracks `plugin` serves as source `name`: those the configuration gives the source
/// (`granted`) that its manifest lists. A track the manifest claims beyond them is not the
/// plugin's to serve and is ignored, with a warning; a plugin left with none is refused.
pub fn served_tracks(name: &str, plugin: &Plugin, granted: &[String]) -> anyhow::Result<Vec<String>> {
    let claimed = &plugin.manifest().tracks;
    let ignored: Vec<&String> = claimed.iter().filter(|t| !granted.contains(t)).collect();
    if !ignored.is_empty() {
        tracing::warn!(
            source = name,
            plugin = plugin.label(),
            ?ignored,
            "the plugin claims tracks that are not this source's; it will not be asked about them"
        );
    }
    let served: Vec<String> = claimed.iter().filter(|t| granted.contains(t)).cloned().collect();
    if served.is_empty() {
        anyhow::bail!(
            "plugin {} serves none of source {name}'s tracks ({}); it lists {}",
            plugin.label(),
            granted.join(", "),
            claimed.join(", ")
        );
    }
    Ok(served)
}

/// What the planner needs from a plugin's manifest and effective config, for the tracks it
/// serves.
pub fn source_plan(
    name: &str,
    plugin: &Plugin,
    tracks: &[String],
    config: &[(String, String)],
) -> anyhow::Result<SourcePlan> {
    let m = plugin.manifest();
    let timing = OddsTiming::of(m, config).map_err(anyhow::Error::msg)?;
    let history = hints::history(m, config).map_err(anyhow::Error::msg)?;
    Ok(SourcePlan {
        source: name.to_string(),
        tracks: tracks.to_vec(),
        ops: m.operations.clone(),
        pools: m.odds_pools.iter().map(|p| crate::json::pool(*p).to_string()).collect(),
        odds_before_post: timing == OddsTiming::BeforeRace,
        history,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_failures_are_logged_once_a_window_with_their_count() {
        let mut r = RateLimited::new(Duration::from_secs(60));
        assert_eq!(r.failed(), Some(1));
        assert_eq!((r.failed(), r.failed()), (None, None));
        assert_eq!(r.recovered(), Some(3));
        assert_eq!(r.recovered(), None);
        let mut quick = RateLimited::new(Duration::ZERO);
        assert_eq!((quick.failed(), quick.failed()), (Some(1), Some(1)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_late_planner_tick_is_skipped_not_repeated_at_once() {
        let schedule = cron::Schedule::from_str("* * * * * *").expect("every second");
        let mut ticks = Box::pin(cron_ticks(schedule));
        assert!(ticks.next().await.is_some());
        // A tick that outlasts the interval, as one did during a database outage: the next
        // tick is in the past when the stream is polled again.
        std::thread::sleep(Duration::from_millis(2_500));
        let window = tokio::time::sleep(Duration::from_millis(2_500));
        tokio::pin!(window);
        let mut count = 0;
        loop {
            tokio::select! {
                () = &mut window => break,
                tick = ticks.next() => {
                    assert!(tick.is_some(), "the ticks go on");
                    count += 1;
                }
            }
        }
        // About one a second, not a busy loop.
        assert!((1..=4).contains(&count), "{count} ticks in 2.5 s");
    }
}
