//! The daemon's configuration: environment variables over an optional TOML file, validated
//! once at start. Unknown keys — in the file or among `RACELAB_*` variables — are errors, so a
//! typo never silently falls back to a default; every error says what to set.
//!
//! | environment | file key | meaning |
//! |---|---|---|
//! | `DATABASE_URL` | `database_url` | PostgreSQL URL (required) |
//! | `RACELAB_CONFIG` | — | path of the TOML file |
//! | `RACELAB_LISTEN`, or `PORT` | `listen` | HTTP address (default `0.0.0.0:8080`; Railway sets `PORT`) |
//! | `RACELAB_<SRC>_BASE_URL` | `sources.<src>.base_url` | e.g. `https://apis.data.go.kr` or the simulator |
//! | `RACELAB_<SRC>_SERVICE_KEY` | `sources.<src>.service_key` | the data.go.kr key (secret) |
//! | `RACELAB_<SRC>_PLUGIN` | `sources.<src>.plugin` | the component (`.wasm`) |
//! | `RACELAB_PLUGIN_DIR` | `plugin_dir` | `.wasm` components that seed the plugin registry |
//! | `RACELAB_ADMIN_TOKEN` | — | the admin API's bearer token (changes through the API are off without it) |
//! | `RACELAB_CACHE_DIR` | `cache_dir` | where compiled components are kept (the host's own) |
//! | `RACELAB_SLACK_WEBHOOK_URL` | `alerts.slack_webhook_url` | incoming webhook (secret) |
//! | `RACELAB_SLACK_BOT_TOKEN`, `RACELAB_SLACK_CHANNEL` | `alerts.slack_bot_token`, `alerts.slack_channel` | bot token (secret) and channel |
//!
//! `<SRC>` is `KRA` or `KSPO`. The cadence, store and HTTP settings live in the file only
//! (see [`Cadence`], [`StoreSettings`]); their defaults are the design's.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub use crate::secret::Secret;

/// A configuration that cannot be used, with what to set.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {reason}")]
    Read { path: PathBuf, reason: String },
    #[error("the config file {path} is invalid: {reason}")]
    File { path: PathBuf, reason: String },
    #[error("unknown environment variable {name}; known RACELAB_* variables: {known}")]
    UnknownEnv { name: String, known: String },
    #[error("{what} is not set: {how}")]
    Missing { what: String, how: String },
    #[error("{key} = {value:?} is invalid: {reason}")]
    Invalid { key: String, value: String, reason: String },
}

/// Everything the daemon needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: Secret,
    pub listen: SocketAddr,
    /// One entry per source with a plugin configured, keyed by source name (`kra`, `kspo`).
    pub sources: BTreeMap<String, SourceConfig>,
    pub alerts: AlertSettings,
    pub cadence: Cadence,
    pub store: StoreSettings,
    pub http: HttpSettings,
    pub jobs: JobSettings,
    /// Where compiled components are kept (the host's own directory; see
    /// `plugins::CompileCache`).
    pub cache_dir: PathBuf,
    /// `RACELAB_PLUGIN_DIR`: every `.wasm` in it seeds the plugin registry with its plugin when
    /// the registry has no version of it (a container image's components).
    pub plugin_dir: Option<PathBuf>,
    /// `RACELAB_ADMIN_TOKEN`: the bearer token the admin API's changing endpoints require;
    /// unset, they are off.
    pub admin_token: Option<Secret>,
    /// `RACELAB_SIM_CLOCK=START,SPEED,EPOCH_MS`: run on a simulated clock shared with a
    /// simulator (tests, rehearsals). Never set against the real APIs.
    pub sim_clock: Option<String>,
}

/// The job queue and its workers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct JobSettings {
    /// Jobs one host runs at once.
    pub workers: usize,
    /// Attempts of a job before it is a failure (transient errors only; others fail at once).
    pub max_attempts: u32,
    /// Backoff before the second attempt, in milliseconds; doubled per attempt, with full jitter.
    pub backoff_base_ms: u64,
    /// Longest backoff, in seconds.
    pub backoff_cap_s: u64,
    /// Seconds without a heartbeat after which a host is taken for dead and its jobs re-queued.
    pub orphan_after_s: u64,
    /// Seconds `serve` waits for jobs in flight after SIGTERM before it exits anyway.
    pub shutdown_grace_s: u64,
    /// Seconds one job may take, requests and plugin calls together, before it is stopped and
    /// recorded as a plugin fault (a watchdog: no plugin can hold a worker slot for longer).
    pub job_timeout_s: u64,
    /// Backfill jobs one host runs at once, at most; the rest of `workers` stays free for live
    /// work. Clamped to `workers - 1` (at least 1).
    pub backfill_workers: usize,
    /// The share of each dataset's daily quota backfill may use (0–1]; live work keeps the rest.
    pub backfill_quota_share: f64,
    /// Backfill (track, day) slices open at once per run.
    pub backfill_slices: u32,
}

