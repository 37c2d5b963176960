//! WebP: the first chunk (VP8, VP8L or VP8X) gives the size; VP8X gives the animation flag and
//! may be followed by an EXIF chunk, read if it lies within the prefix.

use super::{bad, bytes, le16, le24, le32, Header, Read};
use crate::budget::{Tally, MAX_SEGMENTS};
use crate::exif;
use crate::reject::Rejection;

pub(super) fn read(data: &[u8]) -> Read<Header> {
    let riff = bytes(data, 0, 20)?;
    if &riff[0..4] != b"RIFF" || &riff[8..12] != b"WEBP" {
        return Err(bad("The WebP signature is damaged."));
    }
    let chunk = &riff[12..16];
    let chunk_len = le32(riff, 16)? as usize;
    match chunk {
        b"VP8 " => {
            let body = bytes(data, 20, 10)?;
            // Bit 0 of the frame tag is 0 for a key frame; a still image starts with one.
            if body[0] & 1 != 0 || body[3..6] != [0x9D, 0x01, 0x2A] {
                return Err(bad("The WebP (VP8) image header is damaged."));
            }
            let width = le16(body, 6)? & 0x3FFF;
            let height = le16(body, 8)? & 0x3FFF;
            Ok(Header::new(u32::from(width), u32::from(height)))
        }
        b"VP8L" => {
            let body = bytes(data, 20, 5)?;
            if body[0] != 0x2F {
                return Err(bad("The WebP (lossless) image header is damaged."));
            }
            let bits = le32(body, 1)?;
            Ok(Header::new((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1))
        }
        b"VP8X" => {
            let body = bytes(data, 20, 10)?;
            let flags = body[0];
            let mut header = Header::new(le24(body, 4)? + 1, le24(body, 7)? + 1);
            header.animated = flags & 0x02 != 0;
            if flags & 0x08 != 0 {
                let exif = find_chunk(data, 20usize.saturating_add(padded(chunk_len)), b"EXIF");
                header.apply_exif(exif.and_then(exif::parse));
            }
            Ok(header)
        }
        _ => Err(bad("The WebP file does not start with an image chunk.")),
    }
}

fn padded(len: usize) -> usize {
    len.saturating_add(len & 1)
}

/// The body of the first `kind` chunk at or after `pos` that lies wholly within `data`, among
/// the first [`MAX_SEGMENTS`] chunks.
fn find_chunk<'a>(data: &'a [u8], mut pos: usize, kind: &[u8; 4]) -> Option<&'a [u8]> {
    for _ in 0..MAX_SEGMENTS {
        let head = data.get(pos..pos.checked_add(8)?)?;
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        let start = pos + 8;
        if &head[0..4] == kind {
            return data.get(start..start.checked_add(len)?);
        }
        pos = start.checked_add(padded(len))?;
    }
    None
}

/// Refuse a whole WebP with more top-level chunks than the budget allows, animation frames
/// (ANMF: only the first is decoded) aside. Damage is the decoder's to report.
pub(crate) fn check_budget(data: &[u8]) -> Result<(), Rejection> {
    let mut tally = Tally::default();
    let mut pos = 12usize;
    while let Some(head) = pos.checked_add(8).and_then(|end| data.get(pos..end)) {
        if &head[0..4] != b"ANMF" {
            tally.count_segment("WebP", "chunks")?;
        }
        let len = u32::from_le_bytes([head[4], head[5], head[6], head[7]]) as usize;
        match (pos + 8).checked_add(padded(len)) {
            Some(next) => pos = next,
            None => break,
        }
    }
    Ok(())
}
