//! No input makes the plugin panic: every fixture, truncated, with bytes mutated, and with
//! JSON values swapped, replaced or removed, is parsed natively under `catch_unwind`. The
//! answer may be a page or an error, never a panic (in the component, a trap), and a page it
//! gives must still keep the contract.

mod common;

use std::panic::catch_unwind;

use common::*;
use racelab_plugin_kra::Kra;
use racelab_plugin_sdk::{FinishStatus, HttpResponse, Page, Quote, Record, Source};
use serde_json::{Value, json};

/// SplitMix64: a tiny deterministic generator, so a failure replays from its seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

const TRUNCATIONS: usize = 40;
const BYTE_MUTATIONS: usize = 80;
const VALUE_SWAPS: usize = 150;

/// Runs `parse` on `body` and returns a description of what went wrong, if anything did.
fn check(case: &Case, status: u16, body: Vec<u8>) -> Option<String> {
    let response = HttpResponse { status, headers: vec![("retry-after".into(), "x".into())], body };
    let (op, request) = (case.op.clone(), case.request.clone());
    match catch_unwind(move || Kra::parse(op, request, response)) {
        Err(_) => Some("panicked".to_string()),
        Ok(Err(_)) => None,
        Ok(Ok(page)) => broken_contract(&page),
    }
}

/// What a page may not hold whatever the input.
fn broken_contract(page: &Page) -> Option<String> {
    if page.next.len() > 2 {
        return Some(format!("{} follow-up requests", page.next.len()));
    }
    for record in &page.records {
        let ok = match record {
            Record::Odds(b) => {
                b.selections.len() == b.quotes.len() * b.pool.legs()
                    && !b.selections.contains(&0)
                    && b.quotes
                        .iter()
                        .all(|q| matches!(q, Quote::Capped) | matches!(q, Quote::Price(p) if p.is_finite() && *p > 0.0))
            }
            Record::Dividend(d) => d.selection.len() == d.pool.legs() && d.payout.is_finite() && d.payout > 0.0,
            Record::Result(r) => {
                r.position.is_some() == (r.status == FinishStatus::Finished)
                    && r.time_s.is_none_or(|t| t.is_finite() && t > 0.0)
                    && r.number != Some(0)
            }
            Record::Entry(e) => e.number > 0 && !e.runner_name.is_empty(),
            Record::Scratch(s) => s.number > 0,
            Record::Race(r) => r.key.number > 0,
        };
        if !ok {
            return Some(format!("record breaks the contract: {record:?}"));
        }
    }
    None
}

#[derive(Clone, Debug)]
enum Step {
    Key(String),
    Index(usize),
}

/// The path of every value in the tree, the root excluded.
fn slots(value: &Value) -> Vec<Vec<Step>> {
    let mut out = Vec::new();
    let mut stack: Vec<(Vec<Step>, &Value)> = vec![(Vec::new(), value)];
    while let Some((path, value)) = stack.pop() {
        if !path.is_empty() {
            out.push(path.clone());
        }
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    let mut p = path.clone();
                    p.push(Step::Key(k.clone()));
                    stack.push((p, v));
                }
            }
            Value::Array(items) => {
                for (i, v) in items.iter().enumerate() {
                    let mut p = path.clone();
                    p.push(Step::Index(i));
                    stack.push((p, v));
                }
            }
            _ => {}
        }
    }
    out
}

fn at<'a>(root: &'a mut Value, path: &[Step]) -> Option<&'a mut Value> {
    path.iter().try_fold(root, |v, step| match step {
        Step::Key(k) => v.get_mut(k.as_str()),
        Step::Index(i) => v.get_mut(*i),
    })
}

fn palette(rng: &mut Rng) -> Value {
    let values = [
        json!(null),
        json!(true),
        json!(0),
        json!(-1),
        json!(1),
        json!(255),
        json!(256),
        json!(65_536),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1e308),
        json!(-1e308),
        json!(9999.9),
        json!(0.5),
        json!(-0.0),
        json!(""),
        json!("-"),
        json!(" "),
        json!("0"),
        json!("abc"),
        json!("9999.9"),
        json!("20260103"),
        json!("2026-02-30"),
        json!("출발 :99:99"),
        json!("출발 :"),
        json!("부경"),
        json!("서울"),
        json!("XLA"),
        json!("쌍복승식"),
        json!("\u{0}\u{feff}"),
        json!("x".repeat(5_000)),
        json!([]),
        json!({}),
        json!([1, 2]),
        json!({"item": {"chulNo": 1}}),
    ];
    rng.pick(&values).clone()
}

