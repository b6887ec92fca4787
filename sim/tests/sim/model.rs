//! The simulated world over HTTP: determinism, publication times, odds, results and the
//! ground truth in `expect`.

use std::collections::HashMap;

use chrono::{DateTime, FixedOffset, TimeDelta};
use racelab_sim::{Calendar, OddsMode, Pool, SimConfig, Track, expect};
use serde_json::Value;

use crate::support::*;

#[tokio::test]
async fn the_same_seed_serves_the_same_bytes() {
    let day = race_day(Track::Seoul, 2);
    let now = at(day + TimeDelta::days(1), 9, 0);
    let (a, b) = (start(config(now)).await, start(config(now)).await);
    let other = start(SimConfig { seed: SEED + 1, ..config(now) }).await;
    let (cday, bday) = (race_day(Track::Gwangmyeong, 3), race_day(Track::Misari, 3));
    let queries = [
        kra(ENTRIES, 1, day, "&numOfRows=50"),
        kra(ODDS, 1, day, "&rc_no=2&numOfRows=200"),
        kra(RESULTS, 1, day, "&numOfRows=200"),
        kspo(CYCLE_RANK, &format!("&race_day={}&numOfRows=200", cday.format("%Y%m%d"))),
        kspo(BOAT_DOC, &format!("&stnd_yr=2026&race_ymd={}", bday.format("%Y%m%d"))),
    ];
    for q in &queries {
        let (x, y, z) = (a.get(q).await.1, b.get(q).await.1, other.get(q).await.1);
        assert_eq!(x, y, "{q}");
        assert!(x.contains("\"item\":["), "{q}: {x}");
        assert_ne!(x, z, "another seed, another world: {q}");
    }
}

#[tokio::test]
async fn cards_appear_three_days_ahead_and_results_ten_minutes_after_post() {
    let day = race_day(Track::Seoul, 0);
    let sim = start(config(at(day - TimeDelta::days(3), 0, 0) - TimeDelta::seconds(1))).await;
    assert_eq!(total(&sim.json(&kra(PLAN, 1, day, "")).await), 0);
    assert_eq!(total(&sim.json(&kra(ENTRIES, 1, day, "")).await), 0);
    sim.clock.advance(TimeDelta::seconds(1));
    assert!(total(&sim.json(&kra(PLAN, 1, day, "")).await) >= 10);
    let race = Calendar::new(SEED).day(Track::Seoul, day).expect("race day").races[0].clone();
    sim.clock.set(race.post_time + TimeDelta::minutes(9));
    for path in [RESULTS, DIVIDENDS] {
        assert_eq!(total(&sim.json(&kra(path, 1, day, "&rc_no=1")).await), 0, "{path}");
    }
    sim.clock.set(race.official_at());
    assert_eq!(total(&sim.json(&kra(RESULTS, 1, day, "&rc_no=1")).await), race.starters().count());
}

async fn win_odds(sim: &Sim, day: chrono::NaiveDate, now: DateTime<FixedOffset>) -> Vec<f64> {
    sim.clock.set(now);
    let v = sim.json(&kra(ODDS, 1, day, "&rc_no=1&pool=WIN&numOfRows=100")).await;
    items(&v).iter().map(|r| r["odds"].as_f64().expect("odds")).collect()
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x.ln() - y.ln()).abs()).sum()
}

#[tokio::test]
async fn live_odds_drift_to_the_final_odds_and_final_only_shows_nothing_before() {
    let day = race_day(Track::Seoul, 1);
    let race = Calendar::new(SEED).day(Track::Seoul, day).expect("race day").races[0].clone();
    let post = race.post_time;
    let live = start(config(post)).await;
    let early = win_odds(&live, day, post - TimeDelta::hours(2)).await;
    assert_eq!(early, win_odds(&live, day, post - TimeDelta::hours(2)).await, "a function of time");
    let late = win_odds(&live, day, post - TimeDelta::minutes(1)).await;
    let at_post = win_odds(&live, day, post).await;
    let official = win_odds(&live, day, race.official_at() + TimeDelta::hours(5)).await;
    assert_eq!(at_post, official, "betting closes at post");
    assert_ne!(early, late);
    assert!(distance(&early, &official) > distance(&late, &official), "{early:?} {late:?} {official:?}");
    let before = win_odds(&live, day, race.published_at() - TimeDelta::seconds(1)).await;
    assert!(before.is_empty(), "no odds before the card is published");

    let final_only = start(SimConfig { odds: OddsMode::FinalOnly, ..config(post) }).await;
    assert!(win_odds(&final_only, day, post - TimeDelta::minutes(1)).await.is_empty());
    assert!(win_odds(&final_only, day, race.official_at() - TimeDelta::seconds(1)).await.is_empty());
    assert_eq!(win_odds(&final_only, day, race.official_at()).await, official);
}

fn key(r: &Value) -> (u64, u64, u64) {
    let leg = |k: &str| r[k].as_u64().unwrap_or(0);
    (leg("chulNo"), leg("chulNo2"), leg("chulNo3"))
}

