//! The gate: one function, one fixed order. Each step assumes the ones before
//! it passed, and the order decides which reason an envelope with several
//! faults gets, so it matches Haechi 1.x exactly:
//!
//! structure → alg → anchor → revoked signer → entry hash → revoked entry →
//! signature → window → floor → pin → capabilities → core range.
//!
//! The entry hash is compared (in constant time) before the signature, so a
//! swapped entry is reported as `tampered-entry` whatever else is wrong with
//! the signature; the signer is resolved only from the operator's anchors,
//! before any cryptography runs on attacker-chosen keys.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::Signature;
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::canonical::{canonicalize, js_entries};
use super::envelope::{self, Payload};
use super::policy::{Anchor, TrustPolicy};
use super::refusal::{ManifestProblem, PinField, Refusal};
use super::version::{compare_dotted, parse_range, satisfies};
use super::window;

/// ward's own version, checked against `coreVersionRange`.
pub const CORE_VERSION: &str = env!("CARGO_PKG_VERSION");

/// The Haechi plugin contract ward implements for JavaScript plugins
/// (Haechi 1.7's `authProvider`): their `coreVersionRange` is checked
/// against it, so an envelope Haechi signed (`>=1.0.0 <2.0.0`) loads
/// unchanged. docs/signing.md.
pub const HAECHI_CONTRACT_VERSION: &str = "1.7.0";

/// Which version `coreVersionRange` names: ward's own for components, the
/// Haechi contract's for JavaScript modules. The operator says which
/// (`"runtime"` in ward.json); nothing is inferred from the bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CoreContract {
    /// A WebAssembly component: [`CORE_VERSION`].
    #[default]
    Ward,
    /// A Haechi `authProvider` module: [`HAECHI_CONTRACT_VERSION`].
    Haechi,
}

impl CoreContract {
    /// The version checked against `coreVersionRange`.
    pub fn version(self) -> &'static str {
        match self {
            Self::Ward => CORE_VERSION,
            Self::Haechi => HAECHI_CONTRACT_VERSION,
        }
    }
}

/// Proof that an envelope passed every check for these exact entry bytes.
/// Only [`verify`] builds one; the sandbox accepts nothing else.
pub struct VerifiedPlugin {
    payload: Payload,
    signer_key_id: String,
    entry: Vec<u8>,
    entry_sha256: String,
    manifest_sha256: String,
}

impl VerifiedPlugin {
    /// The verified payload.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The anchor key id the signature verified under.
    pub fn signer_key_id(&self) -> &str {
        &self.signer_key_id
    }

    /// The very bytes that were hashed; load these, never re-read the file.
    pub fn entry(&self) -> &[u8] {
        &self.entry
    }

    /// sha256 of [`Self::entry`], lowercase hex.
    pub fn entry_sha256(&self) -> &str {
        &self.entry_sha256
    }

    /// sha256 of canonical(payload), lowercase hex: what a `manifestSha256` pin matches.
    pub fn manifest_sha256(&self) -> &str {
        &self.manifest_sha256
    }
}

impl fmt::Debug for VerifiedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedPlugin")
            .field("plugin_id", &self.payload.plugin_id())
            .field("version", &self.payload.version())
            .field("signer_key_id", &self.signer_key_id)
            .field("entry_len", &self.entry.len())
            .field("entry_sha256", &self.entry_sha256)
            .finish_non_exhaustive()
    }
}

/// Verifies `envelope_json` for `entry` under `policy` at `now_ms` (epoch ms).
///
/// The first link of the chain every plugin takes (then
/// [`Runtime::load`](crate::sandbox::Runtime::load), then
/// [`Plugin::authenticate`](crate::sandbox::Plugin::authenticate)): a
/// component signed with a fresh key verifies under a policy that anchors
/// that key and allows the capability it declares, and one changed byte of
/// the entry is refused.
///
/// ```
/// use ward::trust::{SignRequest, SigningSecret, TrustPolicy, envelope_file_text, now_ms, sign, verify};
///
/// let component = ward_wat_guests::component(&ward_wat_guests::allow_fixed());
/// let key = SigningSecret::from_seed(&[42; 32]);
/// let request = SignRequest::auth_provider("doc-plugin", "1.0.0", "doc-signer", &["readsCredentials"]);
/// let envelope = envelope_file_text(&sign(&request, &component, &key)?)?;
/// let policy = TrustPolicy::default().with_anchor("doc-signer", key.verifying_key()).allow("readsCredentials");
///
/// let verified = verify(envelope.as_bytes(), component.clone(), &policy, now_ms())?;
/// assert_eq!(verified.payload().plugin_id(), "doc-plugin");
///
/// let mut tampered = component;
/// tampered[0] ^= 1;
/// let refusal = verify(envelope.as_bytes(), tampered, &policy, now_ms()).unwrap_err();
/// assert_eq!(refusal.code(), "tampered-entry");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify(envelope_json: &[u8], entry: Vec<u8>, policy: &TrustPolicy, now_ms: u64) -> Result<VerifiedPlugin, Refusal> {
    verify_for(envelope_json, entry, policy, now_ms, CoreContract::Ward)
}

