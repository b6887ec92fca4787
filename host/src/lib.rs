//! The RaceLab ingestion host.
//!
//! | module | owns |
//! |---|---|
//! | [`plugins`] | the wasmtime engine, loading components (API version check, link, pre-instantiate), calls under deadline, memory and output limits |
//! | [`clock`] | the host's time (system, accelerated or fixed) and KST |
//! | [`config`] | the daemon's settings: environment over an optional TOML file, validated at start |
//! | [`fetch`] | sending a plugin's requests: base URL, credential, encoding once, timeouts, secret redaction |
//! | [`runner`] | one operation end to end: plan → fetch → parse, following pages, bounded retries |
//! | [`replay`] | the raw archive parsed again: two plugin versions compared, or one's records written again |
//! | [`json`] | the JSON rendering of records, requests, errors and manifests |
//! | [`secret`] | the one type for keys, tokens and URLs that must never be logged |
//! | [`tracks`] | the five tracks and their codes |
//! | [`store`] | PostgreSQL: validating a plugin's output, idempotent upserts, bulk odds, odds partitions, the raw archive |
//! | [`cli`] | the `racelab` command line |
//! | [`alerts`] | Slack alerts: one message per incident, repeats suppressed, a resolved notice; never blocks ingestion |
//! | [`budget`] | per-dataset rate limits and daily quotas, counted in the database for every host |
//! | [`jobs`] | the planner, the apalis-postgres queue, the worker, retries |
//! | [`daemon`] | the running host: planner ticks, worker, upkeep, shutdown |
//! | [`api`] | `/healthz`, `/readyz`, `/status` |

pub mod alerts;
pub mod api;
pub mod budget;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daemon;
pub mod fetch;
pub mod follow;
pub mod jobs;
pub mod json;
pub mod plugins;
pub mod replay;
pub mod runner;
pub mod secret;
pub mod store;
pub mod telemetry;
pub mod tracks;
pub mod watch;
