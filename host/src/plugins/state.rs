//! The per-call store state: a WASI context that grants nothing, the plugin's log sink, and
//! the memory limiter.
//!
//! Rust's standard library on wasm32-wasip2 imports WASI even when a plugin does no I/O, so
//! the host links WASI but gives it no files, no environment, no network, clocks frozen at
//! the Unix epoch and a fixed random stream: a plugin cannot observe anything but its
//! arguments, which keeps every parse deterministic and replayable.

use std::time::Duration;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::random::Deterministic;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::wit::{LogHost, LogLevel};

/// How much of a plugin's stderr (panic messages) is kept for the fault report.
const STDERR_CAPTURE_BYTES: usize = 4096;

pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) memory: MemoryCap,
    pub(crate) stderr: MemoryOutputPipe,
    plugin: String,
    log_lines: usize,
    max_log_lines: usize,
}

impl CallState {
    pub(crate) fn new(plugin: &str, memory_bytes: usize, max_log_lines: usize) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(Deterministic::new(vec![0x5a; 32]))
            .insecure_random(Deterministic::new(vec![0xa5; 32]))
            .insecure_random_seed(0)
            .build();
        CallState {
            wasi,
            table: ResourceTable::new(),
            memory: MemoryCap { limit_bytes: memory_bytes, hit: false },
            stderr,
            plugin: plugin.to_string(),
            log_lines: 0,
            max_log_lines,
        }
    }

    /// What the plugin wrote to stderr (a Rust panic message, typically), trimmed.
    pub(crate) fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr.contents()).trim().to_string()
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl LogHost for CallState {
    fn log(&mut self, level: LogLevel, message: String) {
        self.log_lines += 1;
        if self.log_lines > self.max_log_lines {
            if self.log_lines == self.max_log_lines + 1 {
                tracing::warn!(plugin = %self.plugin, "plugin log limit of {} lines per call reached; further lines dropped", self.max_log_lines);
            }
            return;
        }
        let message: String = message.chars().take(2000).collect();
        match level {
            LogLevel::Debug => tracing::debug!(plugin = %self.plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin = %self.plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin = %self.plugin, "{message}"),
            LogLevel::Error => tracing::error!(plugin = %self.plugin, "{message}"),
        }
    }
}

/// A clock stopped at the Unix epoch.
struct FrozenClock;

impl HostWallClock for FrozenClock {
    fn resolution(&self) -> Duration {
        Duration::from_secs(1)
    }
    fn now(&self) -> Duration {
        Duration::ZERO
    }
}

impl HostMonotonicClock for FrozenClock {
    fn resolution(&self) -> u64 {
        1_000_000_000
    }
    fn now(&self) -> u64 {
        0
    }
}

/// Refuses linear-memory growth past a limit and remembers that it did, so that the trap
/// that follows (Rust aborts on a failed allocation) is reported as out-of-memory.
pub(crate) struct MemoryCap {
    limit_bytes: usize,
    pub(crate) hit: bool,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let allow = desired <= self.limit_bytes;
        self.hit |= !allow;
        Ok(allow)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        // Tables hold function references; a plugin that needs more than this is broken.
        Ok(desired <= 100_000)
    }
}
