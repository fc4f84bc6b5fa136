//! Opening a file the operator named: `ward.json` itself and every file it
//! names (envelopes, components, fixtures, key files, `file` key material,
//! the CA bundle, the audit log). One rule for all of them: **regular files
//! only**.
//!
//! Opening a FIFO for reading waits until some writer opens it, and a device
//! either never ends (`/dev/zero`) or hands over nothing (`/dev/null`): a
//! config naming one would hang `ward check`, a start, or a reload that holds
//! the reload lock (so a later reload that revokes a signer would never
//! apply). So every open here is non-blocking (`O_NONBLOCK`: a FIFO opens at
//! once instead of waiting), and the opened handle is `fstat`ed and refused
//! unless it is a regular file, before a byte is read. The check is on the
//! handle, not the name, so a file swapped after a check cannot slip
//! through. Reads are then capped ([`crate::capped_read`]).
//!
//! As in cap-std, the authority is in the signature: [`open_in`] opens
//! relative to a directory handle (confined to it), [`open_ambient`] and
//! [`open_ambient_with`] take an [`AmbientAuthority`], so the few opens by
//! plain path are greppable.
//!
//! Files given on ward's command line (`ward verify FILE`, `--key FILE`) are
//! not opened here: the operator who typed the command sees a pipe wait, and
//! `<(…)` process substitution is a pipe.

use std::fs::{File, FileType, Metadata};
use std::io::ErrorKind;
use std::path::Path;

use cap_std::AmbientAuthority;
use cap_std::fs::Dir;

use crate::capped_read::{CappedReadError, read_capped};

/// Why an operator-named file was not read. Each room reports it under its
/// own stable code (the config as `config-invalid` at the field's JSON path,
/// or `config-unreadable` for `ward.json`; the audit log as
/// `audit-not-regular`; key material as `keymaterial-read` or
/// `keymaterial-ca-file`), with this text.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FileRefusal {
    /// The path leads out of the config's directory and every `allowDirs`
    /// entry (cap-std refused the escape, or no entry holds the absolute path).
    #[error("is outside the config's directory and every allowDirs entry")]
    Outside,
    /// The operating system refused; only the kind is kept, never content.
    #[error("cannot be read: {0}")]
    Unreadable(ErrorKind),
    /// A FIFO, device, socket or directory: `fstat` of the opened handle.
    #[error("is {0}, not a regular file")]
    NotRegular(&'static str),
    /// Larger than the caller's cap (seen from `fstat`, or one byte past the
    /// cap while reading, since the file may grow in between).
    #[error("is larger than {0} bytes")]
    TooLarge(u64),
    /// A secret that group or others may read or write.
    #[error("is open to group or others (mode {0:o}); chmod 600 it")]
    TooOpen(u32),
}

impl FileRefusal {
    #[cold]
    pub(crate) fn outside() -> Self {
        Self::Outside
    }

    #[cold]
    pub(crate) fn unreadable(err: &std::io::Error) -> Self {
        Self::Unreadable(err.kind())
    }

    #[cold]
    fn not_regular(file_type: FileType) -> Self {
        Self::NotRegular(kind_name(file_type))
    }

    #[cold]
    fn too_large(max: u64) -> Self {
        Self::TooLarge(max)
    }

    #[cold]
    fn too_open(mode: u32) -> Self {
        Self::TooOpen(mode)
    }
}

/// An open regular file. Only [`RegularFile::check`] builds one, so holding
/// one means the `fstat` check passed (a proof token, as rustls's
/// `HandshakeSignatureValid`).
#[derive(Debug)]
pub(crate) struct RegularFile {
    file: File,
    meta: Metadata,
}

impl RegularFile {
    /// `fstat`s `file` and refuses anything but a regular file.
    pub(crate) fn check(file: File) -> Result<Self, FileRefusal> {
        let meta = file.metadata().map_err(|err| FileRefusal::unreadable(&err))?;
        if !meta.is_file() {
            return Err(FileRefusal::not_regular(meta.file_type()));
        }
        Ok(Self { file, meta })
    }

    /// Refuses a secret that group or others may read or write.
    pub(crate) fn require_private(self) -> Result<Self, FileRefusal> {
        match open_to_others(&self.meta, 0o077) {
            Some(mode) => Err(FileRefusal::too_open(mode)),
            None => Ok(self),
        }
    }

    /// Its size when it was checked.
    pub(crate) fn len(&self) -> u64 {
        self.meta.len()
    }

    /// The whole file if it holds at most `max` bytes: checked from `fstat`
    /// first, so a huge file is refused unread, and counted while reading.
    pub(crate) fn read(self, max: u64) -> Result<Vec<u8>, FileRefusal> {
        if self.meta.len() > max {
            return Err(FileRefusal::too_large(max));
        }
        read_capped(self.file, max).map_err(|err| match err {
            CappedReadError::Io(kind) => FileRefusal::Unreadable(kind),
            CappedReadError::TooLarge => FileRefusal::too_large(max),
        })
    }

