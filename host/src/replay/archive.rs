//! The archived responses of one source over a range of KST days, read in capture order
//! (`captured_at`, then id; rows from before migrations/0011 have only `fetched_at`), a page at
//! a time so a long range never sits in memory whole.

use std::collections::VecDeque;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde_json::Value;
use sqlx::PgPool;

use crate::clock::kst_instant;
use crate::json;
use crate::plugins::wit::{HttpRequest, HttpResponse, Operation};
use crate::store::{StoreError, gunzip};

/// Rows read per round trip.
const PAGE: i64 = 200;

/// Why a replay or a diff could not run.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("unknown source {0:?}; sources: kra, kspo")]
    UnknownSource(String),
    #[error("the range is empty: --from {from} is after --to {to}")]
    EmptyRange { from: NaiveDate, to: NaiveDate },
    #[error("no archived {name} responses were fetched from {from} to {to} (KST)")]
    NoRows { name: String, from: NaiveDate, to: NaiveDate },
    /// A row whose operation, request or body cannot be read back.
    #[error("raw_responses row {id}: {reason}")]
    Unreadable { id: i64, reason: String },
    #[error("database error while {context}: {source}")]
    Database { context: String, source: sqlx::Error },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A source and the KST days whose fetched responses to read, both ends included.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub source: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
}

impl Range {
    /// Checks the source (one that runs tracks) and that `from` is not after `to`.
    pub fn new(source: &str, from: NaiveDate, to: NaiveDate) -> Result<Range, ReplayError> {
        if crate::tracks::of_source(source).is_empty() {
            return Err(ReplayError::UnknownSource(source.to_string()));
        }
        if from > to {
            return Err(ReplayError::EmptyRange { from, to });
        }
        Ok(Range { source: source.to_string(), from, to })
    }

    /// The first instant of `from`, KST.
    pub fn start(&self) -> DateTime<Utc> {
        kst_instant(self.from, NaiveTime::MIN)
    }

    /// The first instant after `to`, KST.
    pub fn end(&self) -> DateTime<Utc> {
        kst_instant(self.to.succ_opt().unwrap_or(NaiveDate::MAX), NaiveTime::MIN)
    }
}

/// One archived response, read back for a parse.
#[derive(Debug, Clone)]
pub(crate) struct Response {
    pub id: i64,
    /// The capture time of the job that fetched it (`raw_responses.captured_at`).
    pub captured_at: DateTime<Utc>,
    pub url: String,
    pub operation: Operation,
    /// The operation as archived: the key runs are grouped by.
    pub operation_json: Value,
    pub request: HttpRequest,
    /// The request as archived: within a run, the key of a request's retries.
    pub request_json: Value,
    /// Headers are not archived: the response as the plugin sees it on a replay has none.
    pub response: HttpResponse,
}

/// The rows of a range, in capture order.
pub(crate) struct Archive<'a> {
    pool: &'a PgPool,
    range: &'a Range,
    after: (DateTime<Utc>, i64),
    buffered: VecDeque<Response>,
    done: bool,
    /// Rows read, with and without what a re-parse needs.
    pub rows: u64,
    /// Rows archived before the archive kept the operation and the request: skipped.
    pub unrecorded: u64,
}

type Row = (i64, DateTime<Utc>, String, i32, Vec<u8>, Option<Value>, Option<Value>);

impl<'a> Archive<'a> {
    pub(crate) fn new(pool: &'a PgPool, range: &'a Range) -> Self {
        Archive {
            pool,
            range,
            after: (range.start(), -1),
            buffered: VecDeque::new(),
            done: false,
            rows: 0,
            unrecorded: 0,
        }
    }

    /// The next response that can be parsed again, or `None` at the end of the range.
    pub(crate) async fn next(&mut self) -> Result<Option<Response>, ReplayError> {
        while self.buffered.is_empty() && !self.done {
            self.fill().await?;
        }
        Ok(self.buffered.pop_front())
    }

    /// The error for a range in which nothing was archived at all, once the archive is read.
    pub(crate) fn check_found(&self) -> Result<(), ReplayError> {
        if self.rows == 0 {
            let Range { source: name, from, to } = self.range.clone();
            return Err(ReplayError::NoRows { name, from, to });
        }
        Ok(())
    }

    async fn fill(&mut self) -> Result<(), ReplayError> {
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, at, url, status, body_gz, operation, request
             FROM (SELECT *, COALESCE(captured_at, fetched_at) AS at FROM raw_responses WHERE source = $1) r
             WHERE at >= $2 AND at < $3 AND (at, id) > ($4, $5)
             ORDER BY at, id
             LIMIT $6",
        )
        .bind(&self.range.source)
        .bind(self.range.start())
        .bind(self.range.end())
        .bind(self.after.0)
        .bind(self.after.1)
        .bind(PAGE)
        .fetch_all(self.pool)
        .await
        .map_err(|source| ReplayError::Database {
            context: format!("reading archived {} responses after row {}", self.range.source, self.after.1),
            source,
        })?;
        self.done = (rows.len() as i64) < PAGE;
        for (id, captured_at, url, status, body_gz, operation, request) in rows {
            self.after = (captured_at, id);
            self.rows += 1;
            let (Some(operation_json), Some(request_json)) = (operation, request) else {
                self.unrecorded += 1;
                continue;
            };
            let unreadable = |reason: String| ReplayError::Unreadable { id, reason };
            let operation = json::operation_from(&operation_json).map_err(|e| unreadable(format!("operation: {e}")))?;
            let request = json::http_request_from(&request_json).map_err(|e| unreadable(format!("request: {e}")))?;
            let body = gunzip(&body_gz).map_err(|e| unreadable(format!("body: {e}")))?;
            let status = u16::try_from(status).map_err(|_| unreadable(format!("status {status} out of range")))?;
            self.buffered.push_back(Response {
                id,
                captured_at,
                url,
                operation,
                operation_json,
                request,
                request_json,
                response: HttpResponse { status, headers: Vec::new(), body },
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).expect("date")
    }

    #[test]
    fn a_range_is_kst_days_of_a_known_source() {
        let range = Range::new("kra", day(1), day(2)).expect("valid");
        assert_eq!(range.start().to_rfc3339(), "2026-11-30T15:00:00+00:00");
        assert_eq!(range.end().to_rfc3339(), "2026-12-02T15:00:00+00:00");
        let unknown = Range::new("jra", day(1), day(2)).expect_err("unknown").to_string();
        assert!(unknown.contains("\"jra\"") && unknown.contains("kra, kspo"), "{unknown}");
        let backwards = Range::new("kspo", day(3), day(2)).expect_err("backwards").to_string();
        assert!(backwards.contains("2026-12-03") && backwards.contains("2026-12-02"), "{backwards}");
    }
}
