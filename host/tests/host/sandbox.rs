//! The plugin sandbox against components written to break it (`tests/components/hostile`,
//! `sleepy`, `wrong-signature`, and the misbehaving one rewritten with extra memories, tables
//! and instances): each limit the host claims holds, and each refusal says what and why.
//! docs/security.md lists these guarantees with the test that shows each.

use crate::common;

use std::io::Write;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use racelab::fetch::{Endpoint, Fetcher, Secret};
use racelab::plugins::wit::{Date, HttpRequest, HttpResponse, Operation, Page, RaceKey, RaceRef};
use racelab::plugins::{CallError, CompileCache, Fault, Limits, LoadError, Plugin, Runtime};
use racelab::runner::{self, Policy, RunError};

const DEADLINE: Duration = Duration::from_millis(500);
const MIB: u32 = 16; // 64 KiB pages in a MiB

fn runtime() -> Runtime {
    Runtime::new(Limits { call_timeout: DEADLINE, ..Limits::default() }).expect("runtime")
}

fn bytes(package: &str) -> Vec<u8> {
    std::fs::read(common::component(package)).expect("component")
}

fn hostile(rt: &Runtime) -> Plugin {
    rt.load_file(&common::component("racelab-test-hostile")).expect("the hostile component loads")
}

/// Runs `f` on its own thread and fails the test if it has not returned within `limit`: a
/// hang is what these tests look for, and a hanging test would say nothing.
fn within<R: Send + 'static>(limit: Duration, what: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).unwrap_or_else(|_| panic!("{what} did not return within {limit:?}"))
}

fn race_1() -> RaceRef {
    RaceRef {
        key: RaceKey { track: "seoul".into(), date: Date { year: 2026, month: 11, day: 28 }, number: 1 },
        meeting: None,
    }
}

fn plan(plugin: &Plugin, mode: &str) -> Result<Vec<HttpRequest>, CallError> {
    plugin.plan(&Operation::Entries(race_1()), &[("mode".into(), mode.into())])
}

fn parse(plugin: &Plugin, mode: &str) -> Result<Page, CallError> {
    let request = HttpRequest {
        dataset: "hostile".into(),
        path: "/hostile/race".into(),
        query: vec![("race".into(), "1".into()), ("mode".into(), mode.into())],
    };
    let response = HttpResponse { status: 200, headers: vec![], body: b"{}".to_vec() };
    plugin.parse(&Operation::Entries(race_1()), &request, &response)
}

#[test]
fn a_plugin_that_sleeps_an_hour_in_its_manifest_loads_at_once() {
    let rt = runtime();
    let path = common::component("racelab-test-sleepy");
    let plugin = within(Duration::from_secs(60), "loading the sleepy component", move || rt.load_file(&path));
    assert_eq!(plugin.expect("loads").manifest().name, "sleepy");
}

#[test]
fn sleeping_in_a_call_ends_at_once_and_sleeping_forever_meets_the_deadline() {
    let _turn = common::turns::turn(common::turns::TIMED);
    let rt = runtime();
    let plugin = hostile(&rt);
    let once = plugin.clone();
    let started = Instant::now();
    let requests = within(Duration::from_secs(10), "a one-hour sleep", move || plan(&once, "sleep-once"));
    assert_eq!(requests.expect("plans after its sleep").len(), 1);
    assert!(started.elapsed() < Duration::from_secs(2), "slept {:?}", started.elapsed());

    let started = Instant::now();
    let result = within(Duration::from_secs(10), "a sleep loop", move || plan(&plugin, "sleep-loop"));
    assert!(matches!(result, Err(CallError::Fault(Fault::Timeout { call: "plan", .. }))), "{result:?}");
    assert!(started.elapsed() < DEADLINE + Duration::from_secs(1), "stopped after {:?}", started.elapsed());
}

#[test]
fn the_memory_limit_holds_across_every_memory_of_a_call() {
    let rt = runtime();
    let misbehaving = bytes("racelab-test-misbehaving");
    // One small extra memory is fine: the rewritten component is still a plugin.
    let one = common::with_extra_core_instances(&misbehaving, &common::core_module(&[1], &[]), 1);
    assert_eq!(rt.load(&one, "one-more-page.wasm").expect("loads").manifest().name, "misbehaving");
    // Two memories of 40 MiB: each under the 64 MiB limit, together over it.
    let two = common::with_extra_core_instances(&misbehaving, &common::core_module(&[40 * MIB, 40 * MIB], &[]), 1);
    // Sixteen of 64 MiB: a gigabyte with a per-memory limit.
    let sixteen = common::with_extra_core_instances(&misbehaving, &common::core_module(&[64 * MIB], &[]), 16);
    for (bytes, name) in [(two, "two.wasm"), (sixteen, "sixteen.wasm")] {
        let err = rt.load(&bytes, name).expect_err("refused");
        assert!(
            matches!(&err, LoadError::Instantiate { fault: Fault::OutOfMemory { limit_bytes, .. }, .. } if *limit_bytes == 64 << 20),
            "{err:?}"
        );
        let text = err.to_string();
        assert!(text.contains(name) && text.contains("67108864-byte memory limit (all memories and tables"), "{text}");
    }
    // Tables count against the same budget: a table of 16M elements is 128 MiB of pointers.
    let table = common::with_extra_core_instances(&misbehaving, &common::core_module(&[], &[16 << 20]), 1);
    let err = rt.load(&table, "table.wasm").expect_err("refused");
    assert!(matches!(&err, LoadError::Instantiate { fault: Fault::OutOfMemory { .. }, .. }), "{err:?}");
}

