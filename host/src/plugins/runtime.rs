//! Loading components and calling them under limits.
//!
//! One [`Runtime`] (one wasmtime `Engine`) serves every plugin. Loading compiles a component
//! once, checks its API version, links it and pre-instantiates it; every call then gets a
//! fresh `Store` — a plugin keeps no state between calls, so a swap never interrupts a
//! request in flight and a fault in one call cannot leak into the next.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, Store, Trap};

use super::error::{CallError, Fault, LoadError};
use super::state::CallState;
use super::wit::{self, HttpRequest, HttpResponse, Operation, Page, PluginManifest, SourcePreV0_1, SourceV0_1};

/// How often the deadline clock ticks. Deadlines are rounded up to whole ticks.
const TICK: Duration = Duration::from_millis(10);

/// Per-call limits. Chosen so that a legitimate call never meets them: the largest real
/// page (a race's every-pool odds, ~2,000 rows) parses in milliseconds in a few MiB.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Wall time one call may run before it is interrupted.
    pub call_timeout: Duration,
    /// Linear memory one call may grow to.
    pub memory_bytes: usize,
    /// Records one `parse` may return.
    pub max_records: usize,
    /// Requests one `plan` or `parse` may ask for.
    pub max_requests: usize,
    /// Log lines one call may write; the rest are dropped with one warning.
    pub max_log_lines: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            call_timeout: Duration::from_secs(2),
            memory_bytes: 64 << 20,
            max_records: 200_000,
            max_requests: 1_000,
            max_log_lines: 100,
        }
    }
}

/// The engine, the linker with everything a plugin may import, and the deadline clock.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    limits: Limits,
    _ticker: Arc<Ticker>,
}

