//! End-to-end jobs per second: odds jobs through the real worker — queue claim, the real KRA
//! component, HTTP to the in-process simulator, the budget, the raw archive, the store and the
//! job's transaction — with every limit lifted. Target: ≥ 500 jobs/s.
//!
//! ```sh
//! cargo build --release --target wasm32-wasip2 -p racelab-plugin-kra -p racelab-plugin-kspo
//! cargo bench -p racelab --bench jobs            # 5,000 jobs per concurrency level
//! cargo bench -p racelab --bench jobs -- 2000    # fewer
//! ```
//!
//! Set-up, as `host/tests/host/common/day.rs` builds a race day: a fresh database
//! (`racelab_bench_jobs`), the simulator on a fixed clock at 06:00 KST of a KRA race day with
//! no quota and no per-second limit, both components, a budget with no limits, one planner
//! tick (the 06:00 schedule sync) run to the end. Then, for each concurrency level, N odds
//! jobs (WIN and PLC, as a pre-race poll) for that day's KRA races, with distinct slots all
//! before the clock's time so every one is due, and `Worker::run_until_idle` timed.
//!
//! The clock does not move, so every poll of a race sees the same quotes: after a race's first
//! poll the unchanged-skip stores nothing, as with a quiet market. A pre-race poll is 2 pools
//! × ~12 starters, so the odds write is small either way.
//!
//! After the end-to-end figures come the pieces, to show where a job's time goes: CPU seconds
//! of this process (host and simulator) and of the PostgreSQL server during each run,
//! transactions committed per job, and the plugin + HTTP path alone (`runner::run`, no budget,
//! archive or database) at the same concurrency.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta, Utc};
use common::{SIM_THREAD, Sim, database_url, recreate, with_database};
use racelab::budget::{Budget, Lane};
use racelab::config::Cadence;
use racelab::daemon::source_plan;
use racelab::fetch::{Endpoint, Fetcher, Secret};
use racelab::jobs::planner::Planner;
use racelab::jobs::retry::Backoff;
use racelab::jobs::worker::{SourceRuntime, Worker, WorkerParts, WorkerSettings};
use racelab::jobs::{JobSpec, Op};
use racelab::plugins::wit::{Date, OddsQuery, Operation, Pool, RaceKey, RaceRef};
use racelab::plugins::{Limits, Plugin, Runtime};
use racelab::runner::Policy;
use racelab::store::{self, Store, StoreConfig};
use racelab_sim::{Calendar, Clock, SimConfig, Track};
use sqlx::{Connection, PgConnection, PgPool};

const DATABASE: &str = "racelab_bench_jobs";
const DEFAULT_JOBS: usize = 5_000;
const WARMUP_JOBS: usize = 200;
const CONCURRENCY: [usize; 2] = [8, 16];
const TARGET: f64 = 500.0;
const KRA_TRACKS: [Track; 3] = [Track::Seoul, Track::Busan, Track::Jeju];

fn main() -> anyhow::Result<()> {
    let jobs = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.replace('_', "").parse::<usize>())
        .transpose()
        .context("the argument is the number of jobs per run")?
        .unwrap_or(DEFAULT_JOBS);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run(jobs))
}

async fn run(jobs: usize) -> anyhow::Result<()> {
    let url = database_url();
    let mut admin = PgConnection::connect(&url).await.context("connecting to DATABASE_URL")?;
    let version: String = sqlx::query_scalar("SELECT version()").fetch_one(&mut admin).await?;
    println!("server: {version}");
    recreate(&mut admin, DATABASE).await?;
    let result = bench(&with_database(&url, DATABASE), jobs).await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")))
        .execute(&mut admin)
        .await?;
    result
}

/// Everything one run needs.
struct Setup {
    url: String,
    /// For set-up and reading results; each measured run has a pool of its own.
    pool: PgPool,
    clock: Clock,
    sim: Sim,
    plugins: Vec<(String, Plugin)>,
    date: NaiveDate,
}

