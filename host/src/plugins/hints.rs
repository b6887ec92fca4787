//! Plugin config keys the host reads as well as the plugin.
//!
//! A manifest's config keys are the plugin's settings, each with a default. One of them is also
//! a hint to the host's cadence: `odds-timing` says when the plugin's source shows odds —
//! `after-race` (the real KRA API: odds appear once the race is official) or `before-race`. The
//! WIT manifest has no field for this, and a record cannot gain one without a breaking version
//! (wit/PENDING_CHANGES.md); a config key carries it in 0.1 and lets an operator override it
//! (`sources.<src>.config`), e.g. against the simulator's `live` mode.

use crate::plugins::wit::PluginManifest;

/// The config key of the odds-timing hint.
pub const ODDS_TIMING: &str = "odds-timing";

/// When a source shows odds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OddsTiming {
    /// Odds appear only once the race is official: no pre-race polls are planned.
    AfterRace,
    /// Odds move before the race: the pre-race cadence runs.
    BeforeRace,
}

impl OddsTiming {
    /// Reads the hint from a plugin's effective config; unset is `before-race`, the timing
    /// that asks (a source that answers nothing is then stopped by the no-data rule).
    pub fn of(config: &[(String, String)]) -> Result<OddsTiming, String> {
        match config.iter().find(|(k, _)| k == ODDS_TIMING).map(|(_, v)| v.trim()) {
            None | Some("before-race") => Ok(OddsTiming::BeforeRace),
            Some("after-race") => Ok(OddsTiming::AfterRace),
            Some(other) => Err(format!("`{ODDS_TIMING}` is {other:?}: expected \"after-race\" or \"before-race\"")),
        }
    }
}

/// A plugin's effective config: the manifest's defaults, overridden by `set`. A key the
/// manifest does not list is an error that names it and the keys there are.
pub fn effective_config(manifest: &PluginManifest, set: &[(String, String)]) -> Result<Vec<(String, String)>, String> {
    if let Some((key, _)) = set.iter().find(|(k, _)| !manifest.config.iter().any(|c| &c.name == k)) {
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
            pools: vec![],
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
        assert_eq!(OddsTiming::of(&config), Ok(OddsTiming::AfterRace));
        assert_eq!(OddsTiming::of(&[]), Ok(OddsTiming::BeforeRace));
        let err = OddsTiming::of(&pairs(&[("odds-timing", "sometimes")])).expect_err("bad");
        assert!(err.contains("\"sometimes\"") && err.contains("after-race"), "{err}");
    }
}
