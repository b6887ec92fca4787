//! `racelab demo`: a whole race day in about two minutes, on a fresh machine with only
//! PostgreSQL. It creates its own database, serves the simulator in-process with a race day
//! that begins a few (simulated) minutes from now, and runs the real daemon — planner, queue,
//! worker, components, store — on a clock fast enough that the day's schedule, entries, odds
//! (polled before the race with `--odds live`, only the final odds with `--odds final-only`),
//! results and dividends all land within the time asked for. Then it prints what is in the
//! database, which odds mode ran, and a query to try.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeDelta};
use clap::Args;
use racelab_sim::{Calendar, Clock, Discipline, SimConfig, Track};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Connection, PgPool};

use crate::cli::sim::OddsArg;
use crate::clock::kst;
use crate::config::{AlertSettings, Cadence, Config, HttpSettings, JobSettings, SourceConfig, StoreSettings};
use crate::daemon::{Daemon, Options};
use crate::jobs::ledger;
use crate::secret::Secret;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// The PostgreSQL server; the demo creates its own database there.
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = "postgres://postgres@127.0.0.1:5432/postgres"
    )]
    database_url: String,
    /// The demo's database (dropped and created afresh).
    #[arg(long, env = "RACELAB_DEMO_DATABASE", default_value = "racelab_demo")]
    database: String,
    /// Real seconds the race day should take.
    #[arg(long, default_value_t = 100)]
    seconds: u64,
    /// Clock speed (simulated seconds per real second); overrides --seconds.
    #[arg(long, env = "RACELAB_DEMO_SPEED")]
    speed: Option<f64>,
    /// Where the plugin components are (`racelab_plugin_kra.wasm`, `racelab_plugin_kspo.wasm`);
    /// by default the build's `target/wasm32-wasip2/release`, built first if missing.
    #[arg(long)]
    plugins: Option<PathBuf>,
    /// Seed of the simulator's calendar.
    #[arg(long, default_value_t = 7)]
    seed: u64,
    /// When the simulator shows odds: `live` from the card on, drifting to post (the host polls
    /// them before the race), or `final-only` once the race is official, as the real KRA API
    /// does (the host asks only for the final odds).
    #[arg(long, value_enum, default_value = "live")]
    odds: OddsArg,
    /// The simulated race day (YYYY-MM-DD); by default the one with the most tracks racing in
    /// the next two weeks.
    #[arg(long)]
    date: Option<NaiveDate>,
    /// Serve the dashboard, the admin API and /metrics on this address while the day runs
    /// (e.g. 127.0.0.1:8080); changes need RACELAB_ADMIN_TOKEN, as on `serve`.
    #[arg(long, value_name = "ADDR")]
    listen: Option<std::net::SocketAddr>,
}

/// The simulated day the demo runs.
struct DemoDay {
    date: NaiveDate,
    tracks: Vec<Track>,
    start: DateTime<FixedOffset>,
    end: DateTime<FixedOffset>,
    races: usize,
    /// Races of a source with odds (KRA's).
    odds_races: usize,
}

