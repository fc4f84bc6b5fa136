//! `ward verify` (not implemented yet).

use std::process::ExitCode;

use super::CliError;

/// Arguments of `ward verify`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ward verify`.
pub fn run(_args: Args) -> Result<ExitCode, CliError> {
    Err(CliError::new("verify is not implemented yet"))
}
