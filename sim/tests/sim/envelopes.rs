//! Envelope shapes, formats and paging, endpoint by endpoint.

use chrono::TimeDelta;
use racelab_sim::{Calendar, Track};
use serde_json::Value;

use crate::support::*;

/// Every KRA endpoint with a query that selects rows once everything is official.
fn kra_queries(date: chrono::NaiveDate) -> Vec<String> {
    [PLAN, ENTRIES, ODDS, RESULTS, DIVIDENDS].iter().map(|p| kra(p, 1, date, "&rc_no=1")).collect()
}

/// Asserts a single-row page is an object, and that the query with `from` replaced by `to`
/// (selecting nothing) answers `""`.
async fn one_and_zero(sim: &Sim, query: &str, from: &str, to: &str) {
    let one = sim.json(&format!("{query}&numOfRows=1")).await;
    assert_eq!(code(&one), "00", "{query}");
    assert!(one["response"]["body"]["items"]["item"].is_object(), "{query}: {one}");
    assert!(total(&one) >= 1);
    assert!(query.contains(from), "{query} lacks {from}");
    let nothing = query.replace(from, to);
    let none = sim.json(&nothing).await;
    assert_eq!(none["response"]["body"]["items"], Value::String(String::new()), "{nothing}");
    assert_eq!(total(&none), 0);
}

#[tokio::test]
async fn kra_one_row_is_an_object_and_none_is_an_empty_string() {
    let day = race_day(Track::Seoul, 0);
    let sim = start(config(at(day + TimeDelta::days(1), 9, 0))).await;
    for q in kra_queries(day) {
        one_and_zero(&sim, &q, "rc_no=1", "rc_no=99").await;
    }
    // Scratches: a race with one, and the same query on a day without racing.
    let cal = Calendar::new(SEED);
    let (date, race) = (0..40)
        .map(|i| race_day(Track::Seoul, i))
        .find_map(|d| {
            let day = cal.day(Track::Seoul, d)?;
            let race = day.races.iter().find(|r| r.runners.iter().any(|x| x.scratch.is_some()))?;
            Some((d, race.number))
        })
        .expect("a scratch within 40 race days");
    sim.clock.set(at(date + TimeDelta::days(1), 9, 0));
    let q = kra(CANCELS, 1, date, &format!("&rc_no={race}"));
    one_and_zero(&sim, &q, &format!("rc_no={race}"), "rc_no=99").await;
}

#[tokio::test]
async fn kspo_one_row_is_an_object_and_none_is_an_empty_string() {
    let cal = Calendar::new(SEED);
    let cday = race_day(Track::Gwangmyeong, 0);
    let bday = race_day(Track::Misari, 0);
    let sim = start(config(at(cday.max(bday) + TimeDelta::days(1), 9, 0))).await;
    let c = cal.meeting(Track::Gwangmyeong, cday).expect("cycle meeting");
    let b = cal.meeting(Track::Misari, bday).expect("boat meeting");
    let cycle = format!("&stnd_yr=2026&week_tcnt={:02}&day_tcnt={}&race_no=01", c.round, c.day);
    let rank = |m: racelab_sim::Meeting| format!("&stnd_year=2026&tms={:02}&day_ord={}&race_no=01", m.round, m.day);
    let boat = format!("&stnd_yr=2026&week_tcnt={:02}&day_tcnt={}&race_no=01", b.round, b.day);
    let queries = [
        kspo(CYCLE_CARD, &format!("&meet_nm={GWANGMYEONG}{cycle}")),
        kspo(CYCLE_RESULT, &format!("&meet_nm={GWANGMYEONG}{cycle}")),
        kspo(CYCLE_RANK, &rank(c)),
        kspo(CYCLE_PAYOFF, &cycle),
        kspo(BOAT_DOC, &format!("&stnd_yr=2026&race_ymd={}&race_no=01", bday.format("%Y%m%d"))),
        kspo(BOAT_CARD, &boat),
        kspo(BOAT_RESULT, &boat),
        kspo(BOAT_RANK, &rank(b)),
        kspo(BOAT_PAYOFF, &boat),
    ];
    for q in queries {
        one_and_zero(&sim, &q, "race_no=01", "race_no=99").await;
    }
}

#[tokio::test]
async fn kra_keys_are_sorted_and_types_follow_the_spec() {
    let day = race_day(Track::Seoul, 0);
    let sim = start(config(at(day + TimeDelta::days(1), 9, 0))).await;
    for q in kra_queries(day) {
        let (_, body) = sim.get(&format!("{q}&numOfRows=1")).await;
        let v: Value = serde_json::from_str(&body).expect("JSON");
        let item = v["response"]["body"]["items"]["item"].as_object().expect("one item");
        // serde_json's map is sorted itself, so check the order in the raw text.
        let positions: Vec<usize> =
            item.keys().map(|k| body.find(&format!("\"{k}\":")).expect("key in body")).collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{q}: keys not sorted in {body}");
        assert!(item["rcDate"].is_u64() && item["rcNo"].is_u64(), "{body}");
    }
    let entry = &sim.json(&kra(ENTRIES, 1, day, "&rc_no=1&numOfRows=1")).await["response"]["body"]["items"]["item"];
    assert!(entry["hrNo"].as_str().is_some_and(|s| s.len() == 7), "{entry}");
    assert!(entry["stTime"].as_str().is_some_and(|s| s.starts_with("출발 :")), "{entry}");
    assert!(entry["rating"].is_u64() || entry["rating"] == "-");
    let plan = sim.json(&kra(PLAN, 1, day, "")).await;
    assert!(items(&plan).iter().all(|r| r["schStTime"].as_u64().is_some_and(|t| t >= 1000)));
}

