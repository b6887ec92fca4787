//! `racelab serve` with a hostile component as its KRA plugin (tests/components/hostile) and
//! the real KSPO one, against the simulator, on one accelerated clock: KSPO keeps ingesting
//! its day as if nothing were wrong, every hostile job becomes one failure row of the kind its
//! misdeed deserves, Slack gets one message per incident, the log carries no forged line and
//! no key, the KRA plugin writes nothing outside its job, and SIGTERM still ends the host
//! within its grace.

use crate::common;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use common::day::{FakeSlack, busiest_day, kst};
use common::host::{SimWorld, assert_entries_complete, database_url, serve_with, terminate, write_config};
use racelab_sim::{Calendar, Discipline, SimConfig};
use sqlx::PgPool;

const SEED: u64 = 7;
const SPEED: f64 = 150.0;

/// What each of the hostile component's twelve races ends as (its module docs list the modes).
fn expected(race: i16) -> Option<(&'static str, &'static str)> {
    match race {
        2 => Some(("plugin_fault", "deadline in plan")),
        3 | 4 | 10 => Some(("plugin_fault", "asked for a request the host refuses")),
        5 => Some(("plugin_fault", "track gwangmyeong is not among the tracks of this job's source")),
        6 => Some(("malformed", "more characters cut")),
        7 => Some(("malformed", "forged a log line")),
        8 => Some(("plugin_fault", "overflowed its stack")),
        9 => Some(("plugin_fault", "the job asked about seoul")),
        12 => Some(("plugin_fault", "memory limit")),
        _ => None, // 1 and 11 behave
    }
}

