//! The RaceLab plugin SDK: everything a data.go.kr source plugin needs, and nothing it should
//! not see.
//!
//! | module | owns |
//! |---|---|
//! | (root) | the WIT types (`Race`, `Entry`, `Page`, `SourceError`...), the [`Source`] trait and [`export_source!`] |
//! | [`envelope`] | reading a response: HTTP status, XML gateway errors, result codes, `items` shapes |
//! | [`fields`] | lenient field access on one item (numbers as strings, `"-"`, padding) |
//! | [`request`] | building requests and following `totalCount` paging |
//! | [`calendar`] | dates and times as the sources write them |
//! | [`boards`] | collecting prices into one [`OddsBoard`] per race and pool |
//! | [`drift`] | a dataset's known fields, and the [`Drift`] a page reports against them |
//! | [`pools`] | pool codes and Korean pool names |
//! | [`log`] | structured log lines to the host |
//! | [`samples`] | the sample responses a component bundles ([`bundle_samples!`]) |
//!
//! Mapping code written against this crate is plain Rust: it compiles and is unit-tested on
//! the host target; only [`export_source!`] is WebAssembly glue.

extern crate self as racelab_plugin_sdk;

pub mod boards;
pub mod calendar;
pub mod drift;
pub mod envelope;
pub mod fields;
pub mod log;
pub mod pools;
pub mod request;
pub mod samples;

/// Generated bindings for the `racelab:source` world. Plugin code uses the re-exports at the
/// crate root instead.
#[doc(hidden)]
#[allow(unsafe_code, clippy::all, missing_docs)]
pub mod bindings {
    wit_bindgen::generate!({
        world: "source",
        path: "../../wit/v0.2",
        pub_export_macro: true,
        export_macro_name: "__export_source_world",
        default_bindings_module: "racelab_plugin_sdk::bindings",
        runtime_path: "racelab_plugin_sdk::__private::wit_bindgen::rt",
        additional_derives: [PartialEq],
    });
}

pub use bindings::exports::racelab::source::plugin::Guest as Source;
pub use bindings::racelab::source::types::{
    ClockTime, ConfigKey, DatasetHint, Date, DayRef, Dividend, Drift, DriftKind, Entry, FinishStatus, HttpRequest,
    HttpResponse, OddsBoard, OddsQuery, OddsTiming, Operation, OperationKind, Page, PluginManifest, Pool, Quote, Race,
    RaceKey, RaceRef, RaceStatus, Record, ResultRow, Scratch, Sex, SourceError,
};

/// The `racelab:source` API version this SDK builds components for.
pub const API_VERSION: &str = "0.2.0";

/// Bundles sample responses with the component: `bundle_samples!(include_bytes!("../samples.json"))`.
/// The bytes go into a custom section named `racelab-samples`, which the host's plugin registry
/// reads before the component may become active: every sample must parse (and return the
/// records it promises). The document's shape is in the host's `host/src/plugins/samples.rs`:
/// `{"samples": [{"operation", "request", "response": {"status", "body"}, "records"}]}`.
/// Only a WebAssembly build carries the section; native builds (unit tests) ignore it.
#[macro_export]
macro_rules! bundle_samples {
    ($bytes:expr) => {
        #[cfg(target_family = "wasm")]
        #[used]
        #[unsafe(link_section = "racelab-samples")]
        static __RACELAB_SAMPLES: [u8; $bytes.len()] = *$bytes;
    };
}

/// The result of a plugin function.
pub type Result<T, E = SourceError> = std::result::Result<T, E>;

/// Builds a [`SourceError::Malformed`] with a formatted detail.
#[macro_export]
macro_rules! malformed {
    ($($arg:tt)*) => { $crate::SourceError::Malformed(format!($($arg)*)) };
}

/// Exports a type implementing [`Source`] as the component's `racelab:source/plugin`.
///
/// ```ignore
/// struct Kra;
/// impl racelab_plugin_sdk::Source for Kra { /* manifest, plan, parse */ }
/// racelab_plugin_sdk::export_source!(Kra);
/// ```
///
/// The argument is a plain type name (an identifier), as the generated export macro requires.
/// The exports exist only in a `wasm32` build: a native `cdylib` cannot carry the component
/// export names (`racelab:source/plugin@0.2.0#parse` breaks the linker's version script), and
/// native code calls the [`Source`] functions directly.
#[macro_export]
macro_rules! export_source {
    ($plugin:ident) => {
        #[cfg(target_arch = "wasm32")]
        #[allow(unsafe_code)]
        const _: () = {
    $crate::bindings::__export_source_world!($plugin with_types_in $crate::bindings);
        };
    };
}

#[doc(hidden)]
pub mod __private {
    pub use wit_bindgen;
}

impl Page {
    /// A page with no records, no follow-up requests and no drift.
    pub fn empty() -> Self {
        Page { records: Vec::new(), next: Vec::new(), drift: Vec::new() }
    }

    /// A page of `records` and `next`, with no drift.
    pub fn new(records: Vec<Record>, next: Vec<HttpRequest>) -> Self {
        Page { records, next, drift: Vec::new() }
    }

    /// The same page reporting `drift`.
    pub fn with_drift(mut self, drift: Vec<Drift>) -> Self {
        self.drift = drift;
        self
    }

    /// The rows the records stand for: a price per selection of an odds board, else one.
    pub fn rows(&self) -> usize {
        self.records.iter().map(|r| if let Record::Odds(b) = r { b.quotes.len() } else { 1 }).sum()
    }
}

impl Race {
    /// A race record that says only where the race stands; every other field is `none`, which
    /// the host reads as "unchanged".
    pub fn status_only(key: RaceKey, status: RaceStatus) -> Self {
        Race {
            key,
            meeting: None,
            name: None,
            distance_m: None,
            post_time: None,
            grade: None,
            field_size: None,
            status: Some(status),
        }
    }
}

impl Date {
    /// The date if the parts form a real calendar date.
    pub fn new(year: u16, month: u8, day: u8) -> Option<Self> {
        calendar::is_valid(year, month, day).then_some(Date { year, month, day })
    }
}

impl Eq for Date {}

impl PartialOrd for Date {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Date {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.year, self.month, self.day).cmp(&(other.year, other.month, other.day))
    }
}

impl std::fmt::Display for Date {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// Looks a key up in the `config` list handed to `plan`.
pub fn config_value<'a>(config: &'a [(String, String)], key: &str) -> Option<&'a str> {
    config.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}
