//! PostgreSQL storage: the schema (`migrations/`), checking a plugin's output, and writing it.
//!
//! A job's output goes through [`validate`] (one bad record refuses all of it, as a plugin
//! fault) and then [`Store::write`], inside the caller's transaction so the job's rows and its
//! progress commit together. Every write is an upsert on the natural key, so running a job again
//! never duplicates a row. Odds go in bulk, one `UNNEST` statement per race (an odds job is one
//! race) that stores one `odds_polls` row per pool, and a quote unchanged since the last stored
//! snapshot of its selection is skipped unless [`StoreConfig`] says otherwise. [`OddsPoll`]
//! reads those rows back.
//!
//! | file | owns |
//! |---|---|
//! | `validate.rs` | the contract checks on every record |
//! | `rows.rs` | merging records by natural key into columns |
//! | `write.rs` | the upserts of races, entries, scratches, results and dividends |
//! | `odds.rs` | the odds path: the unchanged-skip and its latest values per pool, bulk insert of poll rows |
//! | `polls.rs` | reading poll rows: [`OddsPoll`], [`Selections`] (2-D arrays) |
//! | `drift.rs` | the datasets' known shapes: drift fields reported by plugins, new ones told apart |
//! | `archive.rs` | raw responses with their operation and request: gzip, retention |
//! | `replay.rs` | writing a replayed run as the live run wrote it at its capture |
//! | `error.rs` | [`StoreError`] |

mod archive;
mod drift;
mod error;
mod odds;
mod polls;
mod replay;
mod rows;
mod validate;
mod write;

use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions, PgSslMode};
use sqlx::{PgPool, Postgres, Transaction};

pub use archive::{Archived, gunzip, gzip};
pub use drift::{DatasetDrift, DriftField, drift_by_dataset, record_drift};
pub use error::{Result, StoreError};
pub use polls::{OddsPoll, Selections};
pub(crate) use rows::runner_key;
pub use validate::{MAX_TEXT_CHARS, validate};

use crate::plugins::wit::{Operation, Record};

/// How long [`connect`] keeps retrying an unreachable server: long enough for a database that
/// starts alongside the host (compose, CI), short enough to report a wrong address promptly.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// Opens a connection pool and checks that one connection works. A refused login fails at once,
/// an unreachable server after [`CONNECT_TIMEOUT`]; the message shows the URL with its password
/// masked.
pub async fn connect(url: &str) -> Result<PgPool> {
    let shown = error::redact_url(url);
    let mut options =
        PgConnectOptions::from_str(url).map_err(error::db(format!("reading the database URL {shown}")))?;
    if plain_for_loopback(url, std::env::var_os("PGSSLMODE").is_some()) {
        options = options.ssl_mode(PgSslMode::Disable);
    }
    PgPoolOptions::new()
        .acquire_timeout(CONNECT_TIMEOUT)
        .connect_with(options)
        .await
        .map_err(error::db(format!("connecting to {shown}")))
}

/// Whether a connection to `url` should skip TLS: the server is on this machine (a loopback
/// address, `localhost`, or a Unix socket) and neither the URL (`sslmode=`) nor `PGSSLMODE`
/// chose a mode. sqlx's default, `prefer`, encrypts a loopback connection whenever the server
/// has `ssl = on`, which protects nothing there and costs ~40 ms per job: sqlx 0.9.0 no longer
/// sets `TCP_NODELAY`, so a large message written as TLS records waits for a delayed ACK
/// (BENCHMARKS.md, "Store"). A remote server keeps sqlx's default.
fn plain_for_loopback(url: &str, env_sslmode: bool) -> bool {
    let Ok(parsed) = url::Url::parse(url) else { return false };
    if env_sslmode || parsed.query_pairs().any(|(k, _)| k.eq_ignore_ascii_case("sslmode")) {
        return false;
    }
    if parsed.query_pairs().any(|(k, v)| k == "host" && v.starts_with('/')) {
        return true;
    }
    match parsed.host() {
        None => true,
        // `postgres:` is not a special scheme to the URL parser: an IPv4 address stays a name.
        Some(url::Host::Domain(name)) => {
            name.is_empty()
                || name.eq_ignore_ascii_case("localhost")
                || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
    }
}

/// `url` with any password masked, for messages.
pub fn redact_database_url(url: &str) -> String {
    error::redact_url(url)
}

/// `url` pointing at database `name` on the same server (the query string kept).
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Brings the schema up to date with `migrations/` (embedded at build time). Several hosts may
/// start at once: sqlx holds a PostgreSQL advisory lock on the database while it migrates, so
/// one applies the migrations and the others wait, then find nothing to do.
///
/// The job queue's tables (schema `apalis`) come from apalis-postgres' own migrations, applied
/// here too; they keep their own bookkeeping (`apalis._sqlx_migrations`, set by the crate's
/// `sqlx.toml`), apart from ours in `public._sqlx_migrations`.
pub async fn migrate(pool: &PgPool) -> Result<()> {
    sqlx::migrate!("../migrations").run(pool).await?;
    apalis_postgres::PostgresStorage::<()>::migrations().run(pool).await?;
    Ok(())
}

/// Partitions further ahead than this are not created: ten years covers any real schedule and
/// keeps a mistyped setting from creating thousands of tables.
pub const MAX_MONTHS_AHEAD: u32 = 120;

/// How the store writes.
#[derive(Debug, Clone)]
pub struct StoreConfig {
    /// Skip an odds quote equal to the latest stored one for its race, pool and selection.
    /// The first and the final (post-race) snapshot are always stored. Most of a pre-race
    /// poll is unchanged, so this keeps a race day near its planned ~50k odds rows.
    pub skip_unchanged_odds: bool,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig { skip_unchanged_odds: true }
    }
}

