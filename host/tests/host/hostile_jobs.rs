//! The worker's guards, with a hostile plugin: a job that runs out of time is a plugin fault
//! that frees its slot, the job's own budget stops a plugin whose calls each stay within their
//! deadline, a source whose jobs all time out says so in `/status`, and a pre-race poll whose
//! race has started is not run. In process, on a fixed clock, against a real PostgreSQL; the
//! plugin never gets as far as a request.

use crate::common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeZone};
use racelab::budget::Budget;
use racelab::fetch::{Endpoint, Fetcher};
use racelab::jobs::health::Health;
use racelab::jobs::worker::{SourceRuntime, Worker, WorkerParts, WorkerSettings};
use racelab::jobs::{self, JobSpec, Op};
use racelab::plugins::{Limits, Runtime};
use racelab::store::{self, Store, StoreConfig};
use racelab_sim::Clock;
use sqlx::PgPool;

const DATE: (i32, u32, u32) = (2026, 11, 28);

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(DATE.0, DATE.1, DATE.2).expect("date")
}

/// A worker whose `kra` source is the hostile component, on a clock fixed at 09:00 KST.
async fn worker(pool: &PgPool, call_timeout: Duration, job_timeout: Duration) -> (Worker, Clock) {
    store::migrate(pool).await.expect("migrate");
    let clock =
        Clock::fixed(racelab_sim::clock::kst().with_ymd_and_hms(DATE.0, DATE.1, DATE.2, 9, 0, 0).single().expect("t"));
    let runtime = Runtime::new(Limits { call_timeout, ..Limits::default() }).expect("runtime");
    let plugin = runtime.load_file(&common::component("racelab-test-hostile")).expect("loads");
    // Nothing listens there: these jobs fail before they send anything.
    let endpoint = Endpoint::new("http://127.0.0.1:1", None).expect("base");
    let source = SourceRuntime { plugin, endpoint, tracks: vec!["seoul".into()], config: Vec::new() };
    let worker = Worker::new(WorkerParts {
        name: "hostile-test".into(),
        store: Store::new(pool.clone(), StoreConfig::default()),
        clock: clock.clone().into(),
        budget: Budget::new(pool.clone(), clock.clone()),
        alerter: None,
        sources: HashMap::from([("kra".to_string(), source)]),
        fetcher: Fetcher::new(Duration::from_secs(2)).expect("fetcher"),
        settings: WorkerSettings {
            concurrency: 2,
            poll: Duration::from_millis(10),
            job_timeout,
            ..WorkerSettings::default()
        },
    });
    worker.register().await.expect("register");
    (worker, clock)
}

/// `n` entries jobs for seoul race 2 (the hostile component sleeps forever in `plan` there).
async fn queue_sleepers(pool: &PgPool, clock: &Clock, n: i64) {
    let specs: Vec<JobSpec> = (0..n)
        .map(|i| JobSpec {
            source: "kra".into(),
            op: Op::Entries,
            track: "seoul".into(),
            race_date: date(),
            race_number: 2,
            slot: clock.now().to_utc() - chrono::TimeDelta::seconds(i),
            lane: racelab::budget::Lane::Live,
            post_time: None,
            pools: Vec::new(),
        })
        .collect();
    assert_eq!(
        jobs::enqueue(pool, &racelab::clock::Clock::from(clock.clone()), &specs).await.expect("enqueue"),
        n as u64
    );
}

async fn failures(pool: &PgPool) -> Vec<(String, String)> {
    sqlx::query_as("SELECT error_kind, message FROM ingestion_failures ORDER BY id")
        .fetch_all(pool)
        .await
        .expect("failures")
}

#[sqlx::test(migrations = false)]
async fn a_source_whose_jobs_all_time_out_frees_its_slots_and_shows_in_status(pool: PgPool) {
    let _turn = common::turns::turn_async(common::turns::TIMED).await;
    let (worker, clock) = worker(&pool, Duration::from_millis(300), Duration::from_secs(60)).await;
    queue_sleepers(&pool, &clock, 4).await;
    let started = Instant::now();
    worker.run_until_idle(Duration::from_secs(60)).await.expect("drains");
    // Four jobs of 0.3 s on two slots: the slots came back after each deadline.
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    let failed = failures(&pool).await;
    assert_eq!(failed.len(), 4, "{failed:?}");
    for (kind, message) in &failed {
        assert_eq!(kind, "plugin_fault");
        assert_eq!(message, "plugin hostile 0.1.0 ran past its 300ms deadline in plan");
    }
    let kra = worker.stats().sources.snapshot()["kra"].clone();
    assert_eq!((kra.health(), kra.failed, kra.timed_out, kra.done), (Health::TimingOut, 4, 4, 0));

    let (base, server) = common::api::serve(common::api::state(&pool, &worker, clock.clone().into(), None)).await;
    let body = reqwest::get(format!("{base}/status")).await.expect("answers").text().await.expect("body");
    let get = |path: &str| {
        let url = format!("{base}{path}");
        async move {
            let r = reqwest::get(url).await.expect("answers");
            assert_eq!(r.status(), 200);
            serde_json::from_str::<serde_json::Value>(&r.text().await.expect("body")).expect("JSON")
        }
    };
    // The API's view of the same hostile source: its health, its failures with the host's words.
    let api = get("/api/status").await;
    let kra_api =
        api["sources"].as_array().expect("sources").iter().find(|s| s["source"] == "kra").expect("kra").clone();
    assert_eq!((kra_api["health"].as_str(), kra_api["open_failures"].as_i64()), (Some("timing_out"), Some(4)), "{api}");
    let listed = get("/api/failures?source=kra&kind=plugin_fault").await;
    assert_eq!(listed["total"], 4, "{listed}");
    assert!(listed["failures"].as_array().expect("failures").iter().all(|f| f["message"] == failed[0].1));
    server.abort();
    let status: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let source = &status["sources"]["kra"];
    assert_eq!(source["health"], "timing_out", "{status}");
    assert_eq!(source["plugin"], "hostile 0.1.0");
    assert_eq!((source["jobs_timed_out"].as_u64(), source["failures_in_a_row"].as_u64()), (Some(4), Some(4)));
    assert_eq!(source["stuck_calls"], 0);
}

