//! Why a `ward apikey` command failed. No variant carries a key: the only
//! command that reads one (`hash`) reports its problems by length and kind,
//! and file problems come from the keys-file parser, which names positions,
//! never content.

use super::super::CliError;
use super::keyfile::FileError;

/// A failed `ward apikey` command (exit code 2).
#[derive(Debug, thiserror::Error)]
pub enum ApiKeyError {
    /// The keys file could not be read.
    #[error("cannot read keys file {path}: {reason}")]
    Read { path: String, reason: String },
    /// The keys file exists but the plugin would refuse it.
    #[error("keys file {path} is refused: {problem}")]
    Invalid { path: String, problem: FileError },
    /// Another edit holds the lock, or an interrupted one left it behind.
    #[error("{path} is being edited: {lock} exists")]
    Locked { path: String, lock: String },
    /// The new file could not be written or put in place.
    #[error("cannot write keys file {path}: {reason}")]
    Write { path: String, reason: String },
    /// `revoke` names a hash the file does not hold.
    #[error("no entry with sha256 {sha256} in {path}")]
    NotFound { path: String, sha256: String },
    /// `--sha256` is not a hash.
    #[error("--sha256 is not 64 lower-case hex digits")]
    BadHash,
    /// `--prefix` breaks the plugin's prefix rule.
    #[error("--prefix {0:?} is not a usable key prefix")]
    BadPrefix(String),
    /// `--label` is not `key=value`, or its key is not a plain label key.
    #[error("--label {label:?}: {rule}")]
    BadLabel { label: String, rule: &'static str },
    /// The new entry breaks a rule of the file format.
    #[error("the new entry is refused: {problem}")]
    BadEntry { problem: String },
    /// `hash` read nothing.
    #[error("no key on stdin")]
    EmptyKey,
    /// `hash` read more than any key the plugin accepts.
    #[error("the key on stdin is longer than {max} bytes")]
    KeyTooLong { max: usize },
    /// `hash` read a byte the plugin never accepts in a key.
    #[error("the key on stdin holds a character outside printable ASCII")]
    KeyCharacter,
    /// stdin could not be read.
    #[error("cannot read stdin: {0}")]
    Stdin(String),
    /// stdout could not be written.
    #[error("cannot write stdout: {0}")]
    Stdout(String),
    /// The entry is in the file but the key could not be shown: it is lost.
    #[error("the entry sha256 {sha256} was added to {path}, but the key could not be printed ({reason})")]
    Print { path: String, sha256: String, reason: String },
}

impl ApiKeyError {
    /// A second line naming the flag or file to fix, where there is one.
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::Invalid { .. } => {
                "fix the file (docs/plugins/api-key.md has the format) or restore a good copy; `ward apikey check --file FILE` re-checks it".into()
            }
            Self::Locked { lock, .. } => format!("wait for the other `ward apikey`, or remove {lock} if none is running"),
            Self::NotFound { .. } => "`ward apikey hash < KEYFILE` prints a key's sha256".into(),
            Self::BadHash => "`ward apikey hash < KEYFILE` prints a key's sha256".into(),
            Self::BadPrefix(_) => "use 1 to 32 of A-Z a-z 0-9 _ . - such as wk_live_".into(),
            Self::BadLabel { .. } => "pass --label key=value, e.g. --label team=billing".into(),
            Self::KeyCharacter | Self::EmptyKey => "pipe the key alone, e.g. `ward apikey hash < billing.key`".into(),
            Self::Print { sha256, path, .. } => format!("revoke it: ward apikey revoke --file {path} --sha256 {sha256}"),
            Self::Read { .. } | Self::Write { .. } | Self::BadEntry { .. } | Self::KeyTooLong { .. } | Self::Stdin(_) | Self::Stdout(_) => return None,
        })
    }
}

impl From<ApiKeyError> for CliError {
    fn from(err: ApiKeyError) -> Self {
        let hint = err.hint();
        let cli = CliError::new(err.to_string());
        match hint {
            Some(hint) => cli.with_hint(hint),
            None => cli,
        }
    }
}