/// What one job produced, as handed to the store.
#[derive(Debug, Clone, Copy)]
pub struct JobOutput<'a> {
    /// The plugin that produced it, for messages.
    pub plugin: &'a str,
    /// The tracks the job's source serves, as the configuration grants them (never the
    /// plugin's own claim): records for any other track are refused.
    pub tracks: &'a [String],
    /// The operation the job asked the plugin: a record that does not answer it (another kind,
    /// day, race or pool) is refused. `None` for output that answers no one job (tools, tests).
    pub asked: Option<&'a Operation>,
    /// The records, in the order the plugin returned them.
    pub records: &'a [Record],
    /// When the host fetched the data: the odds' capture time and a scratch's first sighting.
    pub captured_at: DateTime<Utc>,
    /// The post-race odds poll: every snapshot is stored, changed or not.
    pub final_odds: bool,
}

/// What [`Store::write`] changed. Counts are rows inserted or changed, so writing the same
/// output again reports zeros (odds skipped as unchanged aside).
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct WriteStats {
    /// Race rows inserted or changed, including bare keys for races only referenced.
    pub races: u64,
    /// Entry rows inserted or changed.
    pub entries: u64,
    /// Entries newly marked scratched (or whose reason changed).
    pub scratches: u64,
    /// Odds snapshots (selections) stored, in however many `odds_polls` rows.
    pub odds_inserted: u64,
    /// Odds quotes not stored because they equal the latest stored one.
    pub odds_skipped_unchanged: u64,
    /// Result rows inserted or changed.
    pub results: u64,
    /// Dividend rows inserted or changed.
    pub dividends: u64,
}

/// [`Store::begin`]'s statement.
const BEGIN_JOB: &str = "BEGIN; SET LOCAL plan_cache_mode = force_generic_plan";

/// The database, as the host writes to it.
#[derive(Debug, Clone)]
pub struct Store {
    pool: PgPool,
    config: StoreConfig,
}

impl Store {
    /// A store on `pool` (migrated, see [`migrate`]).
    pub fn new(pool: PgPool, config: StoreConfig) -> Self {
        Store { pool, config }
    }

    /// The connection pool, to begin the job's transaction on.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The configuration.
    pub fn config(&self) -> &StoreConfig {
        &self.config
    }

