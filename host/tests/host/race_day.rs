//! A whole race day through the real host — planner, apalis-postgres queue, worker, compiled
//! components, store — against the simulator over HTTP and a real PostgreSQL, on a clock the
//! test moves. Expected counts come from the simulator's model (`racelab_sim::expect`), never
//! from the host's own output.

use crate::common;

use chrono::{NaiveDate, TimeDelta};
use common::day::{Day, DayOptions, busiest_day, kst, post_window};
use racelab::config::Cadence;
use racelab::store::StoreConfig;
use racelab_sim::expect;
use racelab_sim::{Calendar, Discipline, OddsMode, SimConfig, Track};
use sqlx::PgPool;

const SEED: u64 = 7;

/// Pre-race odds polls of one race under the default cadence (see the planner's unit test).
const PRE_RACE_POLLS: i64 = 29;

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).expect("date")
}

#[sqlx::test(migrations = false)]
async fn a_full_race_day_lands_with_the_expected_rows_and_nothing_twice(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
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
        // does not cover the default cadence on a two-meet day (see quota_day.rs).
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

/// The day from `from` (four weeks) with the most KRA races: two meets, as the development
/// quota's worst day.
fn busiest_kra_day(seed: u64, from: NaiveDate) -> (NaiveDate, Vec<Track>) {
    let calendar = Calendar::new(seed);
    from.iter_days()
        .take(28)
        .map(|d| {
            let all: Vec<Track> = common::day::TRACKS.into_iter().filter(|t| calendar.is_race_day(*t, d)).collect();
            let kra: usize = all
                .iter()
                .filter(|t| t.discipline() == Discipline::Horse)
                .map(|t| expect::day(&calendar, *t, d).len())
                .sum();
            (d, all, kra)
        })
        .max_by_key(|(d, _, kra)| (*kra, std::cmp::Reverse(*d)))
        .map(|(d, all, _)| (d, all))
        .expect("a race day within four weeks")
}

/// The real sources' timing: odds appear only once a race is official (post + 10 min). The
/// first final-odds and results polls are set before that (post + 5 min) so that each race is
/// first answered "not yet" and asked again; the KRA plugin is told to poll before the race
/// too (as a plugin without the `odds-timing` hint would), so the cadence must stop itself.
#[sqlx::test(migrations = false)]
async fn a_final_only_day_lands_every_race_with_its_final_odds_within_the_development_quota(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let (date, tracks) = busiest_kra_day(SEED, first_day());
    let kra_tracks: Vec<Track> = tracks.iter().copied().filter(|t| t.discipline() == Discipline::Horse).collect();
    assert!(kra_tracks.len() >= 2, "{date}: a two-meet KRA day, {tracks:?}");
    let (first_post, last_post) = post_window(SEED, date, &tracks);
    let options = DayOptions {
        sim: SimConfig { seed: SEED, odds: OddsMode::FinalOnly, ..SimConfig::default() },
        store: StoreConfig { skip_unchanged_odds: false },
        cadence: Cadence { final_odds_after_s: 300, results_delay_min: 5, ..Cadence::default() },
        odds_timing: Some("before-race"),
        // The manifests' hints: a development key's 1,000 a day on API301.
        daily_quota: None,
        ..DayOptions::default()
    };
    let day = Day::new(pool, kst(date, 5, 59), options).await;
    day.morning(first_post).await;
    day.run_until(last_post + TimeDelta::minutes(20), TimeDelta::seconds(30)).await;

    let calendar = Calendar::new(SEED);
    let (mut races, mut kra_races) = (0i64, 0i64);
    for track in &tracks {
        for race in expect::day(&calendar, *track, date) {
            races += 1;
            let horse = track.discipline() == Discipline::Horse;
            kra_races += i64::from(horse);
            let got: (i64, i64, i64, i64, i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM entries WHERE track = $1 AND race_date = $2 AND race_number = $3),
                        (SELECT count(*) FROM results WHERE track = $1 AND race_date = $2 AND race_number = $3),
                        (SELECT count(*) FROM dividends WHERE track = $1 AND race_date = $2 AND race_number = $3),
                        (SELECT count(*) FROM odds_snapshots o JOIN races r USING (track, race_date, race_number)
                         WHERE o.track = $1 AND o.race_date = $2 AND o.race_number = $3
                           AND o.captured_at < r.post_time),
                        (SELECT count(*) FROM odds_snapshots o JOIN races r USING (track, race_date, race_number)
                         WHERE o.track = $1 AND o.race_date = $2 AND o.race_number = $3
                           AND o.captured_at >= r.post_time),
                        (SELECT count(DISTINCT pool) FROM odds_snapshots
                         WHERE track = $1 AND race_date = $2 AND race_number = $3)",
            )
            .bind(track.code())
            .bind(date)
            .bind(i16::from(race.number))
            .fetch_one(&day.pool)
            .await
            .expect("per-race counts");
            let final_odds = if horse { race.odds_rows_all_pools as i64 } else { 0 };
            let want = (
                race.entries as i64,
                race.result_rows as i64,
                race.dividend_rows as i64,
                0,
                final_odds,
                if horse { 7 } else { 0 },
            );
            assert_eq!(
                got,
                want,
                "{} race {}: (entries, results, dividends, pre-race odds, final odds, pools)",
                track.code(),
                race.number
            );
        }
    }
    let count = |sql: &'static str| day.count(sql, date);
    let jobs = |op: &'static str, state: &'static str| {
        let pool = day.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM planned_jobs WHERE race_date = $1 AND op = $2 AND state = $3",
            )
            .bind(date)
            .bind(op)
            .bind(state)
            .fetch_one(&pool)
            .await
            .expect("jobs")
        }
    };
    // Three pre-race polls per KRA track-day found nothing; then the cadence stopped.
    assert_eq!(jobs("odds", "no_data").await, 3 * kra_tracks.len() as i64);
    assert_eq!(
        count("SELECT count(*) FROM planned_jobs WHERE race_date = $1 AND op = 'odds'").await,
        3 * kra_tracks.len() as i64
    );
    // Every race: asked once too early ("not yet"), then answered.
    assert_eq!((jobs("odds_final", "no_data").await, jobs("odds_final", "done").await), (kra_races, kra_races));
    assert_eq!((jobs("results", "no_data").await, jobs("results", "done").await), (races, races));
    assert_eq!(
        count("SELECT count(*) FROM planned_jobs WHERE race_date = $1 AND state NOT IN ('done', 'no_data')").await,
        0
    );
    let failures: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ingestion_failures").fetch_one(&day.pool).await.expect("failures");
    assert_eq!(failures, 0, "no quota ran out and no race was given up on");
    // Within the development quota of API301, and every request counted against it.
    let (api301, odds_requests): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT COALESCE(sum(used), 0)::bigint FROM quota_usage WHERE source = 'kra' AND dataset = 'API301'),
                (SELECT COALESCE(sum(requests), 0)::bigint FROM planned_jobs WHERE op IN ('odds', 'odds_final'))",
    )
    .fetch_one(&day.pool)
    .await
    .expect("requests");
    assert_eq!(api301, odds_requests);
    assert!(api301 <= 1_000, "API301 requests {api301} over the development quota");
    // Seven pools per answered poll and per early poll at least; two pools per pre-race poll.
    assert!(api301 >= 14 * kra_races + 6 * kra_tracks.len() as i64, "{api301}");
    println!("final-only {date}: {kra_races} KRA races on {} tracks, {api301} API301 requests", kra_tracks.len());

    // What /status says of the day.
    let tracks_today = racelab::jobs::gaps::track_days(&day.pool, date, 3).await.expect("status");
    for t in &tracks_today {
        let horse = kra_tracks.iter().any(|k| k.code() == t.track);
        assert_eq!((t.results_final, t.gaps, t.pre_race_odds_stopped), (t.races, 0, horse), "{t:?}");
        assert_eq!(t.final_odds, if horse { t.races } else { 0 }, "{t:?}");
    }
    assert_eq!(tracks_today.len(), tracks.len());
}

