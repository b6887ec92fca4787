//! Backfill: past days loaded through the same queue, plugins and store as live work, in the
//! backfill lane (docs/architecture.md, "Backfill").
//!
//! A run ([`start`]) is cut into (track, day) slices. The planner's every tick — on any host,
//! `racelab serve` or `racelab backfill` — moves the open runs on ([`top_up`]): a few slices at
//! a time get their schedule job, then one job per race and operation still missing (entries,
//! the final odds of every pool, results with dividends), and are done when none is left
//! queued. What is done is what is committed: a job writes its rows and its state in one
//! transaction, and slice states are recomputed from the jobs, so a run stopped anywhere goes on
//! where it stopped.
//!
//! Limits: the budget gives backfill only its share of each dataset's daily quota (a spent share
//! pauses the job until the next KST midnight, and the slice with it); the worker keeps slots
//! free for live work (`WorkerSettings::backfill_slots`); and backfill tasks have the lowest
//! queue priority.

use chrono::{NaiveDate, TimeDelta};
use sqlx::PgPool;

use super::ledger::backfill::{self as rows, RunCounts, RunRow, SourceOps};
use super::planner::SourcePlan;
use super::{JobError, Op};
use crate::clock::Clock;
use crate::plugins::wit::OperationKind;

/// Slices of a run open at once, by default: enough to keep the workers busy, few enough that
/// the queue holds a few hundred backfill jobs at most.
pub const DEFAULT_SLICES_IN_FLIGHT: i64 = 16;

/// The operations a backfill may ask, by their command-line names.
pub const OPS: [(&str, Op); 4] =
    [("schedule", Op::Schedule), ("entries", Op::Entries), ("odds", Op::OddsFinal), ("results", Op::Results)];

/// What a backfill is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// Sources; empty is every configured one.
    pub sources: Vec<String>,
    /// Tracks; empty is every track of the sources.
    pub tracks: Vec<String>,
    /// Operations; empty is every one a source serves for past days.
    pub ops: Vec<Op>,
}

/// Why a backfill cannot be asked for.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RequestError {
    #[error("--from {from} is after --to {to}")]
    Reversed { from: NaiveDate, to: NaiveDate },
    #[error("--to {to} is not in the past: today ({today}, KST) and later are live work")]
    NotPast { to: NaiveDate, today: NaiveDate },
    #[error("--ops {0:?} is not an operation: use schedule, entries, odds, results")]
    UnknownOp(String),
    #[error("--source {0} has no plugin configured (configured: {1})")]
    UnknownSource(String, String),
    #[error("--track {0} is not served by the sources asked (they serve: {1})")]
    UnknownTrack(String, String),
    #[error("nothing to do: {0}")]
    Empty(String),
}

/// Reads `--ops`: comma-separated names from [`OPS`].
pub fn parse_ops(text: &str) -> Result<Vec<Op>, RequestError> {
    let mut ops = Vec::new();
    for name in text.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let op = OPS.iter().find(|(n, _)| *n == name).map(|(_, op)| *op);
        let op = op.ok_or_else(|| RequestError::UnknownOp(name.to_string()))?;
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    Ok(ops)
}

/// A request resolved against the configured sources: each source with its tracks and what it
/// is asked.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub from: NaiveDate,
    pub to: NaiveDate,
    /// (source, track) pairs, in the sources' order.
    pub tracks: Vec<(String, String)>,
    pub sources: Vec<SourceOps>,
    /// The operations asked, by their command-line names, sorted: how runs are compared.
    pub ops: Vec<String>,
}

impl Plan {
    /// Days in the range.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }
}

/// What `source` is asked for: the operations of `asked` (all when empty) that it serves for past
/// days; the final odds only when it has odds pools.
pub fn source_ops(source: &SourcePlan, asked: &[Op]) -> SourceOps {
    let serves = |op: Op| {
        let kind = op.kind();
        source.ops.contains(&kind)
            && source.history.contains(&kind)
            && (kind != OperationKind::Odds || !source.pools.is_empty())
    };
    let ops = OPS
        .iter()
        .map(|(_, op)| *op)
        .filter(|op| (asked.is_empty() || asked.contains(op)) && serves(*op))
        .collect::<Vec<_>>();
    let pools = if ops.contains(&Op::OddsFinal) { source.pools.clone() } else { Vec::new() };
    SourceOps { source: source.source.clone(), ops, pools }
}