#[sqlx::test(migrations = false)]
async fn a_hostile_kra_plugin_harms_nothing_but_its_own_jobs(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let kspo: Vec<_> = tracks.iter().copied().filter(|t| t.discipline() != Discipline::Horse).collect();
    assert!(!kspo.is_empty(), "the day has KSPO racing");
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        r#"
[jobs]
orphan_after_s = 5
# A malformed answer is retried before it is a failure; one retry is enough here, so the
# hostile jobs end well before the checks.
max_attempts = 2
backoff_base_ms = 50
backoff_cap_s = 1
[sources.kra]
per_second = 50
[sources.kspo]
per_second = 50
"#,
    );
    let slack = FakeSlack::start().await;
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let world = SimWorld::start(kst(date, 9, 50), SPEED, SimConfig { seed: SEED, ..SimConfig::default() });
    let log = dir.path().join("serve.log");
    let env = [
        ("RACELAB_KRA_PLUGIN", common::component("racelab-test-hostile").display().to_string()),
        ("RACELAB_SLACK_WEBHOOK_URL", slack.url.clone()),
        ("RACELAB_LISTEN", format!("127.0.0.1:{port}")),
    ];
    let mut host = serve_with(&database_url(&pool), &world, &config, &log, &env);
    let end = kst(date, 12, 45);
    world.wait_until(end).await;
    let body = reqwest::get(format!("http://127.0.0.1:{port}/status"))
        .await
        .expect("/status answers")
        .text()
        .await
        .expect("body");
    let status: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let (took, clean) = terminate(&mut host);
    let logs = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(clean, "SIGTERM ends the host cleanly:\n{logs}");
    assert!(took < Duration::from_secs(12), "SIGTERM → exit took {took:?} (grace 10 s)");
    let due = (end - TimeDelta::minutes(4)).to_utc();

    // KSPO: every job due ran, none failed, and the card of each race so far is whole. A
    // repeating job superseded because its race's data came in meanwhile (its next slot was
    // planned while the one before was still running) missed nothing.
    let kspo_open: Vec<(String, String, i16, String)> = sqlx::query_as(
        "SELECT j.op, j.track, j.race_number, j.state FROM planned_jobs j
         LEFT JOIN race_progress p ON (p.track, p.race_date, p.race_number) = (j.track, j.race_date, j.race_number)
         WHERE j.source = 'kspo' AND j.slot <= $1 AND j.state NOT IN ('done', 'no_data')
           AND NOT (j.state = 'superseded'
                    AND ((j.op = 'results' AND p.complete) OR (j.op = 'odds_final' AND p.final_odds)))",
    )
    .bind(due)
    .fetch_all(&pool)
    .await
    .expect("kspo jobs");
    assert!(kspo_open.is_empty(), "KSPO jobs not done: {kspo_open:?}\n{logs}");
    let kspo_done: i64 =
        sqlx::query_scalar("SELECT count(*) FROM planned_jobs WHERE source = 'kspo' AND state = 'done'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert!(kspo_done > 0, "KSPO ran jobs");
    let calendar = Calendar::new(SEED);
    for track in &kspo {
        let day = calendar.day(*track, date).expect("a race day");
        let early: Vec<u8> = day.races.iter().filter(|r| r.post_time < kst(date, 12, 0)).map(|r| r.number).collect();
        assert!(!early.is_empty(), "{} races before noon", track.code());
        assert_entries_complete(&pool, &calendar, *track, date, |n| early.contains(&n)).await;
    }

    // The hostile plugin was asked only about seoul, though it claims gwangmyeong too.
    let elsewhere: i64 =
        sqlx::query_scalar("SELECT count(*) FROM planned_jobs WHERE source = 'kra' AND track <> 'seoul'")
            .fetch_one(&pool)
            .await
            .expect("count");
    assert_eq!(elsewhere, 0);
    assert!(logs.contains("claims tracks that are not this source's"), "{logs}");

    // Every hostile job due is one failure row of the expected kind; the others are done.
    let jobs: Vec<(i64, String, i16, String)> = sqlx::query_as(
        "SELECT id, op, race_number, state FROM planned_jobs
         WHERE source = 'kra' AND race_date = $1 AND op IN ('entries', 'results') AND slot <= $2 ORDER BY id",
    )
    .bind(date)
    .bind(due)
    .fetch_all(&pool)
    .await
    .expect("kra jobs");
    let mut hostile_jobs = 0;
    for (id, op, race, state) in &jobs {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT error_kind, message FROM ingestion_failures WHERE planned_job = $1")
                .bind(id)
                .fetch_all(&pool)
                .await
                .expect("failures");
        match expected(*race) {
            Some((kind, says)) => {
                hostile_jobs += 1;
                assert_eq!(state, "failed", "{op} race {race}");
                assert_eq!(rows.len(), 1, "{op} race {race}: {rows:?}");
                assert_eq!(rows[0].0, kind, "{op} race {race}: {}", rows[0].1);
                assert!(rows[0].1.contains(says), "{op} race {race}: {:?} should say {says:?}", rows[0].1);
            }
            None => assert!(state == "done" && rows.is_empty(), "{op} race {race}: {state} {rows:?}"),
        }
    }
    assert!(hostile_jobs >= 20, "enough hostile jobs ran: {hostile_jobs}");

    // Nothing the plugin wrote reached another source's track: KSPO's results at gwangmyeong
    // name their riders, the hostile rows would not.
    let nameless: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM results WHERE track <> 'seoul' AND runner_name IS NULL AND runner_id IS NULL",
    )
    .fetch_one(&pool)
    .await
    .expect("count");
    assert_eq!(nameless, 0);

    // Bounded text, one alert per incident, no key, no forged line.
    let failures: Vec<(String, Option<String>, String, String)> =
        sqlx::query_as("SELECT source, dataset, error_kind, message FROM ingestion_failures")
            .fetch_all(&pool)
            .await
            .expect("failures");
    assert!(failures.iter().all(|f| f.0 == "kra"), "only KRA failed");
    for (_, _, _, message) in &failures {
        assert!(message.chars().count() <= 2_100, "a message of {} characters", message.chars().count());
        assert!(!message.chars().any(char::is_control), "{message:?}");
    }
    let incidents: BTreeSet<(String, String, String)> =
        failures.iter().map(|(s, d, k, _)| (s.clone(), d.clone().unwrap_or_default(), k.clone())).collect();
    let opened = slack.texts().into_iter().filter(|t| t.starts_with(":rotating_light:")).count();
    assert_eq!(opened, incidents.len(), "one Slack message per incident {incidents:?}");
    assert!(slack.texts().iter().all(|t| !t.contains("test-key") && t.chars().count() < 4_000));
    assert!(!logs.contains("test-key"), "the service key is never logged");
    assert!(logs.contains("parsed\\n2026-12-06T01:02:03"), "the plugin's line is in the log, escaped");
    assert!(!logs.lines().any(|l| l.starts_with("2026-12-06T01:02:03")), "no line of the log is the plugin's forgery");
    assert!(!logs.contains('\u{1b}'), "no terminal escapes from the plugin");

    // /status told the operator which source is in trouble.
    assert_eq!(status["sources"]["kspo"]["health"], "ok", "{status}");
    assert_eq!(status["sources"]["kspo"]["jobs_failed"], 0, "{status}");
    assert!(status["sources"]["kra"]["jobs_failed"].as_u64() >= Some(20), "{status}");
    assert!(status["sources"]["kra"]["jobs_timed_out"].as_u64() >= Some(1), "{status}");
    assert_eq!(status["sources"]["kra"]["plugin"], "hostile 0.1.0");
    // The simulator's KSPO answers have the shape the KSPO component knows: no drift listed.
    assert_eq!(status["drift"], serde_json::json!([]), "{status}");
}
