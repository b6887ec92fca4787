//! Reading one track-day of odds with a year loaded. Target: p95 ≤ 20 ms.
//!
//! Creates `racelab_bench_read` (dropped and created afresh), migrates it, creates the year's
//! monthly partitions and loads a year of race days server-side into `odds_polls` (`INSERT …
//! SELECT` over `generate_series`, one statement per month, the quotes grouped into one row per
//! race, pool and capture as the store writes them, in capture-time order as a live day writes
//! them, tracks interleaved). Then VACUUM ANALYZE, a warm-up, and N random track-day reads of
//! `SELECT race_number, pool, captured_at, selections, prices FROM odds_polls
//! WHERE track = $1 AND race_date = $2`, every row fetched and decoded into
//! `racelab::store::OddsPoll` (the 2-D `selections` by `store::Selections`, sqlx's own `Vec`
//! taking 1-D arrays only), one at a time from a warm pool. Counts are of quotes (one
//! selection's price at one capture, a row of the `odds_snapshots` view), as before poll rows.
//!
//! ```sh
//! cargo bench -p racelab --bench read            # 300 reads
//! cargo bench -p racelab --bench read -- 1000    # more
//! KEEP=1 cargo bench -p racelab --bench read     # keep the database; a rerun skips the load
//! ```
//!
//! The year (2025): seoul Sat+Sun, busan Fri+Sun, jeju Fri+Sat, gwangmyeong Fri–Sun, misari
//! Wed+Thu — 572 track-days of 12 races, 10–14 starters each. Per race, the default cadence
//! with the unchanged-skip off: 29 pre-race polls (every 5 min from 60 to 15 min before post,
//! every minute to 5 min, every 30 s to post) of WIN and PLC, and one all-pool poll a minute
//! after post (1,040–2,940 quotes): 1,620–3,752 quotes a race, about 31,000 a track-day, 17.9M
//! in all; 65 poll rows a race, 780 a track-day, 447k in all.
//! (KSPO publishes no odds today; its two tracks stand in for the volume a year of KRA days
//! with more races would bring.)
//!
//! After the figure, where the time goes, over the first reads' days again: the server's own
//! execution time (`EXPLAIN (ANALYZE, TIMING OFF)`), the same query with the rows fetched but
//! not decoded, other read shapes (the selections as text via `array_to_string`, parsed here;
//! the old per-selection rows through the `odds_snapshots` view), and the plan of the largest
//! track-day.
//!
//! Last, the analyst's odds functions (migration 0013) on random races and pools, same target:
//! `racelab_board_at` as of a moment from an hour before post to five minutes after, and
//! `racelab_final_odds`.
//!
//! The server is `DATABASE_URL` (or the workspace `.env`).

mod common;

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use chrono::{DateTime, NaiveDate, Utc};
use common::{database_url, recreate, with_database};
use racelab::store::{self, OddsPoll, Store, StoreConfig};
use sqlx::{Connection, PgConnection, PgPool};

const DATABASE: &str = "racelab_bench_read";
const DEFAULT_READS: usize = 300;
const WARMUP_READS: usize = 20;
const YEAR: i32 = 2025;
const TARGET_P95: Duration = Duration::from_millis(20);

/// The tracks and the weekdays they race on (`extract(dow)`: 0 = Sunday).
const CALENDAR: &str = "(VALUES ('seoul', ARRAY[6, 0]), ('busan', ARRAY[5, 0]), ('jeju', ARRAY[5, 6]),
                               ('gwangmyeong', ARRAY[5, 6, 0]), ('misari', ARRAY[3, 4])) AS t(track, dows)";

/// A row of the per-selection read through the view.
type OddsRow = (i16, String, Vec<i16>, DateTime<Utc>, Option<f64>);

/// A row of the text-shaped read: race, pool, capture, width, runners as text, prices.
type TextPollRow = (i16, String, DateTime<Utc>, i32, String, Vec<Option<f64>>);

fn main() -> anyhow::Result<()> {
    let reads = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .map(|a| a.replace('_', "").parse::<usize>())
        .transpose()
        .context("the argument is the number of reads")?
        .unwrap_or(DEFAULT_READS);
    let keep = std::env::var("KEEP").is_ok_and(|v| v == "1");
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(run(reads, keep))
}

