//! Files named by `ward.json` are opened through `cap-std`, relative to the
//! config's own directory: `..`, absolute paths and symlinks that lead out of
//! it are refused by the directory handle itself, not by string checks that a
//! crafted path could slip past. An operator who keeps files elsewhere lists
//! that directory in `allowDirs`; an absolute path must then lie under one.

use std::path::{Component, Path, PathBuf};

use cap_std::ambient_authority;
use cap_std::fs::Dir;
use zeroize::Zeroizing;

use crate::capped_read::CappedReadError;
use crate::secret_file::{SecretFileError, check_private_mode};

/// The directories a config may read from.
pub(crate) struct ConfinedDirs {
    base_path: PathBuf,
    base: Dir,
    extra: Vec<(PathBuf, Dir)>,
}

/// Why a named file could not be read; the config turns it into an error at
/// the field's JSON path.
#[derive(Debug)]
pub(crate) enum DirError {
    Outside,
    Unreadable(String),
    TooLarge(u64),
    TooOpen(u32),
}

impl std::fmt::Display for DirError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Outside => {
                f.write_str("is outside the config's directory and every allowDirs entry")
            }
            Self::Unreadable(reason) => write!(f, "cannot be read: {reason}"),
            Self::TooLarge(max) => write!(f, "is larger than {max} bytes"),
            Self::TooOpen(mode) => write!(
                f,
                "is open to group or others (mode {mode:o}); chmod 600 it"
            ),
        }
    }
}

impl ConfinedDirs {
    /// Opens the config's directory and each allowed extra directory.
    pub(crate) fn open(base_path: &Path, allow: &[PathBuf]) -> Result<Self, (usize, DirError)> {
        let open = |path: &Path| {
            Dir::open_ambient_dir(path, ambient_authority())
                .map_err(|e| DirError::Unreadable(e.kind().to_string()))
        };
        let base = open(base_path).map_err(|e| (usize::MAX, e))?;
        let mut extra = Vec::with_capacity(allow.len());
        for (index, path) in allow.iter().enumerate() {
            if !path.is_absolute() {
                return Err((
                    index,
                    DirError::Unreadable("allowDirs entries must be absolute".into()),
                ));
            }
            extra.push((path.clone(), open(path).map_err(|e| (index, e))?));
        }
        Ok(Self {
            base_path: base_path.to_path_buf(),
            base,
            extra,
        })
    }

    /// Where a relative path from the config lands, for files ward writes
    /// (the audit log) and cannot open through a handle ahead of time.
    pub(crate) fn resolve_for_writing(&self, path: &Path) -> Result<PathBuf, DirError> {
        let (root, rest) = self.split(path)?;
        if rest
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            return Err(DirError::Outside);
        }
        Ok(root.join(rest))
    }

    /// Reads a file of at most `max` bytes.
    pub(crate) fn read(&self, path: &Path, max: u64) -> Result<Vec<u8>, DirError> {
        let file = self.open_file(path)?;
        read_capped(file, max)
    }

    /// Reads a secret: refused if group or others may read it.
    pub(crate) fn read_secret(
        &self,
        path: &Path,
        max: u64,
    ) -> Result<Zeroizing<Vec<u8>>, DirError> {
        let file = self.open_file(path)?;
        check_private(&file)?;
        read_capped(file, max).map(Zeroizing::new)
    }

    fn open_file(&self, path: &Path) -> Result<std::fs::File, DirError> {
        let (_, rest) = self.split(path)?;
        let dir = self.dir_for(path);
        let file = dir.open(rest).map_err(|e| {
            // cap-std reports an escape as PermissionDenied; say what it means.
            if e.kind() == std::io::ErrorKind::PermissionDenied {
                DirError::Outside
            } else {
                DirError::Unreadable(e.kind().to_string())
            }
        })?;
        Ok(file.into_std())
    }

    fn dir_for(&self, path: &Path) -> &Dir {
        self.extra
            .iter()
            .find(|(root, _)| path.is_absolute() && path.starts_with(root))
            .map_or(&self.base, |(_, dir)| dir)
    }

    fn split<'p>(&'p self, path: &'p Path) -> Result<(&'p Path, &'p Path), DirError> {
        if !path.is_absolute() {
            return Ok((&self.base_path, path));
        }
        self.extra
            .iter()
            .find_map(|(root, _)| {
                path.strip_prefix(root)
                    .ok()
                    .map(|rest| (root.as_path(), rest))
            })
            .ok_or(DirError::Outside)
    }
}

fn read_capped(file: std::fs::File, max: u64) -> Result<Vec<u8>, DirError> {
    crate::capped_read::read_capped(file, max).map_err(|err| match err {
        CappedReadError::Io(kind) => DirError::Unreadable(kind.to_string()),
        CappedReadError::TooLarge => DirError::TooLarge(max),
    })
}

fn check_private(file: &std::fs::File) -> Result<(), DirError> {
    let meta = file.metadata().map_err(|e| DirError::Unreadable(e.kind().to_string()))?;
    check_private_mode(&meta).map_err(|err| match err {
        SecretFileError::TooOpen(mode) => DirError::TooOpen(mode),
        SecretFileError::Unreadable(reason) => DirError::Unreadable(reason),
        SecretFileError::TooLarge(len) => DirError::TooLarge(len as u64),
    })
}