async fn bench(url: &str, jobs: usize) -> anyhow::Result<()> {
    let setup = set_up(url).await?;
    let races: Vec<(String, i16, DateTime<Utc>)> = sqlx::query_as(
        "SELECT track, race_number, post_time FROM races
         WHERE race_date = $1 AND track = ANY($2) AND post_time IS NOT NULL ORDER BY track, race_number",
    )
    .bind(setup.date)
    .bind(KRA_TRACKS.map(|t| t.code().to_string()).to_vec())
    .fetch_all(&setup.pool)
    .await?;
    if races.is_empty() {
        bail!("the schedule sync stored no KRA races for {}", setup.date);
    }
    println!("race day {}: {} KRA races; clock fixed at {}", setup.date, races.len(), setup.clock.now());

    let mut next_slot = 1;
    let warm = worker(&setup, &setup.pool, 8, "bench-warmup").await?;
    let specs = odds_specs(&setup, &races, WARMUP_JOBS, &mut next_slot);
    racelab::jobs::enqueue(&setup.pool, &racelab::clock::Clock::from(setup.clock.clone()), &specs).await?;
    warm.run_until_idle(Duration::from_secs(600)).await?;
    println!("warm-up: {WARMUP_JOBS} jobs");

    let mut rates = Vec::new();
    for concurrency in CONCURRENCY {
        let specs = odds_specs(&setup, &races, jobs, &mut next_slot);
        let queued = enqueue_alone(&setup, &specs).await?;
        if queued as usize != jobs {
            bail!("queued {queued} of {jobs} jobs");
        }
        // The worker's own pool, closed after the run: a backend reports its counters when
        // it exits, so the run's counters are all in when they are read.
        let pool = store::connect(&setup.url).await?;
        let w = worker(&setup, &pool, concurrency, &format!("bench-c{concurrency}")).await?;
        let before = Sample::before(&setup.url).await?;
        let started = Instant::now();
        w.run_until_idle(Duration::from_secs(600)).await?;
        let wall = started.elapsed();
        let after = Sample::after(&setup.url, Some(pool)).await?;
        let s = w.stats();
        let (done, failed, retried) = (s.done.load(Relaxed), s.failed.load(Relaxed), s.retried.load(Relaxed));
        let requests = s.requests.load(Relaxed);
        let rate = done as f64 / wall.as_secs_f64();
        rates.push((concurrency, rate));
        println!(
            "concurrency {concurrency:>2}: {done} jobs done ({failed} failed, {retried} retried) in {:.2} s: \
             {rate:.0} jobs/s, {:.0} requests/s ({requests} requests)",
            wall.as_secs_f64(),
            requests as f64 / wall.as_secs_f64(),
        );
        after.since(&before, wall, done.max(1));
    }
    let odds: i64 = sqlx::query_scalar("SELECT count(*) FROM odds_snapshots").fetch_one(&setup.pool).await?;
    let raw: i64 = sqlx::query_scalar("SELECT count(*) FROM raw_responses").fetch_one(&setup.pool).await?;
    println!("odds rows stored in all: {odds}; raw responses archived: {raw}");
    for (c, rate) in &rates {
        let verdict = if *rate >= TARGET { "met" } else { "MISSED" };
        println!("concurrency {c}: {rate:.0} jobs/s, target >= {TARGET:.0}: {verdict}");
    }

    plugin_and_http_only(&setup, &races, jobs.min(2_000)).await?;
    drop(setup.sim);
    setup.pool.close().await;
    Ok(())
}

async fn set_up(url: &str) -> anyhow::Result<Setup> {
    let pool = store::connect(url).await?;
    store::migrate(&pool).await?;
    let sim_config = SimConfig::default();
    let date = kra_day(&Calendar::new(sim_config.seed), NaiveDate::from_ymd_opt(2026, 12, 1).context("date")?)?;
    let clock = Clock::fixed(kst(date, 6, 0)?);
    let limits = racelab_sim::Limits { daily: 0, per_second: 0, ..Default::default() };
    let sim = Sim::start(SimConfig { limits, clock: clock.clone(), ..sim_config })?;
    Store::new(pool.clone(), StoreConfig::default()).ensure_partitions(date, 2).await?;
    let runtime = Runtime::new(Limits::default())?;
    let mut plugins = Vec::new();
    for (name, file) in [("kra", "racelab_plugin_kra.wasm"), ("kspo", "racelab_plugin_kspo.wasm")] {
        plugins.push((name.to_string(), runtime.load_file(&component(file)?)?));
    }
    let setup = Setup { url: url.to_string(), pool, clock, sim, plugins, date };

    // The 06:00 schedule sync, as the daemon's first tick does it.
    let plans = setup
        .plugins
        .iter()
        .map(|(name, p)| source_plan(name, p, &racelab::tracks::of_source(name), &[]))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let planner = Planner::new(setup.pool.clone(), setup.clock.clone(), Cadence::default(), plans, Duration::ZERO);
    let planned = planner.tick().await?;
    let w = worker(&setup, &setup.pool, 8, "bench-schedule").await?;
    w.run_until_idle(Duration::from_secs(120)).await?;
    println!("schedule sync: {planned} jobs, {} done", w.stats().done.load(Relaxed));
    Ok(setup)
}

