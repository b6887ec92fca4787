//! The per-call store state: a WASI context that grants nothing, the plugin's log sink, and
//! the limiter that holds one call to its share of memory and counts.
//!
//! Rust's standard library on wasm32-wasip2 imports WASI even when a plugin does no I/O, so
//! the host links WASI but gives it no files, no environment, no sockets, clocks frozen at
//! the Unix epoch and a fixed random stream: a plugin cannot observe anything but its
//! arguments, which keeps every parse deterministic and replayable. Nothing it can call
//! blocks: clock subscriptions are ready at once (see [`add_clocks_that_never_wait`]), and
//! every other stream it can reach (a closed stdin, sinks for stdout and stderr) is always
//! ready, so the epoch deadline is the only way a call ends late.

use std::time::Duration;

use wasmtime::component::{Linker, Resource, ResourceTable};
use wasmtime::{ResourceLimiter, StoreContextMut};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::p2::{DynPollable, Pollable, subscribe};
use wasmtime_wasi::random::Deterministic;
use wasmtime_wasi::{HostMonotonicClock, HostWallClock, WasiCtx, WasiCtxView, WasiView};

use super::text;
use super::wit::{LogHost, LogLevel};

/// How much of a plugin's stderr (panic messages) is kept for the fault report.
const STDERR_CAPTURE_BYTES: usize = 4096;

/// Host-side resources (streams, pollables) one call may hold at once. A plugin needs a
/// handful (its stderr, a pollable while the standard library sleeps); the cap keeps a loop
/// that never drops them from growing the host's memory outside the memory limit.
pub(crate) const MAX_HOST_RESOURCES: usize = 256;

/// Bytes the host copies out of a plugin in one crossing: an import call (a log line, a write
/// to stderr) or an export's result (a page of records). wasmtime counts the host's copy, which
/// can be larger than what the plugin's memory held (a list of small records); this bounds it
/// whatever the shape. The largest real page, a race's every-pool odds, is well under 1 MiB.
pub(crate) const MAX_HOSTCALL_BYTES: usize = 32 << 20;

pub(crate) struct CallState {
    wasi: WasiCtx,
    table: ResourceTable,
    pub(crate) limits: CallLimiter,
    pub(crate) stderr: MemoryOutputPipe,
    plugin: String,
    log_lines: usize,
    max_log_lines: usize,
}

impl CallState {
    pub(crate) fn new(plugin: &str, limiter: CallLimiter, max_log_lines: usize) -> Self {
        let stderr = MemoryOutputPipe::new(STDERR_CAPTURE_BYTES);
        let wasi = WasiCtx::builder()
            .stderr(stderr.clone())
            .wall_clock(FrozenClock)
            .monotonic_clock(FrozenClock)
            .secure_random(Deterministic::new(vec![0x5a; 32]))
            .insecure_random(Deterministic::new(vec![0xa5; 32]))
            .insecure_random_seed(0)
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .build();
        let mut table = ResourceTable::new();
        table.set_max_capacity(MAX_HOST_RESOURCES);
        CallState { wasi, table, limits: limiter, stderr, plugin: plugin.to_string(), log_lines: 0, max_log_lines }
    }

    /// What the plugin wrote to stderr (a Rust panic message, typically), trimmed, escaped and
    /// cut to size.
    pub(crate) fn stderr_text(&self) -> String {
        text::message(String::from_utf8_lossy(&self.stderr.contents()).trim())
    }
}

impl WasiView for CallState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}

impl LogHost for CallState {
    fn log(&mut self, level: LogLevel, message: String) {
        self.write_log(level, message);
    }
}

/// A 0.1 component's log lines go the same way.
impl super::wit::v0_1::racelab::source::log::Host for CallState {
    fn log(&mut self, level: super::wit::v0_1::racelab::source::log::Level, message: String) {
        use super::wit::v0_1::racelab::source::log::Level as Old;
        let level = match level {
            Old::Debug => LogLevel::Debug,
            Old::Info => LogLevel::Info,
            Old::Warn => LogLevel::Warn,
            Old::Error => LogLevel::Error,
        };
        self.write_log(level, message);
    }
}

impl CallState {
    /// One plugin log line, counted against the call's limit and escaped.
    fn write_log(&mut self, level: LogLevel, message: String) {
        self.log_lines += 1;
        if self.log_lines > self.max_log_lines {
            if self.log_lines == self.max_log_lines + 1 {
                tracing::warn!(plugin = %self.plugin, "plugin log limit of {} lines per call reached; further lines dropped", self.max_log_lines);
            }
            return;
        }
        // Escaped: a plugin's line break must not start a line that looks like the host's.
        let message = text::message(&message);
        match level {
            LogLevel::Debug => tracing::debug!(plugin = %self.plugin, "{message}"),
            LogLevel::Info => tracing::info!(plugin = %self.plugin, "{message}"),
            LogLevel::Warn => tracing::warn!(plugin = %self.plugin, "{message}"),
            LogLevel::Error => tracing::error!(plugin = %self.plugin, "{message}"),
        }
    }
}

