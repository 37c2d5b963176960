//! `imgpipe process PATH...`: each file goes the product's own way, as a signed-in user:
//! `POST /uploads` through the API router (the PENDING record, owned by the user), the object
//! into the input bucket under the key it returned, the Object Created event, an execution of
//! the state machine; each file gets a row. Executions run concurrently, so both cores are busy.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use imgpipe_core::model::Status;
use imgpipe_core::table::ImageRecord;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use tokio::sync::Semaphore;

use crate::stack::{Stack, StackOptions};

/// Uploads in flight at once; the engine's steps themselves spread over the cores.
const IN_FLIGHT: usize = 4;
/// How long one image may take before its row says so.
const PER_IMAGE_TIMEOUT: Duration = Duration::from_secs(300);

/// One file's row: what the pipeline made of it (`--json` prints these).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Row {
    pub file: String,
    pub image_id: Option<String>,
    pub status: Status,
    pub format: Option<String>,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub labels: Vec<RowLabel>,
    /// How many thumbnails were made.
    pub thumbnails: usize,
    pub execution_id: Option<String>,
    /// `CODE: sentence` for an upload that is not DONE.
    pub reason: Option<String>,
}

/// A label of a [`Row`].
#[derive(Debug, Serialize)]
pub struct RowLabel {
    pub name: String,
    pub confidence: f32,
}

/// Processes every file (directories: their files, sorted) and prints a row per file.
pub async fn run(
    paths: &[PathBuf],
    as_json: bool,
    claims: auth::JwtClaims,
    opts: StackOptions,
) -> anyhow::Result<ExitCode> {
    let files = collect_files(paths)?;
    if files.is_empty() {
        anyhow::bail!("no files found in the given paths");
    }
    let stack = Arc::new(Stack::start(opts).await?);
    let claims = Arc::new(claims);
    let bar = progress_bar(files.len());
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = Vec::new();
    for file in files {
        let (stack, claims, gate, bar) = (stack.clone(), claims.clone(), gate.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            let row = process_file(&stack, &claims, &file).await;
            bar.inc(1);
            bar.set_message(file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string());
            row
        }));
    }
    let mut rows = Vec::new();
    for t in tasks {
        rows.push(t.await.unwrap_or_else(|e| failed_row("?", format!("worker failed: {e}"))));
    }
    bar.finish_and_clear();
    let all_done = rows.iter().all(|r| r.status == Status::Done);
    if as_json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print_table(&rows);
    }
    Ok(if all_done { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// A bar on stderr when it is a terminal; nothing otherwise (logs and pipes stay clean).
fn progress_bar(len: usize) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len as u64), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}

fn collect_files(paths: &[PathBuf]) -> anyhow::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).with_context(|| format!("cannot read {}", p.display()))?;
        if meta.is_dir() {
            let mut inside: Vec<PathBuf> = std::fs::read_dir(p)
                .with_context(|| format!("cannot list {}", p.display()))?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            inside.sort();
            files.extend(inside);
        } else {
            files.push(p.clone());
        }
    }
    Ok(files)
}

/// One file through the pipeline; the row never fails, it says what happened.
async fn process_file(stack: &Stack, claims: &auth::JwtClaims, file: &Path) -> Row {
    let name = file.display().to_string();
    match upload_and_wait(stack, claims, file).await {
        Ok(record) => row(&name, record),
        Err(e) => failed_row(&name, format!("{e:#}")),
    }
}

fn failed_row(file: &str, reason: String) -> Row {
    Row {
        file: file.to_string(),
        image_id: None,
        status: Status::Failed,
        format: None,
        width: None,
        height: None,
        labels: Vec::new(),
        thumbnails: 0,
        execution_id: None,
        reason: Some(reason),
    }
}

/// Uploads a file as the page would: `POST /uploads` as the user, then the bytes under the key
/// it gave; waits for the record.
async fn upload_and_wait(stack: &Stack, claims: &auth::JwtClaims, file: &Path) -> anyhow::Result<Outcome> {
    let size = tokio::fs::metadata(file).await.with_context(|| "cannot read the file")?.len();
    // A file over the limit is declared as it is (the API refuses it) but never read.
    let bytes = if size > stack.config.limits.max_bytes {
        Vec::new()
    } else {
        tokio::fs::read(file).await.with_context(|| "cannot read the file")?
    };
    let filename = file.file_name().and_then(|n| n.to_str()).unwrap_or("upload");
    let content_type = content_type(&bytes, file);
    let upload = match presign(stack, claims, filename, content_type, size).await? {
        Ok(upload) => upload,
        Err(refusal) => return Ok(Outcome::Refused(refusal)),
    };
    stack
        .storage
        .clients
        .s3
        .put_object()
        .bucket(&stack.config.input_bucket)
        .key(&upload.key)
        .content_type(content_type)
        .body(bytes.into())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("upload refused: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    wait_for_record(stack, &upload.image_id).await.map(Outcome::Record)
}

/// The part of `POST /uploads`'s answer the command uses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Presigned {
    image_id: String,
    key: String,
}

/// An API error answer: `{"error":{"code","message"}}`.
#[derive(Debug, Deserialize)]
struct ApiErrorBody {
    error: ApiErrorDetail,
}

#[derive(Debug, Deserialize)]
struct ApiErrorDetail {
    code: String,
    message: String,
}

