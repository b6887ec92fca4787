//! Replay and diff over a real archive: a simulated race day through the real host (planner,
//! queue, worker, compiled components, store, the simulator over HTTP, PostgreSQL) fills
//! `raw_responses`; then the archive is parsed again — by the same components, by a different
//! one — and written again, into the live database and into a fresh one.

use crate::common;

use std::process::{Command, Output};

use chrono::{NaiveDate, TimeDelta};
use common::day::{Day, DayOptions, busiest_day, kst, post_window};
use racelab::plugins::registry::{Registry, ReplayWindow};
use racelab::plugins::{Limits, Plugin, Runtime};
use racelab::replay::{self, Range, ReplayReport};
use racelab::store::{self, Store, StoreConfig};
use racelab_sim::SimConfig;
use serde_json::Value;
use sqlx::PgPool;

const SEED: u64 = 11;

fn first_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 1).expect("date")
}

fn load(runtime: &Runtime, package: &str) -> Plugin {
    runtime.load_file(&common::component(package)).expect("component loads")
}

/// What the derived tables hold: a count and a digest of every row's content, per table, so two
/// databases compare row for row. Every day's: the day's jobs also ask about yesterday's races.
async fn contents(pool: &PgPool) -> Vec<(String, i64, String)> {
    let tables = [
        ("races", "SELECT track, race_date, race_number, meeting, name, distance_m, post_time, grade, field_size FROM races"),
        (
            "entries",
            "SELECT track, race_date, race_number, number, runner_id, runner_name, jockey, trainer, weight_kg, rating,
                    scratched, scratch_reason, scratched_at FROM entries",
        ),
        ("odds", "SELECT track, race_date, race_number, pool, selection, captured_at, price, capped FROM odds_snapshots"),
        (
            "odds_latest",
            "SELECT track, race_date, race_number, pool, selection, price, capped, captured_at FROM odds_latest",
        ),
        (
            "results",
            "SELECT track, race_date, race_number, runner_key, number, runner_id, runner_name, position, status, time_s,
                    margin, win_odds, place_odds FROM results",
        ),
        ("dividends", "SELECT track, race_date, race_number, pool, selection, payout FROM dividends"),
    ];
    let mut out = Vec::new();
    for (table, select) in tables {
        let sql =
            format!("SELECT count(*), COALESCE(md5(string_agg(t::text, '|' ORDER BY t::text)), '') FROM ({select}) t");
        let (n, digest): (i64, String) = sqlx::query_as(sqlx::AssertSqlSafe(sql)).fetch_one(pool).await.expect(table);
        out.push((table.to_string(), n, digest));
    }
    out
}

/// A database of its own beside the test's, migrated, with `from`'s raw archive copied in
/// and nothing else.
async fn fresh_database(from: &PgPool, date: NaiveDate) -> (PgPool, String) {
    let base = common::host::database_url(from);
    // The test database's name is already as long as PostgreSQL keeps (63 bytes): a name of
    // its own, short, one per test process.
    let name = format!("racelab_replayed_{}", std::process::id());
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")))
        .execute(from)
        .await
        .expect("drop");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE \"{name}\""))).execute(from).await.expect("create");
    let pool = store::connect(&store::with_database(&base, &name)).await.expect("connect");
    store::migrate(&pool).await.expect("migrate");
    Store::new(pool.clone(), StoreConfig::default()).ensure_partitions(date, 2).await.expect("partitions");
    type Raw = (i64, Instant, String, String, String, i32, Vec<u8>, i32, Option<Value>, Option<Value>, Option<Instant>);
    type Instant = chrono::DateTime<chrono::Utc>;
    let rows: Vec<Raw> = sqlx::query_as(
        "SELECT id, fetched_at, source, dataset, url, status, body_gz, body_bytes, operation, request, captured_at
         FROM raw_responses ORDER BY id",
    )
    .fetch_all(from)
    .await
    .expect("archive");
    for (id, fetched_at, source, dataset, url, status, body_gz, body_bytes, operation, request, captured_at) in rows {
        sqlx::query(
            "INSERT INTO raw_responses
                 (id, fetched_at, source, dataset, url, status, body_gz, body_bytes, operation, request, captured_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
        )
        .bind(id)
        .bind(fetched_at)
        .bind(source)
        .bind(dataset)
        .bind(url)
        .bind(status)
        .bind(body_gz)
        .bind(body_bytes)
        .bind(operation)
        .bind(request)
        .bind(captured_at)
        .execute(&pool)
        .await
        .expect("copy");
    }
    (pool, name)
}

