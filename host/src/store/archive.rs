//! The raw archive: every response as received, gzip-compressed, so a parse can be replayed and
//! a malformed answer inspected; and its retention.

use std::io::{Read, Write};
use std::time::Duration;

use chrono::{DateTime, Utc};
use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sqlx::PgExecutor;

use super::Store;
use super::error::{Result, db};
use crate::json;
use crate::plugins::wit::{HttpRequest, Operation};

/// One response to archive, with what a re-parse needs (host/src/replay/).
#[derive(Debug, Clone, Copy)]
pub struct Archived<'a> {
    /// The source (`kra`, `kspo`).
    pub source: &'a str,
    /// The operation the request was planned for; `None` when it answers no operation.
    pub operation: Option<&'a Operation>,
    /// The request as the plugin planned it (its dataset is the row's dataset).
    pub request: &'a HttpRequest,
    /// The URL sent, with the credential redacted.
    pub url: &'a str,
    pub status: u16,
    pub body: &'a [u8],
    /// The capture time of the job that fetched it, on the host's clock: the instant the store
    /// stamps the job's odds and scratches with, which a replay stamps them with again
    /// (host/src/replay/). `fetched_at` is the database's time of receipt.
    pub captured_at: DateTime<Utc>,
}

impl Store {
    /// Archives one response and returns its id (for `ingestion_failures.raw_response_id`).
    /// `executor` is the job's transaction (`&mut *tx`) or, to keep the body even if the job
    /// rolls back, the pool.
    pub async fn archive<'e>(&self, executor: impl PgExecutor<'e>, response: &Archived<'_>) -> Result<i64> {
        let Archived { source, operation, request, url, status, body, captured_at } = *response;
        let dataset = &request.dataset;
        // jsonb cannot hold U+0000, which a plugin may put in a query value (the URL sent
        // percent-encodes it): such a response is kept without what a re-parse needs, and a
        // replay skips and counts it, rather than the job failing for want of an archive.
        let recorded = !request.query.iter().any(|(k, v)| k.contains('\0') || v.contains('\0'));
        let body_gz = gzip(body);
        // The fetcher caps bodies at 32 MiB, far below i32::MAX.
        let body_bytes = i32::try_from(body.len()).unwrap_or(i32::MAX);
        sqlx::query_scalar(
            "INSERT INTO raw_responses (source, dataset, url, status, body_gz, body_bytes, captured_at, operation, request)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id",
        )
        .bind(source)
        .bind(dataset)
        .bind(url)
        .bind(i32::from(status))
        .bind(body_gz)
        .bind(body_bytes)
        .bind(captured_at)
        .bind(operation.filter(|_| recorded).map(json::operation))
        .bind(recorded.then(|| json::http_request(request)))
        .fetch_one(executor)
        .await
        .map_err(db(format!("archiving a {source} {dataset} response")))
    }

    /// Deletes archived responses fetched more than `older_than` ago, except those an
    /// unresolved ingestion failure still points at; returns how many went.
    pub async fn prune_raw(&self, older_than: Duration) -> Result<u64> {
        let done = sqlx::query(
            "DELETE FROM raw_responses r
             WHERE r.fetched_at < now() - $1::interval
               AND NOT EXISTS (SELECT 1 FROM ingestion_failures f
                               WHERE f.raw_response_id = r.id AND f.resolved_at IS NULL)",
        )
        .bind(older_than)
        .execute(&self.pool)
        .await
        .map_err(db("pruning the raw archive"))?;
        Ok(done.rows_affected())
    }
}

/// Compresses an archived body. Default level: bodies are small and repetitive, and a higher
/// level buys little for the CPU it costs on every fetch.
pub fn gzip(body: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::with_capacity(body.len() / 4 + 64), Compression::default());
    // Writing into a Vec cannot fail.
    let _ = encoder.write_all(body);
    encoder.finish().unwrap_or_default()
}

/// Decompresses an archived body, for replays and tests.
pub fn gunzip(body_gz: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    GzDecoder::new(body_gz).read_to_end(&mut out)?;
    Ok(out)
}