async fn run(reads: usize, keep: bool) -> anyhow::Result<()> {
    let url = database_url();
    let mut admin = PgConnection::connect(&url).await.context("connecting to DATABASE_URL")?;
    let version: String = sqlx::query_scalar("SELECT version()").fetch_one(&mut admin).await?;
    println!("server: {version}");
    let db_url = with_database(&url, DATABASE);

    let reuse = keep && loaded_already(&mut admin, &db_url).await;
    if !reuse {
        recreate(&mut admin, DATABASE).await?;
    }
    let pool = store::connect(&db_url).await?;
    if reuse {
        println!("reusing {DATABASE} (KEEP=1, fully loaded)");
        store::migrate(&pool).await?;
    } else {
        load(&pool).await?;
    }
    let result = measure(&pool, reads).await;
    pool.close().await;
    if !keep {
        sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {DATABASE} WITH (FORCE)")))
            .execute(&mut admin)
            .await?;
    }
    result
}

/// Whether the database exists and holds as many rows as the generator makes.
async fn loaded_already(admin: &mut PgConnection, db_url: &str) -> bool {
    let exists: Option<i32> = sqlx::query_scalar("SELECT 1 FROM pg_database WHERE datname = $1")
        .bind(DATABASE)
        .fetch_optional(&mut *admin)
        .await
        .ok()
        .flatten();
    if exists.is_none() {
        return false;
    }
    let Ok(mut conn) = PgConnection::connect(db_url).await else { return false };
    let expected: Result<i64, _> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "WITH {} SELECT sum(n_rows)::bigint FROM race_rows",
        generator_ctes("TRUE")
    )))
    .fetch_one(&mut conn)
    .await;
    let actual: Result<i64, _> = sqlx::query_scalar(QUOTES).fetch_one(&mut conn).await;
    matches!((expected, actual), (Ok(e), Ok(a)) if e == a && a > 0)
}

/// Migrates, creates the partitions and loads the year, one month per statement.
async fn load(pool: &PgPool) -> anyhow::Result<()> {
    store::migrate(pool).await?;
    let store = Store::new(pool.clone(), StoreConfig::default());
    let first = NaiveDate::from_ymd_opt(YEAR, 1, 1).context("date")?;
    let created = store.ensure_partitions(first, 13).await?;
    println!("partitions created: {created}");

    let started = Instant::now();
    let races = sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO races (track, race_date, race_number, post_time, field_size)
         WITH {} SELECT track, race_date, race_number, post, n FROM race_list",
        generator_ctes("TRUE")
    )))
    .execute(pool)
    .await
    .context("inserting races")?
    .rows_affected();
    println!("races: {races}");
    let mut total = 0;
    for month in 1..=12 {
        let from = NaiveDate::from_ymd_opt(YEAR, month, 1).context("date")?;
        let to = from.checked_add_months(chrono::Months::new(1)).context("date")?;
        let t = Instant::now();
        let filter = format!("d >= '{from}' AND d < '{to}'");
        let rows = sqlx::query(sqlx::AssertSqlSafe(insert_odds(&filter))).execute(pool).await?.rows_affected();
        total += rows;
        println!("  {from}: {rows:>9} odds_polls rows in {:>6.1} s", t.elapsed().as_secs_f64());
    }
    let load_time = started.elapsed();
    let quotes: i64 = sqlx::query_scalar(QUOTES).fetch_one(pool).await?;
    let t = Instant::now();
    // As autovacuum would have left a year-old table: hint bits set, visibility map, statistics.
    sqlx::raw_sql("VACUUM (ANALYZE)").execute(pool).await.context("VACUUM ANALYZE")?;
    println!(
        "loaded {quotes} quotes as {total} odds_polls rows in {:.0} s ({:.0} quotes/s); VACUUM ANALYZE {:.0} s",
        load_time.as_secs_f64(),
        quotes as f64 / load_time.as_secs_f64(),
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The generator as CTEs: `days` (track-days whose date `d` passes `day_filter`), `race_list`
/// (12 races a day, 10–14 starters, posts every 35 min from 11:00 KST) and `race_rows` (odds
/// quotes per race).
fn generator_ctes(day_filter: &str) -> String {
    format!(
        "days AS (
             SELECT t.track, d::date AS race_date
             FROM generate_series('{YEAR}-01-01'::date, '{YEAR}-12-31'::date, interval '1 day') AS d, {CALENDAR}
             WHERE extract(dow FROM d)::int = ANY (t.dows) AND {day_filter}
         ),
         race_list AS (
             SELECT track, race_date, r::smallint AS race_number,
                    (10 + abs(hashtext(track || race_date::text || r::text)) % 5)::smallint AS n,
                    (race_date + time '11:00' + (r - 1) * interval '35 minutes') AT TIME ZONE 'Asia/Seoul' AS post
             FROM days, generate_series(1, 12) AS r
         ),
         race_rows AS (
             SELECT 58 * n::int + 2 * n::int + 2 * n::int * (n - 1) + n::int * (n - 1) * (n - 2) / 6
                    + n::int * (n - 1) * (n - 2) AS n_rows
             FROM race_list
         )"
    )
}