#[tokio::test]
async fn jeju_plans_have_no_scheduled_time_and_the_entry_sheet_has_it() {
    let day = race_day(Track::Jeju, 0);
    let sim = start(config(at(day + TimeDelta::days(1), 9, 0))).await;
    let plan = sim.json(&kra(PLAN, 2, day, "")).await;
    assert!(!items(&plan).is_empty());
    assert!(items(&plan).iter().all(|r| r["schStTime"] == 0 && r["meet"] == "제주"));
    let entries = sim.json(&kra(ENTRIES, 2, day, "&rc_no=1")).await;
    assert!(items(&entries).iter().all(|r| r["stTime"].as_str().is_some_and(|s| s.contains(':'))));
}

#[tokio::test]
async fn busan_results_say_bugyeong() {
    let day = race_day(Track::Busan, 0);
    let sim = start(config(at(day + TimeDelta::days(1), 9, 0))).await;
    let results = sim.json(&kra(RESULTS, 3, day, "&rc_no=1")).await;
    assert!(items(&results).iter().all(|r| r["meet"] == "부경"));
    let plan = sim.json(&kra(PLAN, 3, day, "&rc_no=1")).await;
    assert!(items(&plan).iter().all(|r| r["meet"] == "부산경남"));
}

#[tokio::test]
async fn without_type_json_the_answer_is_xml() {
    let day = race_day(Track::Seoul, 0);
    let sim = start(config(at(day + TimeDelta::days(1), 9, 0))).await;
    let q = format!("{RESULTS}?serviceKey={KEY}&meet=1&rc_date={}&rc_no=1", day.format("%Y%m%d"));
    let (status, body) = sim.get(&q).await;
    assert_eq!(status, 200);
    assert!(body.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><response>"), "{body}");
    assert!(body.contains("<resultCode>00</resultCode>") && body.contains("<items><item><age>"), "{body}");
    let (_, body) = sim.get(&format!("{CYCLE_RESULT}?serviceKey={KEY}&stnd_yr=2026&race_no=99")).await;
    assert!(body.contains("<items/>") && body.contains("<totalCount>0</totalCount>"), "{body}");
}

#[tokio::test]
async fn paging_walks_the_whole_result() {
    let day = race_day(Track::Seoul, 0);
    let sim = start(config(at(day + TimeDelta::days(1), 9, 0))).await;
    let all = sim.json(&kra(ENTRIES, 1, day, "&numOfRows=1000")).await;
    let n = total(&all);
    assert!(n > 10, "a Seoul day has more than 10 runners");
    let first = sim.json(&kra(ENTRIES, 1, day, "")).await;
    assert_eq!(first["response"]["body"]["numOfRows"], 10, "KRA default page size");
    assert_eq!(first["response"]["body"]["pageNo"], 1);
    let mut paged = Vec::new();
    let mut page = 1;
    loop {
        let v = sim.json(&kra(ENTRIES, 1, day, &format!("&numOfRows=7&pageNo={page}"))).await;
        assert_eq!(total(&v), n);
        paged.extend(items(&v));
        if page * 7 >= n {
            break;
        }
        page += 1;
    }
    assert_eq!(paged, items(&all));
    let past = sim.json(&kra(ENTRIES, 1, day, "&numOfRows=7&pageNo=999")).await;
    assert_eq!(past["response"]["body"]["items"], "");
    assert_eq!(total(&past), n);
}

#[tokio::test]
async fn unknown_paths_answer_code_12() {
    let sim = start(config(at(race_day(Track::Seoul, 0), 9, 0))).await;
    let v = sim.json(&format!("/B551015/API999/nothing?serviceKey={KEY}&_type=json")).await;
    assert_eq!(code(&v), "12");
    // KSPO operation names are case-sensitive.
    let v = sim.json(&format!("/B551014/SRVC_CRA_RACE_RANK/todz_cra_race_rank?serviceKey={KEY}&resultType=json")).await;
    assert_eq!(code(&v), "12");
    let (_, body) = sim.get(&format!("/B551014/TODZ_CRA_RACE_RANK?serviceKey={KEY}")).await;
    assert!(body.contains("<resultCode>12</resultCode>"), "{body}");
    assert_eq!(sim.get("/healthz").await, (200, "ok".to_owned()));
}
