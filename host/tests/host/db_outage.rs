//! The database goes away mid-run and comes back, as in a restart: the host keeps running,
//! retries what failed against it, and the day's work ends complete — nothing lost, nothing
//! twice. The outage is a TCP proxy between the host and PostgreSQL that drops every
//! connection and refuses new ones for a while, so the test needs no control of the server.

use crate::common;

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{NaiveDate, TimeDelta};
use common::component;
use common::day::{busiest_day, post_window};
use common::host::{SimWorld, database_url};
use common::proxy::Proxy;
use racelab::config::{AlertSettings, Cadence, Config, HttpSettings, JobSettings, SourceConfig, StoreSettings};
use racelab::daemon::{Daemon, Options};
use racelab::fetch::Secret;
use racelab_sim::{Calendar, Discipline, SimConfig, expect};
use sqlx::PgPool;

const SEED: u64 = 7;
const SPEED: f64 = 120.0;

#[sqlx::test(migrations = false)]
async fn the_host_survives_a_database_outage_and_the_day_completes(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, _) = post_window(SEED, date, &tracks);
    let world =
        SimWorld::start(first_post - TimeDelta::minutes(62), SPEED, SimConfig { seed: SEED, ..SimConfig::default() });
    let proxy = Proxy::start("127.0.0.1:5432").await;
    let direct = database_url(&pool);
    let through_proxy = direct.replacen(":5432/", &format!(":{}/", proxy.port), 1);
    assert_ne!(direct, through_proxy, "the test database URL names port 5432");

    let source = |package: &str, name: &str| SourceConfig {
        tracks: racelab::tracks::of_source(name),
        plugin: Some(component(package)),
        base_url: Some(world.sim.base_url.clone()),
        service_key: Some(Secret::new("test-key")),
        daily_quota: BTreeMap::from([("*".to_string(), 100_000)]),
        per_second: Some(50),
        // The simulator shows odds before the race (live mode): poll them.
        config: if name == "kra" {
            BTreeMap::from([("odds-timing".to_string(), "before-race".to_string())])
        } else {
            BTreeMap::new()
        },
    };
    let config = Config {
        database_url: Secret::new(through_proxy.clone()),
        listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        sources: BTreeMap::from([
            ("kra".to_string(), source("racelab-plugin-kra", "kra")),
            ("kspo".to_string(), source("racelab-plugin-kspo", "kspo")),
        ]),
        alerts: AlertSettings::default(),
        cadence: Cadence::default(),
        store: StoreSettings::default(),
        http: HttpSettings { timeout_s: 5 },
        jobs: JobSettings { backoff_base_ms: 50, backoff_cap_s: 1, ..JobSettings::default() },
        cache_dir: common::plugin_cache(),
        plugin_dir: None,
        admin_token: None,
        sim_clock: None,
    };
    let options = Options {
        clock: world.clock.clone().into(),
        worker_name: "outage-test".into(),
        tick: "* * * * * *".into(),
        lookahead: Duration::from_secs(2),
        poll: Duration::from_millis(50),
        live: true,
    };
    let daemon = Daemon::start(&config, options).await.expect("the host starts");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(daemon.run(async {
        let _ = stopped.await;
    }));

    // Odds polling is under way when the database goes for four seconds (eight simulated
    // minutes), then comes back.
    world.wait_until(first_post - TimeDelta::minutes(40)).await;
    proxy.fail().await;
    let probe = tokio::time::timeout(Duration::from_secs(2), sqlx::PgPool::connect(&through_proxy)).await;
    assert!(!matches!(probe, Ok(Ok(_))), "the database is unreachable through the proxy");
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert!(!running.is_finished(), "the host keeps running without its database");
    proxy.recover();
    let end = first_post + TimeDelta::minutes(20);
    world.wait_until(end).await;
    let _ = stop.send(());
    running.await.expect("the daemon task").expect("the daemon ends cleanly");

    // Everything due after the outage, and what was in flight during it, ran.
    let outage_end = first_post - TimeDelta::minutes(32);
    let lost: Vec<(String, String, i16, String)> = sqlx::query_as(
        "SELECT op, track, race_number, state FROM planned_jobs
         WHERE slot <= $1 AND state NOT IN ('done', 'superseded')",
    )
    .bind((end - TimeDelta::minutes(3)).to_utc())
    .fetch_all(&pool)
    .await
    .expect("jobs");
    assert!(lost.is_empty(), "jobs due but not done: {lost:?}");
    let failures: i64 =
        sqlx::query_scalar("SELECT count(*) FROM ingestion_failures").fetch_one(&pool).await.expect("failures");
    assert_eq!(failures, 0, "an outage is retried, not a failure of the source");
    let after: i64 =
        sqlx::query_scalar("SELECT count(*) FROM planned_jobs WHERE op = 'odds' AND slot > $1 AND state = 'done'")
            .bind(outage_end.to_utc())
            .fetch_one(&pool)
            .await
            .expect("odds after");
    assert!(after > 0, "polling resumed after the outage");

    // The first races are complete, and every stored poll is whole.
    let calendar = Calendar::new(SEED);
    for track in &tracks {
        for race in expect::day(&calendar, *track, date) {
            let official = race_post(&calendar, *track, date, race.number) + TimeDelta::minutes(16);
            let (entries, results, dividends): (i64, i64, i64) = sqlx::query_as(
                "SELECT (SELECT count(*) FROM entries WHERE track = $1 AND race_date = $2 AND race_number = $3),
                        (SELECT count(*) FROM results WHERE track = $1 AND race_date = $2 AND race_number = $3),
                        (SELECT count(*) FROM dividends WHERE track = $1 AND race_date = $2 AND race_number = $3)",
            )
            .bind(track.code())
            .bind(date)
            .bind(i16::from(race.number))
            .fetch_one(&pool)
            .await
            .expect("counts");
            assert_eq!(entries, race.entries as i64, "{} race {} entries", track.code(), race.number);
            if official <= end - TimeDelta::minutes(2) {
                assert_eq!((results, dividends), (race.result_rows as i64, race.dividend_rows as i64));
            }
            if track.discipline() == Discipline::Horse {
                let partial: i64 = sqlx::query_scalar(
                    "SELECT count(*) FROM (SELECT count(*) AS n FROM odds_snapshots o
                                           JOIN races r USING (track, race_date, race_number)
                                           WHERE o.track = $1 AND o.race_date = $2 AND o.race_number = $3
                                             AND o.captured_at < r.post_time
                                           GROUP BY o.captured_at) p WHERE n > $4",
                )
                .bind(track.code())
                .bind(date)
                .bind(i16::from(race.number))
                .bind(2 * race.starters as i64)
                .fetch_one(&pool)
                .await
                .expect("polls");
                assert_eq!(partial, 0, "{} race {}: a poll stored more than once", track.code(), race.number);
            }
        }
    }
}

fn race_post(
    calendar: &Calendar,
    track: racelab_sim::Track,
    date: NaiveDate,
    number: u8,
) -> chrono::DateTime<chrono::FixedOffset> {
    calendar
        .day(track, date)
        .and_then(|d| d.races.iter().find(|r| r.number == number).map(|r| r.post_time))
        .expect("the race exists")
}
