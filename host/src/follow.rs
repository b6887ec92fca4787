//! Following the plugin registry: every host runs the active version of each plugin it serves
//! and switches to a newly activated one within a second, without a restart.
//!
//! - The registry announces every activation and install on `racelab_plugins` (a trigger,
//!   migration 0010); the follower listens, and also re-reads the active versions every
//!   [`RECHECK`], so a notification lost to a dropped connection delays a swap by seconds, never
//!   leaves a host on an old version.
//! - An install is compiled at once (into the host's compile cache), so that the activation
//!   that follows only swaps.
//! - A swap replaces the source's entry in the worker and the planner (and its budget limits);
//!   a job already running keeps the entry it started with, so it finishes on its version.
//! - A version that does not load on this host (it passed the checks elsewhere) leaves the
//!   source on the version it runs, with an error in the log, and is tried again at the next
//!   re-check.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::postgres::PgListener;

use crate::budget::Budget;
use crate::config::SourceConfig;
use crate::jobs::planner::Planner;
use crate::jobs::worker::Worker;
use crate::plugins::registry::{self, CHANNEL, Registry};
use crate::plugins::{Plugin, Runtime};

/// How often the active versions are re-read whatever the notifications say.
pub const RECHECK: Duration = Duration::from_secs(5);

/// A source and the plugin version it runs.
#[derive(Debug, Clone)]
pub struct Followed {
    pub source: String,
    /// The plugin's name in the registry.
    pub plugin: String,
    /// The registry version the source runs.
    pub version_id: i64,
    pub config: SourceConfig,
}

/// Keeps the sources on their plugins' active versions.
pub struct Follower {
    registry: Registry,
    runtime: Arc<Runtime>,
    worker: Worker,
    planner: Planner,
    budget: Budget,
    followed: Vec<Followed>,
    /// Installed versions compiled ahead of their activation, by version id.
    prepared: HashMap<i64, Plugin>,
    /// The version each source last failed to switch to: said once at error level, then at
    /// debug level on every re-check until it works or another version is activated.
    failed: HashMap<String, i64>,
}

impl std::fmt::Debug for Follower {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Follower").field("followed", &self.followed).finish_non_exhaustive()
    }
}

impl Follower {
    /// A follower of `followed`, swapping into `worker`, `planner` and `budget`.
    pub fn new(
        registry: Registry,
        runtime: Arc<Runtime>,
        worker: Worker,
        planner: Planner,
        budget: Budget,
        followed: Vec<Followed>,
    ) -> Self {
        Follower {
            registry,
            runtime,
            worker,
            planner,
            budget,
            followed,
            prepared: HashMap::new(),
            failed: HashMap::new(),
        }
    }

