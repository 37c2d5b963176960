//! One decode of a whole image into 8-bit gray or RGB pixels, with limits checked before the
//! pixel buffer is allocated. Gray and colour JPEGs are shrunk while decoding (libjpeg-turbo's
//! scaled IDCT, N/8) when a scale still covers the size needed, progressive ones without the
//! scans the result cannot show (`progressive`); else decoded whole by zune-jpeg; CMYK and
//! lossless JPEGs go through jpeg-decoder.

use crate::format::Format;
use crate::header;
use crate::inspect::{check_dimensions, format_name, Limits};
use crate::jpeg_markers;
use crate::progressive;
use crate::reject::Rejection;
use std::io::Cursor;

/// Decoded pixels: 1 (gray) or 3 (RGB) bytes per pixel, rows packed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Canvas {
    pub width: u32,
    pub height: u32,
    pub channels: usize,
    pub data: Vec<u8>,
}

/// Decode `bytes`; JPEGs are decoded at the smallest DCT scale whose longest side is still at
/// least `longest_needed` pixels.
pub(crate) fn decode(bytes: &[u8], format: Format, longest_needed: u32, limits: &Limits) -> Result<Canvas, Rejection> {
    match format {
        Format::Jpeg => decode_jpeg(bytes, longest_needed, limits),
        Format::Png => {
            header::check_png_budget(bytes)?;
            decode_with_image(bytes, image::ImageFormat::Png, format, limits)
        }
        Format::Gif => decode_with_image(&gif_first_frame(bytes), image::ImageFormat::Gif, format, limits),
        Format::Webp => {
            header::check_webp_budget(bytes)?;
            decode_with_image(bytes, image::ImageFormat::WebP, format, limits)
        }
    }
}

/// A GIF cut after its first image (plus a trailer): only that frame is shown, and a decoder
/// handed the rest could spend time on thousands of frames. The whole file if no image is found.
fn gif_first_frame(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    match header::gif_first_image_end(bytes).and_then(|end| bytes.get(..end)) {
        Some(first) => {
            let mut cut = first.to_vec();
            cut.push(0x3B);
            cut.into()
        }
        None => bytes.into(),
    }
}

fn cannot_decode(format: Format, detail: impl std::fmt::Display) -> Rejection {
    Rejection::corrupt(format!("The {} image is damaged and cannot be decoded ({detail}).", format_name(format)))
}

fn decode_jpeg(bytes: &[u8], longest_needed: u32, limits: &Limits) -> Result<Canvas, Rejection> {
    use jpeg_decoder::{CodingProcess, Decoder, PixelFormat};
    let fail = |e: jpeg_decoder::Error| cannot_decode(Format::Jpeg, e);
    // Every decoder below reads every scan: count them (linear) before any of them starts.
    jpeg_markers::check_budget(bytes)?;
    let mut decoder = Decoder::new(bytes);
    let max_buffer = limits.max_pixels.saturating_mul(4);
    decoder.set_max_decoding_buffer_size(usize::try_from(max_buffer).unwrap_or(usize::MAX));
    decoder.read_info().map_err(fail)?;
    let info = decoder.info().ok_or_else(|| cannot_decode(Format::Jpeg, "no header"))?;
    check_dimensions(u32::from(info.width), u32::from(info.height), limits)?;
    let plain = matches!(info.pixel_format, PixelFormat::L8 | PixelFormat::RGB24);
    if plain && info.coding_process != CodingProcess::Lossless {
        let longest = u32::from(info.width.max(info.height));
        let gray = info.pixel_format == PixelFormat::L8;
        return match dct_scale(longest, longest_needed) {
            // No DCT scale shrinks it: zune-jpeg's SIMD decoder is the faster full decode.
            8 => decode_jpeg_full(bytes, gray, limits),
            eighths => {
                let shrink = f64::from(longest_needed) / f64::from(longest.max(1));
                decode_jpeg_scaled(bytes, gray, eighths, shrink, limits)
            }
        };
    }
    if info.coding_process != CodingProcess::Lossless {
        // Only the longest side counts: u16::MAX on the other never satisfies the scaler.
        let wanted = u16::try_from(longest_needed).unwrap_or(u16::MAX).max(1);
        let request = if info.width >= info.height { (wanted, u16::MAX) } else { (u16::MAX, wanted) };
        decoder.scale(request.0, request.1).map_err(fail)?;
    }
    let pixels = decoder.decode().map_err(fail)?;
    let info = decoder.info().ok_or_else(|| cannot_decode(Format::Jpeg, "no header"))?;
    let (width, height) = (u32::from(info.width), u32::from(info.height));
    let count = width as usize * height as usize;
    let (channels, data) = match info.pixel_format {
        PixelFormat::L8 => (1, pixels),
        PixelFormat::RGB24 => (3, pixels),
        PixelFormat::CMYK32 => (3, cmyk_to_rgb(&pixels)),
        PixelFormat::L16 => return Err(Rejection::unsupported("This is a 16-bit JPEG, which we cannot read")),
    };
    if data.len() < count * channels {
        return Err(cannot_decode(Format::Jpeg, "too few pixels"));
    }
    Ok(Canvas { width, height, channels, data })
}

