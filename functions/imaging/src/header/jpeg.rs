//! JPEG: walk the markers up to the frame header (SOFn), reading APP1 EXIF on the way.

use super::{bad, be16, byte, bytes, Fail, Header, Read};
use crate::exif;
use crate::reject::Rejection;

pub(super) fn read(data: &[u8]) -> Read<Header> {
    if bytes(data, 0, 2)? != [0xFF, 0xD8] {
        return Err(bad("The JPEG does not start with a valid marker."));
    }
    let mut exif = None;
    let mut pos = 2;
    loop {
        if byte(data, pos)? != 0xFF {
            return Err(bad("The JPEG's structure is damaged before the image header."));
        }
        // Markers may be padded with any number of 0xFF fill bytes.
        let mut at = pos + 1;
        while byte(data, at)? == 0xFF {
            at += 1;
        }
        let marker = byte(data, at)?;
        let seg = at + 1;
        match marker {
            0x01 | 0xD0..=0xD7 => {
                pos = seg; // standalone markers carry no length
                continue;
            }
            0x00 | 0xD8 | 0xD9 | 0xDA => {
                return Err(bad("The JPEG has no image header before its image data."));
            }
            _ => {}
        }
        let len = usize::from(be16(data, seg)?);
        if len < 2 {
            return Err(bad("The JPEG's structure is damaged before the image header."));
        }
        let end = seg + len;
        if is_start_of_frame(marker) {
            let mut header = frame_header(marker, bytes(data, seg + 2, len - 2)?)?;
            header.apply_exif(exif);
            return Ok(header);
        }
        if marker == 0xE1 && exif.is_none() {
            if let Some(body) = data.get(seg + 2..end).filter(|b| b.starts_with(b"Exif\0\0")) {
                exif = exif::parse(body);
            }
        }
        // The next marker and its length must be readable too.
        bytes(data, end, 4)?;
        pos = end;
    }
}

/// SOF0..SOF15 except DHT (C4), JPG (C8) and DAC (CC).
pub(crate) fn is_start_of_frame(marker: u8) -> bool {
    (0xC0..=0xCF).contains(&marker) && !matches!(marker, 0xC4 | 0xC8 | 0xCC)
}

fn frame_header(marker: u8, body: &[u8]) -> Read<Header> {
    let [precision, h1, h0, w1, w0, components, ..] = *body else {
        return Err(bad("The JPEG's image header is too short."));
    };
    match marker {
        0xC0..=0xC3 => {}
        0xC9..=0xCB | 0xCD..=0xCF => return Err(unsupported("This JPEG uses arithmetic coding, which we cannot read")),
        _ => return Err(unsupported("This is a hierarchical JPEG, which we cannot read")),
    }
    if precision != 8 {
        return Err(unsupported(&format!("This is a {precision}-bit JPEG, which we cannot read")));
    }
    if !matches!(components, 1 | 3 | 4) {
        return Err(unsupported(&format!("This JPEG has {components} colour channels, which we cannot read")));
    }
    let height = u16::from_be_bytes([h1, h0]);
    let width = u16::from_be_bytes([w1, w0]);
    if height == 0 {
        return Err(bad("The JPEG does not state its height in its header."));
    }
    Ok(Header::new(u32::from(width), u32::from(height)))
}

fn unsupported(what: &str) -> Fail {
    Fail::Bad(Rejection::unsupported(what))
}
