//! Odds write throughput: the same quotes through `Store::write` (job-sized transactions, the
//! unchanged-skip off so every quote is stored) and through `psql \copy` (PostgreSQL's bulk
//! loader, the practical ceiling) of the same poll rows into `odds_polls`, in one run against the
//! same server. Target: the store reaches at least 70% of `\copy`. Rates count quotes (one
//! selection's price at one capture, a row of the `odds_snapshots` view), as before poll rows;
//! a job here is 7 poll rows (one per pool) of 1,397 quotes.
//!
//! The store is measured twice: one job after another, and with [`WORKERS`] jobs in flight at
//! once, as `racelab serve` runs them by default (`jobs.workers`). The first is bound by
//! latency (four round trips and a WAL flush per job), the second is the store's throughput as
//! the host uses it; both are printed, and BENCHMARKS.md says which the target is judged on.
//!
//! ```sh
//! cargo bench -p racelab --bench store            # 500,000 rows
//! cargo bench -p racelab --bench store -- 100000  # fewer
//! ```
//!
//! Three more figures, for information: the store with the skip on and every quote changed
//! since the previous poll, its worst case (every quote stored and each pool's
//! `odds_latest_polls` row rewritten); the skip's common case, one quote in ten changed since the
//! previous poll (the rate counts the quotes offered, of which the changed ones are stored); and
//! the store with `synchronous_commit = off` in the job's transaction, which shows how much of
//! the gap to `\copy` is the commit's WAL flush (one per job here, one in all for `\copy`).
//!
//! The server is `DATABASE_URL` (or the workspace `.env`); the benchmark creates six scratch
//! databases there (`racelab_bench_*`) and drops them at the end. `psql` must be on `PATH` (or
//! set `PSQL`).

mod common;

use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, Datelike, NaiveDate, TimeDelta, Utc};
use common::{database_url, recreate, with_database};
use futures_util::{StreamExt, TryStreamExt};
use racelab::plugins::wit::{Date, OddsBoard, Pool, Quote, RaceKey, Record};
use racelab::store::{self, JobOutput, Store, StoreConfig};
use sqlx::{Connection, PgConnection};

const DEFAULT_ROWS: usize = 500_000;
/// Runners per race: 11 gives 1,397 odds rows for all seven KRA pools, a post-race poll.
const RUNNERS: u8 = 11;
/// Polls of each race, a few minutes apart, so later jobs update `odds_latest_polls` rather than
/// only inserting into it, as in a live day.
const POLLS_PER_RACE: usize = 6;
const TRACKS: [&str; 3] = ["seoul", "busan", "jeju"];
const DATABASES: [&str; 6] = [
    "racelab_bench_store",
    "racelab_bench_copy",
    "racelab_bench_skip",
    "racelab_bench_async",
    "racelab_bench_workers",
    "racelab_bench_skip_few",
];
/// In the skip's common case, one quote in this many moves between two polls of a race.
const FEW_CHANGED: usize = 10;
/// Jobs in flight at once for the concurrent run: `racelab serve`'s default `jobs.workers`.
const WORKERS: usize = 8;

fn main() -> anyhow::Result<()> {
    let rows = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.replace('_', "").parse::<usize>())
        .transpose()
        .context("the argument is the number of odds rows")?
        .unwrap_or(DEFAULT_ROWS);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run(rows))
}

async fn run(rows: usize) -> anyhow::Result<()> {
    let url = database_url();
    let jobs = generate(rows, 1);
    let total: usize = jobs.iter().map(|j| j.records.len()).sum();
    println!("odds rows: {total} in {} jobs of ~{} rows", jobs.len(), total / jobs.len().max(1));

    let mut admin = PgConnection::connect(&url).await.context("connecting to DATABASE_URL")?;
    let version: String = sqlx::query_scalar("SELECT version()").fetch_one(&mut admin).await?;
    println!("server: {version}");
    for db in DATABASES {
        recreate(&mut admin, db).await?;
    }
    let result = compare(&url, &jobs, total).await;
    for db in DATABASES {
        let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")))
            .execute(&mut admin)
            .await;
    }
    result
}

