//! Why an image was refused: a machine code plus one sentence for people.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Machine-readable reason an upload was refused (serialised as `SCREAMING_SNAKE_CASE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RejectCode {
    /// Not a JPEG, PNG, WebP or GIF (or a variant of one we cannot read).
    UnsupportedFormat,
    /// The object has no bytes.
    Empty,
    /// The object is bigger than `Limits::max_bytes`.
    TooLarge,
    /// A side is shorter than `Limits::min_side`.
    TooSmall,
    /// A side is longer than `Limits::max_side`, or the pixel count exceeds `Limits::max_pixels`.
    DimensionsTooLarge,
    /// The bytes claim to be an image but cannot be read.
    Corrupt,
    /// A JPEG with more scans than `MAX_JPEG_SCANS` (each scan costs a pass over the image).
    TooManyScans,
    /// More marker segments, chunks or blocks than `MAX_SEGMENTS`.
    TooManySegments,
}

impl RejectCode {
    /// Every code, in declaration order.
    pub const ALL: [RejectCode; 8] = [
        RejectCode::UnsupportedFormat,
        RejectCode::Empty,
        RejectCode::TooLarge,
        RejectCode::TooSmall,
        RejectCode::DimensionsTooLarge,
        RejectCode::Corrupt,
        RejectCode::TooManyScans,
        RejectCode::TooManySegments,
    ];

    /// The code as it appears in JSON and error causes, e.g. `"UNSUPPORTED_FORMAT"`.
    pub fn as_str(self) -> &'static str {
        match self {
            RejectCode::UnsupportedFormat => "UNSUPPORTED_FORMAT",
            RejectCode::Empty => "EMPTY",
            RejectCode::TooLarge => "TOO_LARGE",
            RejectCode::TooSmall => "TOO_SMALL",
            RejectCode::DimensionsTooLarge => "DIMENSIONS_TOO_LARGE",
            RejectCode::Corrupt => "CORRUPT",
            RejectCode::TooManyScans => "TOO_MANY_SCANS",
            RejectCode::TooManySegments => "TOO_MANY_SEGMENTS",
        }
    }

    /// The inverse of [`RejectCode::as_str`].
    pub fn from_str_code(s: &str) -> Option<RejectCode> {
        RejectCode::ALL.into_iter().find(|c| c.as_str() == s)
    }
}

impl fmt::Display for RejectCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A refused image: the code and a sentence a person understands.
///
/// Displays as `"CODE: message"`; [`Rejection::parse`] reads that form back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{}: {}", code.as_str(), message)]
pub struct Rejection {
    /// The machine code.
    pub code: RejectCode,
    /// One sentence for people, e.g. "This is a HEIC image; upload a JPEG, PNG, WebP or GIF."
    pub message: String,
}

impl Rejection {
    /// A rejection with `code` and a sentence for people.
    pub fn new(code: RejectCode, message: impl Into<String>) -> Self {
        Rejection { code, message: message.into() }
    }

    /// Parse the `Display` form (`"CODE: message"`), e.g. from a Step Functions error cause.
    pub fn parse(s: &str) -> Option<Rejection> {
        let (code, message) = s.split_once(": ")?;
        let code = RejectCode::from_str_code(code.trim())?;
        Some(Rejection::new(code, message.trim()))
    }

    pub(crate) fn corrupt(message: impl Into<String>) -> Self {
        Rejection::new(RejectCode::Corrupt, message)
    }

    pub(crate) fn unsupported(what: &str) -> Self {
        Rejection::new(RejectCode::UnsupportedFormat, format!("{what}; upload a JPEG, PNG, WebP or GIF."))
    }
}
