//! Source plugins: WebAssembly components implementing `racelab:source`.
//!
//! | file | owns |
//! |---|---|
//! | `wit.rs` | the generated bindings, per supported API version |
//! | `runtime.rs` | the engine, loading (version check, link, pre-instantiate), calls under limits |
//! | `state.rs` | what a call's store holds: a WASI that grants nothing, the log sink, the memory cap |
//! | `error.rs` | load errors, call errors, faults |

mod error;
mod runtime;
mod state;
pub mod wit;

pub use error::{CallError, Fault, LoadError, kind as error_kind, message as error_message};
pub use runtime::{Limits, Plugin, Runtime};
