//! What is due: the planner turns the clock, the cadence and the races in the database into
//! jobs. It keeps no state of its own — every tick recomputes the jobs due up to a short
//! horizon and [`enqueue`] drops those already planned — so a restarted host, or a second one,
//! plans nothing twice, and a race whose post time moved simply gets the slots of its new time
//! (the worker skips jobs planned from the old one).
//!
//! Per DESIGN §5, with every offset and interval from [`Cadence`]:
//! - schedule: daily at `schedule_at` KST for today and `schedule_days_ahead` days; the most
//!   recent such slot is due at start, so a host that starts at 09:00 syncs at once;
//! - entries: on the race day (at `schedule_at`) and again `entries_before_post_min` before post;
//! - odds: the configured pools along `odds_phases` until post, then every pool once,
//!   `final_odds_after_s` after post;
//! - results: from `results_delay_min` after post every `results_every_min` until the race has
//!   results and dividends, for at most `results_give_up_min`.
//!
//! A missed pre-race odds poll is not made up (old odds cannot be fetched); of the polls a
//! stopped host missed, only the latest still within its interval runs.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, NaiveTime, TimeDelta, Utc};
use racelab_sim::Clock;
use sqlx::PgPool;

use super::{JobError, JobSpec, Op, db, enqueue};
use crate::budget::Lane;
use crate::config::Cadence;
use crate::plugins::wit::OperationKind;
use crate::tracks::kst;

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
}

/// Plans jobs on every tick.
#[derive(Debug, Clone)]
pub struct Planner {
    pool: PgPool,
    clock: Clock,
    cadence: Cadence,
    schedule_at: NaiveTime,
    sources: Vec<SourcePlan>,
    lookahead: Duration,
}

impl Planner {
    /// A planner for `sources`. `lookahead` is real time: jobs due within it (on the clock) are
    /// queued ahead, so a worker has them in hand when they are due even on a fast clock.
    pub fn new(pool: PgPool, clock: Clock, cadence: Cadence, sources: Vec<SourcePlan>, lookahead: Duration) -> Self {
        let schedule_at = parse_hhmm(&cadence.schedule_at).unwrap_or(NaiveTime::MIN);
        Planner { pool, clock, cadence, schedule_at, sources, lookahead }
    }

    /// The sources planned for.
    pub fn sources(&self) -> &[SourcePlan] {
        &self.sources
    }

    /// Queues what is due up to the horizon; returns how many jobs were new.
    pub async fn tick(&self) -> Result<u64, JobError> {
        let now = self.clock.now().to_utc();
        let ahead = self.lookahead.mul_f64(self.clock.speed());
        let horizon = now + TimeDelta::from_std(ahead).unwrap_or_default();
        let mut specs = self.schedule_jobs(now);
        let races = self.races(now).await?;
        let source_of: HashMap<&str, &SourcePlan> =
            self.sources.iter().flat_map(|s| s.tracks.iter().map(move |t| (t.as_str(), s))).collect();
        for race in &races {
            let Some(source) = source_of.get(race.track.as_str()) else { continue };
            specs.extend(race_jobs(&self.cadence, self.schedule_at, source, race, now, horizon));
        }
        enqueue(&self.pool, &self.clock, &specs).await
    }

    fn schedule_jobs(&self, now: DateTime<Utc>) -> Vec<JobSpec> {
        let slot = latest_daily(now, self.schedule_at);
        let first_day = slot.with_timezone(&kst()).date_naive();
        let mut specs = Vec::new();
        for source in self.sources.iter().filter(|s| s.supports(Op::Schedule)) {
            for track in &source.tracks {
                for ahead in 0..=self.cadence.schedule_days_ahead {
                    specs.push(JobSpec {
                        source: source.source.clone(),
                        op: Op::Schedule,
                        track: track.clone(),
                        race_date: first_day + TimeDelta::days(i64::from(ahead)),
                        race_number: 0,
                        slot,
                        lane: Lane::Live,
                        post_time: None,
                        pools: Vec::new(),
                    });
                }
            }
        }
        specs
    }

