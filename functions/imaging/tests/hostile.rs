//! Issue 10, "a small file must not cost hours": an adversarial corpus generated here. Each file
//! is either refused (at Validate's header read where the prefix shows it, else before any
//! decode) with its reason code, or processed with work bounded by its pixels. No timings are
//! asserted; the cases are sized so that a quadratic or decode-every-scan regression fails by
//! acceptance, not by slowness.

mod common;

use common::*;
use imgpipe_imaging::{
    decode_oriented, inspect, make_thumbnails, ImageInfo, Inspection, Limits, RejectCode, ThumbnailSpec,
    INITIAL_HEADER_BYTES, MAX_JPEG_SCANS, MAX_SEGMENTS,
};

/// A flat gray `side`² JPEG from libjpeg-turbo; progressive ones use its standard script (6 scans).
fn gray_jpeg(side: usize, progressive: bool) -> Vec<u8> {
    let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_GRAYSCALE);
    compress.set_fastest_defaults();
    compress.set_size(side, side);
    compress.set_quality(90.0);
    if progressive {
        compress.set_progressive_mode();
    }
    let mut started = compress.start_compress(Vec::new()).unwrap();
    started.write_scanlines(&vec![128u8; side * side]).unwrap();
    started.finish().unwrap()
}

/// Scans in a JPEG (SOS markers cannot occur inside entropy-coded data: 0xFF is stuffed there).
fn scan_count(jpeg: &[u8]) -> usize {
    jpeg.windows(2).filter(|w| w == &[0xFF, 0xDA]).count()
}

/// `jpeg` with its last scan (a tiny all-EOB refinement for a flat image) repeated `extra` times;
/// libjpeg only warns about the bogus progression and decodes every copy.
fn with_repeated_last_scan(jpeg: &[u8], extra: usize) -> Vec<u8> {
    let sos = jpeg.windows(2).rposition(|w| w == [0xFF, 0xDA]).unwrap();
    let eoi = jpeg.len() - 2;
    assert_eq!(jpeg[eoi..], [0xFF, 0xD9]);
    let mut out = jpeg[..eoi].to_vec();
    for _ in 0..extra {
        out.extend_from_slice(&jpeg[sos..eoi]);
    }
    out.extend([0xFF, 0xD9]);
    out
}

/// `count` marker segments `marker` with `body` right after SOI.
fn with_segments(jpeg: &[u8], marker: u8, body: &[u8], count: usize) -> Vec<u8> {
    let mut segment = vec![0xFF, marker];
    segment.extend(((body.len() + 2) as u16).to_be_bytes());
    segment.extend(body);
    let mut out = jpeg[..2].to_vec();
    out.extend(segment.repeat(count));
    out.extend(&jpeg[2..]);
    out
}

/// What Validate does: inspect [`INITIAL_HEADER_BYTES`], then longer prefixes while asked.
/// Returns the outcome and how many reads it took.
fn validate(bytes: &[u8]) -> (Result<ImageInfo, RejectCode>, usize) {
    let total = bytes.len() as u64;
    let mut have = INITIAL_HEADER_BYTES.min(total);
    for reads in 1.. {
        match inspect(&bytes[..have as usize], total, &Limits::default()) {
            Ok(Inspection::Complete(info)) => return (Ok(info), reads),
            Ok(Inspection::NeedMore { bytes }) => {
                assert!(bytes > have && bytes <= total);
                have = bytes;
            }
            Err(rejection) => return (Err(rejection.code), reads),
        }
    }
    unreachable!()
}

/// Both decode paths (Thumbnail and DetectLabels) on the whole file, with `info` as validated.
fn decode_both(bytes: &[u8], info: &ImageInfo) -> [Result<(), RejectCode>; 2] {
    let limits = Limits::default();
    [
        make_thumbnails(bytes, info, &ThumbnailSpec::default(), &limits).map(|_| ()).map_err(|r| r.code),
        decode_oriented(bytes, info, 512, &limits).map(|_| ()).map_err(|r| r.code),
    ]
}

#[test]
fn thirty_two_thousand_scans_are_refused_at_validate() {
    // 2048² so that both paths shrink through libjpeg and the scan planner, as in the report.
    let base = gray_jpeg(2048, true);
    let info = info_of(&base);
    let hostile = with_repeated_last_scan(&base, 32_000);
    assert!(hostile.len() < 1024 * 1024, "{} bytes", hostile.len());
    assert_eq!(validate(&hostile), (Err(RejectCode::TooManyScans), 1));
    // Were Validate skipped, neither decode path hands a single scan to a decoder.
    assert_eq!(decode_both(&hostile, &info), [Err(RejectCode::TooManyScans), Err(RejectCode::TooManyScans)]);
}

