//! Shrinking a progressive JPEG without entropy-decoding what the result cannot show.
//!
//! A progressive JPEG sends its DCT coefficients in scans: the DC of every component, then, per
//! component, bands of zigzag positions, first their high bits and later one refinement scan per
//! lower bit. Shrunk to a thumbnail, a block contributes only the frequencies under the output's
//! Nyquist limit, and the last bits of those move a pixel by less than a grey level. Photos saved
//! at high quality spend most of their bytes on the rest: bench/'s 17.9 MP Elephants photo needs
//! 3.4 of its 16.4 MB for a 1024 px thumbnail. [`scans_for_shrink`] lists the file's bytes
//! without those scans, so that libjpeg never decodes them: what it then shows is the file as a
//! browser shows it part-way through loading, once enough of it has arrived for that size.

use crate::header::is_start_of_frame;
use crate::jpeg_markers::{Markers, SOS};
use std::io::{BufRead, Read};
use std::ops::Range;

/// The most a left-out refinement may change one needed coefficient, dequantized
/// (`quantizer × value`): at most 4/4 = one grey level on any pixel of its block.
const MAX_COEFFICIENT_LOSS: u32 = 4;

/// Row-major position (`row * 8 + column`) of each zigzag index.
const ZIGZAG: [u8; 64] = [
    0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21,
    28, 35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54,
    47, 55, 62, 63,
];

/// The byte ranges of a progressive (Huffman) JPEG that a decode shrunk by `shrink` (output ÷
/// input side, in (0, 1]) needs, in file order; `None` when nothing can be left out or the file is
/// not a progressive JPEG this understands (then decode it whole: libjpeg reports any damage).
pub(crate) fn scans_for_shrink(jpeg: &[u8], shrink: f64) -> Option<Vec<Range<usize>>> {
    plan(jpeg, shrink, &mut 0)
}

/// [`scans_for_shrink`], adding its steps to `work`: O(segments + 64 × scans), never more.
fn plan(jpeg: &[u8], shrink: f64, work: &mut usize) -> Option<Vec<Range<usize>>> {
    let file = parse(jpeg, work)?;
    let mut keep = vec![true; file.segments.len()];
    // Each component's AC scans, in file order, found in one pass.
    let mut by_component: Vec<Vec<(usize, &Scan)>> = file.components.iter().map(|_| Vec::new()).collect();
    for (i, segment) in file.segments.iter().enumerate() {
        *work += 1;
        if let Segment::Scan(scan @ Scan { ss: 1.., component: Some(id), .. }) = segment {
            if let Some(at) = file.components.iter().position(|c| c.id == *id) {
                by_component[at].push((i, scan));
            }
        }
    }
    for (component, scans) in file.components.iter().zip(&by_component) {
        let needed = needed_coefficients(component, &file.components, shrink);
        let quant = file.quant.get(usize::from(component.quant_table))?.as_ref()?;
        for (i, kept) in scans.iter().zip(cheapest_plan(scans, &needed, quant, work)) {
            keep[i.0] = kept;
        }
    }
    if keep.iter().all(|&k| k) {
        return None;
    }
    let mut ranges: Vec<Range<usize>> = Vec::new();
    for (segment, _) in file.segments.iter().zip(&keep).filter(|(_, &k)| k) {
        let range = segment.range();
        match ranges.last_mut() {
            Some(last) if last.end == range.start => last.end = range.end,
            _ => ranges.push(range),
        }
    }
    Some(ranges)
}