    /// Begins a job's transaction, for [`write`](Self::write) and the job's progress, with its
    /// statements on generic plans (in one round trip with the `BEGIN`).
    ///
    /// The host runs the same few statements thousands of times with different keys and small
    /// arrays; PostgreSQL kept re-planning most of them on every execution (a custom plan is
    /// kept whenever the generic one is costed higher, which data-modifying CTEs over `UNNEST`
    /// parameters always are), a third of the server's CPU per job (BENCHMARKS.md, "End-to-end
    /// jobs per second"). Their generic plans are the same index lookups. The setting ends
    /// with the transaction, so queries outside a job keep PostgreSQL's choice.
    pub async fn begin(&self) -> sqlx::Result<Transaction<'static, Postgres>> {
        self.pool.begin_with(BEGIN_JOB).await
    }

    /// Validates `output` and writes it within `tx`; the caller commits together with the
    /// job's progress. On [`StoreError::Invalid`] nothing was written; after any other error
    /// part of it may have been, so roll back (dropping `tx` does).
    ///
    /// Order matters: races first (so every other row has its race), then entries before
    /// scratches (a scratch in the same output marks the entry just written).
    pub async fn write(&self, tx: &mut Transaction<'_, Postgres>, output: &JobOutput<'_>) -> Result<WriteStats> {
        validate(output)?;
        let rows = rows::Rows::of(output.records);
        let conn = &mut **tx;
        let skip = self.config.skip_unchanged_odds;
        let mode = odds::Mode { keep_all: output.final_odds || !skip, maintain_latest: skip };
        let races = write::races(conn, &rows).await?;
        let entries = write::entries(conn, &rows).await?;
        let scratches = write::scratches(conn, &rows, output.captured_at).await?;
        let results = write::results(conn, &rows).await?;
        let dividends = write::dividends(conn, &rows).await?;
        let odds = odds::write(conn, &rows, output.captured_at, mode).await?;
        Ok(WriteStats {
            races,
            entries,
            scratches,
            odds_inserted: odds.inserted,
            odds_skipped_unchanged: odds.skipped_unchanged,
            results,
            dividends,
        })
    }

    /// Creates the monthly odds partitions a backfill of the KST days `from..=to` writes into,
    /// past months too, where missing; returns how many it created. Partitions are by UTC
    /// month, and the first hours of a KST month are the last of the UTC month before it, so
    /// the month before `from`'s is included.
    pub async fn ensure_partitions_between(&self, from: NaiveDate, to: NaiveDate) -> Result<u32> {
        let first = from.with_day(1).unwrap_or(from) - chrono::TimeDelta::days(1);
        let month = |d: NaiveDate| d.year() * 12 + d.month() as i32;
        let months = (month(to) - month(first)).max(0) as u32;
        self.ensure_partitions(first, months).await
    }

    /// Creates the monthly odds partitions from `around`'s month through `months_ahead` months
    /// later, where missing; returns how many it created. Rows already caught by the default
    /// partition for those months move into their new partition. Safe to run from several
    /// hosts at once; meant to run at start and daily, a few months ahead.
    pub async fn ensure_partitions(&self, around: NaiveDate, months_ahead: u32) -> Result<u32> {
        let from = around.with_day(1).unwrap_or(around);
        let months = months_ahead.min(MAX_MONTHS_AHEAD) as i32 + 1;
        let created: i32 = sqlx::query_scalar("SELECT racelab_ensure_odds_partitions($1, $2)")
            .bind(from)
            .bind(months)
            .fetch_one(&self.pool)
            .await
            .map_err(error::db(format!("creating odds partitions from {from} for {months} months")))?;
        Ok(created.max(0) as u32)
    }
}

#[cfg(test)]
mod url_tests {
    use super::{plain_for_loopback, with_database};

    #[test]
    fn tls_is_skipped_only_for_a_server_on_this_machine_with_no_mode_chosen() {
        for local in [
            "postgres://postgres@127.0.0.1:5432/racelab",
            "postgres://postgres@127.0.0.2/racelab",
            "postgres://postgres@localhost/racelab",
            "postgres://postgres@[::1]:5432/racelab",
            "postgres:///racelab?host=/var/run/postgresql",
        ] {
            assert!(plain_for_loopback(local, false), "{local}");
            assert!(!plain_for_loopback(local, true), "{local} with PGSSLMODE set");
        }
        for chosen in [
            "postgres://postgres@127.0.0.1/racelab?sslmode=require",
            "postgres://postgres@localhost/racelab?sslmode=prefer",
            "postgres://postgres@db.example.com/racelab",
            "postgres://postgres@10.0.0.5:5432/racelab",
            "not a url",
        ] {
            assert!(!plain_for_loopback(chosen, false), "{chosen}");
        }
    }

    #[test]
    fn with_database_swaps_only_the_database() {
        assert_eq!(with_database("postgres://u:p@h:5432/postgres", "demo"), "postgres://u:p@h:5432/demo");
        assert_eq!(
            with_database("postgres://h:5432/x?sslmode=disable", "demo"),
            "postgres://h:5432/demo?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h:5432", "demo"), "postgres://h:5432/demo");
    }
}
