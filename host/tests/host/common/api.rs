//! The host's HTTP API on a free loopback port, for tests that ask it.

use std::sync::Arc;

use racelab::api::ApiState;
use racelab::jobs::worker::Worker;
use racelab::plugins::registry::Registry;
use racelab::plugins::{Limits, Runtime};
use sqlx::PgPool;

/// The API's state over `pool` and `worker`, on `clock`, with the admin token `token`.
pub fn state(pool: &PgPool, worker: &Worker, clock: racelab::clock::Clock, token: Option<&str>) -> ApiState {
    ApiState {
        pool: pool.clone(),
        worker: worker.clone(),
        clock,
        odds_stop_after_no_data: 3,
        token: token.map(|t| racelab::secret::Secret::new(t.to_string())),
        registry: Registry::new(pool.clone()),
        runtime: Arc::new(Runtime::new(Limits::default()).expect("runtime").with_cache_dir(&super::plugin_cache())),
    }
}

/// Serves every route of the host with `state`; returns `http://127.0.0.1:PORT` and the server.
pub async fn serve(state: ApiState) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let server = tokio::spawn(async move { axum::serve(listener, racelab::api::router(state)).await.expect("serves") });
    (base, server)
}

/// A race day whose 05:59 start-up sync met a source answering 5xx to everything (its jobs
/// failed for good, the failures open), then the same host against a source that answers,
/// at 05:59 KST of `date`. Returns the working day and how many failures are open.
pub async fn day_after_a_broken_morning(pool: &PgPool, seed: u64, date: chrono::NaiveDate) -> (super::day::Day, i64) {
    use super::day::{Day, DayOptions, kst};
    use racelab_sim::{Faults, SimConfig};
    let faults = Faults { server_error: 1.0, ..Faults::default() };
    let broken = DayOptions { sim: SimConfig { seed, faults, ..SimConfig::default() }, ..DayOptions::default() };
    let broken = Day::new(pool.clone(), kst(date, 5, 59), broken).await;
    broken.step().await;
    drop(broken);
    let failed: i64 = sqlx::query_scalar("SELECT count(*) FROM ingestion_failures WHERE resolved_at IS NULL")
        .fetch_one(pool)
        .await
        .expect("failures");
    assert!(failed > 0, "the broken morning left failures");
    let options = DayOptions { sim: SimConfig { seed, ..SimConfig::default() }, ..DayOptions::default() };
    (Day::new(pool.clone(), kst(date, 5, 59), options).await, failed)
}
