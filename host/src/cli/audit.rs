//! `ward audit verify`, `ward audit export` and `ward audit keygen`.
//!
//! `verify` prints one JSON object on stdout and exits 0 when every link
//! holds, 1 at the first break (reported by seq, file, line and kind, never
//! by content), 2 when it could not decide (unreadable file or key, Redis
//! unreachable). With `--redis` it checks a fleet's chain in Redis, and the
//! head against the last record. `export` writes that chain as a file the
//! file form of `verify` checks offline, and prints the head to anchor.

use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::json;

use super::CliError;
use ward::audit::{AuditKey, REDIS_DEFAULT_KEY, RedisTarget, Verdict, export_chain, verify_chain, verify_files};

/// Subcommands of `ward audit`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Check an audit log's hash chain. Give the files oldest first:
    /// `ward audit verify audit.log.* audit.log --key audit.key`, or a
    /// fleet's chain in Redis: `ward audit verify --redis URL --key audit.key`.
    Verify {
        /// The log files in order (rotated files first, the live file last).
        #[arg(required_unless_present = "redis", conflicts_with = "redis", value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        redis: RedisArgs,
        /// The audit key file (raw bytes, mode 0600).
        #[arg(long, value_name = "K")]
        key: PathBuf,
        /// The log must reach at least this seq; a shorter log is reported
        /// as truncated (the chain alone cannot show a cut tail).
        #[arg(long, value_name = "N")]
        expect_last_seq: Option<u64>,
    },
    /// Write a fleet's chain from Redis as JSON Lines (a new file, mode
    /// 0600) that `ward audit verify FILE` checks offline; prints the head.
    Export {
        #[command(flatten)]
        redis: RedisArgs,
        /// The file to create (never replaced).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
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

/// Where a fleet's chain is in Redis.
#[derive(clap::Args)]
pub struct RedisArgs {
    /// The Redis URL (`redis://host:port/db`, `rediss://` for TLS); no password in it.
    #[arg(long, value_name = "URL", required = false)]
    redis: Option<String>,
    /// The chain's key in Redis (`audit.store.key`).
    #[arg(long, value_name = "NAME", default_value = REDIS_DEFAULT_KEY, requires = "redis")]
    stream: String,
    /// A file (mode 0600) holding the Redis password.
    #[arg(long, value_name = "FILE", requires = "redis")]
    password_file: Option<PathBuf>,
}

impl RedisArgs {
    fn target(&self) -> Result<Option<RedisTarget>, CliError> {
        let Some(url) = &self.redis else { return Ok(None) };
        RedisTarget::from_command_line(url, &self.stream, self.password_file.as_deref()).map(Some).map_err(|e| CliError::new(e.to_string()))
    }
}

/// Runs `ward audit ...`.
pub fn run(command: Command) -> Result<ExitCode, CliError> {
    match command {
        Command::Verify { files, redis, key, expect_last_seq } => match redis.target()? {
            Some(target) => verify_redis(&target, &key, expect_last_seq),
            None => verify(&files, &key, expect_last_seq),
        },
        Command::Export { redis, out } => match redis.target()? {
            Some(target) => export(&target, &out),
            None => Err(CliError::new("ward audit export needs --redis URL")),
        },
        Command::Keygen { out, force } => keygen(&out, force),
    }
}

fn audit_key(key: &std::path::Path) -> Result<AuditKey, CliError> {
    AuditKey::from_file(key).map_err(|e| CliError::new(e.to_string()).with_hint("pass the audit key file with --key (ward audit keygen --out FILE makes one)"))
}

fn verify(files: &[PathBuf], key: &std::path::Path, expect_last_seq: Option<u64>) -> Result<ExitCode, CliError> {
    let key = audit_key(key)?;
    let verdict = verify_files(&key, files, expect_last_seq).map_err(|e| CliError::new(e.to_string()))?;
    print_verdict(verdict)
}

fn verify_redis(target: &RedisTarget, key: &std::path::Path, expect_last_seq: Option<u64>) -> Result<ExitCode, CliError> {
    let key = audit_key(key)?;
    let verdict = verify_chain(&key, target).map_err(|e| CliError::new(e.to_string()))?;
    // An anchored head (docs/audit.md) the chain no longer reaches: cut.
    let verdict = match (verdict, expect_last_seq) {
        (Verdict::Valid { records, last_seq }, Some(want)) if last_seq.is_none_or(|last| last < want) => {
            Verdict::Broken(ward::audit::Break { seq: records, file: target.label().into(), line: records + 1, why: ward::audit::BreakKind::Truncated })
        }
        (verdict, _) => verdict,
    };
    print_verdict(verdict)
}

fn export(target: &RedisTarget, out: &std::path::Path) -> Result<ExitCode, CliError> {
    let exported = export_chain(target, out).map_err(|e| CliError::new(e.to_string()))?;
    let head = exported.head.as_ref().map(|(seq, mac)| json!({"seq": seq, "mac": mac}));
    println!("{}", json!({"records": exported.records, "out": out.display().to_string(), "head": head, "headMatchesLastRecord": exported.head_matches}));
    Ok(ExitCode::from(if exported.head_matches { 0 } else { 1 }))
}

fn print_verdict(verdict: Verdict) -> Result<ExitCode, CliError> {
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
