//! Criterion micro-benchmarks of the hot paths, on photo-like images generated here:
//! header inspection, thumbnails through each JPEG decode path, and the detector's input.
//! Run: `cargo bench -p imgpipe-imaging --bench hot_paths`. The side-by-side comparison with
//! sharp and Pillow on real photos is `bench/run.sh`.

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use imgpipe_imaging::{decode_oriented, inspect, make_thumbnails, ImageInfo, Inspection, Limits, ThumbnailSpec};
use std::hint::black_box;

/// Smooth gradients plus deterministic noise: every DCT band carries data, as in a photo.
fn photo_like(width: u32, height: u32) -> Vec<u8> {
    let mut state = 0x2545_f491_u32;
    let mut pixels = Vec::with_capacity((width * height * 3) as usize);
    for y in 0..height {
        for x in 0..width {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            let noise = state % 8;
            pixels.push(((x * 255 / width + noise) % 256) as u8);
            pixels.push(((y * 255 / height + noise) % 256) as u8);
            pixels.push((((x + y) * 128 / (width + height)) + noise) as u8);
        }
    }
    pixels
}

fn jpeg(width: u32, height: u32, progressive: bool) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = jpeg_encoder::Encoder::new(&mut out, 92);
    encoder.set_progressive(progressive);
    encoder
        .encode(&photo_like(width, height), width as u16, height as u16, jpeg_encoder::ColorType::Rgb)
        .expect("encode test image");
    out
}

fn info(bytes: &[u8], limits: &Limits) -> ImageInfo {
    match inspect(bytes, bytes.len() as u64, limits).expect("valid test image") {
        Inspection::Complete(info) => info,
        Inspection::NeedMore { .. } => unreachable!("whole file given"),
    }
}

fn benches(c: &mut Criterion) {
    let limits = Limits::default();
    let spec = ThumbnailSpec::default();

    let big = jpeg(4000, 3000, false);
    c.bench_function("inspect/jpeg 12 MP header (64 KiB prefix)", |b| {
        let head = &big[..big.len().min(64 * 1024)];
        b.iter(|| inspect(black_box(head), big.len() as u64, &limits))
    });

    let mut group = c.benchmark_group("make_thumbnails 1024+256 q80");
    group.sample_size(10);
    for (name, bytes) in [
        ("baseline 12 MP (libjpeg 1/2 scale)", big.clone()),
        ("progressive 12 MP (libjpeg 1/2 scale)", jpeg(4000, 3000, true)),
        ("baseline 1.8 MP (zune-jpeg full)", jpeg(1680, 1050, false)),
    ] {
        let info = info(&bytes, &limits);
        group.throughput(Throughput::Elements(u64::from(info.width) * u64::from(info.height)));
        group.bench_function(name, |b| {
            b.iter(|| make_thumbnails(black_box(&bytes), &info, &spec, &limits).expect("thumbnails"))
        });
    }
    group.finish();

    let mut group = c.benchmark_group("decode_oriented 512 px (detector input)");
    group.sample_size(10);
    let info_big = info(&big, &limits);
    group.bench_function("baseline 12 MP", |b| {
        b.iter(|| decode_oriented(black_box(&big), &info_big, 512, &limits).expect("decode"))
    });
    group.finish();
}

criterion_group!(hot_paths, benches);
criterion_main!(hot_paths);
