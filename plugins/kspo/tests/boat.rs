//! 경정 at 미사리: schedule, entries and results from the fixtures of each service.

mod common;

use common::*;
use racelab_plugin_sdk::{
    ClockTime, Dividend, Entry, FinishStatus, Page, Pool, Race, RaceStatus, ResultRow, Sex, SourceError,
};

const TRACK: &str = "misari";

fn boat_races() -> Vec<Race> {
    [(1, 11, 40), (2, 12, 10), (3, 12, 40)]
        .into_iter()
        .map(|(number, hour, minute)| Race {
            key: key(TRACK, d(2026, 1, 28), number),
            meeting: Some("2026/05/1".into()),
            name: None,
            distance_m: None,
            post_time: Some(ClockTime { hour, minute }),
            grade: None,
            field_size: None,
            status: Some(RaceStatus::Scheduled),
        })
        .collect()
}

#[test]
fn schedule_reads_the_race_doc() {
    let op = schedule(TRACK, d(2026, 1, 28));
    let page = parse_ok(&op, &plan_one(&op), fixture("boat_doc.json"));
    assert_eq!(races(&page), boat_races());
    assert_eq!(page.records.len(), 3);
    assert!(page.next.is_empty());
    // Another day's doc has nothing for this one.
    let other = schedule(TRACK, d(2026, 1, 29));
    assert_eq!(parse_ok(&other, &plan_one(&other), fixture("boat_doc.json")), Page::empty());
}

#[test]
fn a_race_doc_with_a_row_per_racer_gives_field_sizes() {
    // The Swagger of the race doc describes a row per racer, with its lane.
    let mut rows = Vec::new();
    for lane in 1..=6 {
        rows.push(format!(
            r#"{{"stnd_yr":"2026","week_tcnt":"5","day_tcnt":"1","race_ymd":"20260128","race_no":"02","race_reg_no":"{lane}","racer_nm":"x","row_num":{lane}}}"#
        ));
    }
    let body = format!(
        r#"{{"response":{{"header":{{"resultCode":"00","resultMsg":"NORMAL SERVICE."}},"body":{{"items":{{"item":[{}]}},"numOfRows":"1000","pageNo":"1","totalCount":"6"}}}}}}"#,
        rows.join(",")
    );
    let op = schedule(TRACK, d(2026, 1, 28));
    let got = races(&parse_ok(&op, &plan_one(&op), body));
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].key.number, got[0].field_size, got[0].post_time), (2, Some(6), None));
}

#[test]
fn entries_without_a_tag_read_the_race_doc_then_the_card() {
    let op = entries(TRACK, d(2026, 1, 28), 2, None);
    let page = parse_ok(&op, &plan_one(&op), fixture("boat_doc.json"));
    assert!(page.records.is_empty());
    assert_eq!(page.next, plan(&entries(TRACK, d(2026, 1, 28), 2, Some("2026/05/1"))));
    let missing = entries(TRACK, d(2026, 1, 28), 9, None);
    assert_eq!(parse_ok(&missing, &plan_one(&missing), fixture("boat_doc.json")), Page::empty());
}

#[test]
fn entries_from_the_card() {
    let op = entries(TRACK, d(2026, 1, 28), 1, Some("2026/05/1"));
    let page = parse_ok(&op, &plan_one(&op), fixture("boat_card.json"));
    let got = entry_list(&page);
    assert_eq!(page.records.len(), 6);
    assert_eq!(
        got.iter().map(|e| (e.number, e.runner_name.as_str(), e.weight_kg)).collect::<Vec<_>>(),
        vec![
            (1, "류해광", Some(58.0)),
            (2, "곽현성", Some(56.0)),
            (3, "문주엽", Some(54.0)),
            (4, "김은지", Some(52.0)),
            (5, "이현지", Some(50.0)),
            (6, "김인혜", Some(48.0)),
        ]
    );
    assert_eq!(
        got[0],
        Entry {
            race: key(TRACK, d(2026, 1, 28), 1),
            number: 1,
            runner_id: None,
            runner_name: "류해광".into(),
            jockey: None,
            jockey_id: None,
            trainer: None,
            trainer_id: None,
            weight_kg: Some(58.0),
            rating: None,
            age: Some(30),
            sex: Some(Sex::Male),
        }
    );
    // The card answers for race 1 only.
    let op = entries(TRACK, d(2026, 1, 28), 2, Some("2026/05/1"));
    assert!(parse_ok(&op, &plan_one(&op), fixture("boat_card.json")).records.is_empty());
}

