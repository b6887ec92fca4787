//! Running one operation end to end: plan → fetch → parse, following every page, with
//! bounded retries. The plugin CLI's `run` uses it as is; the daemon's worker passes [`Hooks`]
//! that put every request through the rate limiter and quota and archive every response before
//! it is parsed, and reads what the run did from its [`Ran`].

use std::collections::{BTreeSet, HashSet, VecDeque};
use std::future::Future;
use std::time::Duration;

use crate::fetch::{Endpoint, FetchError, Fetcher, Target};
use crate::jobs::FailureKind;
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
    /// The drift the plugin reported, each field once: `(dataset, kind, field)`.
    pub drift: BTreeSet<crate::store::DriftField>,
}

/// What an operation did, however it ended: its result, and what it sent and received on the
/// way (a failure's books need the dataset and the raw response that caused it).
#[derive(Debug)]
pub struct Ran<S> {
    pub result: Result<Vec<Record>, Stopped<S>>,
    pub trace: Trace,
}

/// The requests of one operation.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Trace {
    /// Requests sent, retries included.
    pub requests: usize,
    /// Every dataset asked.
    pub datasets: BTreeSet<String>,
    /// The dataset of the last request.
    pub dataset: Option<String>,
    /// Where the hooks kept the last response (the raw archive's id).
    pub raw_response: Option<i64>,
    /// The drift the plugin reported, each field once: `(dataset, kind, field)`.
    pub drift: BTreeSet<crate::store::DriftField>,
}

/// Why an operation with hooks stopped.
#[derive(Debug, thiserror::Error)]
pub enum Stopped<S> {
    #[error(transparent)]
    Run(#[from] RunError),
    /// A hook refused to go on (the budget said no; the archive could not keep a response).
    #[error("{0}")]
    Hook(S),
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
}

impl RunError {
    /// The failure's kind (`transient` for a broken connection).
    pub fn kind(&self) -> FailureKind {
        match self {
            RunError::Source { error, .. } => FailureKind::of(error),
            RunError::Fetch(_) => FailureKind::Transient,
            RunError::Fault(_) | RunError::TooManyRequests(_) | RunError::OverBudget(_) => FailureKind::PluginFault,
        }
    }

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
pub trait Hooks: Send {
    /// Why a hook stops the operation.
    type Stop: Send;

    /// Before each request (retries included) is sent: wait for its turn, count it against a
    /// quota. An error stops the operation.
    fn before_send(&mut self, request: &HttpRequest) -> impl Future<Output = Result<(), Self::Stop>> + Send;

    /// Each response as received, before the plugin sees it (the raw archive). `url` has the
    /// credential redacted. Returns where the response was kept, if anywhere; an error stops
    /// the operation unparsed.
    fn received(
        &mut self,
        request: &HttpRequest,
        url: &str,
        response: &HttpResponse,
    ) -> impl Future<Output = Result<Option<i64>, Self::Stop>> + Send;

    /// A request was answered (`status`) or not (`None`), `elapsed` after it was sent.
    fn fetched(&mut self, request: &HttpRequest, status: Option<u16>, elapsed: Duration) {
        let _ = (request, status, elapsed);
    }

    /// The source answered "too many requests, wait `wait`": tell whoever else sends to it.
    fn rate_limited(&mut self, request: &HttpRequest, wait: Duration) -> impl Future<Output = ()> + Send {
        let _ = (request, wait);
        async {}
    }
}

/// No rate limit, no quota, no archive: the plugin CLI.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {
    type Stop = std::convert::Infallible;

    async fn before_send(&mut self, _: &HttpRequest) -> Result<(), Self::Stop> {
        Ok(())
    }

    async fn received(&mut self, _: &HttpRequest, _: &str, _: &HttpResponse) -> Result<Option<i64>, Self::Stop> {
        Ok(None)
    }
}

/// The operation and what it runs with.
#[derive(Debug, Clone, Copy)]
pub struct Job<'a> {
    pub plugin: &'a Plugin,
    pub endpoint: &'a Endpoint,
    pub fetcher: &'a Fetcher,
    pub op: &'a Operation,
    pub config: &'a [(String, String)],
    pub policy: &'a Policy,
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
    let job = Job { plugin, endpoint, fetcher, op, config, policy };
    let ran = run_with(&job, &mut NoHooks, None).await;
    match ran.result {
        Ok(records) => Ok(Outcome { records, requests: ran.trace.requests, drift: ran.trace.drift }),
        Err(Stopped::Run(e)) => Err(e),
        Err(Stopped::Hook(never)) => match never {},
    }
}