#[test]
fn the_scan_limit_is_exact() {
    let base = gray_jpeg(160, true);
    let at_limit = with_repeated_last_scan(&base, MAX_JPEG_SCANS - scan_count(&base));
    assert_eq!(scan_count(&at_limit), MAX_JPEG_SCANS);
    let (info, _) = validate(&at_limit);
    let info = info.expect("100 scans are allowed");
    assert_eq!(decode_both(&at_limit, &info), [Ok(()), Ok(())]);
    let over = with_repeated_last_scan(&base, MAX_JPEG_SCANS + 1 - scan_count(&base));
    assert_eq!(validate(&over).0.unwrap_err(), RejectCode::TooManyScans);
    assert_eq!(decode_both(&over, &info), [Err(RejectCode::TooManyScans), Err(RejectCode::TooManyScans)]);
}

#[test]
fn scans_hidden_past_the_validated_prefix_are_refused_before_decoding() {
    // Two 60 KB APP15 segments between the first scans and the rest push the copies beyond the
    // 64 KiB Validate reads; the decode paths count the whole file.
    let base = gray_jpeg(2048, true);
    let first_sos = base.windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let second_sos = first_sos + 2 + base[first_sos + 2..].windows(2).position(|w| w == [0xFF, 0xDA]).unwrap();
    let mut padding = vec![0xFF, 0xEF, 0xEA, 0x62];
    padding.extend(vec![0u8; 60_000]);
    let mut hidden = base[..second_sos].to_vec();
    hidden.extend(padding.repeat(2));
    hidden.extend(&base[second_sos..]);
    let hostile = with_repeated_last_scan(&hidden, 5_000);
    let (validated, reads) = validate(&hostile);
    assert_eq!(reads, 1);
    let info = validated.expect("the first 64 KiB show only two scans");
    assert_eq!(decode_both(&hostile, &info), [Err(RejectCode::TooManyScans), Err(RejectCode::TooManyScans)]);
}

#[test]
fn three_hundred_twenty_thousand_comments_are_refused_in_the_first_read() {
    let base = gray_jpeg(2048, false);
    let info = info_of(&base);
    let hostile = with_segments(&base, 0xFE, b"", 320_000);
    assert!(hostile.len() < 1_400_000);
    assert_eq!(validate(&hostile), (Err(RejectCode::TooManySegments), 1));
    assert_eq!(decode_both(&hostile, &info), [Err(RejectCode::TooManySegments), Err(RejectCode::TooManySegments)]);
    // Just under the limit is an ordinary file.
    let near = with_segments(&base, 0xFE, b"x", MAX_SEGMENTS - 20);
    let (info, _) = validate(&near);
    assert_eq!(decode_both(&near, &info.expect("accepted")), [Ok(()), Ok(())]);
}

#[test]
fn segments_after_the_frame_header_count_too() {
    // APPn segments after the last scan: libjpeg reads each one.
    let base = gray_jpeg(256, true);
    let eoi = base.len() - 2;
    let mut hostile = base[..eoi].to_vec();
    hostile.extend([0xFF, 0xEF, 0, 2].repeat(MAX_SEGMENTS));
    hostile.extend(&base[eoi..]);
    assert_eq!(validate(&hostile).0.unwrap_err(), RejectCode::TooManySegments);
}

#[test]
fn a_huge_appn_chain_is_fetched_in_few_reads_and_processed() {
    // 190 APP2 segments of 64 KiB (≈12 MB, like a monstrous ICC profile) before the frame header.
    let base = jpeg(&quadrants(320, 240, [RED, GREEN, BLUE, WHITE]));
    let hostile = with_segments(&base, 0xE2, &vec![0x55; 65_000], 190);
    assert!(hostile.len() < 15 * 1024 * 1024);
    let (info, reads) = validate(&hostile);
    let info = info.expect("accepted");
    assert_eq!((info.width, info.height), (320, 240));
    // Each read at least doubles the prefix: 64 KiB → 12 MB in 9 reads, not 190.
    assert!(reads <= 9, "{reads} reads");
    assert_eq!(decode_both(&hostile, &info), [Ok(()), Ok(())]);
}

