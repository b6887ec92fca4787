//! The plugin runtime against real compiled components, including deliberately broken ones:
//! every fault is contained, reported with the plugin's name, and the host keeps running.

use crate::common;

use std::time::{Duration, Instant};

use racelab::plugins::wit::{Date, DayRef, HttpRequest, HttpResponse, Operation, Record};
use racelab::plugins::{CallError, Fault, Limits, LoadError, Plugin, Runtime};

fn runtime() -> Runtime {
    Runtime::new(Limits { call_timeout: Duration::from_millis(300), memory_bytes: 32 << 20, ..Limits::default() })
        .expect("runtime")
}

fn misbehaving(runtime: &Runtime) -> Plugin {
    runtime.load_file(&common::component("racelab-test-misbehaving")).expect("the misbehaving fixture loads")
}

fn op() -> Operation {
    Operation::Schedule(DayRef { track: "seoul".into(), date: Date { year: 2026, month: 1, day: 3 } })
}

fn call(plugin: &Plugin, path: &str) -> Result<Vec<Record>, CallError> {
    let request = HttpRequest { dataset: "test".into(), path: path.into(), query: vec![] };
    let response = HttpResponse { status: 200, headers: vec![], body: b"{}".to_vec() };
    plugin.parse(&op(), &request, &response).map(|page| page.records)
}