#[test]
fn instances_memories_and_tables_are_counted() {
    let rt = runtime();
    let misbehaving = bytes("racelab-test-misbehaving");
    let cases = [
        (
            common::with_extra_core_instances(&misbehaving, &common::core_module(&[], &[]), 20),
            "16 core instances per call",
        ),
        (
            common::with_extra_core_instances(&misbehaving, &common::core_module(&[1, 1, 1, 1], &[]), 1),
            "4 linear memories per call",
        ),
        (common::with_extra_core_instances(&misbehaving, &common::core_module(&[], &[1; 8]), 1), "8 tables per call"),
    ];
    for (bytes, limit) in cases {
        let err = rt.load(&bytes, "counted.wasm").expect_err(limit);
        assert!(matches!(&err, LoadError::Instantiate { fault: Fault::OverLimit { .. }, .. }), "{err:?}");
        assert!(err.to_string().contains(&format!("exceeded its limit of {limit}")), "{err}");
    }
}

#[test]
fn a_stack_overflow_is_reported_as_one() {
    let rt = runtime();
    let result = parse(&hostile(&rt), "stack-overflow");
    match result {
        Err(CallError::Fault(fault @ Fault::StackOverflow { .. })) => {
            assert_eq!(fault.to_string(), "plugin hostile 0.1.0 overflowed its stack in parse (runaway recursion)")
        }
        other => panic!("expected a stack overflow, got {other:?}"),
    }
}

#[test]
fn a_plugins_error_text_is_cut_to_size_and_escaped() {
    let rt = runtime();
    match parse(&hostile(&rt), "huge-error") {
        Err(CallError::Source(error)) => {
            let message = racelab::plugins::error_message(&error);
            assert!(
                message.chars().count() <= racelab::plugins::text::MAX_MESSAGE_CHARS + 40,
                "{} chars",
                message.len()
            );
            assert!(message.ends_with("more characters cut)"), "{}", &message[message.len() - 60..]);
            assert!(!message.chars().any(char::is_control), "no line breaks, carriage returns or escapes");
            assert!(message.starts_with("the answer is wrong\\n\\u{1b}[31mERROR"), "{}", &message[..60]);
        }
        other => panic!("expected a malformed-answer error, got {other:?}"),
    }
}

/// Collects what tracing writes, as the `serve` log would show it.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_plugins_log_line_cannot_pass_for_the_hosts() {
    let rt = runtime();
    let plugin = hostile(&rt);
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt().with_ansi(false).with_writer(move || writer.clone()).finish();
    let result = tracing::subscriber::with_default(subscriber, || parse(&plugin, "log-forge"));
    assert!(matches!(result, Err(CallError::Source(_))), "{result:?}");
    let log = String::from_utf8(captured.0.lock().expect("lock").clone()).expect("utf-8");
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 1, "one line for one plugin log call:\n{log}");
    assert!(lines[0].contains("plugin=hostile 0.1.0") && lines[0].contains("parsed\\n2026-12-06T01:02:03"), "{log}");
    assert!(!log.contains('\r') && !log.contains('\u{1b}'), "{log:?}");
}

#[test]
fn exports_of_the_wrong_types_are_a_link_error_at_load() {
    let rt = runtime();
    let err = rt.load(&bytes("racelab-test-wrong-signature"), "wrong.wasm").expect_err("refused");
    assert!(matches!(err, LoadError::Link { .. }), "{err:?}");
    let text = err.to_string();
    assert!(text.starts_with("wrong.wasm cannot be linked"), "{text}");
    assert!(
        text.contains("racelab:source/plugin@0.1.0 functions are not the types that API version defines"),
        "{text}"
    );
}

#[test]
fn precompiled_code_is_loaded_only_from_the_hosts_own_cache() {
    let rt = runtime();
    let wasm = bytes("racelab-test-misbehaving");
    // Native code handed in is refused, whatever it holds, before anything reads it.
    let mut artifact = rt.precompile(&wasm).expect("precompile");
    let err = rt.load(&artifact, "given.cwasm").expect_err("refused");
    assert!(matches!(err, LoadError::Precompiled { .. }), "{err:?}");
    assert!(err.to_string().contains("--trust-precompiled"), "{err}");
    let middle = artifact.len() / 2;
    artifact[middle..middle + 64].fill(0xcc);
    assert!(matches!(rt.load(&artifact, "tampered.cwasm"), Err(LoadError::Precompiled { .. })));

    // The host's own cache: written once, read back by the next runtime.
    let dir = tempfile::tempdir().expect("tempdir");
    let cached = || runtime().with_cache(CompileCache::open(dir.path()).expect("cache"));
    assert_eq!(cached().load(&wasm, "m.wasm").expect("compiles").manifest().name, "misbehaving");
    let files: Vec<_> = std::fs::read_dir(dir.path()).expect("dir").map(|e| e.expect("entry").path()).collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(cached().load(&wasm, "m.wasm").expect("from the cache").manifest().name, "misbehaving");
    // A file others could have written is not the host's: another component's code planted
    // under this one's name, world-writable, is ignored and the component compiled again.
    let planted = rt.precompile(&bytes("racelab-test-hostile")).expect("precompile");
    std::fs::write(&files[0], planted).expect("plant");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&files[0], std::fs::Permissions::from_mode(0o666)).expect("chmod");
    assert_eq!(cached().load(&wasm, "m.wasm").expect("recompiles").manifest().name, "misbehaving");
}