    /// Races with a post time from yesterday to tomorrow (KST), on the tracks planned for.
    async fn races(&self, now: DateTime<Utc>) -> Result<Vec<PlannedRace>, JobError> {
        let today = now.with_timezone(&kst()).date_naive();
        let tracks: Vec<&str> = self.sources.iter().flat_map(|s| s.tracks.iter().map(String::as_str)).collect();
        let rows: Vec<(String, NaiveDate, i16, DateTime<Utc>, bool)> = sqlx::query_as(
            "SELECT r.track, r.race_date, r.race_number, r.post_time,
                    EXISTS (SELECT 1 FROM results x WHERE (x.track, x.race_date, x.race_number)
                                                        = (r.track, r.race_date, r.race_number))
                AND EXISTS (SELECT 1 FROM dividends d WHERE (d.track, d.race_date, d.race_number)
                                                          = (r.track, r.race_date, r.race_number))
             FROM races r
             WHERE r.race_date BETWEEN $1 AND $2 AND r.post_time IS NOT NULL AND r.track = ANY($3)",
        )
        .bind(today - TimeDelta::days(1))
        .bind(today + TimeDelta::days(1))
        .bind(&tracks)
        .fetch_all(&self.pool)
        .await
        .map_err(db("reading the races to plan"))?;
        Ok(rows
            .into_iter()
            .map(|(track, date, number, post, complete)| PlannedRace {
                track,
                date,
                number: u8::try_from(number).unwrap_or(0),
                post,
                complete,
            })
            .collect())
    }
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

/// `date` at `time` KST.
pub fn kst_instant(date: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    // +09:00 has no gaps or folds.
    date.and_time(time)
        .and_local_timezone(kst())
        .single()
        .map(|t| t.to_utc())
        .unwrap_or_else(|| (date.and_time(time) - TimeDelta::hours(9)).and_utc())
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
        if !pools.is_empty() {
            for (slot, every) in odds_slots(&cadence.odds_phases, post) {
                if slot <= horizon && slot > now - every {
                    jobs.push(job(Op::Odds, slot, pools.clone()));
                }
            }
        }
        let final_slot = post + TimeDelta::seconds(i64::from(cadence.final_odds_after_s));
        if final_slot <= horizon && !source.pools.is_empty() {
            jobs.push(job(Op::OddsFinal, final_slot, source.pools.clone()));
        }
    }
    if source.supports(Op::Results) && !race.complete {
        let first = post + TimeDelta::minutes(i64::from(cadence.results_delay_min));
        let every = TimeDelta::minutes(i64::from(cadence.results_every_min.max(1)));
        let last = post + TimeDelta::minutes(i64::from(cadence.results_give_up_min));
        if first <= horizon {
            // The latest slot due by the horizon, and no later than the give-up.
            let steps = ((horizon.min(last) - first).num_seconds() / every.num_seconds()).max(0);
            let slot = first + every * steps as i32;
            jobs.push(job(Op::Results, slot, Vec::new()));
        }
    }
    jobs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).map(|t| t.to_utc()).unwrap_or_default()
    }

    fn kra() -> SourcePlan {
        SourcePlan {
            source: "kra".into(),
            tracks: vec!["seoul".into()],
            ops: vec![OperationKind::Schedule, OperationKind::Entries, OperationKind::Odds, OperationKind::Results],
            pools: ["WIN", "PLC", "QNL", "EXA", "QPL", "TLA", "TRI"].map(String::from).to_vec(),
        }
    }

    fn race(post: &str) -> PlannedRace {
        PlannedRace {
            track: "seoul".into(),
            date: NaiveDate::from_ymd_opt(2026, 11, 28).unwrap_or_default(),
            number: 1,
            post: t(post),
            complete: false,
        }
    }

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
        assert_eq!(count(Op::OddsFinal), 1);
        // Results from post+5 every 5 min while not complete: 14:05 .. 15:00 walked.
        assert_eq!(count(Op::Results), 11);
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

    #[test]
    fn the_daily_slot_is_the_latest_06_00_kst() {
        assert_eq!(latest_daily(t("2026-11-28T05:59:00+09:00"), six()), t("2026-11-27T06:00:00+09:00"));
        assert_eq!(latest_daily(t("2026-11-28T06:00:00+09:00"), six()), t("2026-11-28T06:00:00+09:00"));
        assert_eq!(latest_daily(t("2026-11-28T23:00:00+09:00"), six()), t("2026-11-28T06:00:00+09:00"));
    }
}
