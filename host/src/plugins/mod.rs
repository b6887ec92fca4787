//! Source plugins: WebAssembly components implementing `racelab:source`.
//!
//! | file | owns |
//! |---|---|
//! | `wit.rs` | the generated bindings, per supported API version |
//! | `adapter.rs` | 0.1 components on the 0.2 host: questions down, answers up |
//! | `runtime.rs` | the engine, loading (version check, link, pre-instantiate) |
//! | `manifest.rs` | what a manifest must say |
//! | `hints.rs` | config keys the host reads too (`odds-timing`), and a plugin's effective config |
//! | `plugin.rs` | a loaded plugin: calls in a fresh store under the deadline and limits |
//! | `registry.rs` | the registry in PostgreSQL: versions, activation, rollback, the checks before activation |
//! | `samples.rs` | the sample responses a component bundles, parsed before it may become active |
//! | `cache.rs` | the compile cache: native code only from files the host wrote |
//! | `text.rs` | a plugin's text (logs, errors) escaped and cut to size |
//! | `watchdog.rs` | calls from async code, abandoned when they overrun (a call stuck in host code) |
//! | `state.rs` | what a call's store holds: a WASI that grants nothing, the log sink, the memory cap |
//! | `error.rs` | load errors, call errors, faults |

mod adapter;
mod cache;
mod error;
pub mod hints;
mod manifest;
mod plugin;
pub mod registry;
mod runtime;
pub mod samples;
mod state;
pub mod text;
mod watchdog;
pub mod wit;

pub use cache::{CacheError, CompileCache};
pub use error::{CallError, Fault, LoadError, kind as error_kind, message as error_message};
pub use manifest::dataset_char;
pub use plugin::Plugin;
pub use runtime::{Limits, Runtime};
