//! What the plugin asks for: manifest, config, and the requests of each operation.

mod common;

use common::*;
use racelab_plugin_kra::Kra;
use racelab_plugin_sdk::{HttpRequest, OperationKind, Pool, Source, SourceError};

fn query(request: &HttpRequest) -> Vec<(&str, &str)> {
    request.query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

#[test]
fn manifest() {
    let m = Kra::manifest();
    assert_eq!((m.name.as_str(), m.version.as_str()), ("kra", env!("CARGO_PKG_VERSION")));
    assert_eq!(m.tracks, ["seoul", "busan", "jeju"]);
    assert_eq!(
        m.operations,
        [OperationKind::Schedule, OperationKind::Entries, OperationKind::Odds, OperationKind::Results]
    );
    assert_eq!(m.odds_pools, ALL_POOLS);
    assert_eq!(m.dividend_pools, ALL_POOLS);
    assert_eq!(m.credential_param.as_deref(), Some("serviceKey"));
    let config: Vec<(&str, Option<&str>)> =
        m.config.iter().map(|c| (c.name.as_str(), c.default_value.as_deref())).collect();
    assert_eq!(config, [("page-size", Some("1000")), ("history", Some("schedule,entries,odds,results"))]);
    let hints: Vec<(&str, Option<u32>, Option<u32>)> =
        m.datasets.iter().map(|h| (h.dataset.as_str(), h.daily_quota, h.per_second)).collect();
    assert_eq!(
        hints,
        [
            ("API72_2", Some(10_000), Some(5)),
            ("API26_2", Some(10_000), Some(5)),
            ("API9_1", Some(10_000), Some(5)),
            ("API301", Some(1_000), Some(5)),
            ("API214_1", Some(10_000), Some(5)),
            ("API160_1", Some(10_000), Some(5)),
        ]
    );
}

#[test]
fn schedule_asks_for_the_days_race_plan() {
    let requests = plan(&schedule("busan", busan_day()));
    assert_eq!(requests.len(), 1);
    assert_eq!((requests[0].dataset.as_str(), requests[0].path.as_str()), ("API72_2", "/B551015/API72_2/racePlan_2"));
    assert_eq!(
        query(&requests[0]),
        [("_type", "json"), ("pageNo", "1"), ("numOfRows", "1000"), ("meet", "3"), ("rc_date", "20250523")]
    );
}

#[test]
fn entries_ask_for_the_sheet_of_the_race_and_the_days_scratches() {
    let requests = plan(&entries("jeju", seoul_day(), 4));
    let paths: Vec<(&str, &str)> = requests.iter().map(|r| (r.dataset.as_str(), r.path.as_str())).collect();
    assert_eq!(
        paths,
        [("API26_2", "/B551015/API26_2/entrySheet_2"), ("API9_1", "/B551015/API9_1/raceHorseCancelInfo_1")]
    );
    assert_eq!(
        query(&requests[0]),
        [
            ("_type", "json"),
            ("pageNo", "1"),
            ("numOfRows", "1000"),
            ("meet", "2"),
            ("rc_date", "20260103"),
            ("rc_no", "4")
        ]
    );
    assert_eq!(query(&requests[1]).last(), Some(&("rc_date", "20260103")), "scratches are day-level");
}

#[test]
fn odds_ask_once_per_distinct_pool() {
    let requests = plan(&odds("seoul", seoul_day(), 1, &[Pool::Win, Pool::Plc, Pool::Win]));
    assert_eq!(requests.len(), 2);
    assert!(requests.iter().all(|r| r.dataset == "API301" && r.path == "/B551015/API301/Dividend_rate_total"));
    assert_eq!(
        query(&requests[1]),
        [
            ("_type", "json"),
            ("pageNo", "1"),
            ("numOfRows", "1000"),
            ("meet", "1"),
            ("rc_date", "20260103"),
            ("rc_no", "1"),
            ("pool", "PLC")
        ]
    );
    assert_eq!(plan(&odds("seoul", seoul_day(), 1, &ALL_POOLS)).len(), 7);
    assert!(plan(&odds("seoul", seoul_day(), 1, &[])).is_empty());
}

#[test]
fn odds_refuse_the_kspo_only_pool() {
    let Err(SourceError::Unsupported(m)) = Kra::plan(odds("seoul", seoul_day(), 1, &[Pool::Win, Pool::Xla]), vec![])
    else {
        panic!("XLA accepted")
    };
    assert!(m.contains("no XLA pool"), "{m}");
}

#[test]
fn results_ask_for_the_detail_and_the_dividends() {
    let requests = plan(&results("seoul", seoul_day(), 12));
    let paths: Vec<&str> = requests.iter().map(|r| r.path.as_str()).collect();
    assert_eq!(paths, ["/B551015/API214_1/RaceDetailResult_1", "/B551015/API160_1/integratedInfo_1"]);
    assert!(requests.iter().all(|r| r.query_value("rc_no") == Some("12")));
}

#[test]
fn page_size_comes_from_config() {
    let config = vec![("page-size".to_string(), "250".to_string())];
    let requests = Kra::plan(results("seoul", seoul_day(), 1), config).expect("plan");
    assert!(requests.iter().all(|r| r.query_value("numOfRows") == Some("250")));
    let bad = vec![("page-size".to_string(), "lots".to_string())];
    assert!(
        matches!(Kra::plan(results("seoul", seoul_day(), 1), bad), Err(SourceError::BadRequest(m)) if m.contains("page-size"))
    );
}

#[test]
fn unknown_tracks_and_race_zero_are_bad_requests() {
    for op in [
        schedule("misari", seoul_day()),
        entries("Seoul", seoul_day(), 1),
        odds("yeongcheon", seoul_day(), 1, &[Pool::Win]),
    ] {
        let Err(SourceError::BadRequest(m)) = Kra::plan(op, vec![]) else { panic!("accepted") };
        assert!(m.starts_with("unknown track `") && m.ends_with("kra serves seoul, busan, jeju"), "{m}");
    }
    assert!(
        matches!(Kra::plan(results("seoul", seoul_day(), 0), vec![]), Err(SourceError::BadRequest(m)) if m.contains("race number 0"))
    );
}