impl Default for JobSettings {
    fn default() -> Self {
        JobSettings {
            workers: 8,
            max_attempts: 6,
            backoff_base_ms: 2_000,
            backoff_cap_s: 300,
            orphan_after_s: 30,
            shutdown_grace_s: 10,
            job_timeout_s: 300,
            backfill_workers: 6,
            backfill_quota_share: crate::budget::DEFAULT_BACKFILL_SHARE,
            backfill_slices: 16,
        }
    }
}

/// One source: which component reads it, where it lives, and the key.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    pub plugin: Option<PathBuf>,
    pub base_url: Option<String>,
    pub service_key: Option<Secret>,
    /// Daily quota overrides per dataset; the manifest's hints apply otherwise.
    #[serde(default)]
    pub daily_quota: BTreeMap<String, u32>,
    /// Requests per second across every host process.
    pub per_second: Option<u32>,
    /// The tracks this source serves; by default the ones it runs (`kra`: seoul, busan, jeju;
    /// `kspo`: gwangmyeong, misari). A plugin serves no track outside them, whatever its
    /// manifest says, and two sources may not share one.
    #[serde(default)]
    pub tracks: Vec<String>,
    /// The plugin's config keys (its manifest lists them, with defaults), e.g.
    /// `{ page-size = "500", odds-timing = "before-race" }`.
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

/// Where alerts go.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertSettings {
    pub slack_webhook_url: Option<Secret>,
    pub slack_bot_token: Option<Secret>,
    pub slack_channel: Option<String>,
    /// Seconds during which repeats of one incident are suppressed.
    #[serde(default = "default_repeat_window_s")]
    pub repeat_window_s: u64,
}

fn default_repeat_window_s() -> u64 {
    1800
}

/// When each operation runs, relative to the race's post time (DESIGN §5).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Cadence {
    /// Daily schedule sync, KST `HH:MM`; it also runs at start.
    pub schedule_at: String,
    /// Days after today that the schedule sync covers.
    pub schedule_days_ahead: u32,
    /// Minutes between re-syncs of today's schedule after `schedule_at` (0: none), so a sync
    /// that failed leaves no track-day unplanned for long; every host start syncs too.
    pub schedule_every_min: u32,
    /// Entries are fetched on the race day and again this many minutes before post.
    pub entries_before_post_min: u32,
    /// Pre-race odds polling: `(minutes before post when the phase starts, seconds between polls)`,
    /// in order; the last phase runs until post.
    pub odds_phases: Vec<(u32, u32)>,
    /// Pools polled before the race; after post every pool the plugin lists is polled.
    pub odds_pools: Vec<String>,
    /// After this many pre-race odds polls of a track-day in a row answered "no data", no more
    /// are planned for that track-day (the final odds still are); 0 never stops.
    pub odds_stop_after_no_data: u32,
    /// Seconds after post of the first poll of every pool (the final odds).
    pub final_odds_after_s: u32,
    /// Seconds between final-odds polls until the source has published them.
    pub final_odds_every_s: u32,
    /// Minutes after the results are final that final odds are still asked for; past them a
    /// race without final odds is a gap.
    pub final_odds_grace_min: u32,
    /// Minutes after post before results are first asked for.
    pub results_delay_min: u32,
    /// Minutes between results polls until they are final.
    pub results_every_min: u32,
    /// Minutes after post after which a race without final results is a failure.
    pub results_give_up_min: u32,
}

impl Default for Cadence {
    fn default() -> Self {
        Cadence {
            schedule_at: "06:00".into(),
            schedule_days_ahead: 3,
            schedule_every_min: 60,
            entries_before_post_min: 60,
            odds_phases: vec![(60, 300), (15, 60), (5, 30)],
            odds_pools: vec!["WIN".into(), "PLC".into()],
            odds_stop_after_no_data: 3,
            // KRA's results and odds are official about ten minutes after post (docs/sources.md);
            // an earlier poll costs quota and finds nothing.
            final_odds_after_s: 600,
            final_odds_every_s: 300,
            final_odds_grace_min: 60,
            results_delay_min: 10,
            results_every_min: 5,
            results_give_up_min: 24 * 60,
        }
    }
}