pub async fn run(args: DemoArgs) -> anyhow::Result<ExitCode> {
    let plugins = components(args.plugins.as_deref())?;
    let day = pick_day(args.seed, args.date)?;
    let span = (day.end - day.start).num_seconds().max(1) as f64;
    let speed = args.speed.unwrap_or(span / args.seconds.max(1) as f64);
    println!(
        "RaceLab demo: {} races at {} on {} (simulated), {} to {} KST, clock ×{speed:.0}, odds {}",
        day.races,
        day.tracks.iter().map(|t| t.code()).collect::<Vec<_>>().join(", "),
        day.date,
        day.start.format("%H:%M"),
        day.end.format("%H:%M"),
        args.odds.name(),
    );
    let url = fresh_database(&args.database_url, &args.database).await?;
    println!("database: {} (created afresh)", shown(&url));

    let clock = Clock::accelerated(day.start, speed);
    let sim_config =
        SimConfig { seed: args.seed, clock: clock.clone(), odds: args.odds.mode(), ..SimConfig::default() };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the simulator's port")?;
    let sim_url = format!("http://{}", listener.local_addr()?);
    let (stop_sim, sim_stopped) = tokio::sync::oneshot::channel::<()>();
    let sim = tokio::spawn(racelab_sim::serve(listener, sim_config, async {
        let _ = sim_stopped.await;
    }));

    let config = demo_config(&url, &sim_url, &plugins, args.odds);
    let options = Options {
        clock: clock.clone().into(),
        worker_name: format!("racelab-demo-{}", std::process::id()),
        tick: "* * * * * *".to_string(),
        lookahead: Duration::from_secs(3),
        poll: Duration::from_millis(50),
        live: true,
    };
    let daemon = Daemon::start(&config, options).await?;
    let http = match args.listen {
        Some(addr) => {
            let listener =
                tokio::net::TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr}"))?;
            let token = std::env::var("RACELAB_ADMIN_TOKEN").ok().filter(|t| !t.is_empty()).map(Secret::new);
            println!("dashboard and API: http://{}/", listener.local_addr()?);
            let app = crate::api::router(crate::api::ApiState::of(&daemon, token));
            Some(tokio::spawn(axum::serve(listener, app).into_future()))
        }
        None => None,
    };
    let pool = daemon.pool.clone();
    let worker = daemon.worker.clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(daemon.run(async {
        let _ = stopped.await;
    }));

    let started = Instant::now();
    let limit = Duration::from_secs(args.seconds.max(1) * 3 + 60);
    let mut out = std::io::stdout();
    let mut ticks = 0u64;
    let finished = loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = clock.now();
        let p = Progress::read(&pool, day.date, now).await.unwrap_or_default();
        let frac = ((now - day.start).num_seconds() as f64 / span).clamp(0.0, 1.0);
        let bar: String = (0..30).map(|i| if (i as f64) < frac * 30.0 { '█' } else { '░' }).collect();
        let s = worker.stats();
        // On a terminal one line redrawn in place; in a log a line every five seconds.
        let tty = out.is_terminal();
        ticks += 1;
        if tty || ticks % 20 == 1 {
            let _ = write!(
                out,
                "{}{} KST ▕{bar}▏ jobs {} done · {} queued · {} retried · {} failed │ odds {} │ results {}/{} races {}",
                if tty { "\r" } else { "" },
                now.with_timezone(&kst()).format("%H:%M"),
                p.done,
                p.queued,
                s.retried.load(std::sync::atomic::Ordering::Relaxed),
                p.failed,
                p.odds,
                p.complete,
                day.races,
                if tty { "" } else { "\n" },
            );
            let _ = out.flush();
        }
        if now >= day.end && p.queued_due == 0 && p.complete >= day.races && p.final_odds >= day.odds_races {
            break true;
        }
        if started.elapsed() > limit {
            break false;
        }
    };
    println!();
    let _ = stop.send(());
    running.await.context("the daemon task")??;
    let _ = stop_sim.send(());
    let _ = sim.await;
    if let Some(http) = http {
        http.abort();
    }
    let took = started.elapsed();
    if finished {
        println!("the race day completed in {:.0} s of real time", took.as_secs_f64());
    } else {
        println!("stopped after {:.0} s before the day completed; what landed is below", took.as_secs_f64());
    }
    summary(&pool, &url, day.date, args.odds).await?;
    Ok(if finished { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// The day asked for, or the one with the most tracks racing in the coming two weeks, and the
/// window to run: from just over an hour before the first post (the first odds poll) to when
/// the last race is official with its dividends polled.
fn pick_day(seed: u64, date: Option<NaiveDate>) -> anyhow::Result<DemoDay> {
    let calendar = Calendar::new(seed);
    let today = chrono::Utc::now().with_timezone(&kst()).date_naive();
    let all = [Track::Seoul, Track::Busan, Track::Jeju, Track::Gwangmyeong, Track::Misari];
    let best = date
        .unwrap_or(today)
        .iter_days()
        .take(if date.is_some() { 1 } else { 14 })
        .map(|d| (d, all.iter().copied().filter(|t| calendar.is_race_day(*t, d)).collect::<Vec<_>>()))
        .max_by_key(|(d, tracks)| (tracks.len(), std::cmp::Reverse(*d)));
    let Some((date, tracks)) = best.filter(|(_, t)| !t.is_empty()) else {
        match date {
            Some(date) => bail!("no track races on {date} in the simulator's calendar (seed {seed})"),
            None => bail!("the simulator's calendar has no race day in the next two weeks (seed {seed})"),
        }
    };
    let posts: Vec<DateTime<FixedOffset>> = tracks
        .iter()
        .filter_map(|t| calendar.day(*t, date))
        .flat_map(|d| d.races.iter().map(|r| r.post_time).collect::<Vec<_>>())
        .collect();
    let (Some(first), Some(last)) = (posts.iter().min(), posts.iter().max()) else {
        bail!("no races on {date}");
    };
    let odds_races = tracks
        .iter()
        .filter(|t| t.discipline() == Discipline::Horse)
        .filter_map(|t| calendar.day(*t, date))
        .map(|d| d.races.len())
        .sum();
    Ok(DemoDay {
        date,
        tracks,
        start: *first - TimeDelta::minutes(62),
        end: *last + TimeDelta::minutes(16),
        races: posts.len(),
        odds_races,
    })
}

/// The plugin components, built first when this is a source checkout without them.
fn components(dir: Option<&Path>) -> anyhow::Result<(PathBuf, PathBuf)> {
    let names = ["racelab_plugin_kra.wasm", "racelab_plugin_kspo.wasm"];
    let mut candidates: Vec<PathBuf> = Vec::new();
    if let Some(d) = dir {
        candidates.push(d.to_path_buf());
    } else {
        if let Ok(t) = std::env::var("CARGO_TARGET_DIR") {
            candidates.push(Path::new(&t).join("wasm32-wasip2/release"));
        }
        candidates.push(PathBuf::from("target/wasm32-wasip2/release"));
        if let Some(target) = std::env::current_exe().ok().and_then(|e| e.parent()?.parent().map(Path::to_path_buf)) {
            candidates.push(target.join("wasm32-wasip2/release"));
        }
    }
    let found = |c: &PathBuf| names.iter().all(|n| c.join(n).is_file());
    if let Some(c) = candidates.iter().find(|c| found(c)) {
        return Ok((c.join(names[0]), c.join(names[1])));
    }
    if dir.is_some() || !Path::new("plugins/kra/Cargo.toml").is_file() {
        bail!(
            "the plugin components are not built; from the source checkout run:\n  \
             rustup target add wasm32-wasip2\n  \
             cargo build --release --target wasm32-wasip2 -p racelab-plugin-kra -p racelab-plugin-kspo\n\
             or pass --plugins DIR"
        );
    }
    println!("building the plugin components (once)…");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .args([
            "build",
            "--release",
            "--target",
            "wasm32-wasip2",
            "-p",
            "racelab-plugin-kra",
            "-p",
            "racelab-plugin-kspo",
        ])
        .status()
        .context("running cargo to build the plugin components")?;
    if !status.success() {
        bail!(
            "building the plugin components failed (is the wasm32-wasip2 target installed? `rustup target add wasm32-wasip2`)"
        );
    }
    let built =
        candidates.iter().find(|c| found(c)).context("cargo built the components but they are not where expected")?;
    Ok((built.join(names[0]), built.join(names[1])))
}

/// Drops and creates `name` on the server of `server_url`; returns the new database's URL.
async fn fresh_database(server_url: &str, name: &str) -> anyhow::Result<String> {
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        bail!("the demo database name {name:?} must be letters, digits and underscores");
    }
    let options = PgConnectOptions::from_str(server_url)
        .with_context(|| format!("reading the database URL {}", shown(server_url)))?;
    let mut conn = options
        .connect()
        .await
        .with_context(|| format!("connecting to {} (is PostgreSQL running? set DATABASE_URL)", shown(server_url)))?;
    for sql in [format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"), format!("CREATE DATABASE {name}")] {
        sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut conn)
            .await
            .with_context(|| format!("{sql} on {}", shown(server_url)))?;
    }
    conn.close().await.ok();
    Ok(crate::store::with_database(server_url, name))
}

