//! What a manifest must say before the host runs a plugin.

use super::wit::PluginManifest;

pub(super) fn validate(manifest: &PluginManifest) -> Result<(), String> {
    let name_ok = !manifest.name.is_empty()
        && manifest.name.len() <= 64
        && manifest.name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if !name_ok {
        return Err(format!("name {:?} must be 1–64 characters of a-z, 0-9 and -", manifest.name));
    }
    if let Some(track) = manifest.tracks.iter().find(|t| crate::tracks::Track::parse(t).is_none()) {
        return Err(format!("unknown track {track:?}; known tracks: {}", crate::tracks::codes()));
    }
    if manifest.tracks.is_empty() || manifest.operations.is_empty() {
        return Err("a plugin must serve at least one track and one operation".to_string());
    }
    Ok(())
}