/// What the store keeps.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreSettings {
    /// Skip an odds snapshot equal to the previous one of the same selection.
    pub skip_unchanged_odds: bool,
    /// Days raw responses are kept.
    pub raw_retention_days: u32,
}

impl Default for StoreSettings {
    fn default() -> Self {
        StoreSettings { skip_unchanged_odds: true, raw_retention_days: 30 }
    }
}

/// Outbound HTTP.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HttpSettings {
    /// Seconds before a request to a source is abandoned (dossier §7.12 saw 30 s answers).
    pub timeout_s: u64,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings { timeout_s: 30 }
    }
}

/// The TOML file's shape.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    database_url: Option<Secret>,
    listen: Option<String>,
    cache_dir: Option<PathBuf>,
    plugin_dir: Option<PathBuf>,
    #[serde(default)]
    sources: BTreeMap<String, SourceConfig>,
    #[serde(default)]
    alerts: Option<AlertSettings>,
    #[serde(default)]
    cadence: Cadence,
    #[serde(default)]
    store: StoreSettings,
    #[serde(default)]
    http: HttpSettings,
    #[serde(default)]
    jobs: JobSettings,
}

/// Sources the host knows how to name in the environment.
pub const SOURCES: [&str; 2] = ["kra", "kspo"];
const SOURCE_VARS: [&str; 3] = ["BASE_URL", "SERVICE_KEY", "PLUGIN"];
const OTHER_VARS: [&str; 14] = [
    "RACELAB_CONFIG",
    "RACELAB_CACHE_DIR",
    "RACELAB_PLUGIN_DIR",
    "RACELAB_ADMIN_TOKEN",
    "RACELAB_LISTEN",
    "RACELAB_SLACK_WEBHOOK_URL",
    "RACELAB_SLACK_BOT_TOKEN",
    "RACELAB_SLACK_CHANNEL",
    "RACELAB_LOG",
    "RACELAB_LOG_JSON",
    "RACELAB_SERVICE_KEY",
    "RACELAB_DEMO_SPEED",
    "RACELAB_DEMO_DATABASE",
    "RACELAB_SIM_CLOCK",
];

fn known_vars() -> Vec<String> {
    let mut known: Vec<String> = OTHER_VARS.iter().map(|s| s.to_string()).collect();
    for source in SOURCES {
        for var in SOURCE_VARS {
            known.push(format!("RACELAB_{}_{var}", source.to_ascii_uppercase()));
        }
    }
    known
}

