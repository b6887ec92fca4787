//! Loading components: the engine, the linker, the API version check, pre-instantiation.
//!
//! One [`Runtime`] (one wasmtime `Engine`) serves every plugin. Loading compiles a component
//! once, checks its API version, links it and pre-instantiates it; every call then gets a
//! fresh `Store` (see `plugin.rs`) — a plugin keeps no state between calls, so a swap never
//! interrupts a request in flight and a fault in one call cannot leak into the next.

use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, Trap};

use super::cache::{CacheKey, CompileCache};
use super::error::{Fault, LoadError};
use super::plugin::Pre;
use super::plugin::{BACKTRACE_FRAMES, CallFailure, Inner, Plugin, first_line};
use super::state::{self, CallState};
use super::text;
use super::wit::{self, Api, SourcePreV0_1, SourcePreV0_2};

/// Calls one runtime can have in flight at once: the pool's slots (see [`pooling`]). Far above
/// what a host runs (a worker's concurrency, 8 by default, plus calls the watchdog gave up
/// on, at most `MAX_STUCK_CALLS` per plugin, plus the registry's and the follower's checks);
/// a call beyond it fails as a fault that names the limit, and its job is retried.
pub const MAX_CONCURRENT_CALLS: u32 = 32;

/// Linear memory kept resident, per memory, between calls that reuse a slot: a parse's memory
/// comes back zeroed by `memset` instead of by page faults on first touch, which cost ~0.6 ms
/// per MiB here (BENCHMARKS.md, "Parse speed"). A KRA all-pool odds parse touches ~2 MiB.
const KEEP_RESIDENT_BYTES: usize = 8 << 20;

/// The pooling allocator's slots, sized so that the call limits of `state.rs` (instances,
/// memories, tables, bytes) are what refuses a greedy component, as without the pool: a
/// module may declare one memory and one table more than a call may create, and a table may
/// declare eight times the elements the call's byte budget pays for (the budget refuses it at
/// instantiation, naming the limit; the pool would refuse it at load, less clearly). Virtual
/// address space reserved per runtime: ~0.5 TiB for the memories (4 GiB each, as without the
/// pool), 128 GiB for the tables; none of it is resident until used.
fn pooling(limits: &Limits) -> PoolingAllocationConfig {
    let calls = MAX_CONCURRENT_CALLS;
    let per_call = |n: usize| u32::try_from(n).unwrap_or(u32::MAX).saturating_mul(calls);
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(calls)
        .total_core_instances(per_call(state::MAX_INSTANCES))
        .total_memories(per_call(state::MAX_MEMORIES))
        .total_tables(per_call(state::MAX_TABLES))
        .max_memories_per_module(u32::try_from(state::MAX_MEMORIES + 1).unwrap_or(u32::MAX))
        .max_tables_per_module(u32::try_from(state::MAX_TABLES + 1).unwrap_or(u32::MAX))
        .table_elements(limits.memory_bytes)
        .linear_memory_keep_resident(KEEP_RESIDENT_BYTES)
        // Where the kernel can say which pages a call touched (Linux 6.7+), only those are
        // reset: 4–6% off an odds parse here (BENCHMARKS.md, "Parse speed"). Elsewhere the
        // kept bytes are reset with `memset` as before; a memory comes back zeroed either way.
        .pagemap_scan(wasmtime::Enabled::Auto)
        .table_keep_resident(64 << 10);
    pool
}

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

/// The engine, the linker with everything a plugin may import, the deadline clock and the
/// compile cache.
pub struct Runtime {
    engine: Engine,
    linker: Linker<CallState>,
    limits: Limits,
    cache: Option<CompileCache>,
    _ticker: Arc<Ticker>,
}

