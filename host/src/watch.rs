//! Developer mode, `racelab serve --watch-dir DIR`: a `.wasm` file written into `DIR` is
//! installed in the plugin registry and activated, so a plugin author's rebuild runs on the
//! host within a second or two, through the same registry, checks and swap as production.
//!
//! - The directory is polled ([`POLL`]); a file is taken once its size and modification time
//!   have stood still for [`SETTLE`] (a compiler writes in pieces).
//! - A rebuild rarely bumps the version, and a registry version is immutable, so a watched file
//!   is installed as `VERSION+dev.SHA8` (semver build metadata).
//! - A file that fails to load or a check leaves the active version running; the log says why.
//! - Files present at start are taken too: the directory is what the author wants to run.

use std::collections::HashMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::plugins::Runtime;
use crate::plugins::registry::Registry;

/// How often the directory is read.
pub const POLL: Duration = Duration::from_millis(200);
/// How long a file must stand still before it is taken.
pub const SETTLE: Duration = Duration::from_millis(300);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    len: u64,
    modified: Option<SystemTime>,
}

#[derive(Debug)]
struct Seen {
    stamp: Stamp,
    /// When the stamp last changed.
    since: Instant,
    /// Whether this stamp has been acted on.
    done: bool,
}

/// Watches `dir` until `stop` completes.
pub async fn watch(
    dir: PathBuf,
    registry: Registry,
    runtime: Arc<Runtime>,
    by: String,
    stop: impl Future<Output = ()>,
) {
    tokio::pin!(stop);
    let mut seen: HashMap<PathBuf, Seen> = HashMap::new();
    let mut unreadable = false;
    tracing::info!(dir = %dir.display(), "watching for plugin builds: a .wasm written here is installed and activated");
    loop {
        tokio::select! {
            () = &mut stop => return,
            () = tokio::time::sleep(POLL) => {}
        }
        let files = match wasm_files(&dir) {
            Ok(files) => {
                unreadable = false;
                files
            }
            Err(e) => {
                if !unreadable {
                    tracing::warn!(dir = %dir.display(), "cannot read the watched directory: {e}");
                }
                unreadable = true;
                continue;
            }
        };
        let now = Instant::now();
        for (path, stamp) in files {
            let entry = seen.entry(path.clone()).or_insert(Seen { stamp, since: now, done: false });
            if entry.stamp != stamp {
                *entry = Seen { stamp, since: now, done: false };
            }
            if entry.done || now.duration_since(entry.since) < SETTLE {
                continue;
            }
            entry.done = true;
            take(&path, &registry, &runtime, &by).await;
        }
    }
}

fn wasm_files(dir: &Path) -> std::io::Result<Vec<(PathBuf, Stamp)>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "wasm") {
            continue;
        }
        let Ok(meta) = entry.metadata() else { continue };
        if meta.is_file() {
            files.push((path, Stamp { len: meta.len(), modified: meta.modified().ok() }));
        }
    }
    files.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(files)
}

/// Installs and activates one file, saying what happened.
async fn take(path: &Path, registry: &Registry, runtime: &Arc<Runtime>, by: &str) {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::warn!(file = %path.display(), "cannot read a watched plugin build: {e}");
            return;
        }
    };
    let installed = match registry.install_dev(runtime, bytes, by).await {
        Ok((installed, _)) => installed,
        Err(e) => {
            tracing::warn!(file = %path.display(), "the build was not installed; the active version stays: {e}");
            return;
        }
    };
    match registry.activate(runtime, &installed.name, &installed.version, by, false).await {
        Ok(a) if a.changed => tracing::info!(
            file = %path.display(),
            plugin = %a.name,
            version = %a.version,
            previous = a.previous.as_deref().unwrap_or("none"),
            "installed and activated a watched build"
        ),
        Ok(_) => tracing::debug!(file = %path.display(), "the watched build is the active version already"),
        Err(e) => {
            tracing::warn!(file = %path.display(), "the build was installed but not activated; the active version stays: {e}");
        }
    }
}
