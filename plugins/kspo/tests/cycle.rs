//! 경륜 at 광명: schedule, entries and results from the fixtures of each service.

mod common;

use common::*;
use racelab_plugin_sdk::{ClockTime, Dividend, Entry, FinishStatus, Pool, Race, RaceStatus, ResultRow, SourceError};

const TRACK: &str = "gwangmyeong";

fn cycle_race(day: u8, number: u8, tag: &str, post: (u8, u8), distance: u32, grade: &str) -> Race {
    Race {
        key: key(TRACK, d(2026, 1, day), number),
        meeting: Some(tag.to_string()),
        name: None,
        distance_m: Some(distance),
        post_time: Some(ClockTime { hour: post.0, minute: post.1 }),
        grade: Some(grade.to_string()),
        field_size: Some(7),
        status: Some(RaceStatus::Scheduled),
    }
}

/// Round 1 of 2026 runs 2–4 January; the card holds it whole (42 rows).
#[test]
fn schedule_reads_the_days_races_from_the_round_card() {
    for (day, expected) in [
        (
            2,
            vec![
                cycle_race(2, 1, "2026/01/1", (12, 55), 1691, "선발"),
                cycle_race(2, 2, "2026/01/1", (13, 25), 1691, "우수"),
            ],
        ),
        (
            4,
            vec![
                cycle_race(4, 1, "2026/01/3", (11, 20), 1691, "우수"),
                cycle_race(4, 2, "2026/01/3", (11, 50), 2025, "특선"),
            ],
        ),
    ] {
        let op = schedule(TRACK, d(2026, 1, day));
        let page = parse_ok(&op, &plan_one(&op), fixture("cycle_card.json"));
        assert_eq!(page.records.len(), 2);
        assert_eq!(races(&page), expected);
        assert!(page.next.is_empty());
    }
}

#[test]
fn entries_of_a_tagged_race() {
    let op = entries(TRACK, d(2026, 1, 2), 2, Some("2026/01/1"));
    let page = parse_ok(&op, &plan_one(&op), fixture("cycle_card.json"));
    let got = entry_list(&page);
    assert_eq!(page.records.len(), 7);
    assert_eq!(got.iter().map(|e| e.number).collect::<Vec<_>>(), vec![1, 2, 3, 4, 5, 6, 7]);
    let names: Vec<&str> = got.iter().map(|e| e.runner_name.as_str()).collect();
    assert_eq!(
        names,
        vec!["윤창호", "허은회", "김주호", "양희천", "유지훈", "김동훈", "임섭"],
        "the card pads `임  섭 `"
    );
    assert_eq!(
        got[6],
        Entry {
            race: key(TRACK, d(2026, 1, 2), 2),
            number: 7,
            runner_id: None,
            runner_name: "임섭".into(),
            jockey: None,
            jockey_id: None,
            trainer: None,
            trainer_id: None,
            weight_kg: None,
            rating: Some(78.742),
            age: Some(39),
            sex: None,
        }
    );
    assert!(got.iter().all(|e| e.runner_id.is_none() && e.race.number == 2));
}

#[test]
fn entries_without_a_tag_search_the_card_by_date() {
    let op = entries(TRACK, d(2026, 1, 3), 1, None);
    let page = parse_ok(&op, &plan_one(&op), fixture("cycle_card.json"));
    let names: Vec<String> = entry_list(&page).into_iter().map(|e| e.runner_name).collect();
    assert_eq!(names, vec!["이성재", "신은섭", "이재림", "유태복", "강양한", "현지운", "정종진"]);
    // A race the day does not have.
    let op = entries(TRACK, d(2026, 1, 3), 9, None);
    assert_eq!(parse_ok(&op, &plan_one(&op), fixture("cycle_card.json")), racelab_plugin_sdk::Page::empty());
}

