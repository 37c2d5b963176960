//! `imgpipe thumbnail`: the thumbnail step alone, on local files (no S3, no table).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use imgpipe_imaging::{inspect, make_thumbnails, ImageInfo, Inspection, Limits, Rejection, ThumbnailSpec};

/// Writes `<out>/<stem>-<size>.jpg` for each file and size; exit 1 if any file was refused.
pub fn run(files: &[PathBuf], out: &Path, sizes: &str, quality: u8) -> anyhow::Result<ExitCode> {
    let sizes = imgpipe_core::config::parse_sizes(sizes).map_err(|e| anyhow::anyhow!("--sizes: {e}"))?;
    if !(1..=100).contains(&quality) {
        anyhow::bail!("--quality must be 1-100");
    }
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let spec = ThumbnailSpec { sizes, quality };
    let limits = Limits::default();
    let mut failed = false;
    for file in files {
        match thumbnail_file(file, out, &spec, &limits) {
            Ok(written) => {
                for (path, w, h) in written {
                    println!("{}\t{}x{}\t{}", file.display(), w, h, path.display());
                }
            }
            Err(e) => {
                failed = true;
                eprintln!("{}: {e}", file.display());
            }
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn thumbnail_file(
    file: &Path,
    out: &Path,
    spec: &ThumbnailSpec,
    limits: &Limits,
) -> anyhow::Result<Vec<(PathBuf, u32, u32)>> {
    let (bytes, info) = read_image(file, limits)?;
    let stem = file.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
    let mut written = Vec::new();
    for t in make_thumbnails(&bytes, &info, spec, limits).map_err(describe)? {
        let path = out.join(format!("{stem}-{}.jpg", t.size));
        std::fs::write(&path, &t.jpeg).with_context(|| format!("cannot write {}", path.display()))?;
        written.push((path, t.width, t.height));
    }
    Ok(written)
}

/// A local image file's bytes and its validated header; refused files are errors with the
/// rejection code and message the validate step would give.
pub fn read_image(file: &Path, limits: &Limits) -> anyhow::Result<(Vec<u8>, ImageInfo)> {
    let bytes = std::fs::read(file).with_context(|| "cannot read the file")?;
    match inspect(&bytes, bytes.len() as u64, limits).map_err(describe)? {
        Inspection::Complete(info) => Ok((bytes, info)),
        Inspection::NeedMore { .. } => anyhow::bail!("CORRUPT: the image header is truncated"),
    }
}

/// A rejection as an error ("CODE: message").
pub fn describe(r: Rejection) -> anyhow::Error {
    anyhow::anyhow!("{r}")
}
