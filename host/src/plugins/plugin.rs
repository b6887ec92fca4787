//! A loaded plugin and its calls: each in a fresh store, under the deadline and the limits, and
//! whatever goes wrong classified as the fault a caller can act on.

use std::sync::Arc;
use std::sync::atomic::AtomicUsize;

use wasmtime::{Engine, Store, Trap, WasmBacktrace};

use super::adapter;
use super::error::{CallError, Fault};
use super::runtime::{Limits, TICK, Ticker};
use super::state::{self, CallLimiter, CallState};
use super::text;
use super::wit::{
    HttpRequest, HttpResponse, Operation, Page, PluginManifest, SourceError, SourcePreV0_1, SourcePreV0_2, SourceV0_1,
    SourceV0_2,
};

/// Component-model resource handles one call may hold at once (wasmtime's default is
/// 100,000); a source plugin defines no resources of its own, so this only bounds a loop that
/// makes them.
const MAX_COMPONENT_HANDLES: usize = 1_000;

/// Drift fields one page may report: more than any real response has fields.
const MAX_DRIFT_FIELDS: usize = 500;
/// A drift field's name is cut to this many characters (it reaches the database and Slack).
const MAX_DRIFT_FIELD_CHARS: usize = 64;

/// A loaded, pre-instantiated plugin. Cheap to clone; calls may run on any thread.
#[derive(Clone)]
pub struct Plugin {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) engine: Engine,
    pub(super) pre: Pre,
    pub(super) limits: Limits,
    pub(super) label: String,
    pub(super) api_version: String,
    pub(super) manifest: Option<PluginManifest>,
    /// Calls a watchdog gave up on that have not returned yet (see `watchdog.rs`).
    pub(super) stuck: AtomicUsize,
    pub(super) _ticker: Arc<Ticker>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("label", &self.inner.label).field("api", &self.inner.api_version).finish()
    }
}

/// A component linked and ready to instantiate, by the contract version it speaks.
pub(super) enum Pre {
    V0_1(SourcePreV0_1<CallState>),
    V0_2(SourcePreV0_2<CallState>),
}

/// One call's instance of the component's exports.
pub(super) enum Bindings {
    V0_1(SourceV0_1),
    V0_2(SourceV0_2),
}

impl Bindings {
    /// The component's manifest, in the host's terms.
    pub(super) fn manifest(&self, store: &mut Store<CallState>) -> wasmtime::Result<PluginManifest> {
        match self {
            Bindings::V0_2(s) => s.racelab_source_plugin().call_manifest(store),
            Bindings::V0_1(s) => s.racelab_source_plugin().call_manifest(store).map(adapter::manifest),
        }
    }
}

/// Where a call failed: making the instance (linking the exports, running start functions,
/// creating memories) or running the export.
pub(super) enum CallFailure {
    Instantiate(wasmtime::Error),
    Run(wasmtime::Error),
}

impl Plugin {
    /// What the plugin said about itself when it was loaded.
    pub fn manifest(&self) -> &PluginManifest {
        // Set in `Runtime::prepare` before the plugin is handed out.
        self.inner.manifest.as_ref().unwrap_or_else(|| unreachable!("manifest is set at load"))
    }

    /// The `racelab:source` API version the component was built for.
    pub fn api_version(&self) -> &str {
        &self.inner.api_version
    }

    /// `name version`, for logs and errors.
    pub fn label(&self) -> &str {
        &self.inner.label
    }

    /// The limits every call runs under.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// The first requests for `op`.
    pub fn plan(&self, op: &Operation, config: &[(String, String)]) -> Result<Vec<HttpRequest>, CallError> {
        let answer = self.call("plan", |store, source| match source {
            Bindings::V0_2(s) => s.racelab_source_plugin().call_plan(store, op, config),
            Bindings::V0_1(s) => {
                s.racelab_source_plugin().call_plan(store, &adapter::operation(op), config).map(|answer| {
                    answer
                        .map(|requests| requests.into_iter().map(adapter::request_up).collect())
                        .map_err(adapter::error)
                })
            }
        })?;
        let requests = answer.map_err(|e| CallError::Source(clean(e)))?;
        self.check_size("plan", "requests", requests.len(), self.inner.limits.max_requests)?;
        Ok(requests)
    }

