//! The CLI's own error: a one-line message plus an optional hint naming the
//! flag or file to fix. Library errors convert into it; it never carries
//! secret material because library errors never do.

use std::fmt;

/// An error that ends a command with exit code 2.
#[derive(Debug)]
pub struct CliError {
    message: String,
    hint: Option<String>,
}

impl CliError {
    /// An error with a message only.
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), hint: None }
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
