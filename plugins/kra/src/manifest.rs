//! What the plugin says about itself, and the config it reads.

use racelab_plugin_sdk::{
    ConfigKey, DatasetHint, HttpRequest, OddsTiming, OperationKind, PluginManifest, Pool, SourceError, config_value,
};

use crate::{endpoints, tracks};

/// The config key for `numOfRows`.
pub const PAGE_SIZE_KEY: &str = "page-size";

/// Rows asked per page. KRA's default is 10, which turns a day of API301 odds into 30–65
/// requests against a quota of about 1,000 a day (dossier §1.4); 1,000 fits a race's largest
/// pool page (TRI: 990 rows at 11 starters) and a day's entry sheet in one request.
pub const DEFAULT_PAGE_SIZE: u32 = 1_000;

/// The largest page the config may ask for: the KRA guide documents 3,000 and larger pages
/// have been accepted (dossier §1.4), but the answer to one request must stay small enough
/// for the host's output limit.
pub const MAX_PAGE_SIZE: u32 = 10_000;

/// data.go.kr documents no per-second limit; clients that run for months pace themselves at
/// 0.12–0.15 s or five requests in flight (dossier §1.4).
const PER_SECOND: u32 = 5;

/// The pools API301 serves, in the host's order.
pub const POOLS: [Pool; 7] = [Pool::Win, Pool::Plc, Pool::Qnl, Pool::Exa, Pool::Qpl, Pool::Tla, Pool::Tri];

/// The version the manifest reports: the crate's, or `RACELAB_PLUGIN_VERSION` when the build
/// sets it (a release pipeline's build stamp; the tests build variants of this component this
/// way to exercise the plugin registry's swaps).
const VERSION: &str = match option_env!("RACELAB_PLUGIN_VERSION") {
    Some(version) => version,
    None => env!("CARGO_PKG_VERSION"),
};

/// The manifest.
pub fn manifest() -> PluginManifest {
    PluginManifest {
        name: "kra".to_string(),
        version: VERSION.to_string(),
        tracks: tracks::ALL.iter().map(|t| t.code().to_string()).collect(),
        operations: vec![OperationKind::Schedule, OperationKind::Entries, OperationKind::Odds, OperationKind::Results],
        odds_pools: POOLS.to_vec(),
        dividend_pools: POOLS.to_vec(),
        // API301 answers nothing until the race is official (dossier §4); an operator can say
        // otherwise with the host's `odds-timing` config key (the simulator's live mode).
        odds_timing: OddsTiming::AfterRace,
        credential_param: Some("serviceKey".to_string()),
        config: vec![
            ConfigKey {
                name: PAGE_SIZE_KEY.to_string(),
                description: format!(
                    "Rows asked per page (numOfRows) of every KRA service, 1–{MAX_PAGE_SIZE}. Larger pages \
                     mean fewer requests against the daily quotas (API301: about 1,000 a day)."
                ),
                default_value: Some(DEFAULT_PAGE_SIZE.to_string()),
            },
            // The host's `history` key: every KRA service takes a past `rc_date`, and API301
            // keeps the final odds of every pool (odds since 2002–2016 by pool).
            ConfigKey {
                name: "history".to_string(),
                description: "Operations the host may ask for past days (backfill).".to_string(),
                default_value: Some("schedule,entries,odds,results".to_string()),
            },
        ],
        datasets: endpoints::ALL
            .iter()
            .map(|e| DatasetHint {
                dataset: e.dataset.to_string(),
                daily_quota: Some(e.daily_quota),
                per_second: Some(PER_SECOND),
            })
            .collect(),
    }
}

/// The configured page size, or the error that says what is wrong with it.
pub fn page_size(config: &[(String, String)]) -> Result<u32, SourceError> {
    let Some(text) = config_value(config, PAGE_SIZE_KEY) else {
        return Ok(DEFAULT_PAGE_SIZE);
    };
    text.trim().parse::<u32>().ok().filter(|n| (1..=MAX_PAGE_SIZE).contains(n)).ok_or_else(|| {
        SourceError::BadRequest(format!(
            "config `{PAGE_SIZE_KEY}` is {text:?}: set a whole number from 1 to {MAX_PAGE_SIZE}, or leave it \
             unset for {DEFAULT_PAGE_SIZE}"
        ))
    })
}

/// The page size a request was planned with, for the follow-ups `parse` builds.
pub fn page_size_of(request: &HttpRequest) -> u32 {
    request
        .query_value("numOfRows")
        .and_then(|n| n.trim().parse::<u32>().ok())
        .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
        .unwrap_or(DEFAULT_PAGE_SIZE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(value: &str) -> Vec<(String, String)> {
        vec![(PAGE_SIZE_KEY.to_string(), value.to_string())]
    }

    #[test]
    fn page_size_defaults_and_bounds() {
        assert_eq!(page_size(&[]), Ok(1_000));
        assert_eq!(page_size(&config(" 250 ")), Ok(250));
        for bad in ["0", "-5", "ten", "10001", ""] {
            let Err(SourceError::BadRequest(m)) = page_size(&config(bad)) else { panic!("{bad:?} accepted") };
            assert!(m.contains("page-size") && m.contains("1 to 10000"), "{m}");
        }
    }

    #[test]
    fn manifest_lists_what_the_plugin_serves() {
        let m = manifest();
        assert_eq!(m.name, "kra");
        assert_eq!(m.version, env!("CARGO_PKG_VERSION"));
        assert_eq!(m.tracks, ["seoul", "busan", "jeju"]);
        assert_eq!(m.operations.len(), 4);
        assert_eq!(
            m.odds_pools.iter().map(|p| p.code()).collect::<Vec<_>>(),
            ["WIN", "PLC", "QNL", "EXA", "QPL", "TLA", "TRI"]
        );
        assert_eq!(m.dividend_pools, m.odds_pools);
        assert_eq!(m.odds_timing, OddsTiming::AfterRace);
        assert_eq!(m.credential_param.as_deref(), Some("serviceKey"));
        let quota = |d: &str| m.datasets.iter().find(|h| h.dataset == d).and_then(|h| h.daily_quota);
        assert_eq!(quota("API301"), Some(1_000));
        assert_eq!(quota("API214_1"), Some(10_000));
        assert_eq!(m.datasets.len(), 6);
        assert_eq!(m.config.len(), 2);
        assert_eq!(m.config[0].default_value.as_deref(), Some("1000"));
        assert_eq!(m.config[1].default_value.as_deref(), Some("schedule,entries,odds,results"));
    }
}
