//! One version's readings of the archive written through the store, as the live jobs wrote
//! them.
//!
//! Responses are grouped into runs: the responses of one job run share its operation and its
//! capture time (the archive's `captured_at`, see `store/archive.rs`). A run is written as its
//! job's output was — its records in one write, stamped with its capture time
//! ([`Store::write_replayed`]) — unless the last response to one of its requests failed: the
//! live job failed there and wrote nothing (a failure a retry within the run got past does not
//! count). Runs are written in capture order, in one transaction: a dry run rolls it back, so
//! it reports exactly what a replay would write.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

use super::Parsed;
use super::archive::{Archive, Range, ReplayError, Response};
use crate::plugins::Plugin;
use crate::plugins::wit::Record;
use crate::store::{JobOutput, Store, StoreError, WriteStats};

/// Examples of refused runs a report keeps.
const REFUSED_EXAMPLES: usize = 5;

/// What a replay did (or, dry, would do).
#[derive(Debug, Clone, Serialize)]
pub struct ReplayReport {
    pub source: String,
    pub from: String,
    pub to: String,
    /// `name version`.
    pub plugin: String,
    pub dry_run: bool,
    /// Responses parsed.
    pub responses: u64,
    /// Responses archived without their operation and request (before migrations/0011): skipped.
    pub unrecorded: u64,
    /// Job runs found, and of those written.
    pub runs: u64,
    pub runs_written: u64,
    /// Responses the plugin failed on, by kind.
    pub failed: BTreeMap<String, u64>,
    /// Runs whose output the store refused (a record broke the contract), with why.
    pub refused: u64,
    pub refused_examples: Vec<String>,
    /// Rows inserted or changed per table (odds: snapshots stored, and quotes skipped as
    /// unchanged since the previous capture).
    pub tables: Tables,
}

/// Rows inserted or changed, per table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Tables {
    pub races: u64,
    pub entries: u64,
    pub scratches: u64,
    pub odds: u64,
    pub odds_skipped_unchanged: u64,
    pub results: u64,
    pub dividends: u64,
}

impl Tables {
    fn add(&mut self, s: WriteStats) {
        self.races += s.races;
        self.entries += s.entries;
        self.scratches += s.scratches;
        self.odds += s.odds_inserted;
        self.odds_skipped_unchanged += s.odds_skipped_unchanged;
        self.results += s.results;
        self.dividends += s.dividends;
    }

    /// Rows written in all, unchanged odds quotes aside.
    pub fn written(&self) -> u64 {
        self.races + self.entries + self.scratches + self.odds + self.results + self.dividends
    }
}

/// Parses every archived response of `range` with `plugin` and writes the records through
/// `store`, refusing records for tracks outside `tracks` as the worker does. With `dry_run`
/// nothing is kept.
pub async fn replay(
    store: &Store,
    plugin: &Plugin,
    range: &Range,
    tracks: &[String],
    dry_run: bool,
) -> Result<ReplayReport, ReplayError> {
    let mut report = ReplayReport {
        source: range.source.clone(),
        from: range.from.to_string(),
        to: range.to.to_string(),
        plugin: plugin.label().to_string(),
        dry_run,
        responses: 0,
        unrecorded: 0,
        runs: 0,
        runs_written: 0,
        failed: BTreeMap::new(),
        refused: 0,
        refused_examples: Vec::new(),
        tables: Tables::default(),
    };
    let db = |context: &str| {
        let context = context.to_string();
        move |source| ReplayError::Database { context, source }
    };
    let mut tx = store.begin().await.map_err(db("starting the replay's transaction"))?;
    let mut writer = Writer { store, plugin, tracks, tx: &mut tx, report: &mut report };
    let mut archive = Archive::new(store.pool(), range);
    // The responses of one capture time, each with its reading.
    let mut pending: Vec<(Response, Parsed)> = Vec::new();
    while let Some(r) = archive.next().await? {
        if pending.first().is_some_and(|(p, _)| p.captured_at != r.captured_at) {
            writer.capture(std::mem::take(&mut pending)).await?;
        }
        let parsed = Parsed::of(plugin.parse_watched(&r.operation, &r.request, r.response.clone()).await);
        pending.push((r, parsed));
    }
    writer.capture(pending).await?;
    report.unrecorded = archive.unrecorded;
    archive.check_found()?;
    if dry_run {
        tx.rollback().await.map_err(db("rolling the dry run back"))?;
    } else {
        tx.commit().await.map_err(db("committing the replay"))?;
    }
    Ok(report)
}

struct Writer<'a, 't> {
    store: &'a Store,
    plugin: &'a Plugin,
    tracks: &'a [String],
    tx: &'a mut sqlx::Transaction<'t, sqlx::Postgres>,
    report: &'a mut ReplayReport,
}

impl Writer<'_, '_> {
    /// Writes the runs of one capture time: its responses grouped by operation, in the order
    /// each operation first appears.
    async fn capture(&mut self, responses: Vec<(Response, Parsed)>) -> Result<(), ReplayError> {
        let mut runs: Vec<(Value, Vec<(Response, Parsed)>)> = Vec::new();
        for (r, parsed) in responses {
            self.report.responses += 1;
            if let Parsed::Failed { kind, .. } = &parsed {
                *self.report.failed.entry(kind.to_string()).or_default() += 1;
            }
            match runs.iter_mut().find(|(op, _)| *op == r.operation_json) {
                Some((_, run)) => run.push((r, parsed)),
                None => runs.push((r.operation_json.clone(), vec![(r, parsed)])),
            }
        }
        for (_, run) in runs {
            self.run(&run).await?;
        }
        Ok(())
    }

    /// Writes one run's records unless the last answer to one of its requests failed.
    async fn run(&mut self, run: &[(Response, Parsed)]) -> Result<(), ReplayError> {
        self.report.runs += 1;
        let failed = run.iter().enumerate().any(|(i, (r, parsed))| {
            let last = !run[i + 1..].iter().any(|(later, _)| later.request_json == r.request_json);
            last && matches!(parsed, Parsed::Failed { .. })
        });
        if failed {
            return Ok(());
        }
        let records: Vec<Record> = run.iter().flat_map(|(_, p)| p.records().iter().cloned()).collect();
        let (first, _) = &run[0];
        let captured_at: DateTime<Utc> = first.captured_at;
        let output = JobOutput {
            plugin: self.plugin.label(),
            tracks: self.tracks,
            asked: Some(&first.operation),
            records: &records,
            captured_at,
            final_odds: false,
        };
        match self.store.write_replayed(self.tx, &output).await {
            Ok(stats) => {
                self.report.runs_written += 1;
                self.report.tables.add(stats);
                Ok(())
            }
            Err(e @ StoreError::Invalid { .. }) => {
                self.report.refused += 1;
                if self.report.refused_examples.len() < REFUSED_EXAMPLES {
                    self.report.refused_examples.push(format!("raw_responses row {}: {e}", first.id));
                }
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }
}
