//! The one place that generates host bindings for each `racelab:source` version. Everything
//! else in the host imports the plugin types from here.
//!
//! Supported: 0.1.x. When 0.2 ships, its bindings go beside these and 0.1 components keep
//! running through a thin adapter onto the 0.2 types (see `PENDING_CHANGES.md`).

#[allow(missing_docs, clippy::all)]
mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1",
        world: "source",
        additional_derives: [PartialEq],
    });
}

pub use v0_1::Source as SourceV0_1;
pub use v0_1::SourcePre as SourcePreV0_1;
pub use v0_1::racelab::source::log::{Host as LogHost, Level as LogLevel, add_to_linker as add_log_to_linker};
pub use v0_1::racelab::source::types::{
    ClockTime, ConfigKey, DatasetHint, Date, DayRef, Dividend, Entry, FinishStatus, HttpRequest, HttpResponse,
    OddsQuery, OddsSnapshot, Operation, OperationKind, Page, PluginManifest, Pool, Quote, Race, RaceKey, RaceRef,
    Record, ResultRow, Scratch, SourceError,
};

/// The WIT package every supported component exports its plugin interface from.
pub const PACKAGE: &str = "racelab:source";
/// The interface a component must export.
pub const PLUGIN_INTERFACE: &str = "racelab:source/plugin";
/// API versions this host runs, as a semver range for messages.
pub const SUPPORTED: &str = ">=0.1.0, <0.2.0";

/// Whether this host can run a component built for API `version` (`major.minor.patch`).
pub fn is_supported(version: &str) -> bool {
    let mut parts = version.split('.').map(|p| p.parse::<u64>());
    matches!((parts.next(), parts.next(), parts.next(), parts.next()), (Some(Ok(0)), Some(Ok(1)), Some(Ok(_)), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_range() {
        assert!(is_supported("0.1.0"));
        assert!(is_supported("0.1.7"));
        assert!(!is_supported("0.2.0"));
        assert!(!is_supported("1.1.0"));
        assert!(!is_supported("0.1"));
        assert!(!is_supported("0.1.0-rc1"));
    }
}