/// One month's odds: the pre-race WIN/PLC polls and the all-pool poll after post, one row per
/// race, pool and capture, in capture order.
fn insert_odds(day_filter: &str) -> String {
    format!(
        "INSERT INTO odds_polls (track, race_date, race_number, pool, captured_at, selections, prices)
         WITH {},
         polls AS (
             SELECT s AS before_s FROM generate_series(3600, 1200, -300) AS s
             UNION ALL SELECT s FROM generate_series(900, 360, -60) AS s
             UNION ALL SELECT s FROM generate_series(300, 30, -30) AS s
         ),
         pre AS (
             SELECT r.track, r.race_date, r.race_number, p.pool, ARRAY[a]::smallint[] AS selection,
                    r.post - make_interval(secs => polls.before_s) AS captured_at
             FROM race_list r, polls, (VALUES ('WIN'), ('PLC')) AS p(pool), generate_series(1, r.n) AS a
         ),
         fin AS (
             SELECT r.track, r.race_date, r.race_number, s.pool, s.selection, r.post + interval '1 minute' AS captured_at
             FROM race_list r, LATERAL (
                 SELECT p.pool, ARRAY[a]::smallint[] AS selection
                 FROM (VALUES ('WIN'), ('PLC')) AS p(pool), generate_series(1, r.n) AS a
                 UNION ALL
                 SELECT p.pool, ARRAY[a, b]::smallint[]
                 FROM (VALUES ('QNL'), ('QPL')) AS p(pool), generate_series(1, r.n) AS a, generate_series(a + 1, r.n) AS b
                 UNION ALL
                 SELECT 'EXA', ARRAY[a, b]::smallint[]
                 FROM generate_series(1, r.n) AS a, generate_series(1, r.n) AS b WHERE a <> b
                 UNION ALL
                 SELECT 'TLA', ARRAY[a, b, c]::smallint[]
                 FROM generate_series(1, r.n) AS a, generate_series(a + 1, r.n) AS b, generate_series(b + 1, r.n) AS c
                 UNION ALL
                 SELECT 'TRI', ARRAY[a, b, c]::smallint[]
                 FROM generate_series(1, r.n) AS a, generate_series(1, r.n) AS b, generate_series(1, r.n) AS c
                 WHERE a <> b AND a <> c AND b <> c
             ) AS s
         ),
         all_rows AS (SELECT * FROM pre UNION ALL SELECT * FROM fin),
         priced AS (
             SELECT *, CASE WHEN cardinality(selection) = 3 AND random() < 0.05 THEN NULL
                            ELSE round((1.0 + random() * 8 * 10 ^ cardinality(selection))::numeric, 1)::float8
                       END AS price
             FROM all_rows
         )
         SELECT track, race_date, race_number, pool, captured_at,
                array_agg(selection ORDER BY selection), array_agg(price ORDER BY selection)
         FROM priced
         GROUP BY track, race_date, race_number, pool, captured_at
         ORDER BY captured_at, track, race_number, pool",
        generator_ctes(day_filter)
    )
}