/// Which of one component's AC `scans` to keep: every scan up to some point, then only first
/// passes over needed coefficients (a refinement can only be decoded after every earlier scan
/// of its band). The cheapest such plan whose loss stays within [`MAX_COEFFICIENT_LOSS`].
///
/// Every cut point is weighed in O(64) from running totals: with the cut at `p`, the last kept
/// scan over coefficient `k` is the last first pass over `k` if that lies at or after `p`, else
/// the last scan over `k` before `p`.
fn cheapest_plan(scans: &[(usize, &Scan)], needed: &[bool; 64], quant: &[u16; 64], work: &mut usize) -> Vec<bool> {
    let first_pass: Vec<bool> = scans.iter().map(|(_, s)| s.ah == 0 && s.band().any(|k| needed[k])).collect();
    let final_al = last_al(scans.iter().map(|(_, s)| *s));
    // Per coefficient: the index and Al of the last first pass over it.
    let mut last_first_pass: [Option<(usize, u8)>; 64] = [None; 64];
    for (i, (_, scan)) in scans.iter().enumerate().filter(|(i, _)| first_pass[*i]) {
        *work += 1;
        for k in scan.band() {
            last_first_pass[k] = Some((i, scan.al));
        }
    }
    let mut first_pass_cost_from_cut: usize =
        scans.iter().zip(&first_pass).filter(|(_, &f)| f).map(|((_, s), _)| s.range.len()).sum();
    let mut before_cut_al: [Option<u8>; 64] = [None; 64];
    let mut before_cut_cost = 0usize;
    let mut best: Option<(usize, usize)> = None;
    for cut in 0..=scans.len() {
        *work += 1;
        let within = (1..64).filter(|&k| needed[k]).all(|k| {
            let kept = match last_first_pass[k] {
                Some((i, al)) if i >= cut => Some(al),
                _ => before_cut_al[k],
            };
            match (final_al[k], kept) {
                (None, _) => true,
                (Some(full), Some(kept)) => {
                    let lost = (1u32 << kept).saturating_sub(1u32 << full);
                    u32::from(quant[k]).saturating_mul(lost) <= MAX_COEFFICIENT_LOSS
                }
                (Some(_), None) => false,
            }
        });
        let cost = before_cut_cost + first_pass_cost_from_cut;
        if within && best.is_none_or(|(c, _)| cost < c) {
            best = Some((cost, cut));
        }
        // Move the cut past scan `cut`.
        if let (Some((_, scan)), Some(&first)) = (scans.get(cut), first_pass.get(cut)) {
            for k in scan.band() {
                before_cut_al[k] = Some(scan.al);
            }
            before_cut_cost += scan.range.len();
            if first {
                first_pass_cost_from_cut -= scan.range.len();
            }
        }
    }
    match best {
        Some((_, cut)) => (0..scans.len()).map(|i| i < cut || first_pass[i]).collect(),
        None => vec![true; scans.len()],
    }
}

/// For each zigzag index, the point transform (lowest bit sent) of the last scan covering it.
fn last_al<'a>(scans: impl Iterator<Item = &'a Scan>) -> [Option<u8>; 64] {
    let mut al = [None; 64];
    for scan in scans {
        for k in scan.band() {
            al[k] = Some(scan.al);
        }
    }
    al
}

/// Zigzag indices whose frequency is under the Nyquist limit of the shrunk output, for a
/// component sampled at `component`'s factors (a 2×-subsampled block covers twice the pixels).
fn needed_coefficients(component: &Component, all: &[Component], shrink: f64) -> [bool; 64] {
    let h_max = all.iter().map(|c| c.h).max().unwrap_or(1);
    let v_max = all.iter().map(|c| c.v).max().unwrap_or(1);
    // Frequency u of an 8-sample block spanning 8·(max/own) pixels is u / (16·max/own) cycles per
    // pixel; the output keeps up to shrink / 2. So u ≤ 8 · shrink · max/own.
    let limit = |max: u8, own: u8| -> usize {
        let bound = 8.0 * shrink.clamp(0.0, 1.0) * f64::from(max) / f64::from(own.max(1));
        (bound.floor() as usize + 1).min(8)
    };
    let (columns, rows) = (limit(h_max, component.h), limit(v_max, component.v));
    let mut needed = [false; 64];
    for (k, &position) in ZIGZAG.iter().enumerate() {
        let (row, column) = (usize::from(position / 8), usize::from(position % 8));
        needed[k] = row < rows && column < columns;
    }
    needed
}

