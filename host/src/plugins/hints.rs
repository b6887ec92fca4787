//! Plugin config keys the host reads as well as the plugin.
//!
//! A manifest's config keys are the plugin's settings, each with a default. One key is the
//! host's: `odds-timing` says when the plugin's source shows odds — `after-race` (the real KRA
//! API: odds appear once the race is official) or `before-race`. A 0.2 manifest says it in its
//! `odds-timing` field; a 0.1 plugin said it as the default of this config key (the adapter
//! reads it into the field). Either way an operator overrides it under the same key
//! (`sources.<src>.config`), e.g. against the simulator's `live` mode, whether or not the
//! plugin lists the key.
//!
//! The second is `history`: which operations the source answers for past days, as a
//! comma-separated list of operation names (`schedule,entries,odds,results`). A plugin says it
//! as the default of the key; the backfill asks only those. A plugin that does not list the key
//! is taken to serve history for every operation it supports, and an operator can narrow or set
//! it under the same key. (A manifest field would say it more plainly; 0.2's records are frozen,
//! so it waits for the next minor version: wit/PENDING_CHANGES.md.)

use crate::plugins::wit::{self, PluginManifest};

/// The config key of the odds-timing hint.
pub const ODDS_TIMING: &str = "odds-timing";

/// The config key of the history hint.
pub const HISTORY: &str = "history";

/// The host's own config keys: kept in the effective config whether or not a plugin lists them.
const HOST_KEYS: [&str; 2] = [ODDS_TIMING, HISTORY];

/// The operations a source answers for past days: the operator's or the plugin's `history`
/// value, else every operation the manifest supports. A name that is not an operation the
/// manifest supports is an error that lists those.
pub fn history(manifest: &PluginManifest, config: &[(String, String)]) -> Result<Vec<wit::OperationKind>, String> {
    let Some(value) = config.iter().find(|(k, _)| k == HISTORY).map(|(_, v)| v.as_str()) else {
        return Ok(manifest.operations.clone());
    };
    let mut ops = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let op = manifest.operations.iter().copied().find(|op| operation_name(*op) == name).ok_or_else(|| {
            let known: Vec<&str> = manifest.operations.iter().map(|op| operation_name(*op)).collect();
            format!("`{HISTORY}` names {name:?}, which is not one of the plugin's operations ({})", known.join(", "))
        })?;
        if !ops.contains(&op) {
            ops.push(op);
        }
    }
    Ok(ops)
}

/// An operation's name in the `history` key.
pub fn operation_name(op: wit::OperationKind) -> &'static str {
    match op {
        wit::OperationKind::Schedule => "schedule",
        wit::OperationKind::Entries => "entries",
        wit::OperationKind::Odds => "odds",
        wit::OperationKind::Results => "results",
    }
}

/// When a source shows odds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OddsTiming {
    /// Odds appear only once the race is official: no pre-race polls are planned.
    AfterRace,
    /// Odds move before the race: the pre-race cadence runs.
    BeforeRace,
}

impl OddsTiming {
    /// The timing an operator set in a plugin's effective config, else the manifest's.
    pub fn of(manifest: &PluginManifest, config: &[(String, String)]) -> Result<OddsTiming, String> {
        match config.iter().find(|(k, _)| k == ODDS_TIMING).map(|(_, v)| v.trim()) {
            None => Ok(match manifest.odds_timing {
                wit::OddsTiming::AfterRace => OddsTiming::AfterRace,
                wit::OddsTiming::BeforeRace => OddsTiming::BeforeRace,
            }),
            Some("before-race") => Ok(OddsTiming::BeforeRace),
            Some("after-race") => Ok(OddsTiming::AfterRace),
            Some(other) => Err(format!("`{ODDS_TIMING}` is {other:?}: expected \"after-race\" or \"before-race\"")),
        }
    }
}

