//! Image pre-processing, as the graph's own `Preprocessor` does it: bilinear resize to 300x300
//! (TF `ResizeBilinear`, align_corners=false), then scale 0..255 to -1..1.

use image::RgbImage;

/// Side of the square the feature extractor takes.
pub const INPUT_SIDE: usize = 300;

/// `Preprocessor/mul/x` and `Preprocessor/sub/y` of the graph: 2/255 and 1.
const SCALE: f32 = 0.007_843_138;
const OFFSET: f32 = 1.0;

/// Source coordinates for each destination coordinate: (low index, high index, weight of high).
fn sample_points(in_len: usize, out_len: usize) -> Vec<(usize, usize, f32)> {
    let ratio = in_len as f32 / out_len as f32;
    (0..out_len)
        .map(|o| {
            let src = o as f32 * ratio;
            let low = (src.floor() as usize).min(in_len - 1);
            let high = (low + 1).min(in_len - 1);
            (low, high, src - low as f32)
        })
        .collect()
}

/// Resize `image` to `side`x`side` with TF's bilinear sampling; returns HWC f32 values 0..255.
/// The image must not be empty.
pub fn resize_bilinear(image: &RgbImage, side: usize) -> Vec<f32> {
    resize_bilinear_to(image, side, side)
}

/// Resize `image` to `out_w`x`out_h` with TF's bilinear sampling; HWC f32 values 0..255.
/// The image must not be empty.
pub fn resize_bilinear_to(image: &RgbImage, out_w: usize, out_h: usize) -> Vec<f32> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let raw = image.as_raw();
    let px = |y: usize, x: usize, c: usize| raw[(y * w + x) * 3 + c] as f32;
    let ys = sample_points(h, out_h);
    let xs = sample_points(w, out_w);
    let mut out = Vec::with_capacity(out_w * out_h * 3);
    for &(y0, y1, wy) in &ys {
        for &(x0, x1, wx) in &xs {
            for c in 0..3 {
                let top = px(y0, x0, c) + (px(y0, x1, c) - px(y0, x0, c)) * wx;
                let bottom = px(y1, x0, c) + (px(y1, x1, c) - px(y1, x0, c)) * wx;
                out.push(top + (bottom - top) * wy);
            }
        }
    }
    out
}

/// The feature extractor's input: `[1, 300, 300, 3]` values in -1..1, flattened.
pub fn model_input(image: &RgbImage) -> Vec<f32> {
    let mut data = resize_bilinear(image, INPUT_SIDE);
    for v in &mut data {
        *v = *v * SCALE - OFFSET;
    }
    data
}

#[cfg(test)]
mod tests {
    use super::*;
    use image::Rgb;

    #[test]
    fn upscale_follows_tf_sampling() {
        // TF ResizeBilinear (align_corners=false) of a row [0, 100] to 4 pixels samples at
        // 0, 0.5, 1.0, 1.5 -> 0, 50, 100, 100 (the last clamps to the edge).
        let img = RgbImage::from_fn(2, 2, |x, _| Rgb([(x * 100) as u8, 0, 255]));
        let out = resize_bilinear(&img, 4);
        let reds: Vec<f32> = (0..4).map(|x| out[x * 3]).collect();
        assert_eq!(reds, vec![0.0, 50.0, 100.0, 100.0]);
        assert!(out.chunks(3).all(|p| p[1] == 0.0 && p[2] == 255.0));
    }

    #[test]
    fn downscale_takes_every_nth_pixel_when_ratio_is_whole() {
        let img = RgbImage::from_fn(600, 600, |x, y| Rgb([(x % 256) as u8, (y % 256) as u8, 7]));
        let out = resize_bilinear(&img, 300);
        // Output pixel (y=1, x=2) samples source (2, 4) exactly.
        let p = &out[(300 + 2) * 3..(300 + 2) * 3 + 3];
        assert_eq!(p, &[4.0, 2.0, 7.0]);
    }

    #[test]
    fn input_is_scaled_to_minus_one_one() {
        let img = RgbImage::from_fn(10, 5, |x, _| Rgb([if x < 5 { 0 } else { 255 }, 128, 255]));
        let data = model_input(&img);
        assert_eq!(data.len(), 300 * 300 * 3);
        assert!(data.iter().all(|v| (-1.0..=1.0001).contains(v)));
        assert!((data[0] + 1.0).abs() < 1e-6);
        assert!((data[2] - 1.0).abs() < 1e-5);
    }
}
