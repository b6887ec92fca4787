//! `racelab serve` killed with SIGKILL in the middle of a race day and started again loses
//! nothing and duplicates nothing: the tasks the dead host held go back to the queue once its
//! heartbeat is stale, every job due ends done, and every stored poll is whole and stored once.
//! Then SIGTERM stops the host within the grace period.

use crate::common;

use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use common::day::{busiest_day, post_window};
use common::host::{SimWorld, assert_entries_complete, database_url, serve, terminate, write_config};
use racelab_sim::{Calendar, Discipline, SimConfig, expect};
use sqlx::PgPool;

const SEED: u64 = 7;
const SPEED: f64 = 120.0;

#[sqlx::test(migrations = false)]
async fn a_host_killed_mid_day_and_restarted_loses_and_duplicates_nothing(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, _) = post_window(SEED, date, &tracks);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        r#"
[store]
skip_unchanged_odds = false
[jobs]
orphan_after_s = 2
backoff_base_ms = 50
backoff_cap_s = 1
[sources.kra]
config = { odds-timing = "before-race" }
daily_quota = { "*" = 100000 }
per_second = 50
[sources.kspo]
per_second = 50
"#,
    );
    let world =
        SimWorld::start(first_post - TimeDelta::minutes(62), SPEED, SimConfig { seed: SEED, ..SimConfig::default() });
    let url = database_url(&pool);

    let mut first = serve(&url, &world, &config, &dir.path().join("first.log"));
    world.wait_until(first_post - TimeDelta::minutes(20)).await;
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let dead: String = sqlx::query_scalar("SELECT id FROM apalis.workers ORDER BY last_seen DESC LIMIT 1")
        .fetch_one(&pool)
        .await
        .expect("the first host registered");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let mut second = serve(&url, &world, &config, &dir.path().join("second.log"));
    let end = first_post + TimeDelta::minutes(20);
    world.wait_until(end).await;
    let (took, clean) = terminate(&mut second);
    let logs = std::fs::read_to_string(dir.path().join("second.log")).unwrap_or_default();
    assert!(clean, "SIGTERM ends the host cleanly:\n{logs}");
    assert!(took < Duration::from_secs(12), "SIGTERM → exit took {took:?} (grace 10 s)");
    let first_logs = std::fs::read_to_string(dir.path().join("first.log")).unwrap_or_default();
    assert!(!logs.is_empty() && !first_logs.is_empty());
    assert!(!logs.contains("test-key") && !first_logs.contains("test-key"), "the service key is never logged");

    // Nothing due was lost: every job due well before the end ran (the dead host's included).
    let lost: Vec<(i64, String, String, i16, String)> = sqlx::query_as(
        "SELECT id, op, track, race_number, state FROM planned_jobs
         WHERE slot <= $1 AND state NOT IN ('done', 'superseded')",
    )
    .bind((end - TimeDelta::minutes(3)).to_utc())
    .fetch_all(&pool)
    .await
    .expect("jobs");
    assert!(lost.is_empty(), "jobs due but not done: {lost:?}\n{logs}");
    let stuck: i64 =
        sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE lock_by = $1 AND status IN ('Queued', 'Running')")
            .bind(&dead)
            .fetch_one(&pool)
            .await
            .expect("stuck");
    assert_eq!(stuck, 0, "no task is left with the dead host");
    let by_dead: i64 = sqlx::query_scalar("SELECT count(*) FROM apalis.jobs WHERE lock_by = $1 AND status = 'Done'")
        .bind(&dead)
        .fetch_one(&pool)
        .await
        .expect("done by the first host");
    assert!(by_dead > 0, "the first host worked before it was killed");

    // Nothing twice: every stored odds poll is whole — WIN and PLC for every starter before
    // post, every pool after — so no poll was half written or written again.
    let calendar = Calendar::new(SEED);
    for track in tracks.iter().filter(|t| t.discipline() == Discipline::Horse) {
        for race in expect::day(&calendar, *track, date) {
            let polls: Vec<(bool, i64)> = sqlx::query_as(
                "SELECT o.captured_at >= r.post_time, count(*)
                 FROM odds_snapshots o JOIN races r USING (track, race_date, race_number)
                 WHERE o.track = $1 AND o.race_date = $2 AND o.race_number = $3
                 GROUP BY o.captured_at, r.post_time",
            )
            .bind(track.code())
            .bind(date)
            .bind(i16::from(race.number))
            .fetch_all(&pool)
            .await
            .expect("polls");
            for (after_post, rows) in &polls {
                let whole = if *after_post { race.odds_rows_all_pools } else { 2 * race.starters } as i64;
                assert_eq!(*rows, whole, "{} race {}: a poll of {rows} rows", track.code(), race.number);
            }
            assert!(polls.iter().filter(|(after, _)| !after).count() <= 29);
        }
    }
    // The card of the day is complete.
    for track in &tracks {
        assert_entries_complete(&pool, &calendar, *track, date, |_| true).await;
    }
}
