//! Test images made in code, EXIF blocks written by hand, and a tiny deterministic RNG.
#![allow(dead_code)]

use image::{DynamicImage, ImageFormat, Rgb, RgbImage, Rgba, RgbaImage};
use imgpipe_imaging::{inspect, ImageInfo, Inspection, Limits};
use std::io::Cursor;

pub const RED: [u8; 3] = [255, 0, 0];
pub const GREEN: [u8; 3] = [0, 255, 0];
pub const BLUE: [u8; 3] = [0, 0, 255];
pub const WHITE: [u8; 3] = [255, 255, 255];

/// An image split into four coloured quadrants: [top-left, top-right, bottom-left, bottom-right].
pub fn quadrants(width: u32, height: u32, colours: [[u8; 3]; 4]) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let right = x >= width / 2;
        let bottom = y >= height / 2;
        Rgb(colours[usize::from(bottom) * 2 + usize::from(right)])
    })
}

pub fn solid(width: u32, height: u32, colour: [u8; 3]) -> RgbImage {
    RgbImage::from_pixel(width, height, Rgb(colour))
}

pub fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

pub fn jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 95)
        .encode(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

pub fn png(image: &RgbImage) -> Vec<u8> {
    encode(&DynamicImage::ImageRgb8(image.clone()), ImageFormat::Png)
}

pub fn png_rgba(image: &RgbaImage) -> Vec<u8> {
    encode(&DynamicImage::ImageRgba8(image.clone()), ImageFormat::Png)
}

/// Lossless WebP (a simple-format file with one VP8L chunk).
pub fn webp(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    image::codecs::webp::WebPEncoder::new_lossless(&mut out)
        .encode(image.as_raw(), image.width(), image.height(), image::ExtendedColorType::Rgb8)
        .unwrap();
    out
}

/// A GIF of the given frames; `looping` adds the NETSCAPE2.0 loop extension.
pub fn gif(frames: &[RgbImage], looping: bool) -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut encoder = image::codecs::gif::GifEncoder::new(&mut out);
        if looping {
            encoder.set_repeat(image::codecs::gif::Repeat::Infinite).unwrap();
        }
        let frames = frames.iter().map(|f| {
            let rgba = DynamicImage::ImageRgb8(f.clone()).to_rgba8();
            image::Frame::new(rgba)
        });
        encoder.encode_frames(frames).unwrap();
    }
    out
}

pub fn rgba_image(width: u32, height: u32, f: impl Fn(u32, u32) -> [u8; 4]) -> RgbaImage {
    RgbaImage::from_fn(width, height, |x, y| Rgba(f(x, y)))
}

/// EXIF fields to write.
#[derive(Default, Clone)]
pub struct ExifFields<'a> {
    pub big_endian: bool,
    pub orientation: Option<u16>,
    pub make: Option<&'a [u8]>,
    pub model: Option<&'a [u8]>,
    pub date_time_original: Option<&'a [u8]>,
}

/// A TIFF structure (as inside APP1 after "Exif\0\0") with IFD0 and, if needed, an Exif IFD.
pub fn tiff(fields: &ExifFields) -> Vec<u8> {
    let be = fields.big_endian;
    let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    // (tag, type, count, inline value or out-of-line data)
    let mut ifd0: Vec<(u16, u16, Vec<u8>)> = Vec::new();
    let ascii = |s: &[u8]| {
        let mut v = s.to_vec();
        v.push(0);
        v
    };
    if let Some(m) = fields.make {
        ifd0.push((0x010F, 2, ascii(m)));
    }
    if let Some(m) = fields.model {
        ifd0.push((0x0110, 2, ascii(m)));
    }
    if let Some(o) = fields.orientation {
        let mut v = u16b(o).to_vec();
        v.extend([0, 0]);
        ifd0.push((0x0112, 3, v));
    }
    let exif_ifd: Vec<(u16, u16, Vec<u8>)> =
        fields.date_time_original.map(|d| vec![(0x9003, 2, ascii(d))]).unwrap_or_default();
    let has_exif_ifd = !exif_ifd.is_empty();
    if has_exif_ifd {
        ifd0.push((0x8769, 4, vec![0; 4])); // patched below
    }

    let mut out = Vec::new();
    out.extend(if be { *b"MM" } else { *b"II" });
    out.extend(u16b(42));
    out.extend(u32b(8));
    let ifd_len = |n: usize| 2 + n * 12 + 4;
    let ifd0_at = 8;
    let ifd0_data_at = ifd0_at + ifd_len(ifd0.len());
    let ifd0_data_len: usize = ifd0.iter().filter(|e| e.2.len() > 4).map(|e| e.2.len()).sum();
    let exif_at = ifd0_data_at + ifd0_data_len;
    write_ifd(&mut out, &ifd0, ifd0_data_at, be, Some(exif_at as u32));
    if has_exif_ifd {
        write_ifd(&mut out, &exif_ifd, exif_at + ifd_len(exif_ifd.len()), be, None);
    }
    out
}

