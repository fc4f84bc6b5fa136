//! `ward authenticate` (not implemented yet).

use std::process::ExitCode;

use super::CliError;

/// Arguments of `ward authenticate`.
#[derive(clap::Args)]
pub struct Args {}

/// Runs `ward authenticate`.
pub fn run(_args: Args) -> Result<ExitCode, CliError> {
    Err(CliError::new("authenticate is not implemented yet"))
}
