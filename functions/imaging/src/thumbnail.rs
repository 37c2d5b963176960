//! Thumbnails: one decode, orientation applied, each size rendered and encoded as JPEG.

use crate::decode::{decode, Canvas};
use crate::inspect::{format_name, inspect, ImageInfo, Inspection, Limits};
use crate::reject::Rejection;
use crate::transform::{orient, resize};
use serde::{Deserialize, Serialize};

/// Which thumbnails to make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ThumbnailSpec {
    /// Longest side of each thumbnail in pixels (sizes of 0 are skipped).
    pub sizes: Vec<u32>,
    /// JPEG quality 1..=100 (out-of-range values are clamped).
    pub quality: u8,
}

impl Default for ThumbnailSpec {
    /// Sizes 1024 and 256, quality 80.
    fn default() -> Self {
        ThumbnailSpec { sizes: vec![1024, 256], quality: 80 }
    }
}

/// One rendered thumbnail: a baseline RGB JPEG, as displayed (orientation applied).
#[derive(Clone, PartialEq, Eq)]
pub struct Thumbnail {
    /// The requested size (longest side) this was made for.
    pub size: u32,
    /// Displayed width in pixels.
    pub width: u32,
    /// Displayed height in pixels.
    pub height: u32,
    /// The encoded JPEG.
    pub jpeg: Vec<u8>,
}

impl std::fmt::Debug for Thumbnail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Thumbnail")
            .field("size", &self.size)
            .field("width", &self.width)
            .field("height", &self.height)
            .field("jpeg_bytes", &self.jpeg.len())
            .finish()
    }
}

/// Render every size in `spec` from one decode of `bytes`, in the order of `spec.sizes`.
///
/// `info` is what [`inspect`] reported at validation; the complete bytes are re-inspected (cheap,
/// header only) and must agree on format and dimensions. Orientation comes from the complete
/// bytes, which matters for WebP files whose EXIF chunk sits at the end. Images are never
/// upscaled: an image smaller than a size keeps its dimensions. Decoding honours `limits`
/// before allocating pixels; a file that cannot be decoded is rejected as `Corrupt`.
pub fn make_thumbnails(
    bytes: &[u8],
    info: &ImageInfo,
    spec: &ThumbnailSpec,
    limits: &Limits,
) -> Result<Vec<Thumbnail>, Rejection> {
    let fresh = match inspect(bytes, bytes.len() as u64, limits)? {
        Inspection::Complete(fresh) => fresh,
        Inspection::NeedMore { .. } => return Err(Rejection::corrupt("The image file is cut short.")),
    };
    if (fresh.format, fresh.width, fresh.height) != (info.format, info.width, info.height) {
        return Err(Rejection::corrupt(format!(
            "The file is a {}×{} {} image, not the {}×{} {} image that was validated.",
            fresh.width,
            fresh.height,
            format_name(fresh.format),
            info.width,
            info.height,
            format_name(info.format)
        )));
    }
    let sizes: Vec<u32> = spec.sizes.iter().copied().filter(|&s| s > 0).collect();
    let Some(&largest) = sizes.iter().max() else {
        return Ok(Vec::new());
    };
    let quality = spec.quality.clamp(1, 100);
    // Decoders are third-party code: a panic on hostile input becomes a rejection.
    let rendered = std::panic::catch_unwind(|| render(bytes, &fresh, &sizes, largest, quality, limits))
        .unwrap_or_else(|_| Err(Rejection::corrupt("The image is damaged and cannot be decoded.")))?;
    Ok(rendered)
}

fn render(
    bytes: &[u8],
    info: &ImageInfo,
    sizes: &[u32],
    largest: u32,
    quality: u8,
    limits: &Limits,
) -> Result<Vec<Thumbnail>, Rejection> {
    let decoded = decode(bytes, info.format, largest, limits)?;
    let mut resizer = fast_image_resize::Resizer::new();
    // Largest first; each smaller size is rendered from the nearest larger rendering.
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    order.sort_by(|&a, &b| sizes[b].cmp(&sizes[a]));
    let mut source: Option<Canvas> = None;
    let mut out: Vec<Option<Thumbnail>> = vec![None; sizes.len()];
    for index in order {
        let (width, height) = stored_dims_for(info, sizes[index]);
        let canvas = resize(&mut resizer, source.as_ref().unwrap_or(&decoded), width, height)?;
        let shown = orient(canvas.clone(), info.orientation);
        out[index] = Some(Thumbnail {
            size: sizes[index],
            width: shown.width,
            height: shown.height,
            jpeg: encode_jpeg(&shown, quality)?,
        });
        source = Some(canvas);
    }
    Ok(out.into_iter().flatten().collect())
}

/// Stored (pre-orientation) dimensions whose longest side is `min(size, longest side)`.
pub(crate) fn stored_dims_for(info: &ImageInfo, size: u32) -> (u32, u32) {
    let (w, h) = (u64::from(info.width.max(1)), u64::from(info.height.max(1)));
    let longest = w.max(h);
    let target = u64::from(size).min(longest);
    let scale = |side: u64| ((side * target + longest / 2) / longest).max(1) as u32;
    (scale(w), scale(h))
}

fn encode_jpeg(canvas: &Canvas, quality: u8) -> Result<Vec<u8>, Rejection> {
    let failed = |e: &dyn std::fmt::Display| Rejection::corrupt(format!("The thumbnail could not be encoded ({e})."));
    let rgb;
    let pixels = if canvas.channels == 1 {
        rgb = canvas.data.iter().flat_map(|&v| [v, v, v]).collect::<Vec<u8>>();
        &rgb
    } else {
        &canvas.data
    };
    let width = u16::try_from(canvas.width).map_err(|e| failed(&e))?;
    let height = u16::try_from(canvas.height).map_err(|e| failed(&e))?;
    let mut jpeg = Vec::new();
    // Baseline, 4:2:0 below quality 90, AVX2 DCT where the CPU has it.
    jpeg_encoder::Encoder::new(&mut jpeg, quality)
        .encode(pixels, width, height, jpeg_encoder::ColorType::Rgb)
        .map_err(|e| failed(&e))?;
    Ok(jpeg)
}