    /// The handle and its metadata, for a caller that goes on writing (the
    /// audit log).
    pub(crate) fn into_parts(self) -> (File, Metadata) {
        (self.file, self.meta)
    }
}

/// Opens `path` for reading relative to `dir`, through cap-std: `..`,
/// absolute paths and symlinks that lead out of `dir` are refused by the
/// handle. Non-blocking, regular files only.
pub(crate) fn open_in(dir: &Dir, path: &Path) -> Result<RegularFile, FileRefusal> {
    let mut options = cap_std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    cap_std::fs::OpenOptionsExt::custom_flags(&mut options, nonblock_flag());
    let file = dir.open_with(path, &options).map_err(|err| {
        // cap-std reports an escape as PermissionDenied; say what it means.
        if err.kind() == ErrorKind::PermissionDenied { FileRefusal::outside() } else { FileRefusal::unreadable(&err) }
    })?;
    RegularFile::check(file.into_std())
}

/// Opens `path` by name for reading: `ward.json` itself and the CA bundle.
/// Non-blocking, regular files only.
pub(crate) fn open_ambient(path: &Path, ambient: AmbientAuthority) -> Result<RegularFile, FileRefusal> {
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    open_ambient_with(path, &mut options, ambient)
}

/// Opens `path` by name with the caller's `options` (the audit log appends
/// and creates), adding `O_NONBLOCK`; regular files only. `O_NONBLOCK` stays
/// set on the handle, which changes nothing for a regular file.
pub(crate) fn open_ambient_with(path: &Path, options: &mut std::fs::OpenOptions, _: AmbientAuthority) -> Result<RegularFile, FileRefusal> {
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(options, nonblock_flag());
    let file = options.open(path).map_err(|err| match err.kind() {
        // Opening a directory for writing fails before any `fstat`.
        ErrorKind::IsADirectory => FileRefusal::NotRegular("a directory"),
        _ => FileRefusal::unreadable(&err),
    })?;
    RegularFile::check(file)
}

/// The permission bits of `meta` if any of `bits` (group/other bits) is set.
#[cfg(unix)]
pub(crate) fn open_to_others(meta: &Metadata, bits: u32) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    (mode & bits != 0).then_some(mode)
}

#[cfg(not(unix))]
pub(crate) fn open_to_others(_meta: &Metadata, _bits: u32) -> Option<u32> {
    None
}

/// `O_NONBLOCK`, from rustix (already in the tree through cap-std) rather
/// than a `libc` dependency for one constant.
#[cfg(unix)]
fn nonblock_flag() -> i32 {
    rustix::fs::OFlags::NONBLOCK.bits().cast_signed()
}

/// What the file is, for the refusal's text.
fn kind_name(file_type: FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if file_type.is_fifo() {
            return "a FIFO";
        }
        if file_type.is_char_device() {
            return "a character device";
        }
        if file_type.is_block_device() {
            return "a block device";
        }
        if file_type.is_socket() {
            return "a socket";
        }
    }
    if file_type.is_dir() { "a directory" } else { "another kind of file" }
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn ambient(path: &Path) -> Result<RegularFile, FileRefusal> {
        open_ambient(path, cap_std::ambient_authority())
    }

    #[test]
    fn regular_files_are_read_up_to_their_cap() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abcd").unwrap();
        assert_eq!(ambient(&path).unwrap().read(4).unwrap(), b"abcd");
        assert_eq!(ambient(&path).unwrap().read(3).unwrap_err(), FileRefusal::TooLarge(3));
        let handle = Dir::open_ambient_dir(dir.path(), cap_std::ambient_authority()).unwrap();
        assert_eq!(open_in(&handle, Path::new("f")).unwrap().read(4).unwrap(), b"abcd");
    }

    #[test]
    fn a_fifo_opens_at_once_and_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        // Without O_NONBLOCK these opens would wait for a writer forever:
        // run them on a thread with a deadline so a regression fails.
        let root = dir.path().to_path_buf();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let handle = Dir::open_ambient_dir(&root, cap_std::ambient_authority()).unwrap();
            let _ = tx.send((ambient(&fifo).map(drop), open_in(&handle, Path::new("fifo")).map(drop)));
        });
        let (by_name, in_dir) = rx.recv_timeout(std::time::Duration::from_secs(10)).unwrap();
        assert_eq!(by_name, Err(FileRefusal::NotRegular("a FIFO")));
        assert_eq!(in_dir.unwrap_err().to_string(), "is a FIFO, not a regular file");
    }

    #[test]
    fn devices_and_directories_are_refused() {
        assert_eq!(ambient(Path::new("/dev/null")).unwrap_err(), FileRefusal::NotRegular("a character device"));
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(ambient(dir.path()).unwrap_err(), FileRefusal::NotRegular("a directory"));
    }

    #[test]
    fn secrets_must_be_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, [1; 32]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(ambient(&path).unwrap().require_private().unwrap_err(), FileRefusal::TooOpen(0o640));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o400)).unwrap();
        assert_eq!(ambient(&path).unwrap().require_private().unwrap().read(32).unwrap(), [1; 32]);
    }
}
