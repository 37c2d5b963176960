//! `imgpipe reprocess`: runs `statemachine/reprocess.asl.json` on the local stack, the same
//! definition as on AWS: a Distributed Map over the input bucket's uploads, each batch re-claiming
//! the records the filter selects and running the pipeline's steps on them again. A progress bar
//! counts the uploads as the batches get through them; the summary comes from the run's
//! ResultWriter files, as an AWS user would read them.

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use imgpipe_core::steps::reclaim::ReclaimOutput;
use imgpipe_core::Config;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::stack::{Stack, StackOptions, TaskHook, REPROCESS_STATE_MACHINE_NAME};

/// The largest ResultWriter file read back (the engine splits them at 16 MiB).
const MAX_RESULT_FILE_BYTES: usize = 64 * 1024 * 1024;
/// The states whose success ends one image's re-processing.
const OUTCOME_STATES: [&str; 3] = ["Persist", "RecordRejected", "RecordFailed"];

/// What to re-process.
pub struct ReprocessArgs {
    /// Keys under this prefix (under `uploads/`).
    pub prefix: String,
    /// Only records with this status (DONE, REJECTED or FAILED).
    pub status: Option<String>,
    /// Only DONE records labelled by a model other than the current local ones.
    pub stale_model: bool,
    pub json: bool,
}

/// What a run did, counted from its ResultWriter files.
#[derive(Debug, Default, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    pub execution_arn: String,
    /// SUCCEEDED, FAILED, ...
    pub status: String,
    /// Stored again by this run (DONE).
    pub reprocessed: u64,
    /// Not selected, in progress, not an upload, or taken over by a newer run.
    pub skipped: u64,
    /// REJECTED or FAILED by this run, or in a batch that failed or never ran.
    pub failed: u64,
}

/// A batch's output (the definition's BatchSummary state).
#[derive(Debug, Deserialize)]
struct BatchOutput {
    skipped: Vec<serde_json::Value>,
    outcomes: Vec<ImageOutcome>,
}

/// One image's outcome (the definition's Outcome, Superseded and Deleted states).
#[derive(Debug, Deserialize)]
struct ImageOutcome {
    status: String,
    written: bool,
}

/// `manifest.json` of a ResultWriter export.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Manifest {
    result_files: ResultFiles,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
struct ResultFiles {
    #[serde(default)]
    succeeded: Vec<ResultFile>,
    #[serde(default)]
    failed: Vec<ResultFile>,
    #[serde(default)]
    pending: Vec<ResultFile>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ResultFile {
    key: String,
}

/// One child execution in a `SUCCEEDED_n.json` / `FAILED_n.json` / `PENDING_n.json` file.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ChildEntry {
    input: Option<String>,
    output: Option<String>,
}

/// Runs the re-process and prints its summary; exit 1 unless it succeeded with no failure.
pub async fn run(args: ReprocessArgs, mut opts: StackOptions) -> anyhow::Result<ExitCode> {
    let input = execution_input(&args, &opts).await?;
    let done = Arc::new(AtomicU64::new(0));
    opts.on_task_done = Some(progress_hook(done.clone()));
    let stack = Stack::start(opts).await?;
    let engine = stack.engine.clone().context("the engine did not start")?;
    let bar = progress_bar(count_uploads(&stack, &args.prefix).await?);
    let arn = engine.start_execution(&asl::state_machine_arn(REPROCESS_STATE_MACHINE_NAME), None, input).await?;
    let wait = engine.wait(&arn);
    tokio::pin!(wait);
    let description = loop {
        tokio::select! {
            finished = &mut wait => break finished?,
            _ = tokio::time::sleep(Duration::from_millis(200)) => bar.set_position(done.load(Ordering::Relaxed)),
        }
    };
    bar.finish_and_clear();
    let summary = summarize(&stack, &description).await?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "{}: {} re-processed, {} skipped, {} failed",
            summary.status, summary.reprocessed, summary.skipped, summary.failed
        );
        if let (Some(error), cause) = (&description.error, &description.cause) {
            println!("{error}: {}", cause.as_deref().unwrap_or_default());
        }
    }
    let ok = summary.status == "SUCCEEDED" && summary.failed == 0;
    Ok(if ok { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// The definition's input: `{"prefix", "status", "currentModels"}`.
async fn execution_input(args: &ReprocessArgs, opts: &StackOptions) -> anyhow::Result<serde_json::Value> {
    if !args.prefix.starts_with("uploads/") {
        anyhow::bail!("--prefix must start with uploads/ (the uploads are the only objects a re-process reads)");
    }
    let current_models = if args.stale_model { Some(local_model_ids(opts).await?) } else { None };
    Ok(json!({
        "prefix": args.prefix,
        "status": args.status.as_deref().map(str::to_uppercase),
        "currentModels": current_models,
    }))
}

/// The ids of the models that label images now (the records name theirs the same way).
async fn local_model_ids(opts: &StackOptions) -> anyhow::Result<Vec<String>> {
    let detector = vision::Detector::locate(opts.model.as_deref())?;
    let paths = vision::ModelPaths { custom: opts.custom_model.clone(), ..vision::ModelPaths::beside(&detector) };
    let labeller = tokio::task::spawn_blocking(move || vision::Labeller::load(&paths))
        .await
        .context("the model loader stopped")??;
    Ok(labeller.models().iter().map(ToString::to_string).collect())
}

/// Counts an upload as done when its batch skipped it or when its outcome was stored.
fn progress_hook(done: Arc<AtomicU64>) -> TaskHook {
    let ours = format!(":execution:{REPROCESS_STATE_MACHINE_NAME}/");
    Arc::new(move |ctx, output| {
        if !ctx.execution_id.contains(&ours) {
            return;
        }
        let n = match ctx.state_name.as_str() {
            "Reclaim" => serde_json::from_value::<ReclaimOutput>(output.clone()).map_or(0, |o| o.skipped.len() as u64),
            state if OUTCOME_STATES.contains(&state) => 1,
            _ => 0,
        };
        done.fetch_add(n, Ordering::Relaxed);
    })
}

/// How many objects the run will list (the progress bar's length).
async fn count_uploads(stack: &Stack, prefix: &str) -> anyhow::Result<u64> {
    let s3 = &stack.storage.clients.s3;
    let mut pages = s3.list_objects_v2().bucket(&stack.config.input_bucket).prefix(prefix).into_paginator().send();
    let mut count = 0u64;
    while let Some(page) = pages.next().await {
        count += page.context("listing the uploads")?.contents().len() as u64;
    }
    Ok(count)
}

fn progress_bar(total: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} uploads {elapsed}") {
        bar.set_style(style);
    }
    bar
}

