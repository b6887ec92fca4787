//! [`Alerter`]: the handle ingestion holds. Nothing here waits: a short lock around the ledger,
//! then `try_send`.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::mpsc::{self, error::TrySendError};

use super::book::IncidentBook;
use super::ledger::{Ledger, Notice};
use super::{Alert, Clock, Incident, Outgoing};

/// The counters, shared by the handle and the task.
#[derive(Debug, Default)]
pub(super) struct Stats {
    pub sent: AtomicU64,
    pub suppressed: AtomicU64,
    pub dropped_queue_full: AtomicU64,
    pub failed: AtomicU64,
    /// Queued or being delivered; what a shutdown that runs out of time abandons.
    pub queued: AtomicU64,
    pub last_failure: Mutex<Option<String>>,
}

/// A snapshot of the counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AlertMetrics {
    /// Messages Slack accepted.
    pub sent: u64,
    /// Raises within the repeat window of their incident's last message.
    pub suppressed: u64,
    /// Messages dropped because the queue was full (Slack slow or down).
    pub dropped_queue_full: u64,
    /// Messages Slack did not accept after the retries.
    pub failed: u64,
    /// Messages queued or being delivered right now.
    pub queued: u64,
}

/// Raises and resolves incidents. Cheap to clone; every clone feeds the same task.
#[derive(Clone)]
pub struct Alerter {
    inner: Arc<Inner>,
}

struct Inner {
    ledger: Mutex<Ledger>,
    tx: mpsc::Sender<Outgoing>,
    clock: Box<dyn Clock>,
    window: Duration,
    stats: Arc<Stats>,
    /// The shared incident book, when there is one.
    book: Option<IncidentBook>,
}

impl Alerter {
    pub(super) fn new(
        tx: mpsc::Sender<Outgoing>,
        clock: Box<dyn Clock>,
        window: Duration,
        stats: Arc<Stats>,
        book: Option<IncidentBook>,
    ) -> Self {
        Alerter { inner: Arc::new(Inner { ledger: Mutex::new(Ledger::default()), tx, clock, window, stats, book }) }
    }

    /// Takes the incidents open in the shared book as open here too, so that a restarted host
    /// suppresses their repeats and resolves them. Returns how many; 0 without a book.
    pub async fn load_open(&self) -> Result<usize, sqlx::Error> {
        let Some(book) = &self.inner.book else { return Ok(0) };
        let open = book.open_incidents().await?;
        let now = self.inner.clock.now();
        let mut ledger = self.ledger();
        for incident in &open {
            ledger.adopt(incident, now);
        }
        Ok(open.len())
    }

    /// Reports an occurrence. Sends a message if the incident is new or its last message is
    /// older than the repeat window; otherwise counts it as suppressed. Never waits.
    pub fn raise(&self, alert: Alert) {
        let now = self.inner.clock.now();
        let mut ledger = self.ledger();
        let before = ledger.get(&alert.incident);
        let Some(notice) = ledger.raise(&alert.incident, now, self.inner.window) else {
            self.inner.stats.suppressed.fetch_add(1, Relaxed);
            tracing::debug!(incident = %alert.incident, "alert suppressed: a repeat within the window");
            return;
        };
        let incident = alert.incident.clone();
        if !self.enqueue(Outgoing { notice, alert }) {
            ledger.restore(&incident, before);
        }
    }

    /// Whether the incident is open (raised and not resolved since).
    pub fn is_open(&self, incident: &Incident) -> bool {
        self.ledger().get(incident).is_some()
    }

    /// Closes an open incident with a "resolved" message; does nothing if it is not open.
    /// Never waits.
    pub fn resolve(&self, incident: &Incident) {
        let now = self.inner.clock.now();
        let mut ledger = self.ledger();
        self.resolve_locked(&mut ledger, incident, now);
    }

    /// Resolves every open incident of a source's dataset, whatever its kind: what a
    /// successful job knows.
    pub fn resolve_dataset(&self, source: &str, dataset: &str) {
        let now = self.inner.clock.now();
        let mut ledger = self.ledger();
        for incident in ledger.open_for(source, dataset) {
            self.resolve_locked(&mut ledger, &incident, now);
        }
    }

    fn resolve_locked(&self, ledger: &mut Ledger, incident: &Incident, now: std::time::Instant) {
        let before = ledger.get(incident);
        let notice = match ledger.resolve(incident, now) {
            Some(notice @ Notice::Resolved { .. }) => notice,
            // Not open here, but perhaps in the book (another host opened it, or this one
            // before a restart): the delivery task asks the book whether it is still open.
            None if self.inner.book.is_some() => Notice::Resolved { open_for: Duration::ZERO, suppressed: 0 },
            _ => return,
        };
        let alert = Alert::new(incident.clone(), "");
        if !self.enqueue(Outgoing { notice, alert }) {
            ledger.restore(incident, before);
        }
    }

    /// The counters.
    pub fn metrics(&self) -> AlertMetrics {
        let s = &self.inner.stats;
        AlertMetrics {
            sent: s.sent.load(Relaxed),
            suppressed: s.suppressed.load(Relaxed),
            dropped_queue_full: s.dropped_queue_full.load(Relaxed),
            failed: s.failed.load(Relaxed),
            queued: s.queued.load(Relaxed),
        }
    }

    /// Why the last failed message failed (no secrets in it), for a status page.
    pub fn last_failure(&self) -> Option<String> {
        self.inner.stats.last_failure.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Queues a message; `false` if it was dropped, so the caller can undo the ledger change.
    fn enqueue(&self, out: Outgoing) -> bool {
        let stats = &self.inner.stats;
        // Counted before sending: the task may deliver and decrement before `try_send` returns.
        stats.queued.fetch_add(1, Relaxed);
        let Err(error) = self.inner.tx.try_send(out) else {
            return true;
        };
        stats.queued.fetch_sub(1, Relaxed);
        match error {
            TrySendError::Full(out) => {
                let dropped = stats.dropped_queue_full.fetch_add(1, Relaxed) + 1;
                // 1st, 2nd, 4th, 8th… drop: visible without flooding the log during an outage.
                if dropped.is_power_of_two() {
                    tracing::warn!(incident = %out.alert.incident, dropped, "alert queue full (Slack slow or down): message dropped");
                }
            }
            TrySendError::Closed(out) => {
                tracing::warn!(incident = %out.alert.incident, "alerting has shut down: message dropped");
            }
        }
        false
    }

    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        // The ledger's methods cannot leave it half-changed, so a poisoned lock is still sound.
        self.inner.ledger.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl std::fmt::Debug for Alerter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Alerter").field("window", &self.inner.window).field("metrics", &self.metrics()).finish()
    }
}
