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
//! 1. with the unchanged-skip on, read the race's latest values (`odds_latest_polls`,
//!    migrations/0006: one row per pool, at most eight, with each selection's newest stored
//!    price and its capture as arrays sorted by selection) and decide here which quotes to keep:
//!    comparing in Rust keeps the write free of joins, whose plan was the difference between ~20
//!    and ~50 ms a job. One walk through a pool's sorted quotes and its sorted stored selections
//!    pairs them up and builds the pool's latest row as this job leaves it;
//! 2. one statement: the kept quotes grouped by pool here into one `odds_polls` row each (a
//!    pool with no kept quote gets no row), each pool's selections and prices bound as a
//!    parameter pair of its own, in binary ([`Selections`] encodes the 2-D array; grouping flat
//!    quote columns in the statement gave 1.4–2× less throughput, array literals cost the
//!    server their parsing, BENCHMARKS.md "Odds as poll rows"); each pool whose latest values
//!    moved written back whole, bound the same way, updated in place by row id (HOT, no index
//!    work) or inserted; and the race's odds bookkeeping. With the skip off that is the only
//!    round trip. The latest values were one row per selection (`odds_latest`, now a view over
//!    the pool rows): with every quote changed that was ~1,400 rows read and updated a job,
//!    which held the skip's worst case to a sixth of the store's throughput without it.
//!
//! Idempotence without `ON CONFLICT` on the common path: `races.odds_captured_at` is the newest
//! capture stored for the race, so a later capture cannot collide with a stored poll row and
//! goes in with a plain insert. Only a job written again, or late, takes the other path: the
//! kept quotes not yet stored for that capture are merged into the pool's row (`ON CONFLICT DO
//! UPDATE`), so a selection is stored once per capture, exactly as with one row per selection,
//! and a replay of the same output changes nothing.

use std::cmp::Ordering;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

use super::error::{Result, StoreError, db};
use super::polls::Selections;
use super::rows::{RaceId, Rows, SelectionKey};
use crate::json::POOL_CODES as POOLS;
use crate::plugins::wit::Quote;

/// How odds are written.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Mode {
    /// Store every quote, changed or not (the final poll, or the skip switched off).
    pub keep_all: bool,
    /// The skip is on: maintain the latest values (`odds_latest_polls`).
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

/// A pool's `odds_latest_polls` row: the newest stored price of each of its selections.
struct LatestPoll {
    /// The row's `ctid`, as text, for an update that needs no index lookup.
    tid: String,
    /// Sorted by selection, as the store writes them.
    selections: Selections,
    /// `prices[i]` is the price of `selections.get(i)`, `None` the display cap.
    prices: Vec<Option<f64>>,
    /// `captured_at[i]`: the capture `prices[i]` was stored from.
    captured_at: Vec<DateTime<Utc>>,
}

/// The race's latest values by pool, in the order of [`POOLS`].
type LatestPolls = [Option<LatestPoll>; POOLS.len()];

async fn write_race(
    conn: &mut PgConnection,
    race: &RaceId<'_>,
    quotes: &[Quoted<'_>],
    captured_at: DateTime<Utc>,
    mode: Mode,
) -> Result<OddsWritten> {
    let at = || format!("writing odds of {} {} race {}", race.track, race.date, race.number);
    let (latest, valid_from) = if mode.maintain_latest {
        read_latest(conn, race).await.map_err(db(at()))?
    } else {
        (Default::default(), None)
    };

    let mut polls = Polls::default();
    let mut next = NextLatest::default();
    let mut skipped = 0;
    for pool_quotes in quotes.chunk_by(|a, b| a.0.1 == b.0.1) {
        let slot = pool_slot(pool_quotes[0].0.1)?;
        let stored = latest[slot].as_ref();
        let pool = Compared { slot, stored, captured_at, valid_from, mode };
        let (pool_skipped, merged) = pool.compare(pool_quotes, &mut polls);
        skipped += pool_skipped;
        if let Some(merged) = merged {
            next.push(slot, merged, stored.map(|s| s.tid.as_str()));
        }
    }

    if polls.quotes == 0 {
        return Ok(OddsWritten { inserted: 0, skipped_unchanged: skipped });
    }
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
        for s in &polls.selections {
            query = query.bind(s);
        }
        for p in &polls.prices {
            query = query.bind(p);
        }
        for s in &next.selections {
            query = query.bind(s);
        }
        for p in &next.prices {
            query = query.bind(p);
        }
        for c in &next.captured_at {
            query = query.bind(c);
        }
        for t in next.tid {
            query = query.bind(t);
        }
        let (done, inserted, updated): (bool, i64, i64) = query.fetch_one(&mut *conn).await.map_err(db(at()))?;
        if done {
            written = (inserted, updated);
            break;
        }
    }
    let (inserted, updated) = written;
    let expected = next.tid.iter().flatten().count();
    if updated as usize != expected {
        // Cannot happen while every odds writer goes through here (the race row lock serialises
        // them); a retry of the job reads the table afresh.
        return Err(StoreError::Database {
            context: format!("{}: odds_latest_polls changed while it was being updated", at()),
            source: sqlx::Error::RowNotFound,
        });
    }
    Ok(OddsWritten { inserted: inserted as u64, skipped_unchanged: skipped })
}

