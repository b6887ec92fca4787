//! Writing odds: the hot path (a race day is ~50k quotes, a post-race poll ~1,400 at once).
//!
//! Odds are stored as poll rows (`odds_polls`, migrations/0005): one row per race, pool and
//! capture, holding the stored selections as a 2-D `smallint[]` and their prices as a
//! `float8[]` (NULL for the display cap). A track-day is then ~800 rows instead of ~31,000,
//! which is what makes the day read fast; the view `odds_snapshots` shows them one row per
//! selection as before. Everything else here still works per quote.
//!
//! Per race in the output (an odds job is one race), in the caller's transaction, whose races
//! upsert has already locked the race row (`ON CONFLICT DO UPDATE` locks even the rows it leaves
//! unchanged), so odds writers of one race take turns and what is read here stays true until
//! commit:
//! 1. with the unchanged-skip on, read the race's `odds_latest` rows (one index range scan) and
//!    decide here which quotes to keep: comparing in Rust keeps the write free of joins, whose
//!    plan was the difference between ~20 and ~50 ms a job;
//! 2. one statement: the kept quotes grouped by pool here into one `odds_polls` row each (a
//!    pool with no kept quote gets no row), each pool's selections and prices bound as a
//!    parameter pair of its own, in binary ([`Selections`] encodes the 2-D array; grouping flat
//!    quote columns in the statement gave 1.4–2× less throughput, array literals cost the
//!    server their parsing, BENCHMARKS.md "Odds as poll rows"); `odds_latest`
//!    updated in place by row id (HOT, no index work) or inserted for new selections, from flat
//!    `UNNEST` columns of just those quotes; and the race's odds bookkeeping. With the skip off
//!    that is the only round trip.
//!
//! Idempotence without `ON CONFLICT` on the common path: `races.odds_captured_at` is the newest
//! capture stored for the race, so a later capture cannot collide with a stored poll row and
//! goes in with a plain insert. Only a job written again, or late, takes the other path: the
//! kept quotes not yet stored for that capture are merged into the pool's row (`ON CONFLICT DO
//! UPDATE`), so a selection is stored once per capture, exactly as with one row per selection,
//! and a replay of the same output changes nothing.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::error::{Result, StoreError, db};
use super::polls::Selections;
use super::rows::{RaceId, Rows, SelectionKey, legs};
use crate::json::POOL_CODES as POOLS;
use crate::plugins::wit::Quote;

/// How odds are written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mode {
    /// Store every quote, changed or not (the final poll, or the skip switched off).
    pub keep_all: bool,
    /// The skip is on: maintain `odds_latest`.
    pub maintain_latest: bool,
}

/// What one odds write did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct OddsWritten {
    pub inserted: u64,
    pub skipped_unchanged: u64,
}

/// One quote of a race: the selection's key and the quote.
type Quoted<'a> = (SelectionKey<'a>, Quote);

pub(crate) async fn write(
    conn: &mut PgConnection,
    rows: &Rows<'_>,
    captured_at: DateTime<Utc>,
    mode: Mode,
) -> Result<OddsWritten> {
    let mut total = OddsWritten::default();
    // Sorted by race, then pool and selection (`Rows::of`).
    for quotes in rows.odds.chunk_by(|a, b| a.0.0 == b.0.0) {
        let race = quotes[0].0.0;
        let written = write_race(conn, &race, quotes, captured_at, mode).await?;
        total.inserted += written.inserted;
        total.skipped_unchanged += written.skipped_unchanged;
    }
    Ok(total)
}

/// A selection's `odds_latest` row.
struct Latest {
    /// The row's `ctid`, as text, for an update that needs no index lookup.
    tid: String,
    price: Option<f64>,
    capped: bool,
    captured_at: DateTime<Utc>,
}

/// What happens to `odds_latest` for a kept quote.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LatestAction {
    Leave = 0,
    Update = 1,
    Insert = 2,
}

