//! Why the gate refused an envelope. One variant per distinct cause; several
//! causes share one of Haechi's ten reason codes so audit lines, CLI output
//! and tests branch on the code while messages can still say which check hit.
//!
//! Display text is short and carries at most ids (key id, plugin id,
//! capability name, versions), escaped and truncated: envelopes are hostile
//! input and their text must not reach a log line verbatim.

use std::fmt;

/// The stable reason codes, in check order. Audit logs, the CLI and operators
/// grep for these; they are Haechi 1.x's `PLUGIN_LOAD_REASONS`.
pub const REASON_CODES: [&str; 10] = [
    "manifest-invalid",
    "alg-not-ed25519",
    "unknown-signer",
    "revoked",
    "tampered-entry",
    "invalid-signature",
    "expired-window",
    "below-version-floor",
    "pin-mismatch",
    "capability-not-allowlisted",
];

/// A refusal from [`crate::trust::verify`].
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The envelope is larger than the gate reads at all.
    #[error("envelope is {len} bytes; the limit is {max}")]
    EnvelopeTooLarge {
        /// Bytes received.
        len: usize,
        /// The cap, [`crate::trust::MAX_ENVELOPE_BYTES`].
        max: usize,
    },
    /// The envelope or payload is structurally unusable.
    #[error("manifest invalid: {0}")]
    ManifestInvalid(ManifestProblem),
    /// `alg` is not `"ed25519"`.
    #[error("signature alg is not ed25519")]
    AlgNotEd25519,
    /// `signerKeyId` is not among the operator's trust anchors.
    #[error("signer {} is not a trust anchor", Id(.key_id))]
    UnknownSigner {
        /// The envelope's signer key id.
        key_id: String,
    },
    /// The anchor for `signerKeyId` is not a usable Ed25519 public key.
    #[error("trust anchor {} is not a usable ed25519 public key", Id(.key_id))]
    AnchorUnusable {
        /// The anchor's key id.
        key_id: String,
    },
    /// The signer key id is revoked.
    #[error("signer {} is revoked", Id(.key_id))]
    RevokedSigner {
        /// The revoked key id.
        key_id: String,
    },
    /// The entry bytes do not hash to the signed `entrySha256`.
    #[error("entry bytes do not match the signed entrySha256")]
    TamperedEntry,
    /// The entry's sha256 is revoked.
    #[error("entry sha256 {entry_sha256} is revoked")]
    RevokedEntry {
        /// Lowercase hex of the entry's sha256 (computed, not read from the envelope).
        entry_sha256: String,
    },
    /// The Ed25519 signature does not verify over canonical(payload).
    #[error("ed25519 signature verification failed")]
    InvalidSignature,
    /// `now` is before `notBefore`.
    #[error("current time is before notBefore")]
    NotYetValid,
    /// `now` is after `notAfter`.
    #[error("current time is after notAfter")]
    Expired,
    /// The version is below the operator's floor for this plugin.
    #[error("plugin {} version {} is below the floor {}", Id(.plugin_id), Id(.version), Id(.floor))]
    BelowVersionFloor {
        /// The plugin id.
        plugin_id: String,
        /// The signed version.
        version: String,
        /// The operator's floor.
        floor: String,
    },
    /// A field does not match the operator's pin for this plugin.
    #[error("{field} does not match the pin")]
    PinMismatch {
        /// Which pinned field differed.
        field: PinField,
    },
    /// A capability set to `true` is not in the operator's allowlist.
    #[error("capability {} is not allowlisted", Id(.capability))]
    CapabilityNotAllowlisted {
        /// The capability name.
        capability: String,
    },
    /// `kind` is `authProvider` but `readsCredentials` is not `true`.
    #[error("an authProvider must declare readsCredentials: true")]
    AuthProviderWithoutReadsCredentials,
}

/// Which pinned value differed.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PinField {
    /// `version`.
    Version,
    /// `entrySha256`.
    EntrySha256,
    /// `manifestSha256` (sha256 of canonical(payload)).
    ManifestSha256,
}

impl fmt::Display for PinField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Version => "version",
            Self::EntrySha256 => "entrySha256",
            Self::ManifestSha256 => "manifestSha256",
        })
    }
}