async fn measure(pool: &PgPool, reads: usize) -> anyhow::Result<()> {
    let days: Vec<(String, NaiveDate)> =
        sqlx::query_as("SELECT DISTINCT track, race_date FROM races ORDER BY track, race_date").fetch_all(pool).await?;
    if days.is_empty() {
        bail!("no race days loaded");
    }
    let total: i64 = sqlx::query_scalar(QUOTES).fetch_one(pool).await?;
    let polls: i64 = sqlx::query_scalar("SELECT count(*) FROM odds_polls").fetch_one(pool).await?;
    let size: String =
        sqlx::query_scalar("SELECT pg_size_pretty(pg_database_size(current_database()))").fetch_one(pool).await?;
    println!("odds quotes: {total} in {polls} odds_polls rows; track-days: {}; database size: {size}", days.len());

    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    let mut conn = pool.acquire().await?;
    for _ in 0..WARMUP_READS {
        let (track, date) = &days[rng.below(days.len())];
        read(&mut conn, track, *date).await?;
    }
    let mut times = Vec::with_capacity(reads);
    let mut sizes = Vec::with_capacity(reads);
    let mut sample = Vec::with_capacity(reads);
    let started = Instant::now();
    for _ in 0..reads {
        let (track, date) = &days[rng.below(days.len())];
        let t = Instant::now();
        let size = read(&mut conn, track, *date).await?;
        times.push(t.elapsed());
        sizes.push(size);
        sample.push((track.as_str(), *date));
    }
    let wall = started.elapsed();
    println!(
        "{reads} random track-day reads (after {WARMUP_READS} warm-up), {:.1} s: {}",
        wall.as_secs_f64(),
        Percentiles::of(&mut times)
    );
    let mut rows: Vec<usize> = sizes.iter().map(|s| s.0).collect();
    let mut quotes: Vec<usize> = sizes.iter().map(|s| s.1).collect();
    rows.sort();
    quotes.sort();
    let mean = |v: &[usize]| v.iter().sum::<usize>() as f64 / v.len() as f64;
    println!(
        "quotes per read: min {}, median {}, mean {:.0}, max {} (odds_polls rows: min {}, median {}, max {})",
        quotes[0],
        quotes[quotes.len() / 2],
        mean(&quotes),
        quotes[quotes.len() - 1],
        rows[0],
        rows[rows.len() / 2],
        rows[rows.len() - 1]
    );
    let p95 = Percentiles::of(&mut times).p95;
    let verdict = if p95 <= TARGET_P95 { "met" } else { "MISSED" };
    println!("p95 {:.2} ms, target <= {} ms: {verdict}", ms(p95), TARGET_P95.as_millis());

    println!("where the time goes, the first {} of these days again:", sample.len().min(DIAGNOSED_READS));
    let sample = &sample[..sample.len().min(DIAGNOSED_READS)];
    let [mut server, mut undecoded, mut decoded, mut text, mut view_server, mut view] =
        std::array::from_fn(|_| Vec::with_capacity(sample.len()));
    for (i, (track, date)) in sample.iter().enumerate() {
        server.push(server_time(&mut conn, READ, track, *date).await?);
        let t = Instant::now();
        sqlx::query(READ).bind(track).bind(date).fetch_all(&mut *conn).await?;
        undecoded.push(t.elapsed());
        let t = Instant::now();
        read(&mut conn, track, *date).await?;
        decoded.push(t.elapsed());
        let t = Instant::now();
        let n = read_text(&mut conn, track, *date).await?;
        text.push(t.elapsed());
        if n != sizes[i].1 {
            bail!("{track} {date}: the text read gave {n} quotes, the binary read {}", sizes[i].1);
        }
        view_server.push(server_time(&mut conn, READ_VIEW, track, *date).await?);
        let t = Instant::now();
        read_view(&mut conn, track, *date).await?;
        view.push(t.elapsed());
    }
    println!("  server execution (EXPLAIN ANALYZE, TIMING OFF):   {}", Percentiles::of(&mut server));
    println!("  fetched, not decoded (Vec<PgRow>):                 {}", Percentiles::of(&mut undecoded));
    println!("  fetched and decoded (the read above):              {}", Percentiles::of(&mut decoded));
    println!("  selections as text (array_to_string), parsed:      {}", Percentiles::of(&mut text));
    println!("  per selection via the odds_snapshots view, server: {}", Percentiles::of(&mut view_server));
    println!("  per selection via the odds_snapshots view, read:   {}", Percentiles::of(&mut view));
    drop(conn);
    explain(pool, &days).await?;
    board_reads(pool, reads).await
}

