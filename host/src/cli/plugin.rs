//! `ward plugin build` / `ward plugin inspect` (not implemented yet).

use std::process::ExitCode;

use super::CliError;

/// Subcommands of `ward plugin`.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Compile a plugin crate into a component that imports nothing.
    Build {},
    /// Print a component's imports, exports, size and sha256.
    Inspect {},
}

/// Runs `ward plugin ...`.
pub fn run(_command: Command) -> Result<ExitCode, CliError> {
    Err(CliError::new("plugin is not implemented yet"))
}
