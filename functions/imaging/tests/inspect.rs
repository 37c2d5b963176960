mod common;

use common::*;
use image::{DynamicImage, ImageFormat};
use imgpipe_imaging::*;

fn reject(bytes: &[u8]) -> Rejection {
    match inspect(bytes, bytes.len() as u64, &Limits::default()) {
        Err(r) => r,
        Ok(other) => panic!("expected a rejection, got {other:?}"),
    }
}

fn code(bytes: &[u8]) -> RejectCode {
    reject(bytes).code
}

#[test]
fn accepts_every_format_with_its_dimensions() {
    let img = quadrants(321, 123, [RED, GREEN, BLUE, WHITE]);
    let cases = [
        (jpeg(&img), Format::Jpeg),
        (png(&img), Format::Png),
        (webp(&img), Format::Webp),
        (gif(std::slice::from_ref(&img), false), Format::Gif),
        (encode(&DynamicImage::ImageRgb8(img.clone()), ImageFormat::Gif), Format::Gif),
    ];
    for (bytes, format) in cases {
        let info = info_of(&bytes);
        assert_eq!(info.format, format);
        assert_eq!((info.width, info.height), (321, 123), "{format:?}");
        assert_eq!((info.oriented_width, info.oriented_height), (321, 123));
        assert_eq!(info.orientation, 1);
        assert!(!info.animated, "{format:?}");
        assert!(info.exif.is_empty());
    }
}

#[test]
fn reads_lossy_and_extended_webp_headers() {
    let info = info_of(&webp_vp8_header_only(640, 480));
    assert_eq!((info.format, info.width, info.height), (Format::Webp, 640, 480));

    let simple = webp(&solid(300, 200, RED));
    assert_eq!(&simple[12..16], b"VP8L");
    let extended = webp_extended(&simple, 300, 200, None, false);
    let info = info_of(&extended);
    assert_eq!((info.width, info.height, info.animated), (300, 200, false));

    let animated = webp_extended(&simple, 300, 200, None, true);
    assert!(info_of(&animated).animated);
}

#[test]
fn webp_exif_orientation_is_read_when_present() {
    let simple = webp(&solid(300, 200, RED));
    let exif = tiff(&ExifFields { orientation: Some(6), make: Some(b"Pixel"), ..Default::default() });
    let info = info_of(&webp_extended(&simple, 300, 200, Some(&exif), false));
    assert_eq!(info.orientation, 6);
    assert_eq!((info.oriented_width, info.oriented_height), (200, 300));
    assert_eq!(info.exif.make.as_deref(), Some("Pixel"));
}

#[test]
fn gif_animation_is_detected() {
    let a = solid(100, 100, RED);
    let b = solid(100, 100, BLUE);
    assert!(info_of(&gif(&[a.clone(), b.clone()], false)).animated, "two frames");
    assert!(info_of(&gif(std::slice::from_ref(&a), true)).animated, "looping extension");
    assert!(!info_of(&gif(&[a], false)).animated, "one frame");
}

#[test]
fn apng_is_marked_animated() {
    let plain = png(&solid(100, 100, RED));
    let mut actl = 3u32.to_be_bytes().to_vec();
    actl.extend(0u32.to_be_bytes());
    assert!(info_of(&with_png_chunk(&plain, b"acTL", &actl)).animated);
}

#[test]
fn exif_orientations_1_to_8_in_both_byte_orders() {
    let base = jpeg(&solid(200, 100, RED));
    for big_endian in [false, true] {
        for orientation in 1..=8u16 {
            let exif = tiff(&ExifFields { big_endian, orientation: Some(orientation), ..Default::default() });
            let info = info_of(&with_jpeg_exif(&base, &exif));
            assert_eq!(info.orientation, orientation as u8);
            assert_eq!((info.width, info.height), (200, 100));
            let expected = if orientation >= 5 { (100, 200) } else { (200, 100) };
            assert_eq!((info.oriented_width, info.oriented_height), expected, "orientation {orientation}");
        }
    }
}

