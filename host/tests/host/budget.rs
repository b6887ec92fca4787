//! The request budget against a real PostgreSQL (`DATABASE_URL`, from `.env` at the workspace
//! root): each test gets its own freshly migrated database from `#[sqlx::test]`. Two `Budget`s on
//! one pool, each with its own clock handle, stand for two host processes.

use std::time::{Duration, Instant};

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};
use racelab::budget::{Budget, BudgetError, DatasetLimit, Lane};
use racelab_sim::Clock;
use sqlx::PgPool;

const KRA: &str = "kra";
const ODDS: &str = "15056743";
const RESULTS: &str = "15057323";

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).expect("test timestamp")
}

fn quota(n: u32) -> DatasetLimit {
    DatasetLimit { daily_quota: Some(n), per_second: None }
}

fn rate(n: u32) -> DatasetLimit {
    DatasetLimit { daily_quota: None, per_second: Some(n) }
}

/// Two "processes" with the same limits, each with its own clock at the same time.
fn two_processes(pool: &PgPool, now: &str, limit: DatasetLimit) -> (Budget, Budget) {
    let process = || Budget::new(pool.clone(), Clock::fixed(at(now))).with_limit(KRA, ODDS, limit);
    (process(), process())
}

async fn used(budget: &Budget, dataset: &str) -> u32 {
    budget.used_today(KRA, dataset).await.expect("used_today")
}

#[sqlx::test(migrations = "../migrations")]
async fn the_quota_counts_per_kst_day_and_refuses_at_the_limit(pool: PgPool) {
    // 23:59 KST is 14:59 UTC: the UTC date does not change at KST midnight, the quota day does.
    let clock = Clock::fixed(at("2026-11-28T23:59:00+09:00"));
    let budget = Budget::new(pool.clone(), clock.clone()).with_limit(KRA, ODDS, quota(3));

    for _ in 0..3 {
        budget.acquire(KRA, ODDS, Lane::Live).await.expect("within the quota");
    }
    let refused = budget.acquire(KRA, ODDS, Lane::Live).await.expect_err("the fourth request is over the quota");
    let BudgetError::Exhausted { bucket, lane, used: count, limit, resets_at } = &refused else {
        panic!("expected Exhausted, got {refused:?}");
    };
    assert_eq!((bucket.dataset.as_str(), *lane, *count, *limit), (ODDS, Lane::Live, 3, 3));
    assert_eq!(*resets_at, "2026-11-28T15:00:00Z".parse::<DateTime<Utc>>().expect("instant"));
    assert_eq!(budget.quota_resets_at(), *resets_at);
    let message = refused.to_string();
    assert!(message.contains("kra/15056743") && message.contains("2026-11-29 00:00 KST"), "{message}");
    assert_eq!(used(&budget, ODDS).await, 3, "a refused request is not counted");

    // Another dataset of the same source has its own quota (none configured: counted, never refused).
    budget.acquire(KRA, RESULTS, Lane::Live).await.expect("an unlimited dataset");
    assert_eq!(used(&budget, RESULTS).await, 1);

    clock.set(at("2026-11-29T00:00:00+09:00"));
    assert_eq!(used(&budget, ODDS).await, 0, "a new KST day starts from zero");
    budget.acquire(KRA, ODDS, Lane::Live).await.expect("the quota has reset at KST midnight");
    let days: Vec<(NaiveDate, i32)> =
        sqlx::query_as("SELECT kst_day, used FROM quota_usage WHERE dataset = $1 ORDER BY kst_day")
            .bind(ODDS)
            .fetch_all(&pool)
            .await
            .expect("quota rows");
    let day = |d: &str| d.parse::<NaiveDate>().expect("date");
    assert_eq!(days, vec![(day("2026-11-28"), 3), (day("2026-11-29"), 1)]);
}

#[sqlx::test(migrations = "../migrations")]
async fn backfill_stops_at_its_share_and_live_work_keeps_the_rest(pool: PgPool) {
    let budget = Budget::new(pool, Clock::fixed(at("2026-11-28T10:00:00+09:00"))).with_limit(KRA, ODDS, quota(10));

    for _ in 0..8 {
        budget.acquire(KRA, ODDS, Lane::Backfill).await.expect("within backfill's 80 %");
    }
    let refused = budget.acquire(KRA, ODDS, Lane::Backfill).await.expect_err("backfill's share is used up");
    assert!(matches!(refused, BudgetError::Exhausted { lane: Lane::Backfill, used: 8, limit: 8, .. }), "{refused:?}");
    assert!(refused.to_string().contains("backfill's share"), "{refused}");

    for _ in 0..2 {
        budget.acquire(KRA, ODDS, Lane::Live).await.expect("live work has the last 20 %");
    }
    let refused = budget.acquire(KRA, ODDS, Lane::Live).await.expect_err("the whole quota is used up");
    assert!(matches!(refused, BudgetError::Exhausted { lane: Lane::Live, used: 10, limit: 10, .. }), "{refused:?}");
    assert_eq!(used(&budget, ODDS).await, 10);
}