/// A plugin that declares its source's odds come after the race gets no pre-race polls.
#[test]
fn the_kra_plugin_declares_odds_after_the_race() {
    let runtime = racelab::plugins::Runtime::new(racelab::plugins::Limits::default()).expect("runtime");
    let plugin = runtime.load_file(&common::component("racelab-plugin-kra")).expect("loads");
    let config = racelab::plugins::hints::effective_config(plugin.manifest(), &[]).expect("config");
    let plan = racelab::daemon::source_plan("kra", &plugin, &["seoul".to_string()], &config).expect("plan");
    assert!(!plan.odds_before_post);
}

/// Races the cadence gave up on become gaps — one `incomplete` failure per race and operation,
/// one alert per source and track-day — and a retry that brings the data resolves both.
/// Results give up here 8 minutes after post, before the simulator makes them official (10).
#[sqlx::test(migrations = false)]
async fn races_given_up_on_are_gaps_alerted_per_track_day_and_resolved_by_a_retry(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    use racelab::alerts::{self, AlertConfig, SlackTarget, SystemClock};
    let (date, tracks) = busiest_day(SEED, first_day());
    let (first_post, _) = post_window(SEED, date, &tracks);
    let calendar = Calendar::new(SEED);
    let posts: Vec<(Track, u8, chrono::DateTime<chrono::FixedOffset>)> = tracks
        .iter()
        .filter_map(|t| calendar.day(*t, date).map(|d| (*t, d)))
        .flat_map(|(t, d)| d.races.iter().map(move |r| (t, r.number, r.post_time)).collect::<Vec<_>>())
        .collect();
    // An end at which every race given up on is also official: none posted 8–10 min before.
    let mut end = first_post + TimeDelta::minutes(15);
    while posts.iter().any(|(_, _, p)| *p + TimeDelta::minutes(8) <= end && *p + TimeDelta::minutes(10) > end) {
        end += TimeDelta::seconds(30);
    }
    let slack = common::day::FakeSlack::start().await;
    let alert_config = AlertConfig { target: Some(SlackTarget::webhook(slack.url.clone())), ..AlertConfig::default() };
    let (alerter, alert_task) = alerts::spawn(alert_config, SystemClock).expect("alerts start");
    let options = DayOptions {
        sim: SimConfig { seed: SEED, odds: OddsMode::FinalOnly, ..SimConfig::default() },
        cadence: Cadence { results_give_up_min: 8, ..Cadence::default() },
        alerter: Some(alerter.clone()),
        ..DayOptions::default()
    };
    let day = Day::new(pool, kst(date, 5, 59), options).await;
    day.morning(first_post).await;
    day.run_until(end, TimeDelta::seconds(30)).await;

    let given_up: Vec<&(Track, u8, _)> = posts.iter().filter(|(_, _, p)| *p + TimeDelta::minutes(8) <= end).collect();
    assert!(!given_up.is_empty());
    let want_gaps: i64 = given_up.iter().map(|(t, _, _)| if t.discipline() == Discipline::Horse { 2 } else { 1 }).sum();
    // Of every day: yesterday's races, synced at the start, never had results asked for
    // within 8 minutes of their post either.
    let open = |on: Option<NaiveDate>| {
        let pool = day.pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>(
                "SELECT count(*) FROM ingestion_failures
                 WHERE error_kind = 'incomplete' AND resolved_at IS NULL AND race_date = COALESCE($1, race_date)",
            )
            .bind(on)
            .fetch_one(&pool)
            .await
            .expect("gaps")
        }
    };
    assert_eq!(open(Some(date)).await, want_gaps, "results of every race given up on, and a KRA race's final odds");
    // Ticks that find nothing new draw no ids: a job planned before and a gap open already are
    // skipped before their rows are built, not refused by a unique index after drawing one.
    let ids = || {
        let pool = day.pool.clone();
        async move {
            sqlx::query_as::<_, (i64, i64)>(
                "SELECT (SELECT last_value FROM planned_jobs_id_seq), (SELECT last_value FROM ingestion_failures_id_seq)",
            )
            .fetch_one(&pool)
            .await
            .expect("sequences")
        }
    };
    let before = ids().await;
    day.planner.tick().await.expect("tick");
    day.planner.tick().await.expect("tick");
    assert_eq!(ids().await, before, "(planned_jobs, ingestion_failures) ids drawn by ticks that planned nothing");
    let mut track_days: Vec<&str> = given_up.iter().map(|(t, _, _)| t.code()).collect();
    track_days.dedup();
    let today = format!(" {date}");
    let opened = |slack: &common::day::FakeSlack, mark: &str| {
        slack
            .texts()
            .into_iter()
            .filter(|t| t.starts_with(mark) && t.contains("incomplete") && t.contains(&today))
            .collect::<Vec<_>>()
    };
    for _ in 0..100 {
        if opened(&slack, ":rotating_light:").len() >= track_days.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let alerts = opened(&slack, ":rotating_light:");
    assert_eq!(alerts.len(), track_days.len(), "one alert per track-day: {alerts:?}");
    for track in &track_days {
        assert!(alerts.iter().any(|a| a.contains(&format!("{track} {date}"))), "{track}: {alerts:?}");
    }
    let status = racelab::jobs::gaps::track_days(&day.pool, date, 3).await.expect("status");
    for t in &status {
        let want: i64 = given_up
            .iter()
            .filter(|(k, _, _)| k.code() == t.track)
            .map(|(k, _, _)| if k.discipline() == Discipline::Horse { 2 } else { 1 })
            .sum();
        assert_eq!(t.gaps, want, "{t:?}");
    }

    // The operator retries; the data is there now; the next sweep resolves every gap.
    let all_open = open(None).await;
    let retried = racelab::jobs::retry::retry_all_open(&day.pool, &day.clock.clone().into()).await.expect("retry");
    assert_eq!(retried.len() as i64, all_open);
    day.step().await;
    day.step().await;
    assert_eq!(open(None).await, 0);
    for (track, number, _) in &given_up {
        let (results, final_odds): (i64, bool) = sqlx::query_as(
            "SELECT (SELECT count(*) FROM results WHERE track = $1 AND race_date = $2 AND race_number = $3),
                    (SELECT COALESCE(odds_captured_at > post_time, false) FROM races
                     WHERE track = $1 AND race_date = $2 AND race_number = $3)",
        )
        .bind(track.code())
        .bind(date)
        .bind(i16::from(*number))
        .fetch_one(&day.pool)
        .await
        .expect("race");
        assert!(results > 0, "{} race {number}", track.code());
        assert_eq!(final_odds, track.discipline() == Discipline::Horse, "{} race {number}", track.code());
    }
    for _ in 0..100 {
        if opened(&slack, ":white_check_mark:").len() >= track_days.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(opened(&slack, ":white_check_mark:").len(), track_days.len(), "{:?}", slack.texts());
    alert_task.shutdown(std::time::Duration::from_secs(2)).await;
}