/// One pool of a race's quotes, compared with its stored latest row.
struct Compared<'a> {
    /// The pool's place in [`POOLS`].
    slot: usize,
    stored: Option<&'a LatestPoll>,
    captured_at: DateTime<Utc>,
    valid_from: Option<DateTime<Utc>>,
    mode: Mode,
}

impl Compared<'_> {
    /// Puts the quotes to store into `polls` and returns how many were skipped as unchanged, and
    /// the pool's latest row as this job leaves it (`None`: as it is, or not maintained). Both
    /// the quotes (`Rows::of`) and the stored selections are sorted by selection, so one walk
    /// through both finds each quote's latest.
    fn compare(&self, quotes: &[Quoted<'_>], polls: &mut Polls) -> (u64, Option<Merged>) {
        let Compared { slot, stored, captured_at, valid_from, mode } = *self;
        let mut merged = mode.maintain_latest.then(|| Merged::with_width(quotes[0].0.2.len(), stored));
        let mut skipped = 0;
        // The next stored selection not yet walked past.
        let mut i = 0;
        for ((_, _, selection), quote) in quotes {
            let price = match *quote {
                Quote::Price(p) => Some(p),
                Quote::Capped => None,
            };
            let current = loop {
                let Some((stored, found)) = stored.and_then(|s| Some((s, s.selections.get(i)?))) else { break None };
                match found.iter().copied().cmp(selection.iter().map(|n| i16::from(*n))) {
                    Ordering::Less => {
                        // A stored selection this poll does not quote: it stays as it is.
                        if let Some(m) = merged.as_mut() {
                            m.keep(stored, i);
                        }
                        i += 1;
                    }
                    Ordering::Equal => break Some((stored, i)),
                    Ordering::Greater => break None,
                }
            };
            let latest_at = current.map(|(s, i)| s.captured_at[i]);
            // Equality with a newer (or this very) capture says nothing about this moment, and a
            // latest older than the last write without the skip may be stale.
            let comparable = latest_at.is_some_and(|l| l < captured_at && valid_from.is_none_or(|v| l >= v));
            let skip = !mode.keep_all && comparable && current.is_some_and(|(s, i)| s.prices[i] == price);
            if let Some(m) = merged.as_mut() {
                match current {
                    // The latest moves forward only, never back to a late job's capture.
                    Some((stored, i)) if skip || latest_at.is_some_and(|l| l >= captured_at) => m.keep(stored, i),
                    Some(_) => m.set(selection, price, captured_at),
                    None => m.add(selection, price, captured_at),
                }
            }
            if current.is_some() {
                i += 1;
            }
            if skip {
                skipped += 1;
            } else {
                polls.push(slot, selection, price);
            }
        }
        let merged = merged.filter(|m| m.changed).map(|mut m| {
            if let Some(stored) = stored {
                for rest in i..stored.prices.len() {
                    m.keep(stored, rest);
                }
            }
            m
        });
        (skipped, merged)
    }
}

/// `pool`'s place in [`POOLS`], which orders the statements' parameters.
fn pool_slot(pool: &str) -> Result<usize> {
    POOLS.iter().position(|p| *p == pool).ok_or_else(|| StoreError::Database {
        context: format!("writing odds: pool {pool} has no place in odds_polls"),
        source: sqlx::Error::RowNotFound,
    })
}

