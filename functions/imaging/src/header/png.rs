//! PNG: the IHDR chunk (CRC-checked), then eXIf / acTL if they appear before IDAT in the prefix.

use super::{bad, be32, bytes, Fail, Header, Read};
use crate::budget::Tally;
use crate::exif;
use crate::format::PNG_SIGNATURE;
use crate::reject::Rejection;

pub(super) fn read(data: &[u8]) -> Read<Header> {
    if bytes(data, 0, 8)? != PNG_SIGNATURE {
        return Err(bad("The PNG signature is damaged."));
    }
    let ihdr = bytes(data, 8, 25)?;
    if ihdr[0..8] != *b"\0\0\0\x0DIHDR" {
        return Err(bad("The PNG does not start with its IHDR header."));
    }
    if crc32(&ihdr[4..21]) != be32(ihdr, 21)? {
        return Err(bad("The PNG header is damaged (checksum mismatch)."));
    }
    let width = be32(ihdr, 8)?;
    let height = be32(ihdr, 12)?;
    let (depth, colour, compression, filter, interlace) = (ihdr[16], ihdr[17], ihdr[18], ihdr[19], ihdr[20]);
    let depth_ok = match colour {
        0 => matches!(depth, 1 | 2 | 4 | 8 | 16),
        3 => matches!(depth, 1 | 2 | 4 | 8),
        2 | 4 | 6 => matches!(depth, 8 | 16),
        _ => false,
    };
    if !depth_ok
        || compression != 0
        || filter != 0
        || interlace > 1
        || width > i32::MAX as u32
        || height > i32::MAX as u32
    {
        return Err(bad("The PNG header holds invalid values."));
    }
    let mut header = Header::new(width, height);
    scan_ancillary(data, &mut header)?;
    Ok(header)
}

/// Best effort over the chunks present in the prefix, up to the first IDAT; too many of them
/// is a rejection.
fn scan_ancillary(data: &[u8], header: &mut Header) -> Read<()> {
    let mut exif_seen = false;
    let mut tally = Tally::default();
    for (kind, body) in Chunks::after_ihdr(data) {
        if &kind == b"IDAT" || &kind == b"IEND" {
            break;
        }
        tally.count_segment("PNG", "chunks").map_err(Fail::Bad)?;
        match (&kind, body) {
            (b"eXIf", Some(body)) if !exif_seen => {
                exif_seen = true;
                header.apply_exif(exif::parse(body));
            }
            (b"acTL", Some(body)) if body.len() >= 8 => {
                header.animated = u32::from_be_bytes([body[0], body[1], body[2], body[3]]) > 1;
            }
            _ => {}
        }
    }
    Ok(())
}

/// Refuse a whole PNG with more chunks than the budget allows, image data (IDAT) and animation
/// frames (fcTL, fdAT: only the first image is decoded) aside. Damage is the decoder's to report.
pub(crate) fn check_budget(data: &[u8]) -> Result<(), Rejection> {
    let mut tally = Tally::default();
    for (kind, _) in Chunks::after_ihdr(data) {
        match &kind {
            b"IEND" => break,
            b"IDAT" | b"fdAT" | b"fcTL" => {}
            _ => tally.count_segment("PNG", "chunks")?,
        }
    }
    Ok(())
}

/// The chunks after IHDR whose 8-byte heads lie in `data`: type, and body if wholly present.
struct Chunks<'a> {
    data: &'a [u8],
    pos: Option<usize>,
}

impl<'a> Chunks<'a> {
    fn after_ihdr(data: &'a [u8]) -> Self {
        Chunks { data, pos: Some(33) }
    }
}

impl<'a> Iterator for Chunks<'a> {
    type Item = ([u8; 4], Option<&'a [u8]>);

    fn next(&mut self) -> Option<Self::Item> {
        let pos = self.pos?;
        let head = self.data.get(pos..pos.checked_add(8)?)?;
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = [head[4], head[5], head[6], head[7]];
        let body = pos.checked_add(8).and_then(|s| self.data.get(s..s.checked_add(len)?));
        self.pos = pos.checked_add(12).and_then(|p| p.checked_add(len));
        Some((kind, body))
    }
}

/// CRC-32 (IEEE), as used by PNG chunks.
pub(crate) fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = (crc >> 1) ^ (0xEDB8_8320 & (crc & 1).wrapping_neg());
        }
    }
    !crc
}

#[cfg(test)]
mod tests {
    #[test]
    fn crc_matches_known_value() {
        assert_eq!(super::crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(super::crc32(b"123456789"), 0xCBF4_3926);
    }
}
