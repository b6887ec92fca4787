//! The typed words of the job tables: a job's state, its lane, its operation and a failure's
//! kind are enums in
//! Rust and `text` in PostgreSQL (each column has a CHECK listing its words). [`text_column`]
//! gives each the sqlx encoding of its text, so no query binds or reads them as strings.

use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::{Decode, Encode, Postgres, Type};

use super::Op;
use crate::budget::Lane;
use crate::plugins::wit::SourceError;

/// Where a planned job is in its life (`planned_jobs.state`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobState {
    /// Waiting for its slot, or to be retried.
    Queued,
    /// Ran and stored what the source answered.
    Done,
    /// Ran; the source had nothing yet (the planner asks again at the next slot).
    NoData,
    /// Failed for good: an `ingestion_failures` row says why.
    Failed,
    /// Ended without running: its race moved, started, or has the data already.
    Superseded,
}

impl JobState {
    /// Every state.
    pub const ALL: [JobState; 5] =
        [JobState::Queued, JobState::Done, JobState::NoData, JobState::Failed, JobState::Superseded];

    /// The word in `planned_jobs.state`.
    pub fn as_str(self) -> &'static str {
        match self {
            JobState::Queued => "queued",
            JobState::Done => "done",
            JobState::NoData => "no_data",
            JobState::Failed => "failed",
            JobState::Superseded => "superseded",
        }
    }

    /// Reads [`JobState::as_str`]'s form.
    pub fn parse(s: &str) -> Option<JobState> {
        JobState::ALL.into_iter().find(|state| state.as_str() == s)
    }
}

impl Lane {
    /// Both lanes.
    pub const ALL: [Lane; 2] = [Lane::Live, Lane::Backfill];

    /// The word in `planned_jobs.lane`.
    pub fn as_str(self) -> &'static str {
        match self {
            Lane::Live => "live",
            Lane::Backfill => "backfill",
        }
    }

    /// Reads [`Lane::as_str`]'s form.
    pub fn parse(s: &str) -> Option<Lane> {
        Lane::ALL.into_iter().find(|lane| lane.as_str() == s)
    }
}

/// Why a job failed, or what a gap lacks (`ingestion_failures.error_kind`; also the kind in
/// alerts and in the plugin CLI's JSON).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FailureKind {
    /// The source refused the credential.
    Auth,
    /// The day's quota is used up.
    QuotaExhausted,
    /// The source asked to slow down.
    RateLimited,
    /// The source refused the request as asked.
    BadRequest,
    /// Nothing published (yet); a job ends `no_data` on it, never a failure.
    NoData,
    /// A passing fault: a 5xx, a broken connection, a database that failed mid-job.
    Transient,
    /// An answer the plugin could not read.
    Malformed,
    /// The plugin does not serve the operation.
    Unsupported,
    /// The plugin misbehaved: trapped, ran out of time or memory, or returned invalid records.
    PluginFault,
    /// The host is not set up for the job (no plugin for its source).
    Config,
    /// A gap: a race given up on without its results or final odds.
    Incomplete,
}

impl FailureKind {
    /// Every kind.
    pub const ALL: [FailureKind; 11] = [
        FailureKind::Auth,
        FailureKind::QuotaExhausted,
        FailureKind::RateLimited,
        FailureKind::BadRequest,
        FailureKind::NoData,
        FailureKind::Transient,
        FailureKind::Malformed,
        FailureKind::Unsupported,
        FailureKind::PluginFault,
        FailureKind::Config,
        FailureKind::Incomplete,
    ];

    /// The word in `ingestion_failures.error_kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureKind::Auth => "auth",
            FailureKind::QuotaExhausted => "quota_exhausted",
            FailureKind::RateLimited => "rate_limited",
            FailureKind::BadRequest => "bad_request",
            FailureKind::NoData => "no_data",
            FailureKind::Transient => "transient",
            FailureKind::Malformed => "malformed",
            FailureKind::Unsupported => "unsupported",
            FailureKind::PluginFault => "plugin_fault",
            FailureKind::Config => "config",
            FailureKind::Incomplete => "incomplete",
        }
    }

    /// Reads [`FailureKind::as_str`]'s form.
    pub fn parse(s: &str) -> Option<FailureKind> {
        FailureKind::ALL.into_iter().find(|kind| kind.as_str() == s)
    }

    /// The kind of a plugin's source error.
    pub fn of(error: &SourceError) -> FailureKind {
        match error {
            SourceError::Auth(_) => FailureKind::Auth,
            SourceError::QuotaExhausted(_) => FailureKind::QuotaExhausted,
            SourceError::RateLimited(_) => FailureKind::RateLimited,
            SourceError::BadRequest(_) => FailureKind::BadRequest,
            SourceError::NoData(_) => FailureKind::NoData,
            SourceError::Transient(_) => FailureKind::Transient,
            SourceError::Malformed(_) => FailureKind::Malformed,
            SourceError::Unsupported(_) => FailureKind::Unsupported,
        }
    }

    /// Whether a job that failed so is tried again (with backoff, up to its attempts). A
    /// malformed answer is usually a body cut short on the way (a truncated page): asked again
    /// like a transient fault, a failure only if it stays so.
    pub fn retryable(self) -> bool {
        matches!(self, FailureKind::Transient | FailureKind::RateLimited | FailureKind::Malformed)
    }
}

impl std::fmt::Display for FailureKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Queue priority (higher first): live before backfill; among live work, odds first, since a
/// late odds poll cannot be made up.
pub fn priority(lane: Lane, op: Op) -> usize {
    match (lane, op) {
        (Lane::Backfill, _) => 0,
        (Lane::Live, Op::Odds | Op::OddsFinal) => 20,
        (Lane::Live, _) => 10,
    }
}

/// sqlx's `text` encoding for a type with `as_str` and `parse`.
macro_rules! text_column {
    ($ty:ty, $what:literal) => {
        impl Type<Postgres> for $ty {
            fn type_info() -> PgTypeInfo {
                <&str as Type<Postgres>>::type_info()
            }

            fn compatible(ty: &PgTypeInfo) -> bool {
                <&str as Type<Postgres>>::compatible(ty)
            }
        }

        impl Encode<'_, Postgres> for $ty {
            fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
                <&str as Encode<Postgres>>::encode(self.as_str(), buf)
            }
        }

        impl<'r> Decode<'r, Postgres> for $ty {
            fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
                let text = <&str as Decode<Postgres>>::decode(value)?;
                <$ty>::parse(text).ok_or_else(|| format!(concat!("unknown ", $what, " {:?}"), text).into())
            }
        }
    };
}

text_column!(JobState, "job state");
text_column!(Lane, "lane");
text_column!(Op, "operation");
text_column!(FailureKind, "failure kind");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_word_reads_back_and_no_other() {
        for state in JobState::ALL {
            assert_eq!(JobState::parse(state.as_str()), Some(state));
        }
        for lane in Lane::ALL {
            assert_eq!(Lane::parse(lane.as_str()), Some(lane));
        }
        for kind in FailureKind::ALL {
            assert_eq!(FailureKind::parse(kind.as_str()), Some(kind));
        }
        assert_eq!(JobState::parse("Done"), None);
        assert_eq!(FailureKind::parse("plugin-fault"), None);
        assert_eq!(Lane::parse(""), None);
    }

    #[test]
    fn live_odds_come_first_and_backfill_last() {
        assert!(priority(Lane::Live, Op::OddsFinal) > priority(Lane::Live, Op::Results));
        assert!(priority(Lane::Live, Op::Schedule) > priority(Lane::Backfill, Op::Odds));
    }
}
