//! The local models on photos: labels per photo (a Markdown table with `--markdown`, as in
//! docs/labels.md), and with `--bench ROUNDS` the time of each model alone, of both in sequence
//! on one thread, and of the Labeller (both side by side), interleaved per image; `--json`
//! prints those figures as one JSON object (bench/labels.py reads it).
//!
//! `cargo run --release -p vision --example labels -- [--markdown] [--bench ROUNDS] [--json]
//!  [--min-confidence 55] [--max-labels 12] PHOTO...` (models found as the tests find them:
//! `$IMGPIPE_MODEL` or ~/.cache/imgpipe/models, classifier beside the detector).

use std::path::PathBuf;
use std::time::Instant;

use vision::{Classifier, Detector, Labeller, ModelPaths};

struct Args {
    markdown: bool,
    json: bool,
    bench: usize,
    min_confidence: f32,
    max_labels: usize,
    photos: Vec<PathBuf>,
}

fn parse_args() -> Result<Args, String> {
    let mut args =
        Args { markdown: false, json: false, bench: 0, min_confidence: 55.0, max_labels: 12, photos: Vec::new() };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--markdown" => args.markdown = true,
            "--json" => args.json = true,
            "--bench" => args.bench = value("--bench")?.parse().map_err(|e| format!("--bench: {e}"))?,
            "--min-confidence" => {
                args.min_confidence =
                    value("--min-confidence")?.parse().map_err(|e| format!("--min-confidence: {e}"))?
            }
            "--max-labels" => {
                args.max_labels = value("--max-labels")?.parse().map_err(|e| format!("--max-labels: {e}"))?
            }
            _ => args.photos.push(PathBuf::from(arg)),
        }
    }
    Ok(args)
}

/// Decoded as the pipeline does: longest side at most 640 px.
fn view(path: &PathBuf) -> Result<image::RgbImage, String> {
    let image = image::open(path).map_err(|e| format!("{}: {e}", path.display()))?.to_rgb8();
    let long = image.width().max(image.height());
    if long <= 640 {
        return Ok(image);
    }
    let (w, h) = ((image.width() * 640 / long).max(1), (image.height() * 640 / long).max(1));
    Ok(image::imageops::thumbnail(&image, w, h))
}

/// Median and interquartile range.
fn quantiles(mut v: Vec<f64>) -> serde_json::Value {
    v.sort_by(f64::total_cmp);
    let at = |q: f64| v.get(((v.len() as f64 - 1.0) * q).round() as usize).copied().unwrap_or(f64::NAN);
    serde_json::json!({ "median": at(0.5), "q1": at(0.25), "q3": at(0.75), "n": v.len() })
}

fn ms(since: Instant) -> f64 {
    since.elapsed().as_secs_f64() * 1e3
}

fn main() -> Result<(), String> {
    let args = parse_args()?;
    let detector_path = Detector::locate(None).map_err(|e| e.to_string())?;
    let paths = ModelPaths::beside(&detector_path);
    let started = Instant::now();
    let labeller = Labeller::load(&paths).map_err(|e| e.to_string())?;
    eprintln!(
        "models {} loaded in {:.0} ms",
        labeller.models().iter().map(|m| m.to_string()).collect::<Vec<_>>().join(", "),
        ms(started)
    );
    let load_ms = ms(started);
    let images: Vec<(String, image::RgbImage)> = args
        .photos
        .iter()
        .map(|p| Ok((p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(), view(p)?)))
        .collect::<Result<_, String>>()?;

    if !args.json {
        print_labels(&labeller, &images, &args)?;
    }
    if args.bench > 0 {
        bench(&labeller, &paths, &images, &args, load_ms)?;
    }
    Ok(())
}

fn print_labels(labeller: &Labeller, images: &[(String, image::RgbImage)], args: &Args) -> Result<(), String> {
    if args.markdown {
        println!("| photo | labels at confidence ≥ {} (source: d = detector, c = classifier) |", args.min_confidence);
        println!("|---|---|");
    }
    for (name, image) in images {
        let labels = labeller.label(image, args.min_confidence, args.max_labels).map_err(|e| e.to_string())?;
        let shown: Vec<String> = labels
            .labels
            .iter()
            .map(|l| {
                let src: String = l.sources.iter().map(|s| &s[..1]).collect();
                let boxes = if l.instances.is_empty() { String::new() } else { format!(" ▭{}", l.instances.len()) };
                format!("{} {:.0} ({src}{boxes})", l.name, l.confidence)
            })
            .collect();
        let shown = if shown.is_empty() { "(none)".to_string() } else { shown.join(", ") };
        if args.markdown {
            println!("| {name} | {shown} |");
        } else {
            println!("{name}\t{shown}");
        }
    }
    Ok(())
}

/// Side by side, interleaved per image after one warm-up pass: the detector alone (as
/// `Detector::detect` ran before the classifier existed), the classifier alone, both in sequence
/// on this thread, and the Labeller (the classifier on a second thread), with each model's share.
fn bench(
    labeller: &Labeller,
    paths: &ModelPaths,
    images: &[(String, image::RgbImage)],
    args: &Args,
    load_ms: f64,
) -> Result<(), String> {
    let detector = Detector::load(&paths.detector).map_err(|e| e.to_string())?;
    let classifier = Classifier::load(&paths.classifier, &paths.classifier_labels).map_err(|e| e.to_string())?;
    let (mut det, mut cls, mut seq, mut both, mut det_share, mut cls_share) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let err = |e: vision::VisionError| e.to_string();
    for round in 0..=args.bench {
        for (_, image) in images {
            let t = Instant::now();
            detector.detect(image, 100, args.min_confidence).map_err(err)?;
            let d = ms(t);
            let t = Instant::now();
            let probs = classifier.probabilities(image).map_err(err)?;
            vision::classifier_labels(&probs, args.min_confidence);
            let c = ms(t);
            let t = Instant::now();
            detector.detect(image, 100, args.min_confidence).map_err(err)?;
            vision::classifier_labels(&classifier.probabilities(image).map_err(err)?, args.min_confidence);
            let s = ms(t);
            let t = Instant::now();
            let (_, times) = labeller.label_timed(image, args.min_confidence, 100).map_err(err)?;
            let b = ms(t);
            if round > 0 {
                det.push(d);
                cls.push(c);
                seq.push(s);
                both.push(b);
                det_share.push(times.detector.as_secs_f64() * 1e3);
                cls_share.push(times.classifier.as_secs_f64() * 1e3);
            }
        }
    }
    let figures = serde_json::json!({
        "photos": images.len(),
        "rounds": args.bench,
        "load_ms": load_ms,
        "detector_ms": quantiles(det),
        "classifier_ms": quantiles(cls),
        "sequential_ms": quantiles(seq),
        "side_by_side_ms": quantiles(both),
        "side_by_side_detector_ms": quantiles(det_share),
        "side_by_side_classifier_ms": quantiles(cls_share),
    });
    if args.json {
        println!("{figures}");
    } else {
        println!("\n{}", serde_json::to_string_pretty(&figures).map_err(|e| e.to_string())?);
    }
    Ok(())
}
