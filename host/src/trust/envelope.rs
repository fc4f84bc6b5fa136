//! The envelope as received, and the typed payload handed out after
//! verification.
//!
//! The payload stays a `serde_json::Value` exactly as parsed (unknown fields
//! included): the signature covers canonical(payload as received), and a
//! re-serialized struct would drop fields and break signatures.

use serde_json::{Map, Value};

use super::canonical::parse_strict;
use super::refusal::{ManifestProblem, Refusal};

/// Envelopes larger than this are refused before parsing. A real envelope is
/// well under 2 KiB; the cap bounds what a hostile file can make the gate do.
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024;

/// The payload fields that must be non-empty strings, in Haechi's check order.
const STRING_FIELDS: [(&str, &str); 5] = [
    ("pluginId", "payload.pluginId"),
    ("kind", "payload.kind"),
    ("version", "payload.version"),
    ("coreVersionRange", "payload.coreVersionRange"),
    ("entrySha256", "payload.entrySha256"),
];

/// A structurally valid envelope; nothing in it is trusted yet.
pub(crate) struct Envelope {
    pub payload: Value,
    pub signer_key_id: String,
    pub alg: Option<Value>,
    pub signature: String,
}

/// Step 1 of the gate: size, JSON, and the shape Haechi requires.
pub(crate) fn parse(bytes: &[u8]) -> Result<Envelope, Refusal> {
    if bytes.len() > MAX_ENVELOPE_BYTES {
        return Err(Refusal::EnvelopeTooLarge { len: bytes.len(), max: MAX_ENVELOPE_BYTES });
    }
    let Value::Object(mut root) = parse_strict(bytes)? else {
        return Err(ManifestProblem::EnvelopeNotObject.into());
    };
    if let Some(manifest) = root.remove(HAECHI_MANIFEST) {
        root = envelope_from_manifest(manifest, &root)?;
    }
    let payload = match root.remove("payload") {
        Some(Value::Object(map)) => map,
        _ => return Err(ManifestProblem::PayloadNotObject.into()),
    };
    let signer_key_id = non_empty(root.remove("signerKeyId"), "signerKeyId")?;
    let signature = non_empty(root.remove("signature"), "signature")?;
    for (field, label) in STRING_FIELDS {
        if !matches!(payload.get(field), Some(Value::String(s)) if !s.is_empty()) {
            return Err(ManifestProblem::MissingString(label).into());
        }
    }
    if !matches!(payload.get("capabilities"), Some(Value::Object(_))) {
        return Err(ManifestProblem::CapabilitiesNotObject.into());
    }
    Ok(Envelope { payload: Value::Object(payload), signer_key_id, alg: root.remove("alg"), signature })
}

/// The root key of Haechi's plugin manifest file (`haechi.plugin.json`).
const HAECHI_MANIFEST: &str = "haechiPlugin";

/// The envelope inside a Haechi manifest, read as Haechi 1.7's
/// `envelopeFromManifest` reads it: `signed` when it is an object, else one
/// rebuilt from the flat `signedPayload`, `signerKeyId`, `alg` (default
/// `ed25519`) and `signature`. The manifest's other fields (`id`, `version`,
/// `entrypoint`, …) are unsigned mirrors and are not read: the signed
/// payload says who the plugin is, and ward.json names the entry.
fn envelope_from_manifest(manifest: Value, rest: &Map<String, Value>) -> Result<Map<String, Value>, ManifestProblem> {
    let Value::Object(mut manifest) = manifest else {
        return Err(ManifestProblem::HaechiManifestNotObject);
    };
    // One file, one reading: a top-level envelope beside the manifest
    // would leave which one was meant to the parser.
    if rest.contains_key("payload") {
        return Err(ManifestProblem::HaechiManifestNotObject);
    }
    if let Some(Value::Object(signed)) = manifest.remove("signed") {
        return Ok(signed);
    }
    let mut envelope = Map::new();
    for (from, to) in [("signedPayload", "payload"), ("signerKeyId", "signerKeyId"), ("alg", "alg"), ("signature", "signature")] {
        if let Some(value) = manifest.remove(from) {
            envelope.insert(to.to_owned(), value);
        }
    }
    // Haechi's `plugin.alg ?? "ed25519"`: null counts as absent.
    if matches!(envelope.get("alg"), None | Some(Value::Null)) {
        envelope.insert("alg".to_owned(), Value::String("ed25519".to_owned()));
    }
    Ok(envelope)
}

fn non_empty(value: Option<Value>, label: &'static str) -> Result<String, ManifestProblem> {
    match value {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        _ => Err(ManifestProblem::MissingString(label)),
    }
}

/// The verified payload: immutable, typed, and still holding the exact JSON
/// that was signed. Only the trust module constructs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Payload {
    plugin_id: String,
    kind: String,
    version: String,
    capabilities: Vec<(String, bool)>,
    core_version_range: String,
    entry_sha256: String,
    not_before: Option<f64>,
    not_after: Option<f64>,
    raw: Value,
}

impl Payload {
    pub(crate) fn new(raw: Value, capabilities: Vec<(String, bool)>, not_before: Option<f64>, not_after: Option<f64>) -> Self {
        let text = |field: &str| raw.get(field).and_then(Value::as_str).unwrap_or_default().to_owned();
        Self {
            plugin_id: text("pluginId"),
            kind: text("kind"),
            version: text("version"),
            core_version_range: text("coreVersionRange"),
            entry_sha256: text("entrySha256"),
            capabilities,
            not_before,
            not_after,
            raw,
        }
    }

    /// `pluginId`.
    pub fn plugin_id(&self) -> &str {
        &self.plugin_id
    }

    /// `kind`, e.g. `authProvider`.
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// `version` as signed.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// `capabilities` in JavaScript's property order; every value was a
    /// strict boolean and every `true` was allowlisted.
    pub fn capabilities(&self) -> &[(String, bool)] {
        &self.capabilities
    }

    /// Whether capability `name` is declared `true`.
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities.iter().any(|(n, v)| *v && n == name)
    }

    /// `entrySha256` as signed (equal to the hash of the verified entry bytes).
    pub fn entry_sha256(&self) -> &str {
        &self.entry_sha256
    }

    /// `notBefore` in epoch milliseconds (`None`: unbounded).
    pub fn not_before(&self) -> Option<f64> {
        self.not_before
    }

    /// `notAfter` in epoch milliseconds (`None`: unbounded).
    pub fn not_after(&self) -> Option<f64> {
        self.not_after
    }

    /// `coreVersionRange`, e.g. `>=0.1.0 <0.2.0`.
    pub fn core_version_range(&self) -> &str {
        &self.core_version_range
    }

    /// The payload JSON exactly as received and signed, unknown fields included.
    pub fn raw(&self) -> &Value {
        &self.raw
    }
}
