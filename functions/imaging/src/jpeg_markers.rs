//! One linear walk over a JPEG's marker segments, shared by the header reader and the scan
//! planner. Each byte is looked at a bounded number of times, so the walk costs O(file size)
//! however many segments there are. Tolerant walks skip what libjpeg skips (stray bytes between
//! markers, restart markers), so they count the scans libjpeg will decode.

use crate::budget::Tally;
use crate::reject::Rejection;
use std::ops::Range;

/// Start of scan.
pub(crate) const SOS: u8 = 0xDA;
/// End of image.
pub(crate) const EOI: u8 = 0xD9;

/// One marker and what belongs to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Segment {
    pub marker: u8,
    /// From the marker's first 0xFF to the end of its body, or for a scan, of its entropy-coded data.
    pub range: Range<usize>,
    /// The body after the length field (empty for markers without one).
    pub body: Range<usize>,
}

/// Why a walk stopped before EOI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// The bytes end before this length (a prefix, or a file cut short).
    Need(usize),
    /// A length field below 2, or (strict walks) a byte that is not a marker where one must be.
    Damaged,
}

/// An iterator over the segments after SOI, ending after EOI or at the first [`Stop`].
pub(crate) struct Markers<'a> {
    data: &'a [u8],
    at: usize,
    strict: bool,
    finished: bool,
}

impl<'a> Markers<'a> {
    /// A walk that stops ([`Stop::Damaged`]) at any byte that is not a marker where one must be.
    /// The caller has checked that `data` starts with SOI.
    pub(crate) fn strict(data: &'a [u8]) -> Self {
        Markers { data, at: 2, strict: true, finished: false }
    }

    /// A walk that skips stray bytes between segments, as libjpeg does (with a warning).
    pub(crate) fn tolerant(data: &'a [u8]) -> Self {
        Markers { data, at: 2, strict: false, finished: false }
    }

    /// From here on, skip stray bytes as libjpeg does.
    pub(crate) fn tolerate_stray_bytes(&mut self) {
        self.strict = false;
    }

    fn step(&mut self) -> Result<Segment, Stop> {
        let data = self.data;
        let (start, marker) = loop {
            let from = self.at;
            let ff = match data.get(from..).and_then(|rest| memchr::memchr(0xFF, rest)) {
                Some(offset) => from + offset,
                None => return Err(Stop::Need(data.len().max(from) + 1)),
            };
            if self.strict && ff != from {
                return Err(Stop::Damaged);
            }
            // Markers may be padded with any number of 0xFF fill bytes.
            let mut at = ff + 1;
            while data.get(at) == Some(&0xFF) {
                at += 1;
            }
            let marker = *data.get(at).ok_or(Stop::Need(at + 1))?;
            self.at = at + 1;
            match marker {
                // A stuffed 0xFF00 outside a scan is skipped like any stray byte.
                0x00 if self.strict => return Err(Stop::Damaged),
                0x00 => continue,
                _ => break (ff, marker),
            }
        };
        let seg = self.at;
        if matches!(marker, 0x01 | 0xD0..=0xD9) {
            return Ok(Segment { marker, range: start..seg, body: seg..seg });
        }
        let length = match data.get(seg..seg + 2) {
            Some(&[high, low]) => usize::from(u16::from_be_bytes([high, low])),
            _ => return Err(Stop::Need(seg + 2)),
        };
        if length < 2 {
            return Err(Stop::Damaged);
        }
        let end = seg + length;
        if end > data.len() {
            return Err(Stop::Need(end));
        }
        // A scan's data runs to the next marker; if none is at hand, the next step asks for more.
        self.at = if marker == SOS { entropy_end(data, end) } else { end };
        Ok(Segment { marker, range: start..self.at, body: seg + 2..end })
    }
}

impl Iterator for Markers<'_> {
    type Item = Result<Segment, Stop>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.finished {
            return None;
        }
        let item = self.step();
        self.finished = !matches!(&item, Ok(segment) if segment.marker != EOI);
        Some(item)
    }
}

/// Where entropy-coded data starting at `from` ends: the next marker that is neither a stuffed
/// 0xFF00 nor a restart marker, or the end of `data`.
pub(crate) fn entropy_end(data: &[u8], from: usize) -> usize {
    let mut at = from;
    while let Some(offset) = data.get(at..).and_then(|rest| memchr::memchr(0xFF, rest)) {
        let ff = at + offset;
        match data.get(ff + 1) {
            Some(0x00 | 0xD0..=0xD7) => at = ff + 2,
            Some(0xFF) => at = ff + 1,
            Some(_) => return ff,
            None => break,
        }
    }
    data.len()
}

/// Walk the whole of `jpeg` as libjpeg would and refuse it if it has more scans or segments than
/// [`crate::budget`] allows. Damage is left to the decoder to report.
pub(crate) fn check_budget(jpeg: &[u8]) -> Result<Tally, Rejection> {
    let mut tally = Tally::default();
    for segment in Markers::tolerant(jpeg) {
        match segment {
            Ok(segment) => tally.count_jpeg(segment.marker)?,
            Err(_) => break,
        }
    }
    Ok(tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn markers(data: &[u8], strict: bool) -> Vec<Result<(u8, Range<usize>), Stop>> {
        let walk = if strict { Markers::strict(data) } else { Markers::tolerant(data) };
        walk.map(|s| s.map(|s| (s.marker, s.range))).collect()
    }

    #[test]
    fn segments_scans_restarts_and_end() {
        // SOI, COM "ab", SOS (len 3: one byte) + data with a stuffed FF00 and a restart, EOI.
        let data = [
            0xFF, 0xD8, 0xFF, 0xFE, 0, 4, b'a', b'b', 0xFF, 0xDA, 0, 3, 1, 7, 0xFF, 0x00, 8, 0xFF, 0xD3, 9, 0xFF, 0xFF,
            0xD9, 0xAA,
        ];
        // The scan ends at the last fill byte before EOI.
        let expected = vec![Ok((0xFE, 2..8)), Ok((SOS, 8..21)), Ok((EOI, 21..23))];
        assert_eq!(markers(&data, true), expected);
        assert_eq!(markers(&data, false), expected);
    }

    #[test]
    fn stray_bytes_stop_a_strict_walk_and_are_skipped_by_a_tolerant_one() {
        let data = [0xFF, 0xD8, 0x12, 0x34, 0xFF, 0x00, 0xFF, 0xFE, 0, 2, 0xFF, 0xD9];
        assert_eq!(markers(&data, true), vec![Err(Stop::Damaged)]);
        assert_eq!(markers(&data, false), vec![Ok((0xFE, 6..10)), Ok((EOI, 10..12))]);
    }

    #[test]
    fn running_out_asks_for_the_missing_length() {
        assert_eq!(markers(&[0xFF, 0xD8, 0xFF, 0xE1, 0, 10, 1], true), vec![Err(Stop::Need(14))]);
        assert_eq!(markers(&[0xFF, 0xD8, 0xFF], true), vec![Err(Stop::Need(4))]);
        assert_eq!(markers(&[0xFF, 0xD8, 0xFF, 0xE1, 0, 1], true), vec![Err(Stop::Damaged)]);
    }
}
