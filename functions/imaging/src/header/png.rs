//! PNG: the IHDR chunk (CRC-checked), then eXIf / acTL if they appear before IDAT in the prefix.

use super::{bad, be32, bytes, Header, Read};
use crate::exif;
use crate::format::PNG_SIGNATURE;

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
    scan_ancillary(data, 33, &mut header);
    Ok(header)
}

/// Best effort over the chunks present in the prefix, up to the first IDAT.
fn scan_ancillary(data: &[u8], mut pos: usize, header: &mut Header) {
    let mut exif_seen = false;
    while let Some(head) = data.get(pos..pos.saturating_add(8)) {
        let len = u32::from_be_bytes([head[0], head[1], head[2], head[3]]) as usize;
        let kind = &head[4..8];
        if kind == b"IDAT" || kind == b"IEND" {
            return;
        }
        let body = pos.checked_add(8).and_then(|s| data.get(s..s.checked_add(len)?));
        match (kind, body) {
            (b"eXIf", Some(body)) if !exif_seen => {
                exif_seen = true;
                header.apply_exif(exif::parse(body));
            }
            (b"acTL", Some(body)) if body.len() >= 8 => {
                header.animated = u32::from_be_bytes([body[0], body[1], body[2], body[3]]) > 1;
            }
            _ => {}
        }
        match pos.checked_add(12).and_then(|p| p.checked_add(len)) {
            Some(next) => pos = next,
            None => return,
        }
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
