//! `racelab plugin diff OLD NEW …` and `racelab replay PLUGIN …`: the raw archive parsed again
//! (host/src/replay/). A table for people by default; with `--json` the output contract of
//! `plugin.rs`: one JSON document on stdout, exit 0 on success, 1 on a failure (reason on
//! stderr).

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::Args;
use serde::Serialize;

use crate::plugins::registry::{self, Registry};
use crate::plugins::{CompileCache, Limits, Plugin, Runtime};
use crate::replay::{self, DiffReport, Range, ReplayReport};
use crate::secret::Secret;
use crate::store::{self, Store, StoreConfig};

/// Which archived responses: a source and the KST days they were captured.
#[derive(Debug, Args)]
pub struct Window {
    /// The source whose archive to read: kra or kspo.
    #[arg(long)]
    source: String,
    /// The first KST day of responses fetched, YYYY-MM-DD.
    #[arg(long)]
    from: String,
    /// The last KST day of responses fetched, YYYY-MM-DD (included).
    #[arg(long)]
    to: String,
    /// PostgreSQL URL.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// One JSON document on stdout instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The version compared against (the active one): a component (.wasm).
    old: String,
    /// The version to compare: a component (.wasm).
    new: String,
    #[command(flatten)]
    window: Window,
    /// Examples kept of each kind of difference per table.
    #[arg(long, default_value_t = 3)]
    examples: usize,
}

#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The version whose reading to write: a component (.wasm).
    plugin: String,
    #[command(flatten)]
    window: Window,
    /// Parse and write in a transaction that is rolled back: report what would be written.
    #[arg(long)]
    dry_run: bool,
    /// Store every odds quote, as a host with `store.skip_unchanged_odds = false` does.
    #[arg(long)]
    keep_unchanged_odds: bool,
}

/// The plugin `spec` names: the path of a `.wasm` component, or a version in the plugin
/// registry as `NAME@VERSION` (`racelab plugin list`).
pub(crate) async fn resolve_plugin(runtime: &Runtime, pool: &sqlx::PgPool, spec: &str) -> anyhow::Result<Plugin> {
    let path = Path::new(spec);
    if path.is_file() {
        let bytes = std::fs::read(path).with_context(|| format!("cannot read {spec}"))?;
        return Ok(runtime.load(&bytes, spec)?);
    }
    if let Ok((name, version)) = registry::parse_spec(spec) {
        let registry = Registry::new(pool.clone());
        let id = registry.version_id(&name, &version).await?;
        let (_, _, bytes) = registry.component(id).await?;
        return Ok(runtime.load(&bytes, spec)?);
    }
    bail!(
        "{spec:?} is neither a file nor NAME@VERSION; give the path of a plugin component (.wasm) or a registry version"
    )
}

impl Window {
    fn range(&self) -> anyhow::Result<Range> {
        let date = |flag: &str, text: &str| {
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .with_context(|| format!("{flag} {text:?} is not a date; use YYYY-MM-DD (a KST day)"))
        };
        Ok(Range::new(&self.source, date("--from", &self.from)?, date("--to", &self.to)?)?)
    }

    async fn connect(&self) -> anyhow::Result<sqlx::PgPool> {
        let Some(url) = self.database_url.clone().map(Secret::new) else {
            bail!("DATABASE_URL is not set: export DATABASE_URL=postgres://USER@HOST:5432/DB or pass --database-url");
        };
        Ok(store::connect(url.expose()).await?)
    }
}

/// `racelab plugin diff`.
pub fn diff(runtime: &Runtime, args: DiffArgs) -> anyhow::Result<ExitCode> {
    let range = args.window.range()?;
    let report = super::block_on(async {
        let pool = args.window.connect().await?;
        let old = resolve_plugin(runtime, &pool, &args.old).await.context("OLD")?;
        let new = resolve_plugin(runtime, &pool, &args.new).await.context("NEW")?;
        Ok(replay::diff(&pool, &old, &new, &range, args.examples).await?)
    })?;
    if args.window.json {
        print_json(&report)?;
    } else {
        print!("{}", diff_table(&report));
    }
    Ok(ExitCode::SUCCESS)
}