/// A worker as `host/tests/host/common/day.rs` builds one, with a budget without limits.
async fn worker(setup: &Setup, pool: &PgPool, concurrency: usize, name: &str) -> anyhow::Result<Worker> {
    let mut sources = HashMap::new();
    for (source, plugin) in &setup.plugins {
        let param = plugin.manifest().credential_param.clone().context("credential param")?;
        let endpoint = Endpoint::new(&setup.sim.base_url, Some((param, Secret::new("bench-key")))).expect("base URL");
        sources.insert(
            source.clone(),
            SourceRuntime {
                plugin: plugin.clone(),
                endpoint,
                tracks: racelab::tracks::of_source(source),
                config: Vec::new(),
            },
        );
    }
    let settings = WorkerSettings {
        concurrency,
        poll: Duration::from_millis(10),
        backoff: Backoff { base: Duration::from_millis(5), cap: Duration::from_millis(40), max_attempts: 6 },
        policy: Policy { retries: 1, backoff: Duration::from_millis(5), ..Policy::default() },
        ..WorkerSettings::default()
    };
    let worker = Worker::new(WorkerParts {
        name: name.into(),
        store: Store::new(pool.clone(), StoreConfig::default()),
        clock: setup.clock.clone().into(),
        budget: Budget::new(pool.clone(), setup.clock.clone()),
        alerter: None,
        sources,
        fetcher: Fetcher::new(Duration::from_secs(10))?,
        settings,
    });
    worker.register().await?;
    Ok(worker)
}

/// Queues `specs` on a connection of its own, closed after (see [`Sample::database`]).
async fn enqueue_alone(setup: &Setup, specs: &[JobSpec]) -> anyhow::Result<u64> {
    let mut conn = PgConnection::connect(&setup.url).await?;
    let mut tx = conn.begin().await?;
    let queued = racelab::jobs::enqueue_in(&mut tx, &racelab::clock::Clock::from(setup.clock.clone()), specs).await?;
    tx.commit().await?;
    conn.close().await?;
    Ok(queued)
}

/// `n` pre-race odds jobs over `races`, round robin, each with its own slot: one second earlier
/// than the one before, counting on from `next_slot`, so every one is due on the fixed clock.
fn odds_specs(setup: &Setup, races: &[(String, i16, DateTime<Utc>)], n: usize, next_slot: &mut i64) -> Vec<JobSpec> {
    let now = setup.clock.now().to_utc();
    (0..n)
        .map(|i| {
            let (track, number, post) = &races[i % races.len()];
            let slot = now - TimeDelta::seconds(*next_slot);
            *next_slot += 1;
            JobSpec {
                source: "kra".into(),
                op: Op::Odds,
                track: track.clone(),
                race_date: setup.date,
                race_number: u8::try_from(*number).unwrap_or(1),
                slot,
                lane: Lane::Live,
                post_time: Some(*post),
                pools: vec!["WIN".into(), "PLC".into()],
            }
        })
        .collect()
}

