//! Shared setup of the tests that need models and reference data. They fail (never skip) when
//! something is missing, with the command that fetches it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::OnceLock;

/// The reference data directory: `$IMGPIPE_VISION_REFERENCE`, or made now by
/// tests/vision-reference/run.sh (idempotent, cached).
pub fn reference_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        if let Some(dir) = std::env::var_os("IMGPIPE_VISION_REFERENCE").filter(|v| !v.is_empty()) {
            return PathBuf::from(dir);
        }
        let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/vision-reference/run.sh");
        let out = std::process::Command::new("bash")
            .arg(&script)
            .stderr(std::process::Stdio::inherit())
            .output()
            .unwrap_or_else(|e| panic!("cannot run {}: {e}", script.display()));
        assert!(out.status.success(), "{} failed", script.display());
        let stdout = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(stdout.lines().last().unwrap_or_default().trim())
    })
    .clone()
}

/// The detector's path (flag/env/home rules), with the fetch hint when absent.
pub fn detector_path() -> PathBuf {
    vision::Detector::locate(None)
        .unwrap_or_else(|e| panic!("{e}\nsetup: run scripts/fetch-model.sh (or set IMGPIPE_MODEL to the model file)"))
}

/// The mate-backgrounds photos (the 15 photos: nature/ and the Elephants), fetched by run.sh.
pub fn mate_photos() -> Vec<PathBuf> {
    let _ = reference_dir();
    let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
    let dir = home.join(".cache/imgpipe/bench/photos/usr/share/backgrounds/mate");
    let mut photos: Vec<PathBuf> = ["nature", "abstract"]
        .iter()
        .flat_map(|sub| {
            std::fs::read_dir(dir.join(sub))
                .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
                .unwrap_or_default()
        })
        .filter(|p| p.extension().is_some_and(|e| e == "jpg"))
        .collect();
    photos.sort();
    assert_eq!(photos.len(), 15, "expected the 15 mate-backgrounds photos in {}", dir.display());
    photos
}

/// The skimage photos directory.
pub fn skimage_photo(name: &str) -> PathBuf {
    let dir = std::env::var_os("IMGPIPE_TEST_PHOTOS").map(PathBuf::from).unwrap_or_else(|| {
        let home = std::env::var_os("HOME").map(PathBuf::from).unwrap_or_default();
        home.join(".cache/imgpipe/photos")
    });
    let path = dir.join(name);
    assert!(path.is_file(), "{} missing: run tests/fixtures/photos.sh", path.display());
    path
}

/// Decode as the pipeline does for the models: longest side at most 640 px.
pub fn load_view(path: &std::path::Path) -> image::RgbImage {
    let image = image::open(path).unwrap_or_else(|e| panic!("cannot open {}: {e}", path.display())).to_rgb8();
    if image.width().max(image.height()) > 640 {
        image::imageops::thumbnail(
            &image,
            640 * image.width() / image.width().max(image.height()),
            640 * image.height() / image.width().max(image.height()),
        )
    } else {
        image
    }
}
