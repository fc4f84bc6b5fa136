//! `ward authenticate`: one authentication through the real gate and sandbox,
//! the credential read from stdin (argv is visible to every user in `ps`).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use ward::identity::{Identity, IdentityKey};
use ward::keymaterial::{DEFAULT_MAX_ENTRIES, KeyFormat, KeyIndex, MAX_MAX_BYTES, MAX_MAX_BYTES_INDEXED};
use ward::sandbox::{Credential, Decision, KeySet, Limits, PluginOptions, Runtime, RuntimeConfig, WasiMode};

use super::CliError;
use super::runtime_arg::RuntimeArg;
use super::trust_source::TrustSource;

/// Arguments of `ward authenticate`.
#[derive(clap::Args)]
pub struct Args {
    /// The signed envelope (`<plugin>.signed.json`).
    #[arg(long)]
    envelope: PathBuf,
    /// The entry the envelope signs: a component, or with `--runtime js` an
    /// ES module.
    #[arg(long)]
    component: PathBuf,
    /// What the entry is (`wasm` or `js`), as ward.json's `"runtime"`.
    #[arg(long, value_enum, default_value = "wasm")]
    runtime: RuntimeArg,
    #[command(flatten)]
    trust: TrustSource,
    /// The identity HMAC key file (mode 0600; `ward keygen --identity-key` makes one).
    #[arg(long)]
    identity_key: PathBuf,
    /// The credential's scheme as the plugin sees it.
    #[arg(long, default_value = "bearer")]
    scheme: String,
    /// A plugin setting, `key=value`; repeatable.
    #[arg(long = "setting", value_parser = parse_setting)]
    settings: Vec<(String, String)>,
    /// Key material, `NAME=FILE` or `NAME=FILE:FORMAT` (`raw`, the default;
    /// `jwks`; `api-keys`), handed to the plugin exactly as `ward serve`
    /// hands a `file` entry of that name and format; repeatable.
    #[arg(long = "key-material", value_parser = parse_key_material)]
    key_material: Vec<KeyMaterialArg>,
    /// `deny-all` serves WASI imports from a context that grants nothing; `refuse` refuses every import.
    #[arg(long, value_enum, default_value = "deny-all")]
    wasi: Wasi,
    /// Per-call timeout in milliseconds.
    #[arg(long, default_value_t = 100)]
    timeout_ms: u64,
    /// The request time in Unix milliseconds (default: now).
    #[arg(long)]
    now: Option<u64>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Wasi {
    DenyAll,
    Refuse,
}

fn parse_setting(raw: &str) -> Result<(String, String), String> {
    raw.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| "expected key=value".to_owned())
}

#[derive(Clone)]
struct KeyMaterialArg {
    name: String,
    file: PathBuf,
    format: KeyFormat,
}

/// `NAME=FILE[:FORMAT]`. A path may itself hold `:`, so a suffix is a format
/// only when it names one.
fn parse_key_material(raw: &str) -> Result<KeyMaterialArg, String> {
    let (name, rest) = raw.split_once('=').ok_or("expected NAME=FILE or NAME=FILE:FORMAT")?;
    if name.is_empty() || rest.is_empty() {
        return Err("expected NAME=FILE or NAME=FILE:FORMAT".into());
    }
    let (file, format) = match rest.rsplit_once(':').and_then(|(file, suffix)| Some((file, KeyFormat::from_name(suffix)?))) {
        Some((file, format)) => (file, format),
        None => (rest, KeyFormat::Raw),
    };
    Ok(KeyMaterialArg { name: name.to_owned(), file: PathBuf::from(file), format })
}

/// Reads every `--key-material` file, indexing the indexed ones, into the
/// plugin's options.
fn key_material(args: &[KeyMaterialArg], options: &mut PluginOptions) -> Result<(), CliError> {
    for arg in args {
        let taken = options.keys.iter().map(|(name, _)| name.as_str()).chain(options.key_sets.iter().map(KeySet::name)).any(|name| name == arg.name);
        if taken {
            return Err(CliError::new(format!("--key-material {}: the name is given twice", arg.name)));
        }
        let what = format!("key material {}", arg.name);
        if !arg.format.is_indexed() {
            options.keys.push((arg.name.clone(), super::read_capped(&arg.file, MAX_MAX_BYTES, &what)?));
            continue;
        }
        let bytes = super::read_capped(&arg.file, MAX_MAX_BYTES_INDEXED, &what)?;
        let index = KeyIndex::build(arg.format, &bytes, DEFAULT_MAX_ENTRIES)
            .map_err(|err| CliError::new(format!("{what} ({}): {} ({err})", arg.format.name(), err.code())))?;
        options.key_sets.push(KeySet::new(arg.name.as_str(), Arc::new(index)));
    }
    Ok(())
}