async fn write_race(
    conn: &mut PgConnection,
    race: &RaceId<'_>,
    quotes: &[Quoted<'_>],
    captured_at: DateTime<Utc>,
    mode: Mode,
) -> Result<OddsWritten> {
    let at = || format!("writing odds of {} {} race {}", race.track, race.date, race.number);
    let (latest, valid_from) =
        if mode.maintain_latest { read_latest(conn, race).await.map_err(db(at()))? } else { (HashMap::new(), None) };

    let mut polls = Polls::default();
    let mut batch = Batch::default();
    let mut skipped = 0;
    for ((_, pool, selection), quote) in quotes {
        let (price, capped) = match *quote {
            Quote::Price(p) => (Some(p), false),
            Quote::Capped => (None, true),
        };
        let current = if latest.is_empty() { None } else { latest.get(&latest_key(pool, selection)) };
        // Equality with a newer (or this very) capture says nothing about this moment, and a
        // latest older than the last write without the skip may be stale.
        let comparable =
            current.filter(|l| l.captured_at < captured_at && valid_from.is_none_or(|v| l.captured_at >= v));
        if !mode.keep_all && comparable.is_some_and(|l| l.price == price && l.capped == capped) {
            skipped += 1;
            continue;
        }
        let action = match current {
            _ if !mode.maintain_latest => LatestAction::Leave,
            None => LatestAction::Insert,
            Some(l) if l.captured_at < captured_at => LatestAction::Update,
            Some(_) => LatestAction::Leave,
        };
        polls.push(pool, selection, price)?;
        if action != LatestAction::Leave {
            batch.push(pool, selection, price, capped, action, current.map(|l| l.tid.as_str()));
        }
    }

    if polls.quotes == 0 {
        return Ok(OddsWritten { inserted: 0, skipped_unchanged: skipped });
    }
    let Polls { selections, prices, .. } = polls;
    // The common case, a capture newer than any stored for the race, first with the lean
    // statement; it writes nothing when the capture is not new, and the full one follows.
    let mut written = (0, 0);
    for sql in [WRITE_NEW, WRITE] {
        let mut query = sqlx::query_as(sql)
            .bind(race.track)
            .bind(race.date)
            .bind(race.number)
            .bind(captured_at)
            .bind(!mode.maintain_latest);
        for s in &selections {
            query = query.bind(s);
        }
        for p in &prices {
            query = query.bind(p);
        }
        let (done, inserted, updated): (bool, i64, i64) = query
            .bind(&batch.pool)
            .bind(&batch.s1)
            .bind(&batch.s2)
            .bind(&batch.s3)
            .bind(&batch.price)
            .bind(&batch.capped)
            .bind(&batch.action)
            .bind(&batch.tid)
            .fetch_one(&mut *conn)
            .await
            .map_err(db(at()))?;
        if done {
            written = (inserted, updated);
            break;
        }
    }
    let (inserted, updated) = written;
    let expected = batch.action.iter().filter(|a| **a == LatestAction::Update as i16).count();
    if updated as usize != expected {
        // Cannot happen while every odds writer goes through here (the race row lock serialises
        // them); a retry of the job reads the table afresh.
        return Err(StoreError::Database {
            context: format!("{}: odds_latest changed while it was being updated", at()),
            source: sqlx::Error::RowNotFound,
        });
    }
    Ok(OddsWritten { inserted: inserted as u64, skipped_unchanged: skipped })
}

/// The race's `odds_latest` rows by pool and selection, and `races.odds_latest_valid_from`, in
/// one round trip (the race row always exists: the races upsert made it).
async fn read_latest(conn: &mut PgConnection, race: &RaceId<'_>) -> sqlx::Result<(LatestRows, Option<DateTime<Utc>>)> {
    let rows: Vec<LatestRow> = sqlx::query_as(
        "SELECT r.odds_latest_valid_from AS valid_from, l.pool, l.selection, l.price, l.capped, l.captured_at,
                l.ctid::text AS tid
         FROM races r
         LEFT JOIN odds_latest l
             ON l.track = r.track AND l.race_date = r.race_date AND l.race_number = r.race_number
         WHERE r.track = $1 AND r.race_date = $2 AND r.race_number = $3",
    )
    .bind(race.track)
    .bind(race.date)
    .bind(race.number)
    .fetch_all(conn)
    .await?;
    let valid_from = rows.first().and_then(|r| r.valid_from);
    let latest = rows
        .into_iter()
        .filter_map(|r| {
            let latest = Latest { tid: r.tid?, price: r.price, capped: r.capped?, captured_at: r.captured_at? };
            Some((stored_key(&r.pool?, &r.selection?)?, latest))
        })
        .collect();
    Ok((latest, valid_from))
}

type LatestRows = HashMap<LatestKey, Latest>;

/// A selection of a race as a small copyable key: the pool's place in [`POOLS`] and the runner
/// numbers, padded with zeros (a pool's selections are all of one width, and no runner is 0).
type LatestKey = (usize, [u8; 3]);

fn latest_key(pool: &str, selection: &[u8]) -> LatestKey {
    let mut runners = [0; 3];
    for (slot, n) in runners.iter_mut().zip(selection) {
        *slot = *n;
    }
    (POOLS.iter().position(|p| *p == pool).unwrap_or(POOLS.len()), runners)
}

/// The key of a stored `odds_latest` row; `None` for a row no job can have written (a pool
/// outside [`POOLS`], a runner number outside 1–255 or more than three): the job's insert of
/// that selection then fails on the table's key and says so.
fn stored_key(pool: &str, selection: &[i16]) -> Option<LatestKey> {
    let runners: Vec<u8> = selection.iter().map(|n| u8::try_from(*n).ok()).collect::<Option<_>>()?;
    let key = latest_key(pool, &runners);
    (key.0 < POOLS.len() && runners.len() <= 3).then_some(key)
}

/// A row of [`read_latest`]'s query; the `odds_latest` columns are null when it has none.
#[derive(sqlx::FromRow)]
struct LatestRow {
    valid_from: Option<DateTime<Utc>>,
    pool: Option<String>,
    selection: Option<Vec<i16>>,
    price: Option<f64>,
    capped: Option<bool>,
    captured_at: Option<DateTime<Utc>>,
    tid: Option<String>,
}

/// The kept quotes of one race whose `odds_latest` row changes, as columns.
#[derive(Default)]
struct Batch<'a> {
    pool: Vec<&'static str>,
    s1: Vec<i16>,
    s2: Vec<Option<i16>>,
    s3: Vec<Option<i16>>,
    price: Vec<Option<f64>>,
    capped: Vec<bool>,
    action: Vec<i16>,
    tid: Vec<Option<&'a str>>,
}