/// Checks `request` against the configured `sources` on `today` (KST).
pub fn resolve(request: &Request, sources: &[SourcePlan], today: NaiveDate) -> Result<Plan, RequestError> {
    if request.from > request.to {
        return Err(RequestError::Reversed { from: request.from, to: request.to });
    }
    if request.to >= today {
        return Err(RequestError::NotPast { to: request.to, today });
    }
    let configured: Vec<&str> = sources.iter().map(|s| s.source.as_str()).collect();
    if let Some(unknown) = request.sources.iter().find(|s| !configured.contains(&s.as_str())) {
        return Err(RequestError::UnknownSource(unknown.clone(), configured.join(", ")));
    }
    let chosen: Vec<&SourcePlan> =
        sources.iter().filter(|s| request.sources.is_empty() || request.sources.contains(&s.source)).collect();
    let served: Vec<&str> = chosen.iter().flat_map(|s| s.tracks.iter().map(String::as_str)).collect();
    if let Some(unknown) = request.tracks.iter().find(|t| !served.contains(&t.as_str())) {
        return Err(RequestError::UnknownTrack(unknown.clone(), served.join(", ")));
    }
    let mut tracks = Vec::new();
    let mut asked = Vec::new();
    for source in chosen {
        let ops = source_ops(source, &request.ops);
        let mine: Vec<&String> =
            source.tracks.iter().filter(|t| request.tracks.is_empty() || request.tracks.contains(t)).collect();
        if ops.ops.is_empty() || mine.is_empty() {
            continue;
        }
        tracks.extend(mine.into_iter().map(|t| (source.source.clone(), t.clone())));
        asked.push(ops);
    }
    if tracks.is_empty() {
        return Err(RequestError::Empty(
            "no source asked serves any of the operations asked for past days (see each plugin's `history` config)"
                .into(),
        ));
    }
    let mut ops: Vec<String> = if request.ops.is_empty() {
        OPS.iter().map(|(n, _)| n.to_string()).collect()
    } else {
        OPS.iter().filter(|(_, op)| request.ops.contains(op)).map(|(n, _)| n.to_string()).collect()
    };
    ops.sort();
    Ok(Plan { from: request.from, to: request.to, tracks, sources: asked, ops })
}

/// Starts the run `plan` describes, or finds the unfinished one that asked the same (a resumed
/// backfill). Returns it and whether it is new.
pub async fn start(pool: &PgPool, clock: &Clock, plan: &Plan) -> Result<(RunRow, bool), JobError> {
    let mut sources: Vec<String> = plan.sources.iter().map(|s| s.source.clone()).collect();
    sources.sort();
    let mut tracks: Vec<String> = plan.tracks.iter().map(|(_, t)| t.clone()).collect();
    tracks.sort();
    if let Some(run) = rows::find_open_run(pool, plan.from, plan.to, &sources, &tracks, &plan.ops).await? {
        return Ok((run, false));
    }
    let run = rows::create_run(pool, clock.now().to_utc(), (plan.from, plan.to), &plan.tracks, &plan.ops).await?;
    Ok((run, true))
}

/// Moves every open run on by one step (see [`rows::advance`]); returns how many jobs were
/// queued. Each run is planned with what its sources serve now; a run whose sources are not
/// configured on this host is left to a host that has them.
pub async fn top_up(pool: &PgPool, clock: &Clock, plans: &[SourcePlan], in_flight: i64) -> Result<u64, JobError> {
    let mut queued = 0;
    for run in rows::open_runs(pool).await? {
        let asked: Vec<Op> = run.ops.iter().filter_map(|n| parse_ops(n).ok()).flatten().collect();
        let sources: Vec<SourceOps> =
            plans.iter().filter(|p| run.sources.contains(&p.source)).map(|p| source_ops(p, &asked)).collect();
        if sources.len() < run.sources.len() {
            continue;
        }
        queued += rows::advance(pool, clock, &run, &sources, in_flight).await?;
    }
    Ok(queued)
}

/// A run and where it stands.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Status {
    pub run: RunRow,
    pub counts: RunCounts,
}

