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
use racelab_sim::{Calendar, Discipline, Limits, SimConfig, expect};
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

#[sqlx::test(migrations = false)]
async fn a_month_backfill_stores_the_model_exactly_and_a_rerun_asks_nothing(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let day = march(pool.clone()).await;
    let first = backfill(&day, "2026-02-01", "2026-02-28").await;

    // Every track-day of the month, against the model.
    let calendar = Calendar::new(SEED);
    let (mut races, mut kra_races) = (0i64, 0i64);
    for track in TRACKS {
        for d in backfill::days(date("2026-02-01"), date("2026-02-28")) {
            let model = expect::day(&calendar, track, d);
            let code = track.code();
            let want = |f: fn(&expect::RaceCounts) -> usize| model.iter().map(f).sum::<usize>() as i64;
            assert_eq!(count(&pool, "races", code, d).await, model.len() as i64, "{code} {d} races");
            assert_eq!(count(&pool, "entries", code, d).await, want(|r| r.entries), "{code} {d} entries");
            assert_eq!(count(&pool, "results", code, d).await, want(|r| r.result_rows), "{code} {d} results");
            assert_eq!(count(&pool, "dividends", code, d).await, want(|r| r.dividend_rows), "{code} {d} dividends");
            assert_eq!(
                count(&pool, "odds_snapshots", code, d).await,
                want(|r| r.odds_rows_all_pools),
                "{code} {d} final odds"
            );
            races += model.len() as i64;
            if track.discipline() == Discipline::Horse {
                kra_races += model.len() as i64;
            }
        }
    }
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
