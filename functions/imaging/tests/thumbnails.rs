mod common;

use common::*;
use image::{DynamicImage, ImageFormat, Rgb, RgbImage};
use imgpipe_imaging::*;

fn thumbs(bytes: &[u8], sizes: &[u32]) -> Vec<Thumbnail> {
    let info = info_of(bytes);
    let spec = ThumbnailSpec { sizes: sizes.to_vec(), quality: 90 };
    make_thumbnails(bytes, &info, &spec, &Limits::default()).unwrap()
}

fn decode(t: &Thumbnail) -> RgbImage {
    let img = image::load_from_memory_with_format(&t.jpeg, ImageFormat::Jpeg).unwrap();
    assert_eq!((img.width(), img.height()), (t.width, t.height), "reported dims match the JPEG");
    img.to_rgb8()
}

fn at(img: &RgbImage, fx: f32, fy: f32) -> [u8; 3] {
    let x = ((img.width() as f32 * fx) as u32).min(img.width() - 1);
    let y = ((img.height() as f32 * fy) as u32).min(img.height() - 1);
    img.get_pixel(x, y).0
}

/// Colours at the centres of the [top-left, top-right, bottom-left, bottom-right] quadrants.
fn quadrant_colours(img: &RgbImage) -> [[u8; 3]; 4] {
    [at(img, 0.25, 0.25), at(img, 0.75, 0.25), at(img, 0.25, 0.75), at(img, 0.75, 0.75)]
}

fn assert_close(actual: [u8; 3], expected: [u8; 3], what: &str) {
    assert!(distance(actual, expected) <= 40, "{what}: got {actual:?}, expected {expected:?}");
}

#[test]
fn default_spec_and_sizes_never_upscale() {
    assert_eq!(ThumbnailSpec::default(), ThumbnailSpec { sizes: vec![1024, 256], quality: 80 });
    let big = jpeg(&quadrants(2000, 1500, [RED, GREEN, BLUE, WHITE]));
    let info = info_of(&big);
    let out = make_thumbnails(&big, &info, &ThumbnailSpec::default(), &Limits::default()).unwrap();
    let dims: Vec<_> = out.iter().map(|t| (t.size, t.width, t.height)).collect();
    assert_eq!(dims, vec![(1024, 1024, 768), (256, 256, 192)]);
    for t in &out {
        let img = decode(t);
        let q = quadrant_colours(&img);
        for (got, want) in q.into_iter().zip([RED, GREEN, BLUE, WHITE]) {
            assert_close(got, want, "quadrant");
        }
    }

    // Smaller than a size: keeps its own dimensions.
    let small = png(&solid(300, 200, GREEN));
    let dims: Vec<_> = thumbs(&small, &[1024, 256]).iter().map(|t| (t.width, t.height)).collect();
    assert_eq!(dims, vec![(300, 200), (256, 171)]);
}

#[test]
fn output_is_a_baseline_rgb_jpeg_at_the_requested_quality() {
    let src = png(&quadrants(400, 300, [RED, GREEN, BLUE, WHITE]));
    let info = info_of(&src);
    let encode_at = |quality| {
        make_thumbnails(&src, &info, &ThumbnailSpec { sizes: vec![256], quality }, &Limits::default())
            .unwrap()
            .remove(0)
    };
    let (low, high) = (encode_at(20), encode_at(95));
    assert!(low.jpeg.len() < high.jpeg.len(), "quality changes the output");
    for t in [&low, &high] {
        let jpeg = &t.jpeg;
        assert_eq!(&jpeg[..2], &[0xFF, 0xD8]);
        let sof = jpeg.windows(2).position(|w| w[0] == 0xFF && (0xC0..=0xC2).contains(&w[1])).unwrap();
        assert_eq!(jpeg[sof + 1], 0xC0, "baseline SOF0");
        assert_eq!(jpeg[sof + 9], 3, "three components");
    }
}