/// The analyst's two odds functions (migration 0013) on random races and pools: the board as
/// of a random moment from an hour before post to five minutes after it
/// (`racelab_board_at`), then the race's final odds in that pool (`racelab_final_odds`).
async fn board_reads(pool: &PgPool, reads: usize) -> anyhow::Result<()> {
    const POOLS: [&str; 7] = ["WIN", "PLC", "QNL", "EXA", "QPL", "TLA", "TRI"];
    let races: Vec<(String, NaiveDate, i16, DateTime<Utc>)> =
        sqlx::query_as("SELECT track, race_date, race_number, post_time FROM races ORDER BY 1, 2, 3")
            .fetch_all(pool)
            .await?;
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut conn = pool.acquire().await?;
    let (mut at_times, mut final_times) = (Vec::with_capacity(reads), Vec::with_capacity(reads));
    let (mut at_rows, mut final_rows) = (0usize, 0usize);
    for i in 0..WARMUP_READS + reads {
        let (track, date, number, post) = &races[rng.below(races.len())];
        let pool_code = POOLS[rng.below(POOLS.len())];
        let at = *post - chrono::TimeDelta::seconds(rng.below(65 * 60) as i64 - 5 * 60);
        let t = Instant::now();
        let board = sqlx::query(BOARD_AT)
            .bind(track)
            .bind(date)
            .bind(number)
            .bind(pool_code)
            .bind(at)
            .fetch_all(&mut *conn)
            .await?;
        let board_time = t.elapsed();
        let t = Instant::now();
        let final_odds =
            sqlx::query(FINAL_ODDS).bind(track).bind(date).bind(number).bind(pool_code).fetch_all(&mut *conn).await?;
        let final_time = t.elapsed();
        if final_odds.is_empty() {
            bail!("{track} {date} race {number}: no final {pool_code} odds");
        }
        if i >= WARMUP_READS {
            at_times.push(board_time);
            final_times.push(final_time);
            at_rows += board.len();
            final_rows += final_odds.len();
        }
    }
    let (at, fin) = (Percentiles::of(&mut at_times), Percentiles::of(&mut final_times));
    let verdict = |p: &Percentiles| if p.p95 <= TARGET_P95 { "met" } else { "MISSED" };
    println!("{reads} random boards as of a moment around post (racelab_board_at): {at}, {at_rows} selections in all");
    println!("  p95 {:.2} ms, target <= {} ms: {}", ms(at.p95), TARGET_P95.as_millis(), verdict(&at));
    println!("the same races' final odds (racelab_final_odds): {fin}, {final_rows} selections in all");
    println!("  p95 {:.2} ms, target <= {} ms: {}", ms(fin.p95), TARGET_P95.as_millis(), verdict(&fin));
    Ok(())
}

/// The board of one race and pool as of a moment.
const BOARD_AT: &str = "SELECT * FROM racelab_board_at($1, $2, $3, $4::pool_code, $5)";

/// The final odds of one race and pool.
const FINAL_ODDS: &str = "SELECT * FROM racelab_final_odds($1, $2, $3, $4::pool_code)";

/// Reads diagnosed after the measurement.
const DIAGNOSED_READS: usize = 100;

/// Quotes stored: the rows the `odds_snapshots` view would give, counted without unnesting.
const QUOTES: &str = "SELECT coalesce(sum(cardinality(prices)), 0)::bigint FROM odds_polls";

/// The measured read.
const READ: &str = "SELECT race_number, pool, captured_at, selections, prices FROM odds_polls
                    WHERE track = $1 AND race_date = $2";

/// The same poll rows with the selections as text (`1,2,1,3,…`) and the pool's width.
const READ_TEXT: &str = "SELECT race_number, pool, captured_at, array_length(selections, 2),
                                array_to_string(selections, ','), prices
                         FROM odds_polls WHERE track = $1 AND race_date = $2";