#[sqlx::test(migrations = "../migrations")]
async fn a_smaller_backfill_share_leaves_more_to_live_work(pool: PgPool) {
    let budget = Budget::new(pool, Clock::fixed(at("2026-11-28T10:00:00+09:00")))
        .with_limit(KRA, ODDS, quota(10))
        .with_backfill_share(0.25);
    for _ in 0..2 {
        budget.acquire(KRA, ODDS, Lane::Backfill).await.expect("within 25 %, rounded down");
    }
    let refused = budget.acquire(KRA, ODDS, Lane::Backfill).await.expect_err("2 of 10 is backfill's share");
    assert!(matches!(refused, BudgetError::Exhausted { limit: 2, .. }), "{refused:?}");
}

#[sqlx::test(migrations = "../migrations")]
async fn two_processes_together_get_exactly_the_quota(pool: PgPool) {
    let (a, b) = two_processes(&pool, "2026-11-28T10:00:00+09:00", quota(25));

    let tasks: Vec<_> = (0..80)
        .map(|i| {
            let budget = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { budget.acquire(KRA, ODDS, Lane::Live).await })
        })
        .collect();
    let (mut granted, mut refused) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Ok(()) => granted += 1,
            Err(BudgetError::Exhausted { limit: 25, .. }) => refused += 1,
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!((granted, refused), (25, 55));
    assert_eq!(used(&a, ODDS).await, 25);
    assert_eq!(used(&b, ODDS).await, 25);
}

