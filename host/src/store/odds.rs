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
//!    pool with no kept quote gets no row), bound as array literals, one element per pool (sqlx
//!    encodes no 2-D arrays; binding the quotes as flat columns and grouping them in the
//!    statement gave 1.4–2× less throughput, BENCHMARKS.md "Odds as poll rows"); `odds_latest`
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

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::error::{Result, StoreError, db};
use super::rows::{RaceId, Rows, legs};
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

/// One quote of a race: pool code, runner numbers, quote.
type Quoted<'a> = (&'static str, &'a [u8], Quote);

pub(crate) async fn write(
    conn: &mut PgConnection,
    rows: &Rows<'_>,
    captured_at: DateTime<Utc>,
    mode: Mode,
) -> Result<OddsWritten> {
    let mut by_race: BTreeMap<RaceId<'_>, Vec<Quoted<'_>>> = BTreeMap::new();
    for ((race, pool, selection), quote) in &rows.odds {
        by_race.entry(*race).or_default().push((pool, selection, *quote));
    }
    let mut total = OddsWritten::default();
    for (race, quotes) in &by_race {
        let written = write_race(conn, race, quotes, captured_at, mode).await?;
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
    for (pool, selection, quote) in quotes {
        let (price, capped) = match *quote {
            Quote::Price(p) => (Some(p), false),
            Quote::Capped => (None, true),
        };
        let current = latest.get(&(pool.to_string(), selection.iter().map(|n| i16::from(*n)).collect::<Vec<_>>()));
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
        polls.push(pool, selection, price);
        if action != LatestAction::Leave {
            batch.push(pool, selection, price, capped, action, current.map(|l| l.tid.as_str()));
        }
    }

    if polls.quotes == 0 {
        return Ok(OddsWritten { inserted: 0, skipped_unchanged: skipped });
    }
    let (pools, selections, prices) = polls.literals();
    // The common case, a capture newer than any stored for the race, first with the lean
    // statement; it writes nothing when the capture is not new, and the full one follows.
    let mut written = (0, 0);
    for sql in [WRITE_NEW, WRITE] {
        let (done, inserted, updated): (bool, i64, i64) = sqlx::query_as(sql)
            .bind(race.track)
            .bind(race.date)
            .bind(race.number)
            .bind(captured_at)
            .bind(!mode.maintain_latest)
            .bind(&pools)
            .bind(&selections)
            .bind(&prices)
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
            Some(((r.pool?, r.selection?), latest))
        })
        .collect();
    Ok((latest, valid_from))
}

type LatestRows = HashMap<(String, Vec<i16>), Latest>;

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

/// A kept quote of a poll: runner numbers and price (`None`: capped).
type PollQuote<'a> = (&'a [u8], Option<f64>);

/// The kept quotes of one race as poll rows, pool by pool, selections in order.
#[derive(Default)]
struct Polls<'a> {
    by_pool: BTreeMap<&'static str, Vec<PollQuote<'a>>>,
    quotes: usize,
}

impl<'a> Polls<'a> {
    fn push(&mut self, pool: &'static str, selection: &'a [u8], price: Option<f64>) {
        self.by_pool.entry(pool).or_default().push((selection, price));
        self.quotes += 1;
    }

    /// One element per pool: its code, its selections as a 2-D array literal (`{{1,2},{1,3}}`)
    /// and its prices as an array literal (`{5.5,NULL}`), in selection order. sqlx encodes no
    /// 2-D arrays, and literals cost the server less than grouping flat columns itself. A
    /// price's `Display` is the shortest text that parses back to the same `f64`.
    fn literals(mut self) -> (Vec<&'static str>, Vec<String>, Vec<String>) {
        use std::fmt::Write;
        let mut pools = Vec::with_capacity(self.by_pool.len());
        let mut selections = Vec::with_capacity(self.by_pool.len());
        let mut prices = Vec::with_capacity(self.by_pool.len());
        for (pool, quotes) in &mut self.by_pool {
            quotes.sort_unstable_by(|a, b| a.0.cmp(b.0));
            let mut s = String::with_capacity(quotes.len() * 8 + 2);
            let mut p = String::with_capacity(quotes.len() * 8 + 2);
            s.push('{');
            p.push('{');
            for (i, (selection, price)) in quotes.iter().enumerate() {
                if i > 0 {
                    s.push(',');
                    p.push(',');
                }
                s.push('{');
                for (j, n) in selection.iter().enumerate() {
                    if j > 0 {
                        s.push(',');
                    }
                    let _ = write!(s, "{n}");
                }
                s.push('}');
                match price {
                    Some(price) => {
                        let _ = write!(p, "{price}");
                    }
                    None => p.push_str("NULL"),
                }
            }
            s.push('}');
            p.push('}');
            pools.push(*pool);
            selections.push(s);
            prices.push(p);
        }
        (pools, selections, prices)
    }
}