/// The old read, one row per selection, now through the view.
const READ_VIEW: &str = "SELECT race_number, pool, selection, captured_at, price FROM odds_snapshots
                         WHERE track = $1 AND race_date = $2";

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

struct Percentiles {
    p50: Duration,
    p95: Duration,
    p99: Duration,
    max: Duration,
}

impl Percentiles {
    fn of(times: &mut [Duration]) -> Percentiles {
        times.sort();
        let at = |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
        Percentiles { p50: at(0.50), p95: at(0.95), p99: at(0.99), max: at(1.0) }
    }
}

impl std::fmt::Display for Percentiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "p50 {:.2} ms, p95 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
            ms(self.p50),
            ms(self.p95),
            ms(self.p99),
            ms(self.max)
        )
    }
}

/// The server's execution time of a read, without the client's share.
async fn server_time(conn: &mut PgConnection, query: &str, track: &str, date: NaiveDate) -> anyhow::Result<Duration> {
    let plan: serde_json::Value =
        sqlx::query_scalar(sqlx::AssertSqlSafe(format!("EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) {query}")))
            .bind(track)
            .bind(date)
            .fetch_one(&mut *conn)
            .await?;
    let exec = plan[0]["Execution Time"].as_f64().context("Execution Time in the plan")?;
    Ok(Duration::from_secs_f64(exec / 1e3))
}

/// The measured read: (poll rows, quotes).
async fn read(conn: &mut PgConnection, track: &str, date: NaiveDate) -> anyhow::Result<(usize, usize)> {
    let polls: Vec<OddsPoll> = sqlx::query_as(READ)
        .bind(track)
        .bind(date)
        .fetch_all(&mut *conn)
        .await
        .with_context(|| format!("reading {track} {date}"))?;
    let mut quotes = 0;
    for p in &polls {
        if p.selections.len() != p.prices.len() {
            bail!("{track} {date}: {} selections for {} prices", p.selections.len(), p.prices.len());
        }
        quotes += p.prices.len();
    }
    Ok((polls.len(), quotes))
}

/// The text-shaped read, parsed into the same flat runners: quotes.
async fn read_text(conn: &mut PgConnection, track: &str, date: NaiveDate) -> anyhow::Result<usize> {
    let rows: Vec<TextPollRow> = sqlx::query_as(READ_TEXT)
        .bind(track)
        .bind(date)
        .fetch_all(&mut *conn)
        .await
        .with_context(|| format!("reading {track} {date} as text"))?;
    let mut quotes = 0;
    for (_, _, _, width, runners, prices) in &rows {
        let runners = runners.split(',').map(str::parse::<i16>).collect::<Result<Vec<_>, _>>()?;
        if runners.len() != *width as usize * prices.len() {
            bail!("{track} {date}: {} runners for {} prices of width {width}", runners.len(), prices.len());
        }
        quotes += prices.len();
    }
    Ok(quotes)
}

/// The per-selection read through the view: quotes.
async fn read_view(conn: &mut PgConnection, track: &str, date: NaiveDate) -> anyhow::Result<usize> {
    let rows: Vec<OddsRow> = sqlx::query_as(READ_VIEW)
        .bind(track)
        .bind(date)
        .fetch_all(&mut *conn)
        .await
        .with_context(|| format!("reading {track} {date} through the view"))?;
    Ok(rows.len())
}

/// The plan of one of the largest track-days, for the record.
async fn explain(pool: &PgPool, days: &[(String, NaiveDate)]) -> anyhow::Result<()> {
    let (track, date): (String, NaiveDate) = sqlx::query_as(
        "SELECT track, race_date FROM races GROUP BY track, race_date ORDER BY sum(field_size) DESC LIMIT 1",
    )
    .fetch_optional(pool)
    .await?
    .unwrap_or_else(|| days[0].clone());
    let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "EXPLAIN (ANALYZE, BUFFERS) SELECT race_number, pool, captured_at, selections, prices FROM odds_polls
         WHERE track = '{track}' AND race_date = '{date}'"
    )))
    .fetch_all(pool)
    .await?;
    println!("EXPLAIN (ANALYZE, BUFFERS) for {track} {date}:");
    for line in plan {
        println!("  {line}");
    }
    Ok(())
}

/// xorshift64*: a reproducible choice of days without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}