impl Config {
    /// Reads the process environment (and the file it names).
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::load(&std::env::vars().collect::<Vec<_>>())
    }

    /// Reads `env` (name, value pairs) and the file `RACELAB_CONFIG` names, env winning.
    pub fn load(env: &[(String, String)]) -> Result<Config, ConfigError> {
        let get = |name: &str| env.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).filter(|v| !v.is_empty());
        let known = known_vars();
        if let Some((name, _)) = env.iter().find(|(k, _)| k.starts_with("RACELAB_") && !known.contains(k)) {
            return Err(ConfigError::UnknownEnv { name: name.clone(), known: known.join(", ") });
        }
        let file = match get("RACELAB_CONFIG") {
            Some(path) => read_file(Path::new(&path))?,
            None => File::default(),
        };
        if let Some(name) = file.sources.keys().find(|k| !SOURCES.contains(&k.as_str())) {
            return Err(ConfigError::Invalid {
                key: format!("sources.{name}"),
                value: name.clone(),
                reason: format!("known sources: {}", SOURCES.join(", ")),
            });
        }
        let database_url =
            get("DATABASE_URL").map(Secret::new).or(file.database_url).ok_or_else(|| ConfigError::Missing {
                what: "DATABASE_URL".into(),
                how: "export DATABASE_URL=postgres://USER@HOST:5432/DB (or set database_url in the config file)".into(),
            })?;
        let listen_text = get("RACELAB_LISTEN")
            .or_else(|| get("PORT").map(|p| format!("0.0.0.0:{p}")))
            .or(file.listen)
            .unwrap_or_else(|| "0.0.0.0:8080".into());
        let listen = listen_text.parse().map_err(|e| ConfigError::Invalid {
            key: "RACELAB_LISTEN".into(),
            value: listen_text.clone(),
            reason: format!("{e}; expected HOST:PORT"),
        })?;
        let mut sources = BTreeMap::new();
        for source in SOURCES {
            let mut config = file.sources.get(source).cloned().unwrap_or_default();
            let var = |suffix: &str| get(&format!("RACELAB_{}_{suffix}", source.to_ascii_uppercase()));
            config.base_url = var("BASE_URL").or(config.base_url);
            config.service_key = var("SERVICE_KEY").map(Secret::new).or(config.service_key);
            config.plugin = var("PLUGIN").map(PathBuf::from).or(config.plugin);
            if let Some(config) = check_source(source, config)? {
                sources.insert(source.to_string(), config);
            }
        }
        check_tracks(&sources)?;
        if sources.is_empty() {
            return Err(ConfigError::Missing {
                what: "a source".into(),
                how: "set RACELAB_KRA_BASE_URL and RACELAB_KRA_SERVICE_KEY and/or the same for KSPO, with the source's component as RACELAB_KRA_PLUGIN / RACELAB_KSPO_PLUGIN (or in RACELAB_PLUGIN_DIR, or already active in the plugin registry)".into(),
            });
        }
        let mut alerts =
            file.alerts.unwrap_or(AlertSettings { repeat_window_s: default_repeat_window_s(), ..Default::default() });
        alerts.slack_webhook_url = get("RACELAB_SLACK_WEBHOOK_URL").map(Secret::new).or(alerts.slack_webhook_url);
        alerts.slack_bot_token = get("RACELAB_SLACK_BOT_TOKEN").map(Secret::new).or(alerts.slack_bot_token);
        alerts.slack_channel = get("RACELAB_SLACK_CHANNEL").or(alerts.slack_channel);
        check_alerts(&alerts)?;
        check_cadence(&file.cadence)?;
        if file.jobs.workers == 0 || file.jobs.max_attempts == 0 || file.jobs.job_timeout_s == 0 {
            return Err(ConfigError::Invalid {
                key: "jobs.workers / jobs.max_attempts / jobs.job_timeout_s".into(),
                value: format!("{} / {} / {}", file.jobs.workers, file.jobs.max_attempts, file.jobs.job_timeout_s),
                reason: "each must be at least 1".into(),
            });
        }
        let share = file.jobs.backfill_quota_share;
        if !(share > 0.0 && share <= 1.0) || file.jobs.backfill_workers == 0 || file.jobs.backfill_slices == 0 {
            return Err(ConfigError::Invalid {
                key: "jobs.backfill_quota_share / jobs.backfill_workers / jobs.backfill_slices".into(),
                value: format!("{share} / {} / {}", file.jobs.backfill_workers, file.jobs.backfill_slices),
                reason: "the share must be above 0 and at most 1; workers and slices at least 1".into(),
            });
        }
        Ok(Config {
            database_url,
            listen,
            sources,
            alerts,
            cadence: file.cadence,
            store: file.store,
            http: file.http,
            jobs: file.jobs,
            cache_dir: get("RACELAB_CACHE_DIR")
                .map(PathBuf::from)
                .or(file.cache_dir)
                .unwrap_or_else(crate::plugins::CompileCache::default_dir),
            plugin_dir: get("RACELAB_PLUGIN_DIR").map(PathBuf::from).or(file.plugin_dir),
            admin_token: get("RACELAB_ADMIN_TOKEN").filter(|t| !t.trim().is_empty()).map(Secret::new),
            sim_clock: get("RACELAB_SIM_CLOCK"),
        })
    }
}

fn read_file(path: &Path) -> Result<File, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError::Read { path: path.to_path_buf(), reason: e.to_string() })?;
    toml::from_str(&text).map_err(|e| ConfigError::File { path: path.to_path_buf(), reason: e.to_string() })
}

