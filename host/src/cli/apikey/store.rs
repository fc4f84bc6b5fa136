//! Reading the keys file and replacing it whole. An edit first creates
//! `<file>.lock` exclusively (as git does with `index.lock`), reads the file,
//! writes the new content into the lock file, syncs it and renames it over
//! the file. A reader (the host loading key material) sees the old file or
//! the new one, never half of one, and two edits cannot interleave their
//! read-modify-write and lose a key.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use super::error::ApiKeyError;

/// A keys file is read whole; a larger file is refused unread, so a wrong
/// path (a device, a FIFO) cannot make ward allocate without bound.
const MAX_FILE_BYTES: u64 = 64 << 20;

/// The file's bytes, or `None` when it does not exist.
pub fn read(path: &Path) -> Result<Option<Vec<u8>>, ApiKeyError> {
    let fail = |reason: String| ApiKeyError::Read { path: path.display().to_string(), reason };
    let file = match File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(err) => return Err(fail(err.kind().to_string())),
    };
    let mut bytes = Vec::new();
    file.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(|err| fail(err.kind().to_string()))?;
    if bytes.len() as u64 > MAX_FILE_BYTES {
        return Err(fail(format!("larger than {MAX_FILE_BYTES} bytes")));
    }
    Ok(Some(bytes))
}

/// The held `<file>.lock`; removed on drop unless it became the file.
pub struct Lock {
    target: PathBuf,
    lock: PathBuf,
    file: File,
    committed: bool,
}

impl Lock {
    /// Takes the lock for `target`. The lock file gets the target's mode, or
    /// 0600 for a new keys file: hashes are not keys, but a file of hashes of
    /// short legacy keys can be brute-forced, so it starts private.
    pub fn take(target: &Path) -> Result<Self, ApiKeyError> {
        let write_fail = |reason: String| ApiKeyError::Write { path: target.display().to_string(), reason };
        let mut name = target.file_name().ok_or_else(|| write_fail("not a file name".into()))?.to_os_string();
        name.push(".lock");
        let lock = target.with_file_name(name);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let file = options.open(&lock).map_err(|err| {
            if err.kind() == std::io::ErrorKind::AlreadyExists {
                ApiKeyError::Locked { path: target.display().to_string(), lock: lock.display().to_string() }
            } else {
                write_fail(format!("cannot create {}: {}", lock.display(), err.kind()))
            }
        })?;
        let held = Self { target: target.to_path_buf(), lock, file, committed: false };
        if let Ok(meta) = fs::metadata(target) {
            held.file.set_permissions(meta.permissions()).map_err(|err| held.fail(&err))?;
        }
        Ok(held)
    }

    /// Writes `bytes` as the new file.
    pub fn commit(mut self, bytes: &[u8]) -> Result<(), ApiKeyError> {
        self.file.write_all(bytes).map_err(|err| self.fail(&err))?;
        self.file.sync_all().map_err(|err| self.fail(&err))?;
        fs::rename(&self.lock, &self.target).map_err(|err| self.fail(&err))?;
        self.committed = true;
        // Makes the rename itself durable. Some file systems refuse to sync a
        // directory; the file is in place either way, so that is not an error.
        if let Some(dir) = self.target.parent().filter(|d| !d.as_os_str().is_empty()) {
            let _ = File::open(dir).and_then(|d| d.sync_all());
        }
        Ok(())
    }

    fn fail(&self, err: &std::io::Error) -> ApiKeyError {
        ApiKeyError::Write { path: self.target.display().to_string(), reason: err.kind().to_string() }
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.lock);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_is_exclusive_and_released() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("keys.json");
        let held = Lock::take(&target).unwrap();
        assert!(matches!(Lock::take(&target), Err(ApiKeyError::Locked { .. })));
        drop(held);
        Lock::take(&target).unwrap().commit(b"x").unwrap();
        assert_eq!(read(&target).unwrap().as_deref(), Some(&b"x"[..]));
        assert!(!dir.path().join("keys.json.lock").exists());
    }
}
