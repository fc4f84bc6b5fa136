//! The file store: the advisory locks, start-up recovery of a torn tail,
//! appending the core's batches, `fdatasync`, and size-based rotation.
//!
//! Files: the live log at `PATH`, rotated files at `PATH.000001`,
//! `PATH.000002`, ... (older = lower), and the lock file at `R.lock`, where
//! `R` is `PATH` with every symlink resolved. Two locks keep a second writer
//! off one file whatever name it uses: the lock file (every name that
//! resolves to the same path, through symlinked files or directories, takes
//! the same one, and it never moves, so it also covers the moment a rotation
//! creates the new live file), and an `flock` on the live file itself (a hard
//! link is another name for the same inode, which the lock file cannot see).
//! The live file is created 0600 whatever the umask; a rotation creates the
//! next one with the mode of the one it replaces, so a `chmod 640` for a log
//! reader is kept. An existing log that group or others may write is refused.

use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use cap_std::ambient_authority;

use super::AuditError;
use super::chain::Chain;
use super::chainer::{Batch, Head, LinkProblem, checked_head};
use super::key::AuditKey;
use super::store::{Appended, Store};
use crate::operator_file::{self, FileRefusal, RegularFile, open_to_others};

/// The mode of a log file ward creates (and of its lock file).
pub(crate) const NEW_FILE_MODE: u32 = 0o600;

/// How much of a file's end is read at start-up to find the last records.
/// Records are a few hundred bytes; a longer last line is refused.
pub(crate) const TAIL_WINDOW: u64 = 64 * 1024;

/// The open, locked log.
pub(crate) struct Sink {
    path: PathBuf,
    file: File,
    len: u64,
    max_file_bytes: u64,
    rotated: u64,
    /// The last record written.
    head: Option<Head>,
    unsynced: bool,
    poisoned: bool,
    /// Permission bits of the live file, given to the next one at rotation.
    mode: u32,
    _lock: File,
}

/// What start-up found.
pub(crate) struct Opened {
    pub(crate) sink: Sink,
    /// Bytes cut from a torn last line, if any.
    pub(crate) truncated_bytes: Option<u64>,
}

/// The path of rotated file number `index` (`PATH.000001` is the oldest).
pub fn rotated_path(path: &Path, index: u64) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{index:06}"));
    PathBuf::from(name)
}

/// `R.lock`, where `R` is the (existing) log's path with every symlink
/// resolved, so every name for the log that goes through symlinks shares it.
fn lock_path(path: &Path) -> PathBuf {
    // Unresolvable (the log was removed in between): the path as given.
    let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut name = resolved.into_os_string();
    name.push(".lock");
    PathBuf::from(name)
}

/// Maps a refused open onto the audit room's errors.
fn refused(op: &'static str, path: &Path, refusal: FileRefusal) -> AuditError {
    match refusal {
        FileRefusal::NotRegular(kind) => AuditError::NotRegular { path: path.display().to_string(), kind },
        FileRefusal::Unreadable(kind) => AuditError::Io { op, path: path.display().to_string(), reason: kind.to_string() },
        other => AuditError::Io { op, path: path.display().to_string(), reason: other.to_string() },
    }
}

/// Opens a log or lock file by name without blocking (a FIFO would wait for
/// a reader), creating it with exactly `mode` when absent (set again on the
/// handle after the create, since the umask may have taken bits away).
/// Regular files only.
fn open_or_create(path: &Path, options: &OpenOptions, mode: u32, op: &'static str) -> Result<RegularFile, AuditError> {
    let open = |options: &mut OpenOptions| operator_file::open_ambient_with(path, with_mode(options, mode), ambient_authority());
    match open(options.clone().create_new(true)) {
        Ok(created) => {
            let (file, _) = created.into_parts();
            set_mode(&file, mode).map_err(|e| AuditError::io(op, path, &e))?;
            RegularFile::check(file).map_err(|r| refused(op, path, r))
        }
        // It exists (or is a dangling symlink, which `create` follows).
        Err(FileRefusal::Unreadable(ErrorKind::AlreadyExists)) => open(options.clone().create(true)).map_err(|r| refused(op, path, r)),
        Err(refusal) => Err(refused(op, path, refusal)),
    }
}

/// Opens (or creates) the live log, not yet locked: refused if it is not a
/// regular file or if group or others may write it. Returns the file and
/// its permission bits. Creating an empty file is harmless to a writer that
/// holds the locks; nothing is read or cut before they are taken.
fn open_live(path: &Path, new_mode: u32) -> Result<(File, u32), AuditError> {
    let mut options = OpenOptions::new();
    options.read(true).append(true);
    let (file, meta) = open_or_create(path, &options, new_mode, "open")?.into_parts();
    if let Some(mode) = open_to_others(&meta, 0o022) {
        return Err(AuditError::TooOpen { path: path.display().to_string(), mode });
    }
    Ok((file, mode_bits(&meta)))
}

