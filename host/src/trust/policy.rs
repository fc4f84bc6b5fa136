//! The operator's trust state: what `verify` checks an envelope against.
//! Built by hand (tests, library users) or from `ward.json`'s `trust` section
//! (`crate::config::trust`). Fields are public so a policy reads like the
//! config it came from; every check treats an empty set as "nothing
//! trusted / revoked / pinned".

use std::collections::{BTreeMap, BTreeSet};

use ed25519_dalek::VerifyingKey;

use super::keys::{self, KeyError};

/// A trust anchor: the public key a `signerKeyId` must verify under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Anchor {
    /// A usable Ed25519 public key.
    Ed25519(VerifyingKey),
    /// An anchor that is configured but not an Ed25519 key. Kept, as Haechi
    /// does, so an envelope naming it is refused `unknown-signer` rather than
    /// silently treated as missing.
    Unusable(KeyError),
}

impl Anchor {
    /// Reads an SPKI PEM; a bad PEM becomes [`Anchor::Unusable`]. Use
    /// [`keys::public_key_from_pem`] instead to report the error up front.
    pub fn from_pem(pem: &str) -> Self {
        match keys::public_key_from_pem(pem) {
            Ok(key) => Self::Ed25519(key),
            Err(err) => Self::Unusable(err),
        }
    }
}

/// An exact-build pin for one plugin id. Each `Some` field must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pin {
    /// The signed `version`, compared exactly.
    pub version: Option<String>,
    /// sha256 of the entry bytes, hex (case-insensitive).
    pub entry_sha256: Option<String>,
    /// sha256 of canonical(payload), hex (case-insensitive).
    pub manifest_sha256: Option<String>,
}

/// Everything `verify` checks an envelope against.
#[derive(Debug, Clone, Default)]
pub struct TrustPolicy {
    /// Trust anchors by key id. The envelope's `signerKeyId` is looked up here
    /// and nowhere else.
    pub anchors: BTreeMap<String, Anchor>,
    /// Revoked signer key ids (refused even when still an anchor).
    pub revoked_signer_key_ids: BTreeSet<String>,
    /// Revoked entry sha256s, lowercase hex.
    pub revoked_entry_sha256: BTreeSet<String>,
    /// Minimum version per plugin id (numeric dotted comparison).
    pub version_floor: BTreeMap<String, String>,
    /// Exact-build pins per plugin id.
    pub pins: BTreeMap<String, Pin>,
    /// Capabilities an envelope may set to `true`. `authProvider` plugins
    /// need `readsCredentials` here.
    pub allow_capabilities: BTreeSet<String>,
}

impl TrustPolicy {
    /// Adds (or replaces) an anchor with a known-good key.
    pub fn with_anchor(mut self, key_id: impl Into<String>, key: VerifyingKey) -> Self {
        self.anchors.insert(key_id.into(), Anchor::Ed25519(key));
        self
    }

    /// Adds a capability to the allowlist.
    pub fn allow(mut self, capability: impl Into<String>) -> Self {
        self.allow_capabilities.insert(capability.into());
        self
    }

    /// Whether this signer key id is revoked.
    pub fn revokes_signer(&self, key_id: &str) -> bool {
        self.revoked_signer_key_ids.contains(key_id)
    }

    /// Whether this entry digest (hex, any case) is revoked.
    pub fn revokes_entry(&self, entry_sha256: &str) -> bool {
        self.revoked_entry_sha256.iter().any(|r| r.eq_ignore_ascii_case(entry_sha256))
    }
}