#[test]
fn invalid_orientation_counts_as_none() {
    let base = jpeg(&solid(200, 100, RED));
    for bad in [0u16, 9, 300] {
        let exif = tiff(&ExifFields { orientation: Some(bad), ..Default::default() });
        assert_eq!(info_of(&with_jpeg_exif(&base, &exif)).orientation, 1);
    }
}

#[test]
fn exif_subset_is_cleaned() {
    let base = jpeg(&solid(200, 100, RED));
    let long_model = vec![b'M'; 300];
    for big_endian in [false, true] {
        let exif = tiff(&ExifFields {
            big_endian,
            orientation: Some(3),
            make: Some(b"  Canon\x07 "),
            model: Some(&long_model),
            date_time_original: Some(b"2024:05:06 07:08:09"),
        });
        let info = info_of(&with_jpeg_exif(&base, &exif));
        assert_eq!(info.orientation, 3);
        assert_eq!(info.exif.make.as_deref(), Some("Canon"));
        assert_eq!(info.exif.model.as_ref().map(|m| m.len()), Some(MAX_EXIF_STRING_CHARS));
        assert_eq!(info.exif.date_time_original.as_deref(), Some("2024:05:06 07:08:09"));
        assert_eq!(info.exif.software, None);
    }
}

#[test]
fn png_exif_chunk_gives_orientation() {
    let plain = png(&solid(300, 100, GREEN));
    let exif = tiff(&ExifFields { big_endian: true, orientation: Some(8), ..Default::default() });
    let info = info_of(&with_png_chunk(&plain, b"eXIf", &exif));
    assert_eq!(info.orientation, 8);
    assert_eq!((info.oriented_width, info.oriented_height), (100, 300));
}

#[test]
fn empty_and_too_large_are_checked_before_anything_else() {
    assert_eq!(code(b""), RejectCode::Empty);
    let limits = Limits::default();
    // No bytes are needed to know a 20 MiB object is too large.
    let err = inspect(&[], 20 * 1024 * 1024, &limits).unwrap_err();
    assert_eq!(err.code, RejectCode::TooLarge);
    assert!(err.message.contains("15.0 MiB"), "{}", err.message);
    assert_eq!(inspect(&[], 0, &limits).unwrap_err().code, RejectCode::Empty);
}