/// Runs `ward authenticate`.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let now_ms = args.now.unwrap_or_else(ward::trust::now_ms);
    let envelope = super::read_file(&args.envelope, "envelope")?;
    let component = super::read_file(&args.component, "component")?;
    let policy = args.trust.policy(&envelope)?;
    let runtime_kind = args.runtime.runtime();
    let verified = ward::trust::verify_for(&envelope, component, &policy, now_ms, runtime_kind.core_contract())
        .map_err(|refusal| CliError::new(format!("the trust gate refused the plugin: {} ({refusal})", refusal.code())))?;
    let identity_key = IdentityKey::from_file(&args.identity_key).map_err(|err| CliError::new(err.to_string()))?;
    let wasi = match args.wasi {
        Wasi::DenyAll => WasiMode::DenyAll,
        Wasi::Refuse => WasiMode::Refuse,
    };
    let runtime = Runtime::new(RuntimeConfig { wasi, ..RuntimeConfig::default() }, identity_key).map_err(|err| CliError::new(err.to_string()))?;
    let limits = Limits { timeout: Duration::from_millis(args.timeout_ms), ..Limits::default() };
    let mut options = PluginOptions { limits, settings: args.settings, runtime: runtime_kind, ..PluginOptions::default() };
    key_material(&args.key_material, &mut options)?;
    let plugin = runtime.load(verified, options).map_err(|err| CliError::new(format!("cannot load the plugin: {} ({err})", err.code())))?;
    let token = read_credential(limits.max_credential_bytes)?;
    let decision = plugin.authenticate(Credential { scheme: &args.scheme, token: &token }, now_ms);
    let (output, code) = match decision {
        Decision::Allow(identity) => (json!({ "decision": "allow", "identity": identity_json(&identity) }), 0),
        Decision::Deny(reason) => (json!({ "decision": "deny", "reason": reason.code() }), 1),
    };
    println!("{output}");
    Ok(ExitCode::from(code))
}

/// Reads one credential from stdin: at most `max` bytes plus one (so an
/// oversized credential reaches the sandbox's own `oversized` check), without
/// a trailing newline.
fn read_credential(max: usize) -> Result<String, CliError> {
    let mut raw = Vec::new();
    std::io::stdin()
        .take(max as u64 + 2)
        .read_to_end(&mut raw)
        .map_err(|err| CliError::new(format!("cannot read the credential from stdin: {}", err.kind())))?;
    while raw.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        raw.pop();
    }
    String::from_utf8(raw).map_err(|_| CliError::new("the credential on stdin is not UTF-8"))
}

fn identity_json(identity: &Identity) -> serde_json::Value {
    let labels: serde_json::Map<String, serde_json::Value> = identity.labels.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({
        "id": identity.id,
        "provider": identity.provider,
        "principalType": identity.principal_type.as_str(),
        "scopes": identity.scopes,
        "labels": labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_material_arguments() {
        let arg = parse_key_material("jwks=keys/jwks.json:jwks").unwrap();
        assert_eq!((arg.name.as_str(), arg.file.to_str(), arg.format), ("jwks", Some("keys/jwks.json"), KeyFormat::Jwks));
        let arg = parse_key_material("secret=/tmp/a:b").unwrap();
        assert_eq!((arg.file.to_str(), arg.format), (Some("/tmp/a:b"), KeyFormat::Raw), "a suffix that is no format is part of the path");
        let arg = parse_key_material("keys=k.json:api-keys").unwrap();
        assert_eq!(arg.format, KeyFormat::ApiKeys);
        for bad in ["jwks", "=file", "jwks="] {
            assert!(parse_key_material(bad).is_err(), "{bad}");
        }
    }
}
