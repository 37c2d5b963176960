//! `imgpipe process PATH...`: each file goes the product's own way (a PutObject into the input
//! bucket, the Object Created event, an execution of the state machine) and gets a row.
//! Executions run concurrently, so both cores are busy.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use aws_sdk_dynamodb::types::AttributeValue;
use imgpipe_core::dynamo::{image_pk, item_to_json, IMAGE_SK};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::{json, Value};
use tokio::sync::Semaphore;

use crate::stack::{Stack, StackOptions};

/// Uploads in flight at once; the engine's steps themselves spread over the cores.
const IN_FLIGHT: usize = 4;
/// How long one image may take before its row says so.
const PER_IMAGE_TIMEOUT: Duration = Duration::from_secs(300);

/// Processes every file (directories: their files, sorted) and prints a row per file.
pub async fn run(paths: &[PathBuf], as_json: bool, opts: StackOptions) -> anyhow::Result<ExitCode> {
    let files = collect_files(paths)?;
    if files.is_empty() {
        anyhow::bail!("no files found in the given paths");
    }
    let stack = Arc::new(Stack::start(opts).await?);
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{bar:30}] {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let gate = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut tasks = Vec::new();
    for file in files {
        let (stack, gate, bar) = (stack.clone(), gate.clone(), bar.clone());
        tasks.push(tokio::spawn(async move {
            let _permit = gate.acquire_owned().await;
            let row = process_file(&stack, &file).await;
            bar.inc(1);
            bar.set_message(file.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string());
            row
        }));
    }
    let mut rows = Vec::new();
    for t in tasks {
        rows.push(t.await.unwrap_or_else(|e| json!({ "status": "FAILED", "reason": format!("worker failed: {e}") })));
    }
    bar.finish_and_clear();
    let all_done = rows.iter().all(|r| r["status"] == "DONE");
    if as_json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
    } else {
        print_table(&rows);
    }
    Ok(if all_done { ExitCode::SUCCESS } else { ExitCode::from(1) })
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
async fn process_file(stack: &Stack, file: &Path) -> Value {
    let name = file.display().to_string();
    match upload_and_wait(stack, file).await {
        Ok(record) => row(&name, &record),
        Err(e) => json!({ "file": name, "status": "FAILED", "reason": format!("{e:#}") }),
    }
}

async fn upload_and_wait(stack: &Stack, file: &Path) -> anyhow::Result<Value> {
    let bytes = tokio::fs::read(file).await.with_context(|| "cannot read the file")?;
    let limit = stack.config.limits.max_bytes;
    if bytes.len() as u64 > limit {
        return Ok(json!({
            "status": "REJECTED",
            "error": { "code": "TOO_LARGE", "message": format!("The file is {} bytes; the limit is {limit} bytes.", bytes.len()) },
        }));
    }
    let id = uuid::Uuid::new_v4().hyphenated().to_string();
    let ext = file
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .filter(|e| !e.is_empty() && e.len() <= 5 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".into());
    let key = format!("uploads/{id}.{ext}");
    stack
        .clients
        .s3
        .put_object()
        .bucket(&stack.config.input_bucket)
        .key(&key)
        .body(bytes.into())
        .send()
        .await
        .map_err(|e| anyhow::anyhow!("upload refused: {}", aws_sdk_s3::error::DisplayErrorContext(e)))?;
    wait_for_record(stack, &id).await
}

/// Polls the image item until the execution has stored a final status.
async fn wait_for_record(stack: &Stack, id: &str) -> anyhow::Result<Value> {
    let deadline = tokio::time::Instant::now() + PER_IMAGE_TIMEOUT;
    let mut delay = Duration::from_millis(50);
    loop {
        let out = stack
            .clients
            .dynamo
            .get_item()
            .table_name(&stack.config.table_name)
            .key("PK", AttributeValue::S(image_pk(id)))
            .key("SK", AttributeValue::S(IMAGE_SK.into()))
            .consistent_read(true)
            .send()
            .await
            .context("reading the image record")?;
        if let Some(item) = out.item {
            let record = item_to_json(&item);
            if matches!(record["status"].as_str(), Some("DONE" | "REJECTED" | "FAILED")) {
                return Ok(record);
            }
        }
        if tokio::time::Instant::now() > deadline {
            anyhow::bail!("no result after {}s", PER_IMAGE_TIMEOUT.as_secs());
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(500));
    }
}

fn row(file: &str, record: &Value) -> Value {
    let labels: Vec<Value> = record["labels"]["labels"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| json!({ "name": l["name"], "confidence": l["confidence"] }))
        .collect();
    json!({
        "file": file,
        "imageId": record["imageId"],
        "status": record["status"],
        "format": record["image"]["format"],
        "width": record["image"]["orientedWidth"],
        "height": record["image"]["orientedHeight"],
        "labels": labels,
        "thumbnails": record["thumbnails"].as_array().map(|t| t.len()).unwrap_or(0),
        "executionId": record["executionId"],
        "reason": record["error"].get("code").map(|c| format!("{}: {}", c.as_str().unwrap_or(""), record["error"]["message"].as_str().unwrap_or(""))),
    })
}

fn print_table(rows: &[Value]) {
    println!("{:<40} {:<9} {:<6} {:>11}  {}", "FILE", "STATUS", "FORMAT", "SIZE", "LABELS / REASON");
    for r in rows {
        let size = match (r["width"].as_u64(), r["height"].as_u64()) {
            (Some(w), Some(h)) => format!("{w}x{h}"),
            _ => "-".into(),
        };
        let detail = match r["reason"].as_str() {
            Some(reason) => reason.to_string(),
            None => r["labels"]
                .as_array()
                .into_iter()
                .flatten()
                .take(4)
                .map(|l| {
                    format!("{} {:.0}%", l["name"].as_str().unwrap_or("?"), l["confidence"].as_f64().unwrap_or(0.0))
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        let file = r["file"].as_str().unwrap_or("?");
        let count = file.chars().count();
        let file = if count > 40 {
            format!("…{}", file.chars().skip(count - 39).collect::<String>())
        } else {
            file.to_string()
        };
        println!(
            "{:<40} {:<9} {:<6} {:>11}  {}",
            file,
            r["status"].as_str().unwrap_or("?"),
            r["format"].as_str().unwrap_or("-"),
            size,
            detail
        );
    }
}