impl<'a> Batch<'a> {
    fn push(
        &mut self,
        pool: &'static str,
        selection: &[u8],
        price: Option<f64>,
        capped: bool,
        action: LatestAction,
        tid: Option<&'a str>,
    ) {
        let (a, b, c) = legs(selection);
        self.pool.push(pool);
        self.s1.push(a);
        self.s2.push(b);
        self.s3.push(c);
        self.price.push(price);
        self.capped.push(capped);
        self.action.push(action as i16);
        self.tid.push(tid);
    }
}

/// The kept quotes of one race as poll rows: for each of [`POOLS`], its selections and their
/// prices (`None`: capped), in selection order, or `None` when the pool has no kept quote.
/// Bound as a parameter pair per pool, in binary, so the server parses no text (as array
/// literals, parsing was about a quarter of the statement's time).
#[derive(Default)]
struct Polls {
    selections: [Option<Selections>; POOLS.len()],
    prices: [Option<Vec<Option<f64>>>; POOLS.len()],
    quotes: usize,
}

impl Polls {
    /// Quotes arrive sorted by pool and selection (`Rows::of`), so each pool's stay in order.
    fn push(&mut self, pool: &str, selection: &[u8], price: Option<f64>) -> Result<()> {
        let slot = POOLS.iter().position(|p| *p == pool).ok_or_else(|| StoreError::Database {
            context: format!("writing odds: pool {pool} has no place in odds_polls"),
            source: sqlx::Error::RowNotFound,
        })?;
        let selections = self.selections[slot].get_or_insert_with(|| Selections::with_width(selection.len(), 64));
        selections.push(selection);
        self.prices[slot].get_or_insert_with(|| Vec::with_capacity(64)).push(price);
        self.quotes += 1;
        Ok(())
    }
}

