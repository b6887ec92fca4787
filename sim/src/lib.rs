//! `racelab-sim`: a local stand-in for the data.go.kr KRA (horse) and KSPO (cycle, boat)
//! racing APIs, answering exactly as `docs/sources.md` describes — deterministic from a seed,
//! with the real services' quirks, quotas and injectable faults.
//!
//! Module map:
//!
//! | module | owns |
//! |---|---|
//! | [`clock`] | simulated time: system, fixed or accelerated, always KST |
//! | [`calendar`] | tracks, race days, KSPO rounds, the lazy per-day cache |
//! | `race` | the generated world: days, races, runners, outcomes |
//! | `gen_kra`, `gen_kspo` | generating one day of races |
//! | `people`, `rng`, `outcome` | names and pools; seeded randomness; drawing a result |
//! | `pools`, `odds` | pari-mutuel pricing, live drift, dividends |
//! | `endpoint` | served paths, datasets, dispatch |
//! | `kra`, `kra_results` | KRA services |
//! | `kspo`, `kspo_cycle`, `kspo_boat` | KSPO selection and services |
//! | `query`, `rows`, `wire` | parameters and paging; lazy result sets; envelopes |
//! | `limits`, `faults` | quotas and rate limits; fault injection |
//! | `server` | the request pipeline and the axum router |
//! | [`expect`] | ground-truth row counts for contract tests |

mod calendar;
pub mod clock;
mod endpoint;
pub mod expect;
mod faults;
mod gen_kra;
mod gen_kspo;
mod kra;
mod kra_results;
mod kspo;
mod kspo_boat;
mod kspo_cycle;
mod limits;
mod odds;
mod outcome;
mod people;
mod pools;
mod query;
mod race;
mod rng;
mod rows;
mod server;
mod wire;

use std::future::Future;

pub use calendar::{Calendar, Discipline, Meeting, Track};
pub use clock::Clock;
pub use faults::{FaultSpecError, Faults};
pub use limits::{Limits, QuotaStyle};
pub use odds::OddsMode;
pub use pools::Pool;
pub use race::{
    Finish, OFFICIAL_AFTER_MINUTES, PUBLISH_DAYS_AHEAD, Placing, RaceDay, RaceOutcome, Runner, Scratch, SimRace,
};

/// Everything the simulator can be told.
#[derive(Debug, Clone, Default)]
pub struct SimConfig {
    /// Seed of the calendar and of fault draws; the same seed serves the same bytes.
    pub seed: u64,
    /// When odds are visible.
    pub odds: OddsMode,
    /// Fault rates (all 0 by default).
    pub faults: Faults,
    /// Quotas and the per-second limit.
    pub limits: Limits,
    /// Keys answered with gateway code 30 (SERVICE_KEY_IS_NOT_REGISTERED_ERROR).
    pub unregistered_keys: Vec<String>,
    /// Simulated time; keep a clone to move it from outside.
    pub clock: Clock,
    /// Format changes, as a source that changes its responses makes them (empty by default).
    pub shape_changes: Vec<ShapeChange>,
}

/// A format change of one dataset: every item of its answers gains `add` (each with the text
/// value `"new"`) and loses `drop`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ShapeChange {
    /// The dataset, e.g. `API26_2` or `15107830`.
    pub dataset: String,
    /// Fields every item gains.
    pub add: Vec<String>,
    /// Fields every item loses.
    pub drop: Vec<String>,
}

/// The simulator as an axum router (every endpoint of `docs/sources.md`, plus `/healthz`).
pub fn router(config: SimConfig) -> axum::Router {
    server::router(config)
}

/// Serves the simulator on `listener` until `shutdown` completes, then finishes in-flight
/// requests and returns.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: SimConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(config)).with_graceful_shutdown(shutdown).await
}
