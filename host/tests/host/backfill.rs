//! Backfill through the real host — the backfill planner, apalis-postgres queue, worker,
//! compiled components, store — against the simulator over HTTP and a real PostgreSQL.
//! Expected counts come from the simulator's model (`racelab_sim::expect`), never from the
//! host's own output.

use crate::common;

use std::time::Duration;

use chrono::NaiveDate;
use common::day::{Day, DayOptions, TRACKS, kst};
use racelab::jobs::backfill::{self, Request};
use racelab::store::StoreConfig;
use racelab_sim::{Calendar, Discipline, Limits, SimConfig, Track, expect};
use sqlx::PgPool;

const SEED: u64 = 11;

fn date(s: &str) -> NaiveDate {
    NaiveDate::parse_from_str(s, "%Y-%m-%d").expect("date")
}

/// The host and the simulator on a fixed clock in March 2026, limits lifted.
async fn march(pool: PgPool) -> Day {
    let options = DayOptions {
        sim: SimConfig { seed: SEED, limits: Limits::unlimited(), ..SimConfig::default() },
        store: StoreConfig { skip_unchanged_odds: true },
        daily_quota: Some(1_000_000),
        ..DayOptions::default()
    };
    Day::new(pool, kst(date("2026-03-05"), 10, 0), options).await
}

/// Starts (or resumes) a backfill of `from..=to` on every track and works it to the end.
async fn backfill(day: &Day, from: &str, to: &str) -> backfill::Status {
    let request = Request { from: date(from), to: date(to), sources: vec![], tracks: vec![], ops: vec![] };
    let plans = day.planner.sources();
    let plan = backfill::resolve(&request, &plans, day.clock.now().date_naive()).expect("a valid request");
    let store = racelab::store::Store::new(day.pool.clone(), StoreConfig::default());
    store.ensure_partitions_between(plan.from, plan.to).await.expect("partitions");
    let clock: racelab::clock::Clock = day.clock.clone().into();
    let (run, _) = backfill::start(&day.pool, &clock, &plan).await.expect("run");
    for _ in 0..2_000 {
        backfill::top_up(&day.pool, &clock, &plans, 16).await.expect("top up");
        day.worker.run_until_idle(Duration::from_secs(120)).await.expect("worker drains");
        let status = backfill::status_of(&day.pool, run.id).await.expect("status").expect("the run");
        if status.run.finished_at.is_some() {
            return status;
        }
    }
    panic!("backfill #{} did not finish", run.id);
}

/// Rows of a table for `track`'s races on `date`.
async fn count(pool: &PgPool, table: &str, track: &str, date: NaiveDate) -> i64 {
    let sql = format!("SELECT count(*) FROM {table} WHERE track = $1 AND race_date = $2");
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql)).bind(track).bind(date).fetch_one(pool).await.expect("count")
}

async fn total(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string())).fetch_one(pool).await.expect(sql)
}

/// Checks every track-day of `tracks` from `from` to `to` against the simulator's model:
/// races, entries, results, dividends and the final odds of every pool. Returns the races and
/// the KRA races.
async fn assert_model(pool: &PgPool, tracks: &[Track], from: &str, to: &str) -> (i64, i64) {
    let calendar = Calendar::new(SEED);
    let (mut races, mut kra_races) = (0i64, 0i64);
    for track in tracks.iter().copied() {
        for d in backfill::days(date(from), date(to)) {
            let model = expect::day(&calendar, track, d);
            let code = track.code();
            let want = |f: fn(&expect::RaceCounts) -> usize| model.iter().map(f).sum::<usize>() as i64;
            assert_eq!(count(pool, "races", code, d).await, model.len() as i64, "{code} {d} races");
            assert_eq!(count(pool, "entries", code, d).await, want(|r| r.entries), "{code} {d} entries");
            assert_eq!(count(pool, "results", code, d).await, want(|r| r.result_rows), "{code} {d} results");
            assert_eq!(count(pool, "dividends", code, d).await, want(|r| r.dividend_rows), "{code} {d} dividends");
            assert_eq!(
                count(pool, "odds_snapshots", code, d).await,
                want(|r| r.odds_rows_all_pools),
                "{code} {d} final odds"
            );
            races += model.len() as i64;
            if track.discipline() == Discipline::Horse {
                kra_races += model.len() as i64;
            }
        }
    }
    (races, kra_races)
}

