//! The KRA (한국마사회, horse racing) source plugin: Seoul, Busan and Jeju races, entries,
//! odds, results and dividends from the data.go.kr `B551015` services.
//!
//! | module | owns |
//! |---|---|
//! | (root) | [`Kra`]: the `Source` impl — `plan` by operation, `parse` by operation and request path |
//! | `manifest` | the manifest, the `page-size` config key, dataset quota hints |
//! | `endpoints` | the six services: dataset, path, quota, how a request to one is built |
//! | `tracks` | track code ↔ `meet` number ↔ payload labels (`서울`, `부산경남`/`부경`, `제주`) |
//! | `scope` | what was asked, and which rows of a day-level answer belong to it |
//! | `values` | optional fields read strictly: placeholders are absent, garbage is an error |
//! | `selection` | the runners an odds or dividend row names, the pool it names |
//! | `schedule` | API72_2 racePlan_2, with API26_2 entrySheet_2 for unset post times |
//! | `entries` | API26_2 entrySheet_2 entries, API9_1 raceHorseCancelInfo_1 scratches |
//! | `odds` | API301 Dividend_rate_total, one request per pool, 9999.9 → capped |
//! | `results` | API214_1 RaceDetailResult_1 result rows, API160_1 integratedInfo_1 dividends |
//!
//! Every function is plain Rust and runs natively as well as in the component, so a
//! benchmark can time `parse` both ways on the same body:
//!
//! ```
//! use racelab_plugin_kra::Kra;
//! use racelab_plugin_sdk::{Date, HttpRequest, HttpResponse, OddsQuery, Operation, Pool, RaceKey, RaceRef, Source};
//!
//! let race = RaceRef {
//!     key: RaceKey { track: "busan".into(), date: Date { year: 2025, month: 5, day: 23 }, number: 1 },
//!     meeting: None,
//! };
//! let op = Operation::Odds(OddsQuery { race, pools: vec![Pool::Win, Pool::Tri] });
//! // Without a `pool` parameter every pool the operation asks for is read from the body.
//! let request = HttpRequest::get("API301", "/B551015/API301/Dividend_rate_total");
//! let body = r#"{"response":{"header":{"resultCode":"00","resultMsg":"NORMAL SERVICE."},"body":{"items":{"item":{"chulNo":10,"chulNo2":0,"chulNo3":0,"meet":"부산경남","odds":3,"pool":"WIN","rcDate":20250523,"rcNo":1}},"numOfRows":1000,"pageNo":1,"totalCount":1}}}"#;
//! let response = HttpResponse { status: 200, headers: vec![], body: body.as_bytes().to_vec() };
//! let page = <Kra as Source>::parse(op, request, response).expect("one WIN price");
//! assert_eq!(page.records.len(), 1);
//! ```

mod endpoints;
mod entries;
mod manifest;
mod odds;
mod results;
mod schedule;
mod scope;
mod selection;
mod tracks;
mod values;

use racelab_plugin_sdk::envelope::Envelope;
use racelab_plugin_sdk::{HttpRequest, HttpResponse, Operation, Page, PluginManifest, Source, SourceError, envelope};

use crate::endpoints::{CANCELLATIONS, DIVIDENDS, ENTRY_SHEET, Endpoint, ODDS, RACE_PLAN, RESULTS};
use crate::scope::Scope;

/// The KRA source plugin.
#[derive(Debug)]
pub struct Kra;

impl Source for Kra {
    fn manifest() -> PluginManifest {
        manifest::manifest()
    }

    fn plan(op: Operation, config: Vec<(String, String)>) -> Result<Vec<HttpRequest>, SourceError> {
        let page_size = manifest::page_size(&config)?;
        match &op {
            Operation::Schedule(day) => Ok(schedule::requests(&Scope::day(day)?, page_size)),
            Operation::Entries(race) => Ok(entries::requests(&Scope::race(race)?, page_size)),
            Operation::Odds(query) => odds::requests(query, page_size),
            Operation::Results(race) => Ok(results::requests(&Scope::race(race)?, page_size)),
        }
    }

