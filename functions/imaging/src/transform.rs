//! Resizing (Lanczos3 convolution) and EXIF orientation on decoded canvases.

use crate::decode::Canvas;
use crate::reject::Rejection;
use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};

/// Resize `src` to exactly `width`×`height` (returns a copy when the size already matches).
pub(crate) fn resize(resizer: &mut Resizer, src: &Canvas, width: u32, height: u32) -> Result<Canvas, Rejection> {
    if (src.width, src.height) == (width, height) {
        return Ok(src.clone());
    }
    let pixel_type = if src.channels == 1 { PixelType::U8 } else { PixelType::U8x3 };
    let failed = |e: &dyn std::fmt::Display| Rejection::corrupt(format!("The image could not be resized ({e})."));
    let source = ImageRef::new(src.width, src.height, &src.data, pixel_type).map_err(|e| failed(&e))?;
    let mut dest = Image::new(width, height, pixel_type);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Lanczos3));
    resizer.resize(&source, &mut dest, &options).map_err(|e| failed(&e))?;
    Ok(Canvas { width, height, channels: src.channels, data: dest.into_vec() })
}

/// Turn stored pixels into displayed pixels for EXIF orientation 1..=8 (others: unchanged).
pub(crate) fn orient(src: Canvas, orientation: u8) -> Canvas {
    if !(2..=8).contains(&orientation) {
        return src;
    }
    let (w, h, ch) = (src.width as usize, src.height as usize, src.channels);
    let swap = orientation >= 5;
    let (ow, oh) = if swap { (h, w) } else { (w, h) };
    let mut data = vec![0u8; src.data.len()];
    for y in 0..oh {
        for x in 0..ow {
            // The stored pixel shown at displayed (x, y).
            let (sx, sy) = match orientation {
                2 => (w - 1 - x, y),
                3 => (w - 1 - x, h - 1 - y),
                4 => (x, h - 1 - y),
                5 => (y, x),
                6 => (y, h - 1 - x),
                7 => (w - 1 - y, h - 1 - x),
                _ => (w - 1 - y, x), // 8
            };
            let from = (sy * w + sx) * ch;
            let to = (y * ow + x) * ch;
            data[to..to + ch].copy_from_slice(&src.data[from..from + ch]);
        }
    }
    Canvas { width: ow as u32, height: oh as u32, channels: ch, data }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3×2 gray image with pixel values 1..=6 in reading order.
    fn sample() -> Canvas {
        Canvas { width: 3, height: 2, channels: 1, data: vec![1, 2, 3, 4, 5, 6] }
    }

    #[test]
    fn orientations_move_pixels_as_exif_defines() {
        // Expected displayed images, written out by hand from the EXIF definitions.
        let cases: [(u8, u32, &[u8]); 8] = [
            (1, 3, &[1, 2, 3, 4, 5, 6]),
            (2, 3, &[3, 2, 1, 6, 5, 4]),
            (3, 3, &[6, 5, 4, 3, 2, 1]),
            (4, 3, &[4, 5, 6, 1, 2, 3]),
            (5, 2, &[1, 4, 2, 5, 3, 6]),
            (6, 2, &[4, 1, 5, 2, 6, 3]),
            (7, 2, &[6, 3, 5, 2, 4, 1]),
            (8, 2, &[3, 6, 2, 5, 1, 4]),
        ];
        for (orientation, width, expected) in cases {
            let out = orient(sample(), orientation);
            assert_eq!(out.width, width, "orientation {orientation}");
            assert_eq!(out.data, expected, "orientation {orientation}");
        }
    }
}
