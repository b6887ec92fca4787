//! Running one operation end to end: plan → fetch → parse, following every page, with
//! bounded retries. The plugin CLI's `run` uses it as is; the daemon wraps the same loop with
//! its rate limiter, quota and archive.

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use crate::fetch::{Endpoint, FetchError, Fetcher};
use crate::plugins::wit::{HttpRequest, Operation, Record, SourceError};
use crate::plugins::{CallError, Fault, Plugin};

/// How hard to try.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Extra attempts per request after a transient fault, a broken connection or a rate limit.
    pub retries: u32,
    /// Backoff before the first retry; doubled each time.
    pub backoff: Duration,
    /// Longest wait honoured for a `Retry-After`.
    pub max_wait: Duration,
    /// Requests one operation may make, pages included: a guard against a plugin that never
    /// stops asking.
    pub max_requests: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            retries: 2,
            backoff: Duration::from_millis(200),
            max_wait: Duration::from_secs(10),
            max_requests: 2_000,
        }
    }
}

/// What an operation yielded.
#[derive(Debug, Default)]
pub struct Outcome {
    pub records: Vec<Record>,
    /// Requests sent, retries included.
    pub requests: usize,
}

/// Why an operation stopped.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The plugin's verdict (after retries where the kind allows them).
    #[error("{url}: {}: {}", crate::plugins::error_kind(.error), crate::plugins::error_message(.error))]
    Source { url: String, error: SourceError },
    #[error(transparent)]
    Fault(#[from] Fault),
    #[error(transparent)]
    Fetch(#[from] FetchError),
    #[error("the operation needed more than {0} requests; the plugin keeps asking for more pages")]
    TooManyRequests(usize),
    #[error("a plugin call was lost: {0}")]
    Join(String),
}

impl RunError {
    /// The error kind, as a source error kind (`transient` for a broken connection).
    pub fn kind(&self) -> &'static str {
        match self {
            RunError::Source { error, .. } => crate::plugins::error_kind(error),
            RunError::Fault(_) => "plugin_fault",
            RunError::Fetch(_) => "transient",
            RunError::TooManyRequests(_) | RunError::Join(_) => "plugin_fault",
        }
    }
}

/// Plans `op`, then fetches and parses until no request is left.
pub async fn run(
    plugin: &Plugin,
    endpoint: &Endpoint,
    fetcher: &Fetcher,
    op: &Operation,
    config: &[(String, String)],
    policy: &Policy,
) -> Result<Outcome, RunError> {
    let mut queue: VecDeque<HttpRequest> = plan(plugin, op, config).await?.into();
    let mut seen: HashSet<String> = HashSet::new();
    let mut outcome = Outcome::default();
    while let Some(request) = queue.pop_front() {
        if !seen.insert(endpoint.display_url(&request)) {
            continue;
        }
        if seen.len() > policy.max_requests {
            return Err(RunError::TooManyRequests(policy.max_requests));
        }
        let page = fetch_and_parse(plugin, endpoint, fetcher, op, &request, policy, &mut outcome.requests).await?;
        outcome.records.extend(page.records);
        queue.extend(page.next);
    }
    Ok(outcome)
}

async fn plan(plugin: &Plugin, op: &Operation, config: &[(String, String)]) -> Result<Vec<HttpRequest>, RunError> {
    let (plugin, op, config) = (plugin.clone(), op.clone(), config.to_vec());
    off_runtime(move || plugin.plan(&op, &config)).await?.map_err(|e| match e {
        CallError::Source(error) => RunError::Source { url: "plan".to_string(), error },
        CallError::Fault(f) => RunError::Fault(f),
    })
}

async fn fetch_and_parse(
    plugin: &Plugin,
    endpoint: &Endpoint,
    fetcher: &Fetcher,
    op: &Operation,
    request: &HttpRequest,
    policy: &Policy,
    sent: &mut usize,
) -> Result<crate::plugins::wit::Page, RunError> {
    let mut attempt = 0;
    loop {
        *sent += 1;
        let error = match fetcher.fetch(endpoint, request).await {
            Err(e) => RunError::Fetch(e),
            Ok(response) => match parse(plugin, op, request, response).await? {
                Ok(page) => return Ok(page),
                Err(CallError::Fault(f)) => return Err(RunError::Fault(f)),
                Err(CallError::Source(error)) => RunError::Source { url: endpoint.display_url(request), error },
            },
        };
        let wait = match &error {
            RunError::Source { error: SourceError::RateLimited(after), .. } => {
                after.map(|s| Duration::from_secs(u64::from(s))).unwrap_or(policy.backoff).min(policy.max_wait)
            }
            RunError::Source { error: SourceError::Transient(_), .. } | RunError::Fetch(_) => {
                policy.backoff.saturating_mul(1 << attempt.min(16))
            }
            _ => return Err(error),
        };
        if attempt >= policy.retries {
            return Err(error);
        }
        attempt += 1;
        tracing::info!(attempt, wait_ms = wait.as_millis() as u64, "retrying after: {error}");
        tokio::time::sleep(wait).await;
    }
}

async fn parse(
    plugin: &Plugin,
    op: &Operation,
    request: &HttpRequest,
    response: crate::plugins::wit::HttpResponse,
) -> Result<Result<crate::plugins::wit::Page, CallError>, RunError> {
    let (plugin, op, request) = (plugin.clone(), op.clone(), request.clone());
    off_runtime(move || plugin.parse(&op, &request, &response)).await
}

/// Runs a plugin call on tokio's blocking pool: calls are CPU-bound, and the synchronous WASI
/// bindings must not block an async worker thread.
async fn off_runtime<R: Send + 'static>(call: impl FnOnce() -> R + Send + 'static) -> Result<R, RunError> {
    tokio::task::spawn_blocking(call).await.map_err(|e| RunError::Join(e.to_string()))
}
