//! A whole image as a person sees it, small: one (shrink-on-load) decode, scaled to a longest
//! side, EXIF orientation applied. What a label detector looks at.

use crate::decode::{decode, Canvas};
use crate::inspect::{ImageInfo, Limits};
use crate::reject::Rejection;
use crate::thumbnail::stored_dims_for;
use crate::transform::{orient, resize};

/// Decodes `bytes` (described by `info`) to RGB with its longest side at most `longest`
/// (never upscaled), oriented as EXIF says. Damaged files are `Corrupt`; never panics.
pub fn decode_oriented(
    bytes: &[u8],
    info: &ImageInfo,
    longest: u32,
    limits: &Limits,
) -> Result<image::RgbImage, Rejection> {
    let longest = longest.max(1);
    std::panic::catch_unwind(|| {
        let decoded = decode(bytes, info.format, longest, limits)?;
        let (width, height) = stored_dims_for(info, longest);
        let canvas = resize(&mut fast_image_resize::Resizer::new(), &decoded, width, height)?;
        to_rgb(orient(canvas, info.orientation))
    })
    .unwrap_or_else(|_| Err(Rejection::corrupt("The image is damaged and cannot be decoded.")))
}

fn to_rgb(canvas: Canvas) -> Result<image::RgbImage, Rejection> {
    let data = match canvas.channels {
        3 => canvas.data,
        1 => canvas.data.iter().flat_map(|&g| [g, g, g]).collect(),
        n => return Err(Rejection::corrupt(format!("Unexpected {n}-channel pixels."))),
    };
    image::RgbImage::from_raw(canvas.width, canvas.height, data)
        .ok_or_else(|| Rejection::corrupt("Decoded pixels do not match the image size."))
}
