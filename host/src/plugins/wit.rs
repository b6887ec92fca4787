//! The one place that generates host bindings for each `racelab:source` version. Everything
//! else in the host imports the plugin types from here.
//!
//! Supported: 0.1.x and 0.2.x. The host's own types are 0.2's; a 0.1 component runs through
//! `adapter.rs`, which turns the host's questions into 0.1 types and the answers back.

#[allow(missing_docs, clippy::all)]
pub(super) mod v0_1 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1",
        world: "source",
        additional_derives: [PartialEq],
    });
}

#[allow(missing_docs, clippy::all)]
mod v0_2 {
    wasmtime::component::bindgen!({
        path: "../wit/v0.2",
        world: "source",
        additional_derives: [PartialEq],
    });
}

pub use v0_1::Source as SourceV0_1;
pub use v0_1::SourcePre as SourcePreV0_1;
pub use v0_2::Source as SourceV0_2;
pub use v0_2::SourcePre as SourcePreV0_2;
pub use v0_2::racelab::source::log::{Host as LogHost, Level as LogLevel, add_to_linker as add_log_to_linker};
pub use v0_2::racelab::source::types::{
    ClockTime, ConfigKey, DatasetHint, Date, DayRef, Dividend, Drift, DriftKind, Entry, FinishStatus, HttpRequest,
    HttpResponse, OddsBoard, OddsQuery, OddsTiming, Operation, OperationKind, Page, PluginManifest, Pool, Quote, Race,
    RaceKey, RaceRef, RaceStatus, Record, ResultRow, Scratch, Sex, SourceError,
};

/// The WIT package every supported component exports its plugin interface from.
pub const PACKAGE: &str = "racelab:source";
/// The interface a component must export.
pub const PLUGIN_INTERFACE: &str = "racelab:source/plugin";
/// API versions this host runs, as a semver range for messages.
pub const SUPPORTED: &str = ">=0.1.0, <0.3.0";
/// The API version the host's own types are, and the SDK builds.
pub const CURRENT: &str = "0.2.0";

/// The contract versions this host speaks, oldest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `racelab:source@0.1.x`, through the adapter.
    V0_1,
    /// `racelab:source@0.2.x`, the host's own types.
    V0_2,
}

impl Api {
    /// The contract a component built for API `version` (`major.minor.patch`) speaks, if this
    /// host runs it.
    pub fn of(version: &str) -> Option<Api> {
        let mut parts = version.split('.').map(|p| p.parse::<u64>());
        match (parts.next(), parts.next(), parts.next(), parts.next()) {
            (Some(Ok(0)), Some(Ok(1)), Some(Ok(_)), None) => Some(Api::V0_1),
            (Some(Ok(0)), Some(Ok(2)), Some(Ok(_)), None) => Some(Api::V0_2),
            _ => None,
        }
    }
}

/// Whether this host can run a component built for API `version` (`major.minor.patch`).
pub fn is_supported(version: &str) -> bool {
    Api::of(version).is_some()
}

/// Runner numbers per selection in `pool`: how an [`OddsBoard`]'s flat list is cut.
pub fn selection_width(pool: Pool) -> usize {
    match pool {
        Pool::Win | Pool::Plc => 1,
        Pool::Qnl | Pool::Exa | Pool::Qpl => 2,
        Pool::Tla | Pool::Tri | Pool::Xla => 3,
    }
}

impl Record {
    /// The rows this record stands for: a price per selection of an odds board, else one.
    /// Limits, sample counts and "did the source answer" count these, not boards.
    pub fn rows(&self) -> usize {
        match self {
            Record::Odds(board) => board.quotes.len(),
            _ => 1,
        }
    }
}

/// [`Record::rows`] summed.
pub fn rows(records: &[Record]) -> usize {
    records.iter().map(Record::rows).sum()
}

impl OddsBoard {
    /// The board's selections with their quotes; a ragged tail (a flat list that is not a
    /// whole number of selections) is left out, which validation refuses beforehand.
    pub fn prices(&self) -> impl Iterator<Item = (&[u8], Quote)> + '_ {
        self.selections.chunks_exact(selection_width(self.pool)).zip(self.quotes.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_range() {
        assert!(is_supported("0.1.0"));
        assert!(is_supported("0.1.7"));
        assert_eq!(Api::of("0.1.3"), Some(Api::V0_1));
        assert_eq!(Api::of("0.2.0"), Some(Api::V0_2));
        assert!(!is_supported("0.3.0"));
        assert!(!is_supported("1.1.0"));
        assert!(!is_supported("0.1"));
        assert!(!is_supported("0.2.0-rc1"));
    }

    #[test]
    fn a_board_is_cut_by_its_pool() {
        let key = RaceKey { track: "seoul".into(), date: Date { year: 2026, month: 1, day: 3 }, number: 1 };
        let board = OddsBoard {
            race: key,
            pool: Pool::Qnl,
            selections: vec![1, 2, 1, 3, 2],
            quotes: vec![Quote::Price(3.5), Quote::Capped],
        };
        let prices: Vec<_> = board.prices().collect();
        assert_eq!(prices, [(&[1u8, 2][..], Quote::Price(3.5)), (&[1, 3][..], Quote::Capped)]);
        assert_eq!(selection_width(Pool::Win), 1);
        assert_eq!(selection_width(Pool::Xla), 3);
    }
}
