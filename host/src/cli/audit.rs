//! `ward audit ...` (not implemented yet).

use std::process::ExitCode;

use super::CliError;

/// Subcommands of `ward audit`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Check an audit log's hash chain.
    Verify {},
}

/// Runs `ward audit ...`.
pub fn run(_command: Command) -> Result<ExitCode, CliError> {
    Err(CliError::new("audit is not implemented yet"))
}