    /// Reads one response.
    pub fn parse(&self, op: &Operation, request: &HttpRequest, response: &HttpResponse) -> Result<Page, CallError> {
        let answer = self.call("parse", |store, source| match source {
            Bindings::V0_2(s) => s.racelab_source_plugin().call_parse(store, op, request, response),
            Bindings::V0_1(s) => {
                let (op, request, response) =
                    (adapter::operation(op), adapter::request(request), adapter::response(response));
                s.racelab_source_plugin()
                    .call_parse(store, &op, &request, &response)
                    .map(|answer| answer.map(adapter::page).map_err(adapter::error))
            }
        })?;
        let mut page = answer.map_err(|e| CallError::Source(clean(e)))?;
        self.check_size("parse", "records", super::wit::rows(&page.records), self.inner.limits.max_records)?;
        self.check_size("parse", "follow-up requests", page.next.len(), self.inner.limits.max_requests)?;
        self.check_size("parse", "drift fields", page.drift.len(), MAX_DRIFT_FIELDS)?;
        for drift in &mut page.drift {
            // Escaped, then cut: the stored name is at most the limit, escapes included.
            drift.field =
                text::clean(&drift.field, MAX_DRIFT_FIELD_CHARS).chars().take(MAX_DRIFT_FIELD_CHARS).collect();
        }
        Ok(page)
    }

    fn check_size(&self, call: &'static str, what: &str, count: usize, limit: usize) -> Result<(), Fault> {
        if count <= limit {
            return Ok(());
        }
        Err(Fault::OutputTooLarge { plugin: self.inner.label.clone(), call, what: format!("{count} {what}"), limit })
    }

    /// Runs one export in a fresh store under the deadline and the limits.
    pub(super) fn call<R>(
        &self,
        call: &'static str,
        f: impl FnOnce(&mut Store<CallState>, &Bindings) -> wasmtime::Result<R>,
    ) -> Result<R, Fault> {
        self.try_call(f).map_err(|failed| {
            let (CallFailure::Instantiate(e) | CallFailure::Run(e), state) = *failed;
            self.fault(call, &e, &state)
        })
    }

    /// [`Plugin::call`], telling where it failed and handing back the call's state.
    pub(super) fn try_call<R>(
        &self,
        f: impl FnOnce(&mut Store<CallState>, &Bindings) -> wasmtime::Result<R>,
    ) -> Result<R, Box<(CallFailure, CallState)>> {
        let limits = &self.inner.limits;
        let state = CallState::new(&self.inner.label, CallLimiter::new(limits.memory_bytes), limits.max_log_lines);
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|state| &mut state.limits);
        store.set_max_component_handles(MAX_COMPONENT_HANDLES);
        store.set_hostcall_fuel(state::MAX_HOSTCALL_BYTES);
        let ticks = limits.call_timeout.as_millis().div_ceil(TICK.as_millis()).max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        let instance = match &self.inner.pre {
            Pre::V0_1(pre) => pre.instantiate(&mut store).map(Bindings::V0_1),
            Pre::V0_2(pre) => pre.instantiate(&mut store).map(Bindings::V0_2),
        };
        let source = match instance {
            Ok(source) => source,
            Err(e) => return Err(Box::new((CallFailure::Instantiate(e), store.into_data()))),
        };
        f(&mut store, &source).map_err(|e| Box::new((CallFailure::Run(e), store.into_data())))
    }

    /// What a failed call means, in the terms a caller acts on.
    pub(super) fn fault(&self, call: &'static str, error: &wasmtime::Error, state: &CallState) -> Fault {
        let plugin = self.inner.label.clone();
        if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
            return Fault::Timeout { plugin, call, limit: self.inner.limits.call_timeout };
        }
        if state.limits.hit {
            return Fault::OutOfMemory { plugin, call, limit_bytes: self.inner.limits.memory_bytes };
        }
        if is_stack_overflow(error) {
            return Fault::StackOverflow { plugin, call };
        }
        if let Some(limit) = over_limit(error) {
            return Fault::OverLimit { plugin, call, limit };
        }
        let stderr = state.stderr_text();
        let mut message = first_line(error);
        if !stderr.is_empty() {
            message = format!("{message}; plugin stderr: {}", stderr.lines().take(3).collect::<Vec<_>>().join(" | "));
        }
        Fault::Trap { plugin, call, message: text::message(&message) }
    }
}

