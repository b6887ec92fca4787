//! Plugin swaps and host start-up, with real `racelab serve` processes (issue 11, point 10).
//!
//! ```sh
//! cargo build --release --target wasm32-wasip2 -p racelab-plugin-kra -p racelab-plugin-kspo
//! cargo bench -p racelab --bench swap            # 20 swaps, 5 starts each way
//! cargo bench -p racelab --bench swap -- 40 10   # more
//! ```
//!
//! 1. **Cold start**: `racelab serve` from spawn to `/status` naming both sources' plugins,
//!    with an empty compile cache (both components compiled) and with the cache the previous
//!    start left (both loaded as native code).
//! 2. **Swap latency**: two hosts on one database, running a simulated race day at 60× while
//!    two builds of the KRA component (`RACELAB_PLUGIN_VERSION`) are activated in turn. Timed
//!    from the activation's commit to the moment both hosts' `/status` name the new version —
//!    the worker's source entry, which the next job claimed runs — polled every 5 ms.
//!
//! A fresh database `racelab_bench_swap` on the test server; the simulator in this process.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use common::{database_url, recreate, with_database};
use racelab::plugins::registry::Registry;
use racelab::plugins::{Limits, Runtime};
use racelab_sim::SimConfig;
use sqlx::Connection;

const DB: &str = "racelab_bench_swap";
const VERSIONS: [&str; 2] = ["0.1.1-bench.1", "0.1.1-bench.2"];

fn main() -> anyhow::Result<()> {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let swaps = args.first().copied().unwrap_or(20);
    let starts = args.get(1).copied().unwrap_or(5);
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    rt.block_on(run(swaps, starts))
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().map(Path::to_path_buf).unwrap_or_default()
}

fn component(name: &str) -> anyhow::Result<PathBuf> {
    let path = workspace().join("target/wasm32-wasip2/release").join(format!("{name}.wasm"));
    if !path.exists() {
        bail!("{} is missing: build the components first (see the top of this file)", path.display());
    }
    Ok(path)
}

/// The KRA component reporting `version`, built in a target dir of its own.
fn kra_variant(version: &str) -> anyhow::Result<PathBuf> {
    let target = workspace().join("target").join("components-variants");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let status = Command::new(cargo)
        .current_dir(workspace())
        .args(["build", "--release", "--target", "wasm32-wasip2", "-p", "racelab-plugin-kra"])
        .env("CARGO_TARGET_DIR", &target)
        .env("RACELAB_PLUGIN_VERSION", version)
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .status()?;
    if !status.success() {
        bail!("building the KRA component as {version} failed");
    }
    let out = target.join(format!("kra-{version}.wasm"));
    std::fs::copy(target.join("wasm32-wasip2/release/racelab_plugin_kra.wasm"), &out)?;
    Ok(out)
}

struct Host {
    child: Child,
    port: u16,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let _ = self.child.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn serve(db_url: &str, sim: &str, clock: &str, cache: &Path, log: &Path) -> anyhow::Result<Host> {
    let port = free_port()?;
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_racelab"));
    for (k, _) in std::env::vars() {
        if k.starts_with("RACELAB_") {
            cmd.env_remove(k);
        }
    }
    cmd.arg("serve")
        .env("DATABASE_URL", db_url)
        .env("RACELAB_LISTEN", format!("127.0.0.1:{port}"))
        .env("RACELAB_SIM_CLOCK", clock)
        .env("RACELAB_LOG", "warn,racelab=info")
        .env("RACELAB_CACHE_DIR", cache)
        .env("RACELAB_KRA_PLUGIN", component("racelab_plugin_kra")?)
        .env("RACELAB_KRA_BASE_URL", sim)
        .env("RACELAB_KRA_SERVICE_KEY", "bench-key")
        .env("RACELAB_KSPO_PLUGIN", component("racelab_plugin_kspo")?)
        .env("RACELAB_KSPO_BASE_URL", sim)
        .env("RACELAB_KSPO_SERVICE_KEY", "bench-key")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?);
    Ok(Host { child: cmd.spawn().context("racelab serve")?, port })
}

/// The plugin labels of `/status`'s sources, if it answers.
async fn labels(http: &reqwest::Client, port: u16) -> Option<(String, String)> {
    let body = http.get(format!("http://127.0.0.1:{port}/status")).send().await.ok()?.text().await.ok()?;
    let status: serde_json::Value = serde_json::from_str(&body).ok()?;
    let label = |s: &str| status["sources"][s]["plugin"].as_str().map(str::to_string);
    Some((label("kra")?, label("kspo")?))
}

