//! Bench driver for `bench/run.sh`: thumbnails (or validates) the given files on one thread and
//! prints one JSON line per image with the time of each pass in milliseconds.
//!
//! ```text
//! thumbnail_bench thumbnail [--passes N] [--warmup N] [--out DIR] FILE...
//! thumbnail_bench validate  [--passes N] FILE...
//! ```
//! Files are read into memory first; a pass times bytes in memory to encoded JPEGs in memory
//! (thumbnail: inspect + decode + orient + 1024 and 256 px + encode; validate: `inspect` of the
//! first 64 KiB). `--out` writes the thumbnails of the last pass as `<stem>_<size>.jpg`.

use imgpipe_imaging::{inspect, make_thumbnails, Inspection, Limits, ThumbnailSpec, INITIAL_HEADER_BYTES};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

struct Args {
    mode: String,
    passes: usize,
    warmup: usize,
    out: Option<PathBuf>,
    files: Vec<PathBuf>,
}

fn parse() -> Result<Args, String> {
    let mut it = std::env::args().skip(1);
    let mode =
        it.next().ok_or("usage: thumbnail_bench thumbnail|validate [--passes N] [--warmup N] [--out DIR] FILE...")?;
    let mut args = Args { mode, passes: 1, warmup: 0, out: None, files: Vec::new() };
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--passes" => args.passes = value()?.parse().map_err(|e| format!("--passes: {e}"))?,
            "--warmup" => args.warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--out" => args.out = Some(PathBuf::from(value()?)),
            _ => args.files.push(PathBuf::from(a)),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("thumbnail_bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args = parse()?;
    // The bench set includes a 16 MB photo, above the product's default 15 MiB upload limit.
    let limits = Limits { max_bytes: 64 << 20, ..Limits::default() };
    let spec = ThumbnailSpec::default();
    for path in &args.files {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut times = Vec::with_capacity(args.passes);
        for pass in 0..args.warmup + args.passes {
            let start = Instant::now();
            match args.mode.as_str() {
                "validate" => {
                    let head = &bytes[..bytes.len().min(INITIAL_HEADER_BYTES as usize)];
                    let info =
                        inspect(head, bytes.len() as u64, &limits).map_err(|e| format!("{}: {e}", path.display()))?;
                    std::hint::black_box(info);
                }
                "thumbnail" => {
                    let thumbs = thumbnail(&bytes, &spec, &limits).map_err(|e| format!("{}: {e}", path.display()))?;
                    if pass + 1 == args.warmup + args.passes {
                        if let Some(dir) = &args.out {
                            write_all(dir, path, &thumbs)?;
                        }
                    }
                    std::hint::black_box(thumbs);
                }
                other => return Err(format!("unknown mode {other}")),
            }
            if pass >= args.warmup {
                times.push(start.elapsed().as_secs_f64() * 1e3);
            }
        }
        let times: Vec<String> = times.iter().map(|t| format!("{t:.4}")).collect();
        println!("{{\"file\":{:?},\"ms\":[{}]}}", path.display().to_string(), times.join(","));
    }
    Ok(())
}

fn thumbnail(
    bytes: &[u8],
    spec: &ThumbnailSpec,
    limits: &Limits,
) -> Result<Vec<imgpipe_imaging::Thumbnail>, imgpipe_imaging::Rejection> {
    let info = match inspect(bytes, bytes.len() as u64, limits)? {
        Inspection::Complete(info) => info,
        Inspection::NeedMore { .. } => unreachable!("the whole file was given"),
    };
    make_thumbnails(bytes, &info, spec, limits)
}

fn write_all(dir: &Path, source: &Path, thumbs: &[imgpipe_imaging::Thumbnail]) -> Result<(), String> {
    let stem = source.file_stem().and_then(|s| s.to_str()).unwrap_or("image");
    for t in thumbs {
        let path = dir.join(format!("{stem}_{}.jpg", t.size));
        std::fs::write(&path, &t.jpeg).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok(())
}
