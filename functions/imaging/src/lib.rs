#![warn(missing_docs)]
//! Pure image work for imgpipe: header validation (format, limits, EXIF orientation) without
//! decoding pixels, and thumbnails from one decode. No AWS types; no panics on any input.
//!
//! ```no_run
//! use imgpipe_imaging::{inspect, make_thumbnails, Inspection, Limits, ThumbnailSpec};
//! # fn get(bytes: u64) -> Vec<u8> { vec![] }
//! let limits = Limits::default();
//! let info = match inspect(&get(64 * 1024), 200_000, &limits)? {
//!     Inspection::Complete(info) => info,
//!     Inspection::NeedMore { bytes } => match inspect(&get(bytes), 200_000, &limits)? {
//!         Inspection::Complete(info) => info,
//!         Inspection::NeedMore { .. } => unreachable!("keep fetching in real code"),
//!     },
//! };
//! let thumbs = make_thumbnails(&get(200_000), &info, &ThumbnailSpec::default(), &limits)?;
//! # Ok::<(), imgpipe_imaging::Rejection>(())
//! ```

mod budget;
mod decode;
mod exif;
mod format;
mod header;
mod inspect;
mod jpeg_markers;
mod oriented;
mod progressive;
mod reject;
mod thumbnail;
mod transform;

pub use budget::{MAX_JPEG_SCANS, MAX_SEGMENTS};
pub use exif::{ExifSubset, MAX_EXIF_STRING_CHARS};
pub use format::Format;
pub use inspect::{inspect, ImageInfo, Inspection, Limits, INITIAL_HEADER_BYTES};
pub use oriented::decode_oriented;
pub use reject::{RejectCode, Rejection};
pub use thumbnail::{make_thumbnails, Thumbnail, ThumbnailSpec};
