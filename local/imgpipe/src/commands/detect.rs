//! `imgpipe detect`: the local models alone, on local files (no S3, no table): what the
//! DetectLabels step would find in each, and where the time goes (decode, each model).

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
    custom: Option<vision::CustomModel>,
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
    let paths = vision::ModelPaths { custom, ..vision::ModelPaths::beside(&vision::Detector::locate(model)?) };
    let started = Instant::now();
    let labeller = vision::Labeller::load(&paths).context("cannot load the models")?;
    let ids: Vec<String> = labeller.models().iter().map(ToString::to_string).collect();
    eprintln!("models {} loaded in {:.0} ms", ids.join(", "), millis(started));
    let mut failed = false;
    for file in files {
        match detect_file(&labeller, file, &config, max_labels, min_confidence) {
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

/// One file's labels and the time spent decoding it and running the models on it.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Found {
    file: PathBuf,
    decode_ms: f64,
    /// All models, side by side (wall time).
    model_ms: f64,
    /// Each model's own time.
    detector_ms: f64,
    classifier_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    custom_ms: Option<f64>,
    labels: vision::Labels,
}

fn detect_file(
    labeller: &vision::Labeller,
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
    let (labels, times) = labeller.label_timed(&view, min_confidence, max_labels)?;
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    Ok(Found {
        file: file.to_path_buf(),
        decode_ms,
        model_ms: millis(started),
        detector_ms: ms(times.detector),
        classifier_ms: ms(times.classifier),
        custom_ms: times.custom.map(ms),
        labels,
    })
}

fn millis(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}
