//! Where a command gets its trust policy: one `--anchor` key, or the `trust`
//! section of a `ward.json`. Shared by every command that verifies.

use std::path::PathBuf;

use ward::trust::{TrustPolicy, public_key_from_pem};

use super::CliError;

/// `--anchor PEM [--anchor-key-id ID] | --config ward.json`, plus allowlist flags.
#[derive(clap::Args)]
pub struct TrustSource {
    /// A trusted signer's public key (SPKI PEM file).
    #[arg(long, conflicts_with = "config", required_unless_present = "config")]
    anchor: Option<PathBuf>,
    /// The key id the anchor is trusted under (default: the envelope's signerKeyId).
    #[arg(long, requires = "anchor")]
    anchor_key_id: Option<String>,
    /// A ward.json whose `trust` section holds the anchors and policy.
    #[arg(long)]
    config: Option<PathBuf>,
    /// A capability the operator allows; repeatable. Nothing is allowed by
    /// default, so an authProvider needs `--allow-capability readsCredentials`.
    #[arg(long = "allow-capability")]
    allow_capabilities: Vec<String>,
}

impl TrustSource {
    /// Builds the policy. With `--anchor` and no key id, the anchor is bound
    /// to the id the envelope names: the operator vouched for this one key.
    pub fn policy(&self, envelope: &[u8]) -> Result<TrustPolicy, CliError> {
        let mut policy = match (&self.anchor, &self.config) {
            (Some(anchor), _) => {
                let pem = super::read_text(anchor, "anchor")?;
                let key = public_key_from_pem(&pem).map_err(|err| {
                    CliError::new(format!("{}: {err}", anchor.display())).with_hint("--anchor takes an Ed25519 public key in SPKI PEM (the .pub file ward keygen writes)")
                })?;
                let key_id = match &self.anchor_key_id {
                    Some(id) => id.clone(),
                    None => signer_key_id(envelope)?,
                };
                TrustPolicy::default().with_anchor(key_id, key)
            }
            (None, Some(config)) => super::config_trust_policy(config)?,
            (None, None) => return Err(CliError::new("no trust anchor given").with_hint("pass --anchor FILE.pub or --config ward.json")),
        };
        for capability in &self.allow_capabilities {
            policy = policy.allow(capability.clone());
        }
        Ok(policy)
    }
}

/// The envelope's `signerKeyId`, read leniently: the gate re-checks everything.
fn signer_key_id(envelope: &[u8]) -> Result<String, CliError> {
    serde_json::from_slice::<serde_json::Value>(envelope)
        .ok()
        .and_then(|value| value.get("signerKeyId").and_then(|id| id.as_str()).map(str::to_owned))
        .ok_or_else(|| CliError::new("the envelope has no signerKeyId string").with_hint("pass --anchor-key-id ID"))
}
