//! Running one operation end to end: plan → fetch → parse, following every page, with
//! bounded retries. The plugin CLI's `run` uses it as is; the daemon's worker passes [`Hooks`]
//! that put every request through the rate limiter and quota and archive every response before
//! it is parsed.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::time::Duration;

use crate::fetch::{Endpoint, FetchError, Fetcher, Target};
use crate::plugins::wit::{HttpRequest, HttpResponse, Operation, Record, SourceError};
use crate::plugins::{CallError, Fault, Plugin, text};

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
    /// The whole operation ran past the time the caller gave it (the worker's per-job budget).
    #[error("the job ran past its {0:?} budget and was stopped")]
    OverBudget(Duration),
    /// The rate limiter or the quota refused the request (see [`Hooks::before_send`]).
    #[error(transparent)]
    Budget(#[from] crate::budget::BudgetError),
    /// The raw archive could not keep a response, so it was not parsed.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl RunError {
    /// The error kind, as a source error kind (`transient` for a broken connection).
    pub fn kind(&self) -> &'static str {
        match self {
            RunError::Source { error, .. } => crate::plugins::error_kind(error),
            RunError::Fault(_) => "plugin_fault",
            RunError::Fetch(_) => "transient",
            RunError::TooManyRequests(_) | RunError::OverBudget(_) => "plugin_fault",
            RunError::Budget(crate::budget::BudgetError::Exhausted { .. }) => "quota_exhausted",
            RunError::Budget(crate::budget::BudgetError::Paused { .. }) => "rate_limited",
            RunError::Budget(_) | RunError::Store(_) => "transient",
        }
    }
}

impl RunError {
    /// Whether the plugin ran out of time: its call's deadline, the watchdog, or the job's
    /// budget.
    pub fn timed_out(&self) -> bool {
        matches!(
            self,
            RunError::OverBudget(_)
                | RunError::Fault(Fault::Timeout { .. } | Fault::Unresponsive { .. } | Fault::Stuck { .. })
        )
    }
}

/// What the caller does around each request.
pub trait Hooks: Sync {
    /// Before each request (retries included) is sent: wait for its turn, count it against a
    /// quota. An error stops the operation.
    fn before_send(&self, request: &HttpRequest) -> impl Future<Output = Result<(), RunError>> + Send;

    /// Each response as received, before the plugin sees it (the raw archive). `url` has the
    /// credential redacted. An error stops the operation unparsed.
    fn received(
        &self,
        request: &HttpRequest,
        url: &str,
        response: &HttpResponse,
    ) -> impl Future<Output = Result<(), RunError>> + Send;

    /// The source answered "too many requests, wait `wait`": tell whoever else sends to it.
    fn rate_limited(&self, request: &HttpRequest, wait: Duration) -> impl Future<Output = ()> + Send {
        let _ = (request, wait);
        async {}
    }
}

/// No rate limit, no quota, no archive: the plugin CLI.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {
    async fn before_send(&self, _: &HttpRequest) -> Result<(), RunError> {
        Ok(())
    }

    async fn received(&self, _: &HttpRequest, _: &str, _: &HttpResponse) -> Result<(), RunError> {
        Ok(())
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
    run_with(plugin, endpoint, fetcher, op, config, policy, &NoHooks).await
}

/// [`run`], with `hooks` around every request.
pub async fn run_with(
    plugin: &Plugin,
    endpoint: &Endpoint,
    fetcher: &Fetcher,
    op: &Operation,
    config: &[(String, String)],
    policy: &Policy,
    hooks: &impl Hooks,
) -> Result<Outcome, RunError> {
    let mut queue: VecDeque<HttpRequest> = plan(plugin, op, config).await?.into();
    let mut seen: HashSet<String> = HashSet::new();
    let mut outcome = Outcome::default();
    while let Some(request) = queue.pop_front() {
        let target = endpoint.target(&request).map_err(|e| Fault::Request {
            plugin: plugin.label().to_string(),
            path: text::clean(&request.path, 200),
            reason: e.to_string(),
        })?;
        if !seen.insert(target.shown().to_string()) {
            continue;
        }
        if seen.len() > policy.max_requests {
            return Err(RunError::TooManyRequests(policy.max_requests));
        }
        let call = Call { plugin, fetcher, op, policy };
        let page = fetch_and_parse(&call, &request, &target, hooks, &mut outcome.requests).await?;
        outcome.records.extend(page.records);
        queue.extend(page.next);
    }
    Ok(outcome)
}

async fn plan(plugin: &Plugin, op: &Operation, config: &[(String, String)]) -> Result<Vec<HttpRequest>, RunError> {
    plugin.plan_watched(op, config).await.map_err(|e| match e {
        CallError::Source(error) => RunError::Source { url: "plan".to_string(), error },
        CallError::Fault(f) => RunError::Fault(f),
    })
}

/// What stays the same for every request of one operation.
struct Call<'a> {
    plugin: &'a Plugin,
    fetcher: &'a Fetcher,
    op: &'a Operation,
    policy: &'a Policy,
}

async fn fetch_and_parse(
    call: &Call<'_>,
    request: &HttpRequest,
    target: &Target,
    hooks: &impl Hooks,
    sent: &mut usize,
) -> Result<crate::plugins::wit::Page, RunError> {
    let Call { plugin, fetcher, op, policy } = *call;
    let mut attempt = 0;
    loop {
        hooks.before_send(request).await?;
        *sent += 1;
        let error = match fetcher.fetch(target).await {
            Err(e) => RunError::Fetch(e),
            Ok(response) => {
                hooks.received(request, target.shown(), &response).await?;
                match plugin.parse_watched(op, request, response).await {
                    Ok(page) => return Ok(page),
                    Err(CallError::Fault(f)) => return Err(RunError::Fault(f)),
                    Err(CallError::Source(error)) => RunError::Source { url: target.shown().to_string(), error },
                }
            }
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
        if let RunError::Source { error: SourceError::RateLimited(_), .. } = &error {
            hooks.rate_limited(request, wait).await;
        }
        if attempt >= policy.retries {
            return Err(error);
        }
        attempt += 1;
        tracing::info!(attempt, wait_ms = wait.as_millis() as u64, "retrying after: {error}");
        tokio::time::sleep(wait).await;
    }
}