#[test]
fn results_without_a_tag_read_the_race_doc_first() {
    let op = results(TRACK, d(2026, 1, 28), 3, None);
    let page = parse_ok(&op, &plan_one(&op), fixture("boat_doc.json"));
    assert_eq!(page.next, plan(&results(TRACK, d(2026, 1, 28), 3, Some("2026/05/1"))));
}

#[test]
fn result_service_with_circled_numbers() {
    let op = results(TRACK, d(2026, 1, 28), 1, Some("2026/05/1"));
    let page = parse_ok(&op, &plan(&op)[0], fixture("boat_result.json"));
    let k = key(TRACK, d(2026, 1, 28), 1);
    let places: Vec<(Option<u8>, Option<String>, Option<u8>)> =
        result_rows(&page).into_iter().map(|r| (r.number, r.runner_name, r.position)).collect();
    assert_eq!(
        places,
        vec![
            (Some(1), Some("류해광".into()), Some(1)),
            (Some(2), Some("곽현성".into()), Some(2)),
            (Some(6), Some("김인혜".into()), Some(3)),
        ]
    );
    let div = |pool: Pool, selection: &[u8], payout: f64| Dividend {
        race: k.clone(),
        pool,
        selection: selection.to_vec(),
        payout,
    };
    assert_eq!(
        dividends(&page),
        vec![
            div(Pool::Win, &[1], 1.1),
            div(Pool::Plc, &[1], 1.1),
            div(Pool::Plc, &[2], 1.4),
            div(Pool::Exa, &[1, 2], 1.9),
            div(Pool::Qnl, &[1, 2], 1.5),
            div(Pool::Tla, &[1, 2, 6], 3.4),
        ]
    );
    assert_eq!(page.records.len(), 10, "and the race marked run");
}

#[test]
fn rank_service_by_racer_id_without_names() {
    let op = results(TRACK, d(2026, 1, 28), 1, Some("2026/05/1"));
    let page = parse_ok(&op, &plan(&op)[1], fixture("boat_rank.json"));
    let k = key(TRACK, d(2026, 1, 28), 1);
    let row = |id: &str, position: Option<u8>, status: FinishStatus| ResultRow {
        race: k.clone(),
        number: None,
        runner_id: Some(id.into()),
        runner_name: None,
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
            row("08-031", Some(4), FinishStatus::Finished),
            row("15-007", Some(5), FinishStatus::Finished),
            row("03-019", None, FinishStatus::Disqualified),
        ]
    );
    assert_eq!(page.records.len(), 3);
}

#[test]
fn http_and_service_errors_keep_their_kind() {
    let op = schedule(TRACK, d(2026, 1, 28));
    let request = plan_one(&op);
    let forbidden = racelab_plugin_sdk::HttpResponse { status: 403, headers: vec![], body: b"Forbidden".to_vec() };
    assert!(matches!(
        <racelab_plugin_kspo::Kspo as racelab_plugin_sdk::Source>::parse(op.clone(), request.clone(), forbidden),
        Err(SourceError::Auth(_))
    ));
    let too_many =
        r#"{"response":{"header":{"resultCode":"336","resultMsg":"CANNOT REQUEST MORE THAN 1000 DATA AT A TIME"}}}"#;
    assert!(matches!(parse(&op, &request, too_many), Err(SourceError::BadRequest(m)) if m.contains("336")));
}
