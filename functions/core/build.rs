//! Embeds the page: lists every file under the repository's `frontend/` directory in
//! `$OUT_DIR/frontend_files.rs` as `(relative path, include_bytes!(...))`, so the binary serves
//! exactly the files it was built with (`http::frontend`). Hidden files are left out.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let root = manifest.join("../../frontend");
    let mut files = Vec::new();
    collect(&root, &root, &mut files);
    files.sort();
    let mut out = String::from("/// Every file of `frontend/`: path relative to it (with `/`), and its bytes.\n");
    out.push_str("pub(crate) static FILES: &[(&str, &[u8])] = &[\n");
    for (relative, full) in &files {
        let full = full.to_str().expect("frontend paths are UTF-8");
        writeln!(out, "    ({relative:?}, include_bytes!({full:?})),").expect("writing to a String");
    }
    out.push_str("];\n");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    std::fs::write(out_dir.join("frontend_files.rs"), out).expect("writing frontend_files.rs");
}

/// Every non-hidden file under `dir`, as (path relative to `root` joined with `/`, absolute path).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    // A new, removed or renamed file changes its directory's modification time.
    println!("cargo:rerun-if-changed={}", dir.display());
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
    for entry in entries {
        let entry = entry.unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()));
        let path = entry.path();
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            collect(root, &path, files);
        } else if path.is_file() {
            println!("cargo:rerun-if-changed={}", path.display());
            let relative = path.strip_prefix(root).expect("under the root");
            let parts: Option<Vec<&str>> = relative.components().map(|c| c.as_os_str().to_str()).collect();
            let Some(parts) = parts else { continue };
            let full = path.canonicalize().unwrap_or_else(|e| panic!("resolving {}: {e}", path.display()));
            files.push((parts.join("/"), full));
        }
    }
}