#[test]
fn looping_and_oversized_exif_directories_end() {
    let base = jpeg(&solid(200, 100, RED));
    // IFD0 at 8 claims 65 535 entries (only the first is real: orientation 6) and its Exif
    // pointer and next-IFD link both lead back to itself.
    let mut tiff = b"II*\0\x08\0\0\0".to_vec();
    tiff.extend(u16::MAX.to_le_bytes());
    tiff.extend([0x12, 0x01, 3, 0, 1, 0, 0, 0, 6, 0, 0, 0]); // orientation 6
    tiff.extend([0x69, 0x87, 4, 0, 1, 0, 0, 0, 8, 0, 0, 0]); // Exif IFD → IFD0
    for _ in 0..5000 {
        tiff.extend([0x69, 0x87, 4, 0, 1, 0, 0, 0, 8, 0, 0, 0]);
    }
    tiff.extend(8u32.to_le_bytes()); // next IFD → IFD0
    let info = info_of(&with_jpeg_exif(&base, &tiff));
    assert_eq!(info.orientation, 6);
    // A sub-IFD that points at itself is read once.
    let mut tiff = b"MM\0*\0\0\0\x08".to_vec();
    tiff.extend([0, 1, 0x87, 0x69, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 0]);
    tiff.extend([0, 1, 0x87, 0x69, 0, 4, 0, 0, 0, 1, 0, 0, 0, 26, 0, 0, 0, 26]);
    let info = info_of(&with_jpeg_exif(&base, &tiff));
    assert_eq!(info.orientation, 1);
}

/// A PNG from the `image` encoder with `extra` chunks inserted before IDAT or before IEND.
fn png_with_chunks(extra: usize, before_idat: bool) -> Vec<u8> {
    let plain = png(&solid(120, 90, GREEN));
    let at = if before_idat { 33 } else { plain.len() - 12 };
    let mut out = plain[..at].to_vec();
    out.extend(png_chunk(b"tEXt", b"k\0v").repeat(extra));
    out.extend(&plain[at..]);
    out
}

#[test]
fn png_chunk_floods_are_refused() {
    let ok = png_with_chunks(MAX_SEGMENTS - 10, true);
    let (info, _) = validate(&ok);
    let info = info.expect("accepted");
    assert_eq!(decode_both(&ok, &info), [Ok(()), Ok(())]);
    assert_eq!(validate(&png_with_chunks(5000, true)), (Err(RejectCode::TooManySegments), 1));
    // After the image data Validate does not look; the decode paths do.
    let late = png_with_chunks(5000, false);
    let info = validate(&late).0.expect("the header is fine");
    assert_eq!(decode_both(&late, &info), [Err(RejectCode::TooManySegments), Err(RejectCode::TooManySegments)]);
}

/// Raw bits, least significant first, as DEFLATE packs them.
#[derive(Default)]
struct Bits {
    out: Vec<u8>,
    used: u32,
}

impl Bits {
    fn put(&mut self, value: u32, count: u32) {
        for i in 0..count {
            if self.used.is_multiple_of(8) {
                self.out.push(0);
            }
            *self.out.last_mut().unwrap() |= (((value >> i) & 1) as u8) << (self.used % 8);
            self.used += 1;
        }
    }

    /// Huffman codes are sent most significant bit first.
    fn put_code(&mut self, code: u32, length: u32) {
        for i in (0..length).rev() {
            self.put((code >> i) & 1, 1);
        }
    }
}

#[test]
fn an_idat_that_inflates_past_its_header_is_not_decoded_past_it() {
    // A 100×100 gray PNG whose zlib stream holds the 10 100 filtered bytes the header allows, then
    // about 50 MB more (runs of 258 zeros), then a block with the reserved type. A decoder that
    // inflated past the header's pixel count would either grind through it all or fail on the
    // reserved block; one that stops where the pixels end makes the image.
    let (width, height) = (100u32, 100u32);
    let mut bits = Bits::default();
    // Block 1, fixed Huffman: one literal 0, then matches of length 258 at distance 1.
    bits.put(0, 1); // BFINAL = 0
    bits.put(1, 2); // BTYPE = 01 (fixed)
    bits.put_code(0b0011_0000, 8); // literal 0
    let runs = (10_100 + 50_000_000) / 258;
    for _ in 0..runs {
        bits.put_code(0b1100_0101, 8); // length code 285 = 258
        bits.put_code(0, 5); // distance code 0 = 1
    }
    bits.put_code(0, 7); // end of block (256)
    bits.put(1, 1); // BFINAL = 1
    bits.put(3, 2); // BTYPE = 11: reserved, an error
    let mut zlib = vec![0x78, 0x01];
    zlib.extend(&bits.out);
    zlib.extend([0; 4]); // Adler-32, never reached
    let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    file.extend(png_chunk(b"IHDR", &ihdr));
    file.extend(png_chunk(b"IDAT", &zlib));
    file.extend(png_chunk(b"IEND", b""));
    assert!(file.len() < 2 * 1024 * 1024);
    let info = validate(&file).0.expect("a valid header");
    let limits = Limits::default();
    let thumbs = make_thumbnails(&file, &info, &ThumbnailSpec::default(), &limits).expect("decoded");
    assert_eq!((thumbs[0].width, thumbs[0].height), (100, 100));
    let rgb = decode_oriented(&file, &info, 512, &limits).expect("decoded");
    assert!(rgb.pixels().all(|p| p.0 == [0, 0, 0]));
}