/// Step 2 for a capture newer than every stored one of the race (every live poll): the poll
/// rows, `odds_latest` and the bookkeeping, as [`WRITE`] does on that path, without the replay
/// path's parts, which cost their planning and execution on every write (~15% of the store's
/// throughput). Parameters and result as in [`WRITE`]; the first column says whether the
/// capture was new (else nothing was written and [`WRITE`] follows).
const WRITE_NEW: &str = "
    WITH race AS (
        SELECT odds_captured_at IS NULL OR odds_captured_at < $4 AS new_capture
        FROM races WHERE track = $1 AND race_date = $2 AND race_number = $3
    ),
    inserted AS (
        INSERT INTO odds_polls (track, race_date, race_number, pool, captured_at, selections, prices)
        SELECT $1, $2, $3, u.pool::pool_code, $4, u.selections::smallint[], u.prices::float8[]
        FROM UNNEST($6::text[], $7::text[], $8::text[]) AS u(pool, selections, prices)
        WHERE (SELECT new_capture FROM race)
        RETURNING cardinality(prices) AS n
    ),
    latest AS (
        SELECT pool, array_remove(ARRAY[s1, s2, s3], NULL) AS selection, price, capped, action, tid
        FROM UNNEST($9::text[], $10::int2[], $11::int2[], $12::int2[], $13::float8[], $14::bool[],
                    $15::int2[], $16::text[]) AS u(pool, s1, s2, s3, price, capped, action, tid)
        WHERE (SELECT new_capture FROM race)
    ),
    moved AS (
        UPDATE odds_latest l SET price = i.price, capped = i.capped, captured_at = $4
        FROM latest i
        WHERE i.action = 1 AND l.ctid = i.tid::tid
        RETURNING 1
    ),
    added AS (
        INSERT INTO odds_latest (track, race_date, race_number, pool, selection, price, capped, captured_at)
        SELECT $1, $2, $3, pool::pool_code, selection, price, capped, $4 FROM latest WHERE action = 2
    ),
    bookkeeping AS (
        UPDATE races SET
            odds_captured_at = $4,
            odds_latest_valid_from = CASE WHEN $5 THEN GREATEST(odds_latest_valid_from, $4)
                                          ELSE odds_latest_valid_from END
        WHERE track = $1 AND race_date = $2 AND race_number = $3 AND (SELECT new_capture FROM race)
    )
    SELECT coalesce((SELECT new_capture FROM race), false),
           (SELECT coalesce(sum(n), 0) FROM inserted), (SELECT count(*) FROM moved)";

/// Step 2. `$1`–`$3` the race, `$4` the capture time, `$5` whether this write leaves
/// `odds_latest` alone, `$6`–`$8` the poll rows (pool, selections and prices as array
/// literals), `$9`–`$16` the kept quotes whose `odds_latest` row is updated (by row id) or
/// inserted. Every part reads the statement's one snapshot, so `race` sees the bookkeeping, and
/// `fresh` and `merged` the stored polls, as they were before. `inserted` is the common path (a
/// new capture); `quotes`/`fresh`/`merged`/`inserted_again` the replay path, which stores the
/// quotes this capture lacks and reports how many (a plain replay: none, and no row is touched).
/// Returns `true` (written), the quotes inserted and the `odds_latest` rows updated.
const WRITE: &str = "
    WITH polls AS (
        SELECT pool, selections::smallint[] AS selections, prices::float8[] AS prices
        FROM UNNEST($6::text[], $7::text[], $8::text[]) AS u(pool, selections, prices)
    ),
    latest AS (
        SELECT pool, array_remove(ARRAY[s1, s2, s3], NULL) AS selection, price, capped, action, tid
        FROM UNNEST($9::text[], $10::int2[], $11::int2[], $12::int2[], $13::float8[], $14::bool[],
                    $15::int2[], $16::text[]) AS u(pool, s1, s2, s3, price, capped, action, tid)
    ),
    race AS (
        SELECT odds_captured_at IS NULL OR odds_captured_at < $4 AS new_capture
        FROM races WHERE track = $1 AND race_date = $2 AND race_number = $3
    ),
    inserted AS (
        INSERT INTO odds_polls (track, race_date, race_number, pool, captured_at, selections, prices)
        SELECT $1, $2, $3, pool, $4, selections, prices FROM polls
        WHERE (SELECT new_capture FROM race)
        RETURNING cardinality(prices) AS n
    ),
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
    moved AS (
        UPDATE odds_latest l SET price = i.price, capped = i.capped, captured_at = $4
        FROM latest i
        WHERE i.action = 1 AND l.ctid = i.tid::tid
        RETURNING 1
    ),
    added AS (
        INSERT INTO odds_latest (track, race_date, race_number, pool, selection, price, capped, captured_at)
        SELECT $1, $2, $3, pool, selection, price, capped, $4 FROM latest WHERE action = 2
    ),
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
           (SELECT count(*) FROM moved)";