#[sqlx::test(migrations = "../migrations")]
async fn two_processes_together_keep_the_per_second_rate(pool: PgPool) {
    let (a, b) = two_processes(&pool, "2026-11-28T10:00:00+09:00", rate(50));
    const N: u32 = 26;

    let start = Instant::now();
    let tasks: Vec<_> = (0..N)
        .map(|i| {
            let budget = if i % 2 == 0 { a.clone() } else { b.clone() };
            tokio::spawn(async move { budget.acquire(KRA, ODDS, Lane::Live).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("no quota configured: never refused");
    }
    let elapsed = start.elapsed();

    // 26 requests at 50/s are spaced 20 ms apart: the last goes 25 × 20 ms after the first.
    assert!(elapsed >= Duration::from_millis(500), "26 requests at 50/s took only {elapsed:?}");
    // Without a quota each process keeps its count and writes it within a second (and when
    // its worker beats or stops): the other process's count is in once it has written.
    b.flush().await.expect("the other process writes its count");
    assert_eq!(used(&a, ODDS).await, N, "requests are counted without a quota too");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_quota_the_source_declares_exhausted_stops_every_process_until_kst_midnight(pool: PgPool) {
    let (a, b) = two_processes(&pool, "2026-11-28T22:00:00+09:00", quota(100));
    a.acquire(KRA, ODDS, Lane::Live).await.expect("first request");

    b.exhausted(KRA, ODDS).await.expect("mark exhausted");
    for lane in [Lane::Live, Lane::Backfill] {
        let refused = a.acquire(KRA, ODDS, lane).await.expect_err("the other process stops too");
        assert!(matches!(refused, BudgetError::Exhausted { used: 100, .. }), "{refused:?}");
    }
    assert_eq!(used(&a, ODDS).await, 100);

    let next_day = Budget::new(pool, Clock::fixed(at("2026-11-29T00:00:01+09:00"))).with_limit(KRA, ODDS, quota(100));
    next_day.acquire(KRA, ODDS, Lane::Backfill).await.expect("the quota resets at KST midnight");
}

#[sqlx::test(migrations = "../migrations")]
async fn without_a_configured_quota_exhausted_pauses_the_dataset_until_kst_midnight(pool: PgPool) {
    let (a, b) = two_processes(&pool, "2026-11-28T23:00:00+09:00", DatasetLimit::default());

    b.exhausted(KRA, ODDS).await.expect("mark exhausted");
    let refused = a.acquire(KRA, ODDS, Lane::Live).await.expect_err("paused for the hour to midnight");
    let BudgetError::Paused { until, .. } = refused else { panic!("expected Paused, got {refused:?}") };
    assert!(until > Utc::now() + chrono::TimeDelta::minutes(59), "paused until {until}");
    assert_eq!(used(&a, ODDS).await, 0, "a refused request is not counted");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_short_pause_is_waited_out_by_every_process(pool: PgPool) {
    for (dataset, limit) in [(ODDS, rate(50)), (RESULTS, DatasetLimit::default())] {
        let a = Budget::new(pool.clone(), Clock::system()).with_limit(KRA, dataset, limit);
        let b = Budget::new(pool.clone(), Clock::system()).with_limit(KRA, dataset, limit);
        // Warm the row so the pause lands on an existing slot as it would in production.
        a.acquire(KRA, dataset, Lane::Live).await.expect("first request");

        let start = Instant::now();
        b.pause_for(KRA, dataset, Duration::from_millis(300)).await.expect("pause");
        a.acquire(KRA, dataset, Lane::Live).await.expect("the pause is short enough to wait out");
        let elapsed = start.elapsed();
        assert!(elapsed >= Duration::from_millis(300), "{dataset}: sent after {elapsed:?}, inside the pause");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn only_an_unlimited_dataset_may_skip_rereading_the_pause_within_a_job(pool: PgPool) {
    for (dataset, limit, skips) in
        [(ODDS, rate(50), false), (ODDS, quota(100), false), (RESULTS, DatasetLimit::default(), true)]
    {
        let (a, b) = two_processes(&pool, "2026-11-28T10:00:00+09:00", limit);
        let (a, b) = (a.with_limit(KRA, dataset, limit), b.with_limit(KRA, dataset, limit));
        a.acquire(KRA, dataset, Lane::Live).await.expect("the job's first request");
        b.pause_for(KRA, dataset, Duration::from_secs(120)).await.expect("pause");
        let second = a.acquire_with(KRA, dataset, Lane::Live, false).await;
        assert_eq!(second.is_ok(), skips, "{dataset} {limit:?}: {second:?}");
        let recheck = a.acquire_with(KRA, dataset, Lane::Live, true).await;
        assert!(matches!(recheck, Err(BudgetError::Paused { .. })), "{dataset} {limit:?}: {recheck:?}");
        sqlx::query("DELETE FROM rate_slots").execute(&pool).await.expect("clear the pause");
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn a_dataset_is_held_up_while_its_quota_is_used_up_or_a_pause_holds(pool: PgPool) {
    let clock = Clock::fixed(at("2026-11-28T23:00:00+09:00"));
    let budget = Budget::new(pool.clone(), clock.clone()).with_limit(KRA, ODDS, quota(2));
    assert!(!budget.held_up(KRA, ODDS).await.expect("held_up"), "nothing used yet");
    for _ in 0..2 {
        budget.acquire(KRA, ODDS, Lane::Live).await.expect("within the quota");
    }
    assert!(budget.held_up(KRA, ODDS).await.expect("held_up"), "the quota is used up");
    clock.set(at("2026-11-29T00:00:01+09:00"));
    assert!(!budget.held_up(KRA, ODDS).await.expect("held_up"), "a new KST day");

    budget.acquire(KRA, RESULTS, Lane::Live).await.expect("no quota");
    assert!(!budget.held_up(KRA, RESULTS).await.expect("held_up"), "no quota, no pause");
    budget.pause_for(KRA, RESULTS, Duration::from_secs(60)).await.expect("pause");
    assert!(budget.held_up(KRA, RESULTS).await.expect("held_up"), "the source's pause holds");
}

#[sqlx::test(migrations = "../migrations")]
async fn a_long_pause_refuses_at_once_without_counting(pool: PgPool) {
    let (a, b) = two_processes(&pool, "2026-11-28T10:00:00+09:00", rate(50));
    b.pause_for(KRA, ODDS, Duration::from_secs(120)).await.expect("pause");

    // Waiting it out would end in Ok after two minutes; the refusal comes instead.
    let refused = a.acquire(KRA, ODDS, Lane::Live).await.expect_err("too long to wait out");
    let BudgetError::Paused { until, .. } = &refused else { panic!("expected Paused, got {refused:?}") };
    assert!(*until > Utc::now() + chrono::TimeDelta::seconds(100), "paused until {until}");
    assert!(refused.to_string().contains("kra/15056743: the source asked to wait"), "{refused}");
    assert_eq!(used(&a, ODDS).await, 0, "the refused request's count was given back");
}
