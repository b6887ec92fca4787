//! A loaded plugin and its calls: each in a fresh store, under the deadline and the limits.

use std::sync::Arc;

use wasmtime::{Engine, Store, Trap};

use super::error::{CallError, Fault};
use super::runtime::{Limits, TICK, Ticker};
use super::state::CallState;
use super::wit::{HttpRequest, HttpResponse, Operation, Page, PluginManifest, SourcePreV0_1, SourceV0_1};

/// A loaded, pre-instantiated plugin. Cheap to clone; calls may run on any thread.
#[derive(Clone)]
pub struct Plugin {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) engine: Engine,
    pub(super) pre: SourcePreV0_1<CallState>,
    pub(super) limits: Limits,
    pub(super) label: String,
    pub(super) api_version: String,
    pub(super) manifest: Option<PluginManifest>,
    pub(super) _ticker: Arc<Ticker>,
}

impl std::fmt::Debug for Plugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plugin").field("label", &self.inner.label).field("api", &self.inner.api_version).finish()
    }
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

    /// The first requests for `op`.
    pub fn plan(&self, op: &Operation, config: &[(String, String)]) -> Result<Vec<HttpRequest>, CallError> {
        let answer = self.call("plan", |store, source| source.racelab_source_plugin().call_plan(store, op, config))?;
        let requests = answer.map_err(CallError::Source)?;
        self.check_size("plan", "requests", requests.len(), self.inner.limits.max_requests)?;
        Ok(requests)
    }

    /// Reads one response.
    pub fn parse(&self, op: &Operation, request: &HttpRequest, response: &HttpResponse) -> Result<Page, CallError> {
        let answer = self
            .call("parse", |store, source| source.racelab_source_plugin().call_parse(store, op, request, response))?;
        let page = answer.map_err(CallError::Source)?;
        self.check_size("parse", "records", page.records.len(), self.inner.limits.max_records)?;
        self.check_size("parse", "follow-up requests", page.next.len(), self.inner.limits.max_requests)?;
        Ok(page)
    }

    fn check_size(&self, call: &'static str, what: &str, count: usize, limit: usize) -> Result<(), Fault> {
        if count <= limit {
            return Ok(());
        }
        Err(Fault::OutputTooLarge { plugin: self.inner.label.clone(), call, what: format!("{count} {what}"), limit })
    }

    /// Runs one export in a fresh store under the deadline and memory limits.
    pub(super) fn call<R>(
        &self,
        call: &'static str,
        f: impl FnOnce(&mut Store<CallState>, &SourceV0_1) -> wasmtime::Result<R>,
    ) -> Result<R, Fault> {
        let limits = &self.inner.limits;
        let state = CallState::new(&self.inner.label, limits.memory_bytes, limits.max_log_lines);
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|state| &mut state.memory);
        let ticks = limits.call_timeout.as_millis().div_ceil(TICK.as_millis()).max(1);
        store.set_epoch_deadline(u64::try_from(ticks).unwrap_or(u64::MAX));
        store.epoch_deadline_trap();
        let result = self.inner.pre.instantiate(&mut store).and_then(|source| f(&mut store, &source));
        result.map_err(|e| self.fault(call, &e, store.data()))
    }

    fn fault(&self, call: &'static str, error: &wasmtime::Error, state: &CallState) -> Fault {
        let plugin = self.inner.label.clone();
        if matches!(error.downcast_ref::<Trap>(), Some(Trap::Interrupt)) {
            return Fault::Timeout { plugin, call, limit: self.inner.limits.call_timeout };
        }
        if state.memory.hit {
            return Fault::OutOfMemory { plugin, call, limit_bytes: self.inner.limits.memory_bytes };
        }
        let stderr = state.stderr_text();
        let mut message = first_line(error);
        if !stderr.is_empty() {
            message = format!("{message}; plugin stderr: {}", stderr.lines().take(3).collect::<Vec<_>>().join(" | "));
        }
        Fault::Trap { plugin, call, message }
    }
}

/// The most specific line of an error chain (wasmtime puts backtraces in the outer layers).
pub(super) fn first_line(error: &wasmtime::Error) -> String {
    let text = error.root_cause().to_string();
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
    if line.len() > 300 { format!("{}…", line.chars().take(300).collect::<String>()) } else { line }
}
