//! Test images generated in code: no committed photos.

use std::io::Cursor;

use image::{ImageFormat, ImageReader, Rgb, RgbImage};

/// A `width`×`height` RGB picture with gradients and a disc, so encoders have real content.
pub fn picture(width: u32, height: u32) -> RgbImage {
    let (cx, cy, r) = (width as f32 / 2.0, height as f32 / 2.0, width.min(height) as f32 / 4.0);
    RgbImage::from_fn(width, height, |x, y| {
        let inside = (x as f32 - cx).powi(2) + (y as f32 - cy).powi(2) < r * r;
        if inside {
            Rgb([220, 40, 40])
        } else {
            Rgb([(x * 255 / width.max(1)) as u8, (y * 255 / height.max(1)) as u8, 128])
        }
    })
}

/// A baseline JPEG of [`picture`].
pub fn jpeg(width: u32, height: u32) -> Vec<u8> {
    encode(width, height, ImageFormat::Jpeg)
}

/// A PNG of [`picture`].
pub fn png(width: u32, height: u32) -> Vec<u8> {
    encode(width, height, ImageFormat::Png)
}

fn encode(width: u32, height: u32, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    picture(width, height).write_to(&mut out, format).expect("encoding a generated image");
    out.into_inner()
}

/// The format and pixel dimensions of encoded image bytes, read by the `image` crate.
pub fn describe(bytes: &[u8]) -> (ImageFormat, u32, u32) {
    let reader = ImageReader::new(Cursor::new(bytes)).with_guessed_format().expect("reading image bytes");
    let format = reader.format().expect("a known image format");
    let (w, h) = reader.into_dimensions().expect("image dimensions");
    (format, w, h)
}
