//! Shared by the integration tests: fixtures, operations, and the requests the plugin plans.

#![allow(dead_code)]

use std::path::PathBuf;

use racelab_plugin_kra::Kra;
use racelab_plugin_sdk::{
    Date, DayRef, HttpRequest, HttpResponse, OddsQuery, Operation, Page, Pool, RaceKey, RaceRef, Record, Source,
    SourceError,
};

pub const ALL_POOLS: [Pool; 7] = [Pool::Win, Pool::Plc, Pool::Qnl, Pool::Exa, Pool::Qpl, Pool::Tla, Pool::Tri];

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kra")
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()))
}

pub fn date(year: u16, month: u8, day: u8) -> Date {
    Date { year, month, day }
}

pub fn key(track: &str, date: Date, number: u8) -> RaceKey {
    RaceKey { track: track.to_string(), date, number }
}

pub fn schedule(track: &str, date: Date) -> Operation {
    Operation::Schedule(DayRef { track: track.to_string(), date })
}

pub fn entries(track: &str, date: Date, number: u8) -> Operation {
    Operation::Entries(RaceRef { key: key(track, date, number), meeting: None })
}

pub fn odds(track: &str, date: Date, number: u8, pools: &[Pool]) -> Operation {
    Operation::Odds(OddsQuery { race: RaceRef { key: key(track, date, number), meeting: None }, pools: pools.to_vec() })
}

pub fn results(track: &str, date: Date, number: u8) -> Operation {
    Operation::Results(RaceRef { key: key(track, date, number), meeting: None })
}

/// The plugin's plan with the default config.
pub fn plan(op: &Operation) -> Vec<HttpRequest> {
    Kra::plan(op.clone(), Vec::new()).expect("plan")
}

/// The planned request to `service` (the path's last segment), and for odds to `pool`.
pub fn planned(op: &Operation, service: &str, pool: Option<Pool>) -> HttpRequest {
    plan(op)
        .into_iter()
        .find(|r| r.path.ends_with(service) && pool.is_none_or(|p| r.query_value("pool") == Some(p.code())))
        .unwrap_or_else(|| panic!("no {service} request planned"))
}

pub fn response(status: u16, body: Vec<u8>) -> HttpResponse {
    HttpResponse {
        status,
        headers: vec![("content-type".to_string(), "application/json;charset=UTF-8".to_string())],
        body,
    }
}

pub fn parse(op: &Operation, request: &HttpRequest, body: Vec<u8>) -> Result<Page, SourceError> {
    Kra::parse(op.clone(), request.clone(), response(200, body))
}

pub fn parse_fixture(op: &Operation, request: &HttpRequest, name: &str) -> Page {
    parse(op, request, fixture(name)).unwrap_or_else(|e| panic!("{name}: {e:?}"))
}

/// One fixture with the operation and request it answers.
pub struct Case {
    pub fixture: &'static str,
    pub op: Operation,
    pub request: HttpRequest,
}

pub fn seoul_day() -> Date {
    date(2026, 1, 3)
}

pub fn busan_day() -> Date {
    date(2025, 5, 23)
}

/// Results for Busan race 1 planned with pages of 10, as the real sample was fetched.
pub fn busan_results_request() -> HttpRequest {
    let op = results("busan", busan_day(), 1);
    let config = vec![("page-size".to_string(), "10".to_string())];
    Kra::plan(op, config).expect("plan").into_iter().next().expect("a results request")
}

/// A request for API301 without a `pool` filter: every pool the operation asks for is read.
pub fn unfiltered_odds_request(race: &RaceKey) -> HttpRequest {
    HttpRequest::get("API301", "/B551015/API301/Dividend_rate_total")
        .param("_type", "json")
        .param("pageNo", "1")
        .param("numOfRows", "2000")
        .param("meet", "3")
        .param("rc_date", format!("{:04}{:02}{:02}", race.date.year, race.date.month, race.date.day))
        .param("rc_no", race.number.to_string())
}