/// The same odds operations through `runner::run` alone: plan, HTTP to the simulator, parse —
/// no queue, budget, archive or store.
async fn plugin_and_http_only(setup: &Setup, races: &[(String, i16, DateTime<Utc>)], n: usize) -> anyhow::Result<()> {
    let (_, kra) = setup.plugins.iter().find(|(s, _)| s == "kra").context("kra plugin")?;
    let param = kra.manifest().credential_param.clone().context("credential param")?;
    let endpoint =
        Arc::new(Endpoint::new(&setup.sim.base_url, Some((param, Secret::new("bench-key")))).expect("base URL"));
    let fetcher = Arc::new(Fetcher::new(Duration::from_secs(10))?);
    let date = Date {
        year: u16::try_from(chrono::Datelike::year(&setup.date)).unwrap_or(0),
        month: chrono::Datelike::month(&setup.date) as u8,
        day: chrono::Datelike::day(&setup.date) as u8,
    };
    let ops: Vec<Operation> = (0..n)
        .map(|i| {
            let (track, number, _) = &races[i % races.len()];
            Operation::Odds(OddsQuery {
                race: RaceRef {
                    key: RaceKey { track: track.clone(), date, number: u8::try_from(*number).unwrap_or(1) },
                    meeting: None,
                },
                pools: vec![Pool::Win, Pool::Plc],
            })
        })
        .collect();
    let ops = Arc::new(ops);
    for concurrency in CONCURRENCY {
        let before = Sample::before(&setup.url).await?;
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let requests = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let started = Instant::now();
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            let (kra, endpoint, fetcher, ops) = (kra.clone(), endpoint.clone(), fetcher.clone(), ops.clone());
            let (next, requests) = (next.clone(), requests.clone());
            tasks.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Relaxed);
                    let Some(op) = ops.get(i) else { return Ok::<_, anyhow::Error>(()) };
                    let out = racelab::runner::run(&kra, &endpoint, &fetcher, op, &[], &Policy::default()).await?;
                    requests.fetch_add(out.requests, Relaxed);
                }
            });
        }
        while let Some(r) = tasks.join_next().await {
            r??;
        }
        let wall = started.elapsed();
        let after = Sample::after(&setup.url, None).await?;
        let reqs = requests.load(Relaxed);
        println!(
            "plugin + HTTP only (runner::run), concurrency {concurrency:>2}: {n} operations in {:.2} s: {:.0} ops/s, \
             {:.0} requests/s; CPU per op: host {:.2} ms, simulator {:.2} ms",
            wall.as_secs_f64(),
            n as f64 / wall.as_secs_f64(),
            reqs as f64 / wall.as_secs_f64(),
            1e3 * ((after.own_cpu - before.own_cpu) - (after.sim_cpu - before.sim_cpu)) / n as f64,
            1e3 * (after.sim_cpu - before.sim_cpu) / n as f64,
        );
    }
    Ok(())
}

/// CPU and database counters at one moment.
struct Sample {
    /// CPU seconds of this process (the host and the in-process simulator).
    own_cpu: f64,
    /// CPU seconds of the simulator's threads.
    sim_cpu: f64,
    /// CPU seconds of every PostgreSQL server process.
    pg_cpu: f64,
    /// Busy and total jiffies of the whole machine.
    machine: (u64, u64),
    /// `pg_stat_database.xact_commit` of the benchmark's database.
    commits: i64,
    /// Rows inserted and updated per table (`pg_stat_user_tables`).
    tables: HashMap<String, (i64, i64)>,
}

impl Sample {
    /// Before a run: the database's counters, then the CPU figures, so that the CPU interval
    /// is the run's alone.
    async fn before(url: &str) -> anyhow::Result<Sample> {
        let (commits, tables) = Self::database(url).await?;
        Ok(Sample {
            own_cpu: process_cpu("self"),
            sim_cpu: sim_cpu(),
            pg_cpu: postgres_cpu(),
            machine: machine_jiffies(),
            commits,
            tables,
        })
    }

    /// After a run: the CPU figures at once, then the database's counters once the run's
    /// `pool` is closed.
    async fn after(url: &str, pool: Option<PgPool>) -> anyhow::Result<Sample> {
        let (own_cpu, sim_cpu, pg_cpu, machine) = (process_cpu("self"), sim_cpu(), postgres_cpu(), machine_jiffies());
        if let Some(pool) = pool {
            pool.close().await;
        }
        let (commits, tables) = Self::database(url).await?;
        Ok(Sample { own_cpu, sim_cpu, pg_cpu, machine, commits, tables })
    }

    /// `xact_commit` and the tables' row counters, on a connection of its own (closed after,
    /// so that its own few transactions are reported at once).
    async fn database(url: &str) -> anyhow::Result<(i64, HashMap<String, (i64, i64)>)> {
        // Time for the backends of a closed pool to exit and report.
        tokio::time::sleep(Duration::from_millis(1_100)).await;
        let mut conn = PgConnection::connect(url).await?;
        let commits: i64 =
            sqlx::query_scalar("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()")
                .fetch_one(&mut conn)
                .await?;
        let rows: Vec<(String, i64, i64)> =
            sqlx::query_as("SELECT schemaname || '.' || relname, n_tup_ins, n_tup_upd FROM pg_stat_user_tables")
                .fetch_all(&mut conn)
                .await?;
        conn.close().await?;
        Ok((commits, rows.into_iter().map(|(t, i, u)| (t, (i, u))).collect()))
    }