#[tokio::test]
async fn dividends_equal_the_final_odds_of_the_winning_combinations() {
    let day = race_day(Track::Seoul, 3);
    let sim = start(config(at(day + TimeDelta::days(1), 9, 0))).await;
    let korean: HashMap<&str, &str> = Pool::KRA.iter().map(|p| (p.korean(), p.code())).collect();
    let races = Calendar::new(SEED).day(Track::Seoul, day).expect("race day").races.len();
    for no in 1..=races {
        let odds = items(&sim.json(&kra(ODDS, 1, day, &format!("&rc_no={no}&numOfRows=10000"))).await);
        let find = |pool: &str, k: (u64, u64, u64)| {
            odds.iter().find(|r| r["pool"] == pool && key(r) == k).map(|r| r["odds"].clone())
        };
        let dividends = items(&sim.json(&kra(DIVIDENDS, 1, day, &format!("&rc_no={no}&numOfRows=100"))).await);
        assert!(dividends.len() >= 10, "race {no}: {}", dividends.len());
        for d in &dividends {
            let pool = korean[d["pool"].as_str().expect("pool")];
            assert_eq!(find(pool, key(d)), Some(d["odds"].clone()), "race {no}: {d}");
        }
        let results = items(&sim.json(&kra(RESULTS, 1, day, &format!("&rc_no={no}&numOfRows=100"))).await);
        let winner = results.iter().find(|r| r["ord"] == 1).expect("a winner");
        let win = dividends.iter().find(|d| d["pool"] == "단승식").expect("a WIN dividend");
        assert_eq!((winner["chulNo"].clone(), winner["winOdds"].clone()), (win["chulNo"].clone(), win["odds"].clone()));
    }
}

#[tokio::test]
async fn favourites_win_far_more_often_than_chance() {
    let day = race_day(Track::Seoul, 0);
    let sim = start(config(at(day + TimeDelta::days(120), 9, 0))).await;
    let month =
        format!("{RESULTS}?serviceKey={KEY}&_type=json&meet=1&rc_month={}&numOfRows=100000", day.format("%Y%m"));
    let rows = items(&sim.json(&month).await);
    let mut races: HashMap<(u64, u64), Vec<&Value>> = HashMap::new();
    for r in &rows {
        races.entry((r["rcDate"].as_u64().unwrap_or(0), r["rcNo"].as_u64().unwrap_or(0))).or_default().push(r);
    }
    assert!(races.len() > 60, "{} races", races.len());
    let favourite_wins = races
        .values()
        .filter(|field| {
            let best = field.iter().map(|r| r["winOdds"].as_f64().unwrap_or(f64::MAX)).fold(f64::MAX, f64::min);
            field.iter().any(|r| r["ord"] == 1 && r["winOdds"].as_f64() == Some(best))
        })
        .count();
    // By chance about 1 in 10.5; the model gives the favourite roughly a third.
    let share = favourite_wins as f64 / races.len() as f64;
    assert!(share > 0.2, "favourites won {favourite_wins} of {}", races.len());
}

#[tokio::test]
async fn expect_matches_what_is_served() {
    let cal = Calendar::new(SEED);
    let (kday, cday, bday) = (race_day(Track::Seoul, 4), race_day(Track::Gwangmyeong, 4), race_day(Track::Misari, 4));
    let sim = start(config(at(kday.max(cday).max(bday) + TimeDelta::days(1), 9, 0))).await;
    let counts = expect::day(&cal, Track::Seoul, kday);
    assert!(!counts.is_empty());
    for c in &counts {
        let q = |path: &str| kra(path, 1, kday, &format!("&rc_no={}&numOfRows=1", c.number));
        assert_eq!(total(&sim.json(&q(ENTRIES)).await), c.entries);
        assert_eq!(total(&sim.json(&q(CANCELS)).await), c.scratches);
        assert_eq!(total(&sim.json(&q(RESULTS)).await), c.result_rows);
        assert_eq!(total(&sim.json(&q(DIVIDENDS)).await), c.dividend_rows);
        assert_eq!(total(&sim.json(&q(ODDS)).await), c.odds_rows_all_pools);
        assert_eq!(c.entries, c.starters + c.scratches);
    }
    for (track, rank, card, day, field, dividends) in
        [(Track::Gwangmyeong, CYCLE_RANK, CYCLE_CARD, cday, 7, 8), (Track::Misari, BOAT_RANK, BOAT_CARD, bday, 6, 6)]
    {
        let m = cal.meeting(track, day).expect("meeting");
        for c in expect::day(&cal, track, day) {
            assert_eq!(
                (c.entries, c.result_rows, c.dividend_rows, c.odds_rows_all_pools),
                (field, field, dividends, 0)
            );
            let r = format!("&stnd_year=2026&tms={:02}&day_ord={}&race_no={:02}", m.round, m.day, c.number);
            assert_eq!(total(&sim.json(&kspo(rank, &r)).await), c.result_rows);
            let q = format!("&stnd_yr=2026&week_tcnt={:02}&day_tcnt={}&race_no={:02}", m.round, m.day, c.number);
            let cards = items(&sim.json(&kspo(card, &format!("{q}&numOfRows=100"))).await);
            let on_day = cards.iter().filter(|r| r["day_tcnt"].as_str() == Some(m.day.to_string().as_str())).count();
            assert_eq!(on_day, c.entries);
        }
    }
    let from = chrono::NaiveDate::from_ymd_opt(2026, 1, 1).expect("date");
    let to = chrono::NaiveDate::from_ymd_opt(2026, 12, 31).expect("date");
    assert!(
        expect::day(&cal, Track::Seoul, chrono::NaiveDate::from_ymd_opt(2026, 3, 4).expect("a Wednesday")).is_empty()
    );
    let days = expect::race_days(&cal, Track::Seoul, from, to);
    assert!((90..=106).contains(&days.len()), "{} Seoul race days", days.len());
}
