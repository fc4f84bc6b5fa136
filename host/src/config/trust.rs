//! `ward.json`'s `trust` section → [`TrustPolicy`].
//!
//! ```json
//! { "trust": {
//!     "trustAnchors": [ { "keyId": "acme-signer", "publicKey": "-----BEGIN PUBLIC KEY-----\n…" } ],
//!     "revoked": { "signerKeyIds": [], "entrySha256": [] },
//!     "versionFloor": { "acme-auth": "1.2.0" },
//!     "pins": { "acme-auth": { "version": "1.2.3", "entrySha256": "…", "manifestSha256": "…" } },
//!     "allowCapabilities": ["readsCredentials"] } }
//! ```
//!
//! `trustAnchors` may also be a `{ "keyId": "PEM" }` map; `revoked` uses
//! Haechi's field names (`signerKeyIds`, `entrySha256`). Unlike the verifier,
//! which refuses an envelope naming a broken anchor as `unknown-signer`, the
//! config refuses a broken anchor outright: it is the operator's mistake and
//! is best reported when the file is read.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use crate::trust::{Anchor, Pin, TrustPolicy, public_key_from_pem};

use super::ConfigError;

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawTrust {
    trust_anchors: Value,
    #[serde(default)]
    revoked: RawRevoked,
    #[serde(default)]
    version_floor: BTreeMap<String, String>,
    #[serde(default)]
    pins: BTreeMap<String, RawPin>,
    #[serde(default)]
    allow_capabilities: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawRevoked {
    #[serde(default)]
    signer_key_ids: Vec<String>,
    #[serde(default)]
    entry_sha256: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawPin {
    version: Option<String>,
    entry_sha256: Option<String>,
    manifest_sha256: Option<String>,
}

/// Reads `path` and builds the policy from its `trust` section.
pub fn read_trust_policy(path: &Path) -> Result<TrustPolicy, ConfigError> {
    // The same reader as `load`: regular files only, opened without
    // blocking, read capped (a FIFO here would otherwise hang `ward verify`).
    let bytes = super::dir::read_config_file(path)?;
    trust_policy_from_json(&bytes, &path.display().to_string())
}

/// Builds the policy from `ward.json` bytes; `path` only labels errors.
pub fn trust_policy_from_json(bytes: &[u8], path: &str) -> Result<TrustPolicy, ConfigError> {
    // The same reader as `load`: a repeated key (a second `"revoked"`) is
    // refused here too, or `ward verify --config` would disagree with serve.
    let root = super::json::tree(bytes, path, "")?;
    let Value::Object(mut root) = root else {
        return Err(ConfigError::NotJson { path: path.into(), detail: "top level is not an object".into() });
    };
    let section = root.remove("trust").ok_or_else(|| ConfigError::NoTrustSection { path: path.into() })?;
    trust_policy_from_section(section, path)
}

/// Builds the policy from the `trust` value alone; `path` only labels errors.
pub(crate) fn trust_policy_from_section(section: Value, path: &str) -> Result<TrustPolicy, ConfigError> {
    let invalid = |at: &str, problem: String| ConfigError::Invalid { path: path.into(), at: at.into(), problem };
    if let Some(at) = super::shape::misplaced_array(&section, &super::shape::TRUST) {
        let at = if at.is_empty() { "trust".to_owned() } else { format!("trust.{at}") };
        return Err(invalid(&at, "invalid type: array, expected an object".into()));
    }
    let raw: RawTrust = serde_json::from_value(section).map_err(|e| invalid("trust", e.to_string()))?;

    let mut policy = TrustPolicy::default();
    for (at, key_id, pem) in anchor_entries(&raw.trust_anchors).map_err(|p| invalid("trust.trustAnchors", p))? {
        let key = public_key_from_pem(&pem).map_err(|e| invalid(&at, e.to_string()))?;
        if policy.anchors.insert(key_id.clone(), Anchor::Ed25519(key)).is_some() {
            return Err(invalid(&at, format!("key id {key_id:?} is listed twice")));
        }
    }
    if policy.anchors.is_empty() {
        return Err(invalid("trust.trustAnchors", "is empty; ward would trust no signer".into()));
    }
    policy.revoked_signer_key_ids = non_empty_set(raw.revoked.signer_key_ids, "trust.revoked.signerKeyIds").map_err(|(at, p)| invalid(&at, p))?;
    policy.revoked_entry_sha256 = raw
        .revoked
        .entry_sha256
        .iter()
        .enumerate()
        .map(|(i, h)| sha256_hex(h).ok_or_else(|| invalid(&format!("trust.revoked.entrySha256[{i}]"), "must be 64 hex digits".into())))
        .collect::<Result<BTreeSet<_>, _>>()?;
    for (plugin_id, floor) in raw.version_floor {
        if floor.trim().is_empty() {
            return Err(invalid(&format!("trust.versionFloor.{plugin_id}"), "must be a non-empty version".into()));
        }
        policy.version_floor.insert(plugin_id, floor);
    }
    for (plugin_id, pin) in raw.pins {
        let at = format!("trust.pins.{plugin_id}");
        let hash = |field: &str, value: Option<String>| match value {
            None => Ok(None),
            Some(h) => sha256_hex(&h).map(Some).ok_or_else(|| invalid(&format!("{at}.{field}"), "must be 64 hex digits".into())),
        };
        let pin =
            Pin { version: pin.version, entry_sha256: hash("entrySha256", pin.entry_sha256)?, manifest_sha256: hash("manifestSha256", pin.manifest_sha256)? };
        if pin == Pin::default() {
            return Err(invalid(&at, "pins nothing; set version, entrySha256 or manifestSha256".into()));
        }
        policy.pins.insert(plugin_id, pin);
    }
    policy.allow_capabilities = non_empty_set(raw.allow_capabilities, "trust.allowCapabilities").map_err(|(at, p)| invalid(&at, p))?;
    Ok(policy)
}

/// `(json path, key id, pem)` for either accepted anchor shape.
fn anchor_entries(value: &Value) -> Result<Vec<(String, String, String)>, String> {
    match value {
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                let at = format!("trust.trustAnchors[{i}]");
                let Value::Object(obj) = item else {
                    return Err(format!("entry {i} must be {{\"keyId\", \"publicKey\"}}"));
                };
                if let Some(extra) = obj.keys().find(|k| *k != "keyId" && *k != "publicKey") {
                    return Err(format!("entry {i} has unknown field {extra:?}"));
                }
                match (obj.get("keyId"), obj.get("publicKey")) {
                    (Some(Value::String(id)), Some(Value::String(pem))) if !id.is_empty() => Ok((format!("{at}.publicKey"), id.clone(), pem.clone())),
                    _ => Err(format!("entry {i} must be {{\"keyId\": non-empty string, \"publicKey\": PEM string}}")),
                }
            })
            .collect(),
        Value::Object(map) => map
            .iter()
            .map(|(id, pem)| match pem {
                Value::String(pem) if !id.is_empty() => Ok((format!("trust.trustAnchors.{id}"), id.clone(), pem.clone())),
                _ => Err(format!("{id:?} must map a non-empty key id to a PEM string")),
            })
            .collect(),
        _ => Err("must be an array of {\"keyId\", \"publicKey\"} or a {\"keyId\": \"PEM\"} map".into()),
    }
}

