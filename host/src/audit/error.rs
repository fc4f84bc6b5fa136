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
    /// The store (Redis) cannot be reached or did not answer in time. For
    /// now: request events wait in the queue and are retried; a lifecycle
    /// action is refused.
    #[error("audit store {store} is unavailable: {reason}")]
    StoreUnavailable {
        /// Where: the store's address, without credentials.
        store: String,
        /// The client's reason (a kind, never a record or a password).
        reason: String,
    },
    /// The store's head does not verify (it does not name the last record,
    /// that record does not link under the audit key, or the store answered
    /// something that is not a chain): appending would fork the chain, so
    /// the log refuses to append until a person has looked (run
    /// `ward audit verify --redis`).
    #[error("audit store {store}: the head does not verify ({why}); refusing to append (run ward audit verify --redis)")]
    StoreHead {
        /// Where: the store's address, without credentials.
        store: String,
        /// What did not hold: a stable word such as `head-not-last`.
        why: &'static str,
    },
    /// The store's head went back behind a record this writer saw appended
    /// (Redis lost acknowledged writes, e.g. a restart with `appendfsync
    /// everysec`, or the head was moved by hand). Appending would reuse seqs
    /// an auditor may already hold, so the log refuses to append.
    #[error("audit store {store}: the head went back from seq {acknowledged} to {found}; refusing to append")]
    StoreRolledBack {
        /// Where: the store's address, without credentials.
        store: String,
        /// The highest seq seen appended.
        acknowledged: u64,
        /// The head's seq now (`-1` for an empty chain).
        found: i64,
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
            Self::StoreUnavailable { .. } => "audit-store-unavailable",
            Self::StoreHead { .. } => "audit-store-head",
            Self::StoreRolledBack { .. } => "audit-store-rolled-back",
            Self::Key(err) => err.code(),
        }
    }

    /// The store is unreachable for now; the same append may succeed later.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::StoreUnavailable { .. })
    }

    pub(crate) fn io(op: &'static str, path: &std::path::Path, err: &std::io::Error) -> Self {
        Self::Io { op, path: path.display().to_string(), reason: err.kind().to_string() }
    }
}