/// The parts [`WRITE_NEW`] and [`WRITE`] share, as macros so that `concat!` builds both
/// statements at compile time. `race`: whether the capture is newer than every stored one.
macro_rules! race_cte {
    () => {
        "race AS (
        SELECT odds_captured_at IS NULL OR odds_captured_at < $4 AS new_capture
        FROM races WHERE track = $1 AND race_date = $2 AND race_number = $3
    )"
    };
}

/// `polls`: the poll rows, one per pool with a parameter pair that is not null.
macro_rules! polls_cte {
    () => {
        "polls AS (
        SELECT pool::pool_code AS pool, selections, prices
        FROM (VALUES ('WIN', $6::int2[], $14::float8[]), ('PLC', $7::int2[], $15::float8[]),
                     ('QNL', $8::int2[], $16::float8[]), ('EXA', $9::int2[], $17::float8[]),
                     ('QPL', $10::int2[], $18::float8[]), ('TLA', $11::int2[], $19::float8[]),
                     ('TRI', $12::int2[], $20::float8[]), ('XLA', $13::int2[], $21::float8[]))
             AS p(pool, selections, prices)
        WHERE selections IS NOT NULL
    )"
    };
}

/// `inserted`: the poll rows of a new capture, a plain insert.
macro_rules! inserted_cte {
    () => {
        "inserted AS (
        INSERT INTO odds_polls (track, race_date, race_number, pool, captured_at, selections, prices)
        SELECT $1, $2, $3, pool, $4, selections, prices FROM polls
        WHERE (SELECT new_capture FROM race)
        RETURNING cardinality(prices) AS n
    )"
    };
}

/// The body of `latest`: the kept quotes whose `odds_latest` row changes.
macro_rules! latest_rows {
    () => {
        "SELECT pool, array_remove(ARRAY[s1, s2, s3], NULL) AS selection, price, capped, action, tid
        FROM UNNEST($22::text[], $23::int2[], $24::int2[], $25::int2[], $26::float8[], $27::bool[],
                    $28::int2[], $29::text[]) AS u(pool, s1, s2, s3, price, capped, action, tid)"
    };
}

/// `moved` and `added`: `odds_latest` updated in place by row id, or inserted.
macro_rules! latest_ctes {
    () => {
        "moved AS (
        UPDATE odds_latest l SET price = i.price, capped = i.capped, captured_at = $4
        FROM latest i
        WHERE i.action = 1 AND l.ctid = i.tid::tid
        RETURNING 1
    ),
    added AS (
        INSERT INTO odds_latest (track, race_date, race_number, pool, selection, price, capped, captured_at)
        SELECT $1, $2, $3, pool::pool_code, selection, price, capped, $4 FROM latest WHERE action = 2
    )"
    };
}

/// Step 2 for a capture newer than every stored one of the race (every live poll): the poll
/// rows, `odds_latest` and the bookkeeping, as [`WRITE`] does on that path, without the replay
/// path's parts, which cost their planning and execution on every write (~15% of the store's
/// throughput). Parameters and result as in [`WRITE`]; the first column says whether the
/// capture was new (else nothing was written and [`WRITE`] follows).
const WRITE_NEW: &str = concat!(
    "
    WITH ",
    race_cte!(),
    ",
    ",
    polls_cte!(),
    ",
    ",
    inserted_cte!(),
    ",
    latest AS (
        ",
    latest_rows!(),
    "
        WHERE (SELECT new_capture FROM race)
    ),
    ",
    latest_ctes!(),
    ",
    bookkeeping AS (
        UPDATE races SET
            odds_captured_at = $4,
            odds_latest_valid_from = CASE WHEN $5 THEN GREATEST(odds_latest_valid_from, $4)
                                          ELSE odds_latest_valid_from END
        WHERE track = $1 AND race_date = $2 AND race_number = $3 AND (SELECT new_capture FROM race)
    )
    SELECT coalesce((SELECT new_capture FROM race), false),
           (SELECT coalesce(sum(n), 0) FROM inserted), (SELECT count(*) FROM moved)"
);

