//! A whole race day through the real host — planner, apalis-postgres queue, worker, compiled
//! components, store — against the simulator over HTTP and a real PostgreSQL, on a clock the
//! test moves. Expected counts come from the simulator's model (`racelab_sim::expect`), never
//! from the host's own output.

mod common;

use chrono::{NaiveDate, TimeDelta};
use common::day::{Day, DayOptions, busiest_day, kst, post_window};
use racelab::store::StoreConfig;
use racelab_sim::expect;
use racelab_sim::{Calendar, Discipline, SimConfig};
use sqlx::PgPool;

const SEED: u64 = 7;

/// Pre-race odds polls of one race under the default cadence (see the planner's unit test).
const PRE_RACE_POLLS: i64 = 29;

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).expect("date")
}

#[sqlx::test(migrations = false)]
async fn a_full_race_day_lands_with_the_expected_rows_and_nothing_twice(pool: PgPool) {
    let (date, tracks) = busiest_day(SEED, first_day());
    // No day has all five (boats race midweek, horses at weekends); the busiest has both sources.
    assert!(tracks.len() >= 3, "{date}: {tracks:?}");
    assert!(tracks.iter().any(|t| t.discipline() == Discipline::Horse), "{tracks:?}");
    assert!(tracks.iter().any(|t| t.discipline() != Discipline::Horse), "{tracks:?}");
    let (first_post, last_post) = post_window(SEED, date, &tracks);
    // Skip off: every poll stores every quote, so the odds count is exact.
    let options = DayOptions {
        sim: SimConfig { seed: SEED, ..SimConfig::default() },
        store: StoreConfig { skip_unchanged_odds: false },
        // A production key's quota: a development key's ~1,000/day on the odds dataset (API301)
        // does not cover the default cadence on a two-meet day (see tests/quota.rs).
        daily_quota: Some(100_000),
        ..DayOptions::default()
    };
    let day = Day::new(pool, kst(date, 5, 59), options).await;

    // The start-up and 06:00 syncs, then the day in 30-second steps from just before the first
    // odds poll.
    day.morning(first_post).await;
    day.run_until(last_post + TimeDelta::minutes(20), TimeDelta::seconds(30)).await;

    let calendar = Calendar::new(SEED);
    let (mut races, mut entries, mut scratches, mut results, mut dividends, mut odds) = (0, 0, 0, 0, 0, 0);
    for track in &tracks {
        for race in expect::day(&calendar, *track, date) {
            races += 1;
            entries += race.entries as i64;
            scratches += race.scratches as i64;
            results += race.result_rows as i64;
            dividends += race.dividend_rows as i64;
            if track.discipline() == Discipline::Horse {
                // WIN and PLC at every pre-race poll, every pool once after post.
                odds += PRE_RACE_POLLS * 2 * race.starters as i64 + race.odds_rows_all_pools as i64;
            }
        }
    }
    // Per race first, so a mismatch names the race.
    for track in &tracks {
        for race in expect::day(&calendar, *track, date) {
            let got: (i64, i64, i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM entries WHERE track = $1 AND race_date = $2 AND race_number = $3),
                        (SELECT count(*) FROM entries WHERE track = $1 AND race_date = $2 AND race_number = $3 AND scratched),
                        (SELECT count(*) FROM results WHERE track = $1 AND race_date = $2 AND race_number = $3),
                        (SELECT count(*) FROM dividends WHERE track = $1 AND race_date = $2 AND race_number = $3)",
            )
            .bind(track.code())
            .bind(date)
            .bind(i16::from(race.number))
            .fetch_one(&day.pool)
            .await
            .expect("per-race counts");
            let want = (race.entries as i64, race.scratches as i64, race.result_rows as i64, race.dividend_rows as i64);
            assert_eq!(got, want, "{} race {}: (entries, scratched, results, dividends)", track.code(), race.number);
            if track.discipline() == Discipline::Horse {
                let odds: (i64, i64, i64) = sqlx::query_as(
                    "SELECT count(DISTINCT o.captured_at) FILTER (WHERE o.captured_at < r.post_time),
                            count(*) FILTER (WHERE o.captured_at < r.post_time),
                            count(*) FILTER (WHERE o.captured_at >= r.post_time)
                     FROM odds_snapshots o JOIN races r USING (track, race_date, race_number)
                     WHERE o.track = $1 AND o.race_date = $2 AND o.race_number = $3",
                )
                .bind(track.code())
                .bind(date)
                .bind(i16::from(race.number))
                .fetch_one(&day.pool)
                .await
                .expect("per-race odds");
                let want = (PRE_RACE_POLLS, PRE_RACE_POLLS * 2 * race.starters as i64, race.odds_rows_all_pools as i64);
                assert_eq!(
                    odds,
                    want,
                    "{} race {}: (pre-race polls, pre-race rows, final rows)",
                    track.code(),
                    race.number
                );
            }
        }
    }
    let count = |sql: &'static str| day.count(sql, date);
    assert_eq!(count("SELECT count(*) FROM races WHERE race_date = $1").await, races);
    assert_eq!(count("SELECT count(*) FROM races WHERE race_date = $1 AND post_time IS NULL").await, 0);
    assert_eq!(count("SELECT count(*) FROM entries WHERE race_date = $1").await, entries);
    assert_eq!(count("SELECT count(*) FROM entries WHERE race_date = $1 AND scratched").await, scratches);
    assert_eq!(count("SELECT count(*) FROM results WHERE race_date = $1").await, results);
    assert_eq!(count("SELECT count(*) FROM dividends WHERE race_date = $1").await, dividends);
    assert_eq!(count("SELECT count(*) FROM odds_snapshots WHERE race_date = $1").await, odds);

    // Every job ran once per slot and none failed.
    assert_eq!(count("SELECT count(*) FROM planned_jobs WHERE race_date = $1 AND state <> 'done'").await, 0);
    let failures: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ingestion_failures").fetch_one(&day.pool).await.expect("failures");
    assert_eq!(failures, 0);
    let kra_races = tracks
        .iter()
        .filter(|t| t.discipline() == Discipline::Horse)
        .map(|t| expect::day(&calendar, *t, date).len() as i64)
        .sum::<i64>();
    assert_eq!(
        count("SELECT count(*) FROM planned_jobs WHERE race_date = $1 AND op = 'odds'").await,
        PRE_RACE_POLLS * kra_races,
        "KSPO publishes no odds and is never asked for them"
    );
    assert_eq!(count("SELECT count(*) FROM planned_jobs WHERE race_date = $1 AND op = 'odds_final'").await, kra_races);
    assert_eq!(count("SELECT count(*) FROM planned_jobs WHERE race_date = $1 AND op = 'entries'").await, 2 * races);
    // Every apalis task of the day is settled.
    let unsettled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM apalis.jobs WHERE job_type = 'racelab' AND status NOT IN ('Done', 'Killed')",
    )
    .fetch_one(&day.pool)
    .await
    .expect("apalis jobs");
    assert_eq!(unsettled, 0);
    // Every response was archived before it was parsed.
    let archived: i64 =
        sqlx::query_scalar("SELECT count(*) FROM raw_responses").fetch_one(&day.pool).await.expect("raw");
    let requests: i64 = sqlx::query_scalar("SELECT COALESCE(sum(requests), 0)::bigint FROM planned_jobs")
        .fetch_one(&day.pool)
        .await
        .expect("requests");
    assert_eq!(archived, requests);
}