/// The latest `latest` runs, newest first, with their counts.
pub async fn status(pool: &PgPool, latest: i64) -> Result<Vec<Status>, JobError> {
    let mut out = Vec::new();
    for run in rows::recent_runs(pool, latest).await? {
        let counts = rows::counts(pool, run.id).await?;
        out.push(Status { run, counts });
    }
    Ok(out)
}

/// The status of run `id`.
pub async fn status_of(pool: &PgPool, id: i64) -> Result<Option<Status>, JobError> {
    let Some(run) = rows::run(pool, id).await? else { return Ok(None) };
    let counts = rows::counts(pool, id).await?;
    Ok(Some(Status { run, counts }))
}

impl Status {
    /// One line: "run 3 2025-01-01..2025-12-31 kra,kspo: 412/1825 slices (1200 skipped), ...".
    pub fn line(&self) -> String {
        let (r, c) = (&self.run, &self.counts);
        let state = match r.finished_at {
            Some(at) => format!("finished {}", at.with_timezone(&crate::clock::kst()).format("%Y-%m-%d %H:%M KST")),
            None if c.jobs_paused > 0 && c.jobs_paused == c.jobs_queued => "waiting for the quota to reset".to_string(),
            None => "running".to_string(),
        };
        format!(
            "backfill #{} {}..{} {} [{}] {}: slices {}/{} ({} skipped) · races {} · jobs {} finished, {} queued, {} failed · {} requests · {} records",
            r.id,
            r.from_date,
            r.to_date,
            r.sources.join(","),
            r.ops.join(","),
            state,
            c.slices_done,
            c.slices,
            c.slices_skipped,
            c.races,
            c.jobs_finished,
            c.jobs_queued,
            c.jobs_failed,
            c.requests,
            c.records,
        )
    }
}

/// Days left at the pace the quota allows: `requests_left` requests against `per_day` a day.
pub fn quota_days(requests_left: u64, per_day: u64) -> Option<f64> {
    (per_day > 0).then(|| requests_left as f64 / per_day as f64)
}

