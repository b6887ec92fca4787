//! A race day driven step by step: the simulator and the host share one fixed clock, which the
//! test moves; at every step the planner ticks and the worker runs whatever is due. No sleeping
//! for simulated time, and every odds slot is hit exactly.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};
use racelab::budget::{Budget, DatasetLimit};
use racelab::config::Cadence;
use racelab::daemon::{served_tracks, source_plan};
use racelab::fetch::{Endpoint, Fetcher, Secret};
use racelab::jobs::planner::Planner;
use racelab::jobs::retry::Backoff;
use racelab::jobs::worker::{SourceRuntime, Worker, WorkerParts, WorkerSettings};
use racelab::plugins::hints::{ODDS_TIMING, effective_config};
use racelab::plugins::{Limits, Runtime};
use racelab::runner::Policy;
use racelab::store::{Store, StoreConfig};
use racelab_sim::{Calendar, Clock, OddsMode, SimConfig, Track};
use sqlx::PgPool;

use super::{Sim, component};

/// Every track.
pub const TRACKS: [Track; 5] = [Track::Seoul, Track::Busan, Track::Jeju, Track::Gwangmyeong, Track::Misari];

/// The first date from `from` on which every track races (the simulator's calendar, `seed`).
pub fn busiest_day(seed: u64, from: NaiveDate) -> (NaiveDate, Vec<Track>) {
    let calendar = Calendar::new(seed);
    from.iter_days()
        .take(28)
        .map(|d| (d, TRACKS.iter().copied().filter(|t| calendar.is_race_day(*t, d)).collect::<Vec<_>>()))
        .max_by_key(|(d, t)| (t.len(), std::cmp::Reverse(*d)))
        .expect("a race day within four weeks")
}

/// The day's post times, first and last.
pub fn post_window(seed: u64, date: NaiveDate, tracks: &[Track]) -> (DateTime<FixedOffset>, DateTime<FixedOffset>) {
    let calendar = Calendar::new(seed);
    let posts: Vec<_> = tracks
        .iter()
        .filter_map(|t| calendar.day(*t, date))
        .flat_map(|d| d.races.iter().map(|r| r.post_time).collect::<Vec<_>>())
        .collect();
    (*posts.iter().min().expect("races"), *posts.iter().max().expect("races"))
}

/// `date` at `hh:mm` KST.
pub fn kst(date: NaiveDate, hh: u32, mm: u32) -> DateTime<FixedOffset> {
    date.and_hms_opt(hh, mm, 0).expect("time").and_local_timezone(racelab_sim::clock::kst()).single().expect("kst")
}

/// The host and the simulator on one clock.
pub struct Day {
    pub pool: PgPool,
    pub clock: Clock,
    pub sim: Sim,
    pub planner: Planner,
    pub worker: Worker,
}

/// How the day is set up.
pub struct DayOptions {
    pub sim: SimConfig,
    pub store: StoreConfig,
    pub cadence: Cadence,
    pub backoff: Backoff,
    /// Per-dataset daily quota override for the host's budget (`None`: the manifests' hints).
    pub daily_quota: Option<u32>,
    /// Per request to the simulator.
    pub fetch_timeout: Duration,
    pub alerter: Option<racelab::alerts::Alerter>,
    /// The KRA plugin's `odds-timing`: by default `before-race` against the simulator's live
    /// mode and the plugin's own (`after-race`) against final-only.
    pub odds_timing: Option<&'static str>,
    /// Backfill jobs the worker runs at once, at most (`None`: the default).
    pub backfill_slots: Option<usize>,
}

impl Default for DayOptions {
    fn default() -> Self {
        DayOptions {
            sim: SimConfig::default(),
            store: StoreConfig::default(),
            cadence: Cadence::default(),
            backoff: Backoff { base: Duration::from_millis(5), cap: Duration::from_millis(40), max_attempts: 6 },
            daily_quota: None,
            fetch_timeout: Duration::from_secs(2),
            alerter: None,
            odds_timing: None,
            backfill_slots: None,
        }
    }
}