#[test]
fn the_watchdog_frees_the_caller_and_keeps_count_of_calls_stuck_in_host_code() {
    let _turn = common::turns::turn(common::turns::TIMED);
    let rt = runtime();
    let plugin = hostile(&rt);
    common::async_runtime().block_on(async {
        let started = Instant::now();
        let stuck = plugin
            .watched_for("parse", Duration::from_millis(100), |_| {
                std::thread::sleep(Duration::from_millis(1_500));
                Ok(())
            })
            .await;
        assert!(matches!(stuck, Err(CallError::Fault(Fault::Unresponsive { call: "parse", .. }))), "{stuck:?}");
        assert!(started.elapsed() < Duration::from_millis(1_000), "the caller waited {:?}", started.elapsed());
        assert_eq!(plugin.stuck_calls(), 1);
        tokio::time::sleep(Duration::from_millis(1_700)).await;
        assert_eq!(plugin.stuck_calls(), 0, "a stuck call that returns is no longer counted");

        // Four stuck calls, and the plugin is not called again until one returns.
        let block = |_: &Plugin| {
            std::thread::sleep(Duration::from_millis(1_500));
            Ok(())
        };
        for _ in 0..4 {
            let r = plugin.watched_for("plan", Duration::from_millis(20), block).await;
            assert!(matches!(r, Err(CallError::Fault(Fault::Unresponsive { .. }))), "{r:?}");
        }
        let ran = Arc::new(Mutex::new(false));
        let flag = ran.clone();
        let refused = plugin
            .watched_for("plan", Duration::from_secs(5), move |_| {
                *flag.lock().expect("lock") = true;
                Ok(())
            })
            .await;
        assert!(matches!(refused, Err(CallError::Fault(Fault::Stuck { stuck: 4, .. }))), "{refused:?}");
        assert!(!*ran.lock().expect("lock"), "a plugin with four stuck calls is not called");
        tokio::time::sleep(Duration::from_millis(1_700)).await;
        assert_eq!(plugin.stuck_calls(), 0);
        plugin.plan_watched(&Operation::Entries(race_1()), &[]).await.expect("called again once they returned");
    });
}

/// A listener that records whether anything connected to it.
fn catcher() -> (TcpListener, u16) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    (listener, port)
}

#[test]
fn no_planned_request_reaches_another_server_or_carries_the_plugins_own_key() {
    let rt = runtime();
    let plugin = hostile(&rt);
    let (listener, port) = catcher();
    let fetcher = Fetcher::new(Duration::from_secs(2)).expect("fetcher");
    // The base is a port nothing listens on: a request that went where the plugin pointed
    // would reach the catcher.
    let cases = [
        ("http://127.0.0.1:1".to_string(), "exfil-userinfo", format!("@127.0.0.1:{port}/x")),
        (format!("http://127.0.0.1:{}", port / 10), "exfil-userinfo", format!("{}/x", port % 10)),
        ("https://apis.data.go.kr".to_string(), "exfil-host", ".evil.example/x".to_string()),
        ("http://127.0.0.1:1".to_string(), "exfil-host", format!("/@127.0.0.1:{port}/x")),
        ("http://127.0.0.1:1".to_string(), "credential", String::new()),
    ];
    common::async_runtime().block_on(async {
        for (base, mode, target) in &cases {
            let endpoint = Endpoint::new(base, Some(("serviceKey".into(), Secret::new("SERVICE-KEY")))).expect("base");
            let config = [("mode".to_string(), mode.to_string()), ("target".to_string(), target.clone())];
            let policy = Policy { retries: 0, ..Policy::default() };
            let result =
                runner::run(&plugin, &endpoint, &fetcher, &Operation::Entries(race_1()), &config, &policy).await;
            match result {
                Err(RunError::Fault(fault @ Fault::Request { .. })) => {
                    let text = fault.to_string();
                    assert!(text.starts_with("plugin hostile 0.1.0 asked for a request the host refuses"), "{text}");
                    assert!(!text.contains("SERVICE-KEY"), "{text}");
                    if !target.is_empty() {
                        assert!(text.contains(&format!("(path {target})")), "{text}");
                    }
                }
                other => panic!("{base} + {mode} {target:?}: expected a refused request, got {other:?}"),
            }
        }
    });
    assert!(listener.accept().is_err(), "nothing connected to the catcher");
}
