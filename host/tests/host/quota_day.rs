//! Quota exhaustion on a controllable clock: when a dataset's daily quota (counted in the
//! database per KST day) runs out, its jobs pause — no failure rows, one alert — and resume
//! after KST midnight, while datasets with quota left keep working.

use crate::common;

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use common::day::{Day, DayOptions, FakeSlack, busiest_day, kst, post_window};
use racelab::alerts::{self, AlertConfig, SlackTarget, SystemClock};
use racelab_sim::SimConfig;
use sqlx::PgPool;

const SEED: u64 = 7;
const QUOTA: u32 = 40;

#[sqlx::test(migrations = false)]
async fn an_exhausted_quota_pauses_its_dataset_until_kst_midnight(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, _) = post_window(SEED, date, &tracks);
    let slack = FakeSlack::start().await;
    let alert_config = AlertConfig { target: Some(SlackTarget::webhook(slack.url.clone())), ..AlertConfig::default() };
    let (alerter, alert_task) = alerts::spawn(alert_config, SystemClock).expect("alerts start");
    let options = DayOptions {
        sim: SimConfig { seed: SEED, ..SimConfig::default() },
        daily_quota: Some(QUOTA),
        alerter: Some(alerter),
        ..DayOptions::default()
    };
    let day = Day::new(pool, kst(date, 5, 59), options).await;
    day.morning(first_post).await;
    day.run_until(first_post + TimeDelta::minutes(30), TimeDelta::seconds(30)).await;

    // The odds dataset (two requests a poll) ran out; its count stopped exactly at the quota.
    let used = |day_: NaiveDate| {
        let pool = day.pool.clone();
        async move {
            sqlx::query_scalar::<_, i32>(
                "SELECT COALESCE(max(used), 0) FROM quota_usage WHERE source = 'kra' AND dataset = 'API301' AND kst_day = $1",
            )
            .bind(day_)
            .fetch_one(&pool)
            .await
            .expect("usage")
        }
    };
    assert_eq!(used(date).await, QUOTA as i32);
    let over: i64 = sqlx::query_scalar("SELECT count(*) FROM quota_usage WHERE used > $1")
        .bind(QUOTA as i32)
        .fetch_one(&day.pool)
        .await
        .expect("usage");
    assert_eq!(over, 0, "no dataset went over its quota");
    assert!(day.worker.stats().paused.load(Relaxed) > 0);
    let paused: i64 =
        sqlx::query_scalar("SELECT count(*) FROM planned_jobs WHERE state = 'queued' AND not_before = $1")
            .bind(kst(date + TimeDelta::days(1), 0, 0).to_utc())
            .fetch_one(&day.pool)
            .await
            .expect("paused jobs");
    assert!(paused > 0, "jobs wait for KST midnight");
    let failures: i64 = sqlx::query_scalar("SELECT count(*) FROM ingestion_failures WHERE error_kind <> 'incomplete'")
        .fetch_one(&day.pool)
        .await
        .expect("failures");
    assert_eq!(failures, 0, "a quota pause is not a failure");
    // Yesterday's races (synced at the start) whose final odds the spent quota kept out past
    // their grace are gaps, as they should be; no race of today is.
    let gaps_today: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM ingestion_failures WHERE error_kind = 'incomplete' AND race_date >= $1",
    )
    .bind(date)
    .fetch_one(&day.pool)
    .await
    .expect("gaps");
    assert_eq!(gaps_today, 0);
    // Work on datasets with quota left went on: the schedule and entries of the day are in.
    let races: i64 = sqlx::query_scalar("SELECT count(*) FROM races WHERE race_date = $1 AND post_time IS NOT NULL")
        .bind(date)
        .fetch_one(&day.pool)
        .await
        .expect("races");
    assert!(races > 0);
    for _ in 0..100 {
        if slack.texts().iter().any(|t| t.contains("quota_exhausted")) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let quota_alerts: Vec<String> =
        slack.texts().into_iter().filter(|t| t.contains("quota_exhausted") && t.contains("API301")).collect();
    assert_eq!(quota_alerts.len(), 1, "one alert for the incident, however many jobs paused: {quota_alerts:#?}");

    // Just after KST midnight the quota is fresh: the paused jobs run (pre-race polls of races
    // that have started since expire instead of spending it).
    day.clock.set(kst(date + TimeDelta::days(1), 0, 0) + TimeDelta::seconds(30));
    day.step().await;
    // A quota of 40 is soon gone again (the all-pool polls page a lot): whatever did not run
    // is paused for the next midnight, none failed, and the new day's count stops at the quota.
    let next_midnight = kst(date + TimeDelta::days(2), 0, 0).to_utc();
    let left: Vec<(String, String, i16, Option<chrono::DateTime<chrono::Utc>>)> = sqlx::query_as(
        "SELECT op, track, race_number, not_before FROM planned_jobs WHERE state = 'queued' AND slot <= $1",
    )
    .bind(day.clock.now().to_utc())
    .fetch_all(&day.pool)
    .await
    .expect("left");
    assert!(left.iter().all(|j| j.3 == Some(next_midnight)), "every job not run waits for the next midnight: {left:?}");
    // (Races whose final odds the quota kept out past their grace are gaps by now, not failures
    // of a job.)
    let failures: i64 = sqlx::query_scalar("SELECT count(*) FROM ingestion_failures WHERE error_kind <> 'incomplete'")
        .fetch_one(&day.pool)
        .await
        .expect("failures");
    assert_eq!(failures, 0);
    let resumed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM planned_jobs WHERE not_before IS NOT NULL AND state = 'done'")
            .fetch_one(&day.pool)
            .await
            .expect("resumed");
    assert!(resumed > 0, "paused jobs that still matter ran");
    let next_day = used(date + TimeDelta::days(1)).await;
    assert!(next_day > 0 && next_day <= QUOTA as i32, "the new KST day has its own count: {next_day}");
    alert_task.shutdown(Duration::from_secs(2)).await;
}
