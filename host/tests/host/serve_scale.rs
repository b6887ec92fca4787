//! Two `racelab serve` processes on one database share the work: each job runs on one of them
//! (both do some), the daily schedule sync is queued once, and together they stay within each
//! dataset's per-second limit, which the budget counts in the database.

use crate::common;

use chrono::{NaiveDate, TimeDelta};
use common::day::{busiest_day, post_window};
use common::host::{SimWorld, database_url, serve, terminate, write_config};
use racelab_sim::SimConfig;
use sqlx::PgPool;

const SEED: u64 = 7;
const SPEED: f64 = 120.0;
const PER_SECOND: i64 = 4;

#[sqlx::test(migrations = false)]
async fn two_hosts_share_the_work_without_double_polling_and_within_the_rate_limit(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, _) = post_window(SEED, date, &tracks);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        &format!(
            r#"
[jobs]
workers = 4
[sources.kra]
config = {{ odds-timing = "before-race" }}
daily_quota = {{ "*" = 100000 }}
per_second = {PER_SECOND}
[sources.kspo]
per_second = {PER_SECOND}
"#
        ),
    );
    let world =
        SimWorld::start(first_post - TimeDelta::minutes(62), SPEED, SimConfig { seed: SEED, ..SimConfig::default() });
    let url = database_url(&pool);
    // Both start together, as two replicas of one deployment do.
    let mut a = serve(&url, &world, &config, &dir.path().join("a.log"));
    let mut b = serve(&url, &world, &config, &dir.path().join("b.log"));
    world.wait_until(first_post - TimeDelta::minutes(15)).await;
    let (_, a_clean) = terminate(&mut a);
    let (_, b_clean) = terminate(&mut b);
    let logs = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap_or_default();
    assert!(a_clean && b_clean, "both stop cleanly:\n{}\n{}", logs("a.log"), logs("b.log"));

    // Each job ran once, and both hosts ran some.
    let twice: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT job FROM apalis.jobs WHERE job_type = 'racelab' AND status = 'Done'
                                GROUP BY job HAVING count(*) > 1) d",
    )
    .fetch_one(&pool)
    .await
    .expect("tasks");
    assert_eq!(twice, 0, "no job has two finished tasks");
    let per_host: Vec<(String, i64)> = sqlx::query_as(
        "SELECT lock_by, count(*) FROM apalis.jobs WHERE status = 'Done' AND lock_by IS NOT NULL GROUP BY lock_by",
    )
    .fetch_all(&pool)
    .await
    .expect("per host");
    assert_eq!(per_host.len(), 2, "both hosts worked: {per_host:?}");
    assert!(per_host.iter().all(|(_, n)| *n > 10), "{per_host:?}");

    // The daily schedule sync fired once: one job per track and day for the 06:00 slot.
    let syncs: Vec<(String, NaiveDate, i64)> = sqlx::query_as(
        "SELECT track, race_date, count(*) FROM planned_jobs WHERE op = 'schedule' GROUP BY track, race_date, slot",
    )
    .fetch_all(&pool)
    .await
    .expect("syncs");
    assert!(!syncs.is_empty());
    assert!(syncs.iter().all(|(_, _, n)| *n == 1), "{syncs:?}");
    let schedule_runs: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM planned_jobs
         WHERE op = 'schedule' AND (slot AT TIME ZONE 'Asia/Seoul')::time = '06:00'",
    )
    .fetch_one(&pool)
    .await
    .expect("schedule jobs");
    // Five tracks, today and three days ahead, one 06:00 slot in the window (besides each
    // host's start-up sync and the hourly re-sync of today).
    assert_eq!(schedule_runs, 5 * 4);

    // No pre-race odds poll was made twice: one capture per slot and race.
    let doubled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT track, race_number, captured_at FROM odds_snapshots WHERE race_date = $1
                                GROUP BY track, race_number, captured_at, pool, selection HAVING count(*) > 1) d",
    )
    .bind(date)
    .fetch_one(&pool)
    .await
    .expect("doubled");
    assert_eq!(doubled, 0);
    let odds_jobs: (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(DISTINCT (track, race_number, slot)) FROM planned_jobs WHERE op = 'odds' AND state = 'done'",
    )
    .fetch_one(&pool)
    .await
    .expect("odds jobs");
    assert!(odds_jobs.0 > 0);
    assert_eq!(odds_jobs.0, odds_jobs.1, "each odds slot of a race polled once");

    // Together within the limit: no second of requests to one dataset above PER_SECOND (the
    // archive's fetch times are the database's clock, so both hosts' requests are on one axis).
    let worst: Vec<(String, String, i64)> = sqlx::query_as(
        "SELECT source, dataset, max(n) FROM (
             SELECT source, dataset, count(*) OVER (
                 PARTITION BY source, dataset ORDER BY fetched_at
                 RANGE BETWEEN CURRENT ROW AND interval '999 milliseconds' FOLLOWING) AS n
             FROM raw_responses) w
         GROUP BY source, dataset ORDER BY 3 DESC",
    )
    .fetch_all(&pool)
    .await
    .expect("rates");
    assert!(!worst.is_empty());
    // One request of slack: a send time reserved just before a second's end can land a few
    // milliseconds after the next request's, as the archive records receipt, not sending.
    assert!(worst.iter().all(|(_, _, n)| *n <= PER_SECOND + 1), "requests in one second per dataset: {worst:?}");
    let busiest = worst.first().map_or(0, |w| w.2);
    assert!(busiest >= PER_SECOND - 1, "the limit was actually reached: {worst:?}");
}