/// A source with nothing set is off; one set half-way is an error naming what is missing.
fn check_source(name: &str, config: SourceConfig) -> Result<Option<SourceConfig>, ConfigError> {
    let upper = name.to_ascii_uppercase();
    if config.plugin.is_none() && config.base_url.is_none() && config.service_key.is_none() {
        return Ok(None);
    }
    let missing =
        |what: &str, how: &str| ConfigError::Missing { what: format!("RACELAB_{upper}_{what}"), how: how.into() };
    // No PLUGIN: the source runs the plugin registry's active version of the plugin named like
    // it, which RACELAB_PLUGIN_DIR or an operator provides (checked at start).
    let Some(base_url) = &config.base_url else {
        return Err(missing(
            "BASE_URL",
            "https://apis.data.go.kr for the real API, or the simulator's http://127.0.0.1:PORT",
        ));
    };
    if let Err(e) = crate::fetch::Endpoint::new(base_url, None) {
        return Err(ConfigError::Invalid {
            key: format!("RACELAB_{upper}_BASE_URL"),
            value: crate::fetch::redact_base_url(base_url),
            reason: format!("{e}; expected http:// or https://, a host, an optional port and path"),
        });
    }
    if config.service_key.as_ref().is_none_or(|k| k.expose().trim().is_empty()) {
        return Err(missing(
            "SERVICE_KEY",
            "the data.go.kr service key for this source (the Decoding or the Encoding one)",
        ));
    }
    let mut config = config;
    if config.tracks.is_empty() {
        config.tracks = crate::tracks::of_source(name);
    }
    Ok(Some(config))
}

/// Every configured track is known, and no track is served by two sources.
fn check_tracks(sources: &BTreeMap<String, SourceConfig>) -> Result<(), ConfigError> {
    let mut owner: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, source) in sources {
        for track in &source.tracks {
            if crate::tracks::Track::parse(track).is_none() {
                return Err(ConfigError::Invalid {
                    key: format!("sources.{name}.tracks"),
                    value: track.clone(),
                    reason: format!("known tracks: {}", crate::tracks::codes()),
                });
            }
            if let Some(other) = owner.insert(track, name) {
                return Err(ConfigError::Invalid {
                    key: format!("sources.{name}.tracks"),
                    value: track.clone(),
                    reason: format!(
                        "{track} is served by {other} too; a track belongs to one source (set sources.<src>.tracks so that each track is listed once)"
                    ),
                });
            }
        }
    }
    Ok(())
}

fn check_alerts(alerts: &AlertSettings) -> Result<(), ConfigError> {
    if alerts.slack_bot_token.is_some() && alerts.slack_channel.is_none() {
        return Err(ConfigError::Missing {
            what: "RACELAB_SLACK_CHANNEL".into(),
            how: "the channel the bot token posts to, e.g. #racelab-alerts".into(),
        });
    }
    if alerts.slack_webhook_url.is_some() && alerts.slack_bot_token.is_some() {
        return Err(ConfigError::Invalid {
            key: "RACELAB_SLACK_WEBHOOK_URL".into(),
            value: "***".into(),
            reason: "set either a webhook URL or a bot token with a channel, not both".into(),
        });
    }
    Ok(())
}

fn check_cadence(cadence: &Cadence) -> Result<(), ConfigError> {
    let invalid = |key: &str, value: String, reason: &str| ConfigError::Invalid {
        key: format!("cadence.{key}"),
        value,
        reason: reason.into(),
    };
    let time_ok = cadence
        .schedule_at
        .split_once(':')
        .and_then(|(h, m)| Some((h.parse::<u32>().ok()?, m.parse::<u32>().ok()?)))
        .is_some_and(|(h, m)| h < 24 && m < 60);
    if !time_ok {
        return Err(invalid("schedule_at", cadence.schedule_at.clone(), "expected HH:MM (KST)"));
    }
    let starts: Vec<u32> = cadence.odds_phases.iter().map(|(start, _)| *start).collect();
    if cadence.odds_phases.iter().any(|(_, every)| *every == 0) || starts.windows(2).any(|w| w[0] <= w[1]) {
        return Err(invalid(
            "odds_phases",
            format!("{:?}", cadence.odds_phases),
            "each phase is [minutes before post, seconds between polls], starts strictly decreasing, intervals > 0",
        ));
    }
    if let Some(pool) = cadence.odds_pools.iter().find(|p| !crate::json::POOL_CODES.contains(&p.as_str())) {
        return Err(invalid("odds_pools", pool.clone(), "pools: WIN, PLC, QNL, EXA, QPL, TLA, TRI, XLA"));
    }
    if cadence.final_odds_every_s == 0 {
        return Err(invalid("final_odds_every_s", "0".into(), "must be at least 1"));
    }
    if cadence.results_every_min == 0 {
        return Err(invalid("results_every_min", "0".into(), "must be at least 1"));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
