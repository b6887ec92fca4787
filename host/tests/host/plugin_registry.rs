//! The plugin registry (migration 0010, `plugins::registry`) and the hosts following it
//! (`follow.rs`): versions installed, activated and rolled back with every refusal saying why;
//! two running `racelab serve` hosts switch to a newly activated version within a second while
//! their jobs run, and no job fails because of a swap; a host started with a plugin file does
//! not override what an operator activated.

use crate::common;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{NaiveDate, TimeDelta};
use common::day::{busiest_day, post_window};
use common::host::{SimWorld, database_url, serve_with, terminate, write_config};
use racelab::plugins::registry::{Registry, RegistryError};
use racelab::plugins::{Limits, LoadError, Runtime};
use racelab_sim::SimConfig;
use sqlx::PgPool;

const SEED: u64 = 7;

fn runtime() -> Arc<Runtime> {
    Arc::new(Runtime::new(Limits::default()).expect("runtime").with_cache_dir(&common::plugin_cache()))
}

fn read(path: &std::path::Path) -> Vec<u8> {
    std::fs::read(path).expect("component")
}

/// `wasm` with a custom section `name` appended at the component's top level.
fn with_section(wasm: &[u8], name: &str, payload: &[u8]) -> Vec<u8> {
    let mut contents = Vec::new();
    common::leb(name.len() as u64, &mut contents);
    contents.extend_from_slice(name.as_bytes());
    contents.extend_from_slice(payload);
    let mut out = wasm.to_vec();
    common::section(0, &contents, &mut out);
    out
}

/// `wasm` with a custom section appended: other bytes, the same component.
fn with_custom_section(wasm: &[u8]) -> Vec<u8> {
    with_section(wasm, "racelab-test", b"different bytes, same version")
}

/// A component built for contract 0.1 (tests/components/v0.1/kra.wasm) installs beside the 0.2
/// build and becomes active: its API version is in range and its bundled samples (a record per
/// price) parse through the adapter to the counts they promise. Either way round.
#[sqlx::test(migrations = false)]
async fn a_0_1_component_installs_and_activates_beside_0_2(pool: PgPool) {
    racelab::store::migrate(&pool).await.expect("migrate");
    let registry = Registry::new(pool.clone());
    let runtime = runtime();
    let (old, _) = registry.install(&runtime, read(&common::kra_v0_1()), "test").await.expect("install 0.1");
    assert_eq!((old.name.as_str(), old.version.as_str(), old.api_version.as_str()), ("kra", "0.1.0", "0.1.0"));
    let (new, _) =
        registry.install(&runtime, read(&common::component("racelab-plugin-kra")), "test").await.expect("install 0.2");
    assert_eq!((new.version.as_str(), new.api_version.as_str()), ("0.2.0", "0.2.0"));
    for version in ["0.1.0", "0.2.0"] {
        let a = registry.activate(&runtime, "kra", version, "test", false).await.expect("activate");
        assert!(a.changed && a.checks.iter().all(|c| c.passed), "{version}: {:?}", a.checks);
        let samples = a.checks.iter().find(|c| c.name == "samples").expect("samples checked");
        assert_eq!(samples.detail, "3 bundled samples parse", "{version}");
    }
    let back = registry.rollback(&runtime, "kra", "test").await.expect("rollback");
    assert_eq!(back.version, "0.1.0");
}

