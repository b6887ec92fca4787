//! A source plugin that misbehaves on request. `parse` chooses how by the request's path:
//!
//! | path | behaviour |
//! |---|---|
//! | `/ok` | one race record |
//! | `/trap` | panics (a trap in Wasm) |
//! | `/loop` | never returns |
//! | `/alloc` | allocates until memory runs out |
//! | `/flood` | returns far more records than the host accepts |
//! | `/log` | writes far more log lines than the host keeps |
//! | `/time` | reports what the clock and the random source say, to prove they are fixed |
//! | `/drift-flood` | reports far more drift fields than the host accepts |
//! | `/drift-junk` | reports a drift field with a huge name full of control characters |

use racelab_plugin_sdk::{
    ClockTime, Date, Drift, DriftKind, HttpRequest, HttpResponse, OddsTiming, Operation, OperationKind, Page,
    PluginManifest, Race, RaceKey, Record, Source, SourceError, export_source, log,
};

/// The misbehaving plugin; public so that a native build (clippy, tests) sees it used.
pub struct Misbehaving;

fn race(number: u8, name: Option<String>) -> Record {
    Record::Race(Race {
        key: RaceKey { track: "seoul".into(), date: Date { year: 2026, month: 1, day: 3 }, number },
        meeting: None,
        name,
        distance_m: None,
        post_time: Some(ClockTime { hour: 10, minute: 30 }),
        grade: None,
        field_size: None,
        status: None,
    })
}

impl Source for Misbehaving {
    fn manifest() -> PluginManifest {
        PluginManifest {
            name: "misbehaving".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            tracks: vec!["seoul".into()],
            operations: vec![OperationKind::Schedule],
            odds_pools: vec![],
            dividend_pools: vec![],
            odds_timing: OddsTiming::AfterRace,
            credential_param: None,
            config: vec![],
            datasets: vec![],
        }
    }

    fn plan(_op: Operation, _config: Vec<(String, String)>) -> Result<Vec<HttpRequest>, SourceError> {
        Ok(vec![HttpRequest::get("test", "/ok")])
    }

    fn parse(_op: Operation, request: HttpRequest, _response: HttpResponse) -> Result<Page, SourceError> {
        match request.path.as_str() {
            "/ok" => Ok(Page::new(vec![race(1, None)], vec![])),
            "/trap" => panic!("deliberate trap for the host's tests"),
            "/loop" => {
                let mut n: u64 = 0;
                loop {
                    n = std::hint::black_box(n.wrapping_add(1));
                }
            }
            "/alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![1u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            "/flood" => Ok(Page::new((0..5_000).map(|i| race((i % 200) as u8 + 1, None)).collect(), vec![])),
            "/log" => {
                for i in 0..1_000 {
                    log::info(&format!("line {i}"));
                }
                Ok(Page::empty())
            }
            "/time" => {
                let now = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(u64::MAX);
                let random = std::collections::hash_map::RandomState::new();
                let hash = std::hash::BuildHasher::hash_one(&random, 42u8);
                Ok(Page::new(vec![race(1, Some(format!("{now}/{hash}")))], vec![]))
            }
            "/drift-flood" => Ok(Page::new(vec![race(1, None)], vec![]).with_drift(
                (0..10_000).map(|i| Drift { kind: DriftKind::Unmapped, field: format!("field{i}") }).collect(),
            )),
            "/drift-junk" => Ok(Page::new(vec![race(1, None)], vec![]).with_drift(vec![Drift {
                kind: DriftKind::Missing,
                field: "\u{1b}[31mjkNo\r\nERROR forged".repeat(1_000),
            }])),
            other => Err(SourceError::BadRequest(format!("no behaviour for {other}"))),
        }
    }
}

export_source!(Misbehaving);
