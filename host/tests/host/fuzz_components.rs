//! Random, truncated and mutated payloads through the real compiled components: every answer
//! is records or a source error — never a trap, a timeout or any other plugin fault.

use crate::common;

use std::path::Path;

use racelab::plugins::wit::{Date, DayRef, HttpRequest, HttpResponse, OddsQuery, Operation, Pool, RaceKey, RaceRef};
use racelab::plugins::{CallError, Limits, Plugin, Runtime};

/// A small deterministic PRNG (xorshift64*), so a failure replays.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const HOSTILE: [&str; 12] =
    ["\"\"", "null", "-1", "0", "1e400", "99999999999999999999", "\"-\"", "[]", "{}", "\"①②③\"", "3.5", "\"9999.9\""];

fn mutate(body: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = body.to_vec();
    match rng.below(6) {
        0 => out.truncate(rng.below(body.len())),
        1 => {
            for _ in 0..1 + rng.below(8) {
                let at = rng.below(out.len());
                if let Some(b) = out.get_mut(at) {
                    *b = rng.next() as u8;
                }
            }
        }
        2 => {
            let at = rng.below(out.len());
            let len = rng.below(64).min(out.len() - at);
            out.drain(at..at + len);
        }
        3 => {
            // Replace the value after a random colon with a hostile JSON value.
            let colons: Vec<usize> = out.iter().enumerate().filter(|(_, b)| **b == b':').map(|(i, _)| i).collect();
            if let Some(&at) = colons.get(rng.below(colons.len())) {
                let end = out[at + 1..]
                    .iter()
                    .position(|b| matches!(b, b',' | b'}' | b']'))
                    .map_or(out.len(), |p| at + 1 + p);
                out.splice(at + 1..end, HOSTILE[rng.below(HOSTILE.len())].bytes());
            }
        }
        4 => {
            let at = rng.below(out.len());
            let len = rng.below(200).min(out.len() - at);
            let slice = out[at..at + len].to_vec();
            out.splice(at..at, slice);
        }
        _ => out = (0..rng.below(512)).map(|_| rng.next() as u8).collect(),
    }
    out
}

fn operations(track: &str) -> Vec<Operation> {
    let date = Date { year: 2026, month: 1, day: 2 };
    let race = RaceRef { key: RaceKey { track: track.into(), date, number: 1 }, meeting: None };
    let tagged = RaceRef { meeting: Some("2026/01/1".into()), ..race.clone() };
    vec![
        Operation::Schedule(DayRef { track: track.into(), date }),
        Operation::Entries(race.clone()),
        Operation::Entries(tagged.clone()),
        Operation::Results(race.clone()),
        Operation::Results(tagged),
        Operation::Odds(OddsQuery { race, pools: vec![Pool::Win, Pool::Tri] }),
    ]
}

/// Every (operation, request) pair a plugin plans, plus the follow-ups its fixtures lead to.
fn requests(plugin: &Plugin, fixtures: &[Vec<u8>]) -> Vec<(Operation, HttpRequest)> {
    let mut pairs = Vec::new();
    for track in &plugin.manifest().tracks {
        for op in operations(track) {
            let Ok(planned) = plugin.plan(&op, &[]) else { continue };
            for request in planned {
                for body in fixtures {
                    let response = HttpResponse { status: 200, headers: vec![], body: body.clone() };
                    if let Ok(page) = plugin.parse(&op, &request, &response) {
                        pairs.extend(page.next.into_iter().map(|next| (op.clone(), next)));
                    }
                }
                pairs.push((op.clone(), request));
            }
        }
    }
    pairs.sort_by_key(|(_, r)| format!("{}{:?}", r.path, r.query));
    pairs.dedup_by_key(|(_, r)| format!("{}{:?}", r.path, r.query));
    pairs
}

fn fuzz(package: &str, fixtures_dir: &str, rounds: usize) {
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let plugin = runtime.load_file(&common::component(package)).expect("loads");
    let dir = common::workspace().join("tests/fixtures").join(fixtures_dir);
    let fixtures: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("fixtures dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json" || x == "xml"))
        .map(|p| std::fs::read(Path::new(&p)).expect("fixture"))
        .collect();
    assert!(fixtures.len() >= 8, "{dir:?} should hold the endpoint and quirk fixtures");
    let pairs = requests(&plugin, &fixtures);
    assert!(pairs.len() >= 4, "{package}: only {} request shapes", pairs.len());
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut ok, mut errors) = (0, 0);
    for round in 0..rounds {
        let (op, request) = &pairs[round % pairs.len()];
        let base = &fixtures[rng.below(fixtures.len())];
        let body = mutate(base, &mut rng);
        let status = if rng.below(10) == 0 { [200, 404, 429, 500, 503][rng.below(5)] } else { 200 };
        let response = HttpResponse { status, headers: vec![], body };
        match plugin.parse(op, request, &response) {
            Ok(_) => ok += 1,
            Err(CallError::Source(_)) => errors += 1,
            Err(CallError::Fault(fault)) => {
                panic!(
                    "round {round}: {fault}\nrequest {request:?}\nbody {:?}",
                    String::from_utf8_lossy(&response.body)
                )
            }
        }
    }
    assert_eq!(ok + errors, rounds);
    assert!(errors > 0 && ok > 0, "{package}: mutations should give both pages ({ok}) and errors ({errors})");
}

#[test]
fn kra_component_never_faults_on_mutated_payloads() {
    fuzz("racelab-plugin-kra", "kra", 3_000);
}

#[test]
fn kspo_component_never_faults_on_mutated_payloads() {
    fuzz("racelab-plugin-kspo", "kspo", 3_000);
}
