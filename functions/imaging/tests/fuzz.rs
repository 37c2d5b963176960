//! Property test: many random and mutated byte strings through `inspect` and `make_thumbnails`.
//! Nothing may panic, and every answer must be internally consistent.

mod common;

use common::*;
use imgpipe_imaging::*;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

fn seeds() -> Vec<Vec<u8>> {
    let img = quadrants(96, 64, [RED, GREEN, BLUE, WHITE]);
    let exif = tiff(&ExifFields {
        big_endian: true,
        orientation: Some(6),
        make: Some(b"Make"),
        model: Some(b"A model name longer than four"),
        date_time_original: Some(b"2024:01:01 00:00:00"),
    });
    let simple_webp = webp(&img);
    vec![
        jpeg(&img),
        with_jpeg_exif(&jpeg(&img), &exif),
        png(&img),
        with_png_chunk(&png(&img), b"eXIf", &exif),
        png_rgba(&rgba_image(90, 90, |x, y| [x as u8, y as u8, 0, (x + y) as u8])),
        gif(&[img.clone(), solid(96, 64, BLUE)], true),
        simple_webp.clone(),
        webp_extended(&simple_webp, 96, 64, Some(&exif), false),
        webp_vp8_header_only(96, 64),
        png_header_only(96, 64),
        jpeg_header_only(96, 64),
    ]
}

fn mutate(rng: &mut XorShift, seed: &[u8]) -> Vec<u8> {
    let mut bytes = seed.to_vec();
    let rounds = 1 + rng.below(4);
    for _ in 0..rounds {
        let len = bytes.len().max(1);
        match rng.below(8) {
            0 => {
                // Flip bits anywhere.
                for _ in 0..1 + rng.below(8) {
                    let i = rng.below(len);
                    if let Some(b) = bytes.get_mut(i) {
                        *b ^= 1 << rng.below(8);
                    }
                }
            }
            1 => {
                // Scribble over the header area.
                for _ in 0..1 + rng.below(6) {
                    let i = rng.below(len.min(80));
                    if let Some(b) = bytes.get_mut(i) {
                        *b = rng.byte();
                    }
                }
            }
            2 => bytes.truncate(rng.below(len + 1)),
            3 => {
                let at = rng.below(len + 1).min(bytes.len());
                let extra: Vec<u8> = (0..rng.below(40)).map(|_| rng.byte()).collect();
                bytes.splice(at..at, extra);
            }
            4 => {
                // Extreme 16/32-bit values where lengths and sizes live.
                let at = rng.below(len.min(120));
                let value: [u8; 4] = match rng.below(4) {
                    0 => [0; 4],
                    1 => [0xFF; 4],
                    2 => [0x7F, 0xFF, 0xFF, 0xFF],
                    _ => [0, 0, 0, 1],
                };
                for (k, v) in value.iter().enumerate().take(2 + 2 * rng.below(2)) {
                    if let Some(b) = bytes.get_mut(at + k) {
                        *b = *v;
                    }
                }
            }
            5 => {
                // Repeat a slice (duplicate chunks / segments).
                if bytes.len() > 4 {
                    let start = rng.below(bytes.len());
                    let end = (start + 1 + rng.below(64)).min(bytes.len());
                    let copy = bytes[start..end].to_vec();
                    let at = rng.below(bytes.len());
                    bytes.splice(at..at, copy);
                }
            }
            6 => {
                // Keep the magic, randomise the rest.
                let keep = 12.min(bytes.len());
                let n = rng.below(300);
                bytes.truncate(keep);
                bytes.extend((0..n).map(|_| rng.byte()));
            }
            _ => {
                // Pure noise.
                bytes = (0..rng.below(200)).map(|_| rng.byte()).collect();
            }
        }
    }
    bytes
}

fn check_inspection(result: &Result<Inspection, Rejection>, prefix_len: usize, total: u64, limits: &Limits) {
    match result {
        Ok(Inspection::Complete(info)) => {
            assert!(info.width >= limits.min_side && info.height >= limits.min_side);
            assert!(info.width <= limits.max_side && info.height <= limits.max_side);
            assert!(u64::from(info.width) * u64::from(info.height) <= limits.max_pixels);
            assert!((1..=8).contains(&info.orientation));
            let swapped = info.orientation >= 5;
            assert_eq!(info.oriented_width, if swapped { info.height } else { info.width });
            for s in [
                &info.exif.make,
                &info.exif.model,
                &info.exif.software,
                &info.exif.date_time_original,
                &info.exif.lens_model,
            ]
            .into_iter()
            .flatten()
            {
                assert!(!s.is_empty() && s.chars().count() <= MAX_EXIF_STRING_CHARS);
                assert!(!s.chars().any(char::is_control) && s.trim() == s);
            }
        }
        Ok(Inspection::NeedMore { bytes }) => {
            assert!((prefix_len as u64) < total, "NeedMore only when bytes are missing");
            assert!(*bytes > prefix_len as u64 && *bytes <= total, "NeedMore must make progress");
        }
        Err(r) => {
            assert!(!r.message.is_empty());
            assert_eq!(Rejection::parse(&r.to_string()).as_ref(), Some(r));
        }
    }
}