fn non_empty_set(items: Vec<String>, at: &str) -> Result<BTreeSet<String>, (String, String)> {
    items
        .into_iter()
        .enumerate()
        .map(|(i, s)| if s.trim().is_empty() { Err((format!("{at}[{i}]"), "must be a non-empty string".into())) } else { Ok(s) })
        .collect()
}

/// 64 hex digits, lowercased (the gate computes lowercase hex).
fn sha256_hex(s: &str) -> Option<String> {
    (s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())).then(|| s.to_ascii_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trust::{SigningSecret, public_key_to_pem};

    fn pem() -> String {
        public_key_to_pem(&SigningSecret::from_seed(&[3; 32]).verifying_key())
    }

    #[test]
    fn both_anchor_shapes_and_all_fields() -> Result<(), ConfigError> {
        let list = serde_json::json!({ "listen": "ignored", "trust": {
            "trustAnchors": [{ "keyId": "a", "publicKey": pem() }],
            "revoked": { "signerKeyIds": ["old"], "entrySha256": ["AB".repeat(32)] },
            "versionFloor": { "p": "1.2.0" },
            "pins": { "p": { "version": "1.2.3" } },
            "allowCapabilities": ["readsCredentials"] } });
        let policy = trust_policy_from_json(list.to_string().as_bytes(), "ward.json")?;
        assert!(policy.anchors.contains_key("a"));
        assert!(policy.revoked_entry_sha256.contains(&"ab".repeat(32)));
        let map = serde_json::json!({ "trust": { "trustAnchors": { "b": pem() } } });
        assert!(trust_policy_from_json(map.to_string().as_bytes(), "ward.json")?.anchors.contains_key("b"));
        Ok(())
    }

    #[test]
    fn problems_name_their_place() {
        let cases = [
            (serde_json::json!({ "trust": { "trustAnchors": [] } }), "trust.trustAnchors: is empty"),
            (serde_json::json!({ "trust": { "trustAnchors": {} } }), "trust.trustAnchors: is empty"),
            (serde_json::json!({ "trust": { "trustAnchors": { "a": "nope" } } }), "trust.trustAnchors.a: not a PEM"),
            (serde_json::json!({ "trust": { "trustAnchors": { "a": pem() }, "bogus": 1 } }), "unknown field `bogus`"),
            (serde_json::json!({ "trust": { "trustAnchors": { "a": pem() }, "revoked": { "entrySha256": ["x"] } } }), "trust.revoked.entrySha256[0]"),
            (serde_json::json!({ "trust": { "trustAnchors": { "a": pem() }, "pins": { "p": {} } } }), "trust.pins.p: pins nothing"),
            (serde_json::json!({ "nothing": 1 }), "no \"trust\" section"),
        ];
        for (json, want) in cases {
            let text = trust_policy_from_json(json.to_string().as_bytes(), "ward.json").err().map(|e| e.to_string()).unwrap_or_default();
            assert!(text.contains(want), "{json}: {text:?} lacks {want}");
        }
    }
}