    /// Follows the registry until `stop` completes.
    pub async fn run(mut self, stop: impl Future<Output = ()> + Send) {
        tokio::pin!(stop);
        let mut listener: Option<PgListener> = None;
        // Whether listening failed: said once when it starts and once when it ends, however
        // long a database outage lasts.
        let mut deaf = false;
        let mut recheck = tokio::time::interval(RECHECK);
        recheck.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            if listener.is_none() {
                listener = match self.listen().await {
                    Ok(l) => {
                        if std::mem::take(&mut deaf) {
                            tracing::info!("listening for plugin registry changes again");
                        }
                        Some(l)
                    }
                    Err(e) => {
                        if !std::mem::replace(&mut deaf, true) {
                            tracing::warn!(
                                "cannot listen for plugin registry changes ({e}); re-checking every {} s until it can",
                                RECHECK.as_secs()
                            );
                        }
                        None
                    }
                };
                // Whatever was announced while nobody listened.
                self.sync().await;
            }
            let Some(l) = listener.as_mut() else {
                tokio::select! {
                    () = &mut stop => return,
                    _ = recheck.tick() => continue,
                }
            };
            tokio::select! {
                () = &mut stop => return,
                _ = recheck.tick() => self.sync().await,
                received = l.try_recv() => match received {
                    Ok(Some(notification)) => self.notified(notification.payload()).await,
                    // The connection dropped; the next call reconnects. Notifications in
                    // between are lost: re-read now.
                    Ok(None) => self.sync().await,
                    Err(e) => {
                        tracing::debug!("the plugin registry's notifications stopped ({e}); listening again");
                        listener = None;
                    }
                },
            }
        }
    }

    async fn listen(&self) -> Result<PgListener, sqlx::Error> {
        let mut listener = PgListener::connect_with(self.registry.pool()).await?;
        listener.listen(CHANNEL).await?;
        Ok(listener)
    }

    async fn notified(&mut self, payload: &str) {
        let (what, name) = payload.split_once(' ').unwrap_or((payload, ""));
        if !self.followed.iter().any(|f| f.plugin == name) {
            return;
        }
        match what {
            "installed" => self.prepare(name).await,
            _ => self.sync().await,
        }
    }

    /// Compiles the newest installed version of `name` that is not active, so its activation
    /// only swaps.
    async fn prepare(&mut self, name: &str) {
        let newest = match self.registry.list().await {
            Ok(versions) => versions.into_iter().filter(|v| v.name == name && !v.active).max_by_key(|v| v.id),
            Err(e) => {
                tracing::warn!(plugin = name, "cannot read the plugin registry: {e}");
                return;
            }
        };
        let Some(version) = newest else { return };
        if self.prepared.contains_key(&version.id) {
            return;
        }
        match self.load(version.id).await {
            Ok(plugin) => {
                tracing::info!(plugin = name, version = %version.version, "compiled a newly installed version ahead of its activation");
                self.prepared.retain(|id, _| *id > version.id);
                self.prepared.insert(version.id, plugin);
            }
            Err(e) => {
                tracing::warn!(plugin = name, version = %version.version, "a newly installed version does not load here: {e}")
            }
        }
    }

    async fn load(&self, version_id: i64) -> Result<Plugin, registry::RegistryError> {
        let (name, version, bytes) = self.registry.component(version_id).await?;
        registry::load_blocking(&self.runtime, bytes, format!("{name}@{version}")).await
    }

    /// Puts every source on its plugin's active version.
    async fn sync(&mut self) {
        let names: Vec<String> = self.followed.iter().map(|f| f.plugin.clone()).collect();
        let active = match self.registry.active(&names).await {
            Ok(active) => active,
            Err(e) => {
                tracing::debug!("cannot read the active plugin versions: {e}");
                return;
            }
        };
        for i in 0..self.followed.len() {
            let Some(version) = active.iter().find(|a| a.name == self.followed[i].plugin) else { continue };
            if version.version_id != self.followed[i].version_id {
                self.swap(i, version.version_id, &version.version).await;
            }
        }
    }

    async fn swap(&mut self, i: usize, version_id: i64, version: &str) {
        let started = Instant::now();
        let followed = self.followed[i].clone();
        let plugin = match self.prepared.remove(&version_id) {
            Some(plugin) => plugin,
            None => match self.load(version_id).await {
                Ok(plugin) => plugin,
                Err(e) => {
                    let reason = format!("the active version does not load on this host ({e})");
                    self.could_not_switch(&followed, version_id, version, &reason);
                    return;
                }
            },
        };
        let label = plugin.label().to_string();
        match crate::daemon::wire(&followed.source, &followed.config, plugin, &self.budget) {
            Ok((source, plan)) => {
                let was = self.worker.set_source(&followed.source, source);
                self.planner.set_source(plan);
                self.followed[i].version_id = version_id;
                self.failed.remove(&followed.source);
                tracing::info!(
                    source = %followed.source,
                    plugin = %label,
                    was = was.as_deref().unwrap_or("nothing"),
                    ms = started.elapsed().as_millis(),
                    "switched to the plugin's active version"
                );
            }
            Err(e) => {
                let reason = format!("the active version cannot run this source here ({e:#})");
                self.could_not_switch(&followed, version_id, version, &reason);
            }
        }
    }

    /// Says why a source stays on its version: once per version at error level.
    fn could_not_switch(&mut self, followed: &Followed, version_id: i64, version: &str, reason: &str) {
        let first = self.failed.insert(followed.source.clone(), version_id) != Some(version_id);
        if first {
            tracing::error!(source = %followed.source, plugin = %followed.plugin, version, "{reason}; staying on the version it runs and retrying every {} s", RECHECK.as_secs());
        } else {
            tracing::debug!(source = %followed.source, plugin = %followed.plugin, version, "{reason}; still on the version it runs");
        }
    }
}
