//! `racelab backfill`: load past days into the database through the backfill lane
//! (docs/architecture.md, "Backfill"). Configured like `racelab serve` (RACELAB_*). It starts a
//! run, or resumes the unfinished run that asked the same, works it in this process with a
//! progress bar until every slice is done, and leaves nothing behind: a run it does not finish
//! (Ctrl-C, a kill, a quota that needs days) is carried on by the next `racelab backfill` with
//! the same arguments or by any `racelab serve` on the database.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use chrono::{Datelike, NaiveDate};
use clap::Args;

use crate::config::Config;
use crate::daemon::Daemon;
use crate::jobs::Op;
use crate::jobs::backfill::{self, Plan, Request, Status};
use crate::plugins::wit::Operation;

#[derive(Debug, Args)]
pub struct BackfillArgs {
    /// The first day to load (KST), e.g. 2025-12-01.
    #[arg(long, value_name = "DATE", required_unless_present = "status")]
    from: Option<NaiveDate>,
    /// The last day to load (KST), before today.
    #[arg(long, value_name = "DATE", required_unless_present = "status")]
    to: Option<NaiveDate>,
    /// Only this source (`kra` or `kspo`); repeat for several. Default: every configured one.
    #[arg(long, value_name = "SOURCE")]
    source: Vec<String>,
    /// Only these tracks (e.g. `--track seoul busan`). Default: every track of the sources.
    #[arg(long, value_name = "CODE", num_args = 1..)]
    track: Vec<String>,
    /// Operations, comma-separated, of `schedule,entries,odds,results` (odds: the final odds
    /// of every pool). Default: every one each source serves for past days.
    #[arg(long, value_name = "OPS", default_value = "")]
    ops: String,
    /// Print the requests the range needs per dataset and the days they take at the
    /// configured quotas; load nothing.
    #[arg(long, conflicts_with = "status")]
    dry_run: bool,
    /// Print the latest runs and where they stand (from any host); load nothing.
    #[arg(long)]
    status: bool,
}