/// Where each displayed corner's colour sits in the stored image, for EXIF orientations 1..=8.
/// Corners are [top-left, top-right, bottom-left, bottom-right]; the table is the EXIF
/// definition (e.g. 6 = stored image must be turned 90° clockwise to display), written out.
const STORED_CORNER_OF_DISPLAY: [[usize; 4]; 8] = [
    [0, 1, 2, 3], // 1: as stored
    [1, 0, 3, 2], // 2: mirrored left-right
    [3, 2, 1, 0], // 3: turned 180°
    [2, 3, 0, 1], // 4: mirrored top-bottom
    [0, 2, 1, 3], // 5: mirrored along the main diagonal (transpose)
    [2, 0, 3, 1], // 6: turned 90° clockwise
    [3, 1, 2, 0], // 7: mirrored along the anti-diagonal (transverse)
    [1, 3, 0, 2], // 8: turned 90° anticlockwise
];

/// A stored image whose display (after `orientation`) is 240×160 with red, green, blue and
/// white quadrants from the top-left, reading order.
fn stored_for_display(orientation: u8) -> RgbImage {
    let display = [RED, GREEN, BLUE, WHITE];
    let mut stored = [[0u8; 3]; 4];
    for (display_corner, &stored_corner) in STORED_CORNER_OF_DISPLAY[usize::from(orientation - 1)].iter().enumerate() {
        stored[stored_corner] = display[display_corner];
    }
    let (w, h) = if orientation >= 5 { (160, 240) } else { (240, 160) };
    quadrants(w, h, stored)
}

fn check_display(out: &Thumbnail, what: &str) {
    assert_eq!((out.width, out.height), (120, 80), "{what}");
    let q = quadrant_colours(&decode(out));
    for (i, (got, want)) in q.into_iter().zip([RED, GREEN, BLUE, WHITE]).enumerate() {
        assert_close(got, want, &format!("{what}, quadrant {i}"));
    }
}

#[test]
fn exif_orientation_puts_the_red_corner_top_left_in_jpeg() {
    for orientation in 1..=8u8 {
        for big_endian in [false, true] {
            let exif =
                tiff(&ExifFields { big_endian, orientation: Some(u16::from(orientation)), ..Default::default() });
            let bytes = with_jpeg_exif(&jpeg(&stored_for_display(orientation)), &exif);
            let info = info_of(&bytes);
            assert_eq!((info.oriented_width, info.oriented_height), (240, 160));
            check_display(&thumbs(&bytes, &[120])[0], &format!("jpeg orientation {orientation}"));
        }
    }
}

#[test]
fn exif_orientation_applies_to_png_and_webp() {
    for orientation in [3u8, 6, 7, 8] {
        let exif = tiff(&ExifFields { orientation: Some(u16::from(orientation)), ..Default::default() });
        let stored = stored_for_display(orientation);
        let png_bytes = with_png_chunk(&png(&stored), b"eXIf", &exif);
        check_display(&thumbs(&png_bytes, &[120])[0], &format!("png orientation {orientation}"));

        // WebP keeps EXIF at the end of the file: validation may not have seen it in its
        // prefix, but thumbnails read the whole file.
        let webp_bytes = webp_extended(&webp(&stored), stored.width(), stored.height(), Some(&exif), false);
        let limits = Limits::default();
        let total = webp_bytes.len() as u64;
        let Inspection::Complete(prefix_info) = inspect(&webp_bytes[..100], total, &limits).unwrap() else {
            panic!("header is in the first 100 bytes")
        };
        assert_eq!(prefix_info.orientation, 1, "EXIF lies beyond the prefix");
        let spec = ThumbnailSpec { sizes: vec![120], quality: 90 };
        let out = make_thumbnails(&webp_bytes, &prefix_info, &spec, &limits).unwrap();
        check_display(&out[0], &format!("webp orientation {orientation}"));
    }
}

#[test]
fn grayscale_inputs_give_gray_rgb_thumbnails() {
    let gray = image::GrayImage::from_fn(200, 100, |x, _| image::Luma([if x < 100 { 30 } else { 220 }]));
    let gray_jpeg = encode(&DynamicImage::ImageLuma8(gray.clone()), ImageFormat::Jpeg);
    let gray_png = encode(&DynamicImage::ImageLuma8(gray), ImageFormat::Png);
    for bytes in [gray_jpeg, gray_png] {
        let img = decode(&thumbs(&bytes, &[100])[0]);
        assert_close(at(&img, 0.25, 0.5), [30, 30, 30], "dark half");
        assert_close(at(&img, 0.75, 0.5), [220, 220, 220], "light half");
    }
}

