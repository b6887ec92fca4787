//! Two versions of a plugin over the same archived responses: what each read, and how the
//! readings differ record by record.
//!
//! Each response is compared on its own (a day of odds polls quotes the same selection many
//! times, at different prices). Within a response a record is identified as the store keys its
//! row — the race key for races; race and number for entries and scratches; race and runner
//! (number, else id or name) for results; race, pool and selection for odds and dividends — and
//! a record both versions read with different content is changed. When the new version fails on
//! a response the old one read, the old records are removed, and the response is a new failure.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;

use super::Parsed;
use super::archive::{Archive, Range, ReplayError};
use crate::json;
use crate::plugins::Plugin;
use crate::plugins::wit::{RaceKey, Record};

/// The tables a record lands in, in the order reports list them.
pub(crate) const TABLES: [&str; 6] = ["races", "entries", "scratches", "odds", "results", "dividends"];

/// The comparison of two versions over a range.
#[derive(Debug, Clone, Serialize)]
pub struct DiffReport {
    pub source: String,
    pub from: String,
    pub to: String,
    /// Responses parsed by both versions.
    pub responses: u64,
    /// Responses archived without their operation and request (before migrations/0011): skipped.
    pub unrecorded: u64,
    pub old: Side,
    pub new: Side,
    /// One per table, in the order of the schema.
    pub tables: Vec<TableDiff>,
    /// Responses the old version read (records or "no data yet") and the new one failed on.
    pub new_failures: Vec<NewFailure>,
}

/// How one version fared.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Side {
    /// `name version`.
    pub plugin: String,
    /// Responses read (with records or without).
    pub read: u64,
    /// Responses answered "no data yet".
    pub no_data: u64,
    /// Responses it failed on, by kind (`malformed`, `plugin_fault`, …).
    pub failed: BTreeMap<String, u64>,
}

/// One table's records, compared.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableDiff {
    pub table: &'static str,
    /// Records each version read, every response counted; a price per selection of an odds
    /// board (rows, as the store keeps them).
    pub old_records: u64,
    pub new_records: u64,
    /// Identities only the new version read, only the old, and read by both with different
    /// content.
    pub added: u64,
    pub removed: u64,
    pub changed: u64,
    pub examples: Examples,
}

/// A few of each difference, as the records' JSON (host/src/json.rs).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Examples {
    pub added: Vec<Value>,
    pub removed: Vec<Value>,
    pub changed: Vec<Changed>,
}

/// A record both versions read, as each read it.
#[derive(Debug, Clone, Serialize)]
pub struct Changed {
    pub old: Value,
    pub new: Value,
}

/// A response the old version read and the new one fails on.
#[derive(Debug, Clone, Serialize)]
pub struct NewFailure {
    pub raw_response_id: i64,
    pub url: String,
    pub operation: Value,
    pub kind: String,
    pub message: String,
}

impl DiffReport {
    /// Whether the new version fails on any response the old one read, and on which: what a
    /// version must not do to replace the active one.
    pub fn new_failures(&self) -> &[NewFailure] {
        &self.new_failures
    }

    /// Whether both versions read the same records and fail on the same responses.
    pub fn is_same(&self) -> bool {
        self.new_failures.is_empty()
            && self.old.failed == self.new.failed
            && self.old.no_data == self.new.no_data
            && self.tables.iter().all(|t| t.added == 0 && t.removed == 0 && t.changed == 0)
    }

    /// The diff of `table`.
    pub fn table(&self, table: &str) -> Option<&TableDiff> {
        self.tables.iter().find(|t| t.table == table)
    }
}

/// Parses every archived response of `range` with `old` and `new` and compares the readings;
/// keeps up to `examples` examples of each kind of difference per table.
pub async fn diff(
    pool: &PgPool,
    old: &Plugin,
    new: &Plugin,
    range: &Range,
    examples: usize,
) -> Result<DiffReport, ReplayError> {
    let mut report = DiffReport {
        source: range.source.clone(),
        from: range.from.to_string(),
        to: range.to.to_string(),
        responses: 0,
        unrecorded: 0,
        old: Side { plugin: old.label().to_string(), ..Side::default() },
        new: Side { plugin: new.label().to_string(), ..Side::default() },
        tables: TABLES.iter().map(|t| TableDiff { table: t, ..TableDiff::default() }).collect(),
        new_failures: Vec::new(),
    };
    let mut archive = Archive::new(pool, range);
    while let Some(r) = archive.next().await? {
        let before = Parsed::of(old.parse_watched(&r.operation, &r.request, r.response.clone()).await);
        let after = Parsed::of(new.parse_watched(&r.operation, &r.request, r.response).await);
        report.responses += 1;
        tally(&mut report.old, &before);
        tally(&mut report.new, &after);
        if let (Parsed::Read(_) | Parsed::NoData, Parsed::Failed { kind, message }) = (&before, &after) {
            report.new_failures.push(NewFailure {
                raw_response_id: r.id,
                url: r.url.clone(),
                operation: r.operation_json.clone(),
                kind: kind.to_string(),
                message: message.clone(),
            });
        }
        compare(&mut report.tables, before.records(), after.records(), examples);
    }
    report.unrecorded = archive.unrecorded;
    archive.check_found()?;
    Ok(report)
}

fn tally(side: &mut Side, parsed: &Parsed) {
    match parsed {
        Parsed::Read(_) => side.read += 1,
        Parsed::NoData => side.no_data += 1,
        Parsed::Failed { kind, .. } => *side.failed.entry(kind.to_string()).or_default() += 1,
    }
}