async fn compare(url: &str, jobs: &[Job], total: usize) -> anyhow::Result<()> {
    let [store_db, copy_db, skip_db, async_db, workers_db, few_db] = DATABASES.map(|db| with_database(url, db));
    let store = prepared(&store_db, jobs, false).await?;
    let copy_store = prepared(&copy_db, jobs, false).await?;
    let skip_store = prepared(&skip_db, jobs, true).await?;
    let async_store = prepared(&async_db, jobs, false).await?;
    let workers_store = prepared(&workers_db, jobs, false).await?;
    let few_jobs = generate(total, FEW_CHANGED);
    let few_store = prepared(&few_db, &few_jobs, true).await?;

    let store_time = write_through_store(&store, jobs, true, 1).await?;
    let dir = tempfile::tempdir()?;
    let csv = dir.path().join("odds.csv");
    write_csv(&csv, jobs)?;
    let copy_time = psql_copy(&copy_db, &csv)?;
    let workers_time = write_through_store(&workers_store, jobs, true, WORKERS).await?;
    let skip_time = write_through_store(&skip_store, jobs, true, 1).await?;
    let async_time = write_through_store(&async_store, jobs, false, 1).await?;
    let few_time = write_through_store(&few_store, &few_jobs, true, 1).await?;

    let all = [
        ("store", &store),
        ("copy", &copy_store),
        ("skip on", &skip_store),
        ("async", &async_store),
        ("workers", &workers_store),
    ];
    let mut poll_rows = vec![];
    for (name, s) in all {
        let (polls, n): (i64, i64) =
            sqlx::query_as("SELECT count(*), coalesce(sum(cardinality(prices)), 0)::bigint FROM odds_polls")
                .fetch_one(s.pool())
                .await
                .context("count")?;
        if n as usize != total {
            bail!("{name}: {n} quotes in odds_polls, expected {total}");
        }
        poll_rows.push(polls);
    }
    if poll_rows.iter().any(|p| *p != poll_rows[0]) {
        bail!("the databases hold different numbers of poll rows: {poll_rows:?}");
    }
    println!("odds_polls rows: {} in each database", poll_rows[0]);
    let rate = |d: Duration| total as f64 / d.as_secs_f64();
    let line = |what: &str, d: Duration| println!("{what:<48} {:>7.2} s {:>9.0} rows/s", d.as_secs_f64(), rate(d));
    line(&format!("Store::write, skip off, one job at a time ({} jobs)", jobs.len()), store_time);
    line(&format!("Store::write, skip off, {WORKERS} jobs at a time"), workers_time);
    line("psql \\copy (one CSV file)", copy_time);
    println!(
        "store / copy: {:.0}% one job at a time, {:.0}% with {WORKERS} at a time (target >= 70%)",
        100.0 * rate(store_time) / rate(copy_time),
        100.0 * rate(workers_time) / rate(copy_time)
    );
    line("Store::write, skip on, every quote changed", skip_time);
    line("Store::write, skip off, synchronous_commit off", async_time);
    let few_stored: usize = few_jobs.iter().map(|j| j.stored).sum();
    let few_in_table: i64 = sqlx::query_scalar("SELECT coalesce(sum(cardinality(prices)), 0)::bigint FROM odds_polls")
        .fetch_one(few_store.pool())
        .await
        .context("count")?;
    if few_in_table as usize != few_stored {
        bail!("skip on, one in {FEW_CHANGED} changed: {few_in_table} quotes in odds_polls, expected {few_stored}");
    }
    line(&format!("Store::write, skip on, one in {FEW_CHANGED} changed (offered)"), few_time);
    println!("  of which stored: {few_stored}");
    Ok(())
}

/// A migrated database with partitions for the generated months.
async fn prepared(url: &str, jobs: &[Job], skip_unchanged_odds: bool) -> anyhow::Result<Store> {
    let pool = store::connect(url).await?;
    store::migrate(&pool).await?;
    let store = Store::new(pool, StoreConfig { skip_unchanged_odds });
    let first = jobs.iter().map(|j| j.captured_at.date_naive()).min().unwrap_or_default();
    let last = jobs.iter().map(|j| j.captured_at.date_naive()).max().unwrap_or_default();
    let months = (last.year() - first.year()) * 12 + last.month() as i32 - first.month() as i32;
    store.ensure_partitions(first, months.max(0) as u32).await?;
    Ok(store)
}

