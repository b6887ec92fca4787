//! What is due: the planner turns the clock, the cadence and the races in the database into
//! jobs. It keeps no state of its own — every tick recomputes the jobs due up to a short
//! horizon and [`enqueue`] drops those already planned — so a restarted host, or a second one,
//! plans nothing twice, and a race whose post time moved simply gets the slots of its new time
//! (the worker skips jobs planned from the old one).
//!
//! Per DESIGN §5, with every offset and interval from [`Cadence`]:
//! - schedule: daily at `schedule_at` KST for today and `schedule_days_ahead` days, and at the
//!   host's start; today's again every `schedule_every_min` after `schedule_at`, so one failed
//!   sync cannot leave a race day unplanned;
//! - entries: on the race day (at `schedule_at`) and again `entries_before_post_min` before post;
//! - odds: the configured pools along `odds_phases` until post — unless the plugin says its
//!   source publishes odds only after the race, or the track-day's last
//!   `odds_stop_after_no_data` pre-race polls all found nothing; then every pool from
//!   `final_odds_after_s` after post every `final_odds_every_s` until the race has odds
//!   captured after post, for at most `final_odds_grace_min` after its results are final (or
//!   until the results give up);
//! - results: from `results_delay_min` after post every `results_every_min` until the race has
//!   results and dividends, for at most `results_give_up_min`.
//! - backfill: every tick moves each open backfill run one step on ([`super::backfill`]); a
//!   planner made `with_work(false, …)` (`racelab backfill`'s) plans nothing else.
//!
//! A missed pre-race odds poll is not made up (old odds cannot be fetched); of the polls a
//! stopped host missed, only the latest still within its interval runs. A repeating job (final
//! odds, results) is planned at its latest slot due, so a host that was down catches up with
//! one poll.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use sqlx::PgPool;

use super::{FailureKind, JobError, JobSpec, Op, enqueue, gaps, ledger};
use crate::alerts::{Alert, Alerter, Incident};
use crate::budget::Lane;
use crate::clock::Clock;
use crate::clock::{kst, kst_instant};
use crate::config::Cadence;
use crate::plugins::wit::OperationKind;

/// What the planner needs to know of one source's plugin.
#[derive(Debug, Clone, PartialEq)]
pub struct SourcePlan {
    /// `kra` or `kspo`.
    pub source: String,
    /// The tracks it serves: the configuration's for its source that its manifest lists.
    pub tracks: Vec<String>,
    /// The operations its manifest supports.
    pub ops: Vec<OperationKind>,
    /// The pools it has odds for (KRA codes).
    pub pools: Vec<String>,
    /// Whether its source shows odds before the race; when not, only the final odds are asked
    /// for (the plugin's `odds-timing` config, see [`crate::plugins::hints`]).
    pub odds_before_post: bool,
    /// The operations its source answers for past days (the plugin's `history` config): what a
    /// backfill may ask.
    pub history: Vec<OperationKind>,
}

impl SourcePlan {
    fn supports(&self, op: Op) -> bool {
        self.ops.contains(&op.kind())
    }
}

/// A race as the planner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRace {
    pub track: String,
    pub date: NaiveDate,
    pub number: u8,
    pub post: DateTime<Utc>,
    /// Results and dividends are both in: no more results polls.
    pub complete: bool,
    /// When the results poll that completed the race was due (host clock); `None` while not
    /// complete.
    pub complete_at: Option<DateTime<Utc>>,
    /// Odds captured after post are stored: no more final-odds polls.
    pub final_odds: bool,
    /// The track-day's pre-race odds polls stopped (see [`Cadence::odds_stop_after_no_data`]).
    pub pre_race_stopped: bool,
}

/// Plans jobs on every tick.
#[derive(Debug, Clone)]
pub struct Planner {
    pool: PgPool,
    clock: Clock,
    cadence: Cadence,
    schedule_at: NaiveTime,
    /// Shared by the planner's clones; replaced whole when a source's plugin changes.
    sources: Arc<RwLock<Arc<[SourcePlan]>>>,
    lookahead: Duration,
    /// Track-days whose pre-race odds polls this planner has stopped and said so.
    announced: Arc<Mutex<BTreeSet<(String, NaiveDate)>>>,
    alerter: Option<Alerter>,
    /// When the planner was made (host clock): the start-up schedule sync's slot.
    started: DateTime<Utc>,
    /// Whether it plans live work (a `racelab backfill` host plans only backfill).
    live: bool,
    /// Backfill slices a run may have open at once; `None` plans no backfill.
    backfill: Option<i64>,
}

