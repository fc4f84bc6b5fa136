//! `ward keygen`: an Ed25519 signing key pair (the files Haechi's
//! `plugin-keygen` writes), or with `--identity-key` the identity HMAC key.
//! Private material goes to files created mode 0600 and never to stdout.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rand_core::RngCore as _;
use serde_json::json;
use ward::trust::{SigningSecret, public_key_to_pem};
use zeroize::Zeroizing;

use super::CliError;

/// Arguments of `ward keygen`.
#[derive(clap::Args)]
#[command(after_help = "Examples:\n  ward keygen --key-id acme-signer --out-dir keys\n  ward keygen --identity-key /etc/ward/identity.key")]
pub struct Args {
    /// Key id: names the files (<ID>.key, <ID>.pub) and the trust anchor.
    #[arg(long, value_name = "ID", required_unless_present = "identity_key")]
    key_id: Option<String>,
    /// Directory for <ID>.key (PKCS#8 PEM, mode 0600) and <ID>.pub (SPKI PEM).
    #[arg(long, value_name = "DIR", default_value = ".", conflicts_with = "identity_key")]
    out_dir: PathBuf,
    /// Instead of a signing pair, write 32 random bytes (mode 0600) for the identity HMAC.
    #[arg(long, value_name = "FILE", conflicts_with = "key_id")]
    identity_key: Option<PathBuf>,
    /// Overwrite existing key files.
    #[arg(long)]
    force: bool,
}

/// Runs `ward keygen`.
pub fn run(args: Args) -> Result<ExitCode, CliError> {
    if let Some(path) = &args.identity_key {
        let mut bytes = Zeroizing::new([0u8; 32]);
        rand_core::OsRng.fill_bytes(bytes.as_mut());
        write_private(path, bytes.as_ref(), args.force)?;
        print(&json!({ "ok": true, "command": "keygen", "identityKeyPath": path.display().to_string() }));
        return Ok(ExitCode::SUCCESS);
    }
    let key_id = args.key_id.as_deref().unwrap_or_default();
    check_key_id(key_id)?;
    let private_path = args.out_dir.join(format!("{key_id}.key"));
    let public_path = args.out_dir.join(format!("{key_id}.pub"));
    if !args.force {
        // Checked for both before writing either, so a refusal never leaves
        // a new private key next to an old public one.
        for path in [&private_path, &public_path] {
            if path.exists() {
                return Err(CliError::new(format!("{} already exists", path.display())).with_hint("pass --force to replace it, or choose another --key-id"));
            }
        }
    }
    fs::create_dir_all(&args.out_dir).map_err(|e| CliError::new(format!("cannot create {}: {e}", args.out_dir.display())))?;
    let secret = SigningSecret::generate();
    let public_pem = public_key_to_pem(&secret.verifying_key());
    write_private(&private_path, secret.to_pkcs8_pem().as_bytes(), args.force)?;
    fs::write(&public_path, &public_pem).map_err(|e| CliError::new(format!("cannot write {}: {e}", public_path.display())))?;
    print(&json!({
        "ok": true,
        "command": "keygen",
        "keyId": key_id,
        "privateKeyPath": private_path.display().to_string(),
        "publicKeyPath": public_path.display().to_string(),
        "publicKeyPem": public_pem,
    }));
    Ok(ExitCode::SUCCESS)
}

/// The id becomes a file name, so it must not climb out of `--out-dir`.
fn check_key_id(key_id: &str) -> Result<(), CliError> {
    let ok = !key_id.is_empty() && !key_id.starts_with('.') && key_id.len() <= 128 && key_id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b));
    if ok { Ok(()) } else { Err(CliError::new(format!("--key-id {key_id:?} is not usable as a file name")).with_hint("use letters, digits, '.', '_' and '-'")) }
}

/// Creates `path` readable by its owner only; the mode is set at creation, so
/// the secret is never briefly world-readable.
fn write_private(path: &Path, bytes: &[u8], force: bool) -> Result<(), CliError> {
    let fail = |e: std::io::Error| {
        let err = CliError::new(format!("cannot write {}: {e}", path.display()));
        if e.kind() == std::io::ErrorKind::AlreadyExists { err.with_hint("pass --force to replace it") } else { err }
    };
    let mut options = OpenOptions::new();
    options.write(true);
    if force {
        options.create(true).truncate(true);
    } else {
        options.create_new(true);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
        options.mode(0o600);
        let mut file = options.open(path).map_err(fail)?;
        // An existing file opened with --force keeps its old mode otherwise.
        file.set_permissions(fs::Permissions::from_mode(0o600)).map_err(fail)?;
        file.write_all(bytes).map_err(fail)?;
        file.sync_all().map_err(fail)
    }
    #[cfg(not(unix))]
    {
        let mut file = options.open(path).map_err(fail)?;
        file.write_all(bytes).map_err(fail)
    }
}

pub(super) fn print(value: &serde_json::Value) {
    println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
}