/// A URL with its password masked.
fn shown(url: &str) -> String {
    crate::store::redact_database_url(url)
}

fn demo_config(url: &str, sim_url: &str, (kra, kspo): &(PathBuf, PathBuf), odds: OddsArg) -> Config {
    // The simulated day is compressed a few hundred times, so the demo runs with the limits of
    // a production key and the simulator's own per-second limit instead of a development key's
    // (KRA's odds dataset allows ~1,000 requests a day and the manifests ask for 5 a second).
    let source = |name: &str, plugin: &PathBuf| SourceConfig {
        tracks: crate::tracks::of_source(name),
        plugin: Some(plugin.clone()),
        base_url: Some(sim_url.to_string()),
        service_key: Some(Secret::new("demo-service-key")),
        daily_quota: BTreeMap::from([("*".to_string(), 100_000)]),
        per_second: Some(SimConfig::default().limits.per_second),
        config: BTreeMap::new(),
    };
    let mut sources = BTreeMap::new();
    let mut kra = source("kra", kra);
    // The KRA plugin says its odds come after the race, as the real API's do; the simulator's
    // live mode shows them before, so the host is told to poll them.
    if odds == OddsArg::Live {
        kra.config.insert(crate::plugins::hints::ODDS_TIMING.to_string(), "before-race".to_string());
    }
    sources.insert("kra".to_string(), kra);
    sources.insert("kspo".to_string(), source("kspo", kspo));
    Config {
        database_url: Secret::new(url),
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        sources,
        alerts: AlertSettings::default(),
        cadence: Cadence::default(),
        store: StoreSettings::default(),
        http: HttpSettings { timeout_s: 10 },
        // Retries come back within the compressed day.
        jobs: JobSettings { backoff_base_ms: 100, backoff_cap_s: 2, ..JobSettings::default() },
        cache_dir: crate::plugins::CompileCache::default_dir(),
        plugin_dir: None,
        admin_token: None,
        sim_clock: None,
    }
}