#[test]
fn cmyk_and_ycck_jpegs_convert_to_rgb() {
    // CMYK with 0 = no ink: red = full magenta + yellow; blue = cyan + magenta; white = none.
    let (w, h) = (200u16, 120u16);
    let mut cmyk = Vec::new();
    for _y in 0..h {
        for x in 0..w {
            cmyk.extend(if x < w / 2 { [0, 255, 255, 0] } else { [255, 255, 0, 0] });
        }
    }
    for colour_type in [jpeg_encoder::ColorType::Cmyk, jpeg_encoder::ColorType::CmykAsYcck] {
        let mut bytes = Vec::new();
        jpeg_encoder::Encoder::new(&mut bytes, 95).encode(&cmyk, w, h, colour_type).unwrap();
        let img = decode(&thumbs(&bytes, &[100])[0]);
        assert_close(at(&img, 0.25, 0.5), RED, &format!("{colour_type:?} left"));
        assert_close(at(&img, 0.75, 0.5), BLUE, &format!("{colour_type:?} right"));
    }
}

#[test]
fn sixteen_bit_png() {
    let img = image::ImageBuffer::<Rgb<u16>, _>::from_fn(300, 200, |x, _| {
        if x < 150 {
            Rgb([65535, 0, 0])
        } else {
            Rgb([0, 0, 32896])
        }
    });
    let bytes = encode(&DynamicImage::ImageRgb16(img), ImageFormat::Png);
    assert_eq!(bytes[24], 16, "bit depth in IHDR");
    let out = decode(&thumbs(&bytes, &[150])[0]);
    assert_close(at(&out, 0.25, 0.5), RED, "red half");
    assert_close(at(&out, 0.75, 0.5), [0, 0, 128], "navy half");
}

#[test]
fn alpha_is_composited_onto_white() {
    let rgba = rgba_image(200, 200, |x, y| match (x < 100, y < 100) {
        (true, true) => [0, 0, 0, 0],       // fully transparent black
        (false, true) => [255, 0, 0, 255],  // opaque red
        (true, false) => [0, 0, 0, 128],    // half-transparent black
        (false, false) => [0, 0, 255, 255], // opaque blue
    });
    let webp_bytes = {
        let mut out = Vec::new();
        image::codecs::webp::WebPEncoder::new_lossless(&mut out)
            .encode(rgba.as_raw(), 200, 200, image::ExtendedColorType::Rgba8)
            .unwrap();
        out
    };
    for bytes in [png_rgba(&rgba), webp_bytes] {
        let q = quadrant_colours(&decode(&thumbs(&bytes, &[100])[0]));
        assert_close(q[0], WHITE, "transparent");
        assert_close(q[1], RED, "opaque red");
        assert_close(q[2], [127, 127, 127], "half transparent");
        assert_close(q[3], BLUE, "opaque blue");
    }
}

#[test]
fn palette_png() {
    let mut bytes = Vec::new();
    {
        let mut encoder = png::Encoder::new(&mut bytes, 160, 100);
        encoder.set_color(png::ColorType::Indexed);
        encoder.set_depth(png::BitDepth::Four);
        encoder.set_palette(vec![0, 128, 0, 255, 255, 0]);
        let mut writer = encoder.write_header().unwrap();
        // 4-bit indices, two pixels a byte: left half index 0 (green), right half 1 (yellow).
        let row: Vec<u8> = (0..80).map(|i| if i < 40 { 0x00 } else { 0x11 }).collect();
        writer.write_image_data(&row.repeat(100)).unwrap();
    }
    let img = decode(&thumbs(&bytes, &[80])[0]);
    assert_close(at(&img, 0.25, 0.5), [0, 128, 0], "green");
    assert_close(at(&img, 0.75, 0.5), [255, 255, 0], "yellow");
}

