//! No input makes the plugin panic: every fixture, truncated, with bytes changed, and with
//! JSON values swapped for hostile ones, parses to `Ok` or to a typed error. So do random
//! operations and requests. Deterministic: a tiny PRNG with fixed seeds.

mod common;

use std::panic::{AssertUnwindSafe, catch_unwind};

use common::*;
use racelab_plugin_kspo::Kspo;
use racelab_plugin_sdk::{Date, DayRef, HttpRequest, OddsQuery, Operation, Pool, RaceKey, RaceRef, Source};
use serde_json::{Value, json};

/// xorshift64*: enough randomness for mutations, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// The operations and requests each fixture may answer, by the service it comes from.
fn cases(fixture: &str) -> Vec<(Operation, HttpRequest)> {
    let cycle = "gwangmyeong";
    let boat = "misari";
    let with_plans = |ops: Vec<Operation>| -> Vec<(Operation, HttpRequest)> {
        ops.into_iter().flat_map(|op| plan(&op).into_iter().map(move |r| (op.clone(), r))).collect()
    };
    let card_ops = || {
        vec![
            schedule(cycle, d(2026, 1, 2)),
            schedule(cycle, d(2026, 1, 5)),
            schedule(cycle, d(2026, 1, 1)),
            schedule(cycle, d(2026, 12, 27)),
            entries(cycle, d(2026, 1, 2), 1, Some("2026/01/1")),
            entries(cycle, d(2026, 1, 3), 2, None),
            results(cycle, d(2026, 1, 4), 1, None),
        ]
    };
    let mut out = match fixture {
        "cycle_card.json" | "quirk_week_types.json" => {
            let mut out = with_plans(card_ops());
            let op = schedule(cycle, d(2026, 3, 10));
            out.push((op.clone(), plan_one(&op).param("numOfRows", "1").param("week_tcnt", "11")));
            out.push((op.clone(), plan_one(&op).param("pageNo", "2")));
            out
        }
        "cycle_result.json"
        | "quirk_padded_names.json"
        | "cycle_rank.json"
        | "quirk_rank_words.json"
        | "quirk_items_empty_string.json" => with_plans(vec![
            results(cycle, d(2026, 1, 2), 1, Some("2026/01/1")),
            results(cycle, d(2026, 1, 2), 2, Some("2026/01/1")),
        ]),
        "boat_doc.json" | "quirk_single_object.json" | "quirk_xml_envelope.xml" => with_plans(vec![
            schedule(boat, d(2026, 1, 28)),
            entries(boat, d(2026, 1, 28), 1, None),
            results(boat, d(2026, 1, 28), 2, None),
        ]),
        "boat_card.json" | "quirk_counters_as_numbers.json" => {
            with_plans(vec![entries(boat, d(2026, 1, 28), 1, Some("2026/05/1"))])
        }
        "boat_result.json" | "boat_rank.json" => with_plans(vec![results(boat, d(2026, 1, 28), 1, Some("2026/05/1"))]),
        _ => Vec::new(),
    };
    if out.is_empty() {
        // Unknown or error fixtures: try them against everything.
        out = with_plans(card_ops());
        out.extend(with_plans(vec![
            schedule(boat, d(2026, 1, 28)),
            results(boat, d(2026, 1, 28), 1, Some("2026/05/1")),
        ]));
    }
    out
}

fn hostile_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(true),
        json!(0),
        json!(-1),
        json!(1),
        json!(7),
        json!(255),
        json!(256),
        json!(65_536),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1e308),
        json!(-0.0),
        json!(1.5),
        json!(""),
        json!(" "),
        json!("-"),
        json!("0"),
        json!("00"),
        json!("01"),
        json!("99"),
        json!("①"),
        json!("⑳"),
        json!("⑴"),
        json!("("),
        json!(")"),
        json!("(2-"),
        json!("(2-7-5)"),
        json!("(0)1.1"),
        json!("(2)-1"),
        json!("(2)0"),
        json!("①-"),
        json!("①-②-③-④9.9"),
        json!("②이길섭"),
        json!("(2)"),
        json!("2.5"),
        json!("2026.01.02"),
        json!("20260102"),
        json!("2026.13.45"),
        json!("0102"),
        json!("12\"99"),
        json!("99:99"),
        json!("실격"),
        json!("낙차"),
        json!("광명"),
        json!("창원"),
        json!("미사리"),
        json!("⑦".repeat(500)),
        json!("9".repeat(400)),
        json!([]),
        json!({}),
        json!([1, "a", null]),
        json!({"item": []}),
        json!({"item": {}}),
        json!({"item": "x"}),
        json!({"item": [1, 2]}),
    ]
}

