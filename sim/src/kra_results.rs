//! KRA (`/B551015`) services about money and results: Dividend_rate_total (API301),
//! RaceDetailResult_1 (API214_1) and integratedInfo_1 (API160_1).

use std::sync::Arc;

use crate::calendar::Track;
use crate::endpoint::Ctx;
use crate::kra::{date_number, days, horse, item, races};
use crate::odds::{self, market_at};
use crate::pools::{Market, Pool};
use crate::race::{Finish, Margin, RaceDay, SimRace};
use crate::rows::Rows;
use crate::wire::{Item, V, n, s, tenths};

/// API301: every combination of the starters for each asked pool (all seven when `pool` is
/// absent), live or final per the odds mode. Rows are built per race only when paged to.
pub(crate) fn odds<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    let pools: Vec<Pool> = match ctx.query.get("pool").map(str::trim) {
        None | Some("") => Pool::KRA.to_vec(),
        Some(code) => Pool::parse(code).filter(|p| Pool::KRA.contains(p)).into_iter().collect(),
    };
    let mut rows = Rows::new();
    let days = days(ctx);
    for (day, race) in races(ctx, &days) {
        let Some(market) = market_at(race, ctx.now, ctx.odds) else {
            continue;
        };
        let starters = market.starters();
        for &pool in &pools {
            let (day, number) = (Arc::clone(day), race.number);
            let market = market.clone();
            rows.lazy(pool.combinations(starters), move || odds_rows(&day, number, pool, &market));
        }
    }
    rows
}

fn odds_rows(day: &RaceDay, number: u8, pool: Pool, market: &Market) -> Vec<Item> {
    market
        .rows(pool)
        .into_iter()
        .map(|([a, b, c], t)| {
            item(vec![
                ("chulNo", n(a)),
                ("chulNo2", n(b)),
                ("chulNo3", n(c)),
                ("meet", s(day.track.label())),
                ("odds", tenths(t)),
                ("pool", s(pool.code())),
                ("rcDate", date_number(day.date)),
                ("rcNo", n(number)),
            ])
        })
        .collect()
}

/// API214_1: one row per starter in result order (non-finishers last), once official.
pub(crate) fn results<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    let days = days(ctx);
    let mut items = Vec::new();
    for (day, race) in races(ctx, &days) {
        if ctx.now < race.official_at() {
            continue;
        }
        let market = odds::final_market(race);
        items.extend(result_rows(day, race, &market));
    }
    let mut rows = Rows::new();
    rows.extend(items);
    rows
}

fn result_rows(day: &RaceDay, race: &SimRace, market: &Market) -> Vec<Item> {
    // API214_1 abbreviates 부산경남 (§2.1).
    let meet = if day.track == Track::Busan { "부경" } else { day.track.label() };
    let going = format!("{} ({}%)", going(day.moisture), day.moisture);
    let mut out = Vec::with_capacity(race.outcome.placings.len());
    for p in &race.outcome.placings {
        let Some(runner) = race.runner(p.number) else { continue };
        let Some(e) = horse(&runner.detail) else { continue };
        let ord = match p.finish {
            Finish::Place(k) => u32::from(k),
            Finish::Disqualified => 91,
            Finish::DidNotFinish => 92,
        };
        let weight = format!("{}({:+})", e.body_weight, e.body_delta).replace("(+0)", "(0)");
        out.push(item(vec![
            ("age", n(e.age)),
            ("chulNo", n(p.number)),
            ("diffUnit", margin(p.margin)),
            ("hrName", s(&runner.name)),
            ("hrNo", s(&runner.id)),
            ("jkName", s(&e.jockey.name)),
            ("jkNo", s(&e.jockey.no)),
            ("meet", s(meet)),
            ("ord", n(ord)),
            ("plcOdds", tenths(market.odds(Pool::Place, &[p.number]))),
            ("rcDate", date_number(race.date)),
            ("rcDist", n(race.distance)),
            ("rcName", s(&race.name)),
            ("rcNo", n(race.number)),
            ("rcTime", tenths(p.time_tenths)),
            ("track", s(&going)),
            ("trName", s(&e.trainer.name)),
            ("trNo", s(&e.trainer.no)),
            ("weather", s(day.weather)),
            ("wgBudam", tenths(e.weight_carried_tenths)),
            ("wgHr", s(weight)),
            ("winOdds", tenths(market.odds(Pool::Win, &[p.number]))),
        ]));
    }
    out
}

/// KRA's going by moisture: 건조 1–5%, 양호 6–9%, 다습 10–14%, 포화 15–19%, 불량 20%+.
fn going(moisture: u8) -> &'static str {
    match moisture {
        0..=5 => "건조",
        6..=9 => "양호",
        10..=14 => "다습",
        15..=19 => "포화",
        _ => "불량",
    }
}

fn margin(m: Margin) -> V {
    match m {
        Margin::None => s("-"),
        Margin::Text(t) => s(t),
        Margin::Lengths(l) => n(l),
    }
}

/// API160_1: one row per winning combination of every pool, once official. Unordered pools
/// list their numbers ascending, as API301 does.
pub(crate) fn dividends<'a>(ctx: &'a Ctx<'a>) -> Rows<'a> {
    let days = days(ctx);
    let mut items = Vec::new();
    for (_, race) in races(ctx, &days) {
        if ctx.now < race.official_at() {
            continue;
        }
        for d in odds::dividends(race, &Pool::KRA, true) {
            let leg = |i: usize| n(d.numbers.get(i).copied().unwrap_or(0));
            items.push(item(vec![
                ("chulNo", leg(0)),
                ("chulNo2", leg(1)),
                ("chulNo3", leg(2)),
                ("odds", tenths(d.tenths)),
                ("pool", s(d.pool.korean())),
                ("rcDate", date_number(race.date)),
                ("rcNo", n(race.number)),
            ]));
        }
    }
    let mut rows = Rows::new();
    rows.extend(items);
    rows
}
