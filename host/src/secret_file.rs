//! Reading a secret key file named on ward's command line (`ward
//! authenticate --identity-key`, `ward audit verify --key`): the file must be
//! readable by its owner only, and it is read with a cap, so a huge or
//! endless file is never loaded. Key files named in `ward.json` go through
//! the config room's confined, regular-files-only reader instead; a command
//! line argument may be a pipe (`<(…)`), so it is opened as usual.

use std::path::Path;

use zeroize::Zeroizing;

use crate::capped_read::{CappedReadError, read_capped};
use crate::operator_file::open_to_others;

/// Why a secret file was not read. Each room maps this onto its own error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SecretFileError {
    /// The operating system refused (the `ErrorKind` text).
    Unreadable(String),
    /// Group or others may read it: the secret may already be out.
    TooOpen(u32),
    /// Larger than the caller's maximum.
    TooLarge(usize),
}

/// Reads `path` if only its owner can read it and it holds at most `max`
/// bytes. Mode and size come from the opened handle, not the name.
pub(crate) fn read_secret_file(path: &Path, max: usize) -> Result<Zeroizing<Vec<u8>>, SecretFileError> {
    let unreadable = |err: std::io::Error| SecretFileError::Unreadable(err.kind().to_string());
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let meta = file.metadata().map_err(unreadable)?;
    if let Some(mode) = open_to_others(&meta, 0o077) {
        return Err(SecretFileError::TooOpen(mode));
    }
    let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    if len > max {
        return Err(SecretFileError::TooLarge(len));
    }
    let cap = u64::try_from(max).unwrap_or(u64::MAX);
    read_capped(file, cap).map(Zeroizing::new).map_err(|err| match err {
        CappedReadError::Io(kind) => SecretFileError::Unreadable(kind.to_string()),
        // It grew while read, or it is a pipe: one byte past the cap.
        CappedReadError::TooLarge => SecretFileError::TooLarge(max.saturating_add(1)),
    })
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::PermissionsExt;

    /// A FIFO fed `bytes` by a writer thread (a command-line key may be `<(…)`).
    fn fed_pipe(dir: &Path, bytes: Vec<u8>) -> (std::path::PathBuf, std::thread::JoinHandle<()>) {
        let fifo = dir.join("key");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        std::fs::set_permissions(&fifo, std::fs::Permissions::from_mode(0o600)).unwrap();
        let to = fifo.clone();
        let writer = std::thread::spawn(move || {
            // The reader may stop early and close: a broken pipe is expected.
            let _ = std::fs::OpenOptions::new().write(true).open(&to).and_then(|mut f| f.write_all(&bytes));
        });
        (fifo, writer)
    }

    #[test]
    fn a_pipe_holding_a_key_is_read() {
        let dir = tempfile::tempdir().unwrap();
        let (fifo, writer) = fed_pipe(dir.path(), vec![7; 32]);
        assert_eq!(read_secret_file(&fifo, 4096).unwrap().to_vec(), vec![7; 32]);
        writer.join().unwrap();
    }

    #[test]
    fn a_pipe_is_read_only_up_to_the_cap() {
        // fstat gives a pipe no size, so the cap must hold while reading.
        let dir = tempfile::tempdir().unwrap();
        let (fifo, writer) = fed_pipe(dir.path(), vec![7; 10_000]);
        assert_eq!(read_secret_file(&fifo, 4096).unwrap_err(), SecretFileError::TooLarge(4097));
        writer.join().unwrap();
    }
}
