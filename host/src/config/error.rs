//! Why a `ward.json` (or a file it names) was not accepted. Every message
//! names the file and, for a value, its JSON path, e.g.
//! `plugins[1].limits.fule: unknown field`.

/// A `ward.json` larger than this is refused before it is read.
pub const MAX_CONFIG_BYTES: u64 = 1024 * 1024;

/// Why a config was not accepted.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read {path}: {reason}")]
    Unreadable {
        /// The path as given.
        path: String,
        /// The operating system's reason.
        reason: String,
    },
    /// The file is larger than [`MAX_CONFIG_BYTES`].
    #[error("{path} is larger than {MAX_CONFIG_BYTES} bytes (read {len} before stopping)")]
    TooLarge {
        /// The path as given.
        path: String,
        /// Its size.
        len: u64,
    },
    /// Not JSON, or not a JSON object.
    #[error("{path}: not a JSON object ({detail})")]
    NotJson {
        /// The path as given.
        path: String,
        /// serde_json's description (position, not content).
        detail: String,
    },
    /// There is no `trust` section.
    #[error("{path}: no \"trust\" section")]
    NoTrustSection {
        /// The path as given.
        path: String,
    },
    /// A value in the section is wrong; `at` is its JSON path.
    #[error("{path}: {at}: {problem}")]
    Invalid {
        /// The path as given.
        path: String,
        /// Where, e.g. `trust.trustAnchors[1].publicKey`.
        at: String,
        /// What is wrong.
        problem: String,
    },
}

impl ConfigError {
    /// The stable reason code (`config.reload.refused` records it).
    pub fn code(&self) -> &'static str {
        match self {
            Self::Unreadable { .. } => "config-unreadable",
            Self::TooLarge { .. } => "config-too-large",
            Self::NotJson { .. } => "config-not-json",
            Self::NoTrustSection { .. } | Self::Invalid { .. } => "config-invalid",
        }
    }
}
