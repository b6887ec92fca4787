//! What the benchmarks share: a database of their own on the test server.
#![allow(dead_code)]

use std::path::Path;

use anyhow::Context;
use racelab_sim::SimConfig;

use sqlx::PgConnection;

/// Drops and creates database `db`.
pub async fn recreate(admin: &mut PgConnection, db: &str) -> anyhow::Result<()> {
    sqlx::query(sqlx::AssertSqlSafe(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))).execute(&mut *admin).await?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {db}"))).execute(&mut *admin).await?;
    Ok(())
}

/// `DATABASE_URL` from the environment or the workspace `.env`, else the local test server.
pub fn database_url() -> String {
    if let Ok(url) = std::env::var("DATABASE_URL") {
        return url;
    }
    let env_file = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.env");
    std::fs::read_to_string(env_file)
        .ok()
        .and_then(|text| {
            text.lines().find_map(|l| l.trim().strip_prefix("DATABASE_URL=").map(|v| v.trim_matches('"').to_string()))
        })
        .unwrap_or_else(|| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub use racelab::store::with_database;

/// The name of the simulator's runtime threads (the jobs bench counts their CPU apart).
pub const SIM_THREAD: &str = "racelab-sim";

/// The simulator on a free loopback port, on its own runtime thread, until dropped.
pub struct Sim {
    pub base_url: String,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sim {
    pub fn start(config: SimConfig) -> anyhow::Result<Sim> {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name(SIM_THREAD)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return drop(addr_tx.send(Err(e.to_string()))),
            };
            rt.block_on(async move {
                let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
                    Ok(l) => l,
                    Err(e) => return drop(addr_tx.send(Err(e.to_string()))),
                };
                let _ = addr_tx.send(listener.local_addr().map_err(|e| e.to_string()));
                let stop = async {
                    let _ = stop_rx.await;
                };
                if let Err(e) = racelab_sim::serve(listener, config, stop).await {
                    eprintln!("simulator: {e}");
                }
            });
        });
        let addr = addr_rx.recv().context("the simulator thread")?.map_err(anyhow::Error::msg)?;
        Ok(Sim { base_url: format!("http://{addr}"), stop: Some(stop_tx), thread: Some(thread) })
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
