//! The work one image may cost. Decode time follows pixels, except where a format lets a file
//! repeat a structure: every progressive JPEG scan is a pass over all blocks, every marker
//! segment or chunk a step for each reader. Those counts are capped here, far above what real
//! encoders write, and checked by the header reader at Validate and again before every decode.

use crate::jpeg_markers::SOS;
use crate::reject::{RejectCode, Rejection};

/// Most scans a JPEG may have. libjpeg's standard progressive script writes 10 (6 for gray);
/// each scan costs a pass over every block of the image, so this bounds a decode at 100 passes.
pub const MAX_JPEG_SCANS: usize = 100;

/// Most segments a file may hold besides its image data: JPEG marker segments other than scans,
/// PNG chunks other than IDAT/fdAT/fcTL, GIF extension blocks before the first image, WebP chunks
/// other than frames. Real files hold a few dozen (an ICC profile split into APP2 chunks at most
/// 255).
pub const MAX_SEGMENTS: usize = 1000;

/// Counts of what a reader walked over, checked against the limits as they grow.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tally {
    pub scans: usize,
    pub segments: usize,
}

impl Tally {
    /// Count one JPEG marker.
    pub(crate) fn count_jpeg(&mut self, marker: u8) -> Result<(), Rejection> {
        if marker == SOS {
            self.scans += 1;
            if self.scans > MAX_JPEG_SCANS {
                return Err(Rejection::new(
                    RejectCode::TooManyScans,
                    format!("The JPEG has more than {MAX_JPEG_SCANS} scans; real encoders write about 10."),
                ));
            }
            return Ok(());
        }
        self.count_segment("JPEG", "marker segments")
    }

    /// Count one segment of a `format` file, called `what` in that format ("chunks", ...).
    pub(crate) fn count_segment(&mut self, format: &str, what: &str) -> Result<(), Rejection> {
        self.segments += 1;
        if self.segments > MAX_SEGMENTS {
            return Err(too_many_segments(format, what));
        }
        Ok(())
    }
}

fn too_many_segments(format: &str, what: &str) -> Rejection {
    Rejection::new(
        RejectCode::TooManySegments,
        format!("The {format} has more than {MAX_SEGMENTS} {what}; real images have a few dozen."),
    )
}
