//! `ward bench` (not implemented yet).

use std::process::ExitCode;

use super::CliError;

/// Arguments of `ward bench`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ward bench`.
pub fn run(_args: Args) -> Result<ExitCode, CliError> {
    Err(CliError::new("bench is not implemented yet"))
}
