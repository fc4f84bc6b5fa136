//! The identity HMAC key: read from a private file, never printed.

use std::fmt;
use std::path::Path;

use zeroize::Zeroizing;

use crate::secret_file::{SecretFileError, read_secret_file};

/// Fewer bytes than this cannot carry the 256 bits of entropy HMAC-SHA256 can use.
pub const MIN_KEY_BYTES: usize = 32;
/// A key file larger than this is not a key file; refusing it bounds the read.
pub const MAX_KEY_BYTES: usize = 4096;

/// The secret that keys identity HMACs. `Debug` prints no key material and the
/// bytes are wiped on drop.
#[derive(Clone)]
pub struct IdentityKey {
    bytes: Zeroizing<Vec<u8>>,
}

/// Why an identity (or other secret) key file was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read key file {path}: {reason}")]
    Unreadable {
        /// The path as given.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// Group or others may read the file, so the secret may already be out.
    #[error("key file {path} is readable by group or others (mode {mode:o}); run: chmod 600 {path}")]
    TooOpen {
        /// The path as given.
        path: String,
        /// The permission bits found.
        mode: u32,
    },
    /// The key is shorter than 32 bytes (`MIN_KEY_BYTES`) or longer than 4096
    /// (`MAX_KEY_BYTES`).
    #[error("key file {path} holds {len} bytes; expected {MIN_KEY_BYTES} to {MAX_KEY_BYTES} random bytes (ward keygen --identity-key makes one)")]
    BadLength {
        /// The path as given.
        path: String,
        /// The length found.
        len: usize,
    },
}

impl IdentityKey {
    /// Wraps key bytes; refuses keys outside 32..=4096 bytes (`MIN_KEY_BYTES`,
    /// `MAX_KEY_BYTES`).
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, KeyFileError> {
        let bytes = Zeroizing::new(bytes);
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&bytes.len()) {
            return Err(KeyFileError::BadLength { path: "<memory>".into(), len: bytes.len() });
        }
        Ok(Self { bytes })
    }

    /// Reads a key file, refusing one that group or others can read.
    pub fn from_file(path: &Path) -> Result<Self, KeyFileError> {
        let shown = path.display().to_string();
        let bytes = read_secret_file(path, MAX_KEY_BYTES).map_err(|err| match err {
            SecretFileError::Unreadable(reason) => KeyFileError::Unreadable { path: shown.clone(), reason },
            SecretFileError::TooOpen(mode) => KeyFileError::TooOpen { path: shown.clone(), mode },
            SecretFileError::TooLarge(len) => KeyFileError::BadLength { path: shown.clone(), len },
        })?;
        let len = bytes.len();
        Self::from_bytes(bytes.to_vec()).map_err(|_| KeyFileError::BadLength { path: path.display().to_string(), len })
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("IdentityKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_key_bytes() {
        let key = IdentityKey::from_bytes(vec![0x41; 32]).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("41") && !shown.contains("AAAA"), "{shown}");
    }

    #[test]
    fn short_and_huge_keys_are_refused() {
        assert!(matches!(IdentityKey::from_bytes(vec![1; 31]), Err(KeyFileError::BadLength { len: 31, .. })));
        assert!(matches!(IdentityKey::from_bytes(vec![1; MAX_KEY_BYTES + 1]), Err(KeyFileError::BadLength { .. })));
    }

    #[cfg(unix)]
    #[test]
    fn group_readable_file_is_refused_and_private_one_accepted() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("id.key");
        std::fs::write(&path, [7u8; 32]).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(IdentityKey::from_file(&path), Err(KeyFileError::TooOpen { mode: 0o640, .. })));
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(IdentityKey::from_file(&path).is_ok());
    }
}