/// Writes every job through the store, each in its own transaction, `workers` at a time. With
/// more than one, jobs are taken poll by poll across the races (every race's first poll, then
/// every second one, …), so jobs in flight together are of different races, as on a live day
/// where a race is polled minutes apart.
async fn write_through_store(
    store: &Store,
    jobs: &[Job],
    synchronous_commit: bool,
    workers: usize,
) -> anyhow::Result<Duration> {
    let tracks: Vec<String> = TRACKS.map(String::from).to_vec();
    let mut order: Vec<usize> = (0..jobs.len()).collect();
    if workers > 1 {
        order.sort_by_key(|j| (j % POLLS_PER_RACE, j / POLLS_PER_RACE));
    }
    let start = Instant::now();
    futures_util::stream::iter(order.iter().map(|&j| write_job(store, &tracks, &jobs[j], synchronous_commit)))
        .buffer_unordered(workers)
        .try_collect::<()>()
        .await?;
    Ok(start.elapsed())
}

/// One job in its own transaction.
async fn write_job(store: &Store, tracks: &[String], job: &Job, synchronous_commit: bool) -> anyhow::Result<()> {
    // No operation to answer: the check that records answer the job is a comparison per record.
    let output = JobOutput {
        plugin: "bench",
        tracks,
        asked: None,
        records: &job.records,
        captured_at: job.captured_at,
        final_odds: false,
    };
    let mut tx = store.begin().await?;
    if !synchronous_commit {
        sqlx::query("SET LOCAL synchronous_commit = off").execute(&mut *tx).await?;
    }
    let stats = store.write(&mut tx, &output).await?;
    tx.commit().await?;
    if stats.odds_inserted as usize != job.stored {
        bail!("a job stored {} of {} rows, expected {}", stats.odds_inserted, job.records.len(), job.stored);
    }
    Ok(())
}

