//! `ward audit verify` and `ward audit keygen`.
//!
//! `verify` prints one JSON object on stdout and exits 0 when every link
//! holds, 1 at the first break (reported by seq, file, line and kind, never
//! by content), 2 when it could not decide (unreadable file or key).

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use super::CliError;
use ward::audit::{AuditKey, Verdict, verify_files};

/// Subcommands of `ward audit`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Check an audit log's hash chain. Give the files oldest first:
    /// `ward audit verify audit.log.* audit.log --key audit.key`.
    Verify {
        /// The log files in order (rotated files first, the live file last).
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// The audit key file (raw bytes, mode 0600).
        #[arg(long, value_name = "K")]
        key: PathBuf,
        /// The log must reach at least this seq; a shorter log is reported
        /// as truncated (the chain alone cannot show a cut tail).
        #[arg(long, value_name = "N")]
        expect_last_seq: Option<u64>,
    },
    /// Generate a random 32-byte audit key file (mode 0600).
    Keygen {
        /// Where to write the key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Replace an existing file.
        #[arg(long)]
        force: bool,
    },
}

/// Runs `ward audit ...`.
pub fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Verify { files, key, expect_last_seq } => verify(&files, &key, expect_last_seq),
        Command::Keygen { out, force } => keygen(&out, force),
    }
}

fn verify(files: &[PathBuf], key: &std::path::Path, expect_last_seq: Option<u64>) -> Result<ExitCode, CliError> {
    let key = AuditKey::from_file(key)
        .map_err(|e| CliError::new(e.to_string()).with_hint("pass the audit key file with --key (ward audit keygen --out FILE makes one)"))?;
    let verdict = verify_files(&key, files, expect_last_seq).map_err(|e| CliError::new(e.to_string()))?;
    let (out, code) = match verdict {
        Verdict::Valid { records, last_seq } => (json!({"valid": true, "records": records, "lastSeq": last_seq}), 0),
        Verdict::Broken(b) => (json!({"valid": false, "seq": b.seq, "file": b.file.display().to_string(), "line": b.line, "why": b.why.as_str()}), 1),
    };
    println!("{out}");
    Ok(ExitCode::from(code))
}

fn keygen(out: &std::path::Path, force: bool) -> Result<ExitCode, CliError> {
    let key = AuditKey::generate();
    key.write_file(out, force).map_err(|e| match e {
        ward::audit::KeyError::Exists { .. } => CliError::new(e.to_string()).with_hint("pass --force to replace it"),
        other => CliError::new(other.to_string()),
    })?;
    eprintln!("wrote audit key to {} (mode 0600)", out.display());
    Ok(ExitCode::SUCCESS)
}
