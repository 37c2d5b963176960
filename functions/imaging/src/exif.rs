//! A small, bounds-checked reader for the few EXIF (TIFF) fields we keep.

use serde::{Deserialize, Serialize};

/// The EXIF fields worth keeping with an image record. Strings are trimmed, printable and capped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExifSubset {
    /// Camera maker (tag 0x010F).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub make: Option<String>,
    /// Camera model (tag 0x0110).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// When the photo was taken (tag 0x9003), as written by the camera, usually `"YYYY:MM:DD HH:MM:SS"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date_time_original: Option<String>,
    /// Software that last wrote the file (tag 0x0131).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software: Option<String>,
    /// Lens model (tag 0xA434).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lens_model: Option<String>,
}

impl ExifSubset {
    /// True when no field is set.
    pub fn is_empty(&self) -> bool {
        *self == ExifSubset::default()
    }
}

/// Longest string (in characters) kept from an EXIF field.
pub const MAX_EXIF_STRING_CHARS: usize = 64;

/// What we read from an EXIF block.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Exif {
    /// 1..=8, or `None` when absent or invalid.
    pub orientation: Option<u8>,
    pub subset: ExifSubset,
}

const TAG_MAKE: u16 = 0x010F;
const TAG_MODEL: u16 = 0x0110;
const TAG_ORIENTATION: u16 = 0x0112;
const TAG_SOFTWARE: u16 = 0x0131;
const TAG_EXIF_IFD: u16 = 0x8769;
const TAG_DATE_TIME_ORIGINAL: u16 = 0x9003;
const TAG_LENS_MODEL: u16 = 0xA434;

const TYPE_ASCII: u16 = 2;
const TYPE_SHORT: u16 = 3;
const TYPE_LONG: u16 = 4;

/// Most entries read from one IFD (real files have a few dozen).
const MAX_IFD_ENTRIES: usize = 512;

/// Parse EXIF data. Accepts the TIFF header directly or with a leading `"Exif\0\0"`.
/// Returns `None` when the data is not a readable TIFF structure.
pub(crate) fn parse(data: &[u8]) -> Option<Exif> {
    let tiff = data.strip_prefix(b"Exif\0\0").unwrap_or(data);
    let little = match tiff.get(0..4)? {
        [b'I', b'I', 42, 0] => true,
        [b'M', b'M', 0, 42] => false,
        _ => return None,
    };
    let r = Tiff { data: tiff, little };
    let ifd0 = r.u32(4)? as usize;
    let mut exif = Exif::default();
    let mut exif_ifd = None;
    r.for_each_entry(ifd0, |e| match e.tag {
        TAG_ORIENTATION => exif.orientation = r.short_value(&e).and_then(valid_orientation),
        TAG_MAKE => exif.subset.make = r.ascii(&e),
        TAG_MODEL => exif.subset.model = r.ascii(&e),
        TAG_SOFTWARE => exif.subset.software = r.ascii(&e),
        TAG_EXIF_IFD => exif_ifd = r.long_value(&e),
        _ => {}
    })?;
    if let Some(offset) = exif_ifd.filter(|&o| o as usize != ifd0) {
        // A broken sub-IFD does not spoil what IFD0 gave us.
        let _ = r.for_each_entry(offset as usize, |e| match e.tag {
            TAG_DATE_TIME_ORIGINAL => exif.subset.date_time_original = r.ascii(&e),
            TAG_LENS_MODEL => exif.subset.lens_model = r.ascii(&e),
            _ => {}
        });
    }
    Some(exif)
}

fn valid_orientation(v: u16) -> Option<u8> {
    u8::try_from(v).ok().filter(|o| (1..=8).contains(o))
}

struct Entry {
    tag: u16,
    kind: u16,
    count: u32,
    /// Offset of the 4-byte value/offset field within the TIFF data.
    value_at: usize,
}

struct Tiff<'a> {
    data: &'a [u8],
    little: bool,
}

impl Tiff<'_> {
    fn u16(&self, at: usize) -> Option<u16> {
        let b: [u8; 2] = self.data.get(at..at.checked_add(2)?)?.try_into().ok()?;
        Some(if self.little { u16::from_le_bytes(b) } else { u16::from_be_bytes(b) })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let b: [u8; 4] = self.data.get(at..at.checked_add(4)?)?.try_into().ok()?;
        Some(if self.little { u32::from_le_bytes(b) } else { u32::from_be_bytes(b) })
    }

    fn for_each_entry(&self, ifd: usize, mut f: impl FnMut(Entry)) -> Option<()> {
        let count = usize::from(self.u16(ifd)?).min(MAX_IFD_ENTRIES);
        for i in 0..count {
            let at = ifd.checked_add(2 + i * 12)?;
            let (Some(tag), Some(kind), Some(n)) =
                (self.u16(at), self.u16(at.saturating_add(2)), self.u32(at.saturating_add(4)))
            else {
                break; // truncated IFD: keep what we have
            };
            if self.data.len() < at.saturating_add(12) {
                break;
            }
            f(Entry { tag, kind, count: n, value_at: at.saturating_add(8) });
        }
        Some(())
    }

    fn short_value(&self, e: &Entry) -> Option<u16> {
        match e.kind {
            TYPE_SHORT if e.count >= 1 => self.u16(e.value_at),
            TYPE_LONG if e.count >= 1 => self.u32(e.value_at).and_then(|v| u16::try_from(v).ok()),
            _ => None,
        }
    }

    fn long_value(&self, e: &Entry) -> Option<u32> {
        match e.kind {
            TYPE_LONG if e.count >= 1 => self.u32(e.value_at),
            TYPE_SHORT if e.count >= 1 => self.u16(e.value_at).map(u32::from),
            // Some writers use type 13 (IFD) for the pointer.
            13 if e.count >= 1 => self.u32(e.value_at),
            _ => None,
        }
    }

    fn ascii(&self, e: &Entry) -> Option<String> {
        if e.kind != TYPE_ASCII && e.kind != 7 {
            return None;
        }
        let len = e.count as usize;
        let bytes = if len <= 4 {
            self.data.get(e.value_at..e.value_at.saturating_add(len))?
        } else {
            let start = self.u32(e.value_at)? as usize;
            // Clamp to the data we have; a few bytes past the end is a common writer bug.
            let end = start.checked_add(len)?.min(self.data.len());
            self.data.get(start..end)?
        };
        clean_string(bytes)
    }
}

/// Cut at the first NUL, drop control characters, trim, cap the length; `None` if nothing is left.
fn clean_string(bytes: &[u8]) -> Option<String> {
    let bytes = bytes.split(|&b| b == 0).next().unwrap_or_default();
    let text = String::from_utf8_lossy(bytes);
    let cleaned: String = text.chars().filter(|c| !c.is_control() && *c != '\u{FFFD}').collect();
    let trimmed: String = cleaned.trim().chars().take(MAX_EXIF_STRING_CHARS).collect();
    let trimmed = trimmed.trim_end();
    (!trimmed.is_empty()).then(|| trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleans_strings() {
        assert_eq!(clean_string(b"  Canon\0junk"), Some("Canon".into()));
        assert_eq!(clean_string(b"a\x07b\n"), Some("ab".into()));
        assert_eq!(clean_string(b"   \0"), None);
        let long = vec![b'x'; 500];
        assert_eq!(clean_string(&long).map(|s| s.len()), Some(MAX_EXIF_STRING_CHARS));
    }

    #[test]
    fn rejects_non_tiff() {
        assert_eq!(parse(b"hello world"), None);
        assert_eq!(parse(b"II*\0"), None);
    }
}