/// The race's `odds_latest_polls` rows by pool, and `races.odds_latest_valid_from`, in one
/// round trip (the race row always exists: the races upsert made it). A row of a pool outside
/// [`POOLS`] cannot have been written by a job and is left out.
async fn read_latest(conn: &mut PgConnection, race: &RaceId<'_>) -> sqlx::Result<(LatestPolls, Option<DateTime<Utc>>)> {
    let rows: Vec<LatestRow> = sqlx::query_as(
        "SELECT r.odds_latest_valid_from AS valid_from, l.pool::text AS pool, l.ctid::text AS tid, l.selections,
                l.prices, l.captured_at
         FROM races r
         LEFT JOIN odds_latest_polls l
             ON l.track = r.track AND l.race_date = r.race_date AND l.race_number = r.race_number
         WHERE r.track = $1 AND r.race_date = $2 AND r.race_number = $3",
    )
    .bind(race.track)
    .bind(race.date)
    .bind(race.number)
    .fetch_all(conn)
    .await?;
    let valid_from = rows.first().and_then(|r| r.valid_from);
    let mut latest = LatestPolls::default();
    for (pool, poll) in rows.into_iter().filter_map(LatestRow::poll) {
        if let Ok(slot) = pool_slot(&pool) {
            latest[slot] = Some(poll);
        }
    }
    Ok((latest, valid_from))
}

/// A row of [`read_latest`]'s query; all but `valid_from` are null when the race has no latest.
#[derive(sqlx::FromRow)]
struct LatestRow {
    valid_from: Option<DateTime<Utc>>,
    pool: Option<String>,
    tid: Option<String>,
    selections: Option<Selections>,
    prices: Option<Vec<Option<f64>>>,
    captured_at: Option<Vec<DateTime<Utc>>>,
}

impl LatestRow {
    fn poll(self) -> Option<(String, LatestPoll)> {
        let poll = LatestPoll {
            tid: self.tid?,
            selections: self.selections?,
            prices: self.prices?,
            captured_at: self.captured_at?,
        };
        Some((self.pool?, poll))
    }
}

/// A pool's `odds_latest_polls` row as this job leaves it: the stored selections, each with
/// its stored value or this capture's, and the new selections, in selection order.
struct Merged {
    selections: Selections,
    prices: Vec<Option<f64>>,
    captured_at: Vec<DateTime<Utc>>,
    /// Whether any value differs from the stored row (else the row is not written).
    changed: bool,
    /// Whether it has a selection the stored row lacks (else the stored selections stay).
    added: bool,
}

impl Merged {
    fn with_width(width: usize, stored: Option<&LatestPoll>) -> Self {
        // The stored selections and room for a few new ones.
        let capacity = stored.map_or(64, |s| s.prices.len() + 8);
        Merged {
            selections: Selections::with_width(width, capacity),
            prices: Vec::with_capacity(capacity),
            captured_at: Vec::with_capacity(capacity),
            changed: false,
            added: false,
        }
    }

    /// Stored selection `i` as it is.
    fn keep(&mut self, stored: &LatestPoll, i: usize) {
        if let Some(selection) = stored.selections.get(i) {
            self.selections.push_stored(selection);
            self.prices.push(stored.prices[i]);
            self.captured_at.push(stored.captured_at[i]);
        }
    }

    /// A stored `selection` at this capture.
    fn set(&mut self, selection: &[u8], price: Option<f64>, captured_at: DateTime<Utc>) {
        self.selections.push(selection);
        self.prices.push(price);
        self.captured_at.push(captured_at);
        self.changed = true;
    }

    /// A `selection` the stored row lacks, at this capture.
    fn add(&mut self, selection: &[u8], price: Option<f64>, captured_at: DateTime<Utc>) {
        self.set(selection, price, captured_at);
        self.added = true;
    }
}

/// The `odds_latest_polls` rows this job writes, one per changed pool in the order of
/// [`POOLS`], bound as parameters like the poll rows: `None` where the pool's row stays as it is.
#[derive(Default)]
struct NextLatest<'a> {
    /// `None` also where only prices move: the row keeps its stored selections, whose TOASTed
    /// value PostgreSQL then reuses instead of writing (and compressing) it again.
    selections: [Option<Selections>; POOLS.len()],
    prices: [Option<Vec<Option<f64>>>; POOLS.len()],
    captured_at: [Option<Vec<DateTime<Utc>>>; POOLS.len()],
    /// The stored row's `ctid` (updated in place), or `None` (inserted).
    tid: [Option<&'a str>; POOLS.len()],
}