/// [`verify`], with `coreVersionRange` checked against `contract`'s version
/// (the same checks in the same order otherwise).
pub fn verify_for(envelope_json: &[u8], entry: Vec<u8>, policy: &TrustPolicy, now_ms: u64, contract: CoreContract) -> Result<VerifiedPlugin, Refusal> {
    let env = envelope::parse(envelope_json)?;
    let payload = &env.payload;
    let text = |field: &str| payload.get(field).and_then(Value::as_str).unwrap_or_default();

    if !matches!(&env.alg, Some(Value::String(alg)) if alg == "ed25519") {
        return Err(Refusal::AlgNotEd25519);
    }

    let key = match policy.anchors.get(&env.signer_key_id) {
        None => return Err(Refusal::UnknownSigner { key_id: env.signer_key_id }),
        Some(Anchor::Unusable(_)) => return Err(Refusal::AnchorUnusable { key_id: env.signer_key_id }),
        Some(Anchor::Ed25519(key)) => key,
    };

    if policy.revokes_signer(&env.signer_key_id) {
        return Err(Refusal::RevokedSigner { key_id: env.signer_key_id });
    }

    let entry_sha256 = hex::encode(Sha256::digest(&entry));
    if !ct_eq(text("entrySha256"), &entry_sha256) {
        return Err(Refusal::TamperedEntry);
    }
    if policy.revokes_entry(&entry_sha256) {
        return Err(Refusal::RevokedEntry { entry_sha256 });
    }

    let canonical = canonicalize(payload)?;
    let signature = STANDARD
        .decode(env.signature.as_bytes())
        .ok()
        .and_then(|bytes| <[u8; 64]>::try_from(bytes.as_slice()).ok())
        .map(|bytes| Signature::from_bytes(&bytes))
        .ok_or(Refusal::InvalidSignature)?;
    key.verify_strict(canonical.as_bytes(), &signature).map_err(|_| Refusal::InvalidSignature)?;

    let not_before = window::bound(payload.get("notBefore"), "notBefore")?;
    let not_after = window::bound(payload.get("notAfter"), "notAfter")?;
    // Epoch milliseconds stay far below 2^53, so the conversion is exact.
    let now = now_ms as f64;
    if not_before.is_some_and(|nb| now < nb) {
        return Err(Refusal::NotYetValid);
    }
    if not_after.is_some_and(|na| now > na) {
        return Err(Refusal::Expired);
    }

    let plugin_id = text("pluginId");
    let version = text("version");
    if let Some(floor) = policy.version_floor.get(plugin_id)
        && compare_dotted(version, floor).is_lt()
    {
        return Err(Refusal::BelowVersionFloor { plugin_id: plugin_id.into(), version: version.into(), floor: floor.clone() });
    }

    let manifest_sha256 = hex::encode(Sha256::digest(canonical.as_bytes()));
    if let Some(pin) = policy.pins.get(plugin_id) {
        if pin.version.as_deref().is_some_and(|v| v != version) {
            return Err(Refusal::PinMismatch { field: PinField::Version });
        }
        if pin.entry_sha256.as_deref().is_some_and(|p| !ct_eq(&p.to_ascii_lowercase(), &entry_sha256)) {
            return Err(Refusal::PinMismatch { field: PinField::EntrySha256 });
        }
        if pin.manifest_sha256.as_deref().is_some_and(|p| !ct_eq(&p.to_ascii_lowercase(), &manifest_sha256)) {
            return Err(Refusal::PinMismatch { field: PinField::ManifestSha256 });
        }
    }

    let capabilities = check_capabilities(payload, policy)?;

    let range = parse_range(text("coreVersionRange")).ok_or(ManifestProblem::RangeUnparsable)?;
    let core = contract.version();
    match satisfies(core, range) {
        Some(true) => {}
        Some(false) => return Err(ManifestProblem::CoreVersionOutOfRange { core }.into()),
        None => return Err(ManifestProblem::RangeUnparsable.into()),
    }

    Ok(VerifiedPlugin {
        signer_key_id: env.signer_key_id,
        payload: Payload::new(env.payload, capabilities, not_before, not_after),
        entry,
        entry_sha256,
        manifest_sha256,
    })
}

/// Every value a strict boolean, every `true` allowlisted, and an
/// `authProvider` declaring `readsCredentials`. Returns them in JS order.
fn check_capabilities(payload: &Value, policy: &TrustPolicy) -> Result<Vec<(String, bool)>, Refusal> {
    let Some(Value::Object(map)) = payload.get("capabilities") else {
        return Err(ManifestProblem::CapabilitiesNotObject.into());
    };
    let mut out = Vec::with_capacity(map.len());
    for (name, value) in js_entries(map) {
        let Value::Bool(requested) = value else {
            return Err(ManifestProblem::CapabilityNotBoolean(name.clone()).into());
        };
        if *requested && !policy.allow_capabilities.contains(name) {
            return Err(Refusal::CapabilityNotAllowlisted { capability: name.clone() });
        }
        out.push((name.clone(), *requested));
    }
    let is_auth_provider = payload.get("kind").and_then(Value::as_str) == Some("authProvider");
    if is_auth_provider && map.get("readsCredentials") != Some(&Value::Bool(true)) {
        return Err(Refusal::AuthProviderWithoutReadsCredentials);
    }
    Ok(out)
}

/// Constant-time equality of two hex strings (length is not secret).
fn ct_eq(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}