/// Replaces WASI's `monotonic-clock.subscribe-duration` and `subscribe-instant` (linked by
/// `wasmtime_wasi`, which waits the real duration inside `poll`, in host code that the epoch
/// deadline cannot interrupt) with pollables that are ready at once. That matches the frozen
/// clock: a plugin asking to wait finds, as everything else it sees, that no time passes — and a
/// plugin that sleeps in a loop spins in its own code, where the deadline stops it.
pub(crate) fn add_clocks_that_never_wait(linker: &mut Linker<CallState>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut clock = linker.instance(MONOTONIC_CLOCK)?;
    clock
        .func_wrap("subscribe-duration", |store: StoreContextMut<'_, CallState>, (_,): (u64,)| ready_pollable(store))?;
    clock
        .func_wrap("subscribe-instant", |store: StoreContextMut<'_, CallState>, (_,): (u64,)| ready_pollable(store))?;
    linker.allow_shadowing(false);
    Ok(())
}

/// The monotonic clock interface as `wasmtime_wasi` links it (components built against any
/// earlier 0.2.x find it by semver).
pub(crate) const MONOTONIC_CLOCK: &str = "wasi:clocks/monotonic-clock@0.2.12";

fn ready_pollable(mut store: StoreContextMut<'_, CallState>) -> wasmtime::Result<(Resource<DynPollable>,)> {
    let table = &mut store.data_mut().table;
    let ready = table.push(Ready)?;
    Ok((subscribe(table, ready)?,))
}

/// A pollable that is always ready.
struct Ready;

#[async_trait::async_trait]
impl Pollable for Ready {
    async fn ready(&mut self) {}
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

/// Core instances one call may create. A component built by `cargo component`/`wit-component`
/// from one Rust crate instantiates a few (the crate's module and the adapter shims); sixteen
/// leaves room for a component composed of several crates.
pub(crate) const MAX_INSTANCES: usize = 16;
/// Linear memories one call may create: one per crate-level module is all a plugin needs.
pub(crate) const MAX_MEMORIES: usize = 4;
/// Tables one call may create: the function tables of those modules and their shims.
pub(crate) const MAX_TABLES: usize = 8;
/// A table element takes a pointer's worth of host memory (wasmtime's `ResourceLimiter` docs).
const TABLE_ELEMENT_BYTES: usize = std::mem::size_of::<usize>();

/// Holds one call to one budget of bytes across every linear memory and table it creates or
/// grows, and to [`MAX_INSTANCES`], [`MAX_MEMORIES`] and [`MAX_TABLES`]. A per-memory limit
/// would let a component with many memories multiply its share.
pub(crate) struct CallLimiter {
    limit_bytes: usize,
    memory_bytes: usize,
    table_bytes: usize,
    /// Whether the call asked for more than its budget of bytes.
    pub(crate) hit: bool,
}

impl CallLimiter {
    pub(crate) fn new(limit_bytes: usize) -> Self {
        CallLimiter { limit_bytes, memory_bytes: 0, table_bytes: 0, hit: false }
    }

    /// Whether growing something from `current` to `desired` bytes keeps the call within its
    /// budget; counts the growth if it does.
    fn grow(&mut self, used: fn(&mut Self) -> &mut usize, current: usize, desired: usize) -> bool {
        let others = self.memory_bytes + self.table_bytes - *used(self);
        let mine = used(self).saturating_sub(current).saturating_add(desired);
        if others.saturating_add(mine) > self.limit_bytes {
            self.hit = true;
            return false;
        }
        *used(self) = mine;
        true
    }
}

impl ResourceLimiter for CallLimiter {
    fn memory_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        Ok(self.grow(|s| &mut s.memory_bytes, current, desired))
    }

    fn table_growing(&mut self, current: usize, desired: usize, _maximum: Option<usize>) -> wasmtime::Result<bool> {
        let bytes = |elements: usize| elements.saturating_mul(TABLE_ELEMENT_BYTES);
        Ok(self.grow(|s| &mut s.table_bytes, bytes(current), bytes(desired)))
    }

    fn instances(&self) -> usize {
        MAX_INSTANCES
    }

    fn memories(&self) -> usize {
        MAX_MEMORIES
    }

    fn tables(&self) -> usize {
        MAX_TABLES
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memories_and_tables_share_one_budget() {
        let mut limiter = CallLimiter::new(100 << 20);
        // Two memories of 40 MiB fit; a third does not, though each alone would.
        assert!(limiter.memory_growing(0, 40 << 20, None).expect("ok"));
        assert!(limiter.memory_growing(0, 40 << 20, None).expect("ok"));
        assert!(!limiter.memory_growing(0, 40 << 20, None).expect("ok"));
        assert!(limiter.hit);
        // Tables count against what is left: 20 MiB, a pointer per element.
        let mut limiter = CallLimiter::new(100 << 20);
        assert!(limiter.memory_growing(0, 80 << 20, None).expect("ok"));
        assert!(!limiter.table_growing(0, (20 << 20) / TABLE_ELEMENT_BYTES + 1, None).expect("ok"));
        assert!(limiter.table_growing(0, 1_000, None).expect("ok"));
    }

    #[test]
    fn growing_counts_only_the_growth() {
        let mut limiter = CallLimiter::new(10 << 20);
        assert!(limiter.memory_growing(0, 4 << 20, None).expect("ok"));
        assert!(limiter.memory_growing(4 << 20, 8 << 20, None).expect("ok"));
        assert!(limiter.memory_growing(8 << 20, 10 << 20, None).expect("ok"));
        assert!(!limiter.memory_growing(10 << 20, (10 << 20) + 65_536, None).expect("ok"));
        assert!(limiter.hit);
    }
}
