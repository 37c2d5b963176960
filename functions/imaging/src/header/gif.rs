//! GIF: the logical screen, then the blocks up to the first image; more frames or a looping
//! extension visible in the prefix mark the GIF as animated.

use super::{bad, byte, bytes, le16, Fail, Header, Read};
use crate::budget::Tally;

pub(super) fn read(data: &[u8]) -> Read<Header> {
    let screen = bytes(data, 0, 13)?;
    if !(screen.starts_with(b"GIF87a") || screen.starts_with(b"GIF89a")) {
        return Err(bad("The GIF signature is damaged."));
    }
    let mut header = Header::new(u32::from(le16(screen, 6)?), u32::from(le16(screen, 8)?));
    let mut pos = 13 + colour_table_len(screen[10]);
    let mut images = 0u32;
    let mut looping = false;
    let mut tally = Tally::default();
    loop {
        // Up to the first image every byte is required; after it, what the prefix shows.
        let block = match byte(data, pos) {
            Ok(b) => b,
            Err(e) if images == 0 => return Err(e),
            Err(_) => break,
        };
        let next = match block {
            0x21 => {
                if images == 0 {
                    tally.count_segment("GIF", "extension blocks").map_err(Fail::Bad)?;
                }
                let label = byte(data, pos + 1);
                let app = data.get(pos + 2..pos + 14);
                if label.ok() == Some(0xFF) && matches!(app, Some(b"\x0BNETSCAPE2.0") | Some(b"\x0BANIMEXTS1.0")) {
                    looping = true;
                }
                skip_sub_blocks(data, pos + 2)
            }
            0x2C => {
                images += 1;
                if images > 1 {
                    break;
                }
                match byte(data, pos + 9) {
                    // Descriptor (10 bytes), local colour table, LZW code size, data blocks.
                    Ok(flags) => skip_sub_blocks(data, pos + 10 + colour_table_len(flags) + 1),
                    Err(e) => Err(e),
                }
            }
            0x3B if images == 0 => return Err(bad("The GIF contains no image.")),
            0x3B => break,
            _ if images == 0 => return Err(bad("The GIF's structure is damaged.")),
            _ => break,
        };
        match next {
            Ok(p) => pos = p,
            Err(e) if images == 0 => return Err(e),
            Err(_) => break,
        }
    }
    header.animated = images > 1 || looping;
    Ok(header)
}

/// The end of the first image's data (descriptor, colour table, LZW data): all a decoder of the
/// first frame needs, so that later frames cost nothing. `None` when it cannot be found.
pub(crate) fn first_image_end(data: &[u8]) -> Option<usize> {
    let screen = data.get(..13)?;
    let mut pos = 13 + colour_table_len(screen[10]);
    loop {
        pos = match *data.get(pos)? {
            0x21 => skip_sub_blocks(data, pos + 2).ok()?,
            0x2C => return skip_sub_blocks(data, pos + 10 + colour_table_len(*data.get(pos + 9)?) + 1).ok(),
            _ => return None,
        };
    }
}

fn colour_table_len(flags: u8) -> usize {
    if flags & 0x80 != 0 {
        3 << ((flags & 0x07) + 1)
    } else {
        0
    }
}

/// Position just past a chain of data sub-blocks starting at `pos`.
fn skip_sub_blocks(data: &[u8], mut pos: usize) -> Read<usize> {
    loop {
        let n = usize::from(byte(data, pos)?);
        pos += 1;
        if n == 0 {
            return Ok(pos);
        }
        pos += n;
        if pos > data.len() {
            return Err(Fail::Need(pos + 1));
        }
    }
}