/// `racelab replay`.
pub fn replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let range = args.window.range()?;
    let runtime = Runtime::new(Limits::default())?.with_cache_dir(&CompileCache::default_dir());
    let tracks = crate::tracks::of_source(&range.source);
    let config = StoreConfig { skip_unchanged_odds: !args.keep_unchanged_odds };
    let report = super::block_on(async {
        let pool = args.window.connect().await?;
        let plugin = resolve_plugin(&runtime, &pool, &args.plugin).await.context("PLUGIN")?;
        let store = Store::new(pool, config);
        Ok(replay::replay(&store, &plugin, &range, &tracks, args.dry_run).await?)
    })?;
    if args.window.json {
        print_json(&report)?;
    } else {
        print!("{}", replay_table(&report));
    }
    Ok(ExitCode::SUCCESS)
}

fn print_json(value: &impl Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

fn failures(failed: &std::collections::BTreeMap<String, u64>) -> String {
    if failed.is_empty() {
        return "none".to_string();
    }
    failed.iter().map(|(kind, n)| format!("{kind} {n}")).collect::<Vec<_>>().join(", ")
}

/// The diff for people: a line per table, the failures, the new failures and the examples.
pub(crate) fn diff_table(r: &DiffReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let _ = writeln!(out, "{} responses fetched {} to {} (KST)", r.source, r.from, r.to);
    let _ = writeln!(out, "old: {}   new: {}", r.old.plugin, r.new.plugin);
    let _ = writeln!(
        out,
        "responses compared: {}; archived without operation and request (skipped): {}",
        r.responses, r.unrecorded
    );
    let _ = writeln!(out);
    let _ = writeln!(out, "{:<10} {:>9} {:>9} {:>8} {:>8} {:>8}", "table", "old", "new", "added", "removed", "changed");
    for t in &r.tables {
        let _ = writeln!(
            out,
            "{:<10} {:>9} {:>9} {:>8} {:>8} {:>8}",
            t.table, t.old_records, t.new_records, t.added, t.removed, t.changed
        );
    }
    let _ = writeln!(out);
    for (name, side) in [("old", &r.old), ("new", &r.new)] {
        let _ =
            writeln!(out, "{name}: read {}, no data {}, failed: {}", side.read, side.no_data, failures(&side.failed));
    }
    let _ = writeln!(
        out,
        "new failures (responses the old version read and the new one fails on): {}",
        r.new_failures.len()
    );
    for f in &r.new_failures {
        let _ = writeln!(out, "  row {} {}: {}: {}", f.raw_response_id, f.url, f.kind, f.message);
    }
    for t in r.tables.iter().filter(|t| t.added + t.removed + t.changed > 0) {
        let _ = writeln!(out, "{} examples:", t.table);
        for v in &t.examples.added {
            let _ = writeln!(out, "  + {v}");
        }
        for v in &t.examples.removed {
            let _ = writeln!(out, "  - {v}");
        }
        for c in &t.examples.changed {
            let _ = writeln!(out, "  ~ {}\n    → {}", c.old, c.new);
        }
    }
    out
}

/// The replay for people: what was read, and the rows written per table.
pub(crate) fn replay_table(r: &ReplayReport) -> String {
    use std::fmt::Write;
    let mut out = String::new();
    let verb = if r.dry_run { "would write (dry run: nothing was kept)" } else { "wrote" };
    let _ = writeln!(out, "{} over {} responses fetched {} to {} (KST)", r.plugin, r.source, r.from, r.to);
    let _ = writeln!(
        out,
        "responses: {} in {} runs, {} written; archived without operation and request (skipped): {}",
        r.responses, r.runs, r.runs_written, r.unrecorded
    );
    let _ = writeln!(out, "failed: {}; refused by the store: {}", failures(&r.failed), r.refused);
    for e in &r.refused_examples {
        let _ = writeln!(out, "  {e}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{verb}:");
    let t = &r.tables;
    for (table, n) in [
        ("races", t.races),
        ("entries", t.entries),
        ("scratches", t.scratches),
        ("odds", t.odds),
        ("results", t.results),
        ("dividends", t.dividends),
    ] {
        let _ = writeln!(out, "  {table:<10} {n:>9}");
    }
    let _ =
        writeln!(out, "  odds quotes unchanged since the previous capture, not stored: {}", t.odds_skipped_unchanged);
    out
}
