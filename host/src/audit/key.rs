//! The audit key: HMAC-SHA256 key of the chain, separate from the identity key.
//! Read from a file only its owner can read; `Debug` redacts; wiped on drop.

use std::fmt;
use std::io::Write;
use std::path::Path;

use zeroize::Zeroizing;

use crate::secret_file::{SecretFileError, read_secret_file};

/// Fewer bytes than this cannot carry the 256 bits HMAC-SHA256 can use.
pub const MIN_KEY_BYTES: usize = 32;
/// A larger file is not a key file; refusing it bounds the read.
pub const MAX_KEY_BYTES: usize = 4096;
/// Size of keys made by [`AuditKey::generate`].
pub const GENERATED_KEY_BYTES: usize = 32;

/// The secret keying the audit chain.
#[derive(Clone)]
pub struct AuditKey {
    bytes: Zeroizing<Vec<u8>>,
}

/// Why an audit key was refused or could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The file could not be read or written.
    #[error("audit key file {path}: {reason}")]
    Io {
        /// The path as given.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// Group or others may read the file.
    #[error("audit key file {path} is readable by group or others (mode {mode:o}); run: chmod 600 {path}")]
    TooOpen {
        /// The path as given.
        path: String,
        /// The permission bits found.
        mode: u32,
    },
    /// Shorter than [`MIN_KEY_BYTES`] or longer than [`MAX_KEY_BYTES`].
    #[error("audit key {path} holds {len} bytes; expected {MIN_KEY_BYTES} to {MAX_KEY_BYTES} random bytes (ward audit keygen makes one)")]
    BadLength {
        /// The path as given, or `<memory>`.
        path: String,
        /// The length found.
        len: usize,
    },
    /// The output file exists and overwriting was not asked for.
    #[error("audit key file {path} already exists")]
    Exists {
        /// The path as given.
        path: String,
    },
}

impl KeyError {
    /// Stable code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Io { .. } => "audit-key-io",
            Self::TooOpen { .. } => "audit-key-too-open",
            Self::BadLength { .. } => "audit-key-bad-length",
            Self::Exists { .. } => "audit-key-exists",
        }
    }
}

impl AuditKey {
    /// Wraps key bytes; refuses keys outside [`MIN_KEY_BYTES`]..=[`MAX_KEY_BYTES`].
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, KeyError> {
        let bytes = Zeroizing::new(bytes);
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&bytes.len()) {
            return Err(KeyError::BadLength { path: "<memory>".into(), len: bytes.len() });
        }
        Ok(Self { bytes })
    }

    /// A fresh random key from the operating system.
    pub fn generate() -> Self {
        use rand_core::RngCore;
        let mut bytes = Zeroizing::new(vec![0u8; GENERATED_KEY_BYTES]);
        rand_core::OsRng.fill_bytes(&mut bytes);
        Self { bytes }
    }

    /// Reads a key file (raw bytes), refusing one that group or others can read.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let bytes = read_secret_file(path, MAX_KEY_BYTES).map_err(|err| match err {
            SecretFileError::Unreadable(reason) => KeyError::Io { path: shown.clone(), reason },
            SecretFileError::TooOpen(mode) => KeyError::TooOpen { path: shown.clone(), mode },
            SecretFileError::TooLarge(len) => KeyError::BadLength { path: shown.clone(), len },
        })?;
        let len = bytes.len();
        Self::from_bytes(bytes.to_vec()).map_err(|_| KeyError::BadLength { path: shown, len })
    }

    /// Writes the key to a new file with mode 0600. Refuses an existing file
    /// unless `overwrite`; the check is made by the open call itself.
    pub fn write_file(&self, path: &Path, overwrite: bool) -> Result<(), KeyError> {
        let shown = path.display().to_string();
        let mut options = std::fs::OpenOptions::new();
        options.write(true);
        if overwrite {
            options.create(true).truncate(true);
        } else {
            options.create_new(true);
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|err| match err.kind() {
            std::io::ErrorKind::AlreadyExists => KeyError::Exists { path: shown.clone() },
            kind => KeyError::Io { path: shown.clone(), reason: kind.to_string() },
        })?;
        let io = |err: std::io::Error| KeyError::Io { path: shown.clone(), reason: err.kind().to_string() };
        #[cfg(unix)]
        {
            // An overwritten file keeps its old mode; force 0600.
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(std::fs::Permissions::from_mode(0o600)).map_err(io)?;
        }
        file.write_all(&self.bytes).map_err(io)?;
        file.sync_all().map_err(io)
    }

    pub(crate) fn expose(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(<redacted>)")
    }
}
