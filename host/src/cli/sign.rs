//! `ward sign` (not implemented yet).

use std::process::ExitCode;

use super::CliError;

/// Arguments of `ward sign`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ward sign`.
pub fn run(_args: Args) -> Result<ExitCode, CliError> {
    Err(CliError::new("sign is not implemented yet"))
}