/// One random edit of the tree: replace a value, swap two, remove a key, or duplicate an item.
fn edit(root: &mut Value, slots: &[Vec<Step>], rng: &mut Rng) {
    let path = rng.pick(slots).clone();
    match rng.below(4) {
        0 => {
            let value = palette(rng);
            if let Some(slot) = at(root, &path) {
                *slot = value;
            }
        }
        1 => {
            let other = rng.pick(slots).clone();
            let Some(theirs) = at(root, &other).map(|v| v.take()) else { return };
            let Some(ours) = at(root, &path).map(|v| std::mem::replace(v, theirs)) else { return };
            if let Some(slot) = at(root, &other) {
                *slot = ours;
            }
        }
        2 => {
            let Some((Step::Key(key), parent)) = path.split_last() else { return };
            if let Some(Value::Object(map)) = at(root, parent) {
                map.remove(key);
            }
        }
        _ => {
            let Some((Step::Index(i), parent)) = path.split_last() else { return };
            if let Some(Value::Array(items)) = at(root, parent)
                && let Some(item) = items.get(*i).cloned()
            {
                items.push(item);
            }
        }
    }
}

#[test]
fn no_input_makes_parse_panic() {
    let mut failures = Vec::new();
    let mut fail = |case: &Case, what: String, problem: Option<String>| {
        if let Some(problem) = problem {
            failures.push(format!("{} ({what}): {problem}", case.fixture));
        }
    };
    for (n, case) in cases().iter().enumerate() {
        let mut rng = Rng(0x4B52_4100 + u64::try_from(n).unwrap_or(0));
        let body = fixture(case.fixture);
        fail(case, "as is".into(), check(case, 200, body.clone()));

        for i in 0..TRUNCATIONS {
            let cut = if i == 0 { 0 } else { rng.below(body.len()) };
            let status = *rng.pick(&[200, 200, 200, 401, 403, 404, 429, 500, 503]);
            fail(case, format!("truncated at {cut}, HTTP {status}"), check(case, status, body[..cut].to_vec()));
        }

        for i in 0..BYTE_MUTATIONS {
            let mut mutated = body.clone();
            for _ in 0..=rng.below(8) {
                let at = rng.below(mutated.len());
                mutated[at] = *rng.pick(b"\"{}[]:,0-9.e \\\xff\x00\xeb");
            }
            fail(case, format!("byte mutation {i}"), check(case, 200, mutated));
        }

        let Ok(tree) = serde_json::from_slice::<Value>(&body) else { continue };
        let all = slots(&tree);
        for i in 0..VALUE_SWAPS {
            let mut edited = tree.clone();
            for _ in 0..=rng.below(3) {
                edit(&mut edited, &all, &mut rng);
            }
            let bytes = serde_json::to_vec(&edited).expect("a tree serializes");
            fail(case, format!("value edit {i}"), check(case, 200, bytes));
        }
    }
    assert!(failures.is_empty(), "{} failures, first: {:#?}", failures.len(), &failures[..failures.len().min(5)]);
}

#[test]
fn hostile_numbers_are_errors_not_overflows() {
    let op = odds("seoul", seoul_day(), 1, &ALL_POOLS);
    let request = planned(&op, "Dividend_rate_total", Some(racelab_plugin_sdk::Pool::Tri));
    for (field, value) in [
        ("chulNo", "18446744073709551615"),
        ("chulNo", "-9223372036854775808"),
        ("chulNo", "1e400"),
        ("odds", "1e400"),
        ("odds", "-0.1"),
        ("rcNo", "99999999999999999999999"),
        ("rcDate", "-20260103"),
    ] {
        let body = format!(
            r#"{{"response":{{"header":{{"resultCode":"00","resultMsg":"NORMAL SERVICE."}},"body":{{"items":{{"item":[{{"chulNo":1,"chulNo2":2,"chulNo3":3,"meet":"서울","odds":12.5,"pool":"TRI","rcDate":20260103,"rcNo":1,"{field}":{value}}}]}},"numOfRows":1000,"pageNo":1,"totalCount":18446744073709551615}}}}}}"#
        );
        let case = Case { fixture: "inline", op: op.clone(), request: request.clone() };
        assert_eq!(check(&case, 200, body.clone().into_bytes()), None, "{field}: {value}");
        let parsed = parse(&op, &request, body.into_bytes());
        assert!(parsed.is_err(), "{field} = {value} accepted: {parsed:?}");
    }
}
