//! JPEG: walk the markers up to the frame header (SOFn), reading APP1 EXIF on the way, then on
//! through whatever else the bytes at hand show, counting scans and segments against the budget.

use super::{bad, bytes, Fail, Header, Read};
use crate::budget::Tally;
use crate::exif;
use crate::jpeg_markers::{Markers, Stop, EOI, SOS};
use crate::reject::Rejection;

pub(super) fn read(data: &[u8]) -> Read<Header> {
    if bytes(data, 0, 2)? != [0xFF, 0xD8] {
        return Err(bad("The JPEG does not start with a valid marker."));
    }
    let mut tally = Tally::default();
    let mut exif = None;
    let mut markers = Markers::strict(data);
    let mut header = loop {
        let segment = match markers.next() {
            Some(Ok(segment)) => segment,
            Some(Err(Stop::Need(n))) => return Err(Fail::Need(n)),
            Some(Err(Stop::Damaged)) | None => {
                return Err(bad("The JPEG's structure is damaged before the image header."))
            }
        };
        tally.count_jpeg(segment.marker).map_err(Fail::Bad)?;
        let body = &data[segment.body];
        match segment.marker {
            0xD8 | EOI | SOS => return Err(bad("The JPEG has no image header before its image data.")),
            marker if is_start_of_frame(marker) => break frame_header(marker, body)?,
            0xE1 if exif.is_none() && body.starts_with(b"Exif\0\0") => exif = exif::parse(body),
            _ => {}
        }
    };
    header.apply_exif(exif);
    // Past the frame header, count as libjpeg reads: a prefix is checked as far as it goes, and
    // the whole file (as at thumbnailing) to its end.
    markers.tolerate_stray_bytes();
    for segment in markers.map_while(Result::ok) {
        tally.count_jpeg(segment.marker).map_err(Fail::Bad)?;
    }
    Ok(header)
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
