//! KSPO boat racing (미사리): race doc, card, result, rank and payoff services.

use crate::calendar::Track;
use crate::endpoint::Ctx;
use crate::kspo::{self, Gate, STD, amount, circled, numbered, race_of, rows, two, ymd};
use crate::kspo_cycle::{payoff_amounts, podium};
use crate::odds::{self, Dividend};
use crate::pools::Pool;
use crate::race::{Finish, RunnerDetail};
use crate::rows::Rows;
use crate::wire::{n, s};

const TRACK: Track = Track::Misari;
/// Lane colours, lane 1 first.
const COLOURS: [&str; 6] = ["백", "흑", "적", "청", "황", "녹"];
/// Boat racing has no trifecta or XLA at all (§3.2).
const POOLS: [Pool; 5] = [Pool::Win, Pool::Place, Pool::Exacta, Pool::Quinella, Pool::Trio];

/// The race doc: one row per published race with its round and day.
pub(crate) fn doc<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    let mut items = Vec::new();
    for (day, i) in kspo::races(ctx, TRACK, STD, Gate::Published) {
        let (Some(race), Some(m)) = (race_of(&day, i), day.meeting) else { continue };
        items.push(vec![
            ("stnd_yr", s(m.year.to_string())),
            ("week_tcnt", s(m.round.to_string())),
            ("day_tcnt", s(m.day.to_string())),
            ("race_ymd", s(ymd(race.date))),
            ("race_no", s(two(race.number))),
            ("dptre_tm", s(kspo::post(race, ':'))),
        ]);
    }
    rows(numbered(items))
}

/// The card: one row per boat of every published race, all strings but `row_num`.
pub(crate) fn card<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    let mut items = Vec::new();
    for (day, i) in kspo::races(ctx, TRACK, STD, Gate::Published) {
        let (Some(race), Some(m)) = (race_of(&day, i), day.meeting) else { continue };
        for r in &race.runners {
            let RunnerDetail::Boat(b) = &r.detail else { continue };
            let colour = COLOURS.get(usize::from(r.number).saturating_sub(1)).copied().unwrap_or("");
            items.push(vec![
                ("race_no", s(two(race.number))),
                ("week_tcnt", s(m.round.to_string())),
                ("day_tcnt", s(m.day.to_string())),
                ("dptre_tm", s(kspo::post(race, ':'))),
                ("race_reg_no", s(r.number.to_string())),
                ("racer_nm", s(&r.name)),
                ("racer_grd_cd", s(b.grade)),
                ("sex_cd", s(b.sex)),
                ("racer_age", s(b.age.to_string())),
                ("wght", s(b.weight.to_string())),
                ("color_nm", s(colour)),
                ("motor_no", s(format!("{:03}", b.motor_no))),
                ("boat_no", s(format!("{:03}", b.boat_no))),
                ("st_mthd_cd", s("002   ")),
            ]);
        }
    }
    rows(numbered(items))
}

/// `①-②1.9`: circled numbers, no parentheses.
fn combo(d: &Dividend) -> String {
    let legs: Vec<String> = d.numbers.iter().map(|n| circled(*n).to_string()).collect();
    format!("{}{}", legs.join("-"), amount(d.tenths))
}

/// The result: one row per official race; the second place dividend is in `pool3_val`.
pub(crate) fn result<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    let mut items = Vec::new();
    for (day, i) in kspo::races(ctx, TRACK, STD, Gate::Official) {
        let (Some(race), Some(m)) = (race_of(&day, i), day.meeting) else { continue };
        let divs = odds::dividends(race, &POOLS, false);
        let value =
            |pool: Pool, k: usize| s(divs.iter().filter(|d| d.pool == pool).nth(k).map(combo).unwrap_or_default());
        let mut podium = podium(race).into_iter();
        items.push(vec![
            ("race_no", s(two(race.number))),
            ("week_tcnt", n(m.round)),
            ("day_tcnt", s(m.day.to_string())),
            ("rank1", s(podium.next().unwrap_or_default())),
            ("rank2", s(podium.next().unwrap_or_default())),
            ("rank3", s(podium.next().unwrap_or_default())),
            ("pool1_val", value(Pool::Win, 0)),
            ("pool2_val", value(Pool::Place, 0)),
            ("pool3_val", value(Pool::Place, 1)),
            ("pool4_val", value(Pool::Exacta, 0)),
            ("pool5_val", value(Pool::Quinella, 0)),
            ("pool6_val", value(Pool::Trio, 0)),
        ]);
    }
    rows(items)
}

/// The rank service: one row per boat of every official race, in result order; no name,
/// no lane.
pub(crate) fn rank<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    kspo::rank_rows(ctx, TRACK, |line| {
        let (race, m) = (line.race, line.meeting);
        let rank = match line.placing.finish {
            Finish::Place(k) => k.to_string(),
            Finish::Disqualified => "실격".into(),
            Finish::DidNotFinish => "전복".into(),
        };
        vec![
            ("race_day", s(ymd(race.date))),
            ("mbr_nm", s(TRACK.label())),
            ("tms", s(m.round.to_string())),
            ("day_ord", s(m.day.to_string())),
            ("race_no", s(two(race.number))),
            ("race_rank", s(rank)),
            ("racer_no", s(&line.runner.id)),
        ]
    })
}

/// The payoff service: amounts only (served, unused by the plugins).
pub(crate) fn payoff<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    let mut items = Vec::new();
    for (day, i) in kspo::races(ctx, TRACK, STD, Gate::Official) {
        let (Some(race), Some(m)) = (race_of(&day, i), day.meeting) else { continue };
        let mut item = vec![
            ("race_ymd", s(ymd(race.date))),
            ("week_tcnt", n(m.round)),
            ("day_tcnt", n(m.day)),
            ("race_no", s(two(race.number))),
        ];
        item.extend(payoff_amounts(race));
        items.push(item);
    }
    rows(items)
}
