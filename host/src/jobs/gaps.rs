//! Completeness: a race the cadence gave up on is a recorded gap, not a silent hole.
//!
//! A race whose results are not final by `results_give_up_min` after post, or that has no odds
//! captured after post once its results are final and `final_odds_grace_min` has passed, gets
//! an `ingestion_failures` row of kind `incomplete` (one open per race and operation; the job
//! that would fill it is kept in the row, so `racelab retry` can queue it again). The planner
//! sweeps on every tick: new gaps raise one alert per source and track-day; a gap whose data
//! has arrived since — a retry, a late answer — is resolved, and the track-day's alert with the
//! last of them.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

use super::planner::{PlannedRace, SourcePlan, final_odds_give_up, results_give_up};
use super::{JobError, Op, db, ledger};
use crate::config::Cadence;

/// What is missing from a race.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gap {
    /// Results and dividends not final by the give-up time.
    Results,
    /// No odds captured after post by the final odds' give-up time.
    FinalOdds,
}

impl Gap {
    /// The operation that would fill it.
    pub fn op(self) -> Op {
        match self {
            Gap::Results => Op::Results,
            Gap::FinalOdds => Op::OddsFinal,
        }
    }
}

/// The gaps of `race` at `now` (pure).
pub fn gaps_of(cadence: &Cadence, source: &SourcePlan, race: &PlannedRace, now: DateTime<Utc>) -> Vec<Gap> {
    let mut gaps = Vec::new();
    if source.ops.contains(&Op::Results.kind()) && !race.complete && now >= results_give_up(cadence, race) {
        gaps.push(Gap::Results);
    }
    let has_odds = source.ops.contains(&Op::OddsFinal.kind()) && !source.pools.is_empty();
    if has_odds && !race.final_odds && now >= final_odds_give_up(cadence, race) {
        gaps.push(Gap::FinalOdds);
    }
    gaps
}

/// A track-day whose gaps opened or closed in one sweep.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TrackDay {
    pub source: String,
    pub track: String,
    pub date: NaiveDate,
}

/// What one sweep changed.
#[derive(Debug, Default, PartialEq)]
pub struct Sweep {
    /// Gaps recorded now, with their message, by track-day.
    pub opened: Vec<(TrackDay, String)>,
    /// Track-days left with no open gap by this sweep's resolutions.
    pub cleared: Vec<TrackDay>,
}

/// Records the gaps of `races` at `now` and resolves those whose data has arrived.
pub async fn sweep(
    pool: &PgPool,
    cadence: &Cadence,
    races: &[(&SourcePlan, &PlannedRace)],
    now: DateTime<Utc>,
) -> Result<Sweep, JobError> {
    let mut new = Vec::new();
    for (source, race) in races {
        for gap in gaps_of(cadence, source, race, now) {
            new.push((*source, *race, gap));
        }
    }
    let mut tx = pool.begin().await.map_err(db("starting the completeness sweep"))?;
    let mut out = Sweep::default();
    for (source, race, gap) in new {
        let message = match gap {
            Gap::Results => format!(
                "{} {} race {}: results not final {} min after post; no longer asked for",
                race.track, race.date, race.number, cadence.results_give_up_min
            ),
            Gap::FinalOdds => format!(
                "{} {} race {}: no final odds {} min after the results were final; no longer asked for",
                race.track, race.date, race.number, cadence.final_odds_grace_min
            ),
        };
        let pools = if gap == Gap::FinalOdds { source.pools.clone() } else { Vec::new() };
        let job = serde_json::json!({
            "source": source.source, "op": gap.op().as_str(), "track": race.track, "race_date": race.date,
            "race_number": race.number, "post_time": race.post, "pools": pools,
        });
        let gap = ledger::GapRow {
            source: &source.source,
            op: gap.op(),
            track: &race.track,
            date: race.date,
            number: race.number,
            message: &message,
            job,
        };
        let inserted = ledger::record_gap(&mut tx, &gap).await?;
        if inserted {
            let day = TrackDay { source: source.source.clone(), track: race.track.clone(), date: race.date };
            out.opened.push((day, message));
        }
    }
    // Gaps whose data is in now, and the track-days they leave clear.
    let cleared = ledger::resolve_gaps(&mut tx).await?;
    tx.commit().await.map_err(db("committing the completeness sweep"))?;
    for _ in &out.opened {
        crate::telemetry::failure(crate::jobs::FailureKind::Incomplete.as_str());
    }
    out.cleared = cleared.into_iter().map(|(source, track, date)| TrackDay { source, track, date }).collect();
    out.cleared.sort();
    Ok(out)
}

/// One track's race day as `/status` shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct TrackToday {
    pub track: String,
    /// Races on the card.
    pub races: i64,
    /// With results and dividends.
    pub results_final: i64,
    /// With odds captured after post.
    pub final_odds: i64,
    /// Open `incomplete` failures.
    pub gaps: i64,
    /// Whether its pre-race odds polls stopped after finding nothing.
    pub pre_race_odds_stopped: bool,
}

/// Every track racing on `date`, for `/status`.
pub async fn track_days(pool: &PgPool, date: NaiveDate, stop_after: u32) -> Result<Vec<TrackToday>, JobError> {
    let rows = ledger::track_day_counts(pool, date).await?;
    let stopped = ledger::pre_race_stopped(pool, date, date, stop_after).await?;
    Ok(rows
        .into_iter()
        .map(|(track, races, results_final, final_odds, gaps)| TrackToday {
            pre_race_odds_stopped: stopped.iter().any(|(_, t, _)| *t == track),
            track,
            races,
            results_final,
            final_odds,
            gaps,
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jobs::planner::fixtures::{self, t};
    use crate::plugins::wit::OperationKind;

    fn kra() -> SourcePlan {
        SourcePlan { pools: vec!["WIN".into(), "PLC".into()], odds_before_post: false, ..fixtures::kra() }
    }

    fn race() -> PlannedRace {
        fixtures::race("2026-11-28T14:00:00+09:00")
    }

    #[test]
    fn results_not_final_by_the_give_up_are_a_gap_and_so_are_their_odds() {
        let c = Cadence::default();
        assert!(gaps_of(&c, &kra(), &race(), t("2026-11-29T13:59:00+09:00")).is_empty());
        assert_eq!(gaps_of(&c, &kra(), &race(), t("2026-11-29T14:00:00+09:00")), [Gap::Results, Gap::FinalOdds]);
        let mut kspo = kra();
        kspo.ops.retain(|k| *k != OperationKind::Odds);
        assert_eq!(gaps_of(&c, &kspo, &race(), t("2026-11-29T14:00:00+09:00")), [Gap::Results]);
    }

    #[test]
    fn final_odds_missing_a_grace_after_the_results_are_a_gap() {
        let c = Cadence::default();
        let mut r = race();
        r.complete = true;
        r.complete_at = Some(t("2026-11-28T14:10:00+09:00"));
        assert!(gaps_of(&c, &kra(), &r, t("2026-11-28T15:09:00+09:00")).is_empty());
        assert_eq!(gaps_of(&c, &kra(), &r, t("2026-11-28T15:10:00+09:00")), [Gap::FinalOdds]);
        r.final_odds = true;
        assert!(gaps_of(&c, &kra(), &r, t("2026-11-28T18:00:00+09:00")).is_empty());
    }
}
