//! The host's integration tests, one binary with a module per scenario: each links wasmtime
//! and sqlx, so one binary instead of one per file saves most of the link time and of target/.
//! `cargo test -p racelab --test host [module::]` runs them, or one scenario.

mod common;

mod alerts;
mod api;
mod api_fuzz;
mod backfill;
mod budget;
mod chaos_day;
mod cli;
mod contract;
mod dashboard;
mod db_outage;
mod drift;
mod fault_day;
mod faults;
mod fuzz_components;
mod hostile_jobs;
mod plugin_registry;
mod plugin_runtime;
mod quota_day;
mod race_day;
mod replan;
mod replay;
mod sandbox;
mod serve_hostile;
mod serve_kill;
mod serve_scale;
mod store;
