//! [`AlertTask`]: the one task that talks to Slack, in queue order, and its shutdown.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::book::IncidentBook;
use super::handle::Stats;
use super::ledger::Notice;
use super::slack::Slack;
use super::{Outgoing, message};

/// The delivery task. Shut it down with [`shutdown`](Self::shutdown); dropping it aborts
/// delivery at once.
pub struct AlertTask {
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<()>>,
    stats: Arc<Stats>,
}

/// How a shutdown ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drain {
    /// Every queued message was delivered (or failed for good).
    Complete,
    /// The deadline passed; these messages (queued or in flight) were not delivered.
    Abandoned { messages: u64 },
}

impl AlertTask {
    pub(super) fn start(
        rx: mpsc::Receiver<Outgoing>,
        stop_tx: oneshot::Sender<()>,
        stop_rx: oneshot::Receiver<()>,
        slack: Option<Slack>,
        book: Option<IncidentBook>,
        stats: Arc<Stats>,
    ) -> Self {
        let handle = tokio::spawn(run(rx, stop_rx, slack, book, stats.clone()));
        AlertTask { stop: Some(stop_tx), handle: Some(handle), stats }
    }

    /// Stops taking new messages, delivers what is queued, and returns by `deadline`: what is
    /// still undelivered then is abandoned (and the task is gone when this returns).
    pub async fn shutdown(mut self, deadline: Duration) -> Drain {
        if let Some(stop) = self.stop.take() {
            // An error means the task has already ended; the join below says how.
            let _ = stop.send(());
        }
        let Some(mut handle) = self.handle.take() else {
            return Drain::Complete;
        };
        match tokio::time::timeout(deadline, &mut handle).await {
            Ok(Ok(())) => Drain::Complete,
            Ok(Err(e)) => {
                tracing::error!(error = %e, "the alert task ended abnormally");
                Drain::Abandoned { messages: self.stats.queued.load(Relaxed) }
            }
            Err(_) => {
                handle.abort();
                // Cancelled or finished in the meantime: either way it is gone.
                let _ = handle.await;
                let messages = self.stats.queued.load(Relaxed);
                tracing::warn!(messages, ?deadline, "alert shutdown deadline passed: undelivered messages abandoned");
                Drain::Abandoned { messages }
            }
        }
    }
}

impl Drop for AlertTask {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.abort();
        }
    }
}

impl std::fmt::Debug for AlertTask {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AlertTask").field("running", &self.handle.is_some()).finish()
    }
}

async fn run(
    mut rx: mpsc::Receiver<Outgoing>,
    mut stop: oneshot::Receiver<()>,
    slack: Option<Slack>,
    book: Option<IncidentBook>,
    stats: Arc<Stats>,
) {
    loop {
        tokio::select! {
            biased;
            // A dropped `AlertTask` resolves this too; it also aborts us.
            _ = &mut stop => break,
            next = rx.recv() => match next {
                Some(out) => deliver(out, slack.as_ref(), book.as_ref(), &stats).await,
                // Every `Alerter` is gone: nothing more can arrive.
                None => return,
            },
        }
    }
    rx.close();
    while let Some(out) = rx.recv().await {
        deliver(out, slack.as_ref(), book.as_ref(), &stats).await;
    }
}

async fn deliver(mut out: Outgoing, slack: Option<&Slack>, book: Option<&IncidentBook>, stats: &Stats) {
    if let Some(book) = book {
        match book.check(&out.alert.incident, out.notice).await {
            Some(notice) => out.notice = notice,
            None => {
                // Sent already, by another process or by this one before a restart.
                stats.suppressed.fetch_add(1, Relaxed);
                stats.queued.fetch_sub(1, Relaxed);
                tracing::debug!(incident = %out.alert.incident, "alert not sent: the incident book has it already");
                return;
            }
        }
    }
    let text = message::render(out.notice, &out.alert);
    let i = &out.alert.incident;
    let (source, dataset, kind) = (&i.source, &i.dataset, &i.kind);
    match slack {
        None if matches!(out.notice, Notice::Resolved { .. }) => {
            tracing::info!(source, dataset, kind, "alert (no Slack target configured): {text}")
        }
        None => tracing::warn!(source, dataset, kind, "alert (no Slack target configured): {text}"),
        Some(slack) => match slack.post(&text).await {
            Ok(()) => {
                stats.sent.fetch_add(1, Relaxed);
                crate::telemetry::alert_sent(matches!(out.notice, Notice::Resolved { .. }));
                tracing::info!(source, dataset, kind, "alert sent to Slack");
            }
            Err(e) => {
                stats.failed.fetch_add(1, Relaxed);
                let error = slack.scrub(e.to_string());
                tracing::warn!(source, dataset, kind, error = %error, "alert not delivered to Slack");
                *stats.last_failure.lock().unwrap_or_else(|p| p.into_inner()) = Some(error);
            }
        },
    }
    stats.queued.fetch_sub(1, Relaxed);
}
