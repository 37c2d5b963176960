//! `imgpipe detect`: the local model alone, on local files (no S3, no table): what the
//! DetectLabels step would find in each, and where the time goes.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use imgpipe_core::config::Config;

use super::thumbnail::{describe, read_image};
use crate::adapters::detector_view;

/// Prints each file's labels (a line per file, or a JSON line with `--json`); exit 1 if any
/// file was refused. Limits, `MAX_LABELS` and `MIN_CONFIDENCE` come from the environment as
/// for the pipeline; the flags override the last two.
pub fn run(
    files: &[PathBuf],
    model: Option<&Path>,
    json: bool,
    max_labels: Option<usize>,
    min_confidence: Option<f32>,
) -> anyhow::Result<ExitCode> {
    let config = Config::from_env().map_err(|e| anyhow::anyhow!("{e}"))?;
    let max_labels = max_labels.unwrap_or(config.max_labels);
    let min_confidence = min_confidence.unwrap_or(config.min_confidence);
    if !(0.0..=100.0).contains(&min_confidence) {
        anyhow::bail!("--min-confidence must be within 0-100");
    }
    let path = vision::Detector::locate(model)?;
    let started = Instant::now();
    let detector =
        vision::Detector::load(&path).with_context(|| "cannot load the model (scripts/fetch-model.sh fetches it)")?;
    eprintln!("model {} loaded in {:.0} ms", path.display(), millis(started));
    let mut failed = false;
    for file in files {
        match detect_file(&detector, file, &config, max_labels, min_confidence) {
            Ok(found) if json => println!("{}", serde_json::to_string(&found)?),
            Ok(found) => {
                let labels: Vec<String> =
                    found.labels.labels.iter().map(|l| format!("{} {:.1}%", l.name, l.confidence)).collect();
                println!(
                    "{}\t{}",
                    file.display(),
                    if labels.is_empty() { "(no labels)".to_string() } else { labels.join(", ") }
                );
            }
            Err(e) => {
                failed = true;
                eprintln!("{}: {e:#}", file.display());
            }
        }
    }
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// One file's labels and the time spent decoding it and running the model on it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Found {
    file: PathBuf,
    decode_ms: f64,
    model_ms: f64,
    labels: vision::Labels,
}

fn detect_file(
    detector: &vision::Detector,
    file: &Path,
    config: &Config,
    max_labels: usize,
    min_confidence: f32,
) -> anyhow::Result<Found> {
    let (bytes, info) = read_image(file, &config.limits)?;
    let started = Instant::now();
    let view = detector_view(&bytes, &info, &config.limits).map_err(describe)?;
    let decode_ms = millis(started);
    let started = Instant::now();
    let labels = detector.detect(&view, max_labels, min_confidence)?;
    Ok(Found { file: file.to_path_buf(), decode_ms, model_ms: millis(started), labels })
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