#[test]
fn a_trap_is_a_fault_with_the_panic_message_and_the_plugin_keeps_working() {
    let rt = runtime();
    let plugin = misbehaving(&rt);
    match call(&plugin, "/trap") {
        Err(CallError::Fault(Fault::Trap { plugin: name, call, message })) => {
            assert_eq!(name, "misbehaving 0.1.0");
            assert_eq!(call, "parse");
            assert!(message.contains("deliberate trap"), "{message}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert_eq!(call(&plugin, "/ok").expect("the next call works").len(), 1);
}

#[test]
fn an_endless_loop_is_interrupted_at_the_deadline() {
    let rt = runtime();
    let plugin = misbehaving(&rt);
    let started = Instant::now();
    let result = call(&plugin, "/loop");
    let took = started.elapsed();
    assert!(matches!(result, Err(CallError::Fault(Fault::Timeout { .. }))), "{result:?}");
    assert!(took < Duration::from_secs(5), "interrupted after {took:?}");
    assert_eq!(call(&plugin, "/ok").expect("the next call works").len(), 1);
}

#[test]
fn endless_allocation_stops_at_the_memory_limit() {
    let rt = runtime();
    let plugin = misbehaving(&rt);
    let result = call(&plugin, "/alloc");
    assert!(
        matches!(result, Err(CallError::Fault(Fault::OutOfMemory { limit_bytes, .. })) if limit_bytes == 32 << 20),
        "{result:?}"
    );
    assert_eq!(call(&plugin, "/ok").expect("the next call works").len(), 1);
}

#[test]
fn oversized_output_is_refused() {
    let rt = Runtime::new(Limits { max_records: 1_000, ..Limits::default() }).expect("runtime");
    let plugin = misbehaving(&rt);
    let result = call(&plugin, "/flood");
    assert!(
        matches!(&result, Err(CallError::Fault(Fault::OutputTooLarge { what, .. })) if what == "5000 records"),
        "{result:?}"
    );
}

/// Drift is the plugin's report, so it is held to limits like its records: a flood of fields
/// is refused, and a field's name reaches the database and Slack cut short and escaped.
#[test]
fn drift_is_bounded_and_its_field_names_escaped() {
    let rt = runtime();
    let plugin = misbehaving(&rt);
    let parse = |path: &str| {
        let request = HttpRequest { dataset: "test".into(), path: path.into(), query: vec![] };
        plugin.parse(&op(), &request, &HttpResponse { status: 200, headers: vec![], body: b"{}".to_vec() })
    };
    let flood = parse("/drift-flood");
    assert!(
        matches!(&flood, Err(CallError::Fault(Fault::OutputTooLarge { what, limit: 500, .. })) if what == "10000 drift fields"),
        "{flood:?}"
    );
    let page = parse("/drift-junk").expect("junk drift is not a fault");
    assert_eq!(page.records.len(), 1);
    let field = &page.drift[0].field;
    assert!(field.chars().count() <= 64, "{} characters", field.chars().count());
    assert!(!field.chars().any(char::is_control), "{field:?}");
    assert!(field.contains("jkNo"), "{field:?}");
}

/// Nothing one call writes is there for the next: the pool resets a slot's memory (with
/// `memset`, only the pages the call touched where the kernel says which, and by unmapping
/// past what it keeps resident) before another call takes it.
#[test]
fn a_call_finds_nothing_an_earlier_call_left_in_memory() {
    let rt = Runtime::new(Limits::default()).expect("runtime");
    let plugin = misbehaving(&rt);
    let name = |path: &str| match call(&plugin, path).expect("leave and peek are not faults").as_slice() {
        [Record::Race(race)] => race.name.clone().expect("a name"),
        other => panic!("{other:?}"),
    };
    for _ in 0..10 {
        assert_eq!(name("/leave"), format!("left {}", 12 << 17));
        assert_eq!(name("/peek"), "found 0", "a call saw what the call before it left");
    }
}

#[test]
fn a_log_flood_is_capped_and_the_call_still_succeeds() {
    let rt = runtime();
    let plugin = misbehaving(&rt);
    assert!(call(&plugin, "/log").expect("logging is not a fault").is_empty());
}

#[test]
fn plugins_see_a_frozen_clock_and_fixed_randomness() {
    let rt = runtime();
    let plugin = misbehaving(&rt);
    let name = |records: Vec<Record>| match records.first() {
        Some(Record::Race(r)) => r.name.clone().unwrap_or_default(),
        other => panic!("expected a race, got {other:?}"),
    };
    let first = name(call(&plugin, "/time").expect("ok"));
    let second = name(call(&plugin, "/time").expect("ok"));
    assert!(first.starts_with("0/"), "wall clock is the epoch: {first}");
    assert_eq!(first, second, "hash seeds come from a fixed random stream");
}

#[test]
fn a_source_error_is_not_a_fault() {
    let rt = runtime();
    let plugin = misbehaving(&rt);
    assert!(matches!(call(&plugin, "/nope"), Err(CallError::Source(_))));
}

#[test]
fn an_unsupported_api_version_is_refused_before_instantiation_with_plugin_version_and_range() {
    let rt = runtime();
    let path = common::component("racelab-test-misbehaving");
    let bytes = common::with_api_version_0_9(&std::fs::read(&path).expect("read"));
    let err = rt.load(&bytes, "future.wasm").expect_err("0.9 is refused");
    assert!(matches!(err, LoadError::UnsupportedApi { .. }), "{err:?}");
    let text = err.to_string();
    for part in ["future.wasm", "0.9.0", ">=0.1.0, <0.3.0"] {
        assert!(text.contains(part), "{text:?} should name {part}");
    }
}

#[test]
fn garbage_and_core_modules_are_not_components() {
    let rt = runtime();
    let garbage: Vec<u8> = (0..4096u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    assert!(matches!(rt.load(&garbage, "garbage.wasm"), Err(LoadError::NotAComponent { .. })));
    let core_module = b"\0asm\x01\0\0\0";
    let err = rt.load(core_module, "core.wasm").expect_err("a core module is refused");
    assert!(matches!(err, LoadError::NotAComponent { .. }), "{err:?}");
    assert!(err.to_string().starts_with("core.wasm is not a WebAssembly component"), "{err}");
    let missing = rt.load_file(std::path::Path::new("/nonexistent/plugin.wasm")).expect_err("missing file");
    assert!(missing.to_string().contains("/nonexistent/plugin.wasm"), "{missing}");
}

#[test]
fn a_precompiled_component_loads_and_behaves_the_same() {
    let rt = runtime();
    let bytes = std::fs::read(common::component("racelab-test-misbehaving")).expect("read");
    let artifact = rt.precompile(&bytes).expect("precompile");
    let plugin = rt.load_trusted_precompiled(&artifact, "misbehaving.cwasm").expect("load");
    assert_eq!(plugin.manifest().name, "misbehaving");
    assert_eq!(call(&plugin, "/ok").expect("ok").len(), 1);
}
