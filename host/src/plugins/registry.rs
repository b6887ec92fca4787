//! The plugin registry in PostgreSQL (migration 0010): every installed version of a plugin with
//! its bytes, and the history of which version is active. The CLI (`racelab plugin install`,
//! `list`, `activate`, `rollback`), the admin API and the hosts' start-up seeding all go
//! through here; every host follows the active versions (see `crate::follow`).
//!
//! - A version (`name@version`, from the manifest) is immutable: installing other bytes under a
//!   name and version already installed is refused; the same bytes again are a no-op.
//! - Activation and rollback are rows in `plugin_activations`, never updates. Activations form
//!   a stack: `seed` and `activate` push, `rollback` pops, so rolling back twice goes two
//!   versions back rather than flipping between the last two.
//! - Before a version becomes active it is loaded (API version in range, manifest valid) and
//!   checked ([`checks`], and a replay of the last days' archive against the active version:
//!   the candidate must read every response the active version reads); a refusal says which check failed and why, and the active version
//!   stays. `force` activates anyway and records what was skipped.
//! - Changes to one plugin's activations are serialised by an advisory lock on its name.

use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::PgPool;

use super::error::LoadError;
use super::plugin::Plugin;
use super::runtime::Runtime;
use super::wit::OperationKind;
use crate::clock::Clock;
use crate::replay::{Range, ReplayError};

/// The channel every host listens on; payloads are `active NAME` and `installed NAME`.
pub const CHANNEL: &str = "racelab_plugins";

/// A version as the registry lists it.
#[derive(Debug, Clone, PartialEq, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct VersionRow {
    pub id: i64,
    pub name: String,
    pub version: String,
    pub api_version: String,
    pub sha256: String,
    pub size_bytes: i32,
    pub installed_by: String,
    pub installed_at: chrono::DateTime<chrono::Utc>,
    /// Whether it is the plugin's active version.
    pub active: bool,
}

/// The active version of one plugin.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct ActiveVersion {
    pub name: String,
    pub version_id: i64,
    pub version: String,
    pub sha256: String,
}

/// What an install did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Installed {
    pub id: i64,
    pub name: String,
    pub version: String,
    pub api_version: String,
    pub sha256: String,
    /// False when these exact bytes were installed already.
    pub new: bool,
}

/// What an activation or rollback did.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Activated {
    pub name: String,
    pub version: String,
    pub version_id: i64,
    /// The version active before, if any.
    pub previous: Option<String>,
    /// False when the version was active already (nothing was written).
    pub changed: bool,
    /// Whether a failing check was overridden.
    pub forced: bool,
    pub checks: Vec<Check>,
}

/// One check before activation and its outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Check {
    pub name: &'static str,
    pub passed: bool,
    pub detail: String,
}

/// What a registry operation refused, or could not do.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(
        "{name}@{version} is installed already with other bytes (sha256 {installed}); a version is immutable: give the new build a new version"
    )]
    VersionTaken { name: String, version: String, installed: String },
    #[error("{name}@{version} is not installed; `racelab plugin list` shows what is")]
    UnknownVersion { name: String, version: String },
    #[error("plugin {name} has no version installed")]
    UnknownPlugin { name: String },
    #[error("{name} has no earlier version to roll back to")]
    NothingToRollBack { name: String },
    #[error("{spec:?} is not NAME@VERSION")]
    BadSpec { spec: String },
    #[error("{name}@{version} may not become active: {}; the active version stays (--force overrides, and is recorded)", failed(.checks))]
    Refused { name: String, version: String, checks: Vec<Check> },
    #[error("{name}@{version} in the registry does not match its sha256 {sha256}; reinstall it")]
    Corrupt { name: String, version: String, sha256: String },
    #[error("the plugin registry: {0}")]
    Database(#[from] sqlx::Error),
    #[error("loading a component was lost: {0}")]
    Lost(String),
}

