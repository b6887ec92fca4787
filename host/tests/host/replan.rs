//! A race whose post time moves is re-planned: jobs planned from the old time are superseded
//! instead of run, and the cadence follows the new time. And the daemon's HTTP endpoints
//! answer from the same host.

use crate::common;

use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use common::day::{Day, DayOptions, busiest_day, kst, post_window};
use racelab_sim::SimConfig;
use sqlx::PgPool;

const SEED: u64 = 7;

#[sqlx::test(migrations = false)]
async fn a_race_whose_post_time_moves_is_replanned(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, _) = post_window(SEED, date, &tracks);
    let options = DayOptions {
        sim: SimConfig { seed: SEED, ..SimConfig::default() },
        daily_quota: Some(100_000),
        ..DayOptions::default()
    };
    let day = Day::new(pool, kst(date, 5, 59), options).await;
    day.step().await;
    day.clock.set(first_post - TimeDelta::minutes(61));
    day.run_until(first_post - TimeDelta::minutes(30), TimeDelta::seconds(30)).await;

    // The source now says the first race of a KRA track is 20 minutes later (what the next
    // schedule sync would write).
    let (track, number): (String, i16) = sqlx::query_as(
        "SELECT track, race_number FROM races r JOIN tracks t ON t.code = r.track
         WHERE race_date = $1 AND t.source = 'kra' ORDER BY post_time, track LIMIT 1",
    )
    .bind(date)
    .fetch_one(&day.pool)
    .await
    .expect("a KRA race");
    let old_post = first_post.to_utc();
    let new_post = old_post + TimeDelta::minutes(20);
    // A poll queued ahead from the old time (a planner with a horizon does that).
    let ahead = racelab::jobs::JobSpec {
        source: "kra".into(),
        op: racelab::jobs::Op::Odds,
        track: track.clone(),
        race_date: date,
        race_number: u8::try_from(number).expect("race number"),
        slot: (first_post - TimeDelta::minutes(29)).to_utc(),
        lane: racelab::budget::Lane::Live,
        post_time: Some(old_post),
        pools: vec!["WIN".into(), "PLC".into()],
    };
    assert_eq!(
        racelab::jobs::enqueue(&day.pool, &racelab::clock::Clock::from(day.clock.clone()), &[ahead])
            .await
            .expect("enqueue"),
        1
    );
    sqlx::query("UPDATE races SET post_time = $4 WHERE track = $1 AND race_date = $2 AND race_number = $3")
        .bind(&track)
        .bind(date)
        .bind(number)
        .bind(new_post)
        .execute(&day.pool)
        .await
        .expect("move the post time");
    day.run_until(first_post + TimeDelta::minutes(10), TimeDelta::seconds(30)).await;

    let jobs = |post: chrono::DateTime<chrono::Utc>, state: &'static str| {
        let pool = day.pool.clone();
        let track = track.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM planned_jobs WHERE track = $1 AND race_date = $2 AND race_number = $3
                   AND op = 'odds' AND post_time = $4 AND state = $5",
            )
            .bind(track)
            .bind(date)
            .bind(number)
            .bind(post)
            .bind(state)
            .fetch_one(&pool)
            .await
            .expect("jobs")
        }
    };
    // Polls for the old time ran until the move; after it none did.
    let old_done = jobs(old_post, "done").await;
    assert!(old_done > 0);
    let old_after_move: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM planned_jobs WHERE track = $1 AND race_date = $2 AND race_number = $3
           AND post_time = $4 AND state = 'done' AND slot > $5",
    )
    .bind(&track)
    .bind(date)
    .bind(number)
    .bind(old_post)
    .bind((first_post - TimeDelta::minutes(30)).to_utc())
    .fetch_one(&day.pool)
    .await
    .expect("old jobs after the move");
    assert_eq!(old_after_move, 0, "no poll on the old timetable after the move");
    assert_eq!(jobs(old_post, "superseded").await, 1, "the poll queued from the old time was superseded");
    // The new timetable: every poll from the move to T-20 of the new time.
    let new_done = jobs(new_post, "done").await;
    let slots: Vec<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT slot FROM planned_jobs WHERE track = $1 AND race_date = $2 AND race_number = $3
           AND op = 'odds' AND post_time = $4 ORDER BY slot",
    )
    .bind(&track)
    .bind(date)
    .bind(number)
    .bind(new_post)
    .fetch_all(&day.pool)
    .await
    .expect("slots");
    // The new timetable from the move (new T-50) to the end (new T-10). T-50 itself coincides
    // with the old T-30 poll, made just before the move: a slot is polled once.
    let minutes: Vec<i64> = slots.iter().map(|s| (*s - new_post).num_minutes()).collect();
    assert_eq!(minutes, vec![-45, -40, -35, -30, -25, -20, -15, -14, -13, -12, -11, -10]);
    assert_eq!(new_done, 12);
    let last_new: Option<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT max(slot) FROM planned_jobs WHERE track = $1 AND race_date = $2 AND race_number = $3
           AND op = 'odds' AND post_time = $4 AND state = 'done'",
    )
    .bind(&track)
    .bind(date)
    .bind(number)
    .bind(new_post)
    .fetch_one(&day.pool)
    .await
    .expect("last poll");
    assert!(last_new.is_some_and(|t| t > old_post), "polling went on past the old post time: {last_new:?}");
}

#[sqlx::test(migrations = false)]
async fn health_readiness_and_status_answer_over_http(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let (date, _) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let options = DayOptions { sim: SimConfig { seed: SEED, ..SimConfig::default() }, ..DayOptions::default() };
    let day = Day::new(pool, kst(date, 6, 0), options).await;
    day.step().await;
    let (base, server) =
        common::api::serve(common::api::state(&day.pool, &day.worker, day.clock.clone().into(), None)).await;
    let client = reqwest::Client::builder().timeout(Duration::from_secs(5)).build().expect("client");
    let get = |path: &str| client.get(format!("{base}{path}")).send();
    assert_eq!(get("/healthz").await.expect("healthz").status(), 200);
    assert_eq!(get("/readyz").await.expect("readyz").status(), 200);
    let body = get("/status").await.expect("status").text().await.expect("body");
    let status: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(status["kst_date"], date.to_string());
    let done: i64 = status["jobs_today"]
        .as_array()
        .expect("jobs")
        .iter()
        .filter(|j| j["state"] == "done")
        .map(|j| j["count"].as_i64().unwrap_or(0))
        .sum();
    assert!(done > 0, "{status}");
    assert!(status["worker"]["requests"].as_u64().unwrap_or(0) > 0, "{status}");
    // Without its database the host is not ready (but alive).
    day.pool.close().await;
    assert_eq!(get("/readyz").await.expect("readyz").status(), 503);
    assert_eq!(get("/healthz").await.expect("healthz").status(), 200);
    server.abort();
}
