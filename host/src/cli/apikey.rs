//! `ward apikey`: keeps the api-key plugin's keys file, which holds SHA-256
//! hashes of keys and never a key.
//!
//! - `new` generates a key (256 bits from the OS), adds its hash to the file
//!   and prints the key once, on stdout; it is stored nowhere.
//! - `hash` prints the SHA-256 of a key read from stdin (never from argv,
//!   which `ps` shows to everyone).
//! - `revoke` marks an entry revoked; `check` validates a file.
//!
//! Every file is checked with the plugin's own parser (the `api-key-format`
//! crate, which the plugin builds too), before an edit and again on the result, so ward never writes a
//! file the plugin would refuse.

mod edit;
mod error;
mod generate;
mod store;

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use api_key_format::{keyfile, settings};

use super::CliError;
use error::ApiKeyError;

/// Subcommands of `ward apikey`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Generate a key, add its SHA-256 to the keys file, print the key once on stdout.
    #[command(
        after_help = "Example:\n  ward apikey new --file keys.json --prefix wk_live_ --subject svc-billing --type service \\\n      --scope read --label team=billing > billing.key"
    )]
    New(edit::NewArgs),
    /// Print the SHA-256 (hex) of a key read from stdin.
    #[command(after_help = "Example:\n  ward apikey hash < billing.key")]
    Hash,
    /// Mark the entry with this SHA-256 revoked; the plugin then denies it as `revoked`.
    #[command(after_help = "Example:\n  ward apikey revoke --file keys.json --sha256 \"$(ward apikey hash < billing.key)\"")]
    Revoke {
        /// The keys file.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
        /// The entry's hash, 64 lower-case hex digits (`ward apikey hash` prints it).
        #[arg(long, value_name = "HEX")]
        sha256: String,
    },
    /// Check a keys file as the plugin will: prints JSON, exits 0 valid / 1 refused.
    Check {
        /// The keys file.
        #[arg(long, value_name = "FILE")]
        file: PathBuf,
    },
}

/// Runs `ward apikey ...`.
pub fn run(command: Command) -> Result<ExitCode, CliError> {
    let outcome = match command {
        Command::New(args) => edit::new(&args),
        Command::Hash => generate::hash_stdin(),
        Command::Revoke { file, sha256 } => edit::revoke(&file, &sha256),
        Command::Check { file } => check(&file),
    };
    outcome.map_err(CliError::from)
}

fn check(path: &std::path::Path) -> Result<ExitCode, ApiKeyError> {
    let bytes = store::read(path)?.ok_or_else(|| ApiKeyError::Read { path: path.display().to_string(), reason: "not found".into() })?;
    let (out, code) = match keyfile::parse(&bytes) {
        Ok(file) => {
            let revoked = file.entries.iter().filter(|e| e.revoked).count();
            (json!({ "valid": true, "keys": file.entries.len(), "revoked": revoked }), 0)
        }
        Err(problem) => (json!({ "valid": false, "problem": problem.to_string() }), 1),
    };
    println!("{out}");
    Ok(ExitCode::from(code))
}