/// The smallest scale in eighths (1, 2, 4 or 8) at which libjpeg's output still has `needed`
/// pixels on its longest side (libjpeg rounds scaled sides up). Powers of two only, as libvips
/// does: odd scales such as 5/8 followed by a slight resize measurably blur (SSIM −0.04).
fn dct_scale(longest: u32, needed: u32) -> u8 {
    [1u8, 2, 4].into_iter().find(|&n| (u64::from(longest) * u64::from(n)).div_ceil(8) >= u64::from(needed)).unwrap_or(8)
}

/// Decode a gray or YCbCr/RGB JPEG at `eighths`/8 of its size with libjpeg-turbo's scaled
/// IDCT (the mozjpeg build): for progressive files its entropy decoder is the fastest we have,
/// and it is given only the scans that a result shrunk by `shrink` shows (see `progressive`).
fn decode_jpeg_scaled(
    bytes: &[u8],
    gray: bool,
    eighths: u8,
    shrink: f64,
    limits: &Limits,
) -> Result<Canvas, Rejection> {
    let decoded = std::panic::catch_unwind(|| -> std::io::Result<Canvas> {
        let builder = mozjpeg::decompress::DecompressBuilder::new().with_err(strict_error_mgr());
        match progressive::scans_for_shrink(bytes, shrink) {
            Some(ranges) => {
                read_scaled(builder.from_reader(progressive::Pieces::new(bytes, ranges))?, gray, eighths, limits)
            }
            None => read_scaled(builder.from_mem(bytes)?, gray, eighths, limits),
        }
    });
    match decoded {
        Ok(Ok(canvas)) => Ok(canvas),
        Ok(Err(e)) => Err(cannot_decode(Format::Jpeg, e)),
        // libjpeg reports fatal errors by unwinding with its message.
        Err(payload) => {
            Err(cannot_decode(Format::Jpeg, payload.downcast_ref::<String>().map_or("libjpeg error", String::as_str)))
        }
    }
}

/// The libjpeg decode itself, from whichever source: dimensions checked, scaled, 8-bit pixels.
fn read_scaled<R: std::io::BufRead>(
    mut decoder: mozjpeg::decompress::Decompress<R>,
    gray: bool,
    eighths: u8,
    limits: &Limits,
) -> std::io::Result<Canvas> {
    let (w, h) = decoder.size();
    check_dimensions(u32::try_from(w).unwrap_or(u32::MAX), u32::try_from(h).unwrap_or(u32::MAX), limits)
        .map_err(|r| std::io::Error::other(r.to_string()))?;
    decoder.scale(eighths);
    // Smoothing guesses coefficients of a progressive file that has not fully arrived; here the
    // left-out scans are ones the output cannot show, so guessing would only cost time.
    decoder.do_block_smoothing(false);
    let (channels, mut started) = if gray { (1, decoder.grayscale()?) } else { (3, decoder.rgb()?) };
    let (width, height) = (started.width(), started.height());
    let data: Vec<u8> = started.read_scanlines()?;
    started.finish()?;
    if data.len() != width * height * channels {
        return Err(std::io::Error::other("too few pixels"));
    }
    Ok(Canvas {
        width: u32::try_from(width).map_err(std::io::Error::other)?,
        height: u32::try_from(height).map_err(std::io::Error::other)?,
        channels,
        data,
    })
}

