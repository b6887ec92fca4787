//! Injected faults, each at rate 1, and what a client sees.

use std::time::{Duration, Instant};

use racelab_sim::{Faults, Limits, Track};

use crate::support::*;

async fn faulty(spec: &str) -> (Sim, String) {
    let day = race_day(Track::Seoul, 0);
    let mut config = config(at(day + chrono::TimeDelta::days(1), 9, 0));
    config.faults = Faults::parse(spec).expect("valid fault spec");
    let sim = start(config).await;
    let q = format!("{}{}", sim.base, kra(RESULTS, 1, day, "&rc_no=1"));
    (sim, q)
}

#[tokio::test]
async fn server_errors_are_500_502_or_503() {
    let (_sim, q) = faulty("5xx=1").await;
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let resp = client().get(&q).send().await.expect("response");
        seen.insert(resp.status().as_u16());
    }
    assert!(seen.iter().all(|s| [500, 502, 503].contains(s)), "{seen:?}");
    assert!(seen.len() > 1, "several kinds of 5xx: {seen:?}");
}

#[tokio::test]
async fn slow_answers_arrive_late_but_whole() {
    let (_sim, q) = faulty("timeout=1,slow_ms=15").await;
    let started = Instant::now();
    let resp = client().get(&q).send().await.expect("response");
    assert!(started.elapsed() >= Duration::from_millis(15));
    let v: serde_json::Value = serde_json::from_str(&resp.text().await.expect("body")).expect("JSON");
    assert_eq!(code(&v), "00");
}

#[tokio::test]
async fn dropped_connections_give_no_response_at_all() {
    let (_sim, q) = faulty("drop=1").await;
    let result = client().get(&q).send().await;
    // hyper closes the socket before writing the status line: the client gets no response.
    let err = result.expect_err("no response");
    assert!(err.is_request() && !err.is_timeout() && err.status().is_none(), "{err:?}");
}

#[tokio::test]
async fn malformed_bodies_do_not_parse() {
    let (_sim, q) = faulty("malformed=1").await;
    let mut kinds = std::collections::BTreeSet::new();
    for _ in 0..20 {
        let resp = client().get(&q).send().await.expect("response");
        assert_eq!(resp.status().as_u16(), 200);
        let body = resp.text().await.expect("body");
        assert!(serde_json::from_str::<serde_json::Value>(&body).is_err(), "{body}");
        kinds.insert(if body.starts_with("<!DOCTYPE html>") { "html" } else { "truncated" });
    }
    assert_eq!(kinds.len(), 2, "both truncated JSON and HTML pages appear");
}

#[tokio::test]
async fn gateway_faults_are_xml_with_transient_codes() {
    let (_sim, q) = faulty("gateway=1").await;
    for _ in 0..10 {
        let resp = client().get(&q).send().await.expect("response");
        assert_eq!(resp.status().as_u16(), 200);
        let body = resp.text().await.expect("body");
        let known = ["01", "04", "05", "99"].iter().any(|c| body.contains(&format!("<returnReasonCode>{c}<")));
        assert!(body.starts_with("<OpenAPI_ServiceResponse>") && known, "{body}");
    }
}

#[tokio::test]
async fn faults_do_not_consume_quota() {
    let day = race_day(Track::Seoul, 0);
    let mut config = config(at(day + chrono::TimeDelta::days(1), 9, 0));
    config.faults = Faults::parse("5xx=0.5").expect("valid fault spec");
    config.limits = Limits { daily: 3, per_second: 0, ..Limits::default() };
    let sim = start(config).await;
    let q = kra(RESULTS, 1, day, "&rc_no=1");
    let (mut served, mut failed, mut exhausted) = (0, 0, 0);
    for _ in 0..30 {
        let (status, body) = sim.get(&q).await;
        match status {
            500..=599 => failed += 1,
            200 if body.contains("<returnReasonCode>22<") => exhausted += 1,
            200 => served += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!(served, 3, "exactly the quota is served");
    assert!(failed > 5 && exhausted > 5, "failed {failed}, exhausted {exhausted}");
}
