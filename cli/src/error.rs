//! The error every subcommand returns: a message for stderr. Anything
//! displayable converts into it, so commands can use `?` on producer,
//! consumer, admin, broker and I/O errors alike.

use std::fmt;

/// A failed command: `durian: <message>` on stderr and exit status 1.
#[derive(Debug)]
pub struct CliError {
    message: String,
}

impl CliError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> CliError {
        CliError {
            message: message.into(),
        }
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl<E: std::error::Error> From<E> for CliError {
    fn from(error: E) -> CliError {
        CliError::new(error.to_string())
    }
}
