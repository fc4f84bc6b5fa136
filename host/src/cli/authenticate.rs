//! `ward authenticate`: one authentication through the real gate and sandbox,
//! the credential read from stdin (argv is visible to every user in `ps`).

use std::io::Read;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use serde_json::json;
use ward::identity::{Identity, IdentityKey};
use ward::sandbox::{Credential, Decision, Limits, PluginOptions, Runtime, RuntimeConfig, WasiMode};

use super::CliError;
use super::trust_source::TrustSource;

/// Arguments of `ward authenticate`.
#[derive(clap::Args)]
pub struct Args {
    /// The signed envelope (`<plugin>.signed.json`).
    #[arg(long)]
    envelope: PathBuf,
    /// The component the envelope signs.
    #[arg(long)]
    component: PathBuf,
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

/// Runs `ward authenticate`.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    let now_ms = args.now.unwrap_or_else(ward::trust::now_ms);
    let envelope = super::read_file(&args.envelope, "envelope")?;
    let component = super::read_file(&args.component, "component")?;
    let policy = args.trust.policy(&envelope)?;
    let verified = ward::trust::verify(&envelope, component, &policy, now_ms)
        .map_err(|refusal| CliError::new(format!("the trust gate refused the plugin: {} ({refusal})", refusal.code())))?;
    let identity_key = IdentityKey::from_file(&args.identity_key).map_err(|err| CliError::new(err.to_string()))?;
    let wasi = match args.wasi {
        Wasi::DenyAll => WasiMode::DenyAll,
        Wasi::Refuse => WasiMode::Refuse,
    };
    let runtime = Runtime::new(RuntimeConfig { wasi, ..RuntimeConfig::default() }, identity_key).map_err(|err| CliError::new(err.to_string()))?;
    let limits = Limits { timeout: Duration::from_millis(args.timeout_ms), ..Limits::default() };
    let plugin = runtime
        .load(verified, PluginOptions { limits, settings: args.settings, keys: Vec::new() })
        .map_err(|err| CliError::new(format!("cannot load the plugin: {} ({err})", err.code())))?;
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
