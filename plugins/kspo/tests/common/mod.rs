//! Helpers shared by the integration tests: fixtures, operations, and the records of a page.
#![allow(dead_code)]

use std::path::PathBuf;

use racelab_plugin_kspo::Kspo;
use racelab_plugin_sdk::{
    Date, DayRef, Dividend, Entry, HttpRequest, HttpResponse, Operation, Page, Race, RaceKey, RaceRef, Record,
    ResultRow, Source, SourceError,
};

pub fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/kspo")
}

pub fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).expect("fixtures are UTF-8")
}

pub fn ok(body: impl Into<Vec<u8>>) -> HttpResponse {
    HttpResponse {
        status: 200,
        headers: vec![("content-type".into(), "application/json;charset=UTF-8".into())],
        body: body.into(),
    }
}

pub fn d(year: u16, month: u8, day: u8) -> Date {
    Date { year, month, day }
}

pub fn key(track: &str, date: Date, number: u8) -> RaceKey {
    RaceKey { track: track.to_string(), date, number }
}

pub fn race(track: &str, date: Date, number: u8, meeting: Option<&str>) -> RaceRef {
    RaceRef { key: key(track, date, number), meeting: meeting.map(str::to_string) }
}

pub fn schedule(track: &str, date: Date) -> Operation {
    Operation::Schedule(DayRef { track: track.to_string(), date })
}

pub fn entries(track: &str, date: Date, number: u8, meeting: Option<&str>) -> Operation {
    Operation::Entries(race(track, date, number, meeting))
}

pub fn results(track: &str, date: Date, number: u8, meeting: Option<&str>) -> Operation {
    Operation::Results(race(track, date, number, meeting))
}

pub fn plan(op: &Operation) -> Vec<HttpRequest> {
    Kspo::plan(op.clone(), Vec::new()).unwrap_or_else(|e| panic!("plan {op:?}: {e:?}"))
}

/// The only request planned for `op`.
pub fn plan_one(op: &Operation) -> HttpRequest {
    let mut requests = plan(op);
    assert_eq!(requests.len(), 1, "{requests:?}");
    requests.remove(0)
}

pub fn parse(op: &Operation, request: &HttpRequest, body: impl Into<Vec<u8>>) -> Result<Page, SourceError> {
    Kspo::parse(op.clone(), request.clone(), ok(body))
}

/// Parses a response that must parse; the fixtures are the services' real shapes, so the
/// plugin must know every field they have (no drift).
pub fn parse_ok(op: &Operation, request: &HttpRequest, body: impl Into<Vec<u8>>) -> Page {
    let page = parse(op, request, body).unwrap_or_else(|e| panic!("parse {op:?}: {e:?}"));
    assert_eq!(page.drift, [], "drift parsing {}", request.path);
    page
}

pub fn query(request: &HttpRequest) -> Vec<(&str, &str)> {
    request.query.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

pub fn races(page: &Page) -> Vec<Race> {
    page.records.iter().filter_map(|r| if let Record::Race(x) = r { Some(x.clone()) } else { None }).collect()
}

pub fn entry_list(page: &Page) -> Vec<Entry> {
    page.records.iter().filter_map(|r| if let Record::Entry(x) = r { Some(x.clone()) } else { None }).collect()
}

pub fn result_rows(page: &Page) -> Vec<ResultRow> {
    page.records.iter().filter_map(|r| if let Record::Result(x) = r { Some(x.clone()) } else { None }).collect()
}

pub fn dividends(page: &Page) -> Vec<Dividend> {
    page.records.iter().filter_map(|r| if let Record::Dividend(x) = r { Some(x.clone()) } else { None }).collect()
}
