//! `ward sign`: a Haechi-compatible envelope for an entry file. The private
//! key is read from a file only (argv leaks into shell history and `ps`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use ward::trust::{MAX_PEM_BYTES, SignRequest, SigningSecret, canonicalize, default_core_range, envelope_file_text, sign};
use zeroize::Zeroizing;

use super::keygen::print;
use super::{CliError, read_capped};

/// Entries above this are not plugins; refusing bounds the read.
pub(super) const MAX_ENTRY_BYTES: u64 = 64 * 1024 * 1024;

/// Arguments of `ward sign`.
#[derive(clap::Args)]
#[command(after_help = "Example:\n  ward sign plugin.wasm --key keys/acme.key --signer-key-id acme --plugin-id acme-auth --plugin-version 1.0.0")]
pub struct Args {
    /// The entry file (the component); its exact bytes are hashed.
    entry: PathBuf,
    /// PKCS#8 PEM Ed25519 private key file (from `ward keygen` or Haechi's plugin-keygen).
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The key id operators list this key under in their trust anchors.
    #[arg(long, value_name = "ID")]
    signer_key_id: String,
    /// The plugin id (`payload.pluginId`).
    #[arg(long, value_name = "ID")]
    plugin_id: String,
    /// The plugin version (`payload.version`).
    #[arg(long, value_name = "V")]
    plugin_version: String,
    /// The plugin kind.
    #[arg(long, default_value = "authProvider")]
    kind: String,
    /// Capabilities as a JSON object, or @FILE [default: {"readsCredentials":true} for authProvider, else {}].
    #[arg(long, value_name = "JSON|@FILE")]
    capabilities: Option<String>,
    /// The ward versions the plugin is for, ">=A.B.C <D.E.F" [default: ward's current minor line].
    #[arg(long, value_name = "R")]
    core_range: Option<String>,
    /// Not valid before this time (epoch milliseconds).
    #[arg(long, value_name = "MS")]
    not_before: Option<u64>,
    /// Not valid after this time (epoch milliseconds).
    #[arg(long, value_name = "MS")]
    not_after: Option<u64>,
    /// Where to write the envelope [default: <plugin-id>.signed.json].
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// Runs `ward sign`.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let entry = read_capped(&args.entry, MAX_ENTRY_BYTES, "entry")?;
    let pem = Zeroizing::new(read_capped(&args.key, MAX_PEM_BYTES as u64, "--key")?);
    let pem = std::str::from_utf8(&pem).map_err(|_| CliError::new(format!("--key {}: not a PEM text file", args.key.display())))?;
    let key = SigningSecret::from_pkcs8_pem(pem).map_err(|e| {
        CliError::new(format!("--key {}: {e}", args.key.display())).with_hint("pass the Ed25519 PRIVATE KEY file that `ward keygen` wrote (<ID>.key)")
    })?;
    let capabilities = capabilities(args.capabilities.as_deref(), &args.kind)?;
    let out = match args.out {
        Some(out) => out,
        None if args.plugin_id.contains(['/', '\\']) || args.plugin_id.starts_with('.') => {
            return Err(CliError::new("the plugin id is not usable as a file name").with_hint("pass --out FILE"));
        }
        None => PathBuf::from(format!("{}.signed.json", args.plugin_id)),
    };
    let request = SignRequest {
        plugin_id: args.plugin_id,
        kind: args.kind,
        version: args.plugin_version,
        capabilities,
        core_version_range: args.core_range.unwrap_or_else(default_core_range),
        not_before: args.not_before,
        not_after: args.not_after,
        signer_key_id: args.signer_key_id,
    };
    let envelope = sign(&request, &entry, &key).map_err(|e| CliError::new(e.to_string()))?;
    let text = envelope_file_text(&envelope).map_err(|e| CliError::new(e.to_string()))?;
    std::fs::write(&out, text).map_err(|e| CliError::new(format!("cannot write {}: {e}", out.display())))?;
    let manifest_sha256 = envelope.get("payload").and_then(|p| canonicalize(p).ok()).map(|c| hex::encode(Sha256::digest(c.as_bytes())));
    print(&json!({
        "ok": true,
        "command": "sign",
        "outPath": out.display().to_string(),
        "pluginId": request.plugin_id,
        "signerKeyId": request.signer_key_id,
        "entrySha256": hex::encode(Sha256::digest(&entry)),
        "manifestSha256": manifest_sha256,
        "kind": request.kind,
        "version": request.version,
    }));
    Ok(ExitCode::SUCCESS)
}

fn capabilities(arg: Option<&str>, kind: &str) -> Result<Map<String, Value>, CliError> {
    let Some(arg) = arg else {
        let mut map = Map::new();
        if kind == "authProvider" {
            map.insert("readsCredentials".into(), Value::Bool(true));
        }
        return Ok(map);
    };
    let (text, origin) = match arg.strip_prefix('@') {
        Some(path) => {
            let bytes = read_capped(Path::new(path), 64 * 1024, "--capabilities")?;
            (String::from_utf8_lossy(&bytes).into_owned(), format!("--capabilities file {path}"))
        }
        None => (arg.to_owned(), "--capabilities".to_owned()),
    };
    match ward::trust::parse_strict(text.as_bytes()) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(CliError::new(format!("{origin}: must be a JSON object")).with_hint("e.g. --capabilities '{\"readsCredentials\":true}'")),
        Err(e) => Err(CliError::new(format!("{origin}: {e}")).with_hint("e.g. --capabilities '{\"readsCredentials\":true}'")),
    }
}