fn pointers(root: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), root)];
    while let Some((path, value)) = stack.pop() {
        match value {
            Value::Object(map) => {
                for (k, child) in map {
                    stack.push((format!("{path}/{}", k.replace('~', "~0").replace('/', "~1")), child));
                }
            }
            Value::Array(items) => {
                for (i, child) in items.iter().enumerate() {
                    stack.push((format!("{path}/{i}"), child));
                }
            }
            _ => {}
        }
        out.push(path);
    }
    out
}

fn mutate_json(root: &Value, rng: &mut Rng, palette: &[Value]) -> Value {
    let mut doc = root.clone();
    for _ in 0..=rng.below(3) {
        let paths = pointers(&doc);
        let target = rng.pick(&paths).clone();
        match rng.below(4) {
            0 | 1 => {
                if let Some(slot) = doc.pointer_mut(&target) {
                    *slot = rng.pick(palette).clone();
                }
            }
            2 => {
                let source = rng.pick(&paths).clone();
                let copy = doc.pointer(&source).cloned().unwrap_or(Value::Null);
                if let Some(slot) = doc.pointer_mut(&target) {
                    *slot = copy;
                }
            }
            _ => {
                let (parent, last) = target.rsplit_once('/').unwrap_or(("", ""));
                match doc.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&last.replace("~1", "/").replace("~0", "~"));
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(i) = last.parse::<usize>()
                            && i < items.len()
                        {
                            items.remove(i);
                        }
                    }
                    _ => {}
                }
            }
        }
    }
    doc
}

fn mutate_bytes(body: &[u8], rng: &mut Rng) -> Vec<u8> {
    let mut out = body.to_vec();
    for _ in 0..=rng.below(8) {
        if out.is_empty() {
            break;
        }
        let at = rng.below(out.len());
        match rng.below(3) {
            0 => out[at] = (rng.next() & 0xff) as u8,
            1 => {
                out.remove(at);
            }
            _ => out.insert(at, *rng.pick(b"{}[]\",:0123456789-.()\xe2\x91\xa0 ")),
        }
    }
    out
}

fn check(failures: &mut Vec<String>, what: &str, op: &Operation, request: &HttpRequest, body: &[u8]) {
    let outcome = catch_unwind(AssertUnwindSafe(|| Kspo::parse(op.clone(), request.clone(), ok(body.to_vec()))));
    if outcome.is_err() {
        let excerpt = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
        failures.push(format!("{what}: {op:?} {:?} {excerpt}", request.query));
    }
}

#[test]
fn mutated_fixtures_never_panic() {
    let palette = hostile_values();
    let mut failures = Vec::new();
    let mut names: Vec<String> = std::fs::read_dir(fixture_dir())
        .expect("fixture dir")
        .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect();
    names.sort();
    assert!(names.len() >= 15, "{names:?}");
    for (seed, name) in names.iter().enumerate() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (seed as u64 + 1));
        let body = fixture(name);
        let cases = cases(name);
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        for round in 0..450 {
            let mutated = match (round % 3, &json) {
                (0, _) => body[..rng.below(body.len() + 1)].to_vec(),
                (1, _) | (_, None) => mutate_bytes(&body, &mut rng),
                (_, Some(doc)) => serde_json::to_vec(&mutate_json(doc, &mut rng, &palette)).expect("serialises"),
            };
            let (op, request) = rng.pick(&cases);
            check(&mut failures, name, op, request, &mutated);
        }
    }
    assert!(
        failures.is_empty(),
        "{} panics, first: {}",
        failures.len(),
        failures.first().map(String::as_str).unwrap_or("")
    );
}

