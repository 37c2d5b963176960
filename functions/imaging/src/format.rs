//! Accepted formats and magic-byte sniffing (file names and extensions are never trusted).

use crate::reject::Rejection;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An accepted image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// JPEG (baseline, extended, progressive or lossless; gray, YCbCr/RGB or CMYK).
    Jpeg,
    /// PNG, including 16-bit, palette and APNG (first frame).
    Png,
    /// WebP: lossy, lossless or extended (animated: first frame).
    Webp,
    /// GIF 87a/89a (animated: first frame).
    Gif,
}

impl Format {
    /// The MIME type, e.g. `"image/jpeg"`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Jpeg => "image/jpeg",
            Format::Png => "image/png",
            Format::Webp => "image/webp",
            Format::Gif => "image/gif",
        }
    }

    /// The usual file extension without a dot, e.g. `"jpg"`.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Gif => "gif",
        }
    }

    /// The serde name, e.g. `"jpeg"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Webp => "webp",
            Format::Gif => "gif",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Bytes needed to tell every format we know apart.
pub(crate) const SNIFF_BYTES: usize = 16;

pub(crate) const PNG_SIGNATURE: &[u8; 8] = b"\x89PNG\r\n\x1a\n";

/// Identify the format from the first bytes, or explain what the file is instead.
pub(crate) fn sniff(head: &[u8]) -> Result<Format, Rejection> {
    // Signatures are matched loosely enough that a cut-short file is reported as a damaged
    // image of its kind (by the header reader) rather than as an unknown format.
    if head.starts_with(&[0xFF, 0xD8]) {
        return Ok(Format::Jpeg);
    }
    if head.starts_with(b"\x89PNG") {
        return Ok(Format::Png);
    }
    if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") || head == b"GIF8" {
        return Ok(Format::Gif);
    }
    if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        return Ok(Format::Webp);
    }
    Err(Rejection::unsupported(&describe_unsupported(head)))
}

/// A short description of a file we do not accept, starting "This is ...".
fn describe_unsupported(head: &[u8]) -> String {
    if head.get(4..8) == Some(b"ftyp") {
        let brand = head.get(8..12).unwrap_or_default();
        let what = match brand {
            b"heic" | b"heix" | b"hevc" | b"hevx" | b"heim" | b"heis" | b"hevm" | b"hevs" => "a HEIC image",
            b"mif1" | b"msf1" => "a HEIF image",
            b"avif" | b"avis" => "an AVIF image",
            b"crx " => "a Canon raw (CR3) photo",
            b"qt  " => "a QuickTime video",
            _ => "a video or HEIF container",
        };
        return format!("This is {what}");
    }
    let known: &[(&[u8], &str)] = &[
        (b"II*\0", "a TIFF image (or a camera raw file)"),
        (b"MM\0*", "a TIFF image (or a camera raw file)"),
        (b"BM", "a BMP image"),
        (b"%PDF", "a PDF document"),
        (b"8BPS", "a Photoshop (PSD) file"),
        (b"\0\0\x01\0", "an icon (ICO) file"),
        (b"\xFF\x0A", "a JPEG XL image"),
        (b"\0\0\0\x0CJXL ", "a JPEG XL image"),
        (b"\0\0\0\x0CjP  ", "a JPEG 2000 image"),
        (b"\xFF\x4F\xFF\x51", "a JPEG 2000 image"),
        (b"PK\x03\x04", "a ZIP archive (or an office document)"),
        (b"\x1F\x8B", "a gzip archive"),
        (b"RIFF", "a RIFF file (audio or video), not a WebP image"),
        (b"\x1A\x45\xDF\xA3", "a Matroska or WebM video"),
        (b"ID3", "an MP3 audio file"),
        (b"OggS", "an Ogg audio or video file"),
        (b"\x7FELF", "a program, not an image"),
        (b"MZ", "a Windows program, not an image"),
    ];
    if let Some((_, what)) = known.iter().find(|(magic, _)| head.starts_with(magic)) {
        return format!("This is {what}");
    }
    if let Some(text) = as_text(head) {
        let lower = text.trim_start().to_ascii_lowercase();
        let what = if lower.starts_with("<svg") || (lower.starts_with("<?xml") && lower.contains("<svg")) {
            "an SVG drawing"
        } else if lower.starts_with("<?xml") {
            "an XML document"
        } else if lower.starts_with("<!doctype html") || lower.starts_with("<html") {
            "an HTML page"
        } else if lower.starts_with('{') || lower.starts_with('[') {
            "a JSON or text file"
        } else {
            "a text file"
        };
        return format!("This is {what}, not an image");
    }
    "This file is not an image format we recognise".to_string()
}

/// The bytes as text when they look like UTF-8 text without binary control characters.
fn as_text(head: &[u8]) -> Option<&str> {
    let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
    if head.is_empty() {
        return None;
    }
    // The prefix may end mid-character: accept an incomplete final sequence.
    let text = match std::str::from_utf8(head) {
        Ok(t) => t,
        Err(e) if e.error_len().is_none() && e.valid_up_to() > 0 => {
            std::str::from_utf8(&head[..e.valid_up_to()]).ok()?
        }
        Err(_) => return None,
    };
    let binary = text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t' | '\x0C'));
    (!binary).then_some(text)
}