/// libjpeg's error manager, except that fatal errors unwind (caught above) instead of exiting,
/// and running out of data is fatal too: libjpeg would only warn and fill the rest with gray.
fn strict_error_mgr() -> mozjpeg_sys::jpeg_error_mgr {
    use mozjpeg_sys::{jpeg_common_struct, jpeg_std_error, JWRN_JPEG_EOF};
    use std::os::raw::c_int;

    extern "C-unwind" fn fail(cinfo: &mut jpeg_common_struct) {
        // SAFETY: libjpeg calls this with its own `cinfo`, whose `err` points at this manager.
        let code = unsafe { cinfo.err.as_ref() }.map_or(0, |e| e.msg_code);
        std::panic::resume_unwind(Box::new(format!("libjpeg error {code}")));
    }
    extern "C-unwind" fn warn(cinfo: &mut jpeg_common_struct, level: c_int) {
        // SAFETY: as above.
        let code = unsafe { cinfo.err.as_ref() }.map_or(0, |e| e.msg_code);
        if level < 0 && code == JWRN_JPEG_EOF as c_int {
            std::panic::resume_unwind(Box::new("the file is cut short".to_string()));
        }
    }

    // SAFETY: jpeg_std_error fills every field of the zeroed struct it is given.
    let mut err: mozjpeg_sys::jpeg_error_mgr = unsafe { std::mem::zeroed() };
    unsafe { jpeg_std_error(&mut err) };
    err.error_exit = Some(fail);
    err.emit_message = Some(warn);
    err
}

/// Full-size decode of a gray or YCbCr/RGB JPEG with zune-jpeg.
fn decode_jpeg_full(bytes: &[u8], gray: bool, limits: &Limits) -> Result<Canvas, Rejection> {
    use zune_core::{bytestream::ZCursor, colorspace::ColorSpace, options::DecoderOptions};
    let fail = |e: zune_jpeg::errors::DecodeErrors| cannot_decode(Format::Jpeg, e);
    let side = usize::try_from(limits.max_side).unwrap_or(usize::MAX);
    let (channels, colorspace) = if gray { (1, ColorSpace::Luma) } else { (3, ColorSpace::RGB) };
    let options = DecoderOptions::default()
        .set_max_width(side)
        .set_max_height(side)
        .jpeg_set_out_colorspace(colorspace)
        // A file cut short is an error, as it is for the other decoders, not a gray bottom.
        .set_strict_mode(true);
    let mut decoder = zune_jpeg::JpegDecoder::new_with_options(ZCursor::new(bytes), options);
    let data = decoder.decode().map_err(fail)?;
    let (width, height) = decoder.dimensions().ok_or_else(|| cannot_decode(Format::Jpeg, "no header"))?;
    if data.len() < width * height * channels {
        return Err(cannot_decode(Format::Jpeg, "too few pixels"));
    }
    Ok(Canvas {
        width: u32::try_from(width).map_err(|_| cannot_decode(Format::Jpeg, "too wide"))?,
        height: u32::try_from(height).map_err(|_| cannot_decode(Format::Jpeg, "too tall"))?,
        channels,
        data,
    })
}

/// jpeg-decoder yields CMYK with 0 = no ink (Adobe's inversion already undone).
fn cmyk_to_rgb(cmyk: &[u8]) -> Vec<u8> {
    let mut rgb = Vec::with_capacity(cmyk.len() / 4 * 3);
    for px in cmyk.chunks_exact(4) {
        let k = 255 - u32::from(px[3]);
        for &ink in &px[..3] {
            rgb.push((((255 - u32::from(ink)) * k + 127) / 255) as u8);
        }
    }
    rgb
}