fn psql_copy(url: &str, csv: &Path) -> anyhow::Result<Duration> {
    let psql = std::env::var("PSQL").unwrap_or_else(|_| "psql".into());
    let copy = format!(
        "\\copy odds_polls(track, race_date, race_number, pool, captured_at, selections, prices) from '{}' csv",
        csv.display()
    );
    let start = Instant::now();
    let out = Command::new(&psql)
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", &copy])
        .output()
        .with_context(|| format!("running {psql}"))?;
    let elapsed = start.elapsed();
    if !out.status.success() {
        bail!("psql \\copy failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(elapsed)
}

/// The jobs as the poll rows the store makes of them: one line per job and pool, the pool's
/// selections and prices as array literals in selection order.
fn write_csv(path: &Path, jobs: &[Job]) -> anyhow::Result<()> {
    let mut out = BufWriter::new(std::fs::File::create(path)?);
    for job in jobs {
        let at = job.captured_at.format("%Y-%m-%d %H:%M:%S%.6f+00");
        let boards = job.records.iter().filter_map(|r| if let Record::Odds(o) = r { Some(o) } else { None });
        let mut quotes: Vec<(&OddsBoard, &[u8], Quote)> =
            boards.flat_map(|b| b.prices().map(move |(selection, quote)| (b, selection, quote))).collect();
        quotes.sort_by(|a, b| {
            (a.0.race.number, racelab::json::pool(a.0.pool), a.1).cmp(&(
                b.0.race.number,
                racelab::json::pool(b.0.pool),
                b.1,
            ))
        });
        for poll in quotes.chunk_by(|a, b| a.0.race == b.0.race && a.0.pool == b.0.pool) {
            let k = &poll[0].0.race;
            let selections = poll
                .iter()
                .map(|o| format!("{{{}}}", o.1.iter().map(u8::to_string).collect::<Vec<_>>().join(",")))
                .collect::<Vec<_>>()
                .join(",");
            let prices = poll
                .iter()
                .map(|o| match o.2 {
                    Quote::Price(p) => p.to_string(),
                    Quote::Capped => "NULL".into(),
                })
                .collect::<Vec<_>>()
                .join(",");
            writeln!(
                out,
                "{},{:04}-{:02}-{:02},{},{},{at},\"{{{selections}}}\",\"{{{prices}}}\"",
                k.track,
                k.date.year,
                k.date.month,
                k.date.day,
                k.number,
                racelab::json::pool(poll[0].0.pool),
            )?;
        }
    }
    out.flush()?;
    Ok(())
}

/// One odds job: every pool of one race at one moment.
struct Job {
    captured_at: DateTime<Utc>,
    records: Vec<Record>,
    /// The quotes a store keeps: with the skip on, those that changed since the race's previous
    /// poll (all of them at its first); with the skip off, all (every job it is given has every
    /// quote changed).
    stored: usize,
}

/// Races on consecutive days across the three KRA tracks, 12 a day, each polled
/// [`POLLS_PER_RACE`] times. One price in `changed_one_in` moves by 0.1 between two polls (a
/// different one at each poll); with 1 every price moves, so with the skip on nothing is
/// skipped. None is capped, as a cap that stays capped would be unchanged.
fn generate(rows: usize, changed_one_in: usize) -> Vec<Job> {
    let selections = selections();
    let jobs = rows.div_ceil(selections.len()).max(1);
    let first_day = NaiveDate::from_ymd_opt(2026, 11, 1).unwrap_or_default();
    let mut out = Vec::with_capacity(jobs);
    let mut left = rows;
    for j in 0..jobs {
        let race = j / POLLS_PER_RACE;
        let poll = j % POLLS_PER_RACE;
        let (track, day, number) = (TRACKS[race % 3], (race / 3) / 12, (race / 3) % 12 + 1);
        let date = first_day + TimeDelta::days(day as i64);
        // Race n posts at 10:00 KST + 30 min per race; polls every 5 minutes before it.
        let post = date.and_hms_opt(1, 0, 0).unwrap_or_default().and_utc() + TimeDelta::minutes(30 * number as i64);
        let captured_at = post - TimeDelta::minutes(5 * (POLLS_PER_RACE - poll) as i64);
        let key = RaceKey {
            track: track.into(),
            date: Date { year: date.year() as u16, month: date.month() as u8, day: date.day() as u8 },
            number: number as u8,
        };
        let take = left.min(selections.len());
        left -= take;
        // The same stream for every poll of a race: each selection keeps its base price.
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ race as u64);
        let moves_at = |i: usize, p: usize| (i + p).is_multiple_of(changed_one_in);
        // One board per pool, as a plugin reports them.
        let mut records: Vec<Record> = Vec::new();
        for (i, (pool, selection)) in selections[..take].iter().enumerate() {
            let scale = 8.0 * 10f64.powi(selection.len() as i32);
            let base = (rng.unit() * scale * 10.0).round() / 10.0 + 1.0;
            let moves = (1..=poll).filter(|p| moves_at(i, *p)).count();
            let quote = Quote::Price(base + 0.1 * moves as f64);
            match records.last_mut() {
                Some(Record::Odds(board)) if board.pool == *pool => {
                    board.selections.extend_from_slice(selection);
                    board.quotes.push(quote);
                }
                _ => records.push(Record::Odds(OddsBoard {
                    race: key.clone(),
                    pool: *pool,
                    selections: selection.clone(),
                    quotes: vec![quote],
                })),
            }
        }
        let stored = if poll == 0 { take } else { (0..take).filter(|i| moves_at(*i, poll)).count() };
        out.push(Job { captured_at, records, stored });
    }
    out
}

/// Every selection of every KRA pool for [`RUNNERS`] runners.
fn selections() -> Vec<(Pool, Vec<u8>)> {
    let r = 1..=RUNNERS;
    let mut out = vec![];
    for pool in [Pool::Win, Pool::Plc] {
        out.extend(r.clone().map(|a| (pool, vec![a])));
    }
    for (pool, ordered) in [(Pool::Qnl, false), (Pool::Qpl, false), (Pool::Exa, true)] {
        for a in r.clone() {
            for b in r.clone().filter(|&b| if ordered { b != a } else { b > a }) {
                out.push((pool, vec![a, b]));
            }
        }
    }
    for (pool, ordered) in [(Pool::Tla, false), (Pool::Tri, true)] {
        for a in r.clone() {
            for b in r.clone().filter(|&b| if ordered { b != a } else { b > a }) {
                for c in r.clone().filter(|&c| if ordered { c != a && c != b } else { c > b }) {
                    out.push((pool, vec![a, b, c]));
                }
            }
        }
    }
    out
}

/// xorshift64*: reproducible prices without a dependency.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}