async fn replay_both(store: &Store, runtime: &Runtime, date: NaiveDate, dry_run: bool) -> Vec<ReplayReport> {
    let mut reports = Vec::new();
    for (source, package) in [("kra", "racelab-plugin-kra"), ("kspo", "racelab-plugin-kspo")] {
        let range = Range::new(source, date, date).expect("range");
        let plugin = load(runtime, package);
        let tracks = racelab::tracks::of_source(source);
        reports.push(replay::replay(store, &plugin, &range, &tracks, dry_run).await.expect("replay"));
    }
    reports
}

fn racelab(args: &[&str], database_url: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_racelab"))
        .args(args)
        .env("RACELAB_LOG", "error")
        .env("RACELAB_CACHE_DIR", common::plugin_cache())
        .env("DATABASE_URL", database_url)
        .output()
        .expect("racelab runs")
}

/// A race day, then everything replay and diff promise of its archive.
#[sqlx::test(migrations = false)]
async fn a_days_archive_diffs_and_replays_to_what_the_live_run_stored(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let (date, tracks) = busiest_day(SEED, first_day());
    let (first_post, last_post) = post_window(SEED, date, &tracks);
    // The unchanged-skip on, as in production: the replay must skip what the live run skipped.
    let options = DayOptions {
        sim: SimConfig { seed: SEED, ..SimConfig::default() },
        daily_quota: Some(100_000),
        ..DayOptions::default()
    };
    let day = Day::new(pool, kst(date, 5, 59), options).await;
    day.morning(first_post).await;
    // Minute steps: fewer pre-race polls than the cadence plans, as many as a replay needs.
    day.run_until(last_post + TimeDelta::minutes(20), TimeDelta::minutes(1)).await;
    let live = contents(&day.pool).await;
    println!("live {date}: {live:?}");
    for (table, n, _) in &live {
        assert!(*n > 0, "the live run stored {table}");
    }

    // 1. Every response has what a re-parse needs, and never the key the host sent.
    let (rows, unrecorded, keyed, with_key): (i64, i64, i64, i64) = sqlx::query_as(
        "SELECT count(*),
                count(*) FILTER (WHERE operation IS NULL OR request IS NULL OR captured_at IS NULL),
                count(*) FILTER (WHERE request->>'path' LIKE '/%' AND jsonb_array_length(request->'query') > 0),
                count(*) FILTER (WHERE operation::text LIKE '%test-key%' OR request::text LIKE '%test-key%')
         FROM raw_responses",
    )
    .fetch_one(&day.pool)
    .await
    .expect("archive");
    assert!(rows > 100, "{rows} responses archived");
    assert_eq!(unrecorded, 0, "every response archived with its operation and request");
    assert_eq!(keyed, rows, "the archived requests carry their path and query");
    assert_eq!(with_key, 0, "the service key is never archived");

    let runtime = Runtime::new(Limits::default()).expect("runtime");
    let kra = load(&runtime, "racelab-plugin-kra");
    let range = Range::new("kra", date, date).expect("range");
    let kra_rows: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM raw_responses WHERE source = 'kra' AND captured_at >= $1 AND captured_at < $2",
    )
    .bind(range.start())
    .bind(range.end())
    .fetch_one(&day.pool)
    .await
    .expect("kra rows");

    // 2. The KRA component against itself: the same readings.
    let same = replay::diff(&day.pool, &kra, &kra, &range, 3).await.expect("diff");
    assert_eq!(same.responses as i64, kra_rows);
    assert!(same.is_same(), "{same:#?}");
    for table in ["races", "entries", "odds", "results", "dividends"] {
        let t = same.table(table).expect("table");
        assert!(t.old_records > 0 && t.old_records == t.new_records, "{t:?}");
        assert_eq!((t.added, t.removed, t.changed), (0, 0, 0), "{t:?}");
    }
    assert!(same.new_failures().is_empty());

    // 3. Against a component that reads none of it: every record removed, every response the
    // KRA component read a new failure.
    let other = load(&runtime, "racelab-test-misbehaving");
    let worse = replay::diff(&day.pool, &kra, &other, &range, 2).await.expect("diff");
    assert!(!worse.is_same());
    let parsed = worse.old.read + worse.old.no_data;
    assert_eq!(worse.new_failures().len() as u64, parsed, "{:?}", worse.new);
    assert_eq!(worse.new.failed.get("bad_request").copied(), Some(worse.responses), "{:?}", worse.new);
    for t in &worse.tables {
        assert_eq!((t.new_records, t.added, t.changed), (0, 0, 0), "{t:?}");
        assert_eq!(t.old_records, same.table(t.table).expect("table").old_records);
        assert!(t.removed <= t.old_records && (t.old_records == 0) == (t.removed == 0), "{t:?}");
        assert!(t.examples.removed.len() <= 2);
    }
    let failure = &worse.new_failures()[0];
    assert!(failure.message.contains("no behaviour for"), "{failure:?}");
    assert!(failure.operation["kind"].is_string(), "{failure:?}");
    // The other way round the records are added, and nothing fails anew.
    let better = replay::diff(&day.pool, &other, &kra, &range, 2).await.expect("diff");
    assert!(better.new_failures().is_empty());
    assert_eq!(better.table("odds").expect("odds").added, worse.table("odds").expect("odds").removed);

    // The KRA variant (tests/components/kra-variant): race names changed, scratches dropped, an
    // XLA dividend beside each TRI one, race 1's results unread; entries and odds as KRA.
    let variant = runtime.load_file(&common::kra_altered()).expect("the variant loads");
    let changed = replay::diff(&day.pool, &kra, &variant, &range, 2).await.expect("diff");
    let counts = |t: &str| {
        let t = changed.table(t).expect("table");
        (t.old_records, t.new_records, t.added, t.removed, t.changed)
    };
    for table in ["entries", "odds"] {
        let (old, new, added, removed, changed) = counts(table);
        assert_eq!((new, added, removed, changed), (old, 0, 0, 0), "{table}");
    }
    let races = changed.table("races").expect("races");
    assert!(races.changed > 0 && races.added == 0, "{races:?}");
    // Race 1's results unread: the status they carried (run) is all the races lose.
    assert!(races.removed > 0, "{races:?}");
    assert!(races.examples.removed.iter().all(|r| r["race"]["number"] == 1 && r["status"] == "run"), "{races:?}");
    assert!(races.examples.changed[0].new["name"].as_str().is_some_and(|n| n.ends_with(" (variant)")));
    let scratches = changed.table("scratches").expect("scratches");
    assert!(scratches.removed > 0 && scratches.new_records == 0 && scratches.changed == 0, "{scratches:?}");
    let dividends = changed.table("dividends").expect("dividends");
    assert!(dividends.added > 0 && dividends.changed == 0, "{dividends:?}");
    assert!(dividends.examples.added.iter().all(|d| d["pool"] == "XLA"), "{dividends:?}");
    // Race 1's results: the variant fails on every archived answer, and those the KRA component
    // read are new failures (the simulator answered some requests "quota exhausted", which
    // both fail on, the variant as malformed for race 1's results).
    let race_1_results: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM raw_responses
         WHERE source = 'kra' AND operation->>'kind' = 'results' AND (operation->'race'->>'number')::int = 1",
    )
    .fetch_one(&day.pool)
    .await
    .expect("race 1 results");
    assert!(race_1_results > 0);
    assert_eq!(changed.new.failed.get("malformed").copied(), Some(race_1_results as u64), "{:?}", changed.new);
    let failed = |side: &replay::Side, kind: &str| side.failed.get(kind).copied().unwrap_or(0);
    let old_failed: u64 = changed.old.failed.values().sum();
    assert_eq!(old_failed, failed(&changed.old, "quota_exhausted"), "{:?}", changed.old);
    // Race 1's results the KRA component failed on are not new failures.
    let old_failed_race_1 = old_failed - failed(&changed.new, "quota_exhausted");
    assert_eq!(changed.new_failures().len() as u64, race_1_results as u64 - old_failed_race_1);
    assert!(changed.new_failures().iter().all(|f| f.operation["race"]["number"] == 1 && f.kind == "malformed"));
    let (_, _, _, results_removed, _) = counts("results");
    assert!(results_removed > 0);

    // The registry's check before activation replays the same archive: the variant may not
    // replace the active KRA version, and the refusal names the responses it fails on.
    let registry = Registry::new(day.pool.clone()).with_replay(ReplayWindow {
        days: 7,
        clock: racelab_sim::Clock::fixed(kst(date + TimeDelta::days(2), 12, 0)).into(),
    });
    let shared = std::sync::Arc::new(Runtime::new(Limits::default()).expect("runtime"));
    let kra_bytes = std::fs::read(common::component("racelab-plugin-kra")).expect("kra");
    registry.install(&shared, kra_bytes, "test").await.expect("install");
    let first = registry.activate(&shared, "kra", &common::kra_version(), "test", false).await.expect("first");
    assert!(first.checks.iter().all(|c| c.name != "replay"), "nothing to replay against: {first:?}");
    let (candidate, _) = registry
        .install(&shared, std::fs::read(common::kra_altered()).expect("variant"), "test")
        .await
        .expect("install");
    let refused = registry.activate(&shared, "kra", &candidate.version, "test", false).await.expect_err("refused");
    let text = refused.to_string();
    let expected = format!("replay failed: {} of ", changed.new_failures().len());
    assert!(text.contains(&expected) && text.contains("raw_responses #") && text.contains("malformed"), "{text}");
    assert!(text.contains(&format!("{} to", date - TimeDelta::days(4))), "the window is named: {text}");
    let active = registry.active(&["kra".to_string()]).await.expect("active");
    assert_eq!(active[0].version, common::kra_version(), "the active version stays");
    // KRA against itself under another version passes the replay; --force overrides a refusal.
    let forced = registry.activate(&shared, "kra", &candidate.version, "test", true).await.expect("forced");
    let replay_check = forced.checks.iter().find(|c| c.name == "replay").expect("replayed");
    assert!(forced.forced && !replay_check.passed, "{forced:?}");
    let back = registry.rollback(&shared, "kra", "test").await.expect("rollback");
    assert_eq!(back.version, common::kra_version());

    // 4. Replayed over the live-ingested day: nothing changes, dry or not.
    let store = Store::new(day.pool.clone(), StoreConfig::default());
    for dry_run in [true, false] {
        for report in replay_both(&store, &runtime, date, dry_run).await {
            assert_eq!(report.tables.written(), 0, "{report:#?}");
            assert!(report.runs_written > 0 && report.refused == 0, "{report:#?}");
            assert!(report.tables.odds_skipped_unchanged > 0 || report.source == "kspo", "{report:#?}");
        }
    }
    assert_eq!(contents(&day.pool).await, live, "the live day after a replay over it");

    // 5. Into a fresh database holding only the archive: the same rows as the live run.
    let (fresh, name) = fresh_database(&day.pool, date).await;
    let fresh_store = Store::new(fresh.clone(), StoreConfig::default());
    let dry = replay_both(&fresh_store, &runtime, date, true).await;
    assert!(contents(&fresh).await.iter().all(|(_, n, _)| *n == 0), "a dry run keeps nothing");
    let first = replay_both(&fresh_store, &runtime, date, false).await;
    for (d, f) in dry.iter().zip(&first) {
        assert_eq!(d.tables, f.tables, "a dry run reports what the replay writes");
    }
    let odds: u64 = first.iter().map(|r| r.tables.odds).sum();
    assert_eq!(odds as i64, live.iter().find(|t| t.0 == "odds").expect("odds").1);
    assert_eq!(contents(&fresh).await, live, "the fresh database after a replay");
    // 6. Again: nothing new.
    for report in replay_both(&fresh_store, &runtime, date, false).await {
        assert_eq!(report.tables.written(), 0, "{report:#?}");
    }
    assert_eq!(contents(&fresh).await, live);

    // 7. The commands: a table by default, one JSON document with --json.
    let url = common::host::database_url(&day.pool);
    let kra_wasm = common::component("racelab-plugin-kra").display().to_string();
    let day_text = date.to_string();
    let window = ["--source", "kra", "--from", &day_text, "--to", &day_text];
    let out = racelab(&[&["plugin", "diff", &kra_wasm, &kra_wasm][..], &window, &["--json"]].concat(), &url);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(json["responses"].as_i64(), Some(kra_rows));
    assert_eq!(json["new_failures"].as_array().map(Vec::len), Some(0));
    let out = racelab(&[&["replay", &kra_wasm][..], &window, &["--dry-run"]].concat(), &url);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("would write (dry run") && text.contains("odds"), "{text}");

    fresh.close().await;
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE \"{name}\" WITH (FORCE)")))
        .execute(&day.pool)
        .await
        .expect("drop the fresh database");
}

