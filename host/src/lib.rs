//! The RaceLab ingestion host.
//!
//! | module | owns |
//! |---|---|
//! | [`plugins`] | the wasmtime engine, loading components (API version check, link, pre-instantiate), calls under deadline, memory and output limits |
//! | [`fetch`] | sending a plugin's requests: base URL, credential, encoding once, timeouts, secret redaction |
//! | [`runner`] | one operation end to end: plan → fetch → parse, following pages, bounded retries |
//! | [`json`] | the JSON rendering of records, requests, errors and manifests |
//! | [`tracks`] | the five tracks and their codes |
//! | [`cli`] | the `racelab` command line |
//!
//! Coming with issue 2/4: config, planner, jobs, store, alerts, api.

pub mod cli;
pub mod fetch;
pub mod json;
pub mod plugins;
pub mod runner;
pub mod tracks;