#[sqlx::test(migrations = false)]
async fn a_job_past_its_budget_is_stopped_as_a_plugin_fault(pool: PgPool) {
    let _turn = common::turns::turn_async(common::turns::TIMED).await;
    // Calls may run 5 s each; the job may take 1 s in all.
    let (worker, clock) = worker(&pool, Duration::from_secs(5), Duration::from_secs(1)).await;
    queue_sleepers(&pool, &clock, 1).await;
    let started = Instant::now();
    worker.run_until_idle(Duration::from_secs(60)).await.expect("drains");
    assert!(started.elapsed() < Duration::from_secs(4), "the slot was held {:?}", started.elapsed());
    let failed = failures(&pool).await;
    assert_eq!(
        failed,
        vec![("plugin_fault".to_string(), "the job ran past its 1s budget and was stopped".to_string())]
    );
    let state: String = sqlx::query_scalar("SELECT state FROM planned_jobs").fetch_one(&pool).await.expect("job");
    assert_eq!(state, "failed");
}

/// A pre-race poll run after its race started — retried by hand hours later, or held up — is
/// superseded: run, it would store the race's later odds as a pre-race snapshot.
#[sqlx::test(migrations = false)]
async fn a_pre_race_poll_whose_race_has_started_is_superseded_not_run(pool: PgPool) {
    let (worker, clock) = worker(&pool, Duration::from_millis(300), Duration::from_secs(60)).await;
    let now = clock.now().to_utc();
    let spec = JobSpec {
        source: "kra".into(),
        op: Op::Odds,
        track: "seoul".into(),
        race_date: date(),
        race_number: 1,
        slot: now - chrono::TimeDelta::hours(11),
        lane: racelab::budget::Lane::Live,
        post_time: Some(now - chrono::TimeDelta::hours(10)),
        pools: vec!["WIN".into(), "PLC".into()],
    };
    jobs::enqueue(&pool, &racelab::clock::Clock::from(clock.clone()), &[spec]).await.expect("enqueue");
    // As `racelab retry` leaves it: the job queued again, its failure still open.
    sqlx::query(
        "INSERT INTO ingestion_failures (source, operation, error_kind, message, planned_job)
         SELECT 'kra', 'odds', 'malformed', 'a truncated body', id FROM planned_jobs",
    )
    .execute(&pool)
    .await
    .expect("a failure");
    worker.run_until_idle(Duration::from_secs(30)).await.expect("drains");
    let state: String = sqlx::query_scalar("SELECT state FROM planned_jobs").fetch_one(&pool).await.expect("job");
    assert_eq!(state, "superseded");
    assert_eq!(worker.stats().requests.load(std::sync::atomic::Ordering::Relaxed), 0, "nothing was asked");
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM ingestion_failures WHERE resolved_at IS NULL")
        .fetch_one(&pool)
        .await
        .expect("open");
    assert_eq!(open, 0, "nothing is left to wait for: the failure is resolved with the job");
}

/// Shutdown gives the jobs in flight the grace, then stops them: when `run` returns none is
/// left running detached to write later, and their tasks go back to the queue with the jobs
/// still queued, untried.
#[sqlx::test(migrations = false)]
async fn shutdown_stops_the_jobs_still_running_after_the_grace(pool: PgPool) {
    let _turn = common::turns::turn_async(common::turns::TIMED).await;
    // Each call may run 3 s: a job left running would fail as a plugin fault after that.
    let (worker, clock) = worker(&pool, Duration::from_secs(3), Duration::from_secs(60)).await;
    queue_sleepers(&pool, &clock, 2).await;
    let started = Instant::now();
    let aborted = worker.run(tokio::time::sleep(Duration::from_millis(500)), Duration::from_millis(500)).await;
    assert_eq!(aborted, 2, "both jobs were still in their plugin's plan");
    assert!(started.elapsed() < Duration::from_secs(3), "took {:?}", started.elapsed());
    assert_eq!(jobs::release_abandoned(&pool, worker.name(), &[]).await.expect("release"), 2);
    // Past the calls' deadline: nothing wrote a failure, a retry or a result behind our back.
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(failures(&pool).await.is_empty());
    let jobs: Vec<(String, i32)> =
        sqlx::query_as("SELECT state, attempts FROM planned_jobs").fetch_all(&pool).await.expect("jobs");
    assert_eq!(jobs, vec![("queued".to_string(), 0), ("queued".to_string(), 0)]);
    let tasks: Vec<String> =
        sqlx::query_scalar("SELECT status FROM apalis.jobs").fetch_all(&pool).await.expect("tasks");
    assert_eq!(tasks, vec!["Pending".to_string(), "Pending".to_string()]);
}