/// A source error with its message escaped and cut to size: it goes to the log, the failure
/// row and the alert.
fn clean(error: SourceError) -> SourceError {
    match error {
        SourceError::Auth(m) => SourceError::Auth(text::message(&m)),
        SourceError::QuotaExhausted(m) => SourceError::QuotaExhausted(text::message(&m)),
        SourceError::BadRequest(m) => SourceError::BadRequest(text::message(&m)),
        SourceError::NoData(m) => SourceError::NoData(text::message(&m)),
        SourceError::Transient(m) => SourceError::Transient(text::message(&m)),
        SourceError::Malformed(m) => SourceError::Malformed(text::message(&m)),
        SourceError::Unsupported(m) => SourceError::Unsupported(text::message(&m)),
        SourceError::RateLimited(after) => SourceError::RateLimited(after),
    }
}

/// Frames of a trap's backtrace the engine keeps (see `Runtime::new`).
pub(super) const BACKTRACE_FRAMES: usize = 32;

/// A call that ran out of stack. Wasm's own call stack overflowing is a trap of its own; Rust
/// on wasm32 also keeps a shadow stack in linear memory, which, overflowed, wraps below
/// address zero and faults as an out-of-bounds access. That one is told apart by its
/// backtrace: full to the engine's cap with the same few functions, i.e. deep recursion.
fn is_stack_overflow(error: &wasmtime::Error) -> bool {
    match error.downcast_ref::<Trap>() {
        Some(Trap::StackOverflow) => true,
        Some(Trap::MemoryOutOfBounds) => error.downcast_ref::<WasmBacktrace>().is_some_and(|trace| {
            let frames = trace.frames();
            let mut functions: Vec<u32> = frames.iter().map(|f| f.func_index()).collect();
            functions.sort_unstable();
            functions.dedup();
            frames.len() >= BACKTRACE_FRAMES && functions.len() <= 3
        }),
        _ => false,
    }
}

/// The limit a count-limit error names, for a message that says which limit and how much.
fn over_limit(error: &wasmtime::Error) -> Option<String> {
    let text = error.root_cause().to_string();
    let named = [
        ("instance count too high", format!("{} core instances per call", state::MAX_INSTANCES)),
        ("memory count too high", format!("{} linear memories per call", state::MAX_MEMORIES)),
        ("table count too high", format!("{} tables per call", state::MAX_TABLES)),
        ("resource table has no free keys", format!("{} host resources held at once", state::MAX_HOST_RESOURCES)),
        ("store handle limit exceeded", format!("{MAX_COMPONENT_HANDLES} resource handles held at once")),
        ("fuel allocated for hostcalls", format!("{} bytes passed to the host in one call", state::MAX_HOSTCALL_BYTES)),
        (
            "maximum concurrent limit of",
            format!("{} calls in flight at once on this host", super::runtime::MAX_CONCURRENT_CALLS),
        ),
    ];
    named.into_iter().find(|(needle, _)| text.contains(needle)).map(|(_, limit)| limit)
}

/// The most specific part of an error chain (wasmtime puts backtraces in the outer layers),
/// on one line and cut to a few hundred characters.
pub(super) fn first_line(error: &wasmtime::Error) -> String {
    let text = error.root_cause().to_string();
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    text::clean(&line, 300)
}
