//! Slack alerts: one message per incident (source + dataset + error kind), repeats suppressed
//! for a window, a reminder after it, one notice when the incident is resolved.
//!
//! Alerting never waits on Slack. [`Alerter::raise`] and [`Alerter::resolve`] decide under a
//! short lock whether a message is due and hand it to a bounded queue with `try_send`; when the
//! queue is full the message is dropped and counted. One task ([`AlertTask`]) owns the queue's
//! receiving end and the HTTP client, posts in order with bounded retries, and drains what is
//! queued when shut down, within a deadline.
//!
//! | file | owns |
//! |---|---|
//! | `ledger` | which raises and resolves become messages (pure, time as an argument) |
//! | `book` | the incidents in PostgreSQL: one opened/resolved message across hosts and restarts |
//! | `message` | the message text, escaped and cut |
//! | `slack` | posting: webhook or bot, Slack's verdicts, retries, scrubbing secrets from errors |
//! | `handle` | [`Alerter`]: the non-blocking handle and the counters |
//! | `task` | [`AlertTask`]: the delivery loop and shutdown |
//! | `clock`, `secret` | the injectable clock; the secret wrapper |

mod book;
mod clock;
mod handle;
mod ledger;
mod message;
mod slack;
mod task;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

pub use crate::secret::Secret;
pub use book::IncidentBook;
pub use clock::{Clock, ManualClock, SystemClock};
pub use handle::{AlertMetrics, Alerter};
pub use task::{AlertTask, Drain};

/// Slack's Web API.
pub const DEFAULT_SLACK_API: &str = "https://slack.com/api";

/// Where alerts go.
#[derive(Debug, Clone)]
pub enum SlackTarget {
    /// An incoming webhook: the URL is the credential.
    Webhook { url: Secret },
    /// A bot token with the `chat:write` scope, posting to `channel` (`#name` or an id) through
    /// `{api_base}/chat.postMessage`.
    Bot { token: Secret, channel: String, api_base: String },
}

impl SlackTarget {
    /// An incoming webhook.
    pub fn webhook(url: impl Into<String>) -> Self {
        SlackTarget::Webhook { url: Secret::new(url) }
    }

    /// A bot posting to `channel` through [`DEFAULT_SLACK_API`].
    pub fn bot(token: impl Into<String>, channel: impl Into<String>) -> Self {
        SlackTarget::Bot { token: Secret::new(token), channel: channel.into(), api_base: DEFAULT_SLACK_API.into() }
    }
}

/// How alerting behaves.
#[derive(Debug, Clone)]
pub struct AlertConfig {
    /// `None`: alerts are logged and dropped.
    pub target: Option<SlackTarget>,
    /// Repeats of an incident within this time of its last message are suppressed. Default 30 min.
    pub repeat_window: Duration,
    /// Messages waiting for Slack; more are dropped (and counted). Default 256: far above what
    /// distinct incidents produce, small enough that a Slack outage costs no memory to speak of.
    pub queue: usize,
    /// Per request to Slack. Default 10 s.
    pub timeout: Duration,
    /// Retries of one message.
    pub retry: SlackRetry,
    /// The incidents shared by every host process (PostgreSQL); `None`: this process alone.
    pub incidents: Option<sqlx::PgPool>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            target: None,
            repeat_window: Duration::from_secs(30 * 60),
            queue: 256,
            timeout: Duration::from_secs(10),
            retry: SlackRetry::default(),
            incidents: None,
        }
    }
}

/// How hard to try one message; the same shape as [`crate::runner::Policy`].
#[derive(Debug, Clone, Copy)]
pub struct SlackRetry {
    /// Extra attempts after a 5xx, a transport error or a transient `ok:false`. Default 2.
    pub retries: u32,
    /// Backoff before the first retry; doubled each time. Default 1 s.
    pub backoff: Duration,
    /// Longest wait honoured for one `Retry-After` (a 429 is waited out once). Default 30 s.
    pub max_wait: Duration,
}

impl Default for SlackRetry {
    fn default() -> Self {
        SlackRetry { retries: 2, backoff: Duration::from_secs(1), max_wait: Duration::from_secs(30) }
    }
}

/// What an alert is about: the deduplication key.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Incident {
    /// The plugin's name, e.g. `kra`.
    pub source: String,
    /// The dataset (quota bucket), e.g. `15056743`.
    pub dataset: String,
    /// The error kind in snake_case, e.g. `quota_exhausted` (see `RunError::kind`).
    pub kind: String,
}

impl Incident {
    /// An incident key.
    pub fn new(source: impl Into<String>, dataset: impl Into<String>, kind: impl Into<String>) -> Self {
        Incident { source: source.into(), dataset: dataset.into(), kind: kind.into() }
    }
}

impl std::fmt::Display for Incident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.source, self.dataset, self.kind)
    }
}

/// One occurrence of an incident.
#[derive(Debug, Clone)]
pub struct Alert {
    pub incident: Incident,
    /// What failed, for a human. Never a secret: pass URLs through `Endpoint::display_url`.
    pub message: String,
    /// Details shown as `key: value`: track, race, url (already redacted), attempts…
    pub context: Vec<(String, String)>,
}

impl Alert {
    /// An alert without context.
    pub fn new(incident: Incident, message: impl Into<String>) -> Self {
        Alert { incident, message: message.into(), context: Vec::new() }
    }

    /// Adds a context pair.
    pub fn with(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.context.push((key.into(), value.into()));
        self
    }
}

/// Alerting could not start. Messages never include the token or the webhook URL.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("{0}")]
    InvalidTarget(String),
    #[error("the alert queue must hold at least one message (alerts queue = 0)")]
    ZeroQueue,
    #[error("cannot build the HTTP client for Slack: {0}")]
    Client(String),
}

/// Starts alerting: the handle to raise and resolve with, and the task that delivers, which
/// the caller shuts down with [`AlertTask::shutdown`]. Must be called within a tokio runtime.
pub fn spawn(config: AlertConfig, clock: impl Clock) -> Result<(Alerter, AlertTask), AlertError> {
    if config.queue == 0 {
        return Err(AlertError::ZeroQueue);
    }
    let slack = match &config.target {
        Some(target) => Some(slack::Slack::new(target, config.timeout, config.retry)?),
        None => None,
    };
    let (tx, rx) = mpsc::channel(config.queue);
    let (stop_tx, stop_rx) = oneshot::channel();
    let stats = Arc::new(handle::Stats::default());
    let book = config.incidents.map(|pool| IncidentBook::new(pool, config.repeat_window));
    let alerter = Alerter::new(tx, Box::new(clock), config.repeat_window, stats.clone(), book.clone());
    let task = AlertTask::start(rx, stop_tx, stop_rx, slack, book, stats);
    Ok((alerter, task))
}

/// A message due for Slack.
#[derive(Debug)]
struct Outgoing {
    notice: ledger::Notice,
    alert: Alert,
}
