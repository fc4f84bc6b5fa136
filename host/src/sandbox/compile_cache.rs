//! The compile cache on disk (`compileCache` in ward.json): a restart, or a
//! `ward check` before it, does not recompile an unchanged plugin.
//!
//! Two kinds of entry share one directory:
//! - `compiled/`: wasmtime's own compilation cache, keyed by wasmtime on the
//!   component's bytes and the engine's configuration. A hit skips Cranelift
//!   (about 1.3 s for a JavaScript plugin, the engine's whole code).
//! - `<key>.js-snapshot`: a JavaScript plugin's pre-initialized component
//!   (`sandbox/js`), keyed by the verified source and the engine's bytes. A
//!   hit skips instrumenting, evaluating and snapshotting the engine, and
//!   with it compiling the instrumented engine (another ~1.3 s).
//!
//! What goes into the cache is derived from verified bytes only, and a hit
//! is checked as if it were new: the snapshot's bytes carry their own
//! SHA-256 (a damaged file is a miss), then go through the same prechecks,
//! import policy and probe as any component. Compiled code, though, is
//! machine code wasmtime loads as it finds it, so the directory is as
//! sensitive as ward's binary: it must be open to no one but its owner (as
//! key files are), which is checked on the opened handle at start.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use cap_std::fs::Dir;
use sha2::{Digest, Sha256};

use crate::operator_file::{open_in, open_to_others};

/// Why the compile cache directory cannot be used. `code()` is stable; the
/// message names the directory and what to do.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompileCacheError {
    /// It could not be created, opened or inspected.
    #[error("compile cache directory {path} cannot be used: {kind}")]
    Unusable {
        /// The directory as configured.
        path: String,
        /// The operating system's reason.
        kind: std::io::ErrorKind,
    },
    /// Group or others may read or write it.
    #[error("compile cache directory {path} is open to group or others (mode {mode:o}); run: chmod 700 {path}")]
    TooOpen {
        /// The directory as configured.
        path: String,
        /// The permission bits found.
        mode: u32,
    },
    /// wasmtime refused it as a cache directory.
    #[error("compile cache directory {path} was refused by the wasm engine")]
    Engine {
        /// The directory as configured.
        path: String,
    },
}

impl CompileCacheError {
    /// The stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unusable { .. } => "compile-cache-unusable",
            Self::TooOpen { .. } => "compile-cache-too-open",
            Self::Engine { .. } => "compile-cache-refused",
        }
    }
}

/// How often the cache answered, since the runtime started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompileCacheStats {
    /// Components whose compiled code came from the cache.
    pub compiled_hits: usize,
    /// Components compiled (and then stored).
    pub compiled_misses: usize,
    /// JavaScript plugins whose snapshot came from the cache.
    pub snapshot_hits: usize,
    /// JavaScript plugins snapshotted (and then stored).
    pub snapshot_misses: usize,
}

/// The snapshot file's header: the SHA-256 of what follows.
const DIGEST_BYTES: usize = 32;
/// A snapshot is the engine's code plus at most its 16 MiB evaluation
/// memory; anything larger in the directory is not one of ours.
const MAX_SNAPSHOT_BYTES: u64 = 64 << 20;

/// An open, checked cache directory.
pub(crate) struct CompileCache {
    dir: Dir,
    compiled: wasmtime::Cache,
    snapshot_hits: AtomicUsize,
    snapshot_misses: AtomicUsize,
}

impl CompileCache {
    /// Creates the directory (mode 0700) if it is missing, then refuses it
    /// unless it is a directory open to its owner only.
    pub(crate) fn open(path: &Path) -> Result<Self, CompileCacheError> {
        let shown = || path.display().to_string();
        let unusable = |err: std::io::Error| CompileCacheError::Unusable { path: shown(), kind: err.kind() };
        create_compile_cache_dir(path)?;
        // wasmtime wants an absolute path; the check below is on the handle.
        let canonical = std::fs::canonicalize(path).map_err(unusable)?;
        let handle = std::fs::File::open(&canonical).map_err(unusable)?;
        let meta = handle.metadata().map_err(unusable)?;
        if !meta.is_dir() {
            return Err(CompileCacheError::Unusable { path: shown(), kind: std::io::ErrorKind::NotADirectory });
        }
        if let Some(mode) = open_to_others(&meta, 0o077) {
            return Err(CompileCacheError::TooOpen { path: shown(), mode });
        }
        let mut config = wasmtime::CacheConfig::new();
        config.with_directory(canonical.join("compiled"));
        let compiled = wasmtime::Cache::new(config).map_err(|_| CompileCacheError::Engine { path: shown() })?;
        Ok(Self { dir: Dir::from_std_file(handle), compiled, snapshot_hits: AtomicUsize::new(0), snapshot_misses: AtomicUsize::new(0) })
    }