/// A byte reader over the kept ranges of a file, for libjpeg's source manager.
pub(crate) struct Pieces<'a> {
    file: &'a [u8],
    ranges: std::vec::IntoIter<Range<usize>>,
    current: &'a [u8],
}

impl<'a> Pieces<'a> {
    pub(crate) fn new(file: &'a [u8], ranges: Vec<Range<usize>>) -> Self {
        Pieces { file, ranges: ranges.into_iter(), current: &[] }
    }
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(buf.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Pieces<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        while self.current.is_empty() {
            match self.ranges.next() {
                Some(range) => self.current = self.file.get(range).unwrap_or_default(),
                None => break,
            }
        }
        Ok(self.current)
    }

    fn consume(&mut self, amount: usize) {
        self.current = self.current.get(amount..).unwrap_or_default();
    }
}

struct Component {
    id: u8,
    h: u8,
    v: u8,
    quant_table: u8,
}

struct Scan {
    range: Range<usize>,
    /// The one component of an AC scan; `None` for a DC scan over several.
    component: Option<u8>,
    ss: u8,
    se: u8,
    ah: u8,
    al: u8,
}

impl Scan {
    fn band(&self) -> Range<usize> {
        usize::from(self.ss)..usize::from(self.se) + 1
    }
}

enum Segment {
    Other(Range<usize>),
    Scan(Scan),
}

impl Segment {
    fn range(&self) -> Range<usize> {
        match self {
            Segment::Other(range) => range.clone(),
            Segment::Scan(scan) => scan.range.clone(),
        }
    }
}

struct File {
    components: Vec<Component>,
    /// Quantization tables 0–3 in zigzag order, as defined before the first scan.
    quant: [Option<[u16; 64]>; 4],
    segments: Vec<Segment>,
}

/// Split a progressive Huffman JPEG into its marker segments, up to and including EOI, adding
/// one step per segment to `work`. `None` for anything else, anything damaged, or tables
/// redefined between scans.
fn parse(jpeg: &[u8], work: &mut usize) -> Option<File> {
    if !jpeg.starts_with(&[0xFF, 0xD8]) {
        return None;
    }
    let mut file = File { components: Vec::new(), quant: [None; 4], segments: vec![Segment::Other(0..2)] };
    let mut progressive = false;
    let mut scanned = false;
    // The walk ends after EOI or at the first damage (then `?` gives up).
    for segment in Markers::strict(jpeg) {
        *work += 1;
        let segment = segment.ok()?;
        let body = jpeg.get(segment.body.clone())?;
        match segment.marker {
            0xDB if scanned => return None,
            0xDB => read_quant_tables(body, &mut file.quant)?,
            0xC2 => {
                file.components = read_frame(body)?;
                progressive = true;
            }
            // Any other frame type: baseline, extended, lossless, arithmetic, hierarchical.
            other if is_start_of_frame(other) => return None,
            SOS if !progressive => return None,
            SOS => {
                scanned = true;
                file.segments.push(Segment::Scan(read_scan(body, segment.range)?));
                continue;
            }
            _ => {}
        }
        file.segments.push(Segment::Other(segment.range));
    }
    Some(file)
}

fn read_quant_tables(mut body: &[u8], quant: &mut [Option<[u16; 64]>; 4]) -> Option<()> {
    while let Some((&precision_and_id, rest)) = body.split_first() {
        let wide = precision_and_id >> 4 == 1;
        let slot = quant.get_mut(usize::from(precision_and_id & 0x0F))?;
        let size = if wide { 128 } else { 64 };
        let values = rest.get(..size)?;
        let mut table = [0u16; 64];
        for (k, entry) in table.iter_mut().enumerate() {
            *entry = if wide { u16::from_be_bytes([values[2 * k], values[2 * k + 1]]) } else { u16::from(values[k]) };
        }
        *slot = Some(table);
        body = &rest[size..];
    }
    Some(())
}

