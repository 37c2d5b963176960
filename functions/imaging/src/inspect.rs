//! Header validation: format, size limits, dimensions, orientation. Never decodes pixels.

use crate::exif::ExifSubset;
use crate::format::{sniff, Format, SNIFF_BYTES};
use crate::header::{self, Fail};
use crate::reject::{RejectCode, Rejection};
use serde::{Deserialize, Serialize};

/// What an upload may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Largest object size in bytes.
    pub max_bytes: u64,
    /// Shortest allowed side in pixels.
    pub min_side: u32,
    /// Longest allowed side in pixels.
    pub max_side: u32,
    /// Largest allowed width × height.
    pub max_pixels: u64,
}

impl Default for Limits {
    /// 15 MiB, sides 80..=10000 px, at most 50 megapixels.
    fn default() -> Self {
        Limits { max_bytes: 15 * 1024 * 1024, min_side: 80, max_side: 10_000, max_pixels: 50_000_000 }
    }
}

/// What validation learned about an accepted image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImageInfo {
    /// Format from the magic bytes.
    pub format: Format,
    /// Stored width, before EXIF orientation.
    pub width: u32,
    /// Stored height, before EXIF orientation.
    pub height: u32,
    /// EXIF orientation 1..=8; 1 when absent.
    pub orientation: u8,
    /// Width as displayed (orientations 5..=8 swap the sides).
    pub oriented_width: u32,
    /// Height as displayed.
    pub oriented_height: u32,
    /// More than one frame (or a looping extension) was seen in the header bytes.
    pub animated: bool,
    /// Selected EXIF fields (omitted from JSON when empty).
    #[serde(default, skip_serializing_if = "ExifSubset::is_empty")]
    pub exif: ExifSubset,
}

/// The result of [`inspect`]: either the answer, or a request for a longer prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Inspection {
    /// The header was read and the image passes the limits.
    Complete(ImageInfo),
    /// Call again with the first `bytes` bytes of the object (never more than its size).
    NeedMore {
        /// Prefix length wanted: what the header reader needs plus read-ahead, capped at the object size.
        bytes: u64,
    },
}

/// How many leading bytes to fetch for the first call to [`inspect`].
pub const INITIAL_HEADER_BYTES: u64 = 64 * 1024;

/// Validate an image from its first bytes.
///
/// `prefix` is the start of the object (e.g. from a ranged GET of [`INITIAL_HEADER_BYTES`]),
/// `total_len` the object's full size. Checks emptiness and size first, then sniffs magic bytes
/// and reads the header. If the header lies beyond `prefix`, returns [`Inspection::NeedMore`];
/// if `prefix` already is the whole object, that is a truncated ([`RejectCode::Corrupt`]) file.
pub fn inspect(prefix: &[u8], total_len: u64, limits: &Limits) -> Result<Inspection, Rejection> {
    if total_len == 0 {
        return Err(Rejection::new(RejectCode::Empty, "The file is empty."));
    }
    if total_len > limits.max_bytes {
        return Err(Rejection::new(
            RejectCode::TooLarge,
            format!("The file is {}; the limit is {}.", human_bytes(total_len), human_bytes(limits.max_bytes)),
        ));
    }
    let usable = usize::try_from(total_len).unwrap_or(usize::MAX).min(prefix.len());
    let prefix = &prefix[..usable];
    let complete = prefix.len() as u64 >= total_len;
    // At least double the prefix each time, so that a header spread over many segments (a long
    // APPn chain) takes a logarithmic number of fetches, not one per segment.
    let need_more = |needed: usize| Inspection::NeedMore {
        bytes: (needed as u64)
            .max(prefix.len() as u64 + 1)
            .saturating_add(INITIAL_HEADER_BYTES)
            .max(2 * prefix.len() as u64)
            .min(total_len),
    };
    if prefix.len() < SNIFF_BYTES && !complete {
        return Ok(need_more(SNIFF_BYTES));
    }
    let format = sniff(prefix)?;
    let header = match header::read(format, prefix) {
        Ok(h) => h,
        Err(Fail::Bad(rejection)) => return Err(rejection),
        Err(Fail::Need(n)) if !complete => return Ok(need_more(n)),
        Err(Fail::Need(_)) => {
            return Err(Rejection::corrupt(format!(
                "The {} file is cut short before its header ends.",
                format_name(format)
            )))
        }
    };
    check_dimensions(header.width, header.height, limits)?;
    let swap = header.orientation >= 5;
    Ok(Inspection::Complete(ImageInfo {
        format,
        width: header.width,
        height: header.height,
        orientation: header.orientation,
        oriented_width: if swap { header.height } else { header.width },
        oriented_height: if swap { header.width } else { header.height },
        animated: header.animated,
        exif: header.exif,
    }))
}

/// Reject zero, too-large and too-small dimensions.
pub(crate) fn check_dimensions(width: u32, height: u32, limits: &Limits) -> Result<(), Rejection> {
    if width == 0 || height == 0 {
        return Err(Rejection::corrupt(format!(
            "The image header says it is {width}×{height} pixels, which is not a real image."
        )));
    }
    let pixels = u64::from(width) * u64::from(height);
    if width > limits.max_side || height > limits.max_side || pixels > limits.max_pixels {
        return Err(Rejection::new(
            RejectCode::DimensionsTooLarge,
            format!(
                "The image is {width}×{height} pixels; the limit is {} pixels per side and {} megapixels.",
                limits.max_side,
                limits.max_pixels as f64 / 1e6
            ),
        ));
    }
    if width < limits.min_side || height < limits.min_side {
        return Err(Rejection::new(
            RejectCode::TooSmall,
            format!("The image is {width}×{height} pixels; each side must be at least {} pixels.", limits.min_side),
        ));
    }
    Ok(())
}

pub(crate) fn format_name(format: Format) -> &'static str {
    match format {
        Format::Jpeg => "JPEG",
        Format::Png => "PNG",
        Format::Webp => "WebP",
        Format::Gif => "GIF",
    }
}

fn human_bytes(n: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    if n >= 1024 * 1024 {
        format!("{:.1} MiB", n as f64 / MIB)
    } else if n >= 1024 {
        format!("{:.1} KiB", n as f64 / 1024.0)
    } else {
        format!("{n} bytes")
    }
}