impl<'a> NextLatest<'a> {
    fn push(&mut self, slot: usize, merged: Merged, tid: Option<&'a str>) {
        self.selections[slot] = (merged.added || tid.is_none()).then_some(merged.selections);
        self.prices[slot] = Some(merged.prices);
        self.captured_at[slot] = Some(merged.captured_at);
        self.tid[slot] = tid;
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
    fn push(&mut self, slot: usize, selection: &[u8], price: Option<f64>) {
        let selections = self.selections[slot].get_or_insert_with(|| Selections::with_width(selection.len(), 64));
        selections.push(selection);
        self.prices[slot].get_or_insert_with(|| Vec::with_capacity(64)).push(price);
        self.quotes += 1;
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

/// The body of `latest`: the race's `odds_latest_polls` rows this job changes, one per pool
/// whose prices are not null, each with the stored row's id (null: a new row) and its
/// selections (null: the stored ones stay).
macro_rules! latest_rows {
    () => {
        "SELECT pool::pool_code AS pool, selections, prices, captured_at, tid
        FROM (VALUES ('WIN', $22::int2[], $30::float8[], $38::timestamptz[], $46::text),
                     ('PLC', $23::int2[], $31::float8[], $39::timestamptz[], $47::text),
                     ('QNL', $24::int2[], $32::float8[], $40::timestamptz[], $48::text),
                     ('EXA', $25::int2[], $33::float8[], $41::timestamptz[], $49::text),
                     ('QPL', $26::int2[], $34::float8[], $42::timestamptz[], $50::text),
                     ('TLA', $27::int2[], $35::float8[], $43::timestamptz[], $51::text),
                     ('TRI', $28::int2[], $36::float8[], $44::timestamptz[], $52::text),
                     ('XLA', $29::int2[], $37::float8[], $45::timestamptz[], $53::text))
             AS l(pool, selections, prices, captured_at, tid)
        WHERE prices IS NOT NULL"
    };
}

/// `moved` and `added`: `odds_latest_polls` rows updated in place by row id, or inserted.
macro_rules! latest_ctes {
    () => {
        "moved AS (
        UPDATE odds_latest_polls l
        SET selections = coalesce(i.selections, l.selections), prices = i.prices, captured_at = i.captured_at
        FROM latest i
        WHERE l.ctid = i.tid::tid
        RETURNING 1
    ),
    added AS (
        INSERT INTO odds_latest_polls (track, race_date, race_number, pool, selections, prices, captured_at)
        SELECT $1, $2, $3, pool, selections, prices, captured_at FROM latest WHERE tid IS NULL
    )"
    };
}

/// Step 2 for a capture newer than every stored one of the race (every live poll): the poll
/// rows, `odds_latest_polls` and the bookkeeping, as [`WRITE`] does on that path, without the
/// replay path's parts, which cost their planning and execution on every write (~15% of the
/// store's throughput). Parameters and result as in [`WRITE`]; the first column says whether the
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
          AND (SELECT new_capture FROM race)
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
/// the latest values alone, `$6`–`$13` the poll rows' selections and `$14`–`$21` their prices,
/// one pair per pool in the order of [`POOLS`] (null: no row for that pool), then in the same
/// order the `odds_latest_polls` rows this job changes: `$22`–`$29` their selections (null: as
/// stored), `$30`–`$37` their prices (null: the row stays as it is), `$38`–`$45` their captures
/// and `$46`–`$53` the stored rows' ids (null: the pool has no row yet). Every part reads the
/// statement's one snapshot, so `race` sees the bookkeeping, and `fresh` and `merged` the
/// stored polls, as they were before. `inserted` is the common path (a new capture);
/// `quotes`/`fresh`/`merged`/`inserted_again` the replay path, which stores the quotes this
/// capture lacks and reports how many (a plain replay: none, and no row is touched). Returns
/// `true` (written), the quotes inserted and the `odds_latest_polls` rows updated.
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