#[cfg(unix)]
fn with_mode(options: &mut OpenOptions, mode: u32) -> &mut OpenOptions {
    std::os::unix::fs::OpenOptionsExt::mode(options, mode)
}

#[cfg(unix)]
fn set_mode(file: &File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(mode))
}

#[cfg(unix)]
fn mode_bits(meta: &std::fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    meta.permissions().mode() & 0o777
}

#[cfg(not(unix))]
fn with_mode(options: &mut OpenOptions, _mode: u32) -> &mut OpenOptions {
    options
}

#[cfg(not(unix))]
fn set_mode(_file: &File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

#[cfg(not(unix))]
fn mode_bits(_meta: &std::fs::Metadata) -> u32 {
    NEW_FILE_MODE
}

fn try_lock(file: &File, path: &Path, lock: &Path) -> Result<(), AuditError> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(AuditError::Locked { path: path.display().to_string(), lock: lock.display().to_string() }),
        Err(std::fs::TryLockError::Error(e)) => Err(AuditError::io("lock", lock, &e)),
    }
}

/// The highest `N` of existing `PATH.N` files (0 when none).
fn highest_rotated(path: &Path) -> Result<u64, AuditError> {
    let dir = parent_dir(path);
    let Some(base) = path.file_name().and_then(|n| n.to_str()) else {
        return Err(AuditError::Io { op: "open", path: path.display().to_string(), reason: "log file name is not UTF-8".into() });
    };
    let mut highest = 0;
    let entries = std::fs::read_dir(&dir).map_err(|e| AuditError::io("read", &dir, &e))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix(base).and_then(|r| r.strip_prefix('.')) else {
            continue;
        };
        if rest.len() >= 6
            && rest.bytes().all(|b| b.is_ascii_digit())
            && let Ok(n) = rest.parse::<u64>()
        {
            highest = highest.max(n);
        }
    }
    Ok(highest)
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

fn sync_dir(path: &Path) -> Result<(), AuditError> {
    let dir = parent_dir(path);
    File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| AuditError::io("sync", &dir, &e))
}

/// The last complete lines of a file: (line number of the first returned, lines).
struct Tail {
    first_line_no: u64,
    lines: Vec<Vec<u8>>,
    /// Bytes after the last newline (a torn line), if any.
    torn: u64,
}

fn read_tail(file: &mut File, path: &Path, len: u64) -> Result<Tail, AuditError> {
    let start = len.saturating_sub(TAIL_WINDOW);
    let mut buf = Vec::new();
    file.seek(SeekFrom::Start(start)).map_err(|e| AuditError::io("read", path, &e))?;
    file.take(TAIL_WINDOW).read_to_end(&mut buf).map_err(|e| AuditError::io("read", path, &e))?;
    let last_nl = buf.iter().rposition(|&b| b == b'\n');
    let (complete, torn) = match last_nl {
        Some(i) => (buf.get(..=i).unwrap_or(&[]), buf.len() - i - 1),
        None if start == 0 => (&[][..], buf.len()),
        // No newline in the whole window: a line longer than any record.
        None => {
            return Err(AuditError::CorruptTail { path: path.display().to_string(), line: 0 });
        }
    };
    let mut lines: Vec<Vec<u8>> = complete.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
    lines.pop(); // the empty piece after the final newline
    if start > 0 && !lines.is_empty() {
        lines.remove(0); // may be a partial line cut by the window
    }
    // Line numbers are only known when the window covers the whole file.
    let first_line_no = if start == 0 { 1 } else { 0 };
    Ok(Tail { first_line_no, lines, torn: torn as u64 })
}

impl Sink {
    /// Locks, recovers and opens the log for appending.
    pub(crate) fn open(path: &Path, key: &AuditKey, max_file_bytes: u64) -> Result<Opened, AuditError> {
        // The live file first, so a log that is a device or FIFO is refused
        // before a lock file is made beside what it resolves to.
        let (mut file, mode) = open_live(path, NEW_FILE_MODE)?;
        let lock_file = lock_path(path);
        let mut lock_options = OpenOptions::new();
        lock_options.write(true).truncate(false);
        let (lock, _) = open_or_create(&lock_file, &lock_options, NEW_FILE_MODE, "lock")?.into_parts();
        try_lock(&lock, path, &lock_file)?;
        try_lock(&file, path, path)?;

        let chain = Chain::new(key);
        let rotated = highest_rotated(path)?;
        let mut len = file.metadata().map_err(|e| AuditError::io("open", path, &e))?.len();
        let mut tail = read_tail(&mut file, path, len)?;
        let mut truncated_bytes = None;
        if tail.torn > 0 {
            len -= tail.torn;
            file.set_len(len).map_err(|e| AuditError::io("write", path, &e))?;
            file.sync_all().map_err(|e| AuditError::io("sync", path, &e))?;
            truncated_bytes = Some(tail.torn);
            tail.torn = 0;
        }
        let mut head = last_link(&chain, path, &tail)?;
        if head.is_none() && rotated > 0 {
            // The live file is empty: continue from the last rotated file.
            let old = rotated_path(path, rotated);
            let (mut old_file, old_meta) = operator_file::open_ambient(&old, ambient_authority()).map_err(|r| refused("open", &old, r))?.into_parts();
            let old_tail = read_tail(&mut old_file, &old, old_meta.len())?;
            if old_tail.torn > 0 {
                return Err(AuditError::CorruptTail { path: old.display().to_string(), line: 0 });
            }
            head = last_link(&chain, &old, &old_tail)?;
        }
        let sink = Sink {
            path: path.to_path_buf(),
            file,
            len,
            max_file_bytes: max_file_bytes.max(1),
            rotated,
            head,
            unsynced: false,
            poisoned: false,
            mode,
            _lock: lock,
        };
        Ok(Opened { sink, truncated_bytes })
    }