fn read_frame(body: &[u8]) -> Option<Vec<Component>> {
    let (&precision, rest) = body.split_first()?;
    let count = usize::from(*rest.get(4)?);
    if precision != 8 || !(1..=4).contains(&count) {
        return None;
    }
    rest.get(5..5 + 3 * count)?
        .chunks_exact(3)
        .map(|c| {
            let (h, v) = (c[1] >> 4, c[1] & 0x0F);
            ((1..=4).contains(&h) && (1..=4).contains(&v)).then_some(Component { id: c[0], h, v, quant_table: c[2] })
        })
        .collect()
}

fn read_scan(body: &[u8], range: Range<usize>) -> Option<Scan> {
    let count = usize::from(*body.first()?);
    let first_id = *body.get(1)?;
    let &[ss, se, a] = body.get(1 + 2 * count..4 + 2 * count)? else {
        return None;
    };
    let (ah, al) = (a >> 4, a & 0x0F);
    let valid = if ss == 0 { se == 0 && count >= 1 } else { ss <= se && se <= 63 && count == 1 && al < 14 };
    if !valid {
        return None;
    }
    Some(Scan { range, component: (ss > 0).then_some(first_id), ss, se, ah, al })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A textured RGB picture (gradients plus fine noise), so every frequency band carries data,
    /// encoded by libjpeg-turbo as a progressive JPEG with its standard scan script: DC, luma AC
    /// 1–5 and 6–63 two bits short, chroma AC 1–63 one bit short, then the refinements.
    fn progressive(quality: f32) -> Vec<u8> {
        let (width, height) = (256usize, 192usize);
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        let pixels: Vec<u8> = (0..width * height * 3)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let (x, y) = ((i / 3) % width, (i / 3) / width);
                ((x + 2 * y + 40 * (i % 3)) % 200) as u8 + (seed % 48) as u8
            })
            .collect();
        let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
        compress.set_fastest_defaults();
        compress.set_size(width, height);
        compress.set_quality(quality);
        compress.set_progressive_mode();
        let mut started = compress.start_compress(Vec::new()).unwrap();
        started.write_scanlines(&pixels).unwrap();
        started.finish().unwrap()
    }

    /// An AC scan as (component id, Ss, Se, Ah, Al).
    type ScanShape = (u8, u8, u8, u8, u8);

    /// The AC scans a plan keeps.
    fn kept_ac_scans(jpeg: &[u8], shrink: f64) -> Option<Vec<ScanShape>> {
        let ranges = scans_for_shrink(jpeg, shrink)?;
        let mut pruned = Vec::new();
        Pieces::new(jpeg, ranges).read_to_end(&mut pruned).unwrap();
        let file = parse(&pruned, &mut 0).expect("the pruned file is a valid progressive JPEG");
        Some(
            file.segments
                .iter()
                .filter_map(|s| match s {
                    Segment::Scan(s) => s.component.map(|c| (c, s.ss, s.se, s.ah, s.al)),
                    Segment::Other(_) => None,
                })
                .collect(),
        )
    }

    /// `jpeg` with its last scan repeated `extra` times (libjpeg only warns about such files).
    fn with_repeated_last_scan(jpeg: &[u8], extra: usize) -> Vec<u8> {
        let sos = jpeg.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
        let eoi = jpeg.len() - 2;
        let mut out = jpeg[..eoi].to_vec();
        for _ in 0..extra {
            out.extend_from_slice(&jpeg[sos..eoi]);
        }
        out.extend([0xFF, 0xD9]);
        out
    }

    #[test]
    fn planning_is_linear_in_the_number_of_scans() {
        // 32 000 extra scans of one component; the old planner weighed every cut point by
        // re-walking every scan (10^9 steps) and re-scanned the segment list per marker.
        let jpeg = with_repeated_last_scan(&progressive(90.0), 32_000);
        let segments = parse(&jpeg, &mut 0).unwrap().segments.len();
        assert!(segments > 32_000);
        for shrink in [0.1, 0.5, 1.0] {
            let mut work = 0;
            if let Some(ranges) = plan(&jpeg, shrink, &mut work) {
                assert!(ranges.iter().all(|r| r.start < r.end && r.end <= jpeg.len()));
            }
            // One step per segment walked, per segment grouped, per scan weighed (twice).
            assert!(work <= 4 * segments + 16, "shrink {shrink}: {work} steps for {segments} segments");
            assert!(work >= 2 * segments, "shrink {shrink}: the counter counts");
        }
    }

    #[test]
    fn a_small_thumbnail_of_a_quality_100_file_needs_only_the_low_luma_band() {
        let jpeg = progressive(100.0);
        // 5640 px to 1024 px: luma needs frequencies 0–1, chroma (half resolution) 0–2.
        let kept = kept_ac_scans(&jpeg, 1024.0 / 5640.0).expect("scans to leave out");
        assert_eq!(kept, [(1, 1, 5, 0, 2), (3, 1, 63, 0, 1), (2, 1, 63, 0, 1)]);
    }

    #[test]
    fn a_half_size_decode_keeps_every_band_but_not_the_last_bits() {
        let jpeg = progressive(100.0);
        let kept = kept_ac_scans(&jpeg, 0.5).expect("scans to leave out");
        assert_eq!(kept, [(1, 1, 5, 0, 2), (3, 1, 63, 0, 1), (2, 1, 63, 0, 1), (1, 6, 63, 0, 2)]);
    }

    #[test]
    fn at_ordinary_quality_the_last_bits_matter_and_every_scan_is_kept() {
        // Quantizers of 5 and more: one lost bit would move a pixel by more than a grey level,
        // and the luma refinements need the high band decoded first.
        assert_eq!(kept_ac_scans(&progressive(75.0), 1024.0 / 5640.0), None);
    }

    #[test]
    fn the_kept_pieces_read_back_in_order() {
        let file = b"0123456789";
        let mut out = String::new();
        Pieces::new(file, vec![0..2, 2..2, 5..8, 9..10]).read_to_string(&mut out).unwrap();
        assert_eq!(out, "015679");
    }

    #[test]
    fn anything_but_an_intact_progressive_jpeg_is_left_alone() {
        let jpeg = progressive(100.0);
        let shrink = 0.25;
        assert!(scans_for_shrink(&jpeg, shrink).is_some());
        // Cut short (no EOI): decode it whole, so libjpeg reports the damage.
        assert_eq!(scans_for_shrink(&jpeg[..jpeg.len() - 2], shrink), None);
        assert_eq!(scans_for_shrink(&jpeg[..jpeg.len() / 2], shrink), None);
        assert_eq!(scans_for_shrink(b"", shrink), None);
        assert_eq!(scans_for_shrink(b"\xFF\xD8\xFF", shrink), None);
        // Damage anywhere: never a panic, and any ranges returned lie inside the file.
        let headers: Vec<usize> = parse(&jpeg, &mut 0)
            .unwrap()
            .segments
            .iter()
            .filter_map(|s| match s {
                Segment::Scan(scan) => Some(scan.range.start),
                Segment::Other(_) => None,
            })
            .collect();
        for &at in &headers {
            for offset in 4..14 {
                for value in [0u8, 1, 2, 63, 64, 0xFF] {
                    let mut bad = jpeg.clone();
                    bad[at + offset] = value;
                    if let Some(ranges) = scans_for_shrink(&bad, shrink) {
                        assert!(ranges.iter().all(|r| r.start <= r.end && r.end <= bad.len()));
                    }
                }
            }
        }
        let mut seed = 7u64;
        for _ in 0..2000 {
            seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            let mut bad = jpeg.clone();
            let at = (seed >> 33) as usize % bad.len().min(700);
            bad[at] = (seed >> 17) as u8;
            if let Some(ranges) = scans_for_shrink(&bad, shrink) {
                assert!(ranges.iter().all(|r| r.start <= r.end && r.end <= bad.len()));
            }
        }
    }
}
