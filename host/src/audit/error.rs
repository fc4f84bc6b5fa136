//! The audit room's typed errors. Every variant has a stable [`AuditError::code`];
//! none carries a record's content or key material, only paths, counts and
//! operating-system reasons.

use super::key::KeyError;

/// Why the audit log could not do what was asked. Lifecycle code treats any of
/// these as "the action must not happen" (fail closed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuditError {
    /// Another process (or another `AuditLog` in this one) holds the log's lock.
    #[error("audit log {path} is in use by another ward process (lock {lock} is held)")]
    Locked {
        /// The log path.
        path: String,
        /// The lock that is held: the lock file, or the log itself (another
        /// name for the same file, e.g. a hard link).
        lock: String,
    },
    /// The log (or its lock) is not a regular file: a FIFO, device, socket or
    /// directory would block or swallow the records.
    #[error("audit log {path} is {kind}, not a regular file")]
    NotRegular {
        /// The file concerned.
        path: String,
        /// What it is, e.g. `a FIFO`.
        kind: &'static str,
    },
    /// The existing log may be written by group or others, who could cut or
    /// rewrite it; ward creates it 0600.
    #[error("audit log {path} is writable by group or others (mode {mode:o}); run: chmod 600 {path}")]
    TooOpen {
        /// The log path.
        path: String,
        /// Its permission bits.
        mode: u32,
    },
    /// A file operation failed.
    #[error("audit log {path}: {op} failed: {reason}")]
    Io {
        /// What was being done: `open`, `write`, `sync`, `rotate`, `read`, `lock`.
        op: &'static str,
        /// The file concerned.
        path: String,
        /// The operating system's reason (an error kind, never file content).
        reason: String,
    },
    /// The last complete line of the log cannot be read as a record, so the
    /// chain cannot be continued; a person must look at the file.
    #[error("audit log {path}: line {line} is not a valid record; refusing to continue the chain (run ward audit verify)")]
    CorruptTail {
        /// The file.
        path: String,
        /// 1-based line number.
        line: u64,
    },
    /// The key given does not produce the last record's mac: appending would
    /// break the chain.
    #[error("audit log {path}: the audit key does not match the existing chain (line {line})")]
    KeyMismatch {
        /// The file.
        path: String,
        /// 1-based line number of the record that did not verify.
        line: u64,
    },
    /// An earlier write failed; the log refuses further records until restart
    /// (start-up recovery then cuts any partial line).
    #[error("audit log is unusable after an earlier write failure; restart ward")]
    Poisoned,
    /// A field value does not fit its restricted character set or length.
    #[error("audit field {field} has a value outside its allowed characters or length")]
    InvalidField {
        /// The field name.
        field: &'static str,
    },
    /// The audit key could not be used.
    #[error(transparent)]
    Key(#[from] KeyError),
}

impl AuditError {
    /// Stable code for logs, CLI output and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Locked { .. } => "audit-locked",
            Self::NotRegular { .. } => "audit-not-regular",
            Self::TooOpen { .. } => "audit-too-open",
            Self::Io { .. } => "audit-io",
            Self::CorruptTail { .. } => "audit-corrupt-tail",
            Self::KeyMismatch { .. } => "audit-key-mismatch",
            Self::Poisoned => "audit-poisoned",
            Self::InvalidField { .. } => "audit-invalid-field",
            Self::Key(err) => err.code(),
        }
    }

    pub(crate) fn io(op: &'static str, path: &std::path::Path, err: &std::io::Error) -> Self {
        Self::Io { op, path: path.display().to_string(), reason: err.kind().to_string() }
    }
}