#[test]
fn unsupported_formats_are_named() {
    let heic = [&[0, 0, 0, 0x18][..], b"ftypheic", &[0; 4], b"mif1heic"].concat();
    let avif = [&[0, 0, 0, 0x1C][..], b"ftypavif", &[0; 4], b"avifmif1miaf"].concat();
    // TIFF (little-endian) and BMP headers, as their writers produce them.
    let tiff_img = [&b"II*\0\x08\0\0\0"[..], &[0x0C, 0, 0, 1, 3, 0, 1, 0, 0, 0, 100, 0, 0, 0]].concat();
    let bmp = [
        &b"BM"[..],
        &(54u32 + 30000).to_le_bytes(),
        &[0, 0, 0, 0, 54, 0, 0, 0, 40, 0, 0, 0, 100, 0, 0, 0, 100, 0, 0, 0, 1, 0, 24, 0],
    ]
    .concat();
    let cases: Vec<(Vec<u8>, &str)> = vec![
        (heic, "HEIC"),
        (avif, "AVIF"),
        (tiff_img, "TIFF"),
        (bmp, "BMP"),
        (b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj".to_vec(), "PDF"),
        (b"<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\"></svg>".to_vec(), "SVG"),
        (b"<svg width=\"10\" height=\"10\"></svg>".to_vec(), "SVG"),
        // A text file someone named photo.jpg: the name is never consulted.
        (b"hello, this is not really a photo.jpg\n".to_vec(), "text"),
        (
            vec![0x00, 0x13, 0x37, 0xAB, 0xCD, 0xEF, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0A],
            "not an image format",
        ),
    ];
    for (bytes, name) in cases {
        let r = reject(&bytes);
        assert_eq!(r.code, RejectCode::UnsupportedFormat, "{name}");
        assert!(r.message.contains(name), "{name}: {}", r.message);
        assert!(r.message.ends_with("upload a JPEG, PNG, WebP or GIF."), "{}", r.message);
    }
}

#[test]
fn tiny_images_are_too_small() {
    let r = reject(&png(&solid(79, 200, RED)));
    assert_eq!(r.code, RejectCode::TooSmall);
    assert!(r.message.contains("79×200"), "{}", r.message);
    assert_eq!(code(&jpeg(&solid(40, 40, RED))), RejectCode::TooSmall);
    assert_eq!(code(&gif(&[solid(200, 10, RED)], false)), RejectCode::TooSmall);
    // Exactly the minimum is fine.
    assert_eq!(info_of(&png(&solid(80, 80, RED))).width, 80);
}

#[test]
fn huge_claimed_dimensions_are_refused_without_decoding() {
    assert_eq!(code(&jpeg_header_only(60000, 60000)), RejectCode::DimensionsTooLarge);
    assert_eq!(code(&png_header_only(60000, 60000)), RejectCode::DimensionsTooLarge);
    assert_eq!(code(&webp_vp8_header_only(12000, 100)), RejectCode::DimensionsTooLarge);
    // Both sides allowed, but 81 megapixels is over the pixel limit.
    assert_eq!(code(&png_header_only(9000, 9000)), RejectCode::DimensionsTooLarge);
    // Custom limits apply.
    let limits = Limits { max_side: 500, ..Limits::default() };
    let bytes = png(&solid(600, 100, RED));
    assert_eq!(inspect(&bytes, bytes.len() as u64, &limits).unwrap_err().code, RejectCode::DimensionsTooLarge);
}

#[test]
fn zero_dimensions_and_damaged_headers_are_corrupt() {
    assert_eq!(code(&png_header_only(0, 100)), RejectCode::Corrupt);
    assert_eq!(code(&jpeg_header_only(100, 0)), RejectCode::Corrupt);
    assert_eq!(code(&jpeg_header_only(0, 100)), RejectCode::Corrupt);
    let mut bad_crc = png_header_only(100, 100);
    bad_crc[30] ^= 0xFF;
    assert_eq!(code(&bad_crc), RejectCode::Corrupt);
    // A JPEG whose first segment is not a marker.
    assert_eq!(code(&[0xFF, 0xD8, 0x12, 0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), RejectCode::Corrupt);
    // Image data before any frame header.
    assert_eq!(code(&[0xFF, 0xD8, 0xFF, 0xDA, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]), RejectCode::Corrupt);
}

#[test]
fn truncated_files_are_corrupt() {
    let full_jpeg =
        with_jpeg_exif(&jpeg(&solid(200, 200, RED)), &tiff(&ExifFields { orientation: Some(6), ..Default::default() }));
    let full_png = png(&solid(200, 200, RED));
    let full_gif = gif(&[solid(200, 200, RED)], false);
    let full_webp = webp(&solid(200, 200, RED));
    for (bytes, cut) in
        [(&full_jpeg, 40), (&full_jpeg, 2), (&full_png, 20), (&full_png, 4), (&full_gif, 12), (&full_webp, 22)]
    {
        let r = reject(&bytes[..cut]);
        assert_eq!(r.code, RejectCode::Corrupt, "cut at {cut}: {r}");
        assert!(r.message.contains("cut short"), "{}", r.message);
    }
}

#[test]
fn need_more_when_the_frame_header_is_past_the_prefix() {
    let base = jpeg(&solid(300, 200, BLUE));
    // A 60 000-byte APP2 segment (like a big ICC profile) pushes SOF far out.
    let big = with_jpeg_segment(&base, 0xE2, &vec![0u8; 60_000]);
    let total = big.len() as u64;
    let limits = Limits::default();
    let need = match inspect(&big[..1000], total, &limits).unwrap() {
        Inspection::NeedMore { bytes } => bytes,
        other => panic!("expected NeedMore, got {other:?}"),
    };
    assert!(need > 60_004 && need <= total, "need {need} of {total}");
    match inspect(&big[..need as usize], total, &limits).unwrap() {
        Inspection::Complete(info) => assert_eq!((info.width, info.height), (300, 200)),
        other => panic!("expected Complete, got {other:?}"),
    }
    // A prefix too short to sniff asks for more, but never past the object.
    assert_eq!(inspect(&big[..3], 10, &limits).unwrap(), Inspection::NeedMore { bytes: 10 });
    // The same short prefix that is the whole object is a truncated file.
    assert_eq!(inspect(&big[..1000], 1000, &limits).unwrap_err().code, RejectCode::Corrupt);
}

#[test]
fn need_more_always_makes_progress_and_ends() {
    let base = jpeg(&solid(300, 200, BLUE));
    let mut big = base.clone();
    for _ in 0..4 {
        big = with_jpeg_segment(&big, 0xE2, &vec![7u8; 65_000]);
    }
    let total = big.len() as u64;
    let mut have = 16u64;
    let mut rounds = 0;
    let info = loop {
        rounds += 1;
        match inspect(&big[..have as usize], total, &Limits::default()).unwrap() {
            Inspection::Complete(info) => break info,
            Inspection::NeedMore { bytes } => {
                assert!(bytes > have && bytes <= total);
                have = bytes;
            }
        }
    };
    assert_eq!(info.width, 300);
    assert!(rounds <= 6, "{rounds} rounds");
}

#[test]
fn limits_default_values() {
    let l = Limits::default();
    assert_eq!((l.max_bytes, l.min_side, l.max_side, l.max_pixels), (15 * 1024 * 1024, 80, 10_000, 50_000_000));
    assert_eq!(INITIAL_HEADER_BYTES, 65_536);
}

#[test]
fn rejection_display_parses_back() {
    for code in RejectCode::ALL {
        let r = Rejection { code, message: "This is a HEIC image; upload a JPEG, PNG, WebP or GIF.".into() };
        let shown = r.to_string();
        assert!(shown.starts_with(code.as_str()));
        assert_eq!(Rejection::parse(&shown), Some(r));
    }
    assert_eq!(RejectCode::DimensionsTooLarge.as_str(), "DIMENSIONS_TOO_LARGE");
    assert_eq!(Rejection::parse("NOPE: whatever"), None);
    assert_eq!(Rejection::parse("no separator"), None);
}

#[test]
fn serde_forms() {
    assert_eq!(serde_json::to_string(&RejectCode::UnsupportedFormat).unwrap(), "\"UNSUPPORTED_FORMAT\"");
    assert_eq!(serde_json::to_string(&Format::Webp).unwrap(), "\"webp\"");
    assert_eq!(serde_json::from_str::<Format>("\"jpeg\"").unwrap(), Format::Jpeg);
    assert_eq!((Format::Jpeg.content_type(), Format::Jpeg.extension()), ("image/jpeg", "jpg"));
    assert_eq!((Format::Webp.content_type(), Format::Gif.extension()), ("image/webp", "gif"));

    let exif = tiff(&ExifFields {
        orientation: Some(6),
        make: Some(b"Canon"),
        date_time_original: Some(b"2024:01:02 03:04:05"),
        ..Default::default()
    });
    let info = info_of(&with_jpeg_exif(&jpeg(&solid(200, 100, RED)), &exif));
    let json = serde_json::to_value(&info).unwrap();
    assert_eq!(json["format"], "jpeg");
    assert_eq!(json["orientedWidth"], 100);
    assert_eq!(json["exif"], serde_json::json!({"make": "Canon", "dateTimeOriginal": "2024:01:02 03:04:05"}));
    let back: ImageInfo = serde_json::from_value(json).unwrap();
    assert_eq!(back, info);
}