/// Every fixture with what it answers.
pub fn cases() -> Vec<Case> {
    let seoul_schedule = schedule("seoul", seoul_day());
    let jeju_schedule = schedule("jeju", seoul_day());
    let jeju_sheet = parse_fixture(&jeju_schedule, &plan(&jeju_schedule)[0], "racePlan_2_jeju_no_post_times.json")
        .next
        .into_iter()
        .next()
        .expect("the entry sheet follow-up");
    let race_1 = entries("seoul", seoul_day(), 1);
    let race_2 = entries("seoul", seoul_day(), 2);
    let seoul_odds = odds("seoul", seoul_day(), 1, &ALL_POOLS);
    let busan_odds = odds("busan", busan_day(), 1, &ALL_POOLS);
    let busan_results = results("busan", busan_day(), 1);
    let page_2 = busan_results_request().param("pageNo", "2");
    let status = results("seoul", date(2026, 1, 4), 5);
    let case = |fixture, op: &Operation, request: HttpRequest| Case { fixture, op: op.clone(), request };
    vec![
        case("racePlan_2.json", &seoul_schedule, plan(&seoul_schedule)[0].clone()),
        case("racePlan_2_jeju_no_post_times.json", &jeju_schedule, plan(&jeju_schedule)[0].clone()),
        case("entrySheet_2_jeju_st_time_spacing.json", &jeju_schedule, jeju_sheet),
        case("entrySheet_2.json", &race_1, planned(&race_1, "entrySheet_2", None)),
        case("entrySheet_2.xml", &race_1, planned(&race_1, "entrySheet_2", None)),
        case("entrySheet_2_rating_dash.json", &race_2, planned(&race_2, "entrySheet_2", None)),
        case("raceHorseCancelInfo_1.json", &race_1, planned(&race_1, "raceHorseCancelInfo_1", None)),
        case("Dividend_rate_total_WIN.json", &seoul_odds, planned(&seoul_odds, "Dividend_rate_total", Some(Pool::Win))),
        case(
            "Dividend_rate_total_TRI_capped.json",
            &seoul_odds,
            planned(&seoul_odds, "Dividend_rate_total", Some(Pool::Tri)),
        ),
        case(
            "Dividend_rate_total_QPL_korean_names.json",
            &seoul_odds,
            planned(&seoul_odds, "Dividend_rate_total", Some(Pool::Qpl)),
        ),
        case(
            "Dividend_rate_total_empty.json",
            &seoul_odds,
            planned(&seoul_odds, "Dividend_rate_total", Some(Pool::Win)),
        ),
        case("Dividend_rate_total_all_pools.json", &busan_odds, unfiltered_odds_request(&key("busan", busan_day(), 1))),
        case("RaceDetailResult_1_busan_page1.json", &busan_results, busan_results_request()),
        case("RaceDetailResult_1_busan_page2.json", &busan_results, page_2),
        case("RaceDetailResult_1_status_codes.json", &status, planned(&status, "RaceDetailResult_1", None)),
        case("integratedInfo_1.json", &busan_results, planned(&busan_results, "integratedInfo_1", None)),
        case("gateway_error_30.xml", &seoul_odds, planned(&seoul_odds, "Dividend_rate_total", Some(Pool::Win))),
        case("gateway_error_22.xml", &busan_results, busan_results_request()),
    ]
}

pub fn races(page: &Page) -> Vec<&racelab_plugin_sdk::Race> {
    page.records.iter().filter_map(|r| if let Record::Race(x) = r { Some(x) } else { None }).collect()
}

pub fn entries_of(page: &Page) -> Vec<&racelab_plugin_sdk::Entry> {
    page.records.iter().filter_map(|r| if let Record::Entry(x) = r { Some(x) } else { None }).collect()
}

pub fn scratches(page: &Page) -> Vec<&racelab_plugin_sdk::Scratch> {
    page.records.iter().filter_map(|r| if let Record::Scratch(x) = r { Some(x) } else { None }).collect()
}

/// One price of a page's odds boards.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub race: racelab_plugin_sdk::RaceKey,
    pub pool: racelab_plugin_sdk::Pool,
    pub selection: Vec<u8>,
    pub quote: racelab_plugin_sdk::Quote,
}

/// The prices of a page's odds boards, board by board.
pub fn snapshots(page: &Page) -> Vec<Snapshot> {
    let boards = page.records.iter().filter_map(|r| if let Record::Odds(x) = r { Some(x) } else { None });
    boards
        .flat_map(|b| {
            racelab_plugin_sdk::boards::prices(b).map(|(selection, quote)| Snapshot {
                race: b.race.clone(),
                pool: b.pool,
                selection: selection.to_vec(),
                quote,
            })
        })
        .collect()
}

pub fn result_rows(page: &Page) -> Vec<&racelab_plugin_sdk::ResultRow> {
    page.records.iter().filter_map(|r| if let Record::Result(x) = r { Some(x) } else { None }).collect()
}

pub fn dividends(page: &Page) -> Vec<&racelab_plugin_sdk::Dividend> {
    page.records.iter().filter_map(|r| if let Record::Dividend(x) = r { Some(x) } else { None }).collect()
}
