//! KSPO cycle racing (광명): card, result, rank and payoff services.

use crate::calendar::Track;
use crate::endpoint::Ctx;
use crate::kspo::{self, Gate, STD, amount, circled, numbered, race_of, rows, two, ymd};
use crate::odds::{self, Dividend};
use crate::people::padded;
use crate::pools::Pool;
use crate::race::{Finish, RunnerDetail, SimRace};
use crate::rows::Rows;
use crate::wire::{Item, n, s};

const TRACK: Track = Track::Gwangmyeong;
/// Pools in result order: pool1 WIN, pool2 PLC, pool4 EXA, pool5 QNL, pool6 TLA, pool7 TRI,
/// pool8 XLA.
const POOLS: [Pool; 7] = [Pool::Win, Pool::Place, Pool::Exacta, Pool::Quinella, Pool::Trio, Pool::Trifecta, Pool::Xla];

/// The card: one row per rider of every published race, all strings but `row_num`.
pub(crate) fn card<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    let mut items = Vec::new();
    for (day, i) in kspo::races(ctx, TRACK, STD, Gate::Published) {
        let (Some(race), Some(m)) = (race_of(&day, i), day.meeting) else { continue };
        for r in &race.runners {
            let RunnerDetail::Cyclist(c) = &r.detail else { continue };
            items.push(vec![
                ("meet_nm", s("광명  ")),
                ("stnd_yr", s(m.year.to_string())),
                ("week_tcnt", s(two(m.round))),
                ("day_tcnt", s(m.day.to_string())),
                ("race_no", s(two(race.number))),
                ("race_ymd", s(race.date.format("%Y.%m.%d").to_string())),
                ("back_no", s(r.number.to_string())),
                ("racer_nm", s(&r.name)),
                ("racer_grd_cd", s(race.class)),
                ("racer_grd_cur_cd", s(c.grade_now)),
                ("gear_rate", s(hundredths(c.gear_rate_hundredths, "."))),
                ("rec_200m_scr", s(hundredths(c.best_200m_hundredths, "\""))),
                ("dptre_tm", s(kspo::post(race, '"'))),
                ("race_len", s(race.distance.to_string())),
                ("round_cnt", s("5")),
                ("tot_tms_avg_scr", s(thousandths(c.avg_score_thousandths))),
            ]);
        }
    }
    rows(numbered(items))
}

fn hundredths(v: u32, separator: &str) -> String {
    format!("{}{separator}{:02}", v / 100, v % 100)
}

fn thousandths(v: u32) -> String {
    format!("{}.{:03}", v / 1000, v % 1000)
}

/// `②이길섭`: circled back number and the (padded) name of each of the first three.
pub(crate) fn podium(race: &SimRace) -> Vec<String> {
    race.outcome
        .top(3)
        .into_iter()
        .map(|number| {
            let name = race.runner(number).map(|r| padded(&r.name)).unwrap_or_default();
            format!("{}{name}", circled(number))
        })
        .collect()
}

fn combo(d: &Dividend) -> String {
    let legs: Vec<String> = d.numbers.iter().map(u8::to_string).collect();
    format!("({}){}", legs.join("-"), amount(d.tenths))
}

fn joined(divs: &[Dividend], pool: Pool) -> String {
    let parts: Vec<String> = divs.iter().filter(|d| d.pool == pool).map(combo).collect();
    parts.join(" ")
}

/// The result: one row per official race with the first three and the winning combinations.
pub(crate) fn result<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    let mut items = Vec::new();
    for (day, i) in kspo::races(ctx, TRACK, STD, Gate::Official) {
        let (Some(race), Some(m)) = (race_of(&day, i), day.meeting) else { continue };
        let divs = odds::dividends(race, &POOLS, false);
        let mut podium = podium(race).into_iter();
        let mut item = vec![
            ("meet_nm", s(TRACK.label())),
            ("race_ymd", s(race.date.format("%m%d").to_string())),
            ("week_tcnt", n(m.round)),
            ("day_tcnt", n(m.day)),
            ("race_no", s(two(race.number))),
            ("rank1", s(podium.next().unwrap_or_default())),
            ("rank2", s(podium.next().unwrap_or_default())),
            ("rank3", s(podium.next().unwrap_or_default())),
        ];
        let keys = ["pool1_val", "pool2_val", "pool4_val", "pool5_val", "pool6_val", "pool7_val", "pool8_val"];
        item.extend(keys.into_iter().zip(POOLS).map(|(k, p)| (k, s(joined(&divs, p)))));
        items.push(item);
    }
    rows(items)
}

/// The rank service: one row per rider of every official race, in result order.
pub(crate) fn rank<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    kspo::rank_rows(ctx, TRACK, |line| {
        let (race, m) = (line.race, line.meeting);
        let rank = match line.placing.finish {
            Finish::Place(k) => two(k),
            Finish::Disqualified => "실격".into(),
            Finish::DidNotFinish => "낙차".into(),
        };
        vec![
            ("race_day", s(ymd(race.date))),
            ("meet_nm", s(TRACK.label())),
            ("tms", s(two(m.round))),
            ("day_ord", s(m.day.to_string())),
            ("race_no", s(two(race.number))),
            ("race_rank", s(rank)),
            ("racer_no", s(&line.runner.id)),
            ("racer_nm", s(&line.runner.name)),
            ("stnd_year", s(m.year.to_string())),
        ]
    })
}

/// The payoff service: amounts only, no combinations (served, unused by the plugins).
pub(crate) fn payoff<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    let mut items = Vec::new();
    for (day, i) in kspo::races(ctx, TRACK, STD, Gate::Official) {
        let (Some(race), Some(m)) = (race_of(&day, i), day.meeting) else { continue };
        let mut item = vec![
            ("race_no", s(two(race.number))),
            ("race_ymd", s(ymd(race.date))),
            ("stnd_yr", s(m.year.to_string())),
            ("week_tcnt", n(m.round)),
            ("day_tcnt", n(m.day)),
        ];
        item.extend(payoff_amounts(race));
        items.push(item);
    }
    rows(numbered(items))
}

/// The payoff amounts cycle and boat share: WIN, both PLC, EXA, QNL, TLA.
pub(crate) fn payoff_amounts(race: &SimRace) -> Item {
    let pools = [Pool::Win, Pool::Place, Pool::Exacta, Pool::Quinella, Pool::Trio];
    let divs = odds::dividends(race, &pools, false);
    let value = |pool: Pool, k: usize| {
        let found = divs.iter().filter(|d| d.pool == pool).nth(k);
        s(found.map(|d| amount(d.tenths)).unwrap_or_default())
    };
    vec![
        ("pool1_val", value(Pool::Win, 0)),
        ("pool2_1_val", value(Pool::Place, 0)),
        ("pool2_2_val", value(Pool::Place, 1)),
        ("pool4_val", value(Pool::Exacta, 0)),
        ("pool5_val", value(Pool::Quinella, 0)),
        ("pool6_val", value(Pool::Trio, 0)),
    ]
}
