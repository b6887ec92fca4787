//! Turns for the scenarios that must not overlap. The host's integration tests were one binary
//! per file, run one after another; now they are one binary, and libtest runs tests of every
//! file side by side on its threads. A heavy scenario — a race day on a moving clock, hosts
//! spawned on a clock 120–150 times real time, a database outage — falls behind its clock or
//! its timeouts if another heavy one takes the CPU, and a test that asserts a wall-clock bound
//! fails if one starves it. So each such test takes a turn for its whole run: tests of one
//! group run together (as the tests of one file did), tests of different groups never do.
//! Tests that take no turn (pure, or a quick database check) run beside anything.

use std::sync::{Condvar, Mutex, PoisonError};

/// The short tests that assert a wall-clock bound (a deadline met, a caller freed in time, a
/// burst within one second): they may run together, but not beside a heavy scenario.
pub const TIMED: &str = "timed";

/// Which group has the turn, and how many of its tests hold it.
struct Gate {
    group: Option<&'static str>,
    holders: usize,
}

static GATE: Mutex<Gate> = Mutex::new(Gate { group: None, holders: 0 });
static FREED: Condvar = Condvar::new();

/// A turn of `group`, held until dropped (also when the test panics: a failed test does not
/// keep the others waiting).
#[must_use = "the turn ends when this is dropped"]
pub struct Turn {
    group: &'static str,
}

/// Waits until no other group has the turn, then joins `group`'s. For plain `#[test]`s; an
/// async test uses [`turn_async`], which waits off its runtime.
pub fn turn(group: &'static str) -> Turn {
    // The lock is only held here and in `drop`, which cannot panic; a poisoned one is still
    // consistent.
    let mut gate = GATE.lock().unwrap_or_else(PoisonError::into_inner);
    while gate.group.is_some_and(|g| g != group) {
        gate = FREED.wait(gate).unwrap_or_else(PoisonError::into_inner);
    }
    gate.group = Some(group);
    gate.holders += 1;
    Turn { group }
}

/// [`turn`] for an async test: waits on a blocking thread, not on the test's runtime.
pub async fn turn_async(group: &'static str) -> Turn {
    tokio::task::spawn_blocking(move || turn(group)).await.expect("waiting for a turn")
}

impl Drop for Turn {
    fn drop(&mut self) {
        let mut gate = GATE.lock().unwrap_or_else(PoisonError::into_inner);
        debug_assert_eq!(gate.group, Some(self.group));
        gate.holders -= 1;
        if gate.holders == 0 {
            gate.group = None;
            FREED.notify_all();
        }
    }
}