async fn wait_for_kra(http: &reqwest::Client, ports: &[u16], label: &str, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        let mut all = true;
        for &port in ports {
            all &= labels(http, port).await.is_some_and(|(kra, _)| kra == label);
        }
        if all {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

async fn run(swaps: usize, starts: usize) -> anyhow::Result<()> {
    let variants: Vec<PathBuf> = VERSIONS.iter().map(|v| kra_variant(v)).collect::<anyhow::Result<_>>()?;
    let base = database_url();
    let mut admin = sqlx::PgConnection::connect(&base).await?;
    recreate(&mut admin, DB).await?;
    let db_url = with_database(&base, DB);
    let pool = racelab::store::connect(&db_url).await?;
    racelab::store::migrate(&pool).await?;
    let dir = tempfile::tempdir()?;
    let http = reqwest::Client::new();

    // A KRA race day's morning, at 60×, so the hosts have jobs to run throughout.
    let epoch_ms = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let clock_spec = format!("2026-12-05T10:30:00+09:00,60,{epoch_ms}");
    let clock = racelab_sim::Clock::from_spec(&clock_spec).map_err(anyhow::Error::msg)?;
    let sim = common::Sim::start(SimConfig { clock, ..SimConfig::default() })?;

    println!("host cold start: spawn → /status names both plugins ({starts} starts each)");
    for (what, fresh) in [("empty compile cache (compiles both)", true), ("warm compile cache", false)] {
        let mut took = Vec::new();
        let warm = dir.path().join("warm-cache");
        // The warm runs start from the cache a first, untimed start filled.
        let first = if fresh { 0 } else { 1 };
        for i in 0..starts + first {
            let cache = if fresh { dir.path().join(format!("cold-{i}")) } else { warm.clone() };
            let started = Instant::now();
            let host = serve(&db_url, &sim.base_url, &clock_spec, &cache, &dir.path().join("start.log"))?;
            while labels(&http, host.port).await.is_none() {
                if started.elapsed() > Duration::from_secs(120) {
                    bail!("the host did not start: {}", std::fs::read_to_string(dir.path().join("start.log"))?);
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            if i >= first {
                took.push(started.elapsed());
            }
            drop(host);
        }
        took.sort();
        println!(
            "  {what:38} median {}  min {}  max {}",
            ms(percentile(&took, 0.5)),
            ms(took[0]),
            ms(took[took.len() - 1])
        );
    }

    let cache = dir.path().join("hosts-cache");
    let hosts = [
        serve(&db_url, &sim.base_url, &clock_spec, &cache, &dir.path().join("a.log"))?,
        serve(&db_url, &sim.base_url, &clock_spec, &cache, &dir.path().join("b.log"))?,
    ];
    let ports: Vec<u16> = hosts.iter().map(|h| h.port).collect();
    // The KRA component's own version, which its manifest (and so the registry) says.
    let seed = format!("kra {}", <racelab_plugin_kra::Kra as racelab_plugin_sdk::Source>::manifest().version);
    wait_for_kra(&http, &ports, &seed, Duration::from_secs(120)).await.context("the hosts did not start")?;
    let registry = Registry::new(pool.clone());
    let runtime = Arc::new(Runtime::new(Limits::default())?.with_cache_dir(&dir.path().join("cli-cache")));
    for path in &variants {
        registry.install(&runtime, std::fs::read(path)?, "bench").await?;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let jobs_before: i64 =
        sqlx::query_scalar("SELECT count(*) FROM planned_jobs WHERE state = 'done'").fetch_one(&pool).await?;
    let started = Instant::now();
    let mut took = Vec::with_capacity(swaps);
    for round in 0..swaps {
        let version = VERSIONS[round % 2];
        registry.activate(&runtime, "kra", version, "bench", false).await?;
        let Some(t) = wait_for_kra(&http, &ports, &format!("kra {version}"), Duration::from_secs(30)).await else {
            bail!("swap {round} to {version} did not reach both hosts within 30 s");
        };
        took.push(t);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let elapsed = started.elapsed();
    let jobs_after: i64 =
        sqlx::query_scalar("SELECT count(*) FROM planned_jobs WHERE state = 'done'").fetch_one(&pool).await?;
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM ingestion_failures").fetch_one(&pool).await?;
    drop(hosts);
    took.sort();
    println!("swap latency, activation commit → both hosts on the new version ({swaps} swaps, 2 hosts):");
    println!(
        "  p50 {}  p95 {}  max {}  (min {})",
        ms(percentile(&took, 0.5)),
        ms(percentile(&took, 0.95)),
        ms(took[took.len() - 1]),
        ms(took[0])
    );
    println!(
        "  meanwhile: {} jobs done in {:.1} s, {failed} ingestion failures",
        jobs_after - jobs_before,
        elapsed.as_secs_f64()
    );
    Ok(())
}