#[sqlx::test(migrations = false)]
async fn a_month_backfill_stores_the_model_exactly_and_a_rerun_asks_nothing(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let day = march(pool.clone()).await;
    let first = backfill(&day, "2026-02-01", "2026-02-28").await;

    let (races, kra_races) = assert_model(&pool, &TRACKS, "2026-02-01", "2026-02-28").await;
    assert!(races > 200 && kra_races > 80, "a month of five tracks: {races} races, {kra_races} KRA");

    // Final odds look as a live host stores them: captured after post, when they are official
    // by the cadence, in February's partition, and read back by the analysts' function.
    assert_eq!(
        total(
            &pool,
            "SELECT count(*) FROM odds_snapshots o JOIN races r USING (track, race_date, race_number)
                       WHERE o.captured_at <> r.post_time + interval '10 minutes'"
        )
        .await,
        0
    );
    assert_eq!(total(&pool, "SELECT count(*) FROM odds_polls_default").await, 0);
    assert_eq!(
        total(&pool, "SELECT count(*) FROM race_progress WHERE race_date < '2026-03-01' AND NOT (complete AND (final_odds OR track NOT IN ('seoul', 'busan', 'jeju')))").await,
        0,
        "every race complete, every KRA race with its final odds"
    );
    let (track, d, number): (String, NaiveDate, i16) = sqlx::query_as(
        "SELECT track, race_date, race_number FROM races WHERE track = 'seoul' ORDER BY race_date, race_number LIMIT 1",
    )
    .fetch_one(&pool)
    .await
    .expect("a Seoul race");
    let final_win: i64 = sqlx::query_scalar("SELECT count(*) FROM racelab_final_odds($1, $2, $3, 'WIN')")
        .bind(&track)
        .bind(d)
        .bind(number)
        .fetch_one(&pool)
        .await
        .expect("final odds");
    assert!(final_win >= 5, "{final_win} WIN selections");

    // The run's own books.
    let c = &first.counts;
    assert_eq!(c.slices, 5 * 28);
    assert_eq!((c.slices_done, c.slices_skipped, c.jobs_failed, c.jobs_queued), (140, 0, 0, 0));
    assert_eq!(c.races, races);
    assert_eq!(total(&pool, "SELECT count(*) FROM ingestion_failures").await, 0);
    // One schedule job per track-day, and per race one of each operation a source serves:
    // entries and results everywhere, the final odds at KRA.
    let jobs = |op: &'static str| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM planned_jobs WHERE backfill_run IS NOT NULL AND op = $1")
                .bind(op)
                .fetch_one(&pool)
                .await
                .expect("jobs")
        }
    };
    assert_eq!(jobs("schedule").await, 140);
    assert_eq!(jobs("entries").await, races);
    assert_eq!(jobs("results").await, races);
    assert_eq!(jobs("odds_final").await, kra_races);
    assert_eq!(jobs("odds").await, 0, "no pre-race odds in the past");
    assert!(c.requests >= 140 + 2 * races + kra_races, "{c:?}");

    // /status shows the run, as every host serves it.
    let (base, server) =
        common::api::serve(common::api::state(&pool, &day.worker, day.clock.clone().into(), None)).await;
    let body = reqwest::get(format!("{base}/status")).await.expect("answers").text().await.expect("body");
    // And /api/backfill, the API's view of the same runs.
    let api: serde_json::Value = serde_json::from_str(
        &reqwest::get(format!("{base}/api/backfill")).await.expect("answers").text().await.expect("body"),
    )
    .expect("JSON");
    server.abort();
    assert_eq!(api[0]["run"]["id"], first.run.id, "{api}");
    assert_eq!(api[0]["counts"]["slices_done"].as_i64(), Some(140), "{api}");
    assert!(api[0]["summary"].as_str().is_some_and(|s| s.contains("140/140")), "{api}");
    let status: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let shown = &status["backfill"][0];
    assert_eq!(shown["run"]["id"], first.run.id, "{status}");
    assert_eq!((shown["counts"]["slices"].as_i64(), shown["counts"]["slices_done"].as_i64()), (Some(140), Some(140)));
    assert_eq!(shown["counts"]["requests"].as_i64(), Some(c.requests));

    // A rerun over the same month: every slice is skipped, nothing is asked or written.
    let rows = "SELECT (SELECT count(*) FROM races) + (SELECT count(*) FROM entries) + (SELECT count(*) FROM results)
                     + (SELECT count(*) FROM dividends) + (SELECT count(*) FROM odds_snapshots)
                     + (SELECT count(*) FROM raw_responses)";
    let before = total(&pool, rows).await;
    let again = backfill(&day, "2026-02-01", "2026-02-28").await;
    assert_ne!(again.run.id, first.run.id);
    assert_eq!((again.counts.slices, again.counts.slices_skipped), (140, 140));
    assert_eq!((again.counts.jobs_finished, again.counts.requests), (0, 0));
    assert_eq!(total(&pool, rows).await, before);

    // Days whose data came in some other way (live, or a backfill whose books are gone): the
    // planner decides from the data, so a backfill over them asks nothing either.
    sqlx::query("DELETE FROM backfill_runs").execute(&pool).await.expect("forget the runs");
    let fresh = backfill(&day, "2026-02-01", "2026-02-28").await;
    assert_eq!(fresh.counts.slices_skipped, 0);
    assert_eq!((fresh.counts.jobs_finished, fresh.counts.requests), (0, 0), "{:?}", fresh.counts);
    assert_eq!(total(&pool, rows).await, before);
}

