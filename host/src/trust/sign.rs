//! Building an envelope, as Haechi's `signPluginManifest` does: always all
//! eight payload fields in Haechi's order (`notBefore`/`notAfter` as `null`
//! when unset), signature = base64(Ed25519(canonical(payload))). Ed25519 is
//! deterministic, so the same key and inputs give the same envelope bytes as
//! Haechi's `plugin-sign`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::canonical::{canonicalize, stringify_pretty};
use super::keys::SigningSecret;
use super::refusal::ManifestProblem;
use super::verify::CORE_VERSION;
use super::version::parse_range;

/// What to sign. `capabilities` is the JSON object as given.
#[derive(Debug, Clone)]
pub struct SignRequest {
    /// `pluginId`.
    pub plugin_id: String,
    /// `kind`, usually `authProvider`.
    pub kind: String,
    /// `version`.
    pub version: String,
    /// `capabilities`.
    pub capabilities: Map<String, Value>,
    /// `coreVersionRange` (`>=A.B.C <D.E.F`).
    pub core_version_range: String,
    /// `notBefore`, epoch milliseconds.
    pub not_before: Option<u64>,
    /// `notAfter`, epoch milliseconds.
    pub not_after: Option<u64>,
    /// The anchor key id operators will list this key under.
    pub signer_key_id: String,
}

impl SignRequest {
    /// An `authProvider` plugin for this ward's core range, with no validity
    /// window, declaring each of `capabilities` `true`.
    pub fn auth_provider(plugin_id: &str, version: &str, signer_key_id: &str, capabilities: &[&str]) -> Self {
        Self {
            plugin_id: plugin_id.to_owned(),
            kind: "authProvider".to_owned(),
            version: version.to_owned(),
            capabilities: capabilities.iter().map(|c| ((*c).to_owned(), Value::Bool(true))).collect(),
            core_version_range: default_core_range(),
            not_before: None,
            not_after: None,
            signer_key_id: signer_key_id.to_owned(),
        }
    }
}

/// Why an envelope was not built. These are the signer's own mistakes; an
/// envelope that could never verify is not written.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignError {
    /// A required text field is empty.
    #[error("{0} must not be empty")]
    Empty(&'static str),
    /// A capability value is not `true`/`false`.
    #[error("capability {0:?} must be true or false")]
    CapabilityNotBoolean(String),
    /// The core range is not `>=A.B.C <D.E.F`.
    #[error("core range must look like \">=0.1.0 <0.2.0\"")]
    BadCoreRange,
    /// A window bound beyond 2^53 ms, which JavaScript cannot hold exactly.
    #[error("{0} is beyond 2^53 milliseconds")]
    BoundTooLarge(&'static str),
    /// The payload cannot be canonicalized (e.g. an integer beyond ±2^53 in capabilities).
    #[error("payload cannot be canonicalized: {0}")]
    Payload(ManifestProblem),
}

/// The default `coreVersionRange`: ward's current minor line.
pub fn default_core_range() -> String {
    let mut parts = CORE_VERSION.split('.').map(|p| p.parse::<u64>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    format!(">={major}.{minor}.0 <{major}.{}.0", minor.saturating_add(1))
}

/// Builds and signs the envelope for `entry`.
pub fn sign(request: &SignRequest, entry: &[u8], key: &SigningSecret) -> Result<Value, SignError> {
    for (value, name) in
        [(&request.plugin_id, "plugin id"), (&request.kind, "kind"), (&request.version, "plugin version"), (&request.signer_key_id, "signer key id")]
    {
        if value.is_empty() {
            return Err(SignError::Empty(name));
        }
    }
    if parse_range(&request.core_version_range).is_none() {
        return Err(SignError::BadCoreRange);
    }
    if let Some((name, _)) = request.capabilities.iter().find(|(_, v)| !v.is_boolean()) {
        return Err(SignError::CapabilityNotBoolean(name.clone()));
    }
    let bound = |value: Option<u64>, name: &'static str| match value {
        Some(ms) if ms > 1 << 53 => Err(SignError::BoundTooLarge(name)),
        Some(ms) => Ok(Value::from(ms)),
        None => Ok(Value::Null),
    };
    let payload = json!({
        "pluginId": request.plugin_id,
        "kind": request.kind,
        "version": request.version,
        "capabilities": request.capabilities,
        "coreVersionRange": request.core_version_range,
        "entrySha256": hex::encode(Sha256::digest(entry)),
        "notBefore": bound(request.not_before, "not-before")?,
        "notAfter": bound(request.not_after, "not-after")?,
    });
    let canonical = canonicalize(&payload).map_err(SignError::Payload)?;
    let signature = STANDARD.encode(key.sign(canonical.as_bytes()));
    Ok(json!({
        "payload": payload,
        "signerKeyId": request.signer_key_id,
        "alg": "ed25519",
        "signature": signature,
    }))
}

/// The envelope file's text, as `plugin-sign` writes it:
/// `JSON.stringify(signed, null, 2) + "\n"`.
pub fn envelope_file_text(envelope: &Value) -> Result<String, SignError> {
    let mut text = stringify_pretty(envelope).map_err(SignError::Payload)?;
    text.push('\n');
    Ok(text)
}
