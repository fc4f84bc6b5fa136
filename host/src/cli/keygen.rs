//! `ward keygen` (not implemented yet).

use std::process::ExitCode;

use super::CliError;

/// Arguments of `ward keygen`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ward keygen`.
pub fn run(_args: Args) -> Result<ExitCode, CliError> {
    Err(CliError::new("keygen is not implemented yet"))
}