/// What exactly made an envelope `manifest-invalid`.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ManifestProblem {
    /// Not UTF-8 JSON, or JSON that cannot round-trip between JavaScript and
    /// Rust (lone surrogate escapes, numbers overflowing f64).
    #[error("not valid JSON ({0})")]
    NotJson(String),
    /// An object repeats a key; JavaScript and Rust parsers may disagree on
    /// which value wins, so the envelope is ambiguous.
    #[error("duplicate object key")]
    DuplicateKey,
    /// An integer beyond ±2^53, which JavaScript would silently round.
    #[error("integer beyond ±2^53")]
    UnsafeInteger,
    /// The envelope is not an object.
    #[error("envelope must be an object")]
    EnvelopeNotObject,
    /// `payload` is missing or not an object.
    #[error("payload must be an object")]
    PayloadNotObject,
    /// A Haechi manifest (`haechiPlugin`) that is not an object, or a file
    /// that is both a manifest and an envelope.
    #[error("haechiPlugin must be an object, in a file without a top-level payload")]
    HaechiManifestNotObject,
    /// A required string field is missing, empty or not a string.
    #[error("{0} must be a non-empty string")]
    MissingString(&'static str),
    /// `payload.capabilities` is missing or not an object.
    #[error("payload.capabilities must be an object")]
    CapabilitiesNotObject,
    /// `notBefore`/`notAfter` is neither null, a number nor a date string.
    #[error("payload.{0} is not a finite number, a date or null")]
    BadWindowBound(&'static str),
    /// A capability value is not a strict boolean (`1`, `"true"` would
    /// otherwise slip past an `=== true` test elsewhere).
    #[error("capability {} must be a boolean", Id(.0))]
    CapabilityNotBoolean(String),
    /// `coreVersionRange` is not of the `>=A.B.C <D.E.F` shape.
    #[error("coreVersionRange is not of the form \">=A.B.C <D.E.F\"")]
    RangeUnparsable,
    /// ward's own version is outside `coreVersionRange`.
    #[error("ward {core} is outside the signed coreVersionRange")]
    CoreVersionOutOfRange {
        /// ward's version.
        core: &'static str,
    },
}

impl Refusal {
    /// The stable reason code: one of [`REASON_CODES`]. Stable across
    /// releases; audit logs and operators grep for these.
    pub fn code(&self) -> &'static str {
        match self {
            Self::EnvelopeTooLarge { .. } | Self::ManifestInvalid(_) => "manifest-invalid",
            Self::AlgNotEd25519 => "alg-not-ed25519",
            Self::UnknownSigner { .. } | Self::AnchorUnusable { .. } => "unknown-signer",
            Self::RevokedSigner { .. } | Self::RevokedEntry { .. } => "revoked",
            Self::TamperedEntry => "tampered-entry",
            Self::InvalidSignature => "invalid-signature",
            Self::NotYetValid | Self::Expired => "expired-window",
            Self::BelowVersionFloor { .. } => "below-version-floor",
            Self::PinMismatch { .. } => "pin-mismatch",
            Self::CapabilityNotAllowlisted { .. } | Self::AuthProviderWithoutReadsCredentials => "capability-not-allowlisted",
        }
    }
}

impl From<ManifestProblem> for Refusal {
    fn from(problem: ManifestProblem) -> Self {
        Self::ManifestInvalid(problem)
    }
}

/// Prints an id taken from an envelope: escaped (no raw newlines or control
/// characters reach a log line) and cut at 64 characters.
struct Id<'a>(&'a str);

impl fmt::Display for Id<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX_CHARS: usize = 64;
        f.write_str("\"")?;
        for (i, c) in self.0.chars().enumerate() {
            if i == MAX_CHARS {
                return f.write_str("…\"");
            }
            write!(f, "{}", c.escape_debug())?;
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_a_haechi_reason() {
        let samples = [
            Refusal::EnvelopeTooLarge { len: 1, max: 0 },
            Refusal::ManifestInvalid(ManifestProblem::DuplicateKey),
            Refusal::AlgNotEd25519,
            Refusal::UnknownSigner { key_id: "k".into() },
            Refusal::AnchorUnusable { key_id: "k".into() },
            Refusal::RevokedSigner { key_id: "k".into() },
            Refusal::TamperedEntry,
            Refusal::RevokedEntry { entry_sha256: "00".into() },
            Refusal::InvalidSignature,
            Refusal::NotYetValid,
            Refusal::Expired,
            Refusal::BelowVersionFloor { plugin_id: "p".into(), version: "1".into(), floor: "2".into() },
            Refusal::PinMismatch { field: PinField::Version },
            Refusal::CapabilityNotAllowlisted { capability: "c".into() },
            Refusal::AuthProviderWithoutReadsCredentials,
        ];
        for refusal in samples {
            assert!(REASON_CODES.contains(&refusal.code()), "{}", refusal.code());
            assert!(!refusal.to_string().is_empty());
        }
    }

    #[test]
    fn ids_in_messages_are_escaped_and_bounded() {
        let refusal = Refusal::UnknownSigner { key_id: format!("a\nb{}", "x".repeat(500)) };
        let text = refusal.to_string();
        assert!(!text.contains('\n'));
        assert!(text.len() < 120, "{text}");
    }
}
