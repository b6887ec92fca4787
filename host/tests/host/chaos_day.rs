//! An operator's worst race day, all at once: the sources fail (10% 5xx, 2% timeouts, 1%
//! malformed answers), the host is SIGKILLed twice and restarted, and PostgreSQL goes away once
//! (a proxy cuts every connection and refuses new ones, as a restart does). Several seeds, in
//! both odds modes. Every race official well before the end must land whole — entries,
//! results, dividends, the final odds of every pool — with nothing stored twice, no job left
//! behind, and logs that did not flood.

use crate::common;

use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use common::day::{busiest_day, post_window};
use common::host::{SimWorld, assert_entries_complete, database_url, serve, terminate, write_config};
use common::proxy::Proxy;
use racelab_sim::{Calendar, Discipline, Faults, OddsMode, SimConfig, expect};
use sqlx::PgPool;

const SPEED: f64 = 150.0;

/// One day at a time: each runs three host processes and the simulator on a clock 150 times
/// real time, and two at once on two cores would fall behind that clock.
static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn worst_day(pool: PgPool, seed: u64, odds: OddsMode) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let _one = ONE_AT_A_TIME.lock().await;
    let (date, tracks) = busiest_day(seed, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, _) = post_window(seed, date, &tracks);
    let dir = tempfile::tempdir().expect("tempdir");
    let timing = if odds == OddsMode::Live { "before-race" } else { "after-race" };
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[store]
skip_unchanged_odds = false
[http]
timeout_s = 1
[jobs]
orphan_after_s = 2
backoff_base_ms = 50
backoff_cap_s = 1
[sources.kra]
config = {{ odds-timing = "{timing}" }}
daily_quota = {{ "*" = 100000 }}
per_second = 50
[sources.kspo]
per_second = 50
"#
        ),
    );
    let faults = Faults::parse("5xx=0.1,timeout=0.02,malformed=0.01,slow_ms=1500").expect("faults");
    let world = SimWorld::start(
        first_post - TimeDelta::minutes(62),
        SPEED,
        SimConfig { seed, faults, odds, ..SimConfig::default() },
    );
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let direct = database_url(&pool);
    let url = direct.replacen(":5432/", &format!(":{}/", proxy.port), 1);
    assert_ne!(direct, url, "the test database URL names port 5432");
    let log = |n: usize| dir.path().join(format!("host{n}.log"));

    let mut host = serve(&url, &world, &config, &log(1));
    world.wait_until(first_post - TimeDelta::minutes(30)).await;
    host.kill().expect("SIGKILL");
    let _ = host.wait();
    let mut host = serve(&url, &world, &config, &log(2));
    world.wait_until(first_post - TimeDelta::minutes(10)).await;
    // The database restarts: 3 s of real time, 7.5 simulated minutes.
    proxy.fail().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.recover();
    world.wait_until(first_post + TimeDelta::minutes(20)).await;
    host.kill().expect("SIGKILL");
    let _ = host.wait();
    let mut host = serve(&url, &world, &config, &log(3));
    let end = first_post + TimeDelta::minutes(90);
    world.wait_until(end).await;
    // Waited for off the test's runtime: the proxy runs on it, and the host's shutdown needs it.
    let (_, clean) = tokio::task::spawn_blocking(move || terminate(&mut host)).await.expect("terminate");
    let logs: Vec<String> = (1..=3).map(|n| std::fs::read_to_string(log(n)).unwrap_or_default()).collect();
    assert!(clean, "SIGTERM ends the last host cleanly:\n{}", logs[2]);
    for (n, text) in logs.iter().enumerate() {
        assert!(!text.contains("test-key"), "host {} logged the service key", n + 1);
        // A flood (one line per tick or per poll during the outage) would be thousands.
        assert!(text.lines().count() < 3_000, "host {}: {} log lines", n + 1, text.lines().count());
    }

    // Every job due well before the end ended; none is left with a dead host.
    let open: Vec<(i64, String, String, i16, String)> = sqlx::query_as(
        "SELECT id, op, track, race_number, state FROM planned_jobs
         WHERE slot <= $1 AND state NOT IN ('done', 'no_data', 'superseded')",
    )
    .bind((end - TimeDelta::minutes(5)).to_utc())
    .fetch_all(&pool)
    .await
    .expect("jobs");
    assert!(open.is_empty(), "seed {seed}: jobs due but not ended: {open:?}\n{}", logs[2]);
    let failures: Vec<(String, String, String)> =
        sqlx::query_as("SELECT source, error_kind, message FROM ingestion_failures WHERE resolved_at IS NULL")
            .fetch_all(&pool)
            .await
            .expect("failures");
    assert!(failures.is_empty(), "seed {seed}: {failures:?}");

    // Every race official 20 minutes before the end is whole, and nothing is there twice.
    let calendar = Calendar::new(seed);
    let mut settled = 0;
    for track in &tracks {
        let horse = track.discipline() == Discipline::Horse;
        let day = calendar.day(*track, date).expect("a race day");
        for race in expect::day(&calendar, *track, date) {
            let post = day.races.iter().find(|r| r.number == race.number).expect("race").post_time;
            if post + TimeDelta::minutes(30) > end {
                continue;
            }
            settled += 1;
            let got: (i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM results WHERE track = $1 AND race_date = $2 AND race_number = $3),
                        (SELECT count(*) FROM dividends WHERE track = $1 AND race_date = $2 AND race_number = $3)",
            )
            .bind(track.code())
            .bind(date)
            .bind(i16::from(race.number))
            .fetch_one(&pool)
            .await
            .expect("results");
            let want = (race.result_rows as i64, race.dividend_rows as i64);
            assert_eq!(got, want, "seed {seed}: {} race {}: (results, dividends)", track.code(), race.number);
            if !horse {
                continue;
            }
            let polls: Vec<(bool, i64)> = sqlx::query_as(
                "SELECT o.captured_at > r.post_time, count(*)
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
            let finals: Vec<i64> = polls.iter().filter(|(after, _)| *after).map(|(_, n)| *n).collect();
            assert_eq!(
                finals,
                [race.odds_rows_all_pools as i64],
                "seed {seed}: {} race {}: one whole capture of every pool after post",
                track.code(),
                race.number
            );
            for (_, rows) in polls.iter().filter(|(after, _)| !after) {
                assert_eq!(
                    *rows,
                    2 * race.starters as i64,
                    "seed {seed}: {} race {}: a pre-race poll",
                    track.code(),
                    race.number
                );
            }
            if odds == OddsMode::FinalOnly {
                assert_eq!(polls.len(), 1, "seed {seed}: no pre-race odds in final-only mode");
            }
        }
        assert_entries_complete(&pool, &calendar, *track, date, |_| true).await;
    }
    assert!(settled >= 5, "seed {seed}: {settled} races settled in the window");
}

#[sqlx::test(migrations = false)]
async fn the_worst_day_seed_7_final_only(pool: PgPool) {
    worst_day(pool, 7, OddsMode::FinalOnly).await;
}

#[sqlx::test(migrations = false)]
async fn the_worst_day_seed_11_final_only(pool: PgPool) {
    worst_day(pool, 11, OddsMode::FinalOnly).await;
}

#[sqlx::test(migrations = false)]
async fn the_worst_day_seed_23_live(pool: PgPool) {
    worst_day(pool, 23, OddsMode::Live).await;
}
