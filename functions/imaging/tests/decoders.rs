//! The three JPEG decode paths behind `make_thumbnails`: libjpeg-turbo's scaled IDCT when a
//! thumbnail is at most 7/8 of the photo, zune-jpeg's full decode otherwise, jpeg-decoder for
//! CMYK. Each must give the same picture, and each must refuse a file cut short.

mod common;

use common::*;
use image::{ImageFormat, RgbImage};
use imgpipe_imaging::*;

/// A photo-like test image: smooth gradients with quadrant tints, so that every DCT band carries
/// data and a wrong scale, channel order or orientation shows.
fn gradient_quadrants(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, y| {
        let (right, bottom) = (x >= width / 2, y >= height / 2);
        let shade = ((x + y) * 64 / (width + height)) as u8;
        let base = match (right, bottom) {
            (false, false) => [200, 30, 30],
            (true, false) => [30, 190, 30],
            (false, true) => [30, 30, 200],
            (true, true) => [190, 190, 190],
        };
        image::Rgb(base.map(|c| c + shade / 2))
    })
}

fn progressive_jpeg(image: &RgbImage) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 92);
    encoder.set_progressive(true);
    encoder.encode(image.as_raw(), image.width() as u16, image.height() as u16, jpeg_encoder::ColorType::Rgb).unwrap();
    out
}

fn make(bytes: &[u8], sizes: &[u32]) -> Result<Vec<Thumbnail>, Rejection> {
    let spec = ThumbnailSpec { sizes: sizes.to_vec(), quality: 90 };
    make_thumbnails(bytes, &info_of(bytes), &spec, &Limits::default())
}

fn pixels(t: &Thumbnail) -> RgbImage {
    image::load_from_memory_with_format(&t.jpeg, ImageFormat::Jpeg).unwrap().to_rgb8()
}

/// Mean absolute difference per channel of two images of the same size.
fn mean_difference(a: &RgbImage, b: &RgbImage) -> f64 {
    assert_eq!(a.dimensions(), b.dimensions());
    let total: u64 = a.as_raw().iter().zip(b.as_raw()).map(|(&x, &y)| u64::from(x.abs_diff(y))).sum();
    total as f64 / a.as_raw().len() as f64
}

#[test]
fn scaled_and_full_decodes_give_the_same_thumbnail() {
    let source = gradient_quadrants(960, 640);
    for bytes in [jpeg(&source), progressive_jpeg(&source)] {
        // 120 px: decoded at 1/8 by libjpeg. Reference: a full decode (PNG input) of the same picture.
        let scaled = make(&bytes, &[120]).unwrap().remove(0);
        let full = make(&png(&source), &[120]).unwrap().remove(0);
        assert_eq!((scaled.width, scaled.height), (120, 80));
        let diff = mean_difference(&pixels(&scaled), &pixels(&full));
        assert!(diff < 4.0, "scaled decode differs by {diff:.2} per channel");
        // 900 px: no DCT scale fits (7/8 is 840), so zune-jpeg decodes it whole.
        let whole = make(&bytes, &[900]).unwrap().remove(0);
        let full = make(&png(&source), &[900]).unwrap().remove(0);
        assert_eq!((whole.width, whole.height), (900, 600));
        let diff = mean_difference(&pixels(&whole), &pixels(&full));
        assert!(diff < 4.0, "full decode differs by {diff:.2} per channel");
    }
}

#[test]
fn a_jpeg_cut_short_is_corrupt_on_every_path() {
    let source = gradient_quadrants(640, 480);
    for bytes in [jpeg(&source), progressive_jpeg(&source)] {
        let cut = &bytes[..bytes.len() / 2];
        for size in [100, 2000] {
            let err = make(cut, &[size]).unwrap_err();
            assert_eq!(err.code, RejectCode::Corrupt, "size {size}: {err}");
            assert!(err.message.contains("cannot be decoded"), "{}", err.message);
        }
    }
}

#[test]
fn gray_jpegs_stay_gray_when_scaled() {
    let gray = image::GrayImage::from_fn(800, 400, |x, _| image::Luma([if x < 400 { 40 } else { 210 }]));
    let bytes = encode(&image::DynamicImage::ImageLuma8(gray), ImageFormat::Jpeg);
    let t = make(&bytes, &[200]).unwrap().remove(0);
    let img = pixels(&t);
    assert_eq!((t.width, t.height), (200, 100));
    for (x, expected) in [(40, 40u8), (160, 210)] {
        let px = img.get_pixel(x, 50).0;
        assert!(px.iter().all(|&c| c.abs_diff(expected) <= 6), "at x={x}: {px:?}");
    }
}

/// `image` as libjpeg-turbo saves it at quality 100 (all quantizers 1), baseline or progressive
/// with its standard scan script, as photo tools write "maximum quality" JPEGs.
fn libjpeg_quality_100(image: &RgbImage, progressive: bool) -> Vec<u8> {
    let mut compress = mozjpeg::Compress::new(mozjpeg::ColorSpace::JCS_RGB);
    compress.set_fastest_defaults();
    compress.set_size(image.width() as usize, image.height() as usize);
    compress.set_quality(100.0);
    if progressive {
        compress.set_progressive_mode();
    }
    let mut started = compress.start_compress(Vec::new()).unwrap();
    started.write_scanlines(image.as_raw()).unwrap();
    started.finish().unwrap()
}

#[test]
fn thumbnails_of_a_quality_100_progressive_jpeg_lose_nothing_visible() {
    // Fine noise on the gradients puts most of the file in the high-frequency scans, which the
    // scaled decode of a progressive file leaves out; a baseline file has no scans to leave out.
    let mut rng = XorShift(0x5EED);
    let mut source = gradient_quadrants(1600, 1200);
    for p in source.pixels_mut() {
        p.0 = p.0.map(|c| c.saturating_add(rng.byte() % 32));
    }
    let sizes = [200, 400, 800]; // 1/8, 1/4 and 1/2 DCT scales
    let baseline = make(&libjpeg_quality_100(&source, false), &sizes).unwrap();
    let progressive = make(&libjpeg_quality_100(&source, true), &sizes).unwrap();
    // Reference: the same picture decoded whole (PNG), then resized.
    let full = make(&png(&source), &sizes).unwrap();
    for ((b, p), f) in baseline.iter().zip(&progressive).zip(&full) {
        assert_eq!((b.width, b.height), (p.width, p.height));
        let (b, p, f) = (pixels(b), pixels(p), pixels(f));
        let (baseline_error, progressive_error) = (mean_difference(&b, &f), mean_difference(&p, &f));
        assert!(
            progressive_error <= baseline_error + 0.1,
            "{} px: progressive {progressive_error:.2} vs baseline {baseline_error:.2} from the full decode",
            b.width()
        );
        let diff = mean_difference(&b, &p);
        assert!(diff < 2.0, "{} px: progressive differs by {diff:.2} per channel", b.width());
    }
}