impl Planner {
    /// A planner for `sources`. `lookahead` is real time: jobs due within it (on the clock) are
    /// queued ahead, so a worker has them in hand when they are due even on a fast clock.
    pub fn new(
        pool: PgPool,
        clock: impl Into<Clock>,
        cadence: Cadence,
        sources: Vec<SourcePlan>,
        lookahead: Duration,
    ) -> Self {
        let clock = clock.into();
        let schedule_at = parse_hhmm(&cadence.schedule_at).unwrap_or(NaiveTime::MIN);
        let started = clock.now().to_utc();
        Planner {
            pool,
            clock,
            cadence,
            schedule_at,
            sources: Arc::new(RwLock::new(sources.into())),
            lookahead,
            announced: Arc::default(),
            alerter: None,
            started,
            live: true,
            backfill: Some(super::backfill::DEFAULT_SLICES_IN_FLIGHT),
        }
    }

    /// Plans live work or not, and backfill slices `in_flight` at a time (`None`: no backfill).
    pub fn with_work(mut self, live: bool, backfill: Option<i64>) -> Self {
        self.live = live;
        self.backfill = backfill;
        self
    }

    /// The cadence planned by.
    pub fn cadence(&self) -> &Cadence {
        &self.cadence
    }

    /// The sources planned for.
    pub fn sources(&self) -> Arc<[SourcePlan]> {
        self.sources.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    /// Plans `plan`'s source by it from the next tick on (a new plugin version).
    pub fn set_source(&self, plan: SourcePlan) {
        let mut sources = self.sources.write().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut plans: Vec<SourcePlan> = sources.iter().filter(|s| s.source != plan.source).cloned().collect();
        plans.push(plan);
        *sources = plans.into();
    }

    /// Queues what is due up to the horizon, and moves backfill runs on; returns how many jobs
    /// were new.
    pub async fn tick(&self) -> Result<u64, JobError> {
        let live = if self.live { self.tick_live().await? } else { 0 };
        let backfill = match self.backfill {
            Some(in_flight) => super::backfill::top_up(&self.pool, &self.clock, &self.sources(), in_flight).await?,
            None => 0,
        };
        Ok(live + backfill)
    }

    async fn tick_live(&self) -> Result<u64, JobError> {
        let now = self.clock.now().to_utc();
        let ahead = self.lookahead.mul_f64(self.clock.speed());
        let horizon = now + TimeDelta::from_std(ahead).unwrap_or_default();
        let plans = self.sources();
        let mut specs = self.schedule_jobs(&plans, now);
        let races = self.races(&plans, now).await?;
        let source_of: HashMap<&str, &SourcePlan> =
            plans.iter().flat_map(|s| s.tracks.iter().map(move |t| (t.as_str(), s))).collect();
        let mut planned = Vec::with_capacity(races.len());
        for race in &races {
            let Some(source) = source_of.get(race.track.as_str()) else { continue };
            specs.extend(race_jobs(&self.cadence, self.schedule_at, source, race, now, horizon));
            planned.push((*source, race));
        }
        let queued = enqueue(&self.pool, &self.clock, &specs).await?;
        let sweep = gaps::sweep(&self.pool, &self.cadence, &planned, now).await?;
        self.announce(sweep);
        Ok(queued)
    }

    /// Says what a completeness sweep changed: one log line and one alert per track-day.
    fn announce(&self, sweep: gaps::Sweep) {
        let mut opened: BTreeMap<gaps::TrackDay, Vec<String>> = BTreeMap::new();
        for (day, message) in sweep.opened {
            opened.entry(day).or_default().push(message);
        }
        for (day, messages) in opened {
            tracing::warn!(source = day.source, track = day.track, date = %day.date, gaps = messages.len(),
                "incomplete: {}", messages.join("; "));
            if let Some(alerter) = &self.alerter {
                let incident =
                    Incident::new(&day.source, format!("{} {}", day.track, day.date), FailureKind::Incomplete.as_str());
                let text = format!("{} race(s) incomplete: {}", messages.len(), messages.join("; "));
                alerter.raise(Alert::new(incident, text).with("retry", "racelab retry --all-open"));
            }
        }
        for day in sweep.cleared {
            tracing::info!(source = day.source, track = day.track, date = %day.date, "the track-day is complete again");
            if let Some(alerter) = &self.alerter {
                alerter.resolve(&Incident::new(
                    &day.source,
                    format!("{} {}", day.track, day.date),
                    FailureKind::Incomplete.as_str(),
                ));
            }
        }
    }

    /// Alerts for gaps go to `alerter`.
    pub fn with_alerter(mut self, alerter: Option<Alerter>) -> Self {
        self.alerter = alerter;
        self
    }

    fn schedule_jobs(&self, plans: &[SourcePlan], now: DateTime<Utc>) -> Vec<JobSpec> {
        schedule_slots(&self.cadence, self.schedule_at, self.started, now)
            .into_iter()
            .flat_map(|(slot, first_day, days)| {
                plans.iter().filter(|s| s.supports(Op::Schedule)).flat_map(move |source| {
                    source.tracks.iter().flat_map(move |track| {
                        (0..days).map(move |ahead| JobSpec {
                            source: source.source.clone(),
                            op: Op::Schedule,
                            track: track.clone(),
                            race_date: first_day + TimeDelta::days(i64::from(ahead)),
                            race_number: 0,
                            slot,
                            lane: Lane::Live,
                            post_time: None,
                            pools: Vec::new(),
                        })
                    })
                })
            })
            .collect()
    }

    /// Races with a post time from yesterday to tomorrow (KST), on the tracks planned for.
    async fn races(&self, plans: &[SourcePlan], now: DateTime<Utc>) -> Result<Vec<PlannedRace>, JobError> {
        let today = now.with_timezone(&kst()).date_naive();
        let tracks: Vec<&str> = plans.iter().flat_map(|s| s.tracks.iter().map(String::as_str)).collect();
        let (from, to) = (today - TimeDelta::days(1), today + TimeDelta::days(1));
        let rows = ledger::planned_races(&self.pool, from, to, &tracks).await?;
        let stopped = self.stopped_track_days(today).await?;
        Ok(rows
            .into_iter()
            .map(|(track, date, number, post, complete, complete_at, final_odds)| PlannedRace {
                pre_race_stopped: stopped.contains(&(track.clone(), date)),
                track,
                date,
                number: u8::try_from(number).unwrap_or(0),
                post,
                complete,
                complete_at: complete_at.or(complete.then_some(post)),
                final_odds,
            })
            .collect())
    }

    /// The track-days (yesterday to tomorrow) whose last `odds_stop_after_no_data` finished
    /// pre-race odds polls all found nothing. Their queued pre-race polls are superseded, and
    /// the first time this planner sees one it says so.
    async fn stopped_track_days(&self, today: NaiveDate) -> Result<BTreeSet<(String, NaiveDate)>, JobError> {
        let n = self.cadence.odds_stop_after_no_data;
        if n == 0 {
            return Ok(BTreeSet::new());
        }
        let rows = pre_race_stopped(&self.pool, today - TimeDelta::days(1), today + TimeDelta::days(1), n).await?;
        self.announced().retain(|(_, date)| *date >= today - TimeDelta::days(1));
        let mut stopped = BTreeSet::new();
        for (source, track, date) in rows {
            let key = (track.clone(), date);
            if !self.announced().contains(&key) {
                let superseded = ledger::supersede_pre_race(&self.pool, &source, &track, date).await?;
                tracing::info!(
                    source,
                    track,
                    %date,
                    superseded,
                    "the last {n} pre-race odds polls found no odds: no more are planned for this track-day \
                     (the source publishes odds after the race; the final odds are still asked for)"
                );
                self.announced().insert(key);
            }
            stopped.insert((track, date));
        }
        Ok(stopped)
    }

    fn announced(&self) -> std::sync::MutexGuard<'_, BTreeSet<(String, NaiveDate)>> {
        self.announced.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

pub use super::ledger::pre_race_stopped;

/// The schedule syncs due at `now`, each as (slot, first day, days): the latest daily slot
/// (its day and `schedule_days_ahead` after it), the host's start (today and the days ahead:
/// a restarted host syncs at once, whatever synced before) and the latest periodic re-sync of
/// today since `schedule_at`.
pub fn schedule_slots(
    cadence: &Cadence,
    schedule_at: NaiveTime,
    started: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<(DateTime<Utc>, NaiveDate, u32)> {
    let days = cadence.schedule_days_ahead + 1;
    let daily = latest_daily(now, schedule_at);
    let day_of = |t: DateTime<Utc>| t.with_timezone(&kst()).date_naive();
    let mut slots = vec![(daily, day_of(daily), days)];
    if started <= now && started != daily {
        slots.push((started, day_of(started), days));
    }
    if cadence.schedule_every_min > 0 && day_of(daily) == day_of(now) {
        let every = TimeDelta::minutes(i64::from(cadence.schedule_every_min));
        let resync = daily + every * ((now - daily).num_seconds() / every.num_seconds()) as i32;
        if resync != daily && resync != started {
            slots.push((resync, day_of(resync), 1));
        }
    }
    slots
}

/// `HH:MM`.
pub fn parse_hhmm(s: &str) -> Option<NaiveTime> {
    NaiveTime::parse_from_str(s, "%H:%M").ok()
}

/// The latest instant at or before `now` that reads `at` on a KST clock.
pub fn latest_daily(now: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
    let today = now.with_timezone(&kst()).date_naive();
    let candidate = kst_instant(today, at);
    if candidate <= now { candidate } else { kst_instant(today - TimeDelta::days(1), at) }
}

/// Every pre-race odds poll of a race with post time `post`, per the phases, in time order,
/// with the interval each belongs to.
pub fn odds_slots(phases: &[(u32, u32)], post: DateTime<Utc>) -> Vec<(DateTime<Utc>, TimeDelta)> {
    let mut slots = Vec::new();
    for (i, (start_min, every_s)) in phases.iter().enumerate() {
        let end_min = phases.get(i + 1).map_or(0, |(next, _)| *next);
        let every = TimeDelta::seconds(i64::from((*every_s).max(1)));
        let end = post - TimeDelta::minutes(i64::from(end_min));
        let mut t = post - TimeDelta::minutes(i64::from(*start_min));
        while t < end {
            slots.push((t, every));
            t += every;
        }
    }
    slots
}

/// The jobs of one race due by `horizon`.
pub fn race_jobs(
    cadence: &Cadence,
    schedule_at: NaiveTime,
    source: &SourcePlan,
    race: &PlannedRace,
    now: DateTime<Utc>,
    horizon: DateTime<Utc>,
) -> Vec<JobSpec> {
    let post = race.post;
    let job = |op: Op, slot: DateTime<Utc>, pools: Vec<String>| JobSpec {
        source: source.source.clone(),
        op,
        track: race.track.clone(),
        race_date: race.date,
        race_number: race.number,
        slot,
        lane: Lane::Live,
        post_time: Some(post),
        pools,
    };
    let mut jobs = Vec::new();
    if source.supports(Op::Entries) {
        let day_slot = kst_instant(race.date, schedule_at);
        let before_post = post - TimeDelta::minutes(i64::from(cadence.entries_before_post_min));
        for slot in [day_slot.min(before_post), before_post] {
            if slot <= horizon && !jobs.iter().any(|j: &JobSpec| j.op == Op::Entries && j.slot == slot) {
                jobs.push(job(Op::Entries, slot, Vec::new()));
            }
        }
    }
    if source.supports(Op::Odds) {
        let pools: Vec<String> = cadence.odds_pools.iter().filter(|p| source.pools.contains(p)).cloned().collect();
        if !pools.is_empty() && source.odds_before_post && !race.pre_race_stopped {
            for (slot, every) in odds_slots(&cadence.odds_phases, post) {
                if slot <= horizon && slot > now - every {
                    jobs.push(job(Op::Odds, slot, pools.clone()));
                }
            }
        }
        if !source.pools.is_empty() && !race.final_odds {
            let first = post + TimeDelta::seconds(i64::from(cadence.final_odds_after_s));
            let every = TimeDelta::seconds(i64::from(cadence.final_odds_every_s.max(1)));
            if let Some(slot) = repeating_slot(first, every, final_odds_give_up(cadence, race), horizon) {
                jobs.push(job(Op::OddsFinal, slot, source.pools.clone()));
            }
        }
    }
    if source.supports(Op::Results) && !race.complete {
        let first = post + TimeDelta::minutes(i64::from(cadence.results_delay_min));
        let every = TimeDelta::minutes(i64::from(cadence.results_every_min.max(1)));
        if let Some(slot) = repeating_slot(first, every, results_give_up(cadence, race), horizon) {
            jobs.push(job(Op::Results, slot, Vec::new()));
        }
    }
    jobs
}

/// The slot of a job repeated from `first` every `every` until `last`: the latest due by the
/// horizon, and none before `first` or once `last` has passed.
fn repeating_slot(
    first: DateTime<Utc>,
    every: TimeDelta,
    last: DateTime<Utc>,
    horizon: DateTime<Utc>,
) -> Option<DateTime<Utc>> {
    if first > horizon || first > last {
        return None;
    }
    let steps = ((horizon.min(last) - first).num_seconds() / every.num_seconds().max(1)).max(0);
    Some(first + every * steps as i32)
}

/// When a race still without final results stops being asked for them (and is a gap).
pub fn results_give_up(cadence: &Cadence, race: &PlannedRace) -> DateTime<Utc> {
    race.post + TimeDelta::minutes(i64::from(cadence.results_give_up_min))
}

/// When a race still without final odds stops being asked for them (and is a gap): the grace
/// after its results are final, or the results' own give-up while they are not.
pub fn final_odds_give_up(cadence: &Cadence, race: &PlannedRace) -> DateTime<Utc> {
    match race.complete_at {
        Some(at) if race.complete => at + TimeDelta::minutes(i64::from(cadence.final_odds_grace_min)),
        _ => results_give_up(cadence, race),
    }
}

/// Planner inputs for the unit tests of the job modules.
#[cfg(test)]
pub(crate) mod fixtures {
    use super::*;

    pub(crate) fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.to_utc()).unwrap_or_default()
    }

    pub(crate) fn kra() -> SourcePlan {
        SourcePlan {
            source: "kra".into(),
            tracks: vec!["seoul".into()],
            ops: vec![OperationKind::Schedule, OperationKind::Entries, OperationKind::Odds, OperationKind::Results],
            pools: ["WIN", "PLC", "QNL", "EXA", "QPL", "TLA", "TRI"].map(String::from).to_vec(),
            odds_before_post: true,
            history: vec![OperationKind::Schedule, OperationKind::Entries, OperationKind::Odds, OperationKind::Results],
        }
    }

    pub(crate) fn race(post: &str) -> PlannedRace {
        PlannedRace {
            track: "seoul".into(),
            date: NaiveDate::from_ymd_opt(2026, 11, 28).unwrap_or_default(),
            number: 1,
            post: t(post),
            complete: false,
            complete_at: None,
            final_odds: false,
            pre_race_stopped: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::fixtures::{kra, race, t};

    fn six() -> NaiveTime {
        NaiveTime::from_hms_opt(6, 0, 0).unwrap_or_default()
    }

    #[test]
    fn the_default_cadence_polls_odds_29_times_before_post() {
        let slots = odds_slots(&Cadence::default().odds_phases, t("2026-11-28T14:00:00+09:00"));
        // T-60..T-15 every 5 min (9), T-15..T-5 every minute (10), T-5..post every 30 s (10).
        assert_eq!(slots.len(), 29);
        assert_eq!(slots[0].0, t("2026-11-28T13:00:00+09:00"));
        assert_eq!(slots[9].0, t("2026-11-28T13:45:00+09:00"));
        assert_eq!(slots[19].0, t("2026-11-28T13:55:00+09:00"));
        assert_eq!(slots[28].0, t("2026-11-28T13:59:30+09:00"));
    }

    #[test]
    fn a_whole_day_walked_in_30s_steps_plans_each_job_once_per_slot() {
        let cadence = Cadence::default();
        let r = race("2026-11-28T14:00:00+09:00");
        let mut seen = std::collections::BTreeSet::new();
        let mut now = t("2026-11-28T05:00:00+09:00");
        while now < t("2026-11-28T15:00:00+09:00") {
            for j in race_jobs(&cadence, six(), &kra(), &r, now, now) {
                seen.insert((j.op, j.slot));
            }
            now += TimeDelta::seconds(30);
        }
        let count = |op| seen.iter().filter(|(o, _)| *o == op).count();
        assert_eq!(count(Op::Entries), 2, "race day and T-60");
        assert_eq!(count(Op::Odds), 29);
        // Final odds and results from post+10 every 5 min while not in: 14:10 .. 14:55 walked.
        assert_eq!(count(Op::OddsFinal), 10);
        assert_eq!(count(Op::Results), 10);
        let final_job = race_jobs(&cadence, six(), &kra(), &r, now, now)
            .into_iter()
            .find(|j| j.op == Op::OddsFinal)
            .map(|j| j.pools.len());
        assert_eq!(final_job, Some(7), "the post-race poll asks every pool");
    }

    #[test]
    fn a_late_start_skips_missed_odds_polls_but_not_the_latest() {
        let cadence = Cadence::default();
        let r = race("2026-11-28T14:00:00+09:00");
        let now = t("2026-11-28T13:47:20+09:00");
        let odds: Vec<_> = race_jobs(&cadence, six(), &kra(), &r, now, now)
            .into_iter()
            .filter(|j| j.op == Op::Odds)
            .map(|j| j.slot)
            .collect();
        assert_eq!(odds, vec![t("2026-11-28T13:47:00+09:00")]);
    }

    #[test]
    fn a_source_without_odds_is_not_asked_for_odds() {
        let cadence = Cadence::default();
        let mut kspo = kra();
        kspo.ops.retain(|k| *k != OperationKind::Odds);
        let r = race("2026-11-28T14:00:00+09:00");
        let now = t("2026-11-28T14:30:00+09:00");
        let ops: Vec<Op> = race_jobs(&cadence, six(), &kspo, &r, now, now).into_iter().map(|j| j.op).collect();
        assert!(!ops.contains(&Op::Odds) && !ops.contains(&Op::OddsFinal), "{ops:?}");
        assert!(ops.contains(&Op::Results) && ops.contains(&Op::Entries), "{ops:?}");
    }

    #[test]
    fn a_complete_race_gets_no_more_results_polls() {
        let cadence = Cadence::default();
        let mut r = race("2026-11-28T14:00:00+09:00");
        r.complete = true;
        let now = t("2026-11-28T14:30:00+09:00");
        assert!(race_jobs(&cadence, six(), &kra(), &r, now, now).iter().all(|j| j.op != Op::Results));
    }

    /// The slots of `op` planned for `r` walking from `from` to `to` in 30-second steps.
    fn walk(r: &PlannedRace, source: &SourcePlan, op: Op, from: &str, to: &str) -> Vec<DateTime<Utc>> {
        let cadence = Cadence::default();
        let mut seen = std::collections::BTreeSet::new();
        let mut now = t(from);
        while now < t(to) {
            seen.extend(
                race_jobs(&cadence, six(), source, r, now, now).into_iter().filter(|j| j.op == op).map(|j| j.slot),
            );
            now += TimeDelta::seconds(30);
        }
        seen.into_iter().collect()
    }

    #[test]
    fn final_odds_are_asked_for_until_they_are_in() {
        let r = race("2026-11-28T14:00:00+09:00");
        let slots = walk(&r, &kra(), Op::OddsFinal, "2026-11-28T13:00:00+09:00", "2026-11-28T14:30:00+09:00");
        assert_eq!(
            slots,
            ["14:10", "14:15", "14:20", "14:25"].map(|hm| t(&format!("2026-11-28T{hm}:00+09:00"))).to_vec()
        );
        let mut published = r.clone();
        published.final_odds = true;
        let after = walk(&published, &kra(), Op::OddsFinal, "2026-11-28T14:00:00+09:00", "2026-11-28T16:00:00+09:00");
        assert!(after.is_empty(), "{after:?}");
    }

    #[test]
    fn final_odds_give_up_a_grace_after_the_results_and_with_them() {
        let cadence = Cadence::default();
        let mut r = race("2026-11-28T14:00:00+09:00");
        assert_eq!(final_odds_give_up(&cadence, &r), t("2026-11-29T14:00:00+09:00"), "with the results");
        r.complete = true;
        r.complete_at = Some(t("2026-11-28T14:10:00+09:00"));
        assert_eq!(final_odds_give_up(&cadence, &r), t("2026-11-28T15:10:00+09:00"));
        let slots = walk(&r, &kra(), Op::OddsFinal, "2026-11-28T14:00:00+09:00", "2026-11-28T18:00:00+09:00");
        assert_eq!(slots.first(), Some(&t("2026-11-28T14:10:00+09:00")));
        assert_eq!(slots.last(), Some(&t("2026-11-28T15:10:00+09:00")), "none after the grace");
        assert_eq!(slots.len(), 13);
        // A host that was down past the give-up makes up the last slot, once, and no later one.
        let late = t("2026-11-28T17:00:00+09:00");
        let made_up: Vec<_> =
            race_jobs(&cadence, six(), &kra(), &r, late, late).into_iter().filter(|j| j.op == Op::OddsFinal).collect();
        assert_eq!(made_up.iter().map(|j| j.slot).collect::<Vec<_>>(), [t("2026-11-28T15:10:00+09:00")]);
    }

    #[test]
    fn pre_race_odds_stop_for_a_source_that_publishes_after_the_race_or_a_stopped_day() {
        let r = race("2026-11-28T14:00:00+09:00");
        let mut after_race = kra();
        after_race.odds_before_post = false;
        let (from, to) = ("2026-11-28T12:00:00+09:00", "2026-11-28T14:30:00+09:00");
        assert!(walk(&r, &after_race, Op::Odds, from, to).is_empty());
        assert_eq!(walk(&r, &after_race, Op::OddsFinal, from, to).len(), 4, "the final odds still are");
        let mut stopped = r.clone();
        stopped.pre_race_stopped = true;
        assert!(walk(&stopped, &kra(), Op::Odds, from, to).is_empty());
        assert_eq!(walk(&stopped, &kra(), Op::OddsFinal, from, to).len(), 4);
    }

    #[test]
    fn the_schedule_syncs_daily_at_start_and_hourly_today() {
        let c = Cadence::default();
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap_or_default();
        let started = t("2026-11-28T09:20:00+09:00");
        let slots = schedule_slots(&c, six(), started, t("2026-11-28T11:30:00+09:00"));
        assert_eq!(
            slots,
            vec![
                (t("2026-11-28T06:00:00+09:00"), day("2026-11-28"), 4),
                (started, day("2026-11-28"), 4),
                (t("2026-11-28T11:00:00+09:00"), day("2026-11-28"), 1),
            ]
        );
        // Before 06:00 the latest daily slot is yesterday's, and there is no re-sync yet.
        let early = schedule_slots(&c, six(), t("2026-11-28T05:00:00+09:00"), t("2026-11-28T05:30:00+09:00"));
        assert_eq!(early.len(), 2);
        assert_eq!(early[0], (t("2026-11-27T06:00:00+09:00"), day("2026-11-27"), 4));
        let off = Cadence { schedule_every_min: 0, ..Cadence::default() };
        assert_eq!(schedule_slots(&off, six(), started, t("2026-11-28T11:30:00+09:00")).len(), 2);
    }

    #[test]
    fn the_daily_slot_is_the_latest_06_00_kst() {
        assert_eq!(latest_daily(t("2026-11-28T05:59:00+09:00"), six()), t("2026-11-27T06:00:00+09:00"));
        assert_eq!(latest_daily(t("2026-11-28T06:00:00+09:00"), six()), t("2026-11-28T06:00:00+09:00"));
        assert_eq!(latest_daily(t("2026-11-28T23:00:00+09:00"), six()), t("2026-11-28T06:00:00+09:00"));
    }
}
