//! What can go wrong with a plugin, split the way callers branch: the plugin could not be
//! loaded, the plugin answered with a source error (its own verdict on the data), or the
//! plugin misbehaved (a fault: trap, timeout, memory, oversized output).

use std::path::PathBuf;
use std::time::Duration;

use super::wit::SourceError;

/// Loading a component failed; nothing was instantiated.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read plugin file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error(
        "{origin} is precompiled native code; the host runs native code only from its own compile cache, so give it the component's .wasm (the plugin CLI loads a .cwasm you compiled yourself with --trust-precompiled)"
    )]
    Precompiled { origin: String },
    #[error("{origin} is not a WebAssembly component: {reason}")]
    NotAComponent { origin: String, reason: String },
    #[error(
        "{origin} does not export racelab:source/plugin; build it with the racelab-plugin-sdk (`racelab_plugin_sdk::export_source!`)"
    )]
    NoPluginExport { origin: String },
    #[error(
        "{origin} targets racelab:source API {found}, but this host supports {supported}; rebuild it against a supported racelab-plugin-sdk"
    )]
    UnsupportedApi { origin: String, found: String, supported: &'static str },
    #[error("{origin} cannot be linked: {reason}")]
    Link { origin: String, reason: String },
    #[error("{origin} cannot be instantiated: {fault}")]
    Instantiate { origin: String, fault: Fault },
    #[error("{origin} failed while describing itself: {fault}")]
    Manifest { origin: String, fault: Fault },
    #[error("{origin} has an invalid manifest: {reason}")]
    InvalidManifest { origin: String, reason: String },
    #[error("cannot set up the plugin engine: {0}")]
    Engine(String),
}

/// A plugin misbehaved during a call. The host records it and keeps running.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Fault {
    #[error("plugin {plugin} trapped in {call}: {message}")]
    Trap { plugin: String, call: &'static str, message: String },
    #[error("plugin {plugin} ran past its {limit:?} deadline in {call}")]
    Timeout { plugin: String, call: &'static str, limit: Duration },
    #[error(
        "plugin {plugin} exceeded its {limit_bytes}-byte memory limit (all memories and tables of a call) in {call}"
    )]
    OutOfMemory { plugin: String, call: &'static str, limit_bytes: usize },
    #[error("plugin {plugin} overflowed its stack in {call} (runaway recursion)")]
    StackOverflow { plugin: String, call: &'static str },
    #[error("plugin {plugin} exceeded its limit of {limit} in {call}")]
    OverLimit { plugin: String, call: &'static str, limit: String },
    #[error("plugin {plugin} did not return from {call} within {waited:?}; its call was abandoned")]
    Unresponsive { plugin: String, call: &'static str, waited: Duration },
    #[error("plugin {plugin} has {stuck} calls that never returned; it is not called again until they do")]
    Stuck { plugin: String, stuck: usize },
    #[error("plugin {plugin} asked for a request the host refuses: {reason} (path {path})")]
    Request { plugin: String, path: String, reason: String },
    #[error("plugin {plugin} returned {what} from {call}, over the limit of {limit}")]
    OutputTooLarge { plugin: String, call: &'static str, what: String, limit: usize },
}

/// A call to `plan` or `parse` did not produce a result.
#[derive(Debug, Clone, thiserror::Error)]
pub enum CallError {
    /// The plugin answered with a source error: a verdict on the request or the data.
    #[error("{}", describe(.0))]
    Source(SourceError),
    /// The plugin misbehaved.
    #[error(transparent)]
    Fault(#[from] Fault),
}

/// The snake_case name of a source error's kind, as used in the CLI's JSON, the database and
/// alerts.
pub fn kind(error: &SourceError) -> &'static str {
    crate::jobs::FailureKind::of(error).as_str()
}

/// The human message of a source error.
pub fn message(error: &SourceError) -> String {
    match error {
        SourceError::RateLimited(Some(s)) => format!("rate limited: retry after {s} s"),
        SourceError::RateLimited(None) => "rate limited".to_string(),
        SourceError::Auth(m)
        | SourceError::QuotaExhausted(m)
        | SourceError::BadRequest(m)
        | SourceError::NoData(m)
        | SourceError::Transient(m)
        | SourceError::Malformed(m)
        | SourceError::Unsupported(m) => m.clone(),
    }
}

fn describe(error: &SourceError) -> String {
    format!("{}: {}", kind(error), message(error))
}