impl Day {
    /// Migrates `pool`, starts the simulator on a fixed clock at `start` and builds the host.
    pub async fn new(pool: PgPool, start: DateTime<FixedOffset>, mut options: DayOptions) -> Day {
        if options.odds_timing.is_none() && options.sim.odds == OddsMode::Live {
            options.odds_timing = Some("before-race");
        }
        racelab::store::migrate(&pool).await.expect("migrate");
        let clock = Clock::fixed(start);
        let sim = Sim::start(SimConfig { clock: clock.clone(), ..options.sim });
        let store = Store::new(pool.clone(), options.store);
        store.ensure_partitions(start.date_naive(), 2).await.expect("partitions");
        let runtime = Runtime::new(Limits::default()).expect("runtime");
        let mut budget = Budget::new(pool.clone(), clock.clone());
        let mut sources = HashMap::new();
        let mut plans = Vec::new();
        for (name, package) in [("kra", "racelab-plugin-kra"), ("kspo", "racelab-plugin-kspo")] {
            let plugin = runtime.load_file(&component(package)).expect("plugin loads");
            for hint in &plugin.manifest().datasets {
                let limit = DatasetLimit { daily_quota: options.daily_quota.or(hint.daily_quota), per_second: None };
                budget = budget.with_limit(name, &hint.dataset, limit);
            }
            let tracks = served_tracks(name, &plugin, &racelab::tracks::of_source(name)).expect("tracks");
            let set: Vec<(String, String)> = match (name, options.odds_timing) {
                ("kra", Some(timing)) => vec![(ODDS_TIMING.to_string(), timing.to_string())],
                _ => Vec::new(),
            };
            let config = effective_config(plugin.manifest(), &set).expect("plugin config");
            plans.push(source_plan(name, &plugin, &tracks, &config).expect("source plan"));
            let param = plugin.manifest().credential_param.clone().expect("credential param");
            let endpoint = Endpoint::new(&sim.base_url, Some((param, Secret::new("test-key")))).expect("base URL");
            sources.insert(name.to_string(), SourceRuntime { plugin, endpoint, tracks, config });
        }
        let settings = WorkerSettings {
            concurrency: 4,
            poll: Duration::from_millis(10),
            backoff: options.backoff,
            policy: Policy { retries: 1, backoff: Duration::from_millis(5), ..Policy::default() },
            backfill_slots: options.backfill_slots.unwrap_or(WorkerSettings::default().backfill_slots),
            ..WorkerSettings::default()
        };
        let planner_alerts = options.alerter.clone();
        let worker = Worker::new(WorkerParts {
            name: "test-worker".into(),
            store,
            clock: clock.clone().into(),
            budget,
            alerter: options.alerter,
            sources,
            fetcher: Fetcher::new(options.fetch_timeout).expect("fetcher"),
            settings,
        });
        worker.register().await.expect("register");
        let planner = Planner::new(pool.clone(), clock.clone(), options.cadence, plans, Duration::ZERO)
            .with_alerter(planner_alerts);
        Day { pool, clock, sim, planner, worker }
    }

    /// One step: plan what is due now, run it all.
    pub async fn step(&self) {
        self.planner.tick().await.expect("planner tick");
        self.worker.run_until_idle(Duration::from_secs(60)).await.expect("worker drains");
    }

    /// The morning of a race day whose first post is `first_post`, from a clock at 05:59 KST:
    /// the start-up sync (the latest 06:00 slot, yesterday's), today's 06:00 sync with the
    /// race-day entries, then the clock to just before the first odds poll.
    pub async fn morning(&self, first_post: DateTime<FixedOffset>) {
        self.step().await;
        self.clock.advance(TimeDelta::minutes(1));
        self.step().await;
        self.clock.set(first_post - TimeDelta::minutes(61));
    }

    /// Steps every `every` from the clock's time until `end`.
    pub async fn run_until(&self, end: DateTime<FixedOffset>, every: TimeDelta) {
        while self.clock.now() < end {
            self.step().await;
            self.clock.advance(every);
        }
        self.step().await;
    }

    /// `SELECT count(*)` of `sql`, bound to the day.
    pub async fn count(&self, sql: &str, date: NaiveDate) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).bind(date).fetch_one(&self.pool).await.expect(sql)
    }
}

/// A Slack incoming webhook that keeps every message's text.
pub struct FakeSlack {
    pub url: String,
    texts: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
    server: tokio::task::JoinHandle<()>,
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let texts = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = texts.clone();
        let app = axum::Router::new().fallback(move |body: axum::Json<serde_json::Value>| {
            let seen = seen.clone();
            async move {
                seen.lock().expect("not poisoned").push(body["text"].as_str().unwrap_or_default().to_string());
                "ok"
            }
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/services/T0/B0/fake", listener.local_addr().expect("addr"));
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("fake Slack serves");
        });
        FakeSlack { url, texts, server }
    }

    pub fn texts(&self) -> Vec<String> {
        self.texts.lock().expect("not poisoned").clone()
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.server.abort();
    }
}