fn write_ifd(out: &mut Vec<u8>, entries: &[(u16, u16, Vec<u8>)], mut data_at: usize, be: bool, exif_ptr: Option<u32>) {
    let u16b = |v: u16| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let u32b = |v: u32| if be { v.to_be_bytes() } else { v.to_le_bytes() };
    let mut data: Vec<u8> = Vec::new();
    out.extend(u16b(entries.len() as u16));
    for (tag, kind, value) in entries {
        out.extend(u16b(*tag));
        out.extend(u16b(*kind));
        let count = if *kind == 2 { value.len() as u32 } else { 1 };
        out.extend(u32b(count));
        if *tag == 0x8769 {
            out.extend(u32b(exif_ptr.unwrap()));
        } else if value.len() <= 4 {
            let mut v = value.clone();
            v.resize(4, 0);
            out.extend(v);
        } else {
            out.extend(u32b(data_at as u32));
            data.extend(value);
            data_at += value.len();
        }
    }
    out.extend(u32b(0)); // no next IFD
    out.extend(data);
}

/// Insert an APP1 "Exif" segment right after SOI.
pub fn with_jpeg_exif(jpeg: &[u8], tiff: &[u8]) -> Vec<u8> {
    let mut body = b"Exif\0\0".to_vec();
    body.extend(tiff);
    with_jpeg_segment(jpeg, 0xE1, &body)
}

/// Insert any marker segment right after SOI.
pub fn with_jpeg_segment(jpeg: &[u8], marker: u8, body: &[u8]) -> Vec<u8> {
    assert!(body.len() + 2 <= 0xFFFF);
    let mut out = jpeg[..2].to_vec();
    out.extend([0xFF, marker]);
    out.extend(((body.len() + 2) as u16).to_be_bytes());
    out.extend(body);
    out.extend(&jpeg[2..]);
    out
}

pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

pub fn png_chunk(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = (body.len() as u32).to_be_bytes().to_vec();
    out.extend(kind);
    out.extend(body);
    let mut crc_input = kind.to_vec();
    crc_input.extend(body);
    out.extend(crc32(&crc_input).to_be_bytes());
    out
}

/// Insert a chunk right after IHDR.
pub fn with_png_chunk(png: &[u8], kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = png[..33].to_vec();
    out.extend(png_chunk(kind, body));
    out.extend(&png[33..]);
    out
}

/// Just a PNG signature and IHDR claiming the given size (no image data).
pub fn png_header_only(width: u32, height: u32) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = width.to_be_bytes().to_vec();
    ihdr.extend(height.to_be_bytes());
    ihdr.extend([8, 2, 0, 0, 0]);
    out.extend(png_chunk(b"IHDR", &ihdr));
    out
}

/// SOI + a baseline SOF0 claiming the given size (no image data).
pub fn jpeg_header_only(width: u16, height: u16) -> Vec<u8> {
    let mut out = vec![0xFF, 0xD8, 0xFF, 0xC0, 0, 17, 8];
    out.extend(height.to_be_bytes());
    out.extend(width.to_be_bytes());
    out.push(3);
    for id in 1..=3u8 {
        out.extend([id, 0x11, 0]);
    }
    out
}

fn riff_chunk(kind: &[u8; 4], body: &[u8]) -> Vec<u8> {
    let mut out = kind.to_vec();
    out.extend((body.len() as u32).to_le_bytes());
    out.extend(body);
    if body.len() % 2 == 1 {
        out.push(0);
    }
    out
}

fn riff(chunks: &[Vec<u8>]) -> Vec<u8> {
    let body: Vec<u8> = chunks.concat();
    let mut out = b"RIFF".to_vec();
    out.extend(((body.len() + 4) as u32).to_le_bytes());
    out.extend(b"WEBP");
    out.extend(body);
    out
}

/// Turn a simple lossless WebP into an extended one (VP8X) with optional EXIF at the end and
/// an optional animation flag (header-level only).
pub fn webp_extended(simple: &[u8], width: u32, height: u32, exif: Option<&[u8]>, animated_flag: bool) -> Vec<u8> {
    let vp8l = simple[12..].to_vec(); // the VP8L chunk, already padded
    let mut flags = 0u8;
    if exif.is_some() {
        flags |= 0x08;
    }
    if animated_flag {
        flags |= 0x02;
    }
    let mut vp8x = vec![flags, 0, 0, 0];
    vp8x.extend(&(width - 1).to_le_bytes()[..3]);
    vp8x.extend(&(height - 1).to_le_bytes()[..3]);
    let mut chunks = vec![riff_chunk(b"VP8X", &vp8x), vp8l];
    if let Some(e) = exif {
        chunks.push(riff_chunk(b"EXIF", e));
    }
    riff(&chunks)
}

/// A lossy WebP header (VP8 key frame) with the given size; the frame data is not valid.
pub fn webp_vp8_header_only(width: u16, height: u16) -> Vec<u8> {
    let mut body = vec![0x10, 0x02, 0x00, 0x9D, 0x01, 0x2A];
    body.extend(width.to_le_bytes());
    body.extend(height.to_le_bytes());
    body.extend([0; 20]);
    riff(&[riff_chunk(b"VP8 ", &body)])
}

/// Inspect a complete file and expect success.
pub fn info_of(bytes: &[u8]) -> ImageInfo {
    match inspect(bytes, bytes.len() as u64, &Limits::default()) {
        Ok(Inspection::Complete(info)) => info,
        other => panic!("expected a complete inspection, got {other:?}"),
    }
}

/// xorshift64*: deterministic, dependency-free randomness for property tests.
pub struct XorShift(pub u64);

impl XorShift {
    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    pub fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    pub fn byte(&mut self) -> u8 {
        self.next() as u8
    }
}

/// Colour distance (max channel difference).
pub fn distance(a: [u8; 3], b: [u8; 3]) -> u8 {
    (0..3).map(|i| a[i].abs_diff(b[i])).max().unwrap()
}
