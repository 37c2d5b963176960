//! Header readers: dimensions, orientation and animation from the first bytes, never pixels.
//!
//! Every read is bounds-checked. Running out of bytes is reported as [`Fail::Need`] with the
//! prefix length required, so the caller can fetch more or call the file truncated.

mod gif;
mod jpeg;
mod png;
mod webp;

pub(crate) use gif::first_image_end as gif_first_image_end;
pub(crate) use jpeg::is_start_of_frame;
pub(crate) use png::check_budget as check_png_budget;
pub(crate) use webp::check_budget as check_webp_budget;

use crate::exif::ExifSubset;
use crate::format::Format;
use crate::reject::Rejection;

/// What a header reader found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Header {
    pub width: u32,
    pub height: u32,
    pub orientation: u8,
    pub animated: bool,
    pub exif: ExifSubset,
}

impl Header {
    fn new(width: u32, height: u32) -> Self {
        Header { width, height, orientation: 1, animated: false, exif: ExifSubset::default() }
    }

    fn apply_exif(&mut self, exif: Option<crate::exif::Exif>) {
        if let Some(e) = exif {
            self.orientation = e.orientation.unwrap_or(1);
            self.exif = e.subset;
        }
    }
}

/// Why a header read stopped.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The prefix must be at least this many bytes long.
    Need(usize),
    /// The bytes are not a readable header.
    Bad(Rejection),
}

pub(crate) type Read<T> = Result<T, Fail>;

/// Read the header of `data`, already sniffed as `format`.
pub(crate) fn read(format: Format, data: &[u8]) -> Read<Header> {
    match format {
        Format::Jpeg => jpeg::read(data),
        Format::Png => png::read(data),
        Format::Gif => gif::read(data),
        Format::Webp => webp::read(data),
    }
}

fn bad(message: impl Into<String>) -> Fail {
    Fail::Bad(Rejection::corrupt(message))
}

/// `len` bytes at `start`, or `Need` the end of that range.
fn bytes(data: &[u8], start: usize, len: usize) -> Read<&[u8]> {
    let end = start.checked_add(len).ok_or_else(|| bad("The image header is damaged."))?;
    data.get(start..end).ok_or(Fail::Need(end))
}

fn array<const N: usize>(data: &[u8], at: usize) -> Read<[u8; N]> {
    let b = bytes(data, at, N)?;
    b.try_into().map_err(|_| Fail::Need(at.saturating_add(N)))
}

fn byte(data: &[u8], at: usize) -> Read<u8> {
    Ok(array::<1>(data, at)?[0])
}

fn be32(data: &[u8], at: usize) -> Read<u32> {
    Ok(u32::from_be_bytes(array(data, at)?))
}

fn le16(data: &[u8], at: usize) -> Read<u16> {
    Ok(u16::from_le_bytes(array(data, at)?))
}

fn le24(data: &[u8], at: usize) -> Read<u32> {
    let [a, b, c] = array(data, at)?;
    Ok(u32::from_le_bytes([a, b, c, 0]))
}

fn le32(data: &[u8], at: usize) -> Read<u32> {
    Ok(u32::from_le_bytes(array(data, at)?))
}