#[test]
fn results_without_a_tag_find_the_round_and_day_first() {
    let op = results(TRACK, d(2026, 1, 3), 2, None);
    let page = parse_ok(&op, &plan_one(&op), fixture("cycle_card.json"));
    assert!(page.records.is_empty());
    assert_eq!(page.next, plan(&results(TRACK, d(2026, 1, 3), 2, Some("2026/01/2"))));
}

#[test]
fn result_service_gives_the_top_three_and_every_dividend() {
    let op = results(TRACK, d(2026, 1, 2), 1, Some("2026/01/1"));
    let requests = plan(&op);
    let page = parse_ok(&op, &requests[0], fixture("cycle_result.json"));
    let k = key(TRACK, d(2026, 1, 2), 1);
    let place = |number: u8, name: &str, position: u8| ResultRow {
        race: k.clone(),
        number: Some(number),
        runner_id: None,
        runner_name: Some(name.to_string()),
        position: Some(position),
        status: FinishStatus::Finished,
        time_s: None,
        margin: None,
        win_odds: None,
        place_odds: None,
    };
    assert_eq!(result_rows(&page), vec![place(2, "이길섭", 1), place(7, "김용남", 2), place(5, "최원재", 3)]);
    let div = |pool: Pool, selection: &[u8], payout: f64| Dividend {
        race: k.clone(),
        pool,
        selection: selection.to_vec(),
        payout,
    };
    assert_eq!(
        dividends(&page),
        vec![
            div(Pool::Win, &[2], 2.5),
            div(Pool::Plc, &[2], 1.2),
            div(Pool::Plc, &[7], 2.1),
            div(Pool::Exa, &[2, 7], 9.4),
            div(Pool::Qnl, &[2, 7], 5.6),
            div(Pool::Tla, &[2, 5, 7], 3.4),
            div(Pool::Tri, &[2, 7, 5], 20.5),
            div(Pool::Xla, &[2, 5, 7], 6.4),
        ]
    );
    assert_eq!(page.records.len(), 12, "and the race marked run");
    assert!(page.next.is_empty());
}

#[test]
fn rank_service_gives_everyone_else_by_id() {
    let op = results(TRACK, d(2026, 1, 2), 1, Some("2026/01/1"));
    let requests = plan(&op);
    let page = parse_ok(&op, &requests[1], fixture("cycle_rank.json"));
    let k = key(TRACK, d(2026, 1, 2), 1);
    let row = |id: &str, name: &str, position: Option<u8>, status: FinishStatus| ResultRow {
        race: k.clone(),
        number: None,
        runner_id: Some(id.to_string()),
        runner_name: Some(name.to_string()),
        position,
        status,
        time_s: None,
        margin: None,
        win_odds: None,
        place_odds: None,
    };
    assert_eq!(
        result_rows(&page),
        vec![
            row("20120031", "신용수", Some(4), FinishStatus::Finished),
            row("20110044", "박진우", Some(5), FinishStatus::Finished),
            row("20170012", "정해민", Some(6), FinishStatus::Finished),
            row("20160028", "강동국", None, FinishStatus::Disqualified),
        ],
        "places 1–3 come from the result service; 창원's race 1 is not 광명's"
    );
    assert_eq!(page.records.len(), 4);
}

/// The card of round 2 (9–11 January), made from round 1's.
fn round_two() -> String {
    fixture_text("cycle_card.json")
        .replace("\"2026.01.02\"", "\"2026.01.09\"")
        .replace("\"2026.01.03\"", "\"2026.01.10\"")
        .replace("\"2026.01.04\"", "\"2026.01.11\"")
        .replace("\"week_tcnt\": \"01\"", "\"week_tcnt\": \"02\"")
}

#[test]
fn a_date_between_rounds_steps_once_and_settles() {
    // Monday 5 January: round 1 is earlier, so ask round 2; round 2 is later: no races.
    let op = schedule(TRACK, d(2026, 1, 5));
    let first = plan_one(&op);
    let page = parse_ok(&op, &first, fixture("cycle_card.json"));
    assert!(page.records.is_empty());
    assert_eq!(page.next.len(), 1);
    assert_eq!(page.next[0].query_value("week_tcnt"), Some("02"));
    assert_eq!(page.next[0].query_value("numOfRows"), Some("1000"));
    assert_eq!(parse_ok(&op, &page.next[0], round_two()), racelab_plugin_sdk::Page::empty());
}