/// Counts the run's outcomes from its ResultWriter export.
async fn summarize(stack: &Stack, run: &asl::ExecutionDescription) -> anyhow::Result<Summary> {
    let mut summary = Summary {
        execution_arn: run.execution_arn.clone(),
        status: run.status.as_str().to_string(),
        ..Default::default()
    };
    let Some(details) = run.output_json() else { return Ok(summary) };
    let (Some(bucket), Some(key)) =
        (details["ResultWriterDetails"]["Bucket"].as_str(), details["ResultWriterDetails"]["Key"].as_str())
    else {
        anyhow::bail!("the run's output names no ResultWriter export: {details}");
    };
    let manifest: Manifest = serde_json::from_slice(&read(&stack.config, stack, bucket, key).await?)
        .context("reading the run's manifest.json")?;
    let files = manifest.result_files;
    for file in &files.succeeded {
        for entry in entries(stack, bucket, &file.key).await? {
            let output = entry.output.as_deref().context("a succeeded batch has no output")?;
            let batch: BatchOutput = serde_json::from_str(output).context("reading a batch's output")?;
            summary.skipped += batch.skipped.len() as u64;
            for outcome in batch.outcomes {
                match (outcome.status.as_str(), outcome.written) {
                    ("DONE", true) => summary.reprocessed += 1,
                    ("DONE" | "SKIPPED", _) => summary.skipped += 1,
                    _ => summary.failed += 1,
                }
            }
        }
    }
    for file in files.failed.iter().chain(&files.pending) {
        for entry in entries(stack, bucket, &file.key).await? {
            summary.failed += batch_size(entry.input.as_deref());
        }
    }
    Ok(summary)
}

/// The items of a batch that failed or never ran, from its input.
fn batch_size(input: Option<&str>) -> u64 {
    let items = input.and_then(|i| serde_json::from_str::<serde_json::Value>(i).ok());
    items.and_then(|i| i["Items"].as_array().map(|a| a.len() as u64)).unwrap_or(1)
}

async fn entries(stack: &Stack, bucket: &str, key: &str) -> anyhow::Result<Vec<ChildEntry>> {
    let body = read(&stack.config, stack, bucket, key).await?;
    serde_json::from_slice(&body).with_context(|| format!("reading the result file {key}"))
}

async fn read(config: &Config, stack: &Stack, bucket: &str, key: &str) -> anyhow::Result<Vec<u8>> {
    if bucket != config.output_bucket {
        anyhow::bail!("the run wrote its results to {bucket:?}, not the output bucket");
    }
    let out = stack.storage.clients.s3.get_object().bucket(bucket).key(key).send().await.context("reading a result")?;
    if out.content_length().unwrap_or_default() as usize > MAX_RESULT_FILE_BYTES {
        anyhow::bail!("the result file {key} is over {MAX_RESULT_FILE_BYTES} bytes");
    }
    Ok(out.body.collect().await.context("reading a result")?.into_bytes().to_vec())
}