    fn parse(op: Operation, request: HttpRequest, response: HttpResponse) -> Result<Page, SourceError> {
        parse(&op, &request, &response).map_err(|e| match e {
            SourceError::Malformed(detail) => SourceError::Malformed(format!("{}: {detail}", where_(&request))),
            other => other,
        })
    }
}

#[cfg(feature = "component")]
racelab_plugin_sdk::export_source!(Kra);

// Fixtures the registry parses before a version may become active (tests/samples.rs).
#[cfg(feature = "component")]
racelab_plugin_sdk::bundle_samples!(include_bytes!("../samples.json"));

/// The service that answers `request`, read for `op`.
fn parse(op: &Operation, request: &HttpRequest, response: &HttpResponse) -> Result<Page, SourceError> {
    let unsupported =
        || SourceError::Unsupported(format!("kra does not read {} for a {} operation", request.path, kind(op)));
    match op {
        Operation::Schedule(day) => {
            let scope = Scope::day(day)?;
            if RACE_PLAN.answers(request) {
                read(response, &RACE_PLAN, |env| schedule::from_plan(&scope, request, env))
            } else if ENTRY_SHEET.answers(request) {
                read(response, &ENTRY_SHEET, |env| schedule::from_sheet(&scope, request, env))
            } else {
                Err(unsupported())
            }
        }
        Operation::Entries(race) => {
            let scope = Scope::race(race)?;
            if ENTRY_SHEET.answers(request) {
                read(response, &ENTRY_SHEET, |env| entries::from_sheet(&scope, request, env))
            } else if CANCELLATIONS.answers(request) {
                read(response, &CANCELLATIONS, |env| entries::from_cancellations(&scope, request, env))
            } else {
                Err(unsupported())
            }
        }
        Operation::Odds(query) if ODDS.answers(request) => {
            let envelope = envelope::read_only(response, odds::FIELDS)?;
            let page = odds::parse(query, request, &envelope)?;
            let sample = &envelope.items[..envelope.items.len().min(odds::DRIFT_SAMPLE)];
            Ok(page.with_drift(ODDS.shape.drift(sample)))
        }
        Operation::Results(race) => {
            let scope = Scope::race(race)?;
            if RESULTS.answers(request) {
                read(response, &RESULTS, |env| results::from_results(&scope, request, env))
            } else if DIVIDENDS.answers(request) {
                read(response, &DIVIDENDS, |env| results::from_dividends(&scope, request, env))
            } else {
                Err(unsupported())
            }
        }
        Operation::Odds(_) => Err(unsupported()),
    }
}

/// Reads a response of `endpoint` into every field of each item, parses it, and reports how
/// the items' fields differ from what the plugin knows of that service.
fn read(
    response: &HttpResponse,
    endpoint: &Endpoint,
    parse: impl FnOnce(&Envelope) -> Result<Page, SourceError>,
) -> Result<Page, SourceError> {
    let envelope = envelope::read(response)?;
    let page = parse(&envelope)?;
    Ok(page.with_drift(endpoint.shape.drift(&envelope.items)))
}

fn kind(op: &Operation) -> &'static str {
    match op {
        Operation::Schedule(_) => "schedule",
        Operation::Entries(_) => "entries",
        Operation::Odds(_) => "odds",
        Operation::Results(_) => "results",
    }
}

/// `entrySheet_2 page 2`: where a malformed answer came from, for the failure row.
fn where_(request: &HttpRequest) -> String {
    let service = request.path.rsplit('/').next().unwrap_or_default();
    let page = request.query_value("pageNo").unwrap_or("1");
    match request.query_value("pool") {
        Some(pool) => format!("{service} {pool} page {page}"),
        None => format!("{service} page {page}"),
    }
}