    pub(crate) fn check(&self) -> Result<(), AuditError> {
        if self.poisoned { Err(AuditError::Poisoned) } else { Ok(()) }
    }

    /// Writes a batch with one `write` call, then rotates if the file
    /// reached its size limit. A failure poisons the sink.
    fn write(&mut self, batch: &Batch) -> Result<(), AuditError> {
        self.check()?;
        if batch.is_empty() {
            return Ok(());
        }
        let result = self.file.write_all(batch.bytes());
        if let Err(e) = result {
            self.poisoned = true;
            return Err(AuditError::io("write", &self.path, &e));
        }
        self.len += batch.len_bytes() as u64;
        self.head = batch.last();
        self.unsynced = true;
        if self.len >= self.max_file_bytes {
            self.rotate().inspect_err(|_| self.poisoned = true)?;
        }
        Ok(())
    }

    /// `fdatasync` of the live file if anything was written since the last one.
    fn fsync(&mut self) -> Result<(), AuditError> {
        self.check()?;
        if self.unsynced {
            self.file.sync_data().map_err(|e| {
                self.poisoned = true;
                AuditError::io("sync", &self.path, &e)
            })?;
            self.unsynced = false;
        }
        Ok(())
    }

    fn rotate(&mut self) -> Result<(), AuditError> {
        self.file.sync_all().map_err(|e| AuditError::io("sync", &self.path, &e))?;
        let next = self.rotated + 1;
        let target = rotated_path(&self.path, next);
        if target.exists() {
            return Err(AuditError::Io { op: "rotate", path: target.display().to_string(), reason: "file exists".into() });
        }
        std::fs::rename(&self.path, &target).map_err(|e| AuditError::io("rotate", &self.path, &e))?;
        // Locked before anything is written; the old file's lock goes when
        // its handle is dropped below.
        let (file, _) = open_live(&self.path, self.mode)?;
        try_lock(&file, &self.path, &self.path)?;
        sync_dir(&self.path)?;
        self.file = file;
        self.rotated = next;
        self.len = 0;
        self.unsynced = false;
        Ok(())
    }
}

/// The head the last record in `tail` stands for, checking that the key
/// produced it when the record before it is also in view.
fn last_link(chain: &Chain, path: &Path, tail: &Tail) -> Result<Option<Head>, AuditError> {
    let Some(last) = tail.lines.last() else {
        return Ok(None);
    };
    let line_no = if tail.first_line_no == 0 { 0 } else { tail.first_line_no + tail.lines.len() as u64 - 1 };
    let before = tail.lines.len().checked_sub(2).and_then(|i| tail.lines.get(i));
    match checked_head(chain, last, before.map(Vec::as_slice)) {
        Ok(head) => Ok(Some(head)),
        Err(LinkProblem::Corrupt) => Err(AuditError::CorruptTail { path: path.display().to_string(), line: line_no }),
        Err(LinkProblem::KeyMismatch) => Err(AuditError::KeyMismatch { path: path.display().to_string(), line: line_no }),
    }
}

/// The file store: one writer (the locks keep others off), so the head it
/// compares against is the one it wrote last.
impl Store for Sink {
    fn head(&mut self) -> Result<Option<Head>, AuditError> {
        self.check()?;
        Ok(self.head)
    }

    fn append(&mut self, batch: &Batch) -> Result<Appended, AuditError> {
        if batch.base() != self.head {
            return Ok(Appended::Moved(self.head));
        }
        self.write(batch).map(|()| Appended::Done)
    }

    fn holds(&mut self, head: Head) -> Result<bool, AuditError> {
        // Only the last record is in view; a file append is never in doubt
        // (a failed write poisons the log).
        Ok(self.head == Some(head))
    }

    fn sync(&mut self) -> Result<(), AuditError> {
        self.fsync()
    }

    fn has_unsynced(&self) -> bool {
        self.unsynced
    }
}
