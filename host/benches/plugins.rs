//! Plugin costs: the same parse code natively and in Wasm on a race's all-pool odds page
//! (1,397 rows), the fixed cost of one call (fresh store + instantiate + call), and loading a
//! component by compiling it vs from a precompiled artifact.
//!
//! `cargo bench -p racelab --bench plugins`; results go into BENCHMARKS.md.

#[path = "../tests/host/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use racelab::plugins::wit as host;
use racelab::plugins::{CompileCache, Limits, Runtime};
use racelab_plugin_sdk as guest;
use racelab_plugin_sdk::Source;

const ODDS_PATH: &str = "/B551015/API301/Dividend_rate_total";

fn query() -> Vec<(String, String)> {
    [("_type", "json"), ("pageNo", "1"), ("numOfRows", "2000"), ("meet", "3"), ("rc_date", "20250523"), ("rc_no", "1")]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .to_vec()
}

fn body() -> Vec<u8> {
    std::fs::read(common::workspace().join("tests/fixtures/kra/Dividend_rate_total_all_pools.json")).expect("fixture")
}

fn native_call() -> (guest::Operation, guest::HttpRequest, guest::HttpResponse) {
    use guest::Pool::*;
    let key = guest::RaceKey { track: "busan".into(), date: guest::Date { year: 2025, month: 5, day: 23 }, number: 1 };
    let op = guest::Operation::Odds(guest::OddsQuery {
        race: guest::RaceRef { key, meeting: None },
        pools: vec![Win, Plc, Qnl, Exa, Qpl, Tla, Tri],
    });
    let request = guest::HttpRequest { dataset: "API301".into(), path: ODDS_PATH.into(), query: query() };
    (op, request, guest::HttpResponse { status: 200, headers: vec![], body: body() })
}

fn wasm_call() -> (host::Operation, host::HttpRequest, host::HttpResponse) {
    use host::Pool::*;
    let key = host::RaceKey { track: "busan".into(), date: host::Date { year: 2025, month: 5, day: 23 }, number: 1 };
    let op = host::Operation::Odds(host::OddsQuery {
        race: host::RaceRef { key, meeting: None },
        pools: vec![Win, Plc, Qnl, Exa, Qpl, Tla, Tri],
    });
    let request = host::HttpRequest { dataset: "API301".into(), path: ODDS_PATH.into(), query: query() };
    (op, request, host::HttpResponse { status: 200, headers: vec![], body: body() })
}

fn parse_native_vs_wasm(c: &mut Criterion) {
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let plugin = runtime.load_file(&common::component("racelab-plugin-kra")).expect("kra loads");
    let (op, request, response) = native_call();
    // Rows, not records: 0.2 sends a race's prices as one board per pool.
    let native_rows =
        racelab_plugin_kra::Kra::parse(op.clone(), request.clone(), response.clone()).expect("parses").rows();
    let (wop, wrequest, wresponse) = wasm_call();
    let wasm_rows = racelab::plugins::wit::rows(&plugin.parse(&wop, &wrequest, &wresponse).expect("parses").records);
    assert_eq!((native_rows, wasm_rows), (1397, 1397), "both parse every row");
    // The same component on a runtime without the pool: every call maps fresh memory.
    let on_demand = Runtime::new_on_demand(Limits::default()).expect("runtime");
    let unpooled = on_demand.load_file(&common::component("racelab-plugin-kra")).expect("kra loads");

    let mut group = c.benchmark_group("parse all-pool odds (1,397 rows)");
    group.sample_size(50).measurement_time(Duration::from_secs(8));
    group.bench_function("native", |b| {
        b.iter(|| racelab_plugin_kra::Kra::parse(op.clone(), request.clone(), black_box(response.clone())))
    });
    group.bench_function("wasm (fresh store + instantiate + call)", |b| {
        b.iter(|| plugin.parse(&wop, &wrequest, black_box(&wresponse)))
    });
    group.bench_function("wasm, on-demand allocator (fresh memory each call)", |b| {
        b.iter(|| unpooled.parse(&wop, &wrequest, black_box(&wresponse)))
    });
    // The same body read for WIN only: the whole page is still parsed and scoped, but 11
    // records are made and cross back instead of 1,397. The difference from the lines above
    // is what the records cost (making them, and in Wasm copying them out to the host).
    let win = |mut request: guest::HttpRequest| {
        request.query.push(("pool".into(), "WIN".into()));
        request
    };
    let (nwin, mut wwin) = (win(request.clone()), wrequest.clone());
    wwin.query.push(("pool".into(), "WIN".into()));
    assert_eq!(
        racelab::plugins::wit::rows(&plugin.parse(&wop, &wwin, &wresponse).expect("parses").records),
        11,
        "WIN has 11 starters"
    );
    group.bench_function("native, WIN only (11 records)", |b| {
        b.iter(|| racelab_plugin_kra::Kra::parse(op.clone(), nwin.clone(), black_box(response.clone())))
    });
    group
        .bench_function("wasm, WIN only (11 records)", |b| b.iter(|| plugin.parse(&wop, &wwin, black_box(&wresponse))));
    group.finish();
}

fn call_overhead(c: &mut Criterion) {
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let plugin = runtime.load_file(&common::component("racelab-plugin-kra")).expect("kra loads");
    let (op, request, _) = wasm_call();
    let empty = host::HttpResponse {
        status: 200,
        headers: vec![],
        body: br#"{"response":{"header":{"resultCode":"00","resultMsg":"NORMAL SERVICE."},"body":{"items":"","numOfRows":2000,"pageNo":1,"totalCount":0}}}"#.to_vec(),
    };
    let mut group = c.benchmark_group("per-call overhead");
    group.sample_size(50);
    group.bench_function("wasm parse of an empty page", |b| b.iter(|| plugin.parse(&op, &request, black_box(&empty))));
    group.bench_function("wasm plan", |b| b.iter(|| plugin.plan(black_box(&op), &[])));
    group.finish();
}

fn load(c: &mut Criterion) {
    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let bytes = std::fs::read(common::component("racelab-plugin-kra")).expect("read");
    let dir = tempfile::tempdir().expect("tempdir");
    let cached =
        Runtime::new(Limits::default()).expect("runtime").with_cache(CompileCache::open(dir.path()).expect("cache"));
    cached.load(&bytes, "kra.wasm").expect("compiles into the cache");
    let mut group = c.benchmark_group(format!("load the KRA component ({} KiB)", bytes.len() / 1024));
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.bench_function("compile from .wasm", |b| {
        b.iter(|| runtime.load(black_box(&bytes), "kra.wasm").expect("loads"))
    });
    group.bench_function("from the compile cache", |b| {
        b.iter(|| cached.load(black_box(&bytes), "kra.wasm").expect("loads"))
    });
    group.finish();
}

criterion_group!(benches, parse_native_vs_wasm, call_overhead, load);
criterion_main!(benches);
