//! Loading components: the engine, the linker, the API version check, pre-instantiation.
//!
//! One [`Runtime`] (one wasmtime `Engine`) serves every plugin. Loading compiles a component
//! once, checks its API version, links it and pre-instantiates it; every call then gets a
//! fresh `Store` (see `plugin.rs`) — a plugin keeps no state between calls, so a swap never
//! interrupts a request in flight and a fault in one call cannot leak into the next.

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine};

use super::error::LoadError;
use super::plugin::{Inner, Plugin, first_line};
use super::state::CallState;
use super::wit::{self, SourcePreV0_1};

/// How often the deadline clock ticks. Deadlines are rounded up to whole ticks.
pub(super) const TICK: Duration = Duration::from_millis(10);

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
        super::manifest::validate(&manifest)
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

/// Advances the engine's epoch every [`TICK`] so that deadlines fire; stopped and joined
/// when the last runtime or plugin holding it is dropped.
pub(super) struct Ticker {
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
