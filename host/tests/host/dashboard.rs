//! The dashboard in a real browser: headless Debian Chromium driven by playwright-core
//! (`tests/browser/dashboard.mjs`) against a host that ran the first races of a simulated day
//! after a broken morning. The page shows the sources, the day's races and a drawn odds chart
//! for a race; a failure's retry button (after the page asks for the token) queues its job,
//! which this test runs, and the failure leaves the page; nothing is asked of another host.
//! The screenshot stays in `target/browser/dashboard.png`.

use std::process::Stdio;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeDelta};
use sqlx::PgPool;

use crate::common;
use crate::common::day::{busiest_day, post_window};

const SEED: u64 = 11;
const TOKEN: &str = "admin-token-of-the-dashboard-test";

/// Installs and activates both components in the registry, as a deployed host has them.
async fn seed_registry(pool: &PgPool) {
    let runtime = std::sync::Arc::new(
        racelab::plugins::Runtime::new(racelab::plugins::Limits::default())
            .expect("runtime")
            .with_cache_dir(&common::plugin_cache()),
    );
    let registry = racelab::plugins::registry::Registry::new(pool.clone());
    for package in ["racelab-plugin-kra", "racelab-plugin-kspo"] {
        let bytes = std::fs::read(common::component(package)).expect("component");
        registry.seed(&runtime, bytes, "dashboard-test").await.expect("seed");
    }
}

#[sqlx::test(migrations = false)]
async fn the_dashboard_shows_the_day_and_a_retry_clears_a_failure(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let root = common::workspace();
    let driver = root.join("tests/browser/node_modules/playwright-core");
    assert!(
        driver.is_dir(),
        "the browser driver is missing: run `npm ci --prefix tests/browser` (and install Debian's chromium), as .ci/run does"
    );
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, _) = post_window(SEED, date, &tracks);
    let (day, _) = common::api::day_after_a_broken_morning(&pool, SEED, date).await;
    day.morning(first_post).await;
    day.run_until(first_post + TimeDelta::minutes(45), TimeDelta::seconds(60)).await;
    seed_registry(&pool).await;
    let races: i64 = day.count("SELECT count(*) FROM races WHERE race_date = $1", date).await;
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM ingestion_failures WHERE resolved_at IS NULL")
        .fetch_one(&pool)
        .await
        .expect("open failures");
    assert!(failed > 0);
    let (base, server) =
        common::api::serve(common::api::state(&pool, &day.worker, day.clock.clone().into(), Some(TOKEN))).await;

    let shots = root.join("target/browser");
    std::fs::create_dir_all(&shots).expect("target/browser");
    let screenshot = shots.join("dashboard.png");
    let _ = std::fs::remove_file(&screenshot);
    let mut browser = tokio::process::Command::new("node")
        .arg(root.join("tests/browser/dashboard.mjs"))
        .env("BASE", &base)
        .env("TOKEN", TOKEN)
        .env("RACES", races.to_string())
        .env("FAILURES", failed.to_string())
        .env("SCREENSHOT", &screenshot)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("node runs (Node.js 18 or later)");
    // The page retries a failure through the API; the host's worker is this test's: run what
    // the retry queued, as a serving host would at once.
    let started = Instant::now();
    let status = loop {
        if let Some(status) = browser.try_wait().expect("the browser test") {
            break status;
        }
        assert!(started.elapsed() < Duration::from_secs(240), "the browser test ran for 4 minutes");
        let queued: i64 = sqlx::query_scalar("SELECT count(*) FROM planned_jobs WHERE state = 'queued'")
            .fetch_one(&pool)
            .await
            .expect("queued");
        if queued > 0 {
            day.step().await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let output = browser.wait_with_output().await.expect("output");
    let (stdout, stderr) = (String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(status.success(), "the browser test failed ({status}):\n{stdout}\n{stderr}");
    server.abort();

    let seen: serde_json::Value = serde_json::from_str(stdout.lines().last().unwrap_or_default()).expect("what it saw");
    assert_eq!(seen["races"], races, "{seen}");
    assert!(seen["chart_points"].as_i64().unwrap_or(0) > 0, "{seen}");
    let retried = seen["retried"].as_i64().expect("the failure it retried");
    let resolved: bool = sqlx::query_scalar("SELECT resolved_at IS NOT NULL FROM ingestion_failures WHERE id = $1")
        .bind(retried)
        .fetch_one(&pool)
        .await
        .expect("failure");
    assert!(resolved, "failure #{retried} is resolved in the database");
    let open: i64 = sqlx::query_scalar("SELECT count(*) FROM ingestion_failures WHERE resolved_at IS NULL")
        .fetch_one(&pool)
        .await
        .expect("open");
    assert_eq!(open, failed - 1, "only the retried failure was cleared");
    let png = std::fs::metadata(&screenshot).expect("the screenshot is kept");
    assert!(png.len() > 10_000, "{png:?}");
}
