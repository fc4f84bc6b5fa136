//! Where a command gets its trust policy: one `--anchor` key, or the `trust`
//! section of a `ward.json`. Shared by every command that verifies.

use std::path::PathBuf;

use ward::trust::{TrustPolicy, public_key_from_pem};

use super::CliError;
use super::config_arg::ConfigArg;

/// `--anchor PEM [--anchor-key-id ID] | --config ward.json`, plus allowlist flags.
#[derive(clap::Args)]
pub struct TrustSource {
    /// A trusted signer's public key (SPKI PEM file).
    #[arg(long, conflicts_with = "config")]
    anchor: Option<PathBuf>,
    /// The key id the anchor is trusted under (default: the envelope's signerKeyId).
    #[arg(long, requires = "anchor")]
    anchor_key_id: Option<String>,
    /// Without --anchor: the ward.json whose `trust` section holds the
    /// anchors and policy.
    #[command(flatten)]
    config: ConfigArg,
    /// A capability the operator allows; repeatable. Nothing is allowed by
    /// default, so an authProvider needs `--allow-capability readsCredentials`.
    #[arg(long = "allow-capability")]
    allow_capabilities: Vec<String>,
}

impl TrustSource {
    /// Builds the policy. With `--anchor` and no key id, the anchor is bound
    /// to the id the envelope names: the operator vouched for this one key.
    pub fn policy(&self, envelope: &[u8]) -> Result<TrustPolicy, CliError> {
        let mut policy = match &self.anchor {
            Some(anchor) => {
                let pem = super::read_text(anchor, "anchor")?;
                let key = public_key_from_pem(&pem).map_err(|err| {
                    CliError::new(format!("{}: {err}", anchor.display()))
                        .with_hint("--anchor takes an Ed25519 public key in SPKI PEM (the .pub file ward keygen writes)")
                })?;
                match self.anchor_key_id.clone().or_else(|| envelope_text(envelope, "/signerKeyId")) {
                    Some(key_id) => TrustPolicy::default().with_anchor(key_id, key),
                    // No signerKeyId to read: the envelope is malformed, and
                    // the gate refuses it as `manifest-invalid` before it
                    // looks for an anchor.
                    None => TrustPolicy::default(),
                }
            }
            None => super::config_trust_policy(&self.config.trust_config()?)?,
        };
        for capability in &self.allow_capabilities {
            policy = policy.allow(capability.clone());
        }
        Ok(policy)
    }
}

/// A string in the envelope (`/signerKeyId`, `/payload/pluginId`), read as
/// the gate reads the envelope; `None` when the envelope is malformed, which
/// the gate then refuses as `manifest-invalid` (the CLI never refuses an
/// envelope on its own: every malformed one gets the gate's one reason).
pub(super) fn envelope_text(envelope: &[u8], pointer: &str) -> Option<String> {
    let value = ward::trust::parse_strict(envelope).ok()?;
    value.pointer(pointer).and_then(serde_json::Value::as_str).filter(|s| !s.is_empty()).map(str::to_owned)
}