/// The days of `from..=to`.
pub fn days(from: NaiveDate, to: NaiveDate) -> impl Iterator<Item = NaiveDate> {
    let n = (to - from).num_days().max(-1) + 1;
    (0..n).map(move |i| from + TimeDelta::days(i))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::planner::fixtures::kra;

    fn day(s: &str) -> NaiveDate {
        NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default()
    }

    fn kspo() -> SourcePlan {
        SourcePlan {
            source: "kspo".into(),
            tracks: vec!["gwangmyeong".into(), "misari".into()],
            ops: vec![OperationKind::Schedule, OperationKind::Entries, OperationKind::Results],
            pools: vec![],
            odds_before_post: false,
            history: vec![OperationKind::Schedule, OperationKind::Entries, OperationKind::Results],
        }
    }

    fn request(from: &str, to: &str) -> Request {
        Request { from: day(from), to: day(to), sources: vec![], tracks: vec![], ops: vec![] }
    }

    #[test]
    fn ops_parse_by_name_once_each() {
        assert_eq!(parse_ops("odds, results,odds"), Ok(vec![Op::OddsFinal, Op::Results]));
        assert_eq!(parse_ops(""), Ok(vec![]));
        assert_eq!(parse_ops("odds,dividends"), Err(RequestError::UnknownOp("dividends".into())));
    }

    #[test]
    fn a_request_resolves_to_what_each_source_serves_for_past_days() {
        let today = day("2026-12-07");
        let plan = resolve(&request("2026-01-01", "2026-01-31"), &[kra(), kspo()], today).expect("valid");
        assert_eq!(plan.days(), 31);
        assert_eq!(plan.tracks.len(), 3, "the fixture's kra serves seoul; kspo two tracks");
        assert_eq!(plan.sources[0].ops, [Op::Schedule, Op::Entries, Op::OddsFinal, Op::Results]);
        assert_eq!(plan.sources[0].pools.len(), 7);
        assert_eq!(plan.sources[1].ops, [Op::Schedule, Op::Entries, Op::Results], "KSPO has no odds");
        assert_eq!(plan.ops, ["entries", "odds", "results", "schedule"]);

        // A plugin whose history leaves out entries is not asked for them.
        let mut old = kra();
        old.history.retain(|k| *k != OperationKind::Entries);
        let plan = resolve(&request("2026-01-01", "2026-01-01"), &[old], today).expect("valid");
        assert_eq!(plan.sources[0].ops, [Op::Schedule, Op::OddsFinal, Op::Results]);

        let only = Request {
            sources: vec!["kspo".into()],
            tracks: vec!["misari".into()],
            ops: vec![Op::Results],
            ..request("2026-01-01", "2026-01-02")
        };
        let plan = resolve(&only, &[kra(), kspo()], today).expect("valid");
        assert_eq!(plan.tracks, [("kspo".to_string(), "misari".to_string())]);
        assert_eq!(plan.sources[0].ops, [Op::Results]);
        assert_eq!(plan.ops, ["results"]);
    }

    #[test]
    fn a_bad_request_says_what_is_wrong() {
        let today = day("2026-12-07");
        let sources = [kra(), kspo()];
        let err = |r: Request| resolve(&r, &sources, today).expect_err("refused").to_string();
        assert!(err(request("2026-02-01", "2026-01-01")).contains("is after"));
        assert!(err(request("2026-12-01", "2026-12-07")).contains("not in the past"));
        let e = err(Request { sources: vec!["nra".into()], ..request("2026-01-01", "2026-01-02") });
        assert!(e.contains("nra") && e.contains("kra, kspo"), "{e}");
        let e = err(Request {
            sources: vec!["kspo".into()],
            tracks: vec!["seoul".into()],
            ..request("2026-01-01", "2026-01-02")
        });
        assert!(e.contains("seoul") && e.contains("gwangmyeong, misari"), "{e}");
        let e = err(Request {
            sources: vec!["kspo".into()],
            ops: vec![Op::OddsFinal],
            ..request("2026-01-01", "2026-01-02")
        });
        assert!(e.contains("nothing to do"), "{e}");
    }

    fn run(finished: bool) -> RunRow {
        RunRow {
            id: 7,
            from_date: day("2026-01-01"),
            to_date: day("2026-01-31"),
            sources: vec!["kra".into(), "kspo".into()],
            tracks: vec!["seoul".into()],
            ops: vec!["odds".into(), "results".into()],
            requested_at: chrono::DateTime::UNIX_EPOCH + TimeDelta::days(1),
            finished_at: finished.then(|| chrono::DateTime::UNIX_EPOCH + TimeDelta::days(2)),
        }
    }

    #[test]
    fn a_runs_slot_is_its_request_time_less_its_id_in_microseconds() {
        assert_eq!(run(false).slot(), chrono::DateTime::UNIX_EPOCH + TimeDelta::days(1) - TimeDelta::microseconds(7));
    }

    #[test]
    fn a_status_line_says_where_the_run_stands() {
        let counts = RunCounts {
            slices: 31,
            slices_done: 12,
            slices_skipped: 2,
            races: 40,
            jobs_finished: 90,
            jobs_queued: 5,
            jobs_failed: 1,
            requests: 300,
            records: 1_200,
            ..RunCounts::default()
        };
        let line = Status { run: run(false), counts: counts.clone() }.line();
        assert_eq!(
            line,
            "backfill #7 2026-01-01..2026-01-31 kra,kspo [odds,results] running: slices 12/31 (2 skipped) · races 40 · \
             jobs 90 finished, 5 queued, 1 failed · 300 requests · 1200 records"
        );
        let paused = Status { run: run(false), counts: RunCounts { jobs_paused: 5, ..counts.clone() } };
        assert!(paused.line().contains("waiting for the quota to reset"), "{}", paused.line());
        let done = Status { run: run(true), counts };
        assert!(done.line().contains("finished 1970-01-03 09:00 KST"), "{}", done.line());
    }

    #[test]
    fn quota_days_and_day_ranges() {
        assert_eq!(quota_days(2_500, 1_000), Some(2.5));
        assert_eq!(quota_days(10, 0), None);
        assert_eq!(days(day("2026-01-30"), day("2026-02-02")).count(), 4);
        assert_eq!(days(day("2026-01-30"), day("2026-01-29")).count(), 0);
    }
}