fn failed(checks: &[Check]) -> String {
    checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| format!("{} failed: {}", c.name, c.detail))
        .collect::<Vec<_>>()
        .join("; ")
}

impl RegistryError {
    /// Whether the request was wrong (refused, unknown), rather than the registry failing.
    pub fn is_refusal(&self) -> bool {
        !matches!(self, RegistryError::Database(_) | RegistryError::Lost(_) | RegistryError::Corrupt { .. })
    }
}

type Result<T, E = RegistryError> = std::result::Result<T, E>;

/// `NAME@VERSION` split in two.
pub fn parse_spec(spec: &str) -> Result<(String, String)> {
    match spec.split_once('@') {
        Some((name, version)) if !name.is_empty() && !version.is_empty() => Ok((name.to_string(), version.to_string())),
        _ => Err(RegistryError::BadSpec { spec: spec.to_string() }),
    }
}

/// The lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A developer build's registry version: `version+dev.SHA8`, or `version.dev.SHA8` when the
/// version carries build metadata already.
pub fn dev_version(version: &str, sha256: &str) -> String {
    let short = sha256.get(..8).unwrap_or(sha256);
    if version.contains('+') { format!("{version}.dev.{short}") } else { format!("{version}+dev.{short}") }
}

/// Loads a component off the async runtime (compiling is CPU-bound), giving up when loading
/// takes far longer than compiling and describing itself ever should.
pub async fn load_blocking(runtime: &Arc<Runtime>, bytes: Vec<u8>, origin: String) -> Result<Plugin> {
    const LOAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);
    let runtime = Arc::clone(runtime);
    let loading = tokio::task::spawn_blocking(move || runtime.load(&bytes, &origin));
    match tokio::time::timeout(LOAD_TIMEOUT, loading).await {
        Ok(joined) => joined.map_err(|e| RegistryError::Lost(e.to_string()))?.map_err(RegistryError::from),
        Err(_) => Err(RegistryError::Lost(format!("the component did not load within {} s", LOAD_TIMEOUT.as_secs()))),
    }
}

/// The checks a loaded candidate must pass before it may become active. Loading it already
/// checked the API version and the manifest's identifiers and tracks.
pub fn checks(plugin: &Plugin) -> Vec<Check> {
    let m = plugin.manifest();
    let mut checks = vec![Check {
        name: "api version",
        passed: true,
        detail: format!("racelab:source {} (supported: {})", plugin.api_version(), super::wit::SUPPORTED),
    }];
    // A results-only source may pay no dividends; odds without a pool could never be asked for.
    let manifest = if m.operations.contains(&OperationKind::Odds) && m.odds_pools.is_empty() {
        Err("it lists odds but no odds pools".to_string())
    } else if m.datasets.is_empty() {
        Err("it lists no datasets, so no request could be budgeted".to_string())
    } else {
        Ok(format!(
            "{} tracks, {} operations, {} odds pools, {} dividend pools, {} datasets",
            m.tracks.len(),
            m.operations.len(),
            m.odds_pools.len(),
            m.dividend_pools.len(),
            m.datasets.len()
        ))
    };
    checks.push(match manifest {
        Ok(detail) => Check { name: "manifest", passed: true, detail },
        Err(detail) => Check { name: "manifest", passed: false, detail },
    });
    checks
}

/// The archive a candidate is replayed over before it may replace the active version: the
/// last `days` KST days up to the clock's today.
#[derive(Debug, Clone)]
pub struct ReplayWindow {
    pub days: u32,
    pub clock: Clock,
}

impl Default for ReplayWindow {
    fn default() -> Self {
        ReplayWindow { days: DEFAULT_REPLAY_DAYS, clock: Clock::system() }
    }
}

/// Days of archive a candidate is replayed over by default.
pub const DEFAULT_REPLAY_DAYS: u32 = 7;

/// Examples of new failures a refusal names.
const FAILURE_EXAMPLES: usize = 3;

