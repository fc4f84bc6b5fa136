//! Files named by `ward.json` are opened through `cap-std`, relative to the
//! config's own directory: `..`, absolute paths and symlinks that lead out of
//! it are refused by the directory handle itself, not by string checks that a
//! crafted path could slip past. An operator who keeps files elsewhere lists
//! that directory in `allowDirs`; an absolute path must then lie under one.
//!
//! Every open, `ward.json`'s own included, goes through
//! [`crate::operator_file`]: non-blocking, regular files only, capped.

use std::path::{Component, Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use zeroize::Zeroizing;

use super::{ConfigError, MAX_CONFIG_BYTES};
use crate::operator_file::{self, FileRefusal};

/// The directories a config may read from.
pub(crate) struct ConfinedDirs {
    base_path: PathBuf,
    base: Dir,
    extra: Vec<(PathBuf, Dir)>,
}

/// Reads `ward.json` itself: the one file the config room opens by plain
/// path, with the same rules as the files it names.
pub(crate) fn read_config_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    let shown = || path.display().to_string();
    let unreadable = |refusal: FileRefusal| ConfigError::Unreadable {
        path: shown(),
        reason: match refusal {
            FileRefusal::Unreadable(kind) => kind.to_string(),
            other => other.to_string(),
        },
    };
    let file = operator_file::open_ambient(path, ambient_authority()).map_err(unreadable)?;
    let len = file.len();
    file.read(MAX_CONFIG_BYTES).map_err(|refusal| match refusal {
        // A file that grew while read is reported as one byte past the cap.
        FileRefusal::TooLarge(_) => ConfigError::TooLarge { path: shown(), len: len.max(MAX_CONFIG_BYTES + 1) },
        other => unreadable(other),
    })
}

impl ConfinedDirs {
    /// Opens the config's directory and each allowed extra directory; the
    /// error names the `allowDirs` index (`usize::MAX`: the config's own).
    pub(crate) fn open(base_path: &Path, allow: &[PathBuf]) -> Result<Self, (usize, String)> {
        let open = |path: &Path| Dir::open_ambient_dir(path, ambient_authority()).map_err(|e| FileRefusal::unreadable(&e).to_string());
        let base = open(base_path).map_err(|e| (usize::MAX, e))?;
        let mut extra = Vec::with_capacity(allow.len());
        for (index, path) in allow.iter().enumerate() {
            if !path.is_absolute() {
                return Err((index, "cannot be read: allowDirs entries must be absolute".to_owned()));
            }
            extra.push((path.clone(), open(path).map_err(|e| (index, e))?));
        }
        Ok(Self { base_path: base_path.to_path_buf(), base, extra })
    }

    /// Where a relative path from the config lands, for files ward writes
    /// (the audit log) and cannot open through a handle ahead of time.
    pub(crate) fn resolve_for_writing(&self, path: &Path) -> Result<PathBuf, FileRefusal> {
        let (root, rest) = self.split(path)?;
        if rest.components().any(|c| !matches!(c, Component::Normal(_))) {
            return Err(FileRefusal::outside());
        }
        Ok(root.join(rest))
    }

    /// Reads a regular file of at most `max` bytes.
    pub(crate) fn read(&self, path: &Path, max: u64) -> Result<Vec<u8>, FileRefusal> {
        self.open_file(path)?.read(max)
    }

    /// Reads a secret: refused if group or others may read it.
    pub(crate) fn read_secret(&self, path: &Path, max: u64) -> Result<Zeroizing<Vec<u8>>, FileRefusal> {
        self.open_file(path)?.require_private()?.read(max).map(Zeroizing::new)
    }

    fn open_file(&self, path: &Path) -> Result<operator_file::RegularFile, FileRefusal> {
        let (_, rest) = self.split(path)?;
        operator_file::open_in(self.dir_for(path), rest)
    }

    fn dir_for(&self, path: &Path) -> &Dir {
        self.extra.iter().find(|(root, _)| path.is_absolute() && path.starts_with(root)).map_or(&self.base, |(_, dir)| dir)
    }

    fn split<'p>(&'p self, path: &'p Path) -> Result<(&'p Path, &'p Path), FileRefusal> {
        if !path.is_absolute() {
            return Ok((&self.base_path, path));
        }
        self.extra.iter().find_map(|(root, _)| path.strip_prefix(root).ok().map(|rest| (root.as_path(), rest))).ok_or_else(FileRefusal::outside)
    }
}
