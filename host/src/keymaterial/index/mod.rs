//! Indexed key material: a `jwks` or `api-keys` entry parsed once, when it
//! is read or fetched, into a table a plugin looks up one id at a time
//! (`ward:auth/keys@0.3.0`, `crate::sandbox::keys`), so a call costs the
//! same whether the set holds ten keys or a million.
//!
//! Guarantees of this module:
//! - A set is refused whole, with a coded [`IndexError`] that names a
//!   position or a rule and never content: malformed JSON, a duplicate id,
//!   more entries than the entry's `maxEntries`.
//! - Well-formed `jwks` keys that no accepted algorithm can use are skipped
//!   and counted ([`KeyIndex::skipped`]), as verifiers do with real JWKS
//!   documents that mix signing, encryption and symmetric keys.
//! - [`KeyIndex::get`] does no allocation and touches a bounded number of
//!   entries: one hash and a probe sequence whose length depends on the
//!   table's contents (fixed at build), never on how many ids were looked up.

mod api_keys;
mod jwks;
mod table;

use std::fmt;

pub use jwks::ALG_VIEW_SUFFIX;
use table::Table;
pub use ward_key_format::jwk::Alg as JwsAlg;

/// How a key-material entry reaches the plugin (`ward.json`: `format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum KeyFormat {
    /// The bytes as read, in `request-context.keys` of every call.
    #[default]
    Raw,
    /// An RFC 7517 JWK Set, indexed by `kid` (and by algorithm for tokens
    /// without one).
    Jwks,
    /// The api-key plugin's keys file, indexed by each key's SHA-256.
    ApiKeys,
}

impl KeyFormat {
    /// The `ward.json` spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Jwks => "jwks",
            Self::ApiKeys => "api-keys",
        }
    }

    /// From the `ward.json` spelling.
    pub fn from_name(name: &str) -> Option<Self> {
        [Self::Raw, Self::Jwks, Self::ApiKeys].into_iter().find(|format| format.name() == name)
    }

    /// Whether the host indexes it (and keeps it out of `request-context.keys`).
    pub fn is_indexed(self) -> bool {
        self != Self::Raw
    }
}

/// Default `maxEntries` of an indexed entry.
pub const DEFAULT_MAX_ENTRIES: u64 = 1_000_000;
/// The largest `maxEntries` accepted: about 400 MB of index at api-key sizes.
pub const MAX_MAX_ENTRIES: u64 = 4_000_000;
/// The longest id a set can hold or a lookup can ask for.
pub const MAX_ID_BYTES: usize = 1024;

/// Why a set could not be indexed. Positions and rules only: the content
/// may be a secret or a key pasted by mistake.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IndexError {
    /// Not a JWK Set: not JSON, a repeated member, no `keys` array, or a
    /// key that is not a JSON object.
    #[error("not a JWK Set: {reason}")]
    Jwks {
        /// The rule it broke, with serde_json's line and column where known.
        reason: String,
    },
    /// Not a valid keys file (the api-key plugin's own reader's verdict).
    #[error("not a valid keys file: {reason}")]
    ApiKeys {
        /// A line and column or a JSON pointer, and the rule.
        reason: String,
    },
    /// Two usable entries share an id (`kid`, or a key's hash).
    #[error("two entries share the id of entry {index} (ids must be unique)")]
    DuplicateId {
        /// Position of the later entry in the document.
        index: usize,
    },
    /// More entries than `maxEntries`.
    #[error("more than {max} entries (maxEntries)")]
    TooManyEntries {
        /// The bound.
        max: u64,
    },
}

impl IndexError {
    /// Stable code for logs, audit lines and tests.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Jwks { .. } => "keymaterial-jwks-invalid",
            Self::ApiKeys { .. } => "keymaterial-apikeys-invalid",
            Self::DuplicateId { .. } => "keymaterial-duplicate-id",
            Self::TooManyEntries { .. } => "keymaterial-too-many-entries",
        }
    }
}

/// One indexed set. Immutable; shared by `Arc` between the source that
/// built it and the calls that read it.
pub struct KeyIndex {
    format: KeyFormat,
    table: Table,
    /// `jwks` only: the one usable key per algorithm, for tokens without `kid`.
    by_alg: [Option<Box<[u8]>>; 4],
    skipped: usize,
}

impl fmt::Debug for KeyIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Counts only: ids and values may be secrets (an api-key entry's subject).
        f.debug_struct("KeyIndex").field("format", &self.format).field("entries", &self.table.len()).field("skipped", &self.skipped).finish()
    }
}

impl KeyIndex {
    /// Parses and indexes `bytes` as `format` (which must be indexed), with
    /// at most `max_entries` entries.
    pub fn build(format: KeyFormat, bytes: &[u8], max_entries: u64) -> Result<Self, IndexError> {
        match format {
            KeyFormat::Jwks => jwks::index(bytes, max_entries),
            KeyFormat::ApiKeys => api_keys::index(bytes, max_entries),
            // A raw entry is never indexed; an empty index answers nothing.
            KeyFormat::Raw => Ok(Self { format, table: Table::default(), by_alg: Default::default(), skipped: 0 }),
        }
    }

    /// The value stored under `id`, if any.
    pub fn get(&self, id: &[u8]) -> Option<&[u8]> {
        if id.len() > MAX_ID_BYTES {
            return None;
        }
        self.table.get(id)
    }

    /// `jwks` only: the one usable key for the algorithm named `name`.
    pub fn get_for_alg(&self, name: &[u8]) -> Option<&[u8]> {
        let alg = std::str::from_utf8(name).ok().and_then(JwsAlg::from_name)?;
        let at = JwsAlg::ALL.iter().position(|a| *a == alg)?;
        self.by_alg.get(at)?.as_deref()
    }

    /// The format it was built from.
    pub fn format(&self) -> KeyFormat {
        self.format
    }

    /// How many entries a lookup can find (not counting the `#alg` view).
    pub fn len(&self) -> usize {
        self.table.len()
    }

    /// Whether it holds no entry.
    pub fn is_empty(&self) -> bool {
        self.table.len() == 0
    }

    /// `jwks` keys that were well-formed but unusable, and so not indexed.
    pub fn skipped(&self) -> usize {
        self.skipped
    }

    /// Bytes the index holds (ids, values and the table), for `ward check`
    /// and the benchmarks.
    pub fn heap_bytes(&self) -> usize {
        self.table.heap_bytes() + self.by_alg.iter().flatten().map(|v| v.len()).sum::<usize>()
    }
}

fn too_many(count: usize, max: u64) -> Result<(), IndexError> {
    if count as u64 > max { Err(IndexError::TooManyEntries { max }) } else { Ok(()) }
}