/// What the progress line shows.
#[derive(Debug, Default)]
struct Progress {
    done: i64,
    queued: i64,
    queued_due: i64,
    failed: i64,
    odds: i64,
    complete: usize,
    /// Races with odds captured after post.
    final_odds: usize,
}

impl Progress {
    async fn read(pool: &PgPool, date: NaiveDate, now: DateTime<FixedOffset>) -> anyhow::Result<Progress> {
        let jobs = ledger::job_counts(pool, now.to_utc()).await?;
        // Snapshots (selections), counted from the poll rows without unnesting them.
        let odds: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(cardinality(prices)), 0)::bigint FROM odds_polls WHERE race_date = $1",
        )
        .bind(date)
        .fetch_one(pool)
        .await?;
        let (complete, final_odds): (i64, i64) = sqlx::query_as(
            "SELECT count(*) FILTER (WHERE complete), count(*) FILTER (WHERE final_odds)
             FROM race_progress WHERE race_date = $1",
        )
        .bind(date)
        .fetch_one(pool)
        .await?;
        Ok(Progress {
            done: jobs.ran,
            queued: jobs.queued,
            queued_due: jobs.due,
            failed: jobs.failed,
            odds,
            complete: usize::try_from(complete).unwrap_or(0),
            final_odds: usize::try_from(final_odds).unwrap_or(0),
        })
    }
}

async fn summary(pool: &PgPool, url: &str, date: NaiveDate, odds: OddsArg) -> anyhow::Result<()> {
    let rows: Vec<(String, i64, i64, i64, i64, i64, i64)> = sqlx::query_as(
        "SELECT r.track, count(*),
                (SELECT count(*) FROM entries e WHERE e.track = r.track AND e.race_date = $1),
                (SELECT coalesce(sum(cardinality(o.prices)), 0)::bigint FROM odds_polls o
                 WHERE o.track = r.track AND o.race_date = $1),
                count(*) FILTER (WHERE r.final_odds),
                (SELECT count(*) FROM results x WHERE x.track = r.track AND x.race_date = $1),
                (SELECT count(*) FROM dividends d WHERE d.track = r.track AND d.race_date = $1)
         FROM race_progress r WHERE r.race_date = $1 GROUP BY r.track ORDER BY r.track",
    )
    .bind(date)
    .fetch_all(pool)
    .await?;
    println!(
        "\n{date}: {:<12} {:>6} {:>8} {:>8} {:>11} {:>8} {:>10}",
        "track", "races", "entries", "odds", "final odds", "results", "dividends"
    );
    for (track, races, entries, odds, final_odds, results, dividends) in rows {
        println!(
            "            {track:<12} {races:>6} {entries:>8} {odds:>8} {final_odds:>11} {results:>8} {dividends:>10}"
        );
    }
    println!("(odds: quotes stored; final odds: races with odds captured after post)");
    let ahead: i64 =
        sqlx::query_scalar("SELECT count(*) FROM races WHERE race_date > $1").bind(date).fetch_one(pool).await?;
    println!("(and {ahead} races of the coming days' cards, from the schedule sync)");
    let (jobs, failures) = (ledger::planned_jobs(pool).await?, ledger::open_failures(pool).await?);
    println!("{jobs} jobs run; {failures} open ingestion failures");
    let used: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT source, dataset, sum(used)::bigint FROM quota_usage GROUP BY source, dataset ORDER BY source, dataset",
    )
    .fetch_all(pool)
    .await?;
    let used: Vec<String> = used.iter().map(|(source, dataset, n)| format!("{source}/{dataset} {n}")).collect();
    println!("requests per dataset: {}", used.join(", "));
    match odds {
        OddsArg::Live => println!(
            "odds mode: live — odds shown before the race and polled on the pre-race cadence (what the real \
             KRA API does not do; try --odds final-only)"
        ),
        OddsArg::FinalOnly => println!(
            "odds mode: final-only — as the real KRA API: odds only once a race is official, so the host asked \
             for the final odds after each race and planned no pre-race polls"
        ),
    }
    println!("\nTry it:\n  psql '{}' -c \"{}\"", shown(url), TRY_SQL);
    Ok(())
}

/// The query the demo suggests: the WIN odds of Seoul's first race as they were stored, capture
/// by capture, at KST wall-clock times (the race day's own clock; the session's may be UTC).
const TRY_SQL: &str = "SELECT (captured_at AT TIME ZONE 'Asia/Seoul')::time(0) AS kst, selection, price \
                       FROM odds_snapshots WHERE track = 'seoul' AND pool = 'WIN' AND race_number = 1 \
                       ORDER BY captured_at, selection LIMIT 20";
