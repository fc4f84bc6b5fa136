//! The CLI's own error: a one-line message plus an optional hint naming the
//! flag or file to fix. Library errors convert into it; it never carries
//! secret material because library errors never do.

use std::fmt;

/// Exit code of an error: bad arguments, unreadable input, a problem ward
/// could not decide on.
pub const EXIT_ERROR: u8 = 2;
/// Exit code of `ward serve` when its configuration cannot serve (the file,
/// a plugin it names, a server option, a required lockdown): sysexits'
/// `EX_CONFIG`. The systemd unit's `RestartPreventExitStatus=` names it, so
/// a bad config does not restart-loop.
pub const EXIT_CONFIG: u8 = 78;

/// An error that ends a command with exit code 2, or [`EXIT_CONFIG`].
#[derive(Debug)]
pub struct CliError {
    message: String,
    hint: Option<String>,
    exit: u8,
}

impl CliError {
    /// An error with a message only.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), hint: None, exit: EXIT_ERROR }
    }

    /// Marks the error as the configuration's: the process exits with
    /// [`EXIT_CONFIG`].
    pub fn config(mut self) -> Self {
        self.exit = EXIT_CONFIG;
        self
    }

    /// The process's exit code for this error.
    pub fn exit_code(&self) -> u8 {
        self.exit
    }

    /// Adds a second line suggesting the fix.
    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prints `ward: <message>` and the hint, if any, to stderr.
    pub fn report(&self) {
        eprintln!("ward: {}", self.message);
        if let Some(hint) = &self.hint {
            eprintln!("hint: {hint}");
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}