/// An 80×80 GIF with `frames` frames; every frame after the first has an LZW code size no decoder
/// accepts, so touching one fails the decode.
fn gif_with_frames(frames: usize, extensions_first: usize) -> Vec<u8> {
    let one = gif(&[solid(80, 80, BLUE)], false);
    // Screen (13) + global table, then the first image up to the trailer.
    let table = 3 << ((one[10] & 7) + 1);
    let image_start = 13 + table + one[13 + table..].iter().position(|&b| b == 0x2C).unwrap();
    let mut out = one[..image_start].to_vec();
    // Comment extensions: 0x21 0xFE, one 1-byte sub-block, terminator.
    out.extend([0x21, 0xFE, 1, b'x', 0].repeat(extensions_first));
    out.extend(&one[image_start..one.len() - 1]);
    let poisoned = [0x2C, 0, 0, 0, 0, 80, 0, 80, 0, 0, 0x0F, 2, 0xFF, 0xFF, 0];
    for _ in 1..frames {
        out.extend(poisoned);
    }
    out.push(0x3B);
    out
}

#[test]
fn a_gif_of_thousands_of_frames_is_decoded_from_its_first_frame_only() {
    let hostile = gif_with_frames(20_000, 0);
    let info = validate(&hostile).0.expect("accepted");
    assert!(info.animated);
    assert_eq!(decode_both(&hostile, &info), [Ok(()), Ok(())]);
    assert_eq!(validate(&gif_with_frames(1, 5000)).0.unwrap_err(), RejectCode::TooManySegments);
}

/// An animated WebP (VP8X + ANIM) of `frames` ANMF frames: the first a real 80×80 lossless
/// image, the rest frames whose image data is garbage.
fn webp_with_frames(frames: usize) -> Vec<u8> {
    let simple = webp(&solid(80, 80, RED));
    let vp8l = &simple[12..];
    let anmf = |image: &[u8]| {
        let mut body = vec![0u8; 6]; // x, y
        body.extend(&79u32.to_le_bytes()[..3]);
        body.extend(&79u32.to_le_bytes()[..3]);
        body.extend([100, 0, 0, 0]); // duration 100 ms, flags
        body.extend(image);
        let mut chunk = b"ANMF".to_vec();
        chunk.extend((body.len() as u32).to_le_bytes());
        chunk.extend(&body);
        if body.len() % 2 == 1 {
            chunk.push(0);
        }
        chunk
    };
    let mut garbage = b"VP8L".to_vec();
    garbage.extend(vp8l[4..8].iter());
    garbage.extend(vec![0xA5; vp8l.len() - 8]);
    let mut chunks = b"VP8X\x0A\0\0\0\x02\0\0\0".to_vec();
    chunks.extend(&79u32.to_le_bytes()[..3]);
    chunks.extend(&79u32.to_le_bytes()[..3]);
    chunks.extend(b"ANIM\x06\0\0\0\xFF\xFF\xFF\xFF\0\0");
    chunks.extend(anmf(vp8l));
    for _ in 1..frames {
        chunks.extend(anmf(&garbage));
    }
    let mut out = b"RIFF".to_vec();
    out.extend(((chunks.len() + 4) as u32).to_le_bytes());
    out.extend(b"WEBP");
    out.extend(chunks);
    out
}

#[test]
fn a_webp_of_thousands_of_frames_is_decoded_from_its_first_frame_only() {
    let hostile = webp_with_frames(5000);
    let info = validate(&hostile).0.expect("accepted");
    assert!(info.animated);
    assert_eq!(decode_both(&hostile, &info), [Ok(()), Ok(())]);
}