/// Bad input says what and where; a range with nothing archived says so.
#[sqlx::test(migrations = "../migrations")]
async fn the_commands_refuse_bad_input_clearly(pool: PgPool) {
    let url = common::host::database_url(&pool);
    let kra = common::component("racelab-plugin-kra").display().to_string();
    let fails = |args: &[&str]| {
        let out = racelab(args, &url);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = fails(&["replay", &kra, "--source", "kra", "--from", "2026-12-32", "--to", "2026-12-01"]);
    assert!(err.contains("--from") && err.contains("2026-12-32") && err.contains("YYYY-MM-DD"), "{err}");
    let err = fails(&["replay", &kra, "--source", "jra", "--from", "2026-12-01", "--to", "2026-12-01"]);
    assert!(err.contains("\"jra\"") && err.contains("kra, kspo"), "{err}");
    let err = fails(&["replay", &kra, "--source", "kra", "--from", "2026-12-02", "--to", "2026-12-01"]);
    assert!(err.contains("after"), "{err}");
    let err = fails(&[
        "plugin",
        "diff",
        &kra,
        "/nowhere/new.wasm",
        "--source",
        "kra",
        "--from",
        "2026-12-01",
        "--to",
        "2026-12-01",
    ]);
    assert!(err.contains("NEW") && err.contains("/nowhere/new.wasm"), "{err}");
    // A registry version as NAME@VERSION: installed through the CLI, then resolved.
    let installed = racelab(&["plugin", "install", &kra, "--activate"], &url);
    assert!(installed.status.success(), "{}", String::from_utf8_lossy(&installed.stderr));
    let listed = racelab(&["plugin", "list"], &url);
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).expect("list prints JSON");
    assert_eq!(listed["versions"][0]["active"], true, "{listed}");
    let seed = format!("kra@{}", common::kra_version());
    let window = ["--source", "kra", "--from", "2026-12-01", "--to", "2026-12-01"];
    let err = fails(&[&["plugin", "diff", &seed, &seed][..], &window[..]].concat());
    assert!(err.contains("no archived kra responses"), "both versions resolved, then the empty range: {err}");
    let err = fails(&[&["plugin", "diff", &seed, "kra@9.9.9"][..], &window[..]].concat());
    assert!(err.contains("NEW") && err.contains("kra@9.9.9 is not installed"), "{err}");
    let err = fails(&["replay", &kra, "--source", "kspo", "--from", "2026-12-01", "--to", "2026-12-03", "--json"]);
    assert!(
        err.contains("no archived kspo responses") && err.contains("2026-12-01") && err.contains("2026-12-03"),
        "{err}"
    );
}
