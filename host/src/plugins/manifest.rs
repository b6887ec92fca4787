//! What a manifest must say before the host runs a plugin. Every string in it reaches logs,
//! the CLI's output or the database (the label `name version`, dataset names in the quota
//! table), so each is held to a short, plain alphabet here rather than escaped everywhere.

use super::text;
use super::wit::PluginManifest;

/// Longest name, version, dataset, credential parameter or config key.
const MAX_IDENT: usize = 64;
/// Longest config key description.
const MAX_DESCRIPTION: usize = 500;
/// More tracks, datasets or config keys than any real source has.
const MAX_ITEMS: usize = 64;

pub(super) fn validate(manifest: &PluginManifest) -> Result<(), String> {
    ident("name", &manifest.name, |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')?;
    ident("version", &manifest.version, |c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))?;
    if let Some(track) = manifest.tracks.iter().find(|t| crate::tracks::Track::parse(t).is_none()) {
        return Err(format!("unknown track {}; known tracks: {}", shown(track), crate::tracks::codes()));
    }
    if manifest.tracks.is_empty() || manifest.operations.is_empty() {
        return Err("a plugin must serve at least one track and one operation".to_string());
    }
    let counts = [
        ("tracks", manifest.tracks.len()),
        ("datasets", manifest.datasets.len()),
        ("config keys", manifest.config.len()),
    ];
    if let Some((what, n)) = counts.iter().find(|(_, n)| *n > MAX_ITEMS) {
        return Err(format!("{n} {what}: at most {MAX_ITEMS}"));
    }
    for hint in &manifest.datasets {
        ident("dataset", &hint.dataset, dataset_char)?;
    }
    if let Some(param) = &manifest.credential_param {
        ident("credential parameter", param, |c| c.is_ascii_alphanumeric() || c == '_')?;
    }
    for key in &manifest.config {
        ident("config key", &key.name, |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))?;
        let plain = |s: &str| s.chars().count() <= MAX_DESCRIPTION && !s.chars().any(char::is_control);
        if !plain(&key.description) || !key.default_value.as_deref().is_none_or(plain) {
            return Err(format!(
                "config key {}: its description and default must be at most {MAX_DESCRIPTION} characters without control characters",
                key.name
            ));
        }
    }
    Ok(())
}

/// Whether `c` may appear in a dataset name, which names a quota bucket (`API301`, `15107830`).
pub fn dataset_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

fn ident(what: &str, value: &str, allowed: impl Fn(char) -> bool) -> Result<(), String> {
    if value.is_empty() || value.len() > MAX_IDENT || !value.chars().all(allowed) {
        return Err(format!(
            "{what} {} must be 1–{MAX_IDENT} characters of a-z, A-Z, 0-9 and the punctuation a {what} uses",
            shown(value)
        ));
    }
    Ok(())
}

/// A plugin's string in a message: quoted, escaped, short.
fn shown(value: &str) -> String {
    format!("\"{}\"", text::clean(value, 80))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugins::wit::{ConfigKey, DatasetHint, OperationKind};

    fn manifest() -> PluginManifest {
        PluginManifest {
            name: "kra".into(),
            version: "1.2.0-rc.1+build5".into(),
            tracks: vec!["seoul".into()],
            operations: vec![OperationKind::Schedule],
            odds_pools: vec![],
            dividend_pools: vec![],
            odds_timing: crate::plugins::wit::OddsTiming::AfterRace,
            credential_param: Some("serviceKey".into()),
            config: vec![ConfigKey {
                name: "page-size".into(),
                description: "rows per page".into(),
                default_value: Some("100".into()),
            }],
            datasets: vec![DatasetHint { dataset: "API26_2".into(), daily_quota: Some(1_000), per_second: None }],
        }
    }

    #[test]
    fn a_real_manifest_passes() {
        assert_eq!(validate(&manifest()), Ok(()));
    }

    #[test]
    fn strings_that_would_reach_logs_are_held_to_a_plain_alphabet() {
        type Change = fn(&mut PluginManifest);
        let cases: [(Change, &str); 6] = [
            (|m| m.version = "1.0\nERROR racelab: forged".into(), "version \"1.0\\nERROR racelab: forged\""),
            (|m| m.version = "9".repeat(10_000), "version"),
            (|m| m.name = "KRA".into(), "name \"KRA\""),
            (|m| m.datasets[0].dataset = "API301 ; DROP".into(), "dataset"),
            (|m| m.credential_param = Some("service key".into()), "credential parameter"),
            (|m| m.config[0].description = "a\u{1b}[31m".into(), "config key page-size"),
        ];
        for (change, expected) in cases {
            let mut m = manifest();
            change(&mut m);
            let err = validate(&m).expect_err(expected);
            assert!(err.contains(expected), "{err:?} should contain {expected:?}");
            assert!(err.chars().count() < 300, "the message is short: {err}");
            assert!(!err.contains('\n'), "{err:?}");
        }
    }

    #[test]
    fn unknown_tracks_and_empty_lists_are_refused() {
        let mut m = manifest();
        m.tracks = vec!["tokyo".into()];
        assert!(validate(&m).expect_err("tokyo").contains("unknown track \"tokyo\""));
        m.tracks.clear();
        assert!(validate(&m).is_err());
    }
}