/// Step 2. `$1`–`$3` the race, `$4` the capture time, `$5` whether this write leaves
/// `odds_latest` alone, `$6`–`$13` the poll rows' selections and `$14`–`$21` their prices, one
/// pair per pool in the order of [`POOLS`] (null: no row for that pool), `$22`–`$29` the kept
/// quotes whose `odds_latest` row is updated (by row id) or inserted. Every part reads the
/// statement's one snapshot, so `race` sees the bookkeeping, and `fresh` and `merged` the
/// stored polls, as they were before. `inserted` is the common path (a new capture);
/// `quotes`/`fresh`/`merged`/`inserted_again` the replay path, which stores the quotes this
/// capture lacks and reports how many (a plain replay: none, and no row is touched). Returns
/// `true` (written), the quotes inserted and the `odds_latest` rows updated.
const WRITE: &str = concat!(
    "
    WITH ",
    polls_cte!(),
    ",
    latest AS (
        ",
    latest_rows!(),
    "
    ),
    ",
    race_cte!(),
    ",
    ",
    inserted_cte!(),
    ",
    quotes AS (
        SELECT p.pool, array_remove(ARRAY[p.selections[i][1], p.selections[i][2], p.selections[i][3]], NULL)
                   AS selection,
               p.prices[i] AS price
        FROM polls p, generate_subscripts(p.prices, 1) AS i
        WHERE NOT (SELECT new_capture FROM race)
    ),
    fresh AS (
        SELECT q.pool, q.selection, q.price FROM quotes q
        WHERE NOT EXISTS (
            SELECT FROM odds_snapshots s
            WHERE s.track = $1 AND s.race_date = $2 AND s.race_number = $3 AND s.captured_at = $4
              AND s.pool = q.pool AND s.selection = q.selection)
    ),
    merged AS (
        SELECT pool, array_agg(selection ORDER BY selection) AS selections,
               array_agg(price ORDER BY selection) AS prices
        FROM (
            SELECT pool, selection, price FROM fresh
            UNION ALL
            SELECT s.pool, s.selection, s.price FROM odds_snapshots s
            WHERE NOT (SELECT new_capture FROM race)
              AND s.track = $1 AND s.race_date = $2 AND s.race_number = $3 AND s.captured_at = $4
              AND s.pool IN (SELECT pool FROM fresh)
        ) AS u
        GROUP BY pool
    ),
    inserted_again AS (
        INSERT INTO odds_polls (track, race_date, race_number, pool, captured_at, selections, prices)
        SELECT $1, $2, $3, pool, $4, selections, prices FROM merged
        ON CONFLICT (track, race_date, race_number, pool, captured_at)
            DO UPDATE SET selections = EXCLUDED.selections, prices = EXCLUDED.prices
    ),
    ",
    latest_ctes!(),
    ",
    bookkeeping AS (
        UPDATE races SET
            odds_captured_at = GREATEST(odds_captured_at, $4),
            odds_latest_valid_from = CASE WHEN $5 THEN GREATEST(odds_latest_valid_from, $4)
                                          ELSE odds_latest_valid_from END
        WHERE track = $1 AND race_date = $2 AND race_number = $3
          AND (odds_captured_at IS NULL OR odds_captured_at < $4
               OR ($5 AND (odds_latest_valid_from IS NULL OR odds_latest_valid_from < $4)))
    )
    SELECT true, (SELECT coalesce(sum(n), 0) FROM inserted) + (SELECT count(*) FROM fresh),
           (SELECT count(*) FROM moved)"
);
