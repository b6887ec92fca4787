//! The raw archive: every response as received, gzip-compressed, so a parse can be replayed and
//! a malformed answer inspected; and its retention.

use std::io::{Read, Write};
use std::time::Duration;

use flate2::Compression;
use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use sqlx::PgExecutor;

use super::Store;
use super::error::{Result, db};

impl Store {
    /// Archives one response and returns its id (for `ingestion_failures.raw_response_id`).
    /// `url` must already have its credential redacted; `executor` is the job's transaction
    /// (`&mut *tx`) or, to keep the body even if the job rolls back, the pool.
    pub async fn archive<'e>(
        &self,
        executor: impl PgExecutor<'e>,
        source: &str,
        dataset: &str,
        url: &str,
        status: u16,
        body: &[u8],
    ) -> Result<i64> {
        let body_gz = gzip(body);
        // The fetcher caps bodies at 32 MiB, far below i32::MAX.
        let body_bytes = i32::try_from(body.len()).unwrap_or(i32::MAX);
        sqlx::query_scalar(
            "INSERT INTO raw_responses (source, dataset, url, status, body_gz, body_bytes)
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(source)
        .bind(dataset)
        .bind(url)
        .bind(i32::from(status))
        .bind(body_gz)
        .bind(body_bytes)
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