/// Adds one response's two readings to the tables' counts.
fn compare(tables: &mut [TableDiff], old: &[Record], new: &[Record], examples: usize) {
    let (old_by_id, new_by_id) = (identified(old), identified(new));
    for r in old {
        tables[slot(r)].old_records += r.rows() as u64;
    }
    for r in new {
        tables[slot(r)].new_records += r.rows() as u64;
    }
    for (id, (slot, before)) in &old_by_id {
        let t = &mut tables[*slot];
        match new_by_id.get(id) {
            None => {
                t.removed += 1;
                keep(&mut t.examples.removed, before, examples);
            }
            Some((_, after)) if after != before => {
                t.changed += 1;
                if t.examples.changed.len() < examples {
                    t.examples.changed.push(Changed { old: before.clone(), new: after.clone() });
                }
            }
            Some(_) => {}
        }
    }
    for (id, (slot, after)) in &new_by_id {
        if !old_by_id.contains_key(id) {
            let t = &mut tables[*slot];
            t.added += 1;
            keep(&mut t.examples.added, after, examples);
        }
    }
}

fn keep(list: &mut Vec<Value>, value: &Value, examples: usize) {
    if list.len() < examples {
        list.push(value.clone());
    }
}

/// One response's records by identity, each with its table and JSON; a later record with the
/// same identity wins, as in the store.
fn identified(records: &[Record]) -> HashMap<String, (usize, Value)> {
    let mut rows = HashMap::with_capacity(records.len());
    for r in records {
        match r {
            // The store keeps a row per price, so the diff compares prices, not boards.
            Record::Odds(board) => rows.extend(board.prices().map(|(selection, quote)| {
                let id = format!("{} {selection:?}", identity(r));
                (id, (slot(r), json::price(board, selection, quote)))
            })),
            other => {
                rows.insert(identity(other), (slot(other), json::record(other)));
            }
        }
    }
    rows
}

/// The record's table, as a place in [`TABLES`].
fn slot(r: &Record) -> usize {
    match r {
        Record::Race(_) => 0,
        Record::Entry(_) => 1,
        Record::Scratch(_) => 2,
        Record::Odds(_) => 3,
        Record::Result(_) => 4,
        Record::Dividend(_) => 5,
    }
}

/// What the store keys the record's row by, with its table.
fn identity(r: &Record) -> String {
    let race = |k: &RaceKey| format!("{} {} {}", k.track, json::date(&k.date), k.number);
    match r {
        Record::Race(x) => format!("races {}", race(&x.key)),
        Record::Entry(x) => format!("entries {} {}", race(&x.race), x.number),
        Record::Scratch(x) => format!("scratches {} {}", race(&x.race), x.number),
        Record::Odds(x) => format!("odds {} {}", race(&x.race), json::pool(x.pool)),
        Record::Result(x) => format!("results {} {}", race(&x.race), crate::store::runner_key(x)),
        Record::Dividend(x) => format!("dividends {} {} {:?}", race(&x.race), json::pool(x.pool), x.selection),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::wit::{Date, Entry, OddsBoard, Pool, Quote, Scratch};

    fn key(number: u8) -> RaceKey {
        RaceKey { track: "seoul".into(), date: Date { year: 2026, month: 12, day: 5 }, number }
    }

    fn entry(number: u8, weight: f64) -> Record {
        Record::Entry(Entry {
            race: key(1),
            number,
            runner_id: None,
            runner_name: format!("runner {number}"),
            jockey: None,
            jockey_id: None,
            trainer: None,
            trainer_id: None,
            weight_kg: Some(weight),
            rating: None,
            age: None,
            sex: None,
        })
    }

    fn odds(selection: Vec<u8>, price: f64) -> Record {
        Record::Odds(OddsBoard {
            race: key(1),
            pool: Pool::Qnl,
            selections: selection,
            quotes: vec![Quote::Price(price)],
        })
    }

    #[test]
    fn records_compare_by_identity_within_a_response() {
        let mut tables: Vec<TableDiff> =
            TABLES.iter().map(|t| TableDiff { table: t, ..TableDiff::default() }).collect();
        let scratch = Record::Scratch(Scratch { race: key(1), number: 3, reason: None });
        let old = [entry(1, 55.0), entry(2, 54.0), scratch, odds(vec![1, 2], 3.5), odds(vec![1, 3], 8.0)];
        // Entry 2 heavier, entry 4 new, the scratch gone; QNL 1-2 priced anew, 1-3 as before, 2-3 new.
        let new = [
            entry(1, 55.0),
            entry(2, 56.0),
            entry(4, 53.0),
            odds(vec![1, 2], 3.9),
            odds(vec![1, 3], 8.0),
            odds(vec![2, 3], 4.0),
        ];
        compare(&mut tables, &old, &new, 1);
        let counts = |t: &TableDiff| (t.old_records, t.new_records, t.added, t.removed, t.changed);
        assert_eq!(counts(&tables[1]), (2, 3, 1, 0, 1), "entries");
        assert_eq!(counts(&tables[2]), (1, 0, 0, 1, 0), "scratches");
        assert_eq!(counts(&tables[3]), (2, 3, 1, 0, 1), "odds");
        assert_eq!(tables[1].examples.changed[0].new["weight_kg"], 56.0);
        assert_eq!(tables[3].examples.added.len(), 1);
        // The same readings again: counted, and no difference.
        compare(&mut tables, &new, &new, 1);
        assert_eq!(counts(&tables[3]), (5, 6, 1, 0, 1), "odds");
    }
}
