//! Plugin calls from async code: each on tokio's blocking pool (calls are CPU-bound, and
//! WASI's synchronous bindings must not block an async worker thread), watched by a wall-clock
//! deadline a little past the call's own.
//!
//! The epoch deadline stops a plugin running its own code; nothing a plugin can import waits
//! (clock pollables are ready at once, see `state.rs`). The watchdog is the last line should
//! that ever stop being true: a call that has not returned by its deadline plus
//! [`WATCHDOG_SLACK`] is abandoned — the caller gets a fault at once and its worker slot back,
//! the call's thread is left to finish on its own — and counted as stuck until it returns. A
//! plugin with [`MAX_STUCK_CALLS`] stuck calls is not called again until one returns, so a
//! plugin that found a way to block cannot take every blocking thread of the process.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Duration;

use super::error::{CallError, Fault};
use super::plugin::Plugin;
use super::wit::{HttpRequest, HttpResponse, Operation, Page};

/// How long past its own deadline a call may take before the watchdog gives up on it:
/// instantiation and copying the answer out are not under the epoch deadline.
pub const WATCHDOG_SLACK: Duration = Duration::from_secs(3);

/// Stuck calls of one plugin after which it is not called until one of them returns.
pub const MAX_STUCK_CALLS: usize = 4;

const RUNNING: u8 = 0;
const RETURNED: u8 = 1;
const ABANDONED: u8 = 2;

impl Plugin {
    /// [`Plugin::plan`] off the async runtime, under the watchdog.
    pub async fn plan_watched(
        &self,
        op: &Operation,
        config: &[(String, String)],
    ) -> Result<Vec<crate::plugins::wit::HttpRequest>, CallError> {
        let (op, config) = (op.clone(), config.to_vec());
        self.watched("plan", move |plugin| plugin.plan(&op, &config)).await
    }

    /// [`Plugin::parse`] off the async runtime, under the watchdog.
    pub async fn parse_watched(
        &self,
        op: &Operation,
        request: &HttpRequest,
        response: HttpResponse,
    ) -> Result<Page, CallError> {
        let (op, request) = (op.clone(), request.clone());
        self.watched("parse", move |plugin| plugin.parse(&op, &request, &response)).await
    }

    /// Calls of this plugin the watchdog gave up on that have not returned yet.
    pub fn stuck_calls(&self) -> usize {
        self.inner.stuck.load(Ordering::SeqCst)
    }

    /// Runs `call` on the blocking pool; gives up on it after the call deadline plus the slack.
    pub(crate) async fn watched<R: Send + 'static>(
        &self,
        name: &'static str,
        call: impl FnOnce(&Plugin) -> Result<R, CallError> + Send + 'static,
    ) -> Result<R, CallError> {
        self.watched_for(name, self.limits().call_timeout + WATCHDOG_SLACK, call).await
    }

    /// [`Plugin::watched`] with the wait given. Public for the runtime tests, which block a call
    /// in host code on purpose to show what the watchdog does.
    #[doc(hidden)]
    pub async fn watched_for<R: Send + 'static>(
        &self,
        name: &'static str,
        waited: Duration,
        call: impl FnOnce(&Plugin) -> Result<R, CallError> + Send + 'static,
    ) -> Result<R, CallError> {
        let stuck = self.stuck_calls();
        if stuck >= MAX_STUCK_CALLS {
            return Err(Fault::Stuck { plugin: self.label().to_string(), stuck }.into());
        }
        let state = Arc::new(AtomicU8::new(RUNNING));
        let (plugin, returned) = (self.clone(), state.clone());
        let mut handle = tokio::task::spawn_blocking(move || {
            let result = call(&plugin);
            if returned.compare_exchange(RUNNING, RETURNED, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                // Abandoned by the watchdog, which counted it stuck first: it has returned now.
                plugin.inner.stuck.fetch_sub(1, Ordering::SeqCst);
            }
            result
        });
        let lost = |e: tokio::task::JoinError| {
            CallError::Fault(Fault::Trap {
                plugin: self.label().to_string(),
                call: name,
                message: format!("the call was lost in the host: {e}"),
            })
        };
        match tokio::time::timeout(waited, &mut handle).await {
            Ok(joined) => joined.map_err(lost)?,
            Err(_) => {
                // Counted before it is marked, so that a call returning in between never counts
                // itself out of a count it was not yet in.
                self.inner.stuck.fetch_add(1, Ordering::SeqCst);
                if state.compare_exchange(RUNNING, ABANDONED, Ordering::SeqCst, Ordering::SeqCst).is_err() {
                    self.inner.stuck.fetch_sub(1, Ordering::SeqCst);
                    return handle.await.map_err(lost)?;
                }
                tracing::error!(
                    plugin = self.label(),
                    call = name,
                    "a plugin call did not return within {waited:?}; abandoned"
                );
                Err(Fault::Unresponsive { plugin: self.label().to_string(), call: name, waited }.into())
            }
        }
    }
}
