//! Every fault the simulator injects reaches the host as the right error kind, through the
//! real components and real HTTP; and retries ride out a flaky source.

use crate::common;

use std::time::Duration;

use chrono::TimeZone;
use racelab::fetch::{Endpoint, Fetcher, Secret};
use racelab::plugins::wit::{Date, DayRef, Operation, RaceKey, RaceRef};
use racelab::plugins::{Limits, Plugin, Runtime};
use racelab::runner::{self, Policy, RunError};
use racelab_sim::{Clock, Faults, QuotaStyle, SimConfig};

/// A Saturday with racing at Seoul and (the day before) at 광명, seen at 23:00 KST.
fn config() -> SimConfig {
    let now = racelab_sim::clock::kst().with_ymd_and_hms(2026, 11, 28, 23, 0, 0).single().expect("valid");
    let mut config = SimConfig { seed: 7, clock: Clock::fixed(now), ..SimConfig::default() };
    config.limits.per_second = 0;
    config
}

fn seoul_schedule() -> Operation {
    Operation::Schedule(DayRef { track: "seoul".into(), date: Date { year: 2026, month: 11, day: 28 } })
}

fn seoul_entries() -> Operation {
    let key = RaceKey { track: "seoul".into(), date: Date { year: 2026, month: 11, day: 28 }, number: 1 };
    Operation::Entries(RaceRef { key, meeting: None })
}

fn cycle_schedule() -> Operation {
    Operation::Schedule(DayRef { track: "gwangmyeong".into(), date: Date { year: 2026, month: 11, day: 27 } })
}

fn plugin(package: &str) -> Plugin {
    Runtime::new(Limits::default()).expect("runtime").load_file(&common::component(package)).expect("loads")
}

fn run(
    sim: &common::Sim,
    plugin: &Plugin,
    op: &Operation,
    key: &str,
    timeout: Duration,
    retries: u32,
) -> Result<usize, RunError> {
    let endpoint = Endpoint::new(&sim.base_url, Some(("serviceKey".into(), Secret::new(key)))).expect("base URL");
    let fetcher = Fetcher::new(timeout).expect("client");
    let policy = Policy { retries, backoff: Duration::from_millis(10), ..Policy::default() };
    common::async_runtime()
        .block_on(runner::run(plugin, &endpoint, &fetcher, op, &[], &policy))
        .map(|outcome| outcome.records.len())
}

fn kind_with_faults(spec: &str, package: &str, op: &Operation) -> String {
    let sim = common::Sim::start(SimConfig { faults: Faults::parse(spec).expect("spec"), ..config() });
    match run(&sim, &plugin(package), op, "key", Duration::from_millis(500), 0) {
        Ok(n) => panic!("{spec}: expected an error, got {n} records"),
        Err(e) => e.kind().to_string(),
    }
}

#[test]
fn server_errors_are_transient() {
    let _turn = common::turns::turn(common::turns::TIMED);
    assert_eq!(kind_with_faults("5xx=1", "racelab-plugin-kra", &seoul_schedule()), "transient");
    assert_eq!(kind_with_faults("5xx=1", "racelab-plugin-kspo", &cycle_schedule()), "transient");
}

#[test]
fn gateway_errors_with_http_200_are_transient() {
    let _turn = common::turns::turn(common::turns::TIMED);
    assert_eq!(kind_with_faults("gateway=1", "racelab-plugin-kra", &seoul_schedule()), "transient");
    assert_eq!(kind_with_faults("gateway=1", "racelab-plugin-kspo", &cycle_schedule()), "transient");
}

#[test]
fn malformed_bodies_are_malformed() {
    let _turn = common::turns::turn(common::turns::TIMED);
    assert_eq!(kind_with_faults("malformed=1", "racelab-plugin-kra", &seoul_schedule()), "malformed");
    assert_eq!(kind_with_faults("malformed=1", "racelab-plugin-kspo", &cycle_schedule()), "malformed");
}

#[test]
fn slow_answers_time_out_and_dropped_connections_break_off_both_as_transient() {
    let _turn = common::turns::turn(common::turns::TIMED);
    let sim =
        common::Sim::start(SimConfig { faults: Faults::parse("timeout=1,slow_ms=3000").expect("spec"), ..config() });
    let err = run(&sim, &plugin("racelab-plugin-kra"), &seoul_schedule(), "key", Duration::from_millis(300), 0)
        .expect_err("times out");
    assert!(matches!(err, RunError::Fetch(racelab::fetch::FetchError::Timeout { .. })), "{err}");
    assert_eq!(err.kind().as_str(), "transient");
    assert_eq!(kind_with_faults("drop=1", "racelab-plugin-kra", &seoul_schedule()), "transient");
}

#[test]
fn an_unregistered_key_is_auth_and_the_key_stays_secret() {
    let sim = common::Sim::start(SimConfig { unregistered_keys: vec!["SECRET-KEY-123".into()], ..config() });
    for (package, op) in [("racelab-plugin-kra", seoul_schedule()), ("racelab-plugin-kspo", cycle_schedule())] {
        let err = run(&sim, &plugin(package), &op, "SECRET-KEY-123", Duration::from_secs(5), 2).expect_err("refused");
        assert_eq!(err.kind().as_str(), "auth", "{package}: {err}");
        assert!(!err.to_string().contains("SECRET-KEY-123"), "the key leaked into {err}");
    }
}

#[test]
fn an_exhausted_daily_quota_is_quota_exhausted_in_both_styles() {
    for style in [QuotaStyle::Code22, QuotaStyle::Http429] {
        let mut cfg = config();
        cfg.limits.daily = 1;
        cfg.limits.quota_style = style;
        let sim = common::Sim::start(cfg);
        let kra = plugin("racelab-plugin-kra");
        run(&sim, &kra, &seoul_schedule(), "key", Duration::from_secs(5), 0)
            .expect("the first request is within quota");
        let err = run(&sim, &kra, &seoul_schedule(), "key", Duration::from_secs(5), 0).expect_err("the second is not");
        assert_eq!(err.kind().as_str(), "quota_exhausted", "{style:?}: {err}");
    }
}

#[test]
fn a_burst_over_the_per_second_limit_is_rate_limited_and_a_retry_waits_it_out() {
    let _turn = common::turns::turn(common::turns::TIMED);
    let mut cfg = config();
    cfg.limits.per_second = 1;
    let sim = common::Sim::start(cfg);
    let kra = plugin("racelab-plugin-kra");
    // Entries make two requests back to back: the second meets the limit.
    let err = run(&sim, &kra, &seoul_entries(), "burst", Duration::from_secs(5), 0).expect_err("limited");
    assert_eq!(err.kind().as_str(), "rate_limited", "{err}");
    let records =
        run(&sim, &kra, &seoul_entries(), "patient", Duration::from_secs(5), 2).expect("Retry-After honoured");
    assert!(records > 0);
}

#[test]
fn retries_ride_out_a_flaky_source() {
    let sim = common::Sim::start(SimConfig { faults: Faults::parse("5xx=0.3,gateway=0.1").expect("spec"), ..config() });
    let records = run(&sim, &plugin("racelab-plugin-kra"), &seoul_entries(), "key", Duration::from_secs(5), 8)
        .expect("retries succeed");
    assert!(records > 0);
}
