//! The typed error every failure returns: JSONata's error code, the position in the expression
//! and a message in the reference implementation's words.

use std::fmt;

/// A parse or evaluation failure, with the reference implementation's error code (`S0201`,
/// `T2001`, `D3030`, ...). Codes starting with `U` are this crate's resource limits.
#[derive(Debug, Clone, PartialEq)]
pub struct Error {
    /// JSONata's error code, e.g. `T2001`.
    pub code: &'static str,
    /// Character offset in the expression the error refers to, when known.
    pub position: Option<usize>,
    /// The token (operator, function or variable name) involved, when known.
    pub token: Option<String>,
    /// Human-readable description.
    pub message: String,
}

impl Error {
    pub(crate) fn new(code: &'static str, message: impl Into<String>) -> Self {
        Error { code, position: None, token: None, message: message.into() }
    }

    pub(crate) fn at(code: &'static str, position: usize, message: impl Into<String>) -> Self {
        Error { code, position: Some(position), token: None, message: message.into() }
    }

    pub(crate) fn with_position(mut self, position: usize) -> Self {
        self.position.get_or_insert(position);
        self
    }

    pub(crate) fn with_token(mut self, token: &str) -> Self {
        if self.token.is_none() {
            self.token = Some(token.to_string());
        }
        self
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        if let Some(position) = self.position {
            write!(f, " (at position {position})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;
