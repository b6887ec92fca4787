//! A race day against a simulator that fails on purpose — 10% server errors, 2% answers slower
//! than the host's timeout, 1% malformed bodies (truncated, or an HTML maintenance page) —
//! through the real host. Every fault is retried away: a malformed answer too, since a body cut
//! short is usually transient (docs/decisions.md). The day completes with no failure and no
//! alert, each malformed answer kept in the raw archive. (Failures that stay, their rows,
//! alerts and `racelab retry`: `race_day.rs`'s gaps, `serve_hostile.rs`, `hostile_jobs.rs`.)

use crate::common;

use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use common::day::{Day, DayOptions, FakeSlack, busiest_day, kst, post_window};
use racelab::alerts::{self, AlertConfig, SlackTarget, SystemClock};
use racelab_sim::{Calendar, Discipline, Faults, SimConfig, expect};
use sqlx::PgPool;

const SEED: u64 = 11;

/// id, error kind, dataset, raw response id, source.
type FailureRow = (i64, String, Option<String>, Option<i64>, String);

#[sqlx::test(migrations = false)]
async fn faults_are_retried_away_and_the_day_completes(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, last_post) = post_window(SEED, date, &tracks);
    let slack = FakeSlack::start().await;
    let alert_config = AlertConfig { target: Some(SlackTarget::webhook(slack.url.clone())), ..AlertConfig::default() };
    let (alerter, alert_task) = alerts::spawn(alert_config, SystemClock).expect("alerts start");
    let faults = Faults::parse("5xx=0.1,timeout=0.02,malformed=0.01,slow_ms=1500").expect("fault spec");
    let options = DayOptions {
        sim: SimConfig { seed: SEED, faults, ..SimConfig::default() },
        daily_quota: Some(100_000),
        fetch_timeout: Duration::from_millis(700),
        alerter: Some(alerter.clone()),
        ..DayOptions::default()
    };
    let day = Day::new(pool, kst(date, 5, 59), options).await;
    day.morning(first_post).await;
    day.run_until(last_post + TimeDelta::minutes(20), TimeDelta::seconds(30)).await;

    let stats = day.worker.stats();
    let retried = stats.retried.load(std::sync::atomic::Ordering::Relaxed);
    assert!(retried > 0, "10% server errors and 2% timeouts make some attempts fail and retry");

    // Every job ended, none failed: each fault was retried away.
    let open_jobs: i64 =
        sqlx::query_scalar("SELECT count(*) FROM planned_jobs WHERE state NOT IN ('done', 'no_data', 'superseded')")
            .fetch_one(&day.pool)
            .await
            .expect("jobs");
    assert_eq!(open_jobs, 0);
    let failures: Vec<FailureRow> =
        sqlx::query_as("SELECT id, error_kind, dataset, raw_response_id, source FROM ingestion_failures ORDER BY id")
            .fetch_all(&day.pool)
            .await
            .expect("failures");
    assert!(failures.is_empty(), "{failures:?}");
    // Malformed answers (HTTP 200, not JSON) were served — and archived — all the same.
    let bodies: Vec<Vec<u8>> = sqlx::query_scalar("SELECT body_gz FROM raw_responses WHERE status = 200")
        .fetch_all(&day.pool)
        .await
        .expect("bodies");
    let malformed = bodies
        .iter()
        .filter(|gz| {
            let body = racelab::store::gunzip(gz).expect("gzip");
            body.starts_with(b"<!DOCTYPE html") || serde_json::from_slice::<serde_json::Value>(&body).is_err()
        })
        .count();
    assert!(malformed > 0, "1% malformed answers over a race day's requests");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(slack.texts().is_empty(), "no alert: {:?}", slack.texts());

    // The day is complete: every race, entry, result, dividend and final odds row.
    let calendar = Calendar::new(SEED);
    for track in &tracks {
        for race in expect::day(&calendar, *track, date) {
            let got: (i64, i64, i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM entries WHERE track = $1 AND race_date = $2 AND race_number = $3),
                        (SELECT count(*) FROM results WHERE track = $1 AND race_date = $2 AND race_number = $3),
                        (SELECT count(*) FROM dividends WHERE track = $1 AND race_date = $2 AND race_number = $3),
                        (SELECT count(*) FROM odds_snapshots o JOIN races r USING (track, race_date, race_number)
                         WHERE o.track = $1 AND o.race_date = $2 AND o.race_number = $3
                           AND o.captured_at >= r.post_time)",
            )
            .bind(track.code())
            .bind(date)
            .bind(i16::from(race.number))
            .fetch_one(&day.pool)
            .await
            .expect("per-race counts");
            let final_odds = if track.discipline() == Discipline::Horse { race.odds_rows_all_pools as i64 } else { 0 };
            let want = (race.entries as i64, race.result_rows as i64, race.dividend_rows as i64, final_odds);
            assert_eq!(got, want, "{} race {}: (entries, results, dividends, final odds)", track.code(), race.number);
        }
    }
    // The service key is in no URL, message, raw response or Slack text.
    let leaks: i64 = sqlx::query_scalar(
        "SELECT (SELECT count(*) FROM raw_responses WHERE url LIKE '%test-key%')
              + (SELECT count(*) FROM ingestion_failures WHERE message LIKE '%test-key%' OR job::text LIKE '%test-key%')
              + (SELECT count(*) FROM apalis.jobs WHERE last_result::text LIKE '%test-key%')",
    )
    .fetch_one(&day.pool)
    .await
    .expect("leak check");
    assert_eq!(leaks, 0);
    assert!(slack.texts().iter().all(|t| !t.contains("test-key")));
    let bodies: Vec<Vec<u8>> =
        sqlx::query_scalar("SELECT body_gz FROM raw_responses").fetch_all(&day.pool).await.expect("bodies");
    assert!(!bodies.is_empty());
    for gz in bodies {
        let body = racelab::store::gunzip(&gz).expect("gzip");
        assert!(!String::from_utf8_lossy(&body).contains("test-key"), "a raw body holds the key");
    }
    alert_task.shutdown(Duration::from_secs(2)).await;
}
