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