impl Runtime {
    /// A runtime with the given per-call limits, compiling components in memory. Calls take
    /// their instances and memories from a pool of [`MAX_CONCURRENT_CALLS`] slots.
    pub fn new(limits: Limits) -> Result<Self, LoadError> {
        let pool = pooling(&limits);
        Self::with_allocation(limits, InstanceAllocationStrategy::Pooling(pool))
    }

    /// [`Runtime::new`] without the pool: every call maps fresh memory and pays its first
    /// touch. For comparisons (`cargo bench --bench plugins`); the host runs pooled.
    pub fn new_on_demand(limits: Limits) -> Result<Self, LoadError> {
        Self::with_allocation(limits, InstanceAllocationStrategy::OnDemand)
    }

    fn with_allocation(limits: Limits, allocation: InstanceAllocationStrategy) -> Result<Self, LoadError> {
        let engine_error = |e: wasmtime::Error| LoadError::Engine(format!("{e:#}"));
        let mut config = Config::new();
        config.epoch_interruption(true);
        config.wasm_backtrace_max_frames(NonZeroUsize::new(BACKTRACE_FRAMES));
        config.allocation_strategy(allocation);
        let engine = Engine::new(&config).map_err(engine_error)?;
        let mut linker = Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker).map_err(engine_error)?;
        state::add_clocks_that_never_wait(&mut linker).map_err(engine_error)?;
        wit::add_log_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state).map_err(engine_error)?;
        wit::v0_1::racelab::source::log::add_to_linker::<CallState, HasSelf<CallState>>(&mut linker, |state| state)
            .map_err(engine_error)?;
        let ticker = Arc::new(Ticker::start(engine.clone()));
        Ok(Runtime { engine, linker, limits, cache: None, _ticker: ticker })
    }

    /// The same runtime, keeping compiled components in `cache` and loading them from there.
    pub fn with_cache(mut self, cache: CompileCache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// [`Runtime::with_cache`] on the cache in `dir`, or, when that directory cannot be the
    /// host's own, the same runtime compiling in memory, with a warning that says why.
    pub fn with_cache_dir(self, dir: &Path) -> Self {
        match CompileCache::open(dir) {
            Ok(cache) => self.with_cache(cache),
            Err(e) => {
                tracing::warn!("compiling plugins in memory: {e}");
                self
            }
        }
    }

    /// The engine, for precompiling components with the same settings.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// Loads a component from a `.wasm` file.
    pub fn load_file(&self, path: &Path) -> Result<Plugin, LoadError> {
        let bytes =
            std::fs::read(path).map_err(|e| LoadError::Read { path: path.to_path_buf(), reason: e.to_string() })?;
        self.load(&bytes, &path.display().to_string())
    }

    /// Compiles (or finds in the compile cache) and loads a component; `origin` names it in
    /// errors (a path, a digest). Precompiled native code is refused: see [`CompileCache`].
    pub fn load(&self, bytes: &[u8], origin: &str) -> Result<Plugin, LoadError> {
        if Engine::detect_precompiled(bytes).is_some() {
            return Err(LoadError::Precompiled { origin: origin.to_string() });
        }
        let component = self.compile(bytes, origin)?;
        self.prepare(component, origin)
    }

    fn compile(&self, bytes: &[u8], origin: &str) -> Result<Component, LoadError> {
        let not_a_component =
            |e: wasmtime::Error| LoadError::NotAComponent { origin: origin.to_string(), reason: first_line(&e) };
        let Some(cache) = &self.cache else {
            return Component::new(&self.engine, bytes).map_err(not_a_component);
        };
        let key = CacheKey::new(&self.engine, bytes);
        if let Some(artifact) = cache.read(&key) {
            match self.deserialize_own(&artifact) {
                Ok(component) => return Ok(component),
                Err(e) => tracing::warn!(origin, "recompiling: the cached code does not load ({})", first_line(&e)),
            }
        }
        let artifact = self.engine.precompile_component(bytes).map_err(not_a_component)?;
        if let Err(e) = cache.write(&key, &artifact) {
            tracing::warn!(origin, dir = %cache.dir().display(), "cannot keep the compiled component: {e}");
        }
        self.deserialize_own(&artifact).map_err(not_a_component)
    }

    /// Native code this process compiled, just now or earlier into its own cache.
    #[allow(unsafe_code)]
    fn deserialize_own(&self, artifact: &[u8]) -> wasmtime::Result<Component> {
        // SAFETY: wasmtime runs precompiled code unchecked. `artifact` comes from
        // `precompile_component` in this process or from the compile cache, which reads only
        // files this host's user wrote into a directory nobody else may write (cache.rs);
        // wasmtime refuses an artifact from another engine version or configuration.
        unsafe { Component::deserialize(&self.engine, artifact) }
    }

    /// Compiles a component to this engine's native code (`racelab plugin compile`).
    pub fn precompile(&self, bytes: &[u8]) -> Result<Vec<u8>, LoadError> {
        self.engine
            .precompile_component(bytes)
            .map_err(|e| LoadError::NotAComponent { origin: "input".to_string(), reason: first_line(&e) })
    }

    /// Loads native code that [`Runtime::precompile`] produced, skipping compilation.
    ///
    /// Only for artifacts the caller vouches for: wasmtime runs precompiled code unchecked, so
    /// a file someone else could have written runs their code in this process. The daemon
    /// never calls this; the plugin CLI does only with `--trust-precompiled`.
    #[allow(unsafe_code)]
    pub fn load_trusted_precompiled(&self, artifact: &[u8], origin: &str) -> Result<Plugin, LoadError> {
        // SAFETY: the caller vouches for the artifact (see above); wasmtime still refuses one
        // from another engine version or configuration.
        let component = unsafe { Component::deserialize(&self.engine, artifact) }
            .map_err(|e| LoadError::NotAComponent { origin: origin.to_string(), reason: first_line(&e) })?;
        self.prepare(component, origin)
    }

    fn prepare(&self, component: Component, origin: &str) -> Result<Plugin, LoadError> {
        let api_version = self.api_version(&component, origin)?;
        let link = |reason: String| LoadError::Link { origin: origin.to_string(), reason };
        let pre = self.linker.instantiate_pre(&component).map_err(|e| link(format!("{e:#}")))?;
        let pre = match Api::of(&api_version) {
            Some(Api::V0_1) => SourcePreV0_1::new(pre).map(Pre::V0_1),
            _ => SourcePreV0_2::new(pre).map(Pre::V0_2),
        }
        .map_err(|e| link(format!("{e:#}")))?;
        let mut plugin = Plugin {
            inner: Arc::new(Inner {
                engine: self.engine.clone(),
                pre,
                limits: self.limits.clone(),
                label: origin.to_string(),
                api_version: api_version.clone(),
                manifest: None,
                stuck: AtomicUsize::new(0),
                _ticker: self._ticker.clone(),
            }),
        };
        let called = plugin.try_call(|store, source| source.manifest(store));
        let manifest = match called.map_err(|failed| *failed) {
            Ok(manifest) => manifest,
            Err((CallFailure::Run(e), state)) => {
                let fault = plugin.fault("manifest", &e, &state);
                return Err(LoadError::Manifest { origin: origin.to_string(), fault });
            }
            // Not a trap nor a limit: the exports' types differ from the host's bindings, which
            // wasmtime checks when it first makes an instance.
            Err((CallFailure::Instantiate(e), state)) => {
                return Err(match plugin.fault("instantiation", &e, &state) {
                    Fault::Trap { .. } if e.downcast_ref::<Trap>().is_none() => link(format!(
                        "its {}@{api_version} functions are not the types that API version defines ({})",
                        wit::PLUGIN_INTERFACE,
                        first_line(&e)
                    )),
                    fault => LoadError::Instantiate { origin: origin.to_string(), fault },
                });
            }
        };
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
                Some(version) => text::clean(version, 40),
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