/// A plugin's effective config: the manifest's defaults, overridden by `set`. A key the
/// manifest does not list is an error that names it and the keys there are, except the host's
/// own ([`ODDS_TIMING`], [`HISTORY`]), which are kept.
pub fn effective_config(manifest: &PluginManifest, set: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
    let listed = |key: &str| manifest.config.iter().any(|c| c.name == key);
    if let Some((key, _)) = set.iter().find(|(k, _)| !HOST_KEYS.contains(&k.as_str()) && !listed(k)) {
        let known: Vec<&str> = manifest.config.iter().map(|c| c.name.as_str()).collect();
        return Err(format!(
            "plugin {} has no config key `{key}`; its keys: {}",
            manifest.name,
            if known.is_empty() { "none".to_string() } else { known.join(", ") }
        ));
    }
    let mut config: Vec<(String, String)> = manifest
        .config
        .iter()
        .filter_map(|c| {
            let set = set.iter().find(|(k, _)| *k == c.name).map(|(_, v)| v.clone());
            set.or_else(|| c.default_value.clone()).map(|v| (c.name.clone(), v))
        })
        .collect();
    for key in HOST_KEYS.into_iter().filter(|k| !listed(k)) {
        config.extend(set.iter().filter(|(k, _)| k == key).cloned());
    }
    config.sort();
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::wit::ConfigKey;

    fn manifest() -> PluginManifest {
        PluginManifest {
            name: "kra".into(),
            version: "1.0.0".into(),
            tracks: vec![],
            operations: vec![],
            odds_pools: vec![],
            dividend_pools: vec![],
            odds_timing: wit::OddsTiming::BeforeRace,
            credential_param: None,
            config: vec![
                ConfigKey { name: "page-size".into(), description: String::new(), default_value: Some("1000".into()) },
                ConfigKey {
                    name: ODDS_TIMING.into(),
                    description: String::new(),
                    default_value: Some("after-race".into()),
                },
                ConfigKey { name: "no-default".into(), description: String::new(), default_value: None },
            ],
            datasets: vec![],
        }
    }

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn defaults_fill_what_is_not_set_and_unknown_keys_are_refused() {
        let got = effective_config(&manifest(), &pairs(&[("odds-timing", "before-race")])).expect("valid");
        assert_eq!(got, pairs(&[("odds-timing", "before-race"), ("page-size", "1000")]));
        let err = effective_config(&manifest(), &pairs(&[("pagesize", "5")])).expect_err("unknown");
        assert!(err.contains("`pagesize`") && err.contains("page-size, odds-timing, no-default"), "{err}");
    }

    #[test]
    fn odds_timing_reads_the_hint() {
        let config = effective_config(&manifest(), &[]).expect("valid");
        assert_eq!(OddsTiming::of(&manifest(), &config), Ok(OddsTiming::AfterRace));
        assert_eq!(OddsTiming::of(&manifest(), &[]), Ok(OddsTiming::BeforeRace));
        let after = PluginManifest { odds_timing: wit::OddsTiming::AfterRace, config: vec![], ..manifest() };
        assert_eq!(OddsTiming::of(&after, &[]), Ok(OddsTiming::AfterRace));
        // The operator's key overrides a manifest that does not list it, and reaches the config.
        let set = effective_config(&after, &pairs(&[("odds-timing", "before-race")])).expect("the host's key");
        assert_eq!(set, pairs(&[("odds-timing", "before-race")]));
        assert_eq!(OddsTiming::of(&after, &set), Ok(OddsTiming::BeforeRace));
        let err = OddsTiming::of(&manifest(), &pairs(&[("odds-timing", "sometimes")])).expect_err("bad");
        assert!(err.contains("\"sometimes\"") && err.contains("after-race"), "{err}");
    }

    #[test]
    fn history_reads_the_hint_or_takes_every_operation() {
        use wit::OperationKind::*;
        let m = PluginManifest { operations: vec![Schedule, Entries, Odds, Results], ..manifest() };
        assert_eq!(history(&m, &[]), Ok(vec![Schedule, Entries, Odds, Results]));
        assert_eq!(history(&m, &pairs(&[("history", " results, schedule,results ")])), Ok(vec![Results, Schedule]));
        assert_eq!(history(&m, &pairs(&[("history", "")])), Ok(vec![]));
        let err = history(&m, &pairs(&[("history", "schedule,odds-final")])).expect_err("not an operation");
        assert!(err.contains("\"odds-final\"") && err.contains("schedule, entries, odds, results"), "{err}");
        // The operator's key reaches the config of a plugin that does not list it.
        let set = effective_config(&m, &pairs(&[("history", "results")])).expect("the host's key");
        assert!(set.contains(&("history".to_string(), "results".to_string())), "{set:?}");
    }
}