/// A Friday in March 2026 on which Busan races and no other KRA track does: its live final
/// odds need few requests of the dataset the backfill runs out of.
fn busan_only_day() -> NaiveDate {
    let calendar = Calendar::new(SEED);
    backfill::days(date("2026-03-02"), date("2026-03-31"))
        .find(|d| {
            calendar.is_race_day(Track::Busan, *d)
                && !calendar.is_race_day(Track::Seoul, *d)
                && !calendar.is_race_day(Track::Jeju, *d)
        })
        .expect("a Busan-only day in March")
}

#[sqlx::test(migrations = false)]
async fn a_spent_quota_share_pauses_the_backfill_until_the_kst_day_turns_while_live_jobs_keep_their_slots(
    pool: PgPool,
) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let live_day = busan_only_day();
    let calendar = Calendar::new(SEED);
    let live_races = expect::day(&calendar, Track::Busan, live_day).len() as i64;
    // 1,000 requests a day per dataset: backfill may use 800 of them. Three weeks of KRA final
    // odds (one request per pool and race) need more than that on API301; Busan's live final
    // odds need about 70.
    let options = DayOptions {
        sim: SimConfig { seed: SEED, limits: Limits::unlimited(), ..SimConfig::default() },
        daily_quota: Some(1_000),
        ..DayOptions::default()
    };
    let day = Day::new(pool.clone(), kst(live_day, 8, 0), options).await;
    let request = Request {
        from: date("2026-02-01"),
        to: date("2026-02-21"),
        sources: vec!["kra".into()],
        tracks: vec![],
        ops: vec![],
    };
    let plan = backfill::resolve(&request, &day.planner.sources(), live_day).expect("a valid request");
    let clock: racelab::clock::Clock = day.clock.clone().into();
    racelab::store::Store::new(pool.clone(), StoreConfig::default())
        .ensure_partitions_between(plan.from, plan.to)
        .await
        .expect("partitions");
    let (run, _) = backfill::start(&pool, &clock, &plan).await.expect("run");

    // The live day, in five-minute steps, with the backfill planned on the same ticks.
    let calendar_posts: Vec<_> =
        calendar.day(Track::Busan, live_day).expect("races").races.iter().map(|r| r.post_time).collect();
    let last_post = *calendar_posts.iter().max().expect("a race");
    day.run_until(last_post + chrono::TimeDelta::minutes(90), chrono::TimeDelta::minutes(5)).await;

    // The backfill spent its share and waits for the KST day to turn.
    let status = backfill::status_of(&pool, run.id).await.expect("status").expect("run");
    assert!(status.run.finished_at.is_none(), "{:?}", status.counts);
    assert!(status.counts.jobs_paused > 0, "{:?}", status.counts);
    let midnight = kst(live_day + chrono::TimeDelta::days(1), 0, 0).to_utc();
    let paused_until: Vec<chrono::DateTime<chrono::Utc>> = sqlx::query_scalar(
        "SELECT DISTINCT not_before FROM planned_jobs WHERE backfill_run = $1 AND state = 'queued' AND not_before IS NOT NULL",
    )
    .bind(run.id)
    .fetch_all(&pool)
    .await
    .expect("pauses");
    assert_eq!(paused_until, [midnight], "paused until the next KST midnight");
    let used: i64 = sqlx::query_scalar(
        "SELECT used::bigint FROM quota_usage WHERE source = 'kra' AND dataset = 'API301' AND kst_day = $1",
    )
    .bind(live_day)
    .fetch_one(&pool)
    .await
    .expect("API301 counted");
    assert!((800..=1_000).contains(&used), "API301 used {used} of 1,000");

    // Live work kept its slots: every Busan race is complete with its final odds, each final
    // odds poll ran at its first slot, and no live job was ever held up by the quota.
    let live = |sql: &'static str| {
        let pool = pool.clone();
        async move { sqlx::query_scalar::<_, i64>(sql).bind(live_day).fetch_one(&pool).await.expect(sql) }
    };
    assert_eq!(
        live("SELECT count(*) FROM race_progress WHERE track = 'busan' AND race_date = $1 AND complete AND final_odds")
            .await,
        live_races
    );
    assert_eq!(
        live("SELECT count(*) FROM planned_jobs WHERE lane = 'live' AND op = 'odds_final' AND race_date = $1 AND state = 'done'").await,
        live_races,
        "one final-odds poll per race, at its first slot"
    );
    assert_eq!(
        live("SELECT count(*) FROM planned_jobs WHERE lane = 'live' AND (not_before IS NOT NULL OR $1 IS NULL)").await,
        0
    );
    assert_eq!(live("SELECT count(*) FROM ingestion_failures WHERE $1 IS NOT NULL").await, 0);

    // Past KST midnight the backfill goes on by itself and finishes, exactly.
    day.clock.set(kst(live_day + chrono::TimeDelta::days(1), 0, 1));
    for _ in 0..500 {
        day.step().await;
        let status = backfill::status_of(&pool, run.id).await.expect("status").expect("run");
        if status.run.finished_at.is_some() {
            break;
        }
        day.clock.advance(chrono::TimeDelta::seconds(30));
    }
    let status = backfill::status_of(&pool, run.id).await.expect("status").expect("run");
    assert!(status.run.finished_at.is_some(), "{:?}", status.counts);
    assert_eq!(status.counts.jobs_failed, 0);
    let (_, kra_races) =
        assert_model(&pool, &[Track::Seoul, Track::Busan, Track::Jeju], "2026-02-01", "2026-02-21").await;
    assert!(kra_races * 7 > 800, "the range needs more than one day's share: {kra_races} races");

    // The live day, now past, backfilled: every source and operation, and nothing to ask.
    let rows = "SELECT (SELECT count(*) FROM races) + (SELECT count(*) FROM entries) + (SELECT count(*) FROM results)
                     + (SELECT count(*) FROM dividends) + (SELECT count(*) FROM odds_snapshots)
                     + (SELECT count(*) FROM raw_responses)";
    let before = total(&pool, rows).await;
    let live_races_all: i64 = sqlx::query_scalar("SELECT count(*) FROM races WHERE race_date = $1")
        .bind(live_day)
        .fetch_one(&pool)
        .await
        .expect("races");
    assert!(live_races_all >= live_races, "the live day's races are stored");
    let request = Request { from: live_day, to: live_day, sources: vec![], tracks: vec![], ops: vec![] };
    let plan = backfill::resolve(&request, &day.planner.sources(), day.clock.now().date_naive()).expect("valid");
    let (again, _) = backfill::start(&pool, &clock, &plan).await.expect("run");
    for _ in 0..20 {
        day.step().await;
        if backfill::status_of(&pool, again.id).await.expect("status").expect("run").run.finished_at.is_some() {
            break;
        }
    }
    let status = backfill::status_of(&pool, again.id).await.expect("status").expect("run");
    assert!(status.run.finished_at.is_some(), "{:?}", status.counts);
    assert_eq!((status.counts.jobs_finished, status.counts.requests), (0, 0), "{:?}", status.counts);
    assert_eq!(status.counts.races, live_races_all);
    assert_eq!(total(&pool, rows).await, before, "a live day backfilled changes nothing");
}