impl Runtime {
    /// A runtime with the given per-call limits.
    pub fn new(limits: Limits) -> Result<Self, LoadError> {
        let mut config = Config::new();
        config.epoch_interruption(true);
        let engine = Engine::new(&config).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        wit::add_log_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state)
            .map_err(|e| LoadError::Engine(format!("{e:#}")))?;
        let ticker = Arc::new(Ticker::start(engine.clone()));
        Ok(Runtime { engine, linker, limits, _ticker: ticker })
    }

    /// The engine, for precompiling components with the same settings.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Loads a component from a `.wasm` file.
    pub fn load_file(&self, path: &Path) -> Result<Plugin, LoadError> {
        let bytes = std::fs::read(path).map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
        self.load(&bytes, &path.display().to_string())
    }

    /// Compiles and loads a component; `origin` names it in errors (a path, a digest).
    pub fn load(&self, bytes: &[u8], origin: &str) -> Result<Plugin, LoadError> {
        let component = Component::new(&self.engine, bytes)
            .map_err(|e| LoadError::NotAComponent { origin: origin.to_string(), reason: first_line(&e) })?;
        self.prepare(component, origin)
    }

    /// Compiles a component to this engine's native code, for [`Runtime::load_precompiled`].
    pub fn precompile(&self, bytes: &[u8]) -> Result<Vec<u8>, LoadError> {
        self.engine
            .precompile_component(bytes)
            .map_err(|e| LoadError::NotAComponent { origin: "input".to_string(), reason: first_line(&e) })
    }

    /// Loads a component that [`Runtime::precompile`] produced, skipping compilation.
    ///
    /// Only for artifacts this host wrote itself: wasmtime trusts precompiled code.
    #[allow(unsafe_code)]
    pub fn load_precompiled(&self, artifact: &[u8], origin: &str) -> Result<Plugin, LoadError> {
        // SAFETY: wasmtime checks the artifact's header (engine version and settings) and
        // refuses a mismatch; the code inside is trusted because only `precompile` above
        // produces the artifacts this is called with (the plugin cache is host-owned).
        let component = unsafe { Component::deserialize(&self.engine, artifact) }
            .map_err(|e| LoadError::NotAComponent { origin: origin.to_string(), reason: first_line(&e) })?;
        self.prepare(component, origin)
    }

    fn prepare(&self, component: Component, origin: &str) -> Result<Plugin, LoadError> {
        let api_version = self.api_version(&component, origin)?;
        let link = |e: wasmtime::Error| LoadError::Link { origin: origin.to_string(), reason: format!("{e:#}") };
        let pre = self.linker.instantiate_pre(&component).map_err(link)?;
        let pre = SourcePreV0_1::new(pre).map_err(link)?;
        let mut plugin = Plugin {
            inner: Arc::new(Inner {
                engine: self.engine.clone(),
                pre,
                limits: self.limits.clone(),
                label: origin.to_string(),
                api_version,
                manifest: None,
                _ticker: self._ticker.clone(),
            }),
        };
        let manifest = plugin
            .call("manifest", |store, source| source.racelab_source_plugin().call_manifest(store))
            .map_err(|fault| LoadError::Manifest { origin: origin.to_string(), fault })?;
        validate_manifest(&manifest)
            .map_err(|reason| LoadError::InvalidManifest { origin: origin.to_string(), reason })?;
        let inner =
            Arc::get_mut(&mut plugin.inner).ok_or_else(|| LoadError::Engine("plugin shared during load".into()))?;
        inner.label = format!("{} {}", manifest.name, manifest.version);
        inner.manifest = Some(manifest);
        Ok(plugin)
    }

    /// The `racelab:source` version the component exports its plugin interface at.
    fn api_version(&self, component: &Component, origin: &str) -> Result<String, LoadError> {
        let ty = component.component_type();
        let prefix = format!("{}@", wit::PLUGIN_INTERFACE);
        for (name, _) in ty.exports(&self.engine) {
            let found = match name.strip_prefix(&prefix) {
                Some(version) => version.to_string(),
                None if name == wit::PLUGIN_INTERFACE => "(unversioned)".to_string(),
                None => continue,
            };
            if !wit::is_supported(&found) {
                return Err(LoadError::UnsupportedApi { origin: origin.to_string(), found, supported: wit::SUPPORTED });
            }
            return Ok(found);
        }
        Err(LoadError::NoPluginExport { origin: origin.to_string() })
    }
}

fn validate_manifest(manifest: &PluginManifest) -> Result<(), String> {
    let name_ok = !manifest.name.is_empty()
        && manifest.name.len() <= 64
        && manifest.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        return Err(format!("name {:?} must be 1–64 characters of a-z, 0-9 and -", manifest.name));
    }
    if let Some(track) = manifest.tracks.iter().find(|t| crate::tracks::Track::parse(t).is_none()) {
        return Err(format!("unknown track {track:?}; known tracks: {}", crate::tracks::codes()));
    }
    if manifest.tracks.is_empty() || manifest.operations.is_empty() {
        return Err("a plugin must serve at least one track and one operation".to_string());
    }
    Ok(())
}

/// A loaded, pre-instantiated plugin. Cheap to clone; calls may run on any thread.
#[derive(Clone)]
pub struct Plugin {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    pre: SourcePreV0_1<CallState>,
    limits: Limits,
    label: String,
    api_version: String,
    manifest: Option<PluginManifest>,
    _ticker: Arc<Ticker>,
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
    fn call<R>(
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
fn first_line(error: &wasmtime::Error) -> String {
    let text = error.root_cause().to_string();
    let line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("").trim().to_string();
    if line.len() > 300 { format!("{}…", line.chars().take(300).collect::<String>()) } else { line }
}

/// Advances the engine's epoch every [`TICK`] so that deadlines fire; stopped and joined
/// when the last runtime or plugin holding it is dropped.
struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Ticker {
    fn start(engine: Engine) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("racelab-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(TICK);
                    engine.increment_epoch();
                }
            })
            .ok();
        Ticker { stop, thread }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
