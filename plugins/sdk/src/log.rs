//! Log lines to the host, tagged there with the plugin's name and version.
//!
//! In a native build (unit tests) the lines go to stderr instead.

#[cfg(target_arch = "wasm32")]
fn emit(level: crate::bindings::racelab::source::log::Level, message: &str) {
    crate::bindings::racelab::source::log::log(level, message);
}

#[cfg(not(target_arch = "wasm32"))]
fn emit(level: crate::bindings::racelab::source::log::Level, message: &str) {
    eprintln!("[{level:?}] {message}");
}

use crate::bindings::racelab::source::log::Level;

/// A debug line.
pub fn debug(message: &str) {
    emit(Level::Debug, message);
}

/// An info line.
pub fn info(message: &str) {
    emit(Level::Info, message);
}

/// A warning: something odd in the data that the plugin worked around.
pub fn warn(message: &str) {
    emit(Level::Warn, message);
}

/// An error line.
pub fn error(message: &str) {
    emit(Level::Error, message);
}
