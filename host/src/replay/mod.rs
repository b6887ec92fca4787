//! Replay and diff: the raw archive parsed again by a plugin (docs/architecture.md, "Replay and
//! diff").
//!
//! Every response the host received is in `raw_responses` with the operation it answered and
//! the request as the plugin planned it (migrations/0011). A plugin's `parse` is deterministic,
//! so the archive is enough to ask "what would this version have read":
//!
//! - [`diff`] parses each archived response with two versions and compares what they read,
//!   record by record on each record's identity; [`DiffReport::new_failures`] answers "does
//!   the new version fail on a response the old one parsed, and which";
//! - [`replay`] parses each with one version and writes the records through the store as the
//!   live job did at the response's capture time, idempotently: a second replay writes nothing.
//!
//! | file | owns |
//! |---|---|
//! | `archive.rs` | the range asked, reading archived responses in capture order, [`ReplayError`] |
//! | `diff.rs` | comparing two versions' readings, [`DiffReport`] |
//! | `write.rs` | writing one version's readings, run by run, [`ReplayReport`] |

mod archive;
mod diff;
mod write;

pub use archive::{Range, ReplayError};
pub use diff::{Changed, DiffReport, Examples, NewFailure, Side, TableDiff, diff};
pub use write::{ReplayReport, Tables, replay};

use crate::plugins::wit::{Page, SourceError};
use crate::plugins::{CallError, error_kind, error_message};

/// How one parse of an archived response ended.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Parsed {
    /// Records (perhaps none).
    Read(Vec<crate::plugins::wit::Record>),
    /// The source has nothing yet: a valid, empty answer, as the worker takes it.
    NoData,
    /// A source error or a plugin fault: its kind (as in `ingestion_failures.error_kind`) and
    /// message.
    Failed { kind: &'static str, message: String },
}

impl Parsed {
    pub(crate) fn of(result: Result<Page, CallError>) -> Parsed {
        match result {
            Ok(page) => Parsed::Read(page.records),
            Err(CallError::Source(SourceError::NoData(_))) => Parsed::NoData,
            Err(CallError::Source(e)) => Parsed::Failed { kind: error_kind(&e), message: error_message(&e) },
            Err(CallError::Fault(f)) => {
                Parsed::Failed { kind: crate::jobs::FailureKind::PluginFault.as_str(), message: f.to_string() }
            }
        }
    }

    pub(crate) fn records(&self) -> &[crate::plugins::wit::Record] {
        match self {
            Parsed::Read(records) => records,
            Parsed::NoData | Parsed::Failed { .. } => &[],
        }
    }
}