/// Every field of the first item (and of the envelope) set to every hostile value in turn.
#[test]
fn every_field_takes_every_hostile_value() {
    let palette = hostile_values();
    let mut failures = Vec::new();
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    for name in [
        "quirk_week_types.json",
        "cycle_result.json",
        "cycle_rank.json",
        "boat_doc.json",
        "boat_card.json",
        "boat_result.json",
        "boat_rank.json",
        "quirk_single_object.json",
    ] {
        let doc: Value = serde_json::from_slice(&fixture(name)).expect("JSON fixture");
        let cases = cases(name);
        let later_item = |p: &str| {
            p.strip_prefix("/response/body/items/item/")
                .and_then(|rest| rest.split('/').next())
                .is_some_and(|i| i != "0")
        };
        for path in pointers(&doc).into_iter().filter(|p| !later_item(p)) {
            for value in &palette {
                let mut mutated = doc.clone();
                if let Some(slot) = mutated.pointer_mut(&path) {
                    *slot = value.clone();
                }
                let body = serde_json::to_vec(&mutated).expect("serialises");
                let (op, request) = rng.pick(&cases);
                check(&mut failures, name, op, request, &body);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} panics, first: {}",
        failures.len(),
        failures.first().map(String::as_str).unwrap_or("")
    );
}

#[test]
fn random_operations_and_requests_never_panic() {
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let tracks = ["gwangmyeong", "misari", "seoul", ""];
    let tags = [
        None,
        Some("2026/01/1"),
        Some("2026/99/9"),
        Some("0000/00/0"),
        Some("9999/99/9"),
        Some("//"),
        Some("2026/01/1/"),
        Some("⑦"),
    ];
    let fixtures: Vec<(String, Vec<u8>)> = [
        "cycle_card.json",
        "cycle_result.json",
        "cycle_rank.json",
        "boat_doc.json",
        "boat_card.json",
        "boat_result.json",
        "boat_rank.json",
    ]
    .iter()
    .map(|n| (n.to_string(), fixture(n)))
    .collect();
    let mut failures = Vec::new();
    for _ in 0..3_000 {
        let date =
            Date { year: (rng.next() % 3_200) as u16, month: (rng.next() % 14) as u8, day: (rng.next() % 33) as u8 };
        let race = RaceRef {
            key: RaceKey { track: rng.pick(&tracks).to_string(), date, number: (rng.next() & 0xff) as u8 },
            meeting: rng.pick(&tags).map(str::to_string),
        };
        let op = match rng.below(4) {
            0 => Operation::Schedule(DayRef { track: race.key.track.clone(), date }),
            1 => Operation::Entries(race),
            2 => Operation::Results(race),
            _ => Operation::Odds(OddsQuery { race, pools: vec![Pool::Win] }),
        };
        let planned = catch_unwind(AssertUnwindSafe(|| Kspo::plan(op.clone(), Vec::new())));
        let Ok(planned) = planned else {
            failures.push(format!("plan {op:?}"));
            continue;
        };
        // Answer every planned request (or a doctored one) with a fixture of any service.
        let valid = plan(&schedule("gwangmyeong", d(2026, 1, 2)));
        for mut request in planned.unwrap_or(valid) {
            for key in ["week_tcnt", "stnd_yr", "pageNo", "numOfRows", "tms", "day_tcnt", "race_no"] {
                if rng.below(4) == 0 && request.query_value(key).is_some() {
                    let value = rng
                        .pick(&["0", "1", "99", "255", "256", "-1", "x", "", "65535", "18446744073709551616"])
                        .to_string();
                    request = request.param(key, value);
                }
            }
            let (name, body) = rng.pick(&fixtures);
            check(&mut failures, name, &op, &request, body);
        }
    }
    assert!(
        failures.is_empty(),
        "{} panics, first: {}",
        failures.len(),
        failures.first().map(String::as_str).unwrap_or("")
    );
}