    /// The cache wasmtime compiles through (it shares its counters).
    pub(crate) fn compiled(&self) -> wasmtime::Cache {
        self.compiled.clone()
    }

    pub(crate) fn stats(&self) -> CompileCacheStats {
        CompileCacheStats {
            compiled_hits: self.compiled.cache_hits(),
            compiled_misses: self.compiled.cache_misses(),
            snapshot_hits: self.snapshot_hits.load(Ordering::Relaxed),
            snapshot_misses: self.snapshot_misses.load(Ordering::Relaxed),
        }
    }

    /// The snapshot stored under `key`, if there is an intact one.
    pub(crate) fn snapshot(&self, key: &str) -> Option<Vec<u8>> {
        let found = open_in(&self.dir, &snapshot_file(key)).ok().and_then(|file| file.read(MAX_SNAPSHOT_BYTES).ok()).and_then(intact);
        let counter = if found.is_some() { &self.snapshot_hits } else { &self.snapshot_misses };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    /// Stores a snapshot under `key`: written whole under a temporary name,
    /// then renamed, so a reader (another replica, a crash) never sees part
    /// of one. A failure costs only the next start's time, so it is logged
    /// and the load goes on.
    pub(crate) fn keep_snapshot(&self, key: &str, bytes: &[u8]) {
        let name = snapshot_file(key);
        let temporary = temporary_name(&name);
        let written = self.dir.create(&temporary).and_then(|mut file| {
            file.write_all(&Sha256::digest(bytes))?;
            file.write_all(bytes)
        });
        let stored = written.and_then(|()| self.dir.rename(&temporary, &self.dir, &name));
        if let Err(err) = stored {
            let _ = self.dir.remove_file(&temporary);
            tracing::warn!(kind = %err.kind(), "could not store a JavaScript snapshot in the compile cache; the next start will make it again");
        }
    }
}

/// `key` is hex (the caller's SHA-256), so the name stays inside the directory.
fn snapshot_file(key: &str) -> PathBuf {
    PathBuf::from(format!("{key}.js-snapshot"))
}

/// A name no other writer uses at the same time: this process, a counter.
fn temporary_name(name: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    PathBuf::from(format!("{}.{}.{n}.tmp", name.display(), std::process::id()))
}

/// The body of a snapshot file whose header is the body's SHA-256.
fn intact(mut file: Vec<u8>) -> Option<Vec<u8>> {
    if file.len() < DIGEST_BYTES {
        return None;
    }
    let body = file.split_off(DIGEST_BYTES);
    (Sha256::digest(&body).as_slice() == file.as_slice()).then_some(body)
}

/// Creates the `compileCache` directory (0700) if it is missing, as the
/// first load would. `ward serve` calls it before its lockdown, which lets
/// ward write inside the directory but not create it in the config's.
pub fn create_compile_cache_dir(path: &Path) -> Result<(), CompileCacheError> {
    create_private_dir(path).map_err(|err| CompileCacheError::Unusable { path: path.display().to_string(), kind: err.kind() })
}

#[cfg(unix)]
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(path)
}

#[cfg(not(unix))]
fn create_private_dir(path: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(path)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_snapshot_round_trips_and_a_damaged_one_is_a_miss() {
        let dir = tempfile::tempdir().unwrap();
        let cache = CompileCache::open(&dir.path().join("cache")).unwrap();
        assert_eq!(cache.snapshot("aa"), None);
        cache.keep_snapshot("aa", b"snapshot bytes");
        assert_eq!(cache.snapshot("aa").as_deref(), Some(&b"snapshot bytes"[..]));
        let file = dir.path().join("cache/aa.js-snapshot");
        let mut bytes = std::fs::read(&file).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        std::fs::write(&file, &bytes).unwrap();
        assert_eq!(cache.snapshot("aa"), None);
        std::fs::write(&file, b"short").unwrap();
        assert_eq!(cache.snapshot("aa"), None);
        let stats = cache.stats();
        assert_eq!((stats.snapshot_hits, stats.snapshot_misses), (1, 3));
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_open_to_others_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let open = dir.path().join("open");
        std::fs::create_dir(&open).unwrap();
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o770)).unwrap();
        let err = CompileCache::open(&open).err().unwrap();
        assert_eq!(err.code(), "compile-cache-too-open");
        let not_dir = dir.path().join("file");
        std::fs::write(&not_dir, b"").unwrap();
        assert_eq!(CompileCache::open(&not_dir).err().unwrap().code(), "compile-cache-unusable");
        // Created by ward: private from the start.
        let made = dir.path().join("made/deeper");
        CompileCache::open(&made).unwrap();
        assert_eq!(std::fs::metadata(&made).unwrap().permissions().mode() & 0o777, 0o700);
    }
}