    fn since(&self, before: &Sample, wall: Duration, jobs: u64) {
        let j = jobs as f64;
        let (busy, total) = (self.machine.0 - before.machine.0, self.machine.1 - before.machine.1);
        let own = self.own_cpu - before.own_cpu;
        let sim = self.sim_cpu - before.sim_cpu;
        let pg = self.pg_cpu - before.pg_cpu;
        // Jiffies are 1/100 s summed over every core.
        let other = (busy as f64 / 100.0 - own - pg).max(0.0);
        println!(
            "    CPU: host {:.2} s ({:.2} ms/job), simulator {sim:.2} s ({:.2} ms/job), PostgreSQL {pg:.2} s \
             ({:.2} ms/job), other processes {other:.2} s; machine busy {:.0}% of 2 cores over {:.1} s",
            own - sim,
            1e3 * (own - sim) / j,
            1e3 * sim / j,
            1e3 * pg / j,
            100.0 * busy as f64 / total.max(1) as f64,
            wall.as_secs_f64(),
        );
        println!("    transactions committed: {:.1} per job", (self.commits - before.commits) as f64 / j);
        let mut writes: Vec<(String, f64, f64)> = self
            .tables
            .iter()
            .filter_map(|(t, (i, u))| {
                let (bi, bu) = before.tables.get(t).copied().unwrap_or_default();
                let (di, du) = ((i - bi) as f64 / j, (u - bu) as f64 / j);
                (di + du > 0.0).then(|| (t.clone(), di, du))
            })
            .collect();
        writes.sort_by(|a, b| a.0.cmp(&b.0));
        let shown: Vec<String> = writes.iter().map(|(t, i, u)| format!("{t} +{i:.2}/~{u:.2}")).collect();
        println!("    rows per job (+inserted/~updated): {}", shown.join(", "));
    }
}

/// CPU seconds of this process's simulator threads (those alive now).
fn sim_cpu() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return 0.0 };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|tid| {
            std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).is_ok_and(|c| c.trim() == SIM_THREAD)
        })
        .map(|tid| process_cpu(&format!("self/task/{tid}")))
        .sum()
}

/// utime + stime of `/proc/<pid>/stat`, in seconds.
fn process_cpu(pid: &str) -> f64 {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else { return 0.0 };
    // The command name is in parentheses and may hold spaces; fields count from after it.
    let Some((_, rest)) = stat.rsplit_once(") ") else { return 0.0 };
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) / 100.0
}

/// CPU seconds of every process named `postgres` (the server and its backends).
fn postgres_cpu() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0.0 };
    dir.filter_map(Result::ok)
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|pid| pid.bytes().all(|b| b.is_ascii_digit()))
        .filter(|pid| std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|c| c.trim() == "postgres"))
        .map(|pid| process_cpu(&pid))
        .sum()
}

/// (busy, total) jiffies of all CPUs, from `/proc/stat`.
fn machine_jiffies() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next() else { return (0, 0) };
    let v: Vec<u64> = line.split_whitespace().skip(1).filter_map(|f| f.parse().ok()).collect();
    let total: u64 = v.iter().sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    (total - idle, total)
}

/// The date within two weeks from `from` with the most KRA races.
fn kra_day(calendar: &Calendar, from: NaiveDate) -> anyhow::Result<NaiveDate> {
    let races =
        |d: NaiveDate| KRA_TRACKS.iter().filter_map(|t| calendar.day(*t, d)).map(|day| day.races.len()).sum::<usize>();
    from.iter_days()
        .take(14)
        .max_by_key(|d| (races(*d), std::cmp::Reverse(*d)))
        .filter(|d| races(*d) > 0)
        .context("no KRA race day within two weeks")
}

fn kst(date: NaiveDate, hh: u32, mm: u32) -> anyhow::Result<DateTime<FixedOffset>> {
    date.and_hms_opt(hh, mm, 0)
        .and_then(|t| t.and_local_timezone(racelab_sim::clock::kst()).single())
        .context("a KST time")
}

/// The release build of a component, which the bench does not build itself.
fn component(file: &str) -> anyhow::Result<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/wasm32-wasip2/release").join(file);
    if !path.exists() {
        bail!(
            "{} is missing: cargo build --release --target wasm32-wasip2 -p racelab-plugin-kra -p racelab-plugin-kspo",
            path.display()
        );
    }
    Ok(path)
}