/// Parses the samples the component bundles (`samples.rs`), off the async runtime.
async fn samples_check(plugin: &Plugin, bytes: Vec<u8>) -> Check {
    const NAME: &str = "samples";
    let plugin = plugin.clone();
    let parsed = tokio::task::spawn_blocking(move || super::samples::check(&plugin, &bytes)).await;
    match parsed {
        Ok(Ok(0)) => Check { name: NAME, passed: true, detail: "none bundled".to_string() },
        Ok(Ok(n)) => Check { name: NAME, passed: true, detail: format!("{n} bundled samples parse") },
        Ok(Err(reason)) => Check { name: NAME, passed: false, detail: reason },
        Err(e) => Check { name: NAME, passed: false, detail: format!("the samples check was lost: {e}") },
    }
}

/// The registry on one database.
#[derive(Debug, Clone)]
pub struct Registry {
    pool: PgPool,
    replay: ReplayWindow,
}

impl Registry {
    /// The registry in `pool`'s database (migrated).
    pub fn new(pool: PgPool) -> Self {
        Registry { pool, replay: ReplayWindow::default() }
    }

    /// The same registry, replaying candidates over `window`.
    pub fn with_replay(mut self, window: ReplayWindow) -> Self {
        self.replay = window;
        self
    }

    /// The database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Loads `bytes` (API version, manifest) and stores them as the version the manifest names.
    pub async fn install(&self, runtime: &Arc<Runtime>, bytes: Vec<u8>, by: &str) -> Result<(Installed, Plugin)> {
        let sha256 = sha256_hex(&bytes);
        let plugin = load_blocking(runtime, bytes.clone(), format!("component {}", &sha256[..12])).await?;
        let installed = self.store(&plugin, plugin.manifest().version.clone(), &bytes, &sha256, by).await?;
        Ok((installed, plugin))
    }

    /// [`Registry::install`] for a developer's build (`serve --watch-dir`): rebuilds rarely
    /// bump the version, so the version is the manifest's with `+dev.SHA8` (semver build
    /// metadata) appended.
    pub async fn install_dev(&self, runtime: &Arc<Runtime>, bytes: Vec<u8>, by: &str) -> Result<(Installed, Plugin)> {
        let sha256 = sha256_hex(&bytes);
        let plugin = load_blocking(runtime, bytes.clone(), format!("component {}", &sha256[..12])).await?;
        let version = dev_version(&plugin.manifest().version, &sha256);
        let installed = self.store(&plugin, version, &bytes, &sha256, by).await?;
        Ok((installed, plugin))
    }

    async fn store(&self, plugin: &Plugin, version: String, bytes: &[u8], sha256: &str, by: &str) -> Result<Installed> {
        let m = plugin.manifest();
        let size = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
        let manifest = crate::json::manifest(m, plugin.api_version());
        let inserted: Option<i64> = sqlx::query_scalar(
            "INSERT INTO plugin_versions (name, version, api_version, sha256, component, size_bytes, manifest, installed_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (name, version) DO NOTHING
             RETURNING id",
        )
        .bind(&m.name)
        .bind(&version)
        .bind(plugin.api_version())
        .bind(sha256)
        .bind(bytes)
        .bind(size)
        .bind(&manifest)
        .bind(by)
        .fetch_optional(&self.pool)
        .await?;
        let installed = |id, new| Installed {
            id,
            name: m.name.clone(),
            version: version.clone(),
            api_version: plugin.api_version().to_string(),
            sha256: sha256.to_string(),
            new,
        };
        if let Some(id) = inserted {
            tracing::info!(plugin = %m.name, %version, sha256, by, "plugin version installed");
            return Ok(installed(id, true));
        }
        let (id, existing): (i64, String) =
            sqlx::query_as("SELECT id, sha256 FROM plugin_versions WHERE name = $1 AND version = $2")
                .bind(&m.name)
                .bind(&version)
                .fetch_one(&self.pool)
                .await?;
        if existing != sha256 {
            return Err(RegistryError::VersionTaken { name: m.name.clone(), version, installed: existing });
        }
        Ok(installed(id, false))
    }