fn decode_with_image(
    bytes: &[u8],
    image_format: image::ImageFormat,
    format: Format,
    limits: &Limits,
) -> Result<Canvas, Rejection> {
    use image::{DynamicImage, ImageDecoder};
    let fail = |e: image::ImageError| cannot_decode(format, e);
    let mut reader = image::ImageReader::with_format(Cursor::new(bytes), image_format);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_image_width = Some(limits.max_side);
    decoder_limits.max_image_height = Some(limits.max_side);
    // Room for the largest allowed image at 16 bits per channel with alpha, plus decoder state.
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8).saturating_add(64 << 20));
    reader.limits(decoder_limits);
    let decoder = reader.into_decoder().map_err(fail)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, limits)?;
    let image = DynamicImage::from_decoder(decoder).map_err(fail)?;
    Ok(into_canvas(image))
}

/// Convert to 8-bit gray or RGB, compositing any alpha onto white.
fn into_canvas(image: image::DynamicImage) -> Canvas {
    use image::DynamicImage as D;
    let (width, height) = (image.width(), image.height());
    let (channels, data) = match image {
        D::ImageLuma8(img) => (1, img.into_raw()),
        D::ImageRgb8(img) => (3, img.into_raw()),
        D::ImageLuma16(_) => (1, image.to_luma8().into_raw()),
        D::ImageLumaA8(img) => (1, flatten_alpha(img.into_raw(), 1)),
        D::ImageLumaA16(_) => (1, flatten_alpha(image.to_luma_alpha8().into_raw(), 1)),
        D::ImageRgba8(img) => (3, flatten_alpha(img.into_raw(), 3)),
        img if img.color().has_alpha() => (3, flatten_alpha(img.into_rgba8().into_raw(), 3)),
        img => (3, img.into_rgb8().into_raw()),
    };
    Canvas { width, height, channels, data }
}

/// Composite `channels`+alpha pixels onto white, in place, dropping the alpha byte.
fn flatten_alpha(mut data: Vec<u8>, channels: usize) -> Vec<u8> {
    let stride = channels + 1;
    let pixels = data.len() / stride;
    for i in 0..pixels {
        let alpha = u32::from(data[i * stride + channels]);
        for c in 0..channels {
            let v = u32::from(data[i * stride + c]);
            data[i * channels + c] = ((v * alpha + 255 * (255 - alpha) + 127) / 255) as u8;
        }
    }
    data.truncate(pixels * channels);
    data
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alpha_goes_onto_white() {
        let out = flatten_alpha(vec![0, 0, 0, 0, 10, 20, 30, 255, 0, 0, 0, 128], 3);
        assert_eq!(out, vec![255, 255, 255, 10, 20, 30, 127, 127, 127]);
    }

    #[test]
    fn dct_scale_is_the_smallest_that_covers() {
        assert_eq!(dct_scale(5640, 1024), 2); // 1410
        assert_eq!(dct_scale(3840, 1024), 4); // 1920 (3/8 would do, but blurs)
        assert_eq!(dct_scale(2560, 1024), 4); // 1280
        assert_eq!(dct_scale(2048, 1024), 4); // exactly half
        assert_eq!(dct_scale(2047, 1024), 4); // 1023.5 rounds up to 1024
        assert_eq!(dct_scale(2046, 1024), 8); // 1023: too small
        assert_eq!(dct_scale(1680, 1024), 8);
        assert_eq!(dct_scale(800, 1024), 8);
        assert_eq!(dct_scale(8000, 1000), 1);
        assert_eq!(dct_scale(7999, 1000), 1); // 999.875 rounds up to 1000
        assert_eq!(dct_scale(7990, 1000), 2); // 998.75 rounds up to 999: too small
    }

    #[test]
    fn cmyk_converts() {
        assert_eq!(cmyk_to_rgb(&[0, 0, 0, 0, 255, 0, 0, 0, 0, 0, 0, 255]), vec![255, 255, 255, 0, 255, 255, 0, 0, 0]);
    }
}