#[sqlx::test(migrations = false)]
async fn versions_install_activate_and_roll_back_and_every_refusal_says_why(pool: PgPool) {
    racelab::store::migrate(&pool).await.expect("migrate");
    let registry = Registry::new(pool.clone());
    let runtime = runtime();
    let v1 = read(&common::component("racelab-plugin-kra"));
    let v2 = read(&common::kra_variant("0.1.1-registry.1"));
    let v3 = read(&common::kra_variant("0.1.1-registry.2"));

    let (first, _) = registry.install(&runtime, v1.clone(), "test").await.expect("install");
    assert!(first.new && first.name == "kra" && first.api_version == "0.2.0", "{first:?}");
    let (again, _) = registry.install(&runtime, v1.clone(), "test").await.expect("same bytes again");
    assert!(!again.new && again.id == first.id, "the same bytes are a no-op: {again:?}");
    let version = first.version.clone();

    let a = registry.activate(&runtime, "kra", &version, "test", false).await.expect("activate");
    assert!(a.changed && a.previous.is_none() && !a.forced, "{a:?}");
    assert!(a.checks.iter().all(|c| c.passed), "{:?}", a.checks);
    let samples = a.checks.iter().find(|c| c.name == "samples").expect("the samples check ran");
    assert_eq!(samples.detail, "3 bundled samples parse", "the KRA component bundles its fixtures");
    let a = registry.activate(&runtime, "kra", &version, "test", false).await.expect("activate again");
    assert!(!a.changed, "activating the active version writes nothing");

    for bytes in [v2, v3] {
        let (installed, _) = registry.install(&runtime, bytes, "test").await.expect("install");
        registry.activate(&runtime, "kra", &installed.version, "test", false).await.expect("activate");
    }
    let active = |r: Registry| async move { r.active(&["kra".to_string()]).await.expect("active")[0].version.clone() };
    assert_eq!(active(registry.clone()).await, "0.1.1-registry.2");

    // Rollback walks back, one version at a time, and stops at the first.
    let back = registry.rollback(&runtime, "kra", "test").await.expect("rollback");
    assert_eq!((back.version.as_str(), back.previous.as_deref()), ("0.1.1-registry.1", Some("0.1.1-registry.2")));
    let back = registry.rollback(&runtime, "kra", "test").await.expect("rollback");
    assert_eq!(back.version, version);
    let err = registry.rollback(&runtime, "kra", "test").await.expect_err("nothing before the first");
    assert!(matches!(err, RegistryError::NothingToRollBack { .. }), "{err}");
    assert_eq!(active(registry.clone()).await, version);
    let history: Vec<String> =
        sqlx::query_scalar("SELECT action FROM plugin_activations WHERE name = 'kra' ORDER BY id")
            .fetch_all(&pool)
            .await
            .expect("history");
    assert_eq!(history, ["activate", "activate", "activate", "rollback", "rollback"]);
    let listed = registry.list().await.expect("list");
    assert_eq!(listed.len(), 3);
    assert_eq!(listed.iter().filter(|v| v.active).map(|v| v.version.as_str()).collect::<Vec<_>>(), [version.as_str()]);

    // Refusals, each saying why, the active version staying.
    let err = registry.install(&runtime, with_custom_section(&v1), "test").await.expect_err("other bytes");
    assert!(matches!(err, RegistryError::VersionTaken { .. }), "{err}");
    assert!(err.to_string().contains("a version is immutable"), "{err}");
    let future_api = common::with_api_version_0_9(&v1);
    let err = registry.install(&runtime, future_api, "test").await.expect_err("API 0.9");
    assert!(matches!(err, RegistryError::Load(LoadError::UnsupportedApi { .. })), "{err}");
    let err = registry.install(&runtime, b"\0asm not really".to_vec(), "test").await.expect_err("garbage");
    assert!(matches!(err, RegistryError::Load(LoadError::NotAComponent { .. })), "{err}");
    let err = registry.activate(&runtime, "kra", "9.9.9", "test", false).await.expect_err("unknown");
    assert!(err.to_string().contains("kra@9.9.9 is not installed"), "{err}");
    let odd = read(&common::component("racelab-test-misbehaving"));
    let (installed, _) = registry.install(&runtime, odd, "test").await.expect("installs: it loads");
    let err =
        registry.activate(&runtime, &installed.name, &installed.version, "test", false).await.expect_err("refused");
    assert!(matches!(err, RegistryError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("manifest failed"), "{err}");
    assert!(registry.active(std::slice::from_ref(&installed.name)).await.expect("active").is_empty(), "nothing active");
    let forced = registry.activate(&runtime, &installed.name, &installed.version, "test", true).await.expect("forced");
    assert!(forced.forced && forced.changed, "{forced:?}");
    let note: Option<String> = sqlx::query_scalar("SELECT note FROM plugin_activations WHERE name = $1 AND forced")
        .bind(&installed.name)
        .fetch_one(&pool)
        .await
        .expect("the forced activation is recorded");
    assert!(note.is_some_and(|n| n.contains("manifest failed")), "the note says what was overridden");
    // A sample the component bundles that its parse refuses: the version may not become active.
    let bad_sample = serde_json::json!({"samples": [{
        "operation": {"kind": "schedule", "track": "seoul", "date": "2026-01-03"},
        "request": {"dataset": "API72_2", "path": "/B551015/API72_2/racePlan_2", "query": [["rc_date", "20260103"]]},
        "response": {"status": 200, "body": "{ \"response\": truncated"}
    }]});
    let broken = with_section(
        &read(&common::kra_variant("0.1.1-samples.1")),
        racelab::plugins::samples::SECTION,
        bad_sample.to_string().as_bytes(),
    );
    let (installed, _) = registry.install(&runtime, broken, "test").await.expect("installs: it loads");
    let err = registry.activate(&runtime, "kra", &installed.version, "test", false).await.expect_err("refused");
    assert!(err.to_string().contains("samples failed: sample 4 (schedule /B551015/API72_2/racePlan_2)"), "{err}");
    assert_eq!(active(registry.clone()).await, version, "the active version stays");
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM plugin_versions").fetch_one(&pool).await.expect("n");
    assert_eq!(versions, 5, "no refused install stored anything");
}

/// GET `/status` and the KRA source's plugin label.
async fn kra_label(port: u16) -> Option<String> {
    let body = reqwest::get(format!("http://127.0.0.1:{port}/status")).await.ok()?.text().await.ok()?;
    let status: serde_json::Value = serde_json::from_str(&body).ok()?;
    status["sources"]["kra"]["plugin"].as_str().map(str::to_string)
}

async fn wait_for_label(ports: &[u16], label: &str, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        let mut all = true;
        for &port in ports {
            all &= kra_label(port).await.as_deref() == Some(label);
        }
        if all {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    None
}

#[sqlx::test(migrations = false)]
async fn two_running_hosts_switch_within_a_second_and_no_job_fails(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let versions = ["0.1.1-swap.1", "0.1.1-swap.2"];
    let variants: Vec<Vec<u8>> = versions.iter().map(|v| read(&common::kra_variant(v))).collect();
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, _) = post_window(SEED, date, &tracks);
    let dir = tempfile::tempdir().expect("tempdir");
    let config = write_config(
        dir.path(),
        r#"
[jobs]
workers = 4
[sources.kra]
config = { odds-timing = "before-race" }
daily_quota = { "*" = 100000 }
per_second = 20
[sources.kspo]
per_second = 20
"#,
    );
    let world =
        SimWorld::start(first_post - TimeDelta::minutes(20), 60.0, SimConfig { seed: SEED, ..SimConfig::default() });
    let url = database_url(&pool);
    let port = || std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let ports = [port(), port()];
    let mut hosts: Vec<_> = ports
        .iter()
        .zip(["a", "b"])
        .map(|(p, n)| {
            let env = [("RACELAB_LISTEN", format!("127.0.0.1:{p}"))];
            serve_with(&url, &world, &config, &dir.path().join(format!("{n}.log")), &env)
        })
        .collect();
    let logs = || {
        ["a", "b", "c"]
            .iter()
            .map(|n| std::fs::read_to_string(dir.path().join(format!("{n}.log"))).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n----\n")
    };
    let seeded = format!("kra {}", common::kra_version());
    assert!(
        wait_for_label(&ports, &seeded, Duration::from_secs(120)).await.is_some(),
        "both hosts run the seed:\n{}",
        logs()
    );

    // Installs are compiled by the hosts ahead of activation; activations then only swap.
    let registry = Registry::new(pool.clone());
    let runtime = runtime();
    for bytes in &variants {
        registry.install(&runtime, bytes.clone(), "test").await.expect("install");
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut took = Vec::new();
    for round in 0..4 {
        let version = versions[round % 2];
        registry.activate(&runtime, "kra", version, "test", false).await.expect("activate");
        let switched = wait_for_label(&ports, &format!("kra {version}"), Duration::from_secs(10)).await;
        took.push(switched);
        // Jobs run on each version between swaps.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    registry.rollback(&runtime, "kra", "test").await.expect("rollback");
    took.push(wait_for_label(&ports, &format!("kra {}", versions[0]), Duration::from_secs(10)).await);

    // A host started now with the seed file runs what the operator activated, and says so.
    let c_port = port();
    let env = [("RACELAB_LISTEN", format!("127.0.0.1:{c_port}"))];
    let mut late = serve_with(&url, &world, &config, &dir.path().join("c.log"), &env);
    let late_label = wait_for_label(&[c_port], &format!("kra {}", versions[0]), Duration::from_secs(120)).await;
    let (_, c_clean) = terminate(&mut late);
    let clean: Vec<bool> = hosts.iter_mut().map(|h| terminate(h).1).collect();
    let logs = logs();
    assert!(clean.iter().all(|c| *c) && c_clean, "every host stops cleanly:\n{logs}");
    eprintln!("activate → both hosts on the new version: {took:?}");
    for (i, t) in took.iter().enumerate() {
        assert!(t.is_some_and(|t| t < Duration::from_secs(1)), "swap {i} took {t:?} (limit 1 s):\n{logs}");
    }
    assert!(late_label.is_some(), "a host started with the seed file runs the active version:\n{logs}");
    assert!(logs.contains("RACELAB_KRA_PLUGIN is not what runs"), "and says why:\n{logs}");

    // No job failed, and jobs ran throughout.
    let failures: Vec<(String, String)> =
        sqlx::query_as("SELECT error_kind, message FROM ingestion_failures").fetch_all(&pool).await.expect("failures");
    assert!(failures.is_empty(), "no job failed: {failures:?}\n{logs}");
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM planned_jobs WHERE state = 'failed'")
        .fetch_one(&pool)
        .await
        .expect("jobs");
    assert_eq!(failed, 0);
    let done: i64 = sqlx::query_scalar("SELECT count(*) FROM planned_jobs WHERE source = 'kra' AND state = 'done'")
        .fetch_one(&pool)
        .await
        .expect("jobs");
    assert!(done >= 20, "KRA jobs ran while the versions changed: {done}");
}

/// The admin routes on a free loopback port, with `token`.
async fn admin_api(pool: &PgPool, token: Option<&str>) -> String {
    let state = racelab::api::admin::AdminState {
        registry: Registry::new(pool.clone()),
        runtime: runtime(),
        token: token.map(|t| racelab::secret::Secret::new(t.to_string())),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(axum::serve(listener, racelab::api::admin::router(state)).into_future());
    format!("http://{addr}")
}

#[sqlx::test(migrations = false)]
async fn the_admin_endpoints_change_the_registry_only_with_the_token(pool: PgPool) {
    racelab::store::migrate(&pool).await.expect("migrate");
    let token = "admin-token-for-the-test";
    let http = reqwest::Client::new();
    let kra = read(&common::component("racelab-plugin-kra"));
    let variant = read(&common::kra_variant("0.1.1-api.1"));

    // Without a token configured, changes are off, whatever the request carries.
    let off = admin_api(&pool, None).await;
    let r = http.post(format!("{off}/api/plugins")).bearer_auth(token).body(kra.clone()).send().await.expect("send");
    assert_eq!(r.status(), 403);
    assert!(r.text().await.expect("body").contains("RACELAB_ADMIN_TOKEN"));

    let api = admin_api(&pool, Some(token)).await;
    let install = |auth: Option<&str>, body: Vec<u8>, query: &str| {
        let mut request = http.post(format!("{api}/api/plugins{query}")).body(body);
        if let Some(auth) = auth {
            request = request.header("authorization", auth);
        }
        request.send()
    };
    for auth in [None, Some("Bearer wrong-token"), Some("admin-token-for-the-test"), Some("Bearer ")] {
        let r = install(auth, kra.clone(), "").await.expect("send");
        assert_eq!(r.status(), 401, "{auth:?}");
        assert_eq!(r.headers().get("www-authenticate").map(|v| v.to_str().unwrap_or("")), Some("Bearer"));
        let body = r.text().await.expect("body");
        assert!(!body.contains(token), "the answer never echoes the token: {body}");
    }
    let listed = http.get(format!("{api}/api/plugins")).send().await.expect("list").text().await.expect("body");
    let listed: serde_json::Value = serde_json::from_str(&listed).expect("json");
    assert_eq!(listed["versions"].as_array().map(Vec::len), Some(0), "nothing was installed without the token");

    let bearer = format!("Bearer {token}");
    let r = install(Some(&bearer), kra.clone(), "?activate=true").await.expect("send");
    assert_eq!(r.status(), 201);
    let body: serde_json::Value = serde_json::from_str(&r.text().await.expect("body")).expect("json");
    assert_eq!(body["activated"]["changed"], true, "{body}");
    let r = install(Some(&bearer), variant, "").await.expect("send");
    assert_eq!(r.status(), 201);
    let r = http
        .post(format!("{api}/api/plugins/kra/activate"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(r#"{"version": "0.1.1-api.1"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("{api}/api/plugins/kra/activate"))
        .bearer_auth(token)
        .body("not json")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    let r = http
        .post(format!("{api}/api/plugins/kra/activate"))
        .bearer_auth(token)
        .header("content-type", "application/json")
        .body(r#"{"version": "9.9.9"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 404);
    let r = http.post(format!("{api}/api/plugins/kra/rollback")).send().await.expect("send");
    assert_eq!(r.status(), 401, "rollback needs the token too");
    let r = http.post(format!("{api}/api/plugins/kra/rollback")).bearer_auth(token).send().await.expect("send");
    assert_eq!(r.status(), 200);
    let r = http.post(format!("{api}/api/plugins/kra/rollback")).bearer_auth(token).send().await.expect("send");
    assert_eq!(r.status(), 409, "nothing before the first version");
    let active = Registry::new(pool.clone()).active(&["kra".to_string()]).await.expect("active");
    assert_eq!(active[0].version, common::kra_version());
    let history: Vec<String> = sqlx::query_scalar("SELECT activated_by FROM plugin_activations ORDER BY id")
        .fetch_all(&pool)
        .await
        .expect("h");
    assert_eq!(history, ["api", "api", "api"]);
}

#[sqlx::test(migrations = false)]
async fn a_build_written_into_the_watched_directory_runs_and_a_broken_one_changes_nothing(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let kra = common::component("racelab-plugin-kra");
    let variant = common::kra_variant("0.1.1-watch.1");
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, _) = post_window(SEED, date, &tracks);
    let dir = tempfile::tempdir().expect("tempdir");
    let watched = dir.path().join("builds");
    std::fs::create_dir(&watched).expect("mkdir");
    let config = write_config(dir.path(), "[sources.kra]\nper_second = 20\n[sources.kspo]\nper_second = 20\n");
    let world =
        SimWorld::start(first_post - TimeDelta::minutes(30), 30.0, SimConfig { seed: SEED, ..SimConfig::default() });
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let log = dir.path().join("serve.log");
    let env = [("RACELAB_LISTEN", format!("127.0.0.1:{port}"))];
    let mut host = common::host::serve_command(&database_url(&pool), &world, &config, &log, &env)
        .arg("--watch-dir")
        .arg(&watched)
        .spawn()
        .expect("serve starts");
    let logs = || std::fs::read_to_string(&log).unwrap_or_default();
    let seeded = format!("kra {}", common::kra_version());
    assert!(wait_for_label(&[port], &seeded, Duration::from_secs(120)).await.is_some(), "{}", logs());

    // A component built for an API this host does not run: refused, the seed stays.
    std::fs::write(watched.join("broken.wasm"), common::with_api_version_0_9(&read(&kra))).expect("write");
    let said_why = async {
        while !logs().contains("was not installed; the active version stays") {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let refused = tokio::time::timeout(Duration::from_secs(20), said_why).await.is_ok();
    assert_eq!(kra_label(port).await.as_deref(), Some(seeded.as_str()));

    // A good build, written in two pieces as a compiler might: taken once whole.
    let bytes = read(&variant);
    let (head, tail) = bytes.split_at(bytes.len() / 2);
    let target = watched.join("racelab_plugin_kra.wasm");
    std::fs::write(&target, head).expect("write");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut file = std::fs::OpenOptions::new().append(true).open(&target).expect("open");
    std::io::Write::write_all(&mut file, tail).expect("append");
    drop(file);
    let switched = wait_for_label(&[port], "kra 0.1.1-watch.1", Duration::from_secs(20)).await;
    let (_, clean) = terminate(&mut host);
    let logs = logs();
    assert!(refused, "the broken build was refused with a reason:\n{logs}");
    assert!(logs.contains("targets racelab:source API 0.9.0"), "the reason names the API version:\n{logs}");
    assert!(switched.is_some(), "the watched build runs:\n{logs}");
    assert!(clean, "{logs}");
    let versions: Vec<String> =
        sqlx::query_scalar("SELECT version FROM plugin_versions ORDER BY id").fetch_all(&pool).await.expect("versions");
    let sha = racelab::plugins::registry::sha256_hex(&bytes);
    assert_eq!(versions.len(), 3, "seeds (kra, kspo) and the one whole build: {versions:?}");
    assert_eq!(versions[2], format!("0.1.1-watch.1+dev.{}", &sha[..8]));
}

#[sqlx::test(migrations = false)]
async fn a_plugin_directory_seeds_an_empty_registry_and_changes_nothing_after(pool: PgPool) {
    let _turn = common::turns::turn_async(module_path!()).await;
    let (date, tracks) = busiest_day(SEED, NaiveDate::from_ymd_opt(2026, 12, 1).expect("date"));
    let (first_post, _) = post_window(SEED, date, &tracks);
    let dir = tempfile::tempdir().expect("tempdir");
    let plugins = dir.path().join("plugins");
    std::fs::create_dir(&plugins).expect("mkdir");
    // The misbehaving component fails the manifest check: seeded all the same (it is what the
    // image holds), with the failure recorded; no source runs it.
    for package in ["racelab-plugin-kra", "racelab-plugin-kspo", "racelab-test-misbehaving"] {
        let from = common::component(package);
        std::fs::copy(&from, plugins.join(from.file_name().expect("name"))).expect("copy");
    }
    let config = write_config(dir.path(), "[sources.kra]\nper_second = 20\n[sources.kspo]\nper_second = 20\n");
    let world =
        SimWorld::start(first_post - TimeDelta::minutes(30), 30.0, SimConfig { seed: SEED, ..SimConfig::default() });
    let url = database_url(&pool);
    // As a container image runs it: no per-source file, the components in one directory.
    let start = |log: &str, port: u16| {
        let env =
            [("RACELAB_LISTEN", format!("127.0.0.1:{port}")), ("RACELAB_PLUGIN_DIR", plugins.display().to_string())];
        common::host::serve_command(&url, &world, &config, &dir.path().join(log), &env)
            .env_remove("RACELAB_KRA_PLUGIN")
            .env_remove("RACELAB_KSPO_PLUGIN")
            .spawn()
            .expect("serve starts")
    };
    let port = || std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port();
    let logs = |n: &str| std::fs::read_to_string(dir.path().join(n)).unwrap_or_default();
    let seed = format!("kra {}", common::kra_version());
    let first_port = port();
    let mut first = start("a.log", first_port);
    let seeded = wait_for_label(&[first_port], &seed, Duration::from_secs(120)).await;
    let (_, first_clean) = terminate(&mut first);
    assert!(seeded.is_some() && first_clean, "{}", logs("a.log"));
    let actions: Vec<(String, String, bool, Option<String>)> =
        sqlx::query_as("SELECT name, action, forced, note FROM plugin_activations ORDER BY name")
            .fetch_all(&pool)
            .await
            .expect("h");
    let seeds: Vec<(&str, &str, bool)> = actions.iter().map(|(n, a, f, _)| (n.as_str(), a.as_str(), *f)).collect();
    assert_eq!(seeds, [("kra", "seed", false), ("kspo", "seed", false), ("misbehaving", "seed", true)]);
    assert!(actions[2].3.as_deref().is_some_and(|n| n.contains("manifest failed")), "{actions:?}");
    assert!(logs("a.log").contains("seeded although manifest failed"), "{}", logs("a.log"));

    // Once the registry has the plugin, a newer file in the directory changes nothing: an
    // operator activates versions, a redeploy does not.
    std::fs::copy(common::kra_variant("0.1.1-dir.1"), plugins.join("racelab_plugin_kra.wasm")).expect("copy");
    let second_port = port();
    let mut second = start("b.log", second_port);
    let still = wait_for_label(&[second_port], &seed, Duration::from_secs(120)).await;
    let (_, second_clean) = terminate(&mut second);
    assert!(still.is_some() && second_clean, "the second host runs the active version:\n{}", logs("b.log"));
    let versions: i64 = sqlx::query_scalar("SELECT count(*) FROM plugin_versions").fetch_one(&pool).await.expect("n");
    assert_eq!(versions, 3, "the newer file was not installed");

    // With neither a file nor a registry version, the start says what to set.
    sqlx::query("TRUNCATE plugin_activations, plugin_versions").execute(&pool).await.expect("empty the registry");
    std::fs::remove_dir_all(&plugins).expect("rm");
    std::fs::create_dir(&plugins).expect("mkdir");
    let mut third = start("c.log", port());
    let status = tokio::task::spawn_blocking(move || third.wait().expect("exits")).await.expect("join");
    assert!(!status.success());
    let log = logs("c.log");
    assert!(log.contains("no active version of kra") && log.contains("RACELAB_PLUGIN_DIR"), "{log}");
}