    /// Every installed version, by name and install order.
    pub async fn list(&self) -> Result<Vec<VersionRow>> {
        Ok(sqlx::query_as(
            "SELECT v.id, v.name, v.version, v.api_version, v.sha256, v.size_bytes, v.installed_by, v.installed_at,
                    (a.version_id IS NOT NULL) AS active
               FROM plugin_versions v
               LEFT JOIN plugin_active a ON a.version_id = v.id
              ORDER BY v.name, v.id",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// The active versions of `names`.
    pub async fn active(&self, names: &[String]) -> Result<Vec<ActiveVersion>> {
        Ok(sqlx::query_as(
            "SELECT name, version_id, version, sha256 FROM plugin_active WHERE name = ANY($1) ORDER BY name",
        )
        .bind(names)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Whether any version of `name` is installed.
    pub async fn has_versions(&self, name: &str) -> Result<bool> {
        Ok(sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM plugin_versions WHERE name = $1)")
            .bind(name)
            .fetch_one(&self.pool)
            .await?)
    }

    /// A version's component, checked against its sha256.
    pub async fn component(&self, version_id: i64) -> Result<(String, String, Vec<u8>)> {
        let (name, version, sha256, bytes): (String, String, String, Vec<u8>) =
            sqlx::query_as("SELECT name, version, sha256, component FROM plugin_versions WHERE id = $1")
                .bind(version_id)
                .fetch_one(&self.pool)
                .await?;
        if sha256_hex(&bytes) != sha256 {
            return Err(RegistryError::Corrupt { name, version, sha256 });
        }
        Ok((name, version, bytes))
    }

    /// The id of `name@version`.
    pub async fn version_id(&self, name: &str, version: &str) -> Result<i64> {
        let id: Option<i64> = sqlx::query_scalar("SELECT id FROM plugin_versions WHERE name = $1 AND version = $2")
            .bind(name)
            .bind(version)
            .fetch_optional(&self.pool)
            .await?;
        id.ok_or_else(|| RegistryError::UnknownVersion { name: name.into(), version: version.into() })
    }

    /// Makes `name@version` the active version, after its checks.
    pub async fn activate(
        &self,
        runtime: &Arc<Runtime>,
        name: &str,
        version: &str,
        by: &str,
        force: bool,
    ) -> Result<Activated> {
        let id = self.version_id(name, version).await?;
        self.switch(runtime, name, id, Action::Activate, by, force).await
    }

    /// Makes the version active before the current one active again.
    pub async fn rollback(&self, runtime: &Arc<Runtime>, name: &str, by: &str) -> Result<Activated> {
        let stack = self.stack(&self.pool, name).await?;
        if stack.is_empty() {
            return Err(RegistryError::UnknownPlugin { name: name.to_string() });
        }
        let Some(&target) = stack.len().checked_sub(2).and_then(|i| stack.get(i)) else {
            return Err(RegistryError::NothingToRollBack { name: name.to_string() });
        };
        // A version that was active once is rolled back to without the checks: the way back
        // must not depend on the archive (the checks ran when it was first activated).
        self.switch(runtime, name, target, Action::Rollback, by, true).await
    }

    /// Installs `bytes` and makes them active as a seed when the registry has no version of
    /// their plugin; otherwise leaves the registry as it is. Returns the plugin's name and
    /// whether it seeded.
    pub async fn seed(&self, runtime: &Arc<Runtime>, bytes: Vec<u8>, by: &str) -> Result<(String, bool)> {
        let sha256 = sha256_hex(&bytes);
        let plugin = load_blocking(runtime, bytes.clone(), format!("component {}", &sha256[..12])).await?;
        let name = plugin.manifest().name.clone();
        let mut tx = self.pool.begin().await?;
        lock(&mut tx, &name).await?;
        let any: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM plugin_activations WHERE name = $1)")
            .bind(&name)
            .fetch_one(&mut *tx)
            .await?;
        tx.commit().await?;
        if any {
            return Ok((name, false));
        }
        let installed = self.store(&plugin, plugin.manifest().version.clone(), &bytes, &sha256, by).await?;
        // The operator configured this file to run and the registry has nothing else: a check it
        // fails is recorded with the seed and said in the log, not a reason to stop the host.
        let activated = self.switch(runtime, &name, installed.id, Action::Seed, by, true).await?;
        if activated.forced {
            tracing::warn!(plugin = %name, version = %activated.version, "seeded although {}", failed(&activated.checks));
        }
        Ok((name, activated.changed))
    }

    /// The activation stack of `name`: version ids, the active one last.
    async fn stack<'e>(&self, db: impl sqlx::PgExecutor<'e>, name: &str) -> Result<Vec<i64>> {
        let rows: Vec<(i64, String)> =
            sqlx::query_as("SELECT version_id, action FROM plugin_activations WHERE name = $1 ORDER BY id")
                .bind(name)
                .fetch_all(db)
                .await?;
        let mut stack = Vec::new();
        for (version_id, action) in rows {
            if action == "rollback" {
                stack.pop();
                if stack.last() != Some(&version_id) {
                    // Only if history was written by hand: follow what the row says.
                    stack.push(version_id);
                }
            } else if stack.last() != Some(&version_id) {
                stack.push(version_id);
            }
        }
        Ok(stack)
    }

    async fn switch(
        &self,
        runtime: &Arc<Runtime>,
        name: &str,
        version_id: i64,
        action: Action,
        by: &str,
        force: bool,
    ) -> Result<Activated> {
        let (_, version, bytes) = self.component(version_id).await?;
        let plugin = load_blocking(runtime, bytes.clone(), format!("{name}@{version}")).await?;
        let mut checks = checks(&plugin);
        checks.push(samples_check(&plugin, bytes).await);
        if action == Action::Activate
            && let Some(&active) = self.stack(&self.pool, name).await?.last()
            && active != version_id
        {
            checks.push(self.replay_check(runtime, &plugin, active).await?);
        }
        let refused = checks.iter().any(|c| !c.passed);
        if refused && !force {
            return Err(RegistryError::Refused { name: name.into(), version, checks });
        }
        let mut tx = self.pool.begin().await?;
        lock(&mut tx, name).await?;
        let stack = self.stack(&mut *tx, name).await?;
        let previous_id = stack.last().copied();
        let previous = match previous_id {
            Some(id) => Some(
                sqlx::query_scalar::<_, String>("SELECT version FROM plugin_versions WHERE id = $1")
                    .bind(id)
                    .fetch_one(&mut *tx)
                    .await?,
            ),
            None => None,
        };
        // A seed only ever fills an empty history (two hosts may start at once).
        let changed = previous_id != Some(version_id) && !(action == Action::Seed && previous_id.is_some());
        if changed {
            let note = (refused && action != Action::Rollback).then(|| failed(&checks));
            sqlx::query(
                "INSERT INTO plugin_activations (name, version_id, action, activated_by, forced, note)
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(name)
            .bind(version_id)
            .bind(action.as_str())
            .bind(by)
            .bind(refused)
            .bind(note)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        if changed {
            tracing::info!(plugin = name, %version, previous = ?previous, action = action.as_str(), by, forced = refused, "plugin version active");
        }
        Ok(Activated { name: name.into(), version, version_id, previous, changed, forced: refused, checks })
    }
}

impl Registry {
    /// Replays the archive of the window over the sources `candidate` serves with it and with
    /// the active version: the candidate must read every response the active version reads.
    async fn replay_check(&self, runtime: &Arc<Runtime>, candidate: &Plugin, active_id: i64) -> Result<Check> {
        const NAME: &str = "replay";
        let (name, version, bytes) = self.component(active_id).await?;
        let active = load_blocking(runtime, bytes, format!("{name}@{version}")).await?;
        let to = self.replay.clock.today();
        let from = to - chrono::TimeDelta::days(i64::from(self.replay.days.max(1)) - 1);
        let sources: Vec<&str> = ["kra", "kspo"]
            .into_iter()
            .filter(|s| crate::tracks::of_source(s).iter().any(|t| candidate.manifest().tracks.contains(t)))
            .collect();
        let (mut responses, mut failures) = (0u64, Vec::new());
        for source in sources {
            let range = match Range::new(source, from, to) {
                Ok(range) => range,
                Err(e) => return Ok(Check { name: NAME, passed: false, detail: e.to_string() }),
            };
            match crate::replay::diff(&self.pool, &active, candidate, &range, FAILURE_EXAMPLES).await {
                Ok(report) => {
                    responses += report.responses;
                    failures.extend(report.new_failures().iter().cloned());
                }
                Err(ReplayError::NoRows { .. }) => {}
                Err(e) => {
                    let detail = format!("the archive could not be replayed ({e})");
                    return Ok(Check { name: NAME, passed: false, detail });
                }
            }
        }
        let window = format!("{from} to {to} (KST)");
        if failures.is_empty() {
            let detail = if responses == 0 {
                format!("no archived responses from {window}: nothing to compare")
            } else {
                format!("{responses} archived responses from {window}: it reads every one {} reads", active.label())
            };
            return Ok(Check { name: NAME, passed: true, detail });
        }
        let examples: Vec<String> = failures
            .iter()
            .take(FAILURE_EXAMPLES)
            .map(|f| format!("raw_responses #{} ({}): {}: {}", f.raw_response_id, f.url, f.kind, f.message))
            .collect();
        let detail = format!(
            "{} of {responses} archived responses from {window} that {} reads fail with it, e.g. {}",
            failures.len(),
            active.label(),
            examples.join("; ")
        );
        Ok(Check { name: NAME, passed: false, detail })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Seed,
    Activate,
    Rollback,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Seed => "seed",
            Action::Activate => "activate",
            Action::Rollback => "rollback",
        }
    }
}

/// Serialises changes to one plugin's activations until the transaction ends.
async fn lock(tx: &mut sqlx::Transaction<'_, sqlx::Postgres>, name: &str) -> Result<()> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('racelab_plugins ' || $1))")
        .bind(name)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_and_digests() {
        assert_eq!(parse_spec("kra@0.2.0").expect("spec"), ("kra".to_string(), "0.2.0".to_string()));
        assert!(matches!(parse_spec("kra"), Err(RegistryError::BadSpec { .. })));
        assert!(matches!(parse_spec("@1"), Err(RegistryError::BadSpec { .. })));
        assert!(matches!(parse_spec("kra@"), Err(RegistryError::BadSpec { .. })));
        assert_eq!(dev_version("0.1.0", "0123456789abcdef"), "0.1.0+dev.01234567");
        assert_eq!(dev_version("0.1.0+build.7", "0123456789abcdef"), "0.1.0+build.7.dev.01234567");
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    }

    #[test]
    fn a_refusal_names_every_failed_check() {
        let checks = vec![
            Check { name: "api version", passed: true, detail: "ok".into() },
            Check { name: "manifest", passed: false, detail: "no pools".into() },
            Check { name: "replay", passed: false, detail: "3 new failures".into() },
        ];
        let e = RegistryError::Refused { name: "kra".into(), version: "0.2.0".into(), checks };
        let text = e.to_string();
        assert!(text.contains("manifest failed: no pools; replay failed: 3 new failures"), "{text}");
        assert!(!text.contains("api version failed"), "{text}");
        assert!(e.is_refusal());
    }
}