#[test]
fn a_high_guess_walks_down_to_the_round() {
    // As if a round had been cancelled: the guess for 10 January (2) answered with a later
    // round, round 1 holds the date as "round 2" would have.
    let op = schedule(TRACK, d(2026, 1, 10));
    let guessed = plan_one(&op);
    assert_eq!(guessed.query_value("week_tcnt"), Some("02"));
    let later = round_two().replace("\"2026.01.1", "\"2026.01.2").replace("\"2026.01.09\"", "\"2026.01.16\"");
    let page = parse_ok(&op, &guessed, later);
    assert_eq!(page.next.len(), 1);
    assert_eq!(page.next[0].query_value("week_tcnt"), Some("01"));
    let round_one_later = fixture_text("cycle_card.json").replace("\"2026.01.03\"", "\"2026.01.10\"");
    let found = parse_ok(&op, &page.next[0], round_one_later);
    assert_eq!(races(&found).iter().map(|r| r.meeting.as_deref()).collect::<Vec<_>>(), vec![Some("2026/01/2"); 2]);
}

#[test]
fn the_search_is_bounded() {
    // Thursday 1 January: round 1 is later and there is no round 0.
    let op = schedule(TRACK, d(2026, 1, 1));
    match parse(&op, &plan_one(&op), fixture("cycle_card.json")) {
        Err(SourceError::NoData(m)) => assert!(m.contains("2026-01-01") && m.contains("round"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_card_of_several_pages_is_read_to_the_end() {
    let body = fixture_text("cycle_card.json").replace("\"totalCount\": \"42\"", "\"totalCount\": \"1042\"");
    let op = schedule(TRACK, d(2026, 1, 2));
    let page = parse_ok(&op, &plan_one(&op), body);
    assert_eq!(races(&page).len(), 2);
    assert_eq!(page.next.len(), 1);
    assert_eq!(page.next[0].query_value("pageNo"), Some("2"));
    assert_eq!(page.next[0].query_value("week_tcnt"), Some("01"));
}

#[test]
fn unreadable_fields_name_the_service_item_and_field() {
    let body = fixture_text("cycle_card.json").replacen("\"race_ymd\": \"2026.01.02\"", "\"race_ymd\": \"someday\"", 1);
    let op = schedule(TRACK, d(2026, 1, 2));
    match parse(&op, &plan_one(&op), body) {
        Err(SourceError::Malformed(m)) => {
            assert!(m.contains("TODZ_API_CRA_RACE_ORGAN_I") && m.contains("item 0") && m.contains("race_ymd"), "{m}")
        }
        other => panic!("{other:?}"),
    }
    let op = results(TRACK, d(2026, 1, 2), 1, Some("2026/01/1"));
    let body = fixture_text("cycle_result.json").replace("(2-7)9.4", "(2-7-5)9.4");
    match parse(&op, &plan(&op)[0], body) {
        Err(SourceError::Malformed(m)) => assert!(m.contains("pool4_val") && m.contains("EXA"), "{m}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn responses_from_the_wrong_service_are_refused() {
    let op = schedule(TRACK, d(2026, 1, 2));
    let boat = plan_one(&schedule("misari", d(2026, 1, 28)));
    assert!(matches!(parse(&op, &boat, fixture("boat_doc.json")), Err(SourceError::BadRequest(_))));
    let result = plan(&results(TRACK, d(2026, 1, 2), 1, Some("2026/01/1"))).remove(0);
    assert!(
        matches!(parse(&op, &result, fixture("cycle_result.json")), Err(SourceError::BadRequest(m)) if m.contains("schedule"))
    );
}
