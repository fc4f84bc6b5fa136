//! `ward verify`: the trust gate from the command line, against an anchor
//! PEM or a `ward.json` trust section. Exit 0 valid, 1 refused (reason code on
//! stdout JSON and stderr), 2 when the inputs themselves are unusable.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::{Value, json};
use ward::trust::{Anchor, MAX_ENVELOPE_BYTES, MAX_PEM_BYTES, Pin, TrustPolicy, public_key_from_pem, verify_for};

use super::CliError;
use super::config_arg::ConfigArg;
use super::keygen::print;
use super::read_capped;
use super::runtime_arg::RuntimeArg;
use super::sign::MAX_ENTRY_BYTES;
use super::trust_source::envelope_text;

/// Arguments of `ward verify`.
#[derive(clap::Args)]
#[command(
    after_help = "Exit codes: 0 valid, 1 refused (reason code on stderr), 2 unusable input.\n\nExample:\n  ward verify acme-auth.signed.json --entry plugin.wasm --anchor keys/acme.pub --allow-capability readsCredentials"
)]
pub struct Args {
    /// The signed envelope (JSON).
    envelope: PathBuf,
    /// The entry file whose exact bytes the envelope must bind.
    #[arg(long, value_name = "FILE")]
    entry: PathBuf,
    /// A trust anchor: SPKI PEM Ed25519 public key file.
    #[arg(long, value_name = "PEM", conflicts_with = "config")]
    anchor: Option<PathBuf>,
    /// The key id of --anchor [default: the envelope's signerKeyId].
    #[arg(long, value_name = "ID", requires = "anchor")]
    anchor_key_id: Option<String>,
    /// Without --anchor: anchors, revocations, floors, pins and allowed
    /// capabilities come from this ward.json's `trust` section.
    #[command(flatten)]
    config: ConfigArg,
    /// Allow a capability (repeatable); an authProvider needs readsCredentials.
    #[arg(long = "allow-capability", value_name = "NAME")]
    allow_capabilities: Vec<String>,
    /// Pin the entry's sha256 (64 hex digits).
    #[arg(long, value_name = "SHA256")]
    pin: Option<String>,
    /// Verify as of this time (epoch milliseconds) [default: now].
    #[arg(long, value_name = "MS")]
    now: Option<u64>,
    /// What the entry is: `js` checks `coreVersionRange` against the Haechi
    /// contract (1.7.0) instead of ward's version.
    #[arg(long, value_enum, default_value = "wasm")]
    runtime: RuntimeArg,
}

/// Runs `ward verify`.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let envelope = read_capped(&args.envelope, MAX_ENVELOPE_BYTES as u64, "envelope")?;
    let entry = read_capped(&args.entry, MAX_ENTRY_BYTES, "--entry")?;
    // A malformed envelope (not JSON, 1e400, a lone surrogate) has no text
    // here; the gate refuses it below as `manifest-invalid`, like any other.
    let text_at = |pointer: &str| envelope_text(&envelope, pointer).unwrap_or_default();

    let mut policy = match &args.anchor {
        Some(anchor) => {
            let pem = read_capped(anchor, MAX_PEM_BYTES as u64, "--anchor")?;
            let pem = String::from_utf8(pem).map_err(|_| CliError::new(format!("--anchor {}: not a PEM text file", anchor.display())))?;
            let key = public_key_from_pem(&pem)
                .map_err(|e| CliError::new(format!("--anchor {}: {e}", anchor.display())).with_hint("pass the Ed25519 PUBLIC KEY file (<ID>.pub)"))?;
            let key_id = args.anchor_key_id.clone().unwrap_or_else(|| text_at("/signerKeyId"));
            let mut policy = TrustPolicy::default();
            policy.anchors.insert(key_id, Anchor::Ed25519(key));
            policy
        }
        None => super::config_trust_policy(&args.config.trust_config()?)?,
    };
    policy.allow_capabilities.extend(args.allow_capabilities);
    if let Some(pin) = &args.pin {
        if pin.len() != 64 || !pin.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(CliError::new("--pin must be 64 hex digits (the entrySha256 `ward sign` printed)"));
        }
        let entry_pin = policy.pins.entry(text_at("/payload/pluginId")).or_insert_with(Pin::default);
        entry_pin.entry_sha256 = Some(pin.to_ascii_lowercase());
    }
    let now_ms = match args.now {
        Some(ms) => ms,
        None => ward::trust::now_ms(),
    };

    match verify_for(&envelope, entry, &policy, now_ms, args.runtime.runtime().core_contract()) {
        Ok(plugin) => {
            let payload = plugin.payload();
            let raw = payload.raw();
            print(&json!({
                "valid": true,
                "pluginId": payload.plugin_id(),
                "kind": payload.kind(),
                "version": payload.version(),
                "signerKeyId": plugin.signer_key_id(),
                "entrySha256": plugin.entry_sha256(),
                "manifestSha256": plugin.manifest_sha256(),
                "capabilities": raw.get("capabilities"),
                "coreVersionRange": payload.core_version_range(),
                "notBefore": raw.get("notBefore").cloned().unwrap_or(Value::Null),
                "notAfter": raw.get("notAfter").cloned().unwrap_or(Value::Null),
            }));
            Ok(ExitCode::SUCCESS)
        }
        Err(refusal) => {
            print(&json!({ "valid": false, "reason": refusal.code(), "message": refusal.to_string() }));
            eprintln!("ward: verify refused: {} ({refusal})", refusal.code());
            if refusal.code() == "capability-not-allowlisted" {
                eprintln!("hint: allow what the plugin needs with --allow-capability NAME (an authProvider needs readsCredentials)");
            }
            Ok(ExitCode::from(1))
        }
    }
}