#[test]
fn animated_gif_uses_the_first_frame() {
    let bytes = gif(&[solid(150, 100, RED), solid(150, 100, BLUE)], true);
    let info = info_of(&bytes);
    assert!(info.animated);
    let img = decode(&thumbs(&bytes, &[75])[0]);
    assert_eq!((img.width(), img.height()), (75, 50));
    assert_close(at(&img, 0.5, 0.5), RED, "first frame");
}

#[test]
fn sizes_keep_their_order_and_share_one_decode() {
    let bytes = jpeg(&quadrants(1600, 900, [RED, GREEN, BLUE, WHITE]));
    let out = thumbs(&bytes, &[64, 800, 0, 320]);
    let dims: Vec<_> = out.iter().map(|t| (t.size, t.width, t.height)).collect();
    assert_eq!(dims, vec![(64, 64, 36), (800, 800, 450), (320, 320, 180)]);
    assert!(thumbs(&bytes, &[]).is_empty());
}

#[test]
fn sixteen_bit_png_with_alpha() {
    let img = image::ImageBuffer::<image::Rgba<u16>, _>::from_fn(100, 100, |_, _| image::Rgba([0, 65535, 0, 65535]));
    let bytes = encode(&DynamicImage::ImageRgba16(img), ImageFormat::Png);
    let out = decode(&thumbs(&bytes, &[50])[0]);
    assert_close(at(&out, 0.5, 0.5), GREEN, "rgba16");
}

#[test]
fn info_that_does_not_match_the_bytes_is_refused() {
    let bytes = png(&solid(300, 200, RED));
    let mut info = info_of(&bytes);
    info.width = 301;
    let err = make_thumbnails(&bytes, &info, &ThumbnailSpec::default(), &Limits::default()).unwrap_err();
    assert_eq!(err.code, RejectCode::Corrupt);
    let mut info = info_of(&bytes);
    info.format = Format::Jpeg;
    assert_eq!(
        make_thumbnails(&bytes, &info, &ThumbnailSpec::default(), &Limits::default()).unwrap_err().code,
        RejectCode::Corrupt
    );
}

#[test]
fn broken_image_data_is_corrupt_not_a_panic() {
    let good_png = png(&quadrants(300, 200, [RED, GREEN, BLUE, WHITE]));
    let info = info_of(&good_png);
    let spec = ThumbnailSpec::default();
    let limits = Limits::default();
    // Cut inside IDAT.
    let cut = &good_png[..good_png.len() / 2];
    assert_eq!(make_thumbnails(cut, &info, &spec, &limits).unwrap_err().code, RejectCode::Corrupt);
    // Header only, no image data at all.
    for header in [png_header_only(300, 200), jpeg_header_only(300, 200), webp_vp8_header_only(300, 200)] {
        let info = info_of(&header);
        let err = make_thumbnails(&header, &info, &spec, &limits).unwrap_err();
        assert_eq!(err.code, RejectCode::Corrupt, "{err}");
        assert!(err.message.contains("cannot be decoded"), "{}", err.message);
    }
}

#[test]
fn decompression_bombs_are_refused_before_allocating() {
    let limits = Limits::default();
    let spec = ThumbnailSpec::default();
    // The header claims 60000×60000; the same inspection guards thumbnails.
    for bytes in [png_header_only(60000, 60000), jpeg_header_only(60000, 60000)] {
        let info = ImageInfo {
            format: if bytes[0] == 0xFF { Format::Jpeg } else { Format::Png },
            width: 60000,
            height: 60000,
            orientation: 1,
            oriented_width: 60000,
            oriented_height: 60000,
            animated: false,
            exif: ExifSubset::default(),
        };
        assert_eq!(make_thumbnails(&bytes, &info, &spec, &limits).unwrap_err().code, RejectCode::DimensionsTooLarge);
    }
    // Tighter limits at thumbnail time than at validation are honoured too.
    let bytes = png(&solid(500, 500, RED));
    let info = info_of(&bytes);
    let tight = Limits { max_pixels: 100_000, ..limits };
    assert_eq!(make_thumbnails(&bytes, &info, &spec, &tight).unwrap_err().code, RejectCode::DimensionsTooLarge);
}
