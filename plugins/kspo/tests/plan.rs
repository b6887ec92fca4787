//! The manifest, and the requests planned for every operation.

mod common;

use common::*;
use racelab_plugin_kspo::Kspo;
use racelab_plugin_sdk::{OddsQuery, Operation, OperationKind, Pool, Source, SourceError};

#[test]
fn manifest_describes_kspo() {
    let m = Kspo::manifest();
    assert_eq!(m.name, "kspo");
    assert_eq!(m.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(m.tracks, vec!["gwangmyeong", "misari"]);
    assert_eq!(m.operations, vec![OperationKind::Schedule, OperationKind::Entries, OperationKind::Results]);
    assert_eq!(m.dividend_pools, vec![Pool::Win, Pool::Plc, Pool::Qnl, Pool::Exa, Pool::Tla, Pool::Tri, Pool::Xla]);
    assert!(m.odds_pools.is_empty(), "KSPO publishes no odds");
    assert_eq!(m.credential_param.as_deref(), Some("serviceKey"));
    let config: Vec<(&str, Option<&str>)> =
        m.config.iter().map(|c| (c.name.as_str(), c.default_value.as_deref())).collect();
    assert_eq!(config, [("history", Some("schedule,entries,results"))], "the host's key only");
    let datasets: Vec<&str> = m.datasets.iter().map(|d| d.dataset.as_str()).collect();
    assert_eq!(datasets, vec!["15107830", "15107816", "15143989", "15107797", "15107808", "15107847", "15143984"]);
    assert!(m.datasets.iter().all(|d| d.daily_quota == Some(10_000) && d.per_second == Some(5)));
}

#[test]
fn cycle_schedule_asks_the_guessed_round() {
    let r = plan_one(&schedule("gwangmyeong", d(2026, 6, 13)));
    assert_eq!(r.dataset, "15107830");
    assert_eq!(r.path, "/B551014/SRVC_OD_API_CRA_RACE_ORGAN/TODZ_API_CRA_RACE_ORGAN_I");
    assert_eq!(
        query(&r),
        vec![
            ("meet_nm", "광명"),
            ("stnd_yr", "2026"),
            ("week_tcnt", "24"),
            ("pageNo", "1"),
            ("numOfRows", "1000"),
            ("resultType", "json")
        ]
    );
    assert_eq!(plan_one(&schedule("gwangmyeong", d(2026, 1, 2))).query_value("week_tcnt"), Some("01"));
}

#[test]
fn cycle_entries_and_results_use_the_meeting_tag() {
    let card = plan_one(&entries("gwangmyeong", d(2026, 6, 13), 15, Some("2026/23/2")));
    assert_eq!(card.query_value("week_tcnt"), Some("23"), "the tag's round, not the guess");
    let both = plan(&results("gwangmyeong", d(2026, 6, 13), 15, Some("2026/24/2")));
    assert_eq!(both.len(), 2);
    assert_eq!(both[0].path, "/B551014/SRVC_TODZ_CRA_RACE_RESULT/TODZ_API_CRA_RACE_RESULT");
    assert_eq!(both[0].dataset, "15107816");
    assert_eq!(
        query(&both[0]),
        vec![
            ("stnd_yr", "2026"),
            ("meet_nm", "광명"),
            ("week_tcnt", "24"),
            ("day_tcnt", "2"),
            ("race_no", "15"),
            ("pageNo", "1"),
            ("numOfRows", "1000"),
            ("resultType", "json")
        ]
    );
    assert_eq!(both[1].path, "/B551014/SRVC_CRA_RACE_RANK/TODZ_CRA_RACE_RANK");
    assert_eq!(both[1].dataset, "15143989");
    assert_eq!(
        query(&both[1]),
        vec![
            ("stnd_year", "2026"),
            ("tms", "24"),
            ("day_ord", "2"),
            ("race_no", "15"),
            ("race_day", "20260613"),
            ("pageNo", "1"),
            ("numOfRows", "1000"),
            ("resultType", "json")
        ]
    );
    // Without a tag, both start with the round search.
    assert_eq!(plan_one(&results("gwangmyeong", d(2026, 6, 13), 15, None)).query_value("week_tcnt"), Some("24"));
}

#[test]
fn boat_requests() {
    let doc = plan_one(&schedule("misari", d(2026, 1, 28)));
    assert_eq!(
        (doc.dataset.as_str(), doc.path.as_str()),
        ("15107797", "/B551014/SRVC_OD_API_VWEB_MBR_RACE_DOC/TODZ_API_VWEB_MBR_RACE_DOC_I")
    );
    assert_eq!(
        query(&doc),
        vec![
            ("stnd_yr", "2026"),
            ("race_ymd", "20260128"),
            ("pageNo", "1"),
            ("numOfRows", "1000"),
            ("resultType", "json")
        ]
    );
    assert_eq!(plan_one(&entries("misari", d(2026, 1, 28), 3, None)), doc, "untagged entries start with the race doc");
    let card = plan_one(&entries("misari", d(2026, 1, 28), 3, Some("2026/05/1")));
    assert_eq!(
        (card.dataset.as_str(), card.path.as_str()),
        ("15107808", "/B551014/SRVC_OD_API_VWEB_MBR_RACE_INFO/TODZ_API_VWEB_MBR_RACE_I")
    );
    assert_eq!(
        query(&card),
        vec![
            ("stnd_yr", "2026"),
            ("week_tcnt", "05"),
            ("day_tcnt", "1"),
            ("race_no", "03"),
            ("pageNo", "1"),
            ("numOfRows", "1000"),
            ("resultType", "json")
        ]
    );
    let both = plan(&results("misari", d(2026, 1, 28), 3, Some("2026/05/1")));
    assert_eq!(both.iter().map(|r| r.dataset.as_str()).collect::<Vec<_>>(), vec!["15107847", "15143984"]);
    assert_eq!(
        query(&both[0]),
        vec![
            ("stnd_yr", "2026"),
            ("week_tcnt", "05"),
            ("day_tcnt", "1"),
            ("race_no", "03"),
            ("pageNo", "1"),
            ("numOfRows", "1000"),
            ("resultType", "json")
        ]
    );
    assert_eq!(both[1].path, "/B551014/SRVC_MRA_RACE_RANK/TODZ_MRA_RACE_RANK");
    assert_eq!(both[1].query_value("race_day"), Some("20260128"));
    assert_eq!(both[1].query_value("tms"), Some("05"));
}

#[test]
fn odds_are_unsupported() {
    let op = Operation::Odds(OddsQuery { race: race("gwangmyeong", d(2026, 1, 2), 1, None), pools: vec![Pool::Win] });
    assert!(matches!(Kspo::plan(op.clone(), Vec::new()), Err(SourceError::Unsupported(m)) if m.contains("no odds")));
    let request = plan_one(&schedule("gwangmyeong", d(2026, 1, 2)));
    assert!(matches!(Kspo::parse(op, request, ok(fixture("cycle_card.json"))), Err(SourceError::Unsupported(_))));
}

#[test]
fn bad_inputs_are_bad_requests_that_say_why() {
    let bad = |op: Operation, wanted: &str| match Kspo::plan(op.clone(), Vec::new()) {
        Err(SourceError::BadRequest(m)) => assert!(m.contains(wanted), "{op:?}: {m}"),
        other => panic!("{op:?}: {other:?}"),
    };
    bad(schedule("seoul", d(2026, 1, 2)), "gwangmyeong");
    bad(entries("busan", d(2026, 1, 2), 1, None), "misari");
    bad(results("gwangmyeong", d(2026, 1, 2), 1, Some("1/2/3")), "YYYY/WW/D");
    bad(entries("misari", d(2026, 1, 28), 1, Some("2026-05-1")), "YYYY/WW/D");
    bad(results("misari", d(2026, 1, 28), 0, None), "race number 0");
    bad(schedule("misari", d(2026, 2, 30)), "not a calendar date");
}