#[test]
fn random_and_mutated_inputs_never_panic() {
    // Count panics that were caught inside the library (third-party decoders), for visibility.
    let caught = Arc::new(AtomicUsize::new(0));
    let counter = caught.clone();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        counter.fetch_add(1, Ordering::SeqCst);
        default_hook(info);
    }));

    // Small limits keep each decode cheap; min_side 1 lets more inputs reach the decoders.
    let limits = Limits { max_bytes: 1 << 20, min_side: 1, max_side: 2000, max_pixels: 1_000_000 };
    let spec = ThumbnailSpec { sizes: vec![48, 16], quality: 70 };
    let seeds = seeds();
    let seed_value =
        std::env::var("IMAGING_FUZZ_SEED").ok().and_then(|v| v.parse().ok()).unwrap_or(0x9E37_79B9_7F4A_7C15);
    let mut rng = XorShift(seed_value);
    // IMAGING_FUZZ_ITERATIONS=1000000 for a longer run.
    let iterations: usize =
        std::env::var("IMAGING_FUZZ_ITERATIONS").ok().and_then(|v| v.parse().ok()).unwrap_or(20_000);
    let (mut complete, mut rejected, mut need_more, mut thumbs_ok) = (0, 0, 0, 0);
    for i in 0..iterations {
        let seed = &seeds[i % seeds.len()];
        let bytes = mutate(&mut rng, seed);
        let total = bytes.len() as u64;

        let full = catch_unwind(AssertUnwindSafe(|| inspect(&bytes, total, &limits)))
            .unwrap_or_else(|_| panic!("inspect panicked on input #{i}: {bytes:02x?}"));
        check_inspection(&full, bytes.len(), total, &limits);
        assert!(!matches!(full, Ok(Inspection::NeedMore { .. })), "the whole file never needs more");

        // A random prefix of the same object, and a claim that the object is longer.
        let cut = rng.below(bytes.len() + 1);
        for claimed in [total, total + 1 + rng.below(5000) as u64] {
            let partial = catch_unwind(AssertUnwindSafe(|| inspect(&bytes[..cut], claimed, &limits)))
                .unwrap_or_else(|_| panic!("inspect panicked on prefix of input #{i}"));
            check_inspection(&partial, cut, claimed, &limits);
            if matches!(partial, Ok(Inspection::NeedMore { .. })) {
                need_more += 1;
            }
        }

        match full {
            Ok(Inspection::Complete(info)) => {
                complete += 1;
                let result = catch_unwind(AssertUnwindSafe(|| make_thumbnails(&bytes, &info, &spec, &limits)))
                    .unwrap_or_else(|_| panic!("make_thumbnails panicked on input #{i}: {bytes:02x?}"));
                match result {
                    Ok(thumbs) => {
                        thumbs_ok += 1;
                        assert_eq!(thumbs.len(), 2);
                        for t in thumbs {
                            assert!(t.width.max(t.height) <= t.size);
                            assert!(t.width >= 1 && t.height >= 1 && t.jpeg.starts_with(&[0xFF, 0xD8]));
                        }
                    }
                    Err(r) => assert!(!r.message.is_empty()),
                }
            }
            Ok(Inspection::NeedMore { .. }) => unreachable!(),
            Err(_) => rejected += 1,
        }
        // Info from the unmutated seed must never be trusted over the bytes.
        catch_unwind(AssertUnwindSafe(|| {
            if let Ok(Inspection::Complete(seed_info)) = inspect(seed, seed.len() as u64, &limits) {
                let _ = make_thumbnails(&bytes, &seed_info, &spec, &limits);
            }
        }))
        .unwrap_or_else(|_| panic!("make_thumbnails panicked with seed info on input #{i}"));
    }
    let _ = std::panic::take_hook();
    eprintln!(
        "{iterations} inputs: {complete} accepted ({thumbs_ok} thumbnailed), {rejected} rejected, \
         {need_more} partial prefixes needed more; {} panics caught inside decoders",
        caught.load(Ordering::SeqCst)
    );
    // The corpus must exercise every outcome, or the test proves little.
    assert!(complete > 100 && rejected > 100 && need_more > 100 && thumbs_ok > 50);
}