/// `POST /uploads` through the API router as the user: the PENDING record and the key, or the
/// API's refusal as `CODE: sentence`.
async fn presign(
    stack: &Stack,
    claims: &auth::JwtClaims,
    filename: &str,
    content_type: &str,
    size: u64,
) -> anyhow::Result<Result<Presigned, String>> {
    let body = serde_json::json!({ "filename": filename, "contentType": content_type, "size": size });
    let req = axum::http::Request::post("/uploads")
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(body.to_string()))?;
    let resp = crate::commands::call_api(stack, claims, req).await?;
    let status = resp.status();
    let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20).await?;
    if status.is_success() {
        return Ok(Ok(serde_json::from_slice(&bytes).context("reading POST /uploads' answer")?));
    }
    match serde_json::from_slice::<ApiErrorBody>(&bytes) {
        Ok(body) if status.is_client_error() => Ok(Err(format!("{}: {}", body.error.code, body.error.message))),
        _ => anyhow::bail!("POST /uploads failed with {status}: {}", String::from_utf8_lossy(&bytes)),
    }
}

/// The content type to declare: the type the first bytes show, else the file name's extension
/// (the pipeline checks the bytes again and refuses a mismatch).
fn content_type(bytes: &[u8], file: &Path) -> &'static str {
    let sniffed = match bytes {
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [b'G', b'I', b'F', b'8', ..] => Some("image/gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    };
    let ext = file.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).unwrap_or_default();
    sniffed.unwrap_or(match ext.as_str() {
        "jpg" | "jpeg" => "image/jpeg",
        "png" => "image/png",
        "gif" => "image/gif",
        "webp" => "image/webp",
        _ => "application/octet-stream",
    })
}

/// What became of a file.
enum Outcome {
    /// Refused before upload, with `CODE: sentence`.
    Refused(String),
    /// The final record.
    Record(Box<ImageRecord>),
}

/// Polls the image item until the execution has stored a final status.
async fn wait_for_record(stack: &Stack, id: &str) -> anyhow::Result<Box<ImageRecord>> {
    let deadline = tokio::time::Instant::now() + PER_IMAGE_TIMEOUT;
    let mut delay = Duration::from_millis(50);
    loop {
        let record = stack.storage.table.get_image(id, true).await.context("reading the image record")?;
        if let Some(record) = record.filter(ImageRecord::is_final) {
            return Ok(Box::new(record));
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("no result after {}s", PER_IMAGE_TIMEOUT.as_secs());
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

fn row(file: &str, outcome: Outcome) -> Row {
    let record = match outcome {
        Outcome::Refused(reason) => return Row { status: Status::Rejected, ..failed_row(file, reason) },
        Outcome::Record(record) => *record,
    };
    let labels = record.labels.iter().flat_map(|set| set.labels.iter());
    Row {
        file: file.to_string(),
        image_id: Some(record.image_id.clone()),
        status: record.status,
        format: record.image.as_ref().map(|i| i.format.as_str().to_string()),
        width: record.image.as_ref().map(|i| i.oriented_width),
        height: record.image.as_ref().map(|i| i.oriented_height),
        labels: labels.map(|l| RowLabel { name: l.name.clone(), confidence: l.confidence }).collect(),
        thumbnails: record.thumbnails.len(),
        execution_id: record.execution_id.clone(),
        reason: record.error.as_ref().map(|e| format!("{}: {}", e.code, e.message)),
    }
}

fn print_table(rows: &[Row]) {
    println!("{:<40} {:<9} {:<6} {:>11}  LABELS / REASON", "FILE", "STATUS", "FORMAT", "SIZE");
    for r in rows {
        let size = match (r.width, r.height) {
            (Some(w), Some(h)) => format!("{w}x{h}"),
            _ => "-".into(),
        };
        let detail = match &r.reason {
            Some(reason) => reason.clone(),
            None => r
                .labels
                .iter()
                .take(4)
                .map(|l| format!("{} {:.0}%", l.name, l.confidence))
                .collect::<Vec<_>>()
                .join(", "),
        };
        let count = r.file.chars().count();
        let file = if count > 40 {
            format!("…{}", r.file.chars().skip(count - 39).collect::<String>())
        } else {
            r.file.clone()
        };
        println!(
            "{:<40} {:<9} {:<6} {:>11}  {}",
            file,
            r.status.as_str(),
            r.format.as_deref().unwrap_or("-"),
            size,
            detail
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_declared_type_is_what_the_bytes_show_else_the_extension() {
        let png = [0x89, b'P', b'N', b'G', 0x0D, 0x0A];
        assert_eq!(content_type(&png, Path::new("photo.jpg")), "image/png");
        assert_eq!(content_type(b"RIFF\0\0\0\0WEBPVP8 ", Path::new("x")), "image/webp");
        assert_eq!(content_type(&[0xFF, 0xD8, 0xFF, 0xE0], Path::new("x.bin")), "image/jpeg");
        assert_eq!(content_type(b"GIF89a", Path::new("x")), "image/gif");
        assert_eq!(content_type(b"just text", Path::new("bad.JPG")), "image/jpeg");
        assert_eq!(content_type(b"", Path::new("empty.png")), "image/png");
        assert_eq!(content_type(b"RIFF", Path::new("short")), "application/octet-stream");
        assert_eq!(content_type(b"<html>", Path::new("page.html")), "application/octet-stream");
    }
}
