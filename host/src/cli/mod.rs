//! Argument parsing and dispatch. Each subcommand lives in its own module with
//! an `Args` struct and a `run` function; this file only wires them together and
//! turns the outcome into an exit code, printing an error once.

mod apikey;
mod audit;
mod authenticate;
mod check;
mod config_arg;
mod error;
mod generate;
mod keygen;
mod plugin;
mod runtime_arg;
mod serve;
mod sign;
mod trust_source;
mod verify;

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::CliError;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (verify: valid; authenticate: allow)
  1  a definite negative answer (verify: refused; authenticate: deny)
  2  an error: bad arguments, unreadable input, a problem ward could not decide on
  78 serve: the configuration cannot serve (starting again will not help)";

/// `ward --version`: the crate version and the commit it was built from
/// (`unknown` from a tarball; host/build.rs).
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("WARD_GIT_HASH"), ")");

#[derive(Parser)]
#[command(name = "ward", version = VERSION, about = "Run third-party authentication plugins as signed, sandboxed, audited WebAssembly components", after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate an Ed25519 signing key pair, or an identity HMAC key.
    Keygen(keygen::Args),
    /// Sign a plugin entry (component) into a Haechi-compatible envelope.
    Sign(sign::Args),
    /// Verify a signed envelope against trust anchors and policy.
    Verify(verify::Args),
    /// Run one authentication through the sandbox; the credential is read from stdin.
    Authenticate(authenticate::Args),
    /// Build or inspect plugin components.
    #[command(subcommand)]
    Plugin(plugin::Command),
    /// Check a ward.json the way `serve` would, without serving.
    Check(check::Args),
    /// Run the forward-auth sidecar.
    Serve(serve::Args),
    /// Work with the tamper-evident audit log.
    #[command(subcommand)]
    Audit(audit::Command),
    /// Keep the api-key plugin's keys file: new keys, hashes, revocation.
    #[command(subcommand)]
    Apikey(apikey::Command),
    /// Write shell completions and man pages (for packaging).
    #[command(name = "__generate", hide = true)]
    Generate(generate::Args),
}

/// Parses the command line, runs the command, prints any error once.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Keygen(args) => keygen::run(args),
        Command::Sign(args) => sign::run(args),
        Command::Verify(args) => verify::run(args),
        Command::Authenticate(args) => authenticate::run(args),
        Command::Plugin(command) => plugin::run(command),
        Command::Audit(command) => audit::run(command),
        Command::Check(args) => check::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Apikey(command) => apikey::run(command),
        Command::Generate(args) => generate::run(args),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            err.report();
            ExitCode::from(err.exit_code())
        }
    }
}

/// Files a command reads are capped: ward never needs more, and a huge or
/// endless file (a FIFO, /dev/zero) must not exhaust memory.
const MAX_INPUT_BYTES: u64 = 64 << 20;

/// Reads a whole input file, naming `what` and the path on failure.
pub(crate) fn read_file(path: &Path, what: &str) -> Result<Vec<u8>, CliError> {
    read_capped(path, MAX_INPUT_BYTES, what)
}

/// Reads at most `max` bytes of a file named on the command line, refusing
/// a larger one. Opened by plain path and blocking, unlike the files a
/// config names (`operator_file` in the library): the operator who typed the
/// command sees a pipe wait, and `<(…)` process substitution is a pipe.
pub(crate) fn read_capped(path: &Path, max: u64, what: &str) -> Result<Vec<u8>, CliError> {
    use std::io::Read;
    let fail = |reason: String| CliError::new(format!("cannot read {what} {}: {reason}", path.display()));
    let file = std::fs::File::open(path).map_err(|err| fail(err.kind().to_string()))?;
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(|err| fail(err.kind().to_string()))?;
    if bytes.len() as u64 > max {
        return Err(fail(format!("larger than {max} bytes")));
    }
    Ok(bytes)
}

/// Reads a text input file (PEM, JSON).
pub(crate) fn read_text(path: &Path, what: &str) -> Result<String, CliError> {
    String::from_utf8(read_file(path, what)?).map_err(|_| CliError::new(format!("{what} {} is not UTF-8 text", path.display())))
}

/// The trust policy from a `ward.json`'s `trust` section.
pub(crate) fn config_trust_policy(path: &Path) -> Result<ward::trust::TrustPolicy, CliError> {
    ward::config::read_trust_policy(path).map_err(|err| CliError::new(err.to_string()))
}