#[sqlx::test(migrations = false)]
async fn a_backfill_killed_mid_run_resumes_where_it_stopped_losing_and_duplicating_nothing(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    // The host's limits lifted, as the simulator's are; a dead host's tasks go back fast.
    let config = common::host::write_config(
        dir.path(),
        r#"
[jobs]
orphan_after_s = 2
backoff_base_ms = 50
backoff_cap_s = 1
[sources.kra]
daily_quota = { "*" = 1000000 }
per_second = 0
[sources.kspo]
daily_quota = { "*" = 1000000 }
per_second = 0
"#,
    );
    let world = common::host::SimWorld::start(
        kst(date("2026-03-05"), 10, 0),
        1.0,
        SimConfig { seed: SEED, limits: Limits::unlimited(), ..SimConfig::default() },
    );
    let url = common::host::database_url(&pool);
    let args = ["backfill", "--from", "2026-02-01", "--to", "2026-02-28"];
    let command = |log: &str| common::host::racelab_command(&args, &url, &world, &config, &dir.path().join(log), &[]);

    // A live job due now: a backfill-only host leaves it to the hosts that plan live work.
    let clock: racelab::clock::Clock = world.clock.clone().into();
    racelab::store::migrate(&pool).await.expect("migrate");
    let live = racelab::jobs::JobSpec {
        source: "kra".into(),
        op: racelab::jobs::Op::Schedule,
        track: "seoul".into(),
        race_date: date("2026-03-05"),
        race_number: 0,
        slot: clock.now().to_utc(),
        lane: racelab::budget::Lane::Live,
        post_time: None,
        pools: vec![],
    };
    assert_eq!(racelab::jobs::enqueue(&pool, &clock, &[live]).await.expect("enqueue"), 1);

    let mut first = command("first.log").spawn().expect("racelab backfill starts");
    let slices = 5 * 28;
    let started = std::time::Instant::now();
    loop {
        let done: Option<i64> =
            sqlx::query_scalar("SELECT count(*) FILTER (WHERE state = 'done') FROM backfill_slices")
                .fetch_one(&pool)
                .await
                .ok();
        if done.is_some_and(|d| d >= 30) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the first backfill made no progress");
        assert!(first.try_wait().expect("wait").is_none(), "the first backfill ended before it was killed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.kill().expect("SIGKILL");
    let _ = first.wait();
    let done_then: i64 = sqlx::query_scalar("SELECT count(*) FROM backfill_slices WHERE state = 'done'")
        .fetch_one(&pool)
        .await
        .expect("slices");
    assert!(done_then < slices, "killed before the end: {done_then} of {slices}");

    let mut second = command("second.log").stdout(std::process::Stdio::piped()).spawn().expect("it starts again");
    let finished = tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = second.try_wait().expect("wait") {
                let mut out = String::new();
                std::io::Read::read_to_string(&mut second.stdout.take().expect("stdout"), &mut out).expect("read");
                return Some((status, out));
            }
            if started.elapsed() > Duration::from_secs(600) {
                let _ = second.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .expect("join");
    let logs = std::fs::read_to_string(dir.path().join("second.log")).unwrap_or_default();
    let (status, out) = finished.unwrap_or_else(|| panic!("the resumed backfill did not finish:\n{logs}"));
    assert!(status.success(), "{out}\n{logs}");
    assert!(out.contains("resuming backfill #1"), "the same run goes on: {out}");
    assert!(!logs.contains("test-key"), "the service key is never logged");

    // Everything, once: the month against the model; one run, every slice done by it.
    let (races, _) = assert_model(&pool, &TRACKS, "2026-02-01", "2026-02-28").await;
    let status = backfill::status_of(&pool, 1).await.expect("status").expect("run #1");
    assert!(status.run.finished_at.is_some());
    assert_eq!((status.counts.slices, status.counts.slices_done, status.counts.jobs_failed), (slices, slices, 0));
    assert_eq!(status.counts.races, races);
    assert_eq!(total(&pool, "SELECT count(*) FROM backfill_runs").await, 1);
    // Each job planned once per race and operation, whatever the kill interrupted.
    assert_eq!(
        total(
            &pool,
            "SELECT count(*) FROM (SELECT 1 FROM planned_jobs GROUP BY op, track, race_date, race_number HAVING count(*) > 1) d"
        )
        .await,
        0
    );
    assert_eq!(
        total(&pool, "SELECT count(*) FROM planned_jobs WHERE state = 'queued' AND backfill_run IS NOT NULL").await,
        0
    );
    assert_eq!(
        total(
            &pool,
            "SELECT count(*) FROM planned_jobs p JOIN apalis.jobs j ON j.id = p.task_id
             WHERE p.lane = 'live' AND p.state = 'queued' AND j.status = 'Pending' AND j.attempts = 0"
        )
        .await,
        1,
        "the live job was never claimed by the backfill hosts"
    );
}

#[sqlx::test(migrations = false)]
async fn the_worker_runs_no_more_backfill_jobs_than_its_backfill_slots(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    // Every answer 40 ms late, so that jobs overlap and a fifth claimed at once would be seen.
    let faults = racelab_sim::Faults { slow: 1.0, slow_ms: 40, ..racelab_sim::Faults::default() };
    let options = DayOptions {
        sim: SimConfig { seed: SEED, limits: Limits::unlimited(), faults, ..SimConfig::default() },
        daily_quota: Some(1_000_000),
        backfill_slots: Some(1),
        ..DayOptions::default()
    };
    let day = Day::new(pool.clone(), kst(date("2026-03-05"), 10, 0), options).await;
    let sampling = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (pool, sampling) = (pool.clone(), sampling.clone());
        tokio::spawn(async move {
            let mut most = 0i64;
            while sampling.load(std::sync::atomic::Ordering::Relaxed) {
                let claimed: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM apalis.jobs j JOIN planned_jobs p ON p.task_id = j.id
                     WHERE j.status IN ('Queued', 'Running') AND p.lane = 'backfill'",
                )
                .fetch_one(&pool)
                .await
                .unwrap_or(0);
                most = most.max(claimed);
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            most
        })
    };
    let status = backfill(&day, "2026-02-01", "2026-02-04").await;
    sampling.store(false, std::sync::atomic::Ordering::Relaxed);
    let most = sampler.await.expect("sampler");
    assert!(status.counts.jobs_finished > 20, "{:?}", status.counts);
    assert_eq!(status.counts.jobs_failed, 0);
    assert_eq!(most, 1, "backfill tasks claimed at once, with one backfill slot of four workers");
}

/// `racelab backfill` of `args` with its database through `proxy`, its log in `log`.
fn backfill_through(
    proxy: &common::proxy::Proxy,
    pool: &PgPool,
    world: &common::host::SimWorld,
    config: &std::path::Path,
    log: &std::path::Path,
    args: &[&str],
) -> std::process::Command {
    let direct = common::host::database_url(pool);
    let through = direct.replacen(":5432/", &format!(":{}/", proxy.port), 1);
    assert_ne!(direct, through, "the test database URL names port 5432");
    let mut command = common::host::racelab_command(args, &through, world, config, log, &[]);
    command.stdout(std::process::Stdio::piped());
    command
}

/// Waits for `child` to exit within `limit`; its stdout.
async fn finish(mut child: std::process::Child, limit: Duration) -> Option<(std::process::ExitStatus, String)> {
    tokio::task::spawn_blocking(move || {
        let started = std::time::Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                let mut out = String::new();
                let _ = std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut out);
                return Some((status, out));
            }
            if started.elapsed() > limit {
                let _ = child.kill();
                return None;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await
    .expect("join")
}

#[sqlx::test(migrations = false)]
async fn the_worst_backfill_final_only_with_faults_a_kill_and_a_database_outage_ends_exact(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::host::write_config(
        dir.path(),
        r#"
[jobs]
orphan_after_s = 2
max_attempts = 12
backoff_base_ms = 20
backoff_cap_s = 1
[sources.kra]
daily_quota = { "*" = 1000000 }
per_second = 0
[sources.kspo]
daily_quota = { "*" = 1000000 }
per_second = 0
"#,
    );
    // The real sources' odds timing, and several faults at once on every dataset.
    let faults = racelab_sim::Faults {
        server_error: 0.04,
        drop: 0.02,
        malformed: 0.02,
        gateway: 0.02,
        slow: 0.02,
        slow_ms: 300,
    };
    let sim = SimConfig {
        seed: SEED,
        odds: racelab_sim::OddsMode::FinalOnly,
        limits: Limits::unlimited(),
        faults,
        ..SimConfig::default()
    };
    let world = common::host::SimWorld::start(kst(date("2026-03-05"), 10, 0), 1.0, sim);
    let proxy = common::proxy::Proxy::start("127.0.0.1:5432").await;
    let args = ["backfill", "--from", "2026-02-01", "--to", "2026-02-14"];
    let slices = 5 * 14;

    // Killed mid-run.
    let mut first = backfill_through(&proxy, &pool, &world, &config, &dir.path().join("first.log"), &args)
        .spawn()
        .expect("racelab backfill starts");
    let started = std::time::Instant::now();
    loop {
        let done: Option<i64> =
            sqlx::query_scalar("SELECT count(*) FILTER (WHERE state = 'done') FROM backfill_slices")
                .fetch_one(&pool)
                .await
                .ok();
        if done.is_some_and(|d| d >= 15) {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "the first backfill made no progress");
        assert!(first.try_wait().expect("wait").is_none(), "the first backfill ended before it was killed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    first.kill().expect("SIGKILL");
    let _ = first.wait();

    // Resumed, and the database goes away for three seconds while it works.
    let mut second = backfill_through(&proxy, &pool, &world, &config, &dir.path().join("second.log"), &args)
        .spawn()
        .expect("it starts again");
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(second.try_wait().expect("wait").is_none(), "still working when the database goes");
    proxy.fail().await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    proxy.recover();
    let logs = || std::fs::read_to_string(dir.path().join("second.log")).unwrap_or_default();
    let (status, out) = finish(second, Duration::from_secs(600))
        .await
        .unwrap_or_else(|| panic!("the resumed backfill hung:\n{}", logs()));
    assert!(status.success(), "{out}\n{}", logs());
    assert!(out.contains("resuming backfill #1"), "{out}");
    assert!(logs().contains("error communicating with database"), "the outage met the run:\n{}", logs());

    // Whatever the faults made fail for good is asked again by a new run over the range.
    let failed: i64 = sqlx::query_scalar("SELECT COALESCE(sum(failed), 0)::bigint FROM backfill_slices WHERE run = 1")
        .fetch_one(&pool)
        .await
        .expect("failed");
    if failed > 0 {
        let third = backfill_through(&proxy, &pool, &world, &config, &dir.path().join("third.log"), &args)
            .spawn()
            .expect("a new run");
        let (status, out) = finish(third, Duration::from_secs(600)).await.expect("the new run ends");
        assert!(status.success() && out.contains("started backfill #2"), "{out}");
    }
    let (races, kra_races) = assert_model(&pool, &TRACKS, "2026-02-01", "2026-02-14").await;
    assert!(races > 100 && kra_races > 40, "{races} races, {kra_races} KRA");
    assert_eq!(
        total(
            &pool,
            "SELECT count(*) FROM odds_snapshots o JOIN races r USING (track, race_date, race_number)
                       WHERE o.captured_at <> r.post_time + interval '10 minutes'"
        )
        .await,
        0
    );
    let run1 = backfill::status_of(&pool, 1).await.expect("status").expect("run #1");
    assert!(run1.run.finished_at.is_some());
    assert_eq!((run1.counts.slices, run1.counts.slices_done), (slices, slices));
    assert!(!logs().contains("test-key"), "the service key is never logged");
}

#[sqlx::test(migrations = false)]
async fn a_hostile_plugin_backfilled_fails_only_its_own_jobs_and_the_run_ends(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = common::host::write_config(
        dir.path(),
        r#"
[jobs]
orphan_after_s = 5
max_attempts = 2
backoff_base_ms = 20
backoff_cap_s = 1
[sources.kra]
per_second = 0
[sources.kspo]
per_second = 0
"#,
    );
    let world = common::host::SimWorld::start(
        kst(date("2026-03-05"), 10, 0),
        1.0,
        SimConfig { seed: SEED, limits: Limits::unlimited(), ..SimConfig::default() },
    );
    let log = dir.path().join("backfill.log");
    let env = [("RACELAB_KRA_PLUGIN", common::component("racelab-test-hostile").display().to_string())];
    let args = ["backfill", "--from", "2026-02-07", "--to", "2026-02-07"];
    let mut command =
        common::host::racelab_command(&args, &common::host::database_url(&pool), &world, &config, &log, &env);
    let child = command.stdout(std::process::Stdio::piped()).spawn().expect("racelab backfill starts");
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let (status, out) =
        finish(child, Duration::from_secs(300)).await.unwrap_or_else(|| panic!("the backfill hung:\n{}", logs()));
    assert!(status.success(), "the host survives its plugin: {out}\n{}", logs());

    let run = backfill::status_of(&pool, 1).await.expect("status").expect("run");
    assert!(run.run.finished_at.is_some(), "{out}");
    // Twelve races at Seoul (the only track of the plugin's that KRA serves), and the KSPO
    // tracks by the real plugin, every slice done.
    assert_eq!((run.counts.slices, run.counts.slices_done), (3, 3), "{:?}", run.counts);
    assert!(run.counts.jobs_failed >= 8, "the misbehaving races' jobs fail: {:?}", run.counts);
    let kinds: Vec<String> =
        sqlx::query_scalar("SELECT DISTINCT error_kind FROM ingestion_failures ORDER BY error_kind")
            .fetch_all(&pool)
            .await
            .expect("failures");
    assert_eq!(kinds, ["malformed", "plugin_fault"], "{}", logs());
    // The honest race landed; nothing the plugin wrote reached another source's track.
    let seoul_race_1 = |table: &'static str| {
        let pool = pool.clone();
        async move {
            let sql = format!(
                "SELECT count(*) FROM {table} WHERE track = 'seoul' AND race_date = '2026-02-07' AND race_number = 1"
            );
            sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql)).fetch_one(&pool).await.expect("count")
        }
    };
    assert_eq!((seoul_race_1("entries").await, seoul_race_1("results").await), (8, 8));
    let calendar = Calendar::new(SEED);
    let kspo_results =
        expect::day(&calendar, Track::Gwangmyeong, date("2026-02-07")).iter().map(|r| r.result_rows).sum::<usize>();
    assert!(kspo_results > 0, "Gwangmyeong races that Saturday");
    assert_eq!(count(&pool, "results", "gwangmyeong", date("2026-02-07")).await, kspo_results as i64);
    let logs = logs();
    assert!(!logs.contains("test-key") && !logs.contains(racelab_test_hostile_forged()), "{logs}");
}

/// The start of the line the hostile plugin forges: it must never appear as a log line.
fn racelab_test_hostile_forged() -> &'static str {
    "\n2026-12-06T01:02:03.000000Z  INFO racelab::jobs::worker: plugin kra verified"
}
