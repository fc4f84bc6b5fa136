//! Argument parsing and dispatch. Each subcommand lives in its own module with
//! an `Args` struct and a `run` function; this file only wires them together and
//! turns the outcome into an exit code, printing an error once.

mod audit;
mod authenticate;
mod bench;
mod error;
mod keygen;
mod plugin;
mod sign;
mod verify;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::CliError;

const EXIT_CODES: &str = "\
Exit codes:
  0  success (verify: valid; authenticate: allow)
  1  a definite negative answer (verify: refused; authenticate: deny)
  2  an error: bad arguments, unreadable input, a problem ward could not decide on";

#[derive(Parser)]
#[command(name = "ward", version, about = "Run third-party authentication plugins as signed, sandboxed, audited WebAssembly components", after_help = EXIT_CODES)]
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
    /// Measure the call path against its baselines and print JSON.
    Bench(bench::Args),
    /// Work with the tamper-evident audit log.
    #[command(subcommand)]
    Audit(audit::Command),
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
        Command::Bench(args) => bench::run(args),
        Command::Audit(command) => audit::run(command),
    };
    match outcome {
        Ok(code) => code,
        Err(err) => {
            err.report();
            ExitCode::from(2)
        }
    }
}
