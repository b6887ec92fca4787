//! The compile cache: a component's native code, written by this host and read back only by
//! it.
//!
//! wasmtime runs precompiled code without checking it — a `.cwasm` is native code, so loading
//! one from anywhere would let whoever wrote the file run code in the host. The host therefore
//! loads precompiled code only from files it wrote itself: `<sha256 of the .wasm>-<engine
//! compatibility hash>.cwasm` in a directory the host created with mode 0700 and owns, written
//! to a temporary file and renamed into place so that a reader never sees half a file. A
//! directory or file that is not the host's own, or that others may write, is refused, and the
//! component is compiled in memory instead.

use std::fs;
use std::hash::{Hash, Hasher};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use wasmtime::Engine;

/// A directory of compiled components, the host's own.
#[derive(Debug, Clone)]
pub struct CompileCache {
    dir: PathBuf,
    /// The user id files here must belong to: the one this process creates files as.
    uid: u32,
}

/// The cache directory cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("cannot use {dir} as the plugin compile cache: {reason}")]
    Unusable { dir: PathBuf, reason: String },
    #[error(
        "the plugin compile cache {dir} is not the host's own ({reason}); native code is loaded only from a directory that nobody else can write: remove it, or set RACELAB_CACHE_DIR elsewhere"
    )]
    NotOwn { dir: PathBuf, reason: String },
}

/// What a cached artifact is filed under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct CacheKey(String);

impl CacheKey {
    /// The key of `wasm` compiled by `engine`.
    pub(super) fn new(engine: &Engine, wasm: &[u8]) -> Self {
        let digest = Sha256::digest(wasm);
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        engine.precompile_compatibility_hash().hash(&mut hasher);
        CacheKey(format!("{}-{:016x}", hex(&digest), hasher.finish()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl CompileCache {
    /// Opens `dir`, creating it (mode 0700) if needed; refuses one that another user owns or
    /// that others may write.
    pub fn open(dir: &Path) -> Result<CompileCache, CacheError> {
        let unusable = |reason: String| CacheError::Unusable { dir: dir.to_path_buf(), reason };
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(|e| unusable(e.to_string()))?;
        // The uid this process creates files with, read off a file it has just created.
        let probe = tempfile::NamedTempFile::new_in(dir).map_err(|e| unusable(format!("cannot write into it: {e}")))?;
        let uid = probe.as_file().metadata().map_err(|e| unusable(e.to_string()))?.uid();
        drop(probe);
        let cache = CompileCache { dir: dir.to_path_buf(), uid };
        cache.check_own(dir).map_err(|reason| CacheError::NotOwn { dir: dir.to_path_buf(), reason })?;
        Ok(cache)
    }

    /// `$RACELAB_CACHE_DIR`, or `racelab/components` under `$XDG_CACHE_HOME`, `$HOME/.cache`
    /// or the temporary directory.
    pub fn default_dir() -> PathBuf {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(dir) = var("RACELAB_CACHE_DIR") {
            return dir;
        }
        let base = var("XDG_CACHE_HOME")
            .or_else(|| var("HOME").map(|home| home.join(".cache")))
            .unwrap_or_else(std::env::temp_dir);
        base.join("racelab").join("components")
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join(format!("{}.cwasm", key.0))
    }

    /// The artifact filed under `key`, if there is one and it is the host's own file.
    pub(super) fn read(&self, key: &CacheKey) -> Option<Vec<u8>> {
        let path = self.path(key);
        if let Err(reason) = self.check_own(&path) {
            if path.exists() {
                tracing::warn!(path = %path.display(), "ignoring a cached component: {reason}");
            }
            return None;
        }
        fs::read(&path).ok()
    }

    /// Files `artifact` under `key`: written to a temporary file in the directory, then renamed.
    pub(super) fn write(&self, key: &CacheKey, artifact: &[u8]) -> std::io::Result<()> {
        let mut file = tempfile::NamedTempFile::new_in(&self.dir)?;
        file.write_all(artifact)?;
        file.as_file().sync_all()?;
        file.persist(self.path(key)).map_err(|e| e.error)?;
        Ok(())
    }

    /// `Ok` when `path` is a real file or directory (not a symlink) owned by this host's user
    /// that no one else may write.
    fn check_own(&self, path: &Path) -> Result<(), String> {
        let meta = fs::symlink_metadata(path).map_err(|e| e.to_string())?;
        if meta.file_type().is_symlink() {
            return Err("it is a symbolic link".into());
        }
        if meta.uid() != self.uid {
            return Err(format!("it belongs to user {}, not to this host's user {}", meta.uid(), self.uid));
        }
        let mode = meta.permissions().mode();
        if mode & 0o022 != 0 {
            return Err(format!("others may write to it (mode {:o})", mode & 0o777));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_directory_is_private_and_keys_follow_the_bytes() {
        let root = tempfile::tempdir().expect("tempdir");
        let dir = root.path().join("a").join("cache");
        let cache = CompileCache::open(&dir).expect("opens");
        assert_eq!(fs::metadata(&dir).expect("dir").permissions().mode() & 0o777, 0o700);
        let engine = Engine::default();
        let key = CacheKey::new(&engine, b"component one");
        assert_eq!(key, CacheKey::new(&engine, b"component one"));
        assert_ne!(key, CacheKey::new(&engine, b"component two"));
        assert!(cache.read(&key).is_none());
        cache.write(&key, b"native code").expect("writes");
        assert_eq!(cache.read(&key).as_deref(), Some(&b"native code"[..]));
        let file = cache.path(&key);
        assert!(file.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.len() == 64 + 1 + 16 + 6), "{file:?}");
        assert_eq!(fs::metadata(&file).expect("file").permissions().mode() & 0o077, 0);
    }

    #[test]
    fn a_directory_others_may_write_is_refused() {
        let root = tempfile::tempdir().expect("tempdir");
        fs::set_permissions(root.path(), fs::Permissions::from_mode(0o777)).expect("chmod");
        let err = CompileCache::open(root.path()).expect_err("world-writable");
        assert!(matches!(err, CacheError::NotOwn { .. }), "{err}");
        assert!(err.to_string().contains("mode 777"), "{err}");
    }

    #[test]
    fn a_planted_or_linked_artifact_is_not_read() {
        let root = tempfile::tempdir().expect("tempdir");
        let cache = CompileCache::open(root.path()).expect("opens");
        let key = CacheKey::new(&Engine::default(), b"component");
        cache.write(&key, b"ours").expect("writes");
        fs::set_permissions(cache.path(&key), fs::Permissions::from_mode(0o666)).expect("chmod");
        assert!(cache.read(&key).is_none(), "a file others may write is not trusted");
        fs::remove_file(cache.path(&key)).expect("rm");
        let elsewhere = root.path().join("elsewhere.cwasm");
        fs::write(&elsewhere, b"theirs").expect("write");
        std::os::unix::fs::symlink(&elsewhere, cache.path(&key)).expect("symlink");
        assert!(cache.read(&key).is_none(), "a symbolic link is not followed");
    }
}