/// [`run`], with `hooks` around every request, stopped after `within` if it is given.
pub async fn run_with<H: Hooks>(job: &Job<'_>, hooks: &mut H, within: Option<Duration>) -> Ran<H::Stop> {
    let mut trace = Trace::default();
    let work = drive(job, hooks, &mut trace);
    let result = match within {
        Some(limit) => {
            tokio::time::timeout(limit, work).await.unwrap_or(Err(Stopped::Run(RunError::OverBudget(limit))))
        }
        None => work.await,
    };
    Ran { result, trace }
}

async fn drive<H: Hooks>(job: &Job<'_>, hooks: &mut H, trace: &mut Trace) -> Result<Vec<Record>, Stopped<H::Stop>> {
    let plugin = job.plugin;
    let mut queue: VecDeque<HttpRequest> = plan(plugin, job.op, job.config).await?.into();
    let mut seen: HashSet<String> = HashSet::new();
    let mut records = Vec::new();
    while let Some(request) = queue.pop_front() {
        let target = job.endpoint.target(&request).map_err(|e| {
            RunError::from(Fault::Request {
                plugin: plugin.label().to_string(),
                path: text::clean(&request.path, 200),
                reason: e.to_string(),
            })
        })?;
        if !seen.insert(target.shown().to_string()) {
            continue;
        }
        if seen.len() > job.policy.max_requests {
            return Err(RunError::TooManyRequests(job.policy.max_requests).into());
        }
        let page = fetch_and_parse(job, &request, &target, hooks, trace).await?;
        for d in &page.drift {
            trace.drift.insert((request.dataset.clone(), crate::json::drift_kind(d.kind), d.field.clone()));
        }
        records.extend(page.records);
        queue.extend(page.next);
    }
    Ok(records)
}

async fn plan(plugin: &Plugin, op: &Operation, config: &[(String, String)]) -> Result<Vec<HttpRequest>, RunError> {
    plugin.plan_watched(op, config).await.map_err(|e| match e {
        CallError::Source(error) => RunError::Source { url: "plan".to_string(), error },
        CallError::Fault(f) => RunError::Fault(f),
    })
}

async fn fetch_and_parse<H: Hooks>(
    job: &Job<'_>,
    request: &HttpRequest,
    target: &Target,
    hooks: &mut H,
    trace: &mut Trace,
) -> Result<crate::plugins::wit::Page, Stopped<H::Stop>> {
    let Job { plugin, fetcher, op, policy, .. } = *job;
    let mut attempt = 0;
    loop {
        trace.requests += 1;
        trace.dataset = Some(request.dataset.clone());
        trace.datasets.insert(request.dataset.clone());
        hooks.before_send(request).await.map_err(Stopped::Hook)?;
        let sent = std::time::Instant::now();
        let fetched = fetcher.fetch(target).await;
        hooks.fetched(request, fetched.as_ref().ok().map(|r| r.status), sent.elapsed());
        let error = match fetched {
            Err(e) => RunError::Fetch(e),
            Ok(response) => {
                if let Some(id) = hooks.received(request, target.shown(), &response).await.map_err(Stopped::Hook)? {
                    trace.raw_response = Some(id);
                }
                match plugin.parse_watched(op, request, response).await {
                    Ok(page) => return Ok(page),
                    Err(CallError::Fault(f)) => return Err(RunError::Fault(f).into()),
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
            _ => return Err(error.into()),
        };
        if let RunError::Source { error: SourceError::RateLimited(_), .. } = &error {
            hooks.rate_limited(request, wait).await;
        }
        if attempt >= policy.retries {
            return Err(error.into());
        }
        attempt += 1;
        tracing::info!(attempt, wait_ms = wait.as_millis() as u64, "retrying after: {error}");
        tokio::time::sleep(wait).await;
    }
}
