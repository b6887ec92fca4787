//! The `racelab plugin` commands as scripts use them: the real binary, real components, the
//! simulator over HTTP; JSON on stdout and the documented exit codes.

use crate::common;

use std::process::{Command, Output};

use chrono::TimeZone;
use serde_json::Value;

fn racelab(args: &[&str]) -> Output {
    racelab_with(args, &[])
}

fn racelab_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_racelab"))
        .args(args)
        .env("RACELAB_LOG", "error")
        .env("RACELAB_CACHE_DIR", common::plugin_cache())
        .envs(env.iter().copied())
        .output()
        .expect("racelab runs")
}

/// Runs `racelab` and kills it if it is still running after `limit`: the commands under test
/// once hung.
fn racelab_within(args: &[&str], limit: std::time::Duration) -> (Output, std::time::Duration) {
    let started = std::time::Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_racelab"))
        .args(args)
        .env("RACELAB_LOG", "error")
        .env("RACELAB_CACHE_DIR", common::plugin_cache())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("racelab runs");
    while started.elapsed() < limit {
        if child.try_wait().expect("wait").is_some() {
            return (child.wait_with_output().expect("output"), started.elapsed());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("racelab {args:?} still ran after {limit:?}");
}

fn component(package: &str) -> String {
    common::component(package).display().to_string()
}

fn stdout_json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {}", String::from_utf8_lossy(&output.stdout)))
}

fn kra() -> String {
    common::component("racelab-plugin-kra").display().to_string()
}

fn fixture(name: &str) -> String {
    common::workspace().join("tests/fixtures").join(name).display().to_string()
}

const ENTRIES_URL: &str = "http://127.0.0.1:8080/B551015/API26_2/entrySheet_2?_type=json&pageNo=1&numOfRows=1000&meet=1&rc_date=20260103&rc_no=1";

#[test]
fn check_prints_the_manifest() {
    let out = racelab(&["plugin", "check", &kra()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let manifest = stdout_json(&out);
    assert_eq!(manifest["name"], "kra");
    assert_eq!(manifest["api_version"], "0.2.0");
    assert_eq!(manifest["tracks"], serde_json::json!(["seoul", "busan", "jeju"]));
    assert_eq!(manifest["credential_param"], "serviceKey");
}

#[test]
fn check_of_a_component_that_sleeps_an_hour_in_its_manifest_ends_at_once() {
    let (out, took) =
        racelab_within(&["plugin", "check", &component("racelab-test-sleepy")], std::time::Duration::from_secs(60));
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout_json(&out)["name"], "sleepy");
    assert!(took < std::time::Duration::from_secs(30), "took {took:?}");
}

#[test]
fn precompiled_code_is_loaded_only_when_trusted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cwasm = dir.path().join("kra.cwasm").display().to_string();
    let compiled = racelab(&["plugin", "compile", &kra(), "-o", &cwasm]);
    assert!(compiled.status.success(), "{}", String::from_utf8_lossy(&compiled.stderr));
    for command in ["check", "run"] {
        let mut args = vec!["plugin", command, cwasm.as_str()];
        if command == "run" {
            args.extend([
                "--op",
                "schedule",
                "--track",
                "seoul",
                "--date",
                "2026-11-28",
                "--base-url",
                "http://127.0.0.1:1",
            ]);
        }
        let out = racelab(&args);
        assert_eq!(out.status.code(), Some(1), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("kra.cwasm is precompiled native code") && stderr.contains("--trust-precompiled"),
            "{stderr}"
        );
    }
    // Renaming it does not make it a component.
    let renamed = dir.path().join("kra.wasm").display().to_string();
    std::fs::copy(&cwasm, &renamed).expect("copy");
    let out = racelab(&["plugin", "check", &renamed]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("is precompiled native code"), "{out:?}");
    // With the flag it loads, as the operator asked.
    let out = racelab(&["plugin", "check", "--trust-precompiled", &cwasm]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(stdout_json(&out)["name"], "kra");
}

#[test]
fn the_log_json_variable_takes_what_the_readme_says() {
    for value in ["1", "true", "yes", "0"] {
        let out = racelab_with(&["plugin", "check", &kra()], &[("RACELAB_LOG_JSON", value)]);
        assert!(out.status.success(), "RACELAB_LOG_JSON={value}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn load_errors_are_whole_and_said_once() {
    let out = racelab(&["plugin", "check", "/nonexistent/plugin.wasm"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr.trim(),
        "error: cannot read plugin file /nonexistent/plugin.wasm: No such file or directory (os error 2)"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let text = dir.path().join("text.wasm");
    std::fs::write(&text, b"hello, world").expect("write");
    let out = racelab(&["plugin", "check", &text.display().to_string()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad magic number - expected=[ 0x0, 0x61, 0x73, 0x6d, ] actual=[ 0x68,"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}

#[test]
fn run_refuses_a_path_that_leaves_the_base_and_connects_nowhere() {
    let catcher = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    catcher.set_nonblocking(true).expect("nonblocking");
    let port = catcher.local_addr().expect("addr").port();
    let target = format!("target=@127.0.0.1:{port}/x");
    let hostile = component("racelab-test-hostile");
    let args = [
        "plugin",
        "run",
        &hostile,
        "--op",
        "entries",
        "--track",
        "seoul",
        "--date",
        "2026-11-28",
        "--race",
        "1",
        "--config",
        "mode=exfil-userinfo",
        "--config",
        &target,
        "--base-url",
        "http://127.0.0.1:1",
        "--service-key",
        "SERVICE-KEY",
    ];
    let out = racelab(&args);
    assert_eq!(out.status.code(), Some(1));
    let doc = stdout_json(&out);
    assert_eq!(doc["error"]["kind"], "plugin_fault");
    let message = doc["error"]["message"].as_str().expect("message");
    assert!(message.contains("hostile 0.1.0") && message.contains(&format!("(path @127.0.0.1:{port}/x)")), "{message}");
    assert!(catcher.accept().is_err(), "nothing connected to 127.0.0.1:{port}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("SERVICE-KEY"));
}

#[test]
fn check_refuses_what_is_not_a_plugin_with_the_reason() {
    let dir = tempfile::tempdir().expect("tempdir");
    let garbage = dir.path().join("garbage.wasm");
    std::fs::write(&garbage, b"definitely not wasm").expect("write");
    let out = racelab(&["plugin", "check", &garbage.display().to_string()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("garbage.wasm is not a WebAssembly component"), "{stderr}");
}

#[test]
fn parse_maps_a_saved_body_with_the_race_read_from_the_url() {
    let out = racelab(&[
        "plugin",
        "parse",
        &kra(),
        "--op",
        "entries",
        "--input",
        &fixture("kra/entrySheet_2.json"),
        "--request-url",
        ENTRIES_URL,
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = stdout_json(&out);
    let records = doc["records"].as_array().expect("records");
    assert!(!records.is_empty());
    for record in records {
        assert_eq!(record["type"], "entry");
        assert_eq!(record["race"], serde_json::json!({"track": "seoul", "date": "2026-01-03", "number": 1}));
        assert!(record["runner_name"].is_string() && record["number"].is_u64());
    }
    assert_eq!(doc["next"], serde_json::json!([]));
}

#[test]
fn parse_reads_the_xml_envelope() {
    let xml = fixture("kra/entrySheet_2.xml");
    let out = racelab(&["plugin", "parse", &kra(), "--op", "entries", "--input", &xml, "--request-url", ENTRIES_URL]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let items = std::fs::read_to_string(&xml).expect("fixture").matches("<item>").count();
    let records = stdout_json(&out)["records"].as_array().expect("records").clone();
    assert_eq!(records.len(), items, "one entry per XML item of race 1");
    assert!(records.iter().all(|r| r["type"] == "entry" && r["runner_name"].is_string()));
}

#[test]
fn parse_prints_a_source_error_and_exits_1() {
    let out = racelab(&[
        "plugin",
        "parse",
        &kra(),
        "--op",
        "entries",
        "--input",
        &fixture("kra/gateway_error_30.xml"),
        "--request-url",
        ENTRIES_URL,
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc = stdout_json(&out);
    assert_eq!(doc["error"]["kind"], "auth");
    assert!(doc["error"]["message"].as_str().expect("message").contains("30"));
    let out = racelab(&[
        "plugin",
        "parse",
        &kra(),
        "--op",
        "entries",
        "--input",
        &fixture("kra/entrySheet_2.json"),
        "--request-url",
        ENTRIES_URL,
        "--status",
        "503",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(stdout_json(&out)["error"]["kind"], "transient");
}

#[test]
fn run_follows_pages_against_the_simulator() {
    let now = racelab_sim::clock::kst().with_ymd_and_hms(2026, 11, 28, 23, 0, 0).single().expect("valid");
    let sim = common::Sim::start(racelab_sim::SimConfig {
        seed: 7,
        clock: racelab_sim::Clock::fixed(now),
        ..Default::default()
    });
    let out = racelab(&[
        "plugin",
        "run",
        &kra(),
        "--op",
        "odds",
        "--track",
        "seoul",
        "--date",
        "2026-11-28",
        "--race",
        "1",
        "--base-url",
        &sim.base_url,
        "--service-key",
        "k",
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc = stdout_json(&out);
    let records = doc["records"].as_array().expect("records");
    let date = chrono::NaiveDate::from_ymd_opt(2026, 11, 28).expect("valid");
    let expected = racelab_sim::expect::day(&racelab_sim::Calendar::new(7), racelab_sim::Track::Seoul, date);
    assert_eq!(records.len(), expected[0].odds_rows_all_pools, "every combination of every pool");
    assert!(records.iter().all(|r| r["type"] == "odds" && (r["price"].is_f64() || r["capped"] == true)));
}

fn admin_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// Runs `sql` on the server's administrative database.
fn admin_statement(rt: &tokio::runtime::Runtime, sql: &str) {
    use sqlx::Connection;
    rt.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&admin_url()).await.expect("admin connection");
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.to_string())).execute(&mut admin).await.expect(sql);
    });
}

/// An empty database `name` (dropped first if a run before left it); returns its URL.
fn fresh_database(rt: &tokio::runtime::Runtime, name: &str) -> String {
    admin_statement(rt, &format!("DROP DATABASE IF EXISTS {name}"));
    admin_statement(rt, &format!("CREATE DATABASE {name}"));
    let base = admin_url();
    format!("{}/{name}", base.rsplit_once('/').map_or(base.as_str(), |(head, _)| head))
}

#[test]
fn migrate_creates_the_schema_and_is_idempotent() {
    use sqlx::Connection;
    let rt = common::async_runtime();
    let name = format!("racelab_cli_migrate_{}", std::process::id());
    let base = admin_url();
    let db_url = fresh_database(&rt, &name);
    for run in 0..2 {
        let out = racelab(&["migrate", "--database-url", &db_url]);
        assert!(out.status.success(), "run {run}: {}", String::from_utf8_lossy(&out.stderr));
    }
    rt.block_on(async {
        let mut db = sqlx::PgConnection::connect(&db_url).await.expect("connect");
        let tracks: i64 = sqlx::query_scalar("SELECT count(*) FROM tracks").fetch_one(&mut db).await.expect("tracks");
        assert_eq!(tracks, 5);
        let partitions: i64 =
            sqlx::query_scalar("SELECT count(*) FROM pg_inherits WHERE inhparent = 'odds_polls'::regclass")
                .fetch_one(&mut db)
                .await
                .expect("partitions");
        assert!(partitions >= 5, "this month, three ahead and the default: {partitions}");
        db.close().await.expect("close");
        let mut admin = sqlx::PgConnection::connect(&base).await.expect("admin connection");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {name}"))).execute(&mut admin).await.expect("drop");
    });
}

#[test]
fn migrate_without_a_database_says_what_to_set() {
    let out = Command::new(env!("CARGO_BIN_EXE_racelab"))
        .arg("migrate")
        .env_remove("DATABASE_URL")
        .output()
        .expect("racelab runs");
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DATABASE_URL is not set: export DATABASE_URL="), "{stderr}");
}

#[test]
fn migrate_against_a_dead_server_fails_without_showing_the_password() {
    let out = racelab(&["migrate", "--database-url", "postgres://racelab:hunter2@127.0.0.1:1/racelab"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("hunter2"), "{stderr}");
    assert!(stderr.contains("127.0.0.1:1"), "the error names the server: {stderr}");
}

/// `racelab` with only the given environment (no `RACELAB_*` from the caller's).
fn racelab_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_racelab"));
    for (k, _) in std::env::vars() {
        if k.starts_with("RACELAB_") || k == "DATABASE_URL" {
            cmd.env_remove(k);
        }
    }
    cmd.args(args).envs(env.iter().copied()).env("RACELAB_LOG", "error").output().expect("racelab runs")
}

#[test]
fn serve_refuses_a_missing_or_unknown_setting_saying_what_to_set() {
    let out = racelab_env(&["serve"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("DATABASE_URL"), "{stderr}");

    let db = admin_url();
    let out = racelab_env(&["serve"], &[("DATABASE_URL", &db), ("RACELAB_KRA_PLUGN", "x.wasm")]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("RACELAB_KRA_PLUGN"), "the unknown variable is named: {stderr}");

    let out = racelab_env(
        &["serve"],
        &[("DATABASE_URL", &db), ("RACELAB_KRA_PLUGIN", "x.wasm"), ("RACELAB_KRA_BASE_URL", "https://apis.data.go.kr")],
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("RACELAB_KRA_SERVICE_KEY"), "the missing value is named: {stderr}");
}

#[test]
fn retry_names_a_failure_that_does_not_exist_and_reports_when_none_is_open() {
    use sqlx::Connection;
    let rt = common::async_runtime();
    let name = format!("racelab_cli_retry_{}", std::process::id());
    let base = admin_url();
    let db_url = format!("{}/{name}", base.rsplit_once('/').map_or(base.as_str(), |(head, _)| head));
    rt.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&base).await.expect("admin connection");
        for sql in [format!("DROP DATABASE IF EXISTS {name}"), format!("CREATE DATABASE {name}")] {
            sqlx::raw_sql(sqlx::AssertSqlSafe(sql)).execute(&mut admin).await.expect("create");
        }
    });
    let out = racelab_env(&["migrate"], &[("DATABASE_URL", &db_url)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let out = racelab_env(&["retry", "--all-open"], &[("DATABASE_URL", &db_url)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "no open failures");
    let out = racelab_env(&["retry", "999"], &[("DATABASE_URL", &db_url)]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("failure #999 cannot be retried: there is no such failure"), "{stderr}");
    let out = racelab_env(&["retry"], &[("DATABASE_URL", &db_url)]);
    assert_eq!(out.status.code(), Some(2), "an id or --all-open is required");
    rt.block_on(async {
        let mut admin = sqlx::PgConnection::connect(&base).await.expect("admin connection");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE {name} WITH (FORCE)")))
            .execute(&mut admin)
            .await
            .expect("drop");
    });
}

#[test]
fn demo_runs_a_whole_race_day_and_prints_a_summary() {
    let _turn = common::turns::turn(module_path!());
    let plugins = common::component("racelab-plugin-kra").parent().expect("dir").to_path_buf();
    let db = format!("racelab_cli_demo_{}", std::process::id());
    // With --listen it serves the dashboard and the API while the day runs.
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("addr").port();
    let listen = format!("127.0.0.1:{port}");
    let child = Command::new(env!("CARGO_BIN_EXE_racelab"))
        .args(["demo", "--seconds", "45", "--database", &db, "--plugins", plugins.to_str().expect("utf-8")])
        .args(["--listen", &listen])
        .env("RACELAB_LOG", "error")
        .env("RACELAB_CACHE_DIR", common::plugin_cache())
        .env("DATABASE_URL", admin_url())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("racelab demo runs");
    let mut answered = None;
    for _ in 0..600 {
        if let Some(body) = http_get(&listen, "/api/status").filter(|b| b.contains("\"sources\"")) {
            answered = Some(body);
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let dashboard = http_get(&listen, "/");
    let out = child.wait_with_output().expect("output");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    let answered = answered.expect("/api/status answered while the demo ran");
    assert!(answered.contains("\"source\":\"kra\"") && answered.contains("\"source\":\"kspo\""), "{answered}");
    assert!(dashboard.is_some_and(|page| page.contains("<title>RaceLab host</title>")));
    assert!(stdout.contains(&format!("dashboard and API: http://{listen}/")), "{stdout}");
    assert!(stdout.contains("the race day completed in"), "{stdout}");
    assert!(stdout.contains("0 open ingestion failures"), "{stdout}");
    assert!(stdout.contains("psql '"), "a query to try: {stdout}");
    // Not a terminal: the progress comes as whole lines, not redrawn in place.
    assert!(stdout.lines().filter(|l| l.contains(" KST ▕")).count() >= 2, "{stdout}");
    assert!(!stdout.contains('\r'), "{stdout}");
    drop_demo_database(&db);
}

/// The demo as the real KRA API behaves: odds only once a race is official. On a two-meet
/// KRA day every KRA race ends with its final odds, and API301 stays within a development
/// key's 1,000 requests a day.
#[test]
fn demo_final_only_lands_every_kra_races_final_odds_within_the_quota() {
    let _turn = common::turns::turn(module_path!());
    use racelab_sim::{Calendar, Track};
    let calendar = Calendar::new(7);
    let date = chrono::NaiveDate::from_ymd_opt(2026, 12, 1)
        .expect("date")
        .iter_days()
        .find(|d| calendar.is_race_day(Track::Seoul, *d) && calendar.is_race_day(Track::Busan, *d))
        .expect("a Seoul and Busan day");
    let plugins = common::component("racelab-plugin-kra").parent().expect("dir").to_path_buf();
    let db = format!("racelab_cli_demo_final_{}", std::process::id());
    let args = [
        "demo",
        "--seconds",
        "45",
        "--odds",
        "final-only",
        "--date",
        &date.to_string(),
        "--database",
        &db,
        "--plugins",
        plugins.to_str().expect("utf-8"),
    ];
    let out = racelab_env(&args, &[("DATABASE_URL", &admin_url())]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("the race day completed in"), "{stdout}");
    assert!(stdout.contains("odds mode: final-only"), "{stdout}");
    assert!(stdout.contains("0 open ingestion failures"), "{stdout}");
    // track, races, entries, odds, final odds, results, dividends
    let rows: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>())
        .filter(|w| w.len() == 7 && ["seoul", "busan", "jeju", "gwangmyeong", "misari"].contains(&w[0]))
        .collect();
    for track in ["seoul", "busan"] {
        let row = rows.iter().find(|w| w[0] == track).unwrap_or_else(|| panic!("{track} in {stdout}"));
        assert_eq!(row[4], row[1], "{track}: every race has its final odds: {stdout}");
        assert_ne!(row[3], "0", "{stdout}");
    }
    let api301: u32 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("requests per dataset: "))
        .and_then(|l| l.split(", ").find_map(|d| d.strip_prefix("kra/API301 ")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("API301 requests in {stdout}"));
    assert!(api301 <= 1_000, "{api301} API301 requests: {stdout}");
    drop_demo_database(&db);
}

/// Drops a database a demo made.
/// The body of a 200 answer to `GET path` from `addr`, if it gave one.
fn http_get(addr: &str, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).ok()?;
    stream.set_read_timeout(Some(std::time::Duration::from_secs(5))).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let (head, body) = answer.split_once("\r\n\r\n")?;
    head.starts_with("HTTP/1.1 200")
        .then(|| body.to_string())
        .or_else(|| head.starts_with("HTTP/1.0 200").then(|| body.to_string()))
}

fn drop_demo_database(db: &str) {
    let rt = common::async_runtime();
    rt.block_on(async {
        use sqlx::Connection;
        let mut admin = sqlx::PgConnection::connect(&admin_url()).await.expect("admin connection");
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)")))
            .execute(&mut admin)
            .await
            .expect("drop");
    });
}

#[test]
fn backfill_dry_run_prints_requests_per_dataset_and_a_bad_range_is_refused() {
    let rt = common::async_runtime();
    let name = format!("racelab_cli_backfill_{}", std::process::id());
    let db_url = fresh_database(&rt, &name);
    let kra_plugin = component("racelab-plugin-kra");
    let cache = common::plugin_cache().display().to_string();
    let env = [
        ("DATABASE_URL", db_url.as_str()),
        ("RACELAB_KRA_PLUGIN", kra_plugin.as_str()),
        ("RACELAB_KRA_BASE_URL", "http://127.0.0.1:9"),
        ("RACELAB_KRA_SERVICE_KEY", "test-key"),
        ("RACELAB_CACHE_DIR", cache.as_str()),
    ];
    let out = racelab_env(&["backfill", "--status"], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("no backfill"));

    let out = racelab_env(&["backfill", "--from", "2025-12-01", "--to", "2026-11-30", "--dry-run"], &env);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}{}", String::from_utf8_lossy(&out.stderr));
    // KRA's final odds: one request per pool (7) and race, at 800 a day (the manifest's 1,000
    // on API301, backfill's 0.8 of it); the dry run sends nothing (the base URL is a dead port).
    let api301 = stdout.lines().find(|l| l.contains("API301")).unwrap_or_else(|| panic!("{stdout}"));
    let cells: Vec<&str> = api301.split_whitespace().collect();
    assert_eq!(&cells[..2], ["kra", "API301"], "{api301}");
    let requests: u64 = cells[2].parse().expect("requests");
    assert_eq!(requests % 7, 0, "{api301}");
    assert_eq!(&cells[3..5], ["1000", "800"], "{api301}");
    assert!(stdout.contains("day(s) at these quotas") && !stdout.contains("kspo"), "{stdout}");
    assert!(!stdout.contains("test-key") && !String::from_utf8_lossy(&out.stderr).contains("test-key"));

    let out = racelab_env(&["backfill", "--from", "2025-12-01", "--to", "2099-01-01"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not in the past"));
    let out = racelab_env(&["backfill", "--from", "2025-12-01", "--to", "2025-12-02", "--ops", "odds,dividends"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("\"dividends\" is not an operation"));
    let out = racelab_env(&["backfill", "--from", "2025-12-01", "--to", "2025-12-02", "--track", "misari"], &env);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("misari"));
    admin_statement(&rt, &format!("DROP DATABASE {name} WITH (FORCE)"));
}
