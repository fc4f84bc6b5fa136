//! Reading a secret key file, shared by every room that keeps one (identity,
//! audit): the file must be readable by its owner only, and its size is
//! checked from metadata before a byte is read, so a huge file is never loaded.

use std::path::Path;

use zeroize::Zeroizing;

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

/// Reads `path` if only its owner can read it and it holds at most `max` bytes.
pub(crate) fn read_secret_file(path: &Path, max: usize) -> Result<Zeroizing<Vec<u8>>, SecretFileError> {
    let unreadable = |err: std::io::Error| SecretFileError::Unreadable(err.kind().to_string());
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    check_private_mode(&meta)?;
    let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    if len > max {
        return Err(SecretFileError::TooLarge(len));
    }
    std::fs::read(path).map(Zeroizing::new).map_err(unreadable)
}

/// Refuses a file that group or others may read or write: a secret may
/// already be out.
#[cfg(unix)]
pub(crate) fn check_private_mode(meta: &std::fs::Metadata) -> Result<(), SecretFileError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(SecretFileError::TooOpen(mode));
    }
    Ok(())
}

#[cfg(not(unix))]
pub(crate) fn check_private_mode(_meta: &std::fs::Metadata) -> Result<(), SecretFileError> {
    Ok(())
}
