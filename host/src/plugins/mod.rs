//! Source plugins: WebAssembly components implementing `racelab:source`.
//!
//! | file | owns |
//! |---|---|
//! | `wit.rs` | the generated bindings, per supported API version |
//! | `runtime.rs` | the engine, loading (version check, link, pre-instantiate) |
//! | `manifest.rs` | what a manifest must say |
//! | `plugin.rs` | a loaded plugin: calls in a fresh store under the deadline and limits |
//! | `state.rs` | what a call's store holds: a WASI that grants nothing, the log sink, the memory cap |
//! | `error.rs` | load errors, call errors, faults |

mod error;
mod manifest;
mod plugin;
mod runtime;
mod state;
pub mod wit;

pub use error::{CallError, Fault, LoadError, kind as error_kind, message as error_message};
pub use plugin::Plugin;
pub use runtime::{Limits, Runtime};
