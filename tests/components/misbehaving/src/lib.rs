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
//! | `/leave` | writes a mark into its static data and 12 MiB of heap, for the next call to find |
//! | `/peek` | counts the marks a call before left (in a race name): a pool slot must come back zeroed |

use std::sync::atomic::{AtomicU64, Ordering};

use racelab_plugin_sdk::{
    ClockTime, Date, Drift, DriftKind, HttpRequest, HttpResponse, OddsTiming, Operation, OperationKind, Page,
    PluginManifest, Race, RaceKey, Record, Source, SourceError, export_source, log,
};

/// What `/leave` writes; zero-initialised static data, which no data segment resets.
static LEFT: AtomicU64 = AtomicU64::new(0);
const MARK: u64 = 0x5eed_1ef7_0000_0001;
/// 12 MiB of heap: past the 8 MiB the pool keeps resident, so both of its resets are seen.
const HEAP_WORDS: usize = 12 << 17;

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
            "/leave" => {
                LEFT.store(MARK, Ordering::Relaxed);
                let heap = std::hint::black_box(vec![MARK; HEAP_WORDS]);
                Ok(Page::new(vec![race(1, Some(format!("left {}", heap.len())))], vec![]))
            }
            "/peek" => {
                // Fresh memory from `memory.grow` is taken to be zero (the allocator does not
                // clear it), so this vector holds whatever the slot held before.
                let heap = vec![0u64; HEAP_WORDS];
                let found = heap.iter().filter(|w| **w != 0).count() + usize::from(LEFT.load(Ordering::Relaxed) != 0);
                Ok(Page::new(vec![race(1, Some(format!("found {found}")))], vec![]))
            }
            other => Err(SourceError::BadRequest(format!("no behaviour for {other}"))),
        }
    }
}

export_source!(Misbehaving);

#[cfg(test)]
mod tests {
    use super::*;

    fn name(path: &str) -> Option<String> {
        let op = Operation::Schedule(racelab_plugin_sdk::DayRef {
            track: "seoul".into(),
            date: Date { year: 2026, month: 1, day: 3 },
        });
        let response = HttpResponse { status: 200, headers: vec![], body: vec![] };
        let page = Misbehaving::parse(op, HttpRequest::get("test", path), response).expect("a page");
        match page.records.as_slice() {
            [Record::Race(race)] => race.name.clone(),
            other => panic!("{other:?}"),
        }
    }

    /// In one process nothing resets the static data between calls, so `/peek` finds what
    /// `/leave` left: the host's test of the pool (which must find nothing) can fail.
    #[test]
    fn peek_finds_what_leave_left_where_nothing_resets_memory() {
        assert_eq!(name("/peek").as_deref(), Some("found 0"));
        assert_eq!(name("/leave").as_deref(), Some(format!("left {HEAP_WORDS}").as_str()));
        assert_eq!(name("/peek").as_deref(), Some("found 1"));
    }
}
