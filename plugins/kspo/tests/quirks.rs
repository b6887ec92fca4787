//! One fixture per KSPO quirk (dossier §7), each read to the same records as the plain form.

mod common;

use common::*;
use racelab_plugin_sdk::{FinishStatus, Page, Pool, SourceError};

#[test]
fn one_row_comes_as_an_object() {
    let op = schedule("misari", d(2026, 1, 28));
    let page = parse_ok(&op, &plan_one(&op), fixture("quirk_single_object.json"));
    let got = races(&page);
    assert_eq!(got.len(), 1);
    assert_eq!((got[0].key.number, got[0].meeting.as_deref()), (1, Some("2026/05/1")));
}

#[test]
fn no_rows_come_as_an_empty_string_and_mean_not_yet() {
    let op = results("gwangmyeong", d(2026, 1, 2), 1, Some("2026/01/1"));
    for request in plan(&op) {
        assert_eq!(
            parse(&op, &request, fixture("quirk_items_empty_string.json")),
            Ok(Page::empty()),
            "{}",
            request.path
        );
    }
}

#[test]
fn gateway_errors_come_as_xml_with_http_200() {
    let ops = [
        schedule("gwangmyeong", d(2026, 1, 2)),
        schedule("misari", d(2026, 1, 28)),
        entries("misari", d(2026, 1, 28), 1, Some("2026/05/1")),
        results("gwangmyeong", d(2026, 1, 2), 1, Some("2026/01/1")),
    ];
    for op in ops {
        for request in plan(&op) {
            match parse(&op, &request, fixture("quirk_gateway_error.xml")) {
                Err(SourceError::QuotaExhausted(m)) => assert!(m.contains("22"), "{m}"),
                other => panic!("{op:?}: {other:?}"),
            }
        }
    }
}

#[test]
fn an_xml_envelope_reads_like_json() {
    let op = schedule("misari", d(2026, 1, 28));
    let request = plan_one(&op);
    assert_eq!(
        parse_ok(&op, &request, fixture("quirk_xml_envelope.xml")),
        parse_ok(&op, &request, fixture("boat_doc.json"))
    );
}

#[test]
fn counters_as_strings_or_numbers_and_code_0() {
    assert!(
        fixture_text("boat_card.json").contains("\"totalCount\": \"6\""),
        "the plain fixtures carry KSPO's string counters"
    );
    let op = entries("misari", d(2026, 1, 28), 1, Some("2026/05/1"));
    let request = plan_one(&op);
    let plain = parse_ok(&op, &request, fixture("boat_card.json"));
    assert_eq!(parse_ok(&op, &request, fixture("quirk_counters_as_numbers.json")), plain);
    assert_eq!(plain.records.len(), 6);
}

#[test]
fn padded_names_venues_and_dividend_strings() {
    let op = results("gwangmyeong", d(2026, 1, 2), 2, Some("2026/01/1"));
    let page = parse_ok(&op, &plan(&op)[0], fixture("quirk_padded_names.json"));
    let places: Vec<(Option<u8>, Option<String>, Option<u8>)> =
        result_rows(&page).into_iter().map(|r| (r.number, r.runner_name, r.position)).collect();
    assert_eq!(
        places,
        vec![
            (Some(3), Some("김주호".into()), Some(1)),
            (Some(7), Some("임섭".into()), Some(2)),
            (Some(1), Some("윤창호".into()), Some(3)),
        ],
        "`⑦임  섭` is 임섭, `(1)윤창호` is number 1"
    );
    let got: Vec<(Pool, Vec<u8>, f64)> =
        dividends(&page).into_iter().map(|d| (d.pool, d.selection, d.payout)).collect();
    assert_eq!(
        got,
        vec![
            (Pool::Win, vec![3], 4.1),
            (Pool::Plc, vec![3], 1.5),
            (Pool::Plc, vec![7], 1.9),
            (Pool::Exa, vec![3, 7], 12.0),
            (Pool::Qnl, vec![3, 7], 7.7),
            (Pool::Tla, vec![1, 3, 7], 11.3),
            (Pool::Tri, vec![3, 7, 1], 64.2),
            (Pool::Xla, vec![3, 1, 7], 21.8),
        ]
    );
}

#[test]
fn non_numeric_and_padded_ranks() {
    let op = results("gwangmyeong", d(2026, 1, 2), 2, Some("2026/01/1"));
    let page = parse_ok(&op, &plan(&op)[1], fixture("quirk_rank_words.json"));
    type Row = (Option<String>, Option<String>, Option<u8>, FinishStatus);
    let got: Vec<Row> =
        result_rows(&page).into_iter().map(|r| (r.runner_id, r.runner_name, r.position, r.status)).collect();
    assert_eq!(
        got,
        vec![
            (Some("20180009".into()), Some("허은회".into()), Some(4), FinishStatus::Finished),
            (Some("20100041".into()), Some("양희천".into()), Some(5), FinishStatus::Finished),
            (Some("20120005".into()), Some("유지훈".into()), None, FinishStatus::DidNotFinish),
            (Some("20150036".into()), Some("김동훈".into()), None, FinishStatus::Disqualified),
        ]
    );
}

#[test]
fn round_and_race_numbers_as_numbers_or_padded_strings() {
    let op = schedule("gwangmyeong", d(2026, 1, 2));
    let request = plan_one(&op);
    let quirk = parse_ok(&op, &request, fixture("quirk_week_types.json"));
    assert_eq!(quirk, parse_ok(&op, &request, fixture("cycle_card.json")));
    assert_eq!(quirk.records.len(), 2);
    let op = entries("gwangmyeong", d(2026, 1, 2), 1, Some("2026/01/1"));
    assert_eq!(entry_list(&parse_ok(&op, &request, fixture("quirk_week_types.json"))).len(), 7);
}