pub async fn run(args: BackfillArgs) -> anyhow::Result<ExitCode> {
    let config = Config::from_env()?;
    if args.status {
        let pool = crate::store::connect(config.database_url.expose()).await?;
        crate::store::migrate(&pool).await?;
        let runs = backfill::status(&pool, 10).await?;
        if runs.is_empty() {
            println!("no backfill has been asked for on this database");
        }
        for s in runs {
            println!("{}", s.line());
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (Some(from), Some(to)) = (args.from, args.to) else {
        anyhow::bail!("--from and --to are both needed");
    };
    let request = Request { from, to, sources: args.source, tracks: args.track, ops: backfill::parse_ops(&args.ops)? };
    let mut options = super::serve::options(&config)?;
    options.worker_name = options.worker_name.replacen("racelab-", "racelab-backfill-", 1);
    options.live = false;
    let daemon = Daemon::start(&config, options).await?;
    let plan = backfill::resolve(&request, &daemon.planner.sources(), daemon.clock.today())?;
    if args.dry_run {
        print!("{}", dry_run(&daemon, &plan));
        return Ok(ExitCode::SUCCESS);
    }
    let created = daemon.store.ensure_partitions_between(plan.from, plan.to).await?;
    if created > 0 {
        tracing::info!(created, "odds partitions created for the range");
    }
    let (run, new) = backfill::start(&daemon.pool, &daemon.clock, &plan).await?;
    println!(
        "{} backfill #{}: {}..{} ({} days), {} track(s), ops {}",
        if new { "started" } else { "resuming" },
        run.id,
        plan.from,
        plan.to,
        plan.days(),
        plan.tracks.len(),
        plan.ops.join(",")
    );
    work(daemon, &plan, run.id, i64::from(config.jobs.backfill_slices)).await
}

/// Works run `id` in this process until it is finished or a signal stops it.
async fn work(daemon: Daemon, plan: &Plan, id: i64, in_flight: i64) -> anyhow::Result<ExitCode> {
    let (pool, clock, budget) = (daemon.pool.clone(), daemon.clock.clone(), daemon.budget.clone());
    let plans = daemon.planner.sources();
    let datasets = datasets(&daemon, plan);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let interrupted = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = interrupted.clone();
    let running = tokio::spawn(daemon.run(async move {
        tokio::select! {
            () = super::serve::shutdown_signal() => flag.store(true, std::sync::atomic::Ordering::SeqCst),
            _ = stopped => {}
        }
    }));
    let tty = std::io::stderr().is_terminal();
    let bar = tty.then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} slices  {msg}")
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(200));
        bar
    });
    let started = Instant::now();
    let mut last_line = Instant::now() - Duration::from_secs(60);
    let mut finished = None;
    loop {
        if interrupted.load(std::sync::atomic::Ordering::SeqCst) || running.is_finished() {
            break;
        }
        // The daemon's planner moves the run on every second; doing it here as well keeps the
        // workers fed between its ticks.
        if let Err(e) = backfill::top_up(&pool, &clock, &plans, in_flight).await {
            tracing::warn!("planning the backfill failed: {e}; trying again");
        }
        match backfill::status_of(&pool, id).await {
            Ok(Some(status)) => {
                let quota = quota_left(&budget, &datasets).await;
                let message = message(&status, quota.as_ref(), started.elapsed());
                if let Some(bar) = &bar {
                    bar.set_length(status.counts.slices as u64);
                    bar.set_position(status.counts.slices_done as u64);
                    bar.set_message(message);
                } else if last_line.elapsed() >= Duration::from_secs(10) || status.run.finished_at.is_some() {
                    last_line = Instant::now();
                    println!(
                        "backfill #{id}: slices {}/{} · {message}",
                        status.counts.slices_done, status.counts.slices
                    );
                }
                if status.run.finished_at.is_some() {
                    finished = Some(status);
                    break;
                }
            }
            Ok(None) => anyhow::bail!("backfill run #{id} is gone from the database"),
            Err(e) => tracing::warn!("reading the backfill's progress failed: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    if let Some(bar) = &bar {
        bar.finish_and_clear();
    }
    let _ = stop.send(());
    running.await.map_err(|e| anyhow::anyhow!("the host ended abnormally: {e}"))??;
    match finished {
        Some(status) => {
            println!("{}", status.line());
            println!("done in {:.1} s", started.elapsed().as_secs_f64());
            if status.counts.jobs_failed > 0 {
                println!(
                    "{} job(s) failed for good; `racelab retry --all-open` queues them again, and a new \
                     `racelab backfill` over the range asks again for the slices that had them",
                    status.counts.jobs_failed
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        None => {
            println!(
                "backfill #{id} stopped before it finished; what is committed stays. Run the same command again, \
                 or leave it to any `racelab serve` on this database, to go on; `racelab backfill --status` shows it"
            );
            Ok(ExitCode::from(130))
        }
    }
}

/// The datasets a run's sources ask, with the backfill's daily share of each quota.
type Datasets = Vec<(String, String, Option<u32>)>;

fn datasets(daemon: &Daemon, plan: &Plan) -> Datasets {
    let mut out = Vec::new();
    for source in &plan.sources {
        let Some(runtime) = daemon.worker.source(&source.source) else { continue };
        for hint in &runtime.plugin.manifest().datasets {
            let share = daemon.budget.backfill_quota(&source.source, &hint.dataset);
            out.push((source.source.clone(), hint.dataset.clone(), share));
        }
    }
    out
}

/// The tightest dataset today: (name, requests left of backfill's share, the share).
async fn quota_left(budget: &crate::budget::Budget, datasets: &Datasets) -> Option<(String, u32, u32)> {
    let mut tightest: Option<(String, u32, u32)> = None;
    for (source, dataset, share) in datasets {
        let Some(share) = share else { continue };
        let used = budget.used_today(source, dataset).await.ok()?;
        let left = share.saturating_sub(used);
        if tightest.as_ref().is_none_or(|(_, l, _)| left < *l) {
            tightest = Some((format!("{source}/{dataset}"), left, *share));
        }
    }
    tightest
}

/// The progress line after the bar: requests, records, quota left and an ETA — in quota-days
/// at today's pace once backfill's share of a quota is spent, else in time at the pace so far.
fn message(status: &Status, quota: Option<&(String, u32, u32)>, elapsed: Duration) -> String {
    let c = &status.counts;
    let mut parts = vec![format!("{} requests", c.requests), format!("{} records", c.records)];
    if c.jobs_failed > 0 {
        parts.push(format!("{} failed", c.jobs_failed));
    }
    if let Some((name, left, share)) = quota {
        parts.push(format!("quota left today {left}/{share} ({name})"));
    }
    let worked = (c.slices_done - c.slices_skipped).max(0);
    let remaining = (c.slices - c.slices_done).max(0);
    let waiting = c.jobs_queued > 0 && c.jobs_paused == c.jobs_queued;
    if remaining > 0 && waiting {
        let days = remaining as f64 / c.slices_done_today.max(1) as f64;
        parts.push(format!("ETA ~{days:.1} quota-day(s) at today's pace"));
        parts.push("paused: backfill's share of a quota is spent; it goes on after KST midnight".into());
    } else if remaining > 0 && worked > 0 {
        let left = elapsed.as_secs_f64() / worked as f64 * remaining as f64;
        parts.push(format!("ETA {}", short(Duration::from_secs_f64(left))));
    }
    parts.join(" · ")
}

fn short(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 { format!("{}h{:02}m", s / 3600, s % 3600 / 60) } else { format!("{}m{:02}s", s / 60, s % 60) }
}

/// What `--dry-run` prints: the requests the range needs per dataset, from each plugin's own
/// plan of one operation of each kind and the tracks' typical calendars, and the days they take
/// at backfill's share of the configured quotas.
fn dry_run(daemon: &Daemon, plan: &Plan) -> String {
    let mut requests: BTreeMap<(String, String), u64> = BTreeMap::new();
    let mut out = String::new();
    let mut assumptions = Vec::new();
    for source in &plan.sources {
        let Some(runtime) = daemon.worker.source(&source.source) else { continue };
        for (_, track) in plan.tracks.iter().filter(|(s, _)| *s == source.source) {
            let Some(t) = crate::tracks::Track::parse(track) else { continue };
            let (weekdays, races_a_day) = t.typical_calendar();
            let race_days =
                backfill::days(plan.from, plan.to).filter(|d| weekdays.contains(&d.weekday())).count() as u64;
            assumptions.push(format!("{track}: {race_days} race days × ~{races_a_day} races"));
            for op in &source.ops {
                let operation = sample(*op, track, plan.to, &source.pools);
                let times = if *op == Op::Schedule { plan.days() as u64 } else { race_days * u64::from(races_a_day) };
                match runtime.plugin.plan(&operation, &runtime.config) {
                    Ok(planned) => {
                        for request in planned {
                            *requests.entry((source.source.clone(), request.dataset)).or_default() += times;
                        }
                    }
                    Err(e) => assumptions.push(format!("{} {} could not be planned: {e}", source.source, op.as_str())),
                }
            }
        }
    }
    let _ = writeln!(
        out,
        "backfill {}..{} ({} days), {} track(s), ops {}",
        plan.from,
        plan.to,
        plan.days(),
        plan.tracks.len(),
        plan.ops.join(",")
    );
    let _ = writeln!(out, "assumed (typical calendars): {}", assumptions.join("; "));
    let _ = writeln!(
        out,
        "{:<6} {:<24} {:>10} {:>11} {:>15} {:>8}",
        "source", "dataset", "requests", "quota/day", "backfill/day", "days"
    );
    let mut slowest = 0.0f64;
    for ((source, dataset), n) in &requests {
        let limit = daemon.budget.limit_of(source, dataset).daily_quota;
        let share = daemon.budget.backfill_quota(source, dataset);
        let days = share.and_then(|q| backfill::quota_days(*n, u64::from(q)));
        slowest = slowest.max(days.unwrap_or(0.0));
        let _ = writeln!(
            out,
            "{source:<6} {dataset:<24} {n:>10} {:>11} {:>15} {:>8}",
            limit.map_or("none".into(), |q| q.to_string()),
            share.map_or("-".into(), |q| q.to_string()),
            days.map_or("-".into(), |d| format!("{d:.1}")),
        );
    }
    let total: u64 = requests.values().sum();
    let _ = writeln!(
        out,
        "at least {total} requests (pages beyond the first are not counted); about {:.0} day(s) at these quotas, \
         bound by the slowest dataset",
        slowest.ceil().max(if total > 0 { 1.0 } else { 0.0 })
    );
    out
}

/// One operation of kind `op` for `track` on `date`, as a backfill job would ask it.
fn sample(op: Op, track: &str, date: NaiveDate, pools: &[String]) -> Operation {
    op.operation(track, date, 1, None, pools)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::ledger::backfill::{RunCounts, RunRow};

    fn status(counts: RunCounts) -> Status {
        let day = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
        let run = RunRow {
            id: 1,
            from_date: day,
            to_date: day,
            sources: vec!["kra".into()],
            tracks: vec!["seoul".into()],
            ops: vec!["odds".into()],
            requested_at: chrono::DateTime::UNIX_EPOCH,
            finished_at: None,
        };
        Status { run, counts }
    }

    #[test]
    fn the_eta_is_in_time_while_running_and_in_quota_days_once_paused() {
        let running = RunCounts {
            slices: 100,
            slices_done: 30,
            slices_skipped: 10,
            requests: 400,
            records: 900,
            jobs_queued: 12,
            ..RunCounts::default()
        };
        let quota = ("kra/API301".to_string(), 140, 800);
        // 20 slices worked in 60 s: 70 left take 210 s.
        let line = message(&status(running.clone()), Some(&quota), Duration::from_secs(60));
        assert_eq!(line, "400 requests · 900 records · quota left today 140/800 (kra/API301) · ETA 3m30s");
        let paused = RunCounts { jobs_paused: 12, slices_done_today: 20, jobs_failed: 2, ..running };
        let line = message(&status(paused), None, Duration::from_secs(60));
        assert_eq!(
            line,
            "400 requests · 900 records · 2 failed · ETA ~3.5 quota-day(s) at today's pace · paused: backfill's \
             share of a quota is spent; it goes on after KST midnight"
        );
    }

    #[test]
    fn a_sample_operation_is_what_a_backfill_job_asks() {
        let day = NaiveDate::from_ymd_opt(2026, 2, 7).unwrap_or_default();
        let Operation::Odds(q) = sample(Op::OddsFinal, "seoul", day, &["WIN".into(), "TRI".into()]) else {
            panic!("an odds query")
        };
        assert_eq!(
            (q.race.key.track.as_str(), q.race.key.date.day, q.race.key.number, q.pools.len()),
            ("seoul", 7, 1, 2)
        );
        assert!(matches!(sample(Op::Schedule, "busan", day, &[]), Operation::Schedule(d) if d.track == "busan"));
        assert!(matches!(sample(Op::Results, "jeju", day, &[]), Operation::Results(_)));
        assert_eq!(short(Duration::from_secs(3_725)), "1h02m");
    }
}
