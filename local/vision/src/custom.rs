//! The user's own ONNX model in the place of Rekognition Custom Labels, run through tract-onnx.
//!
//! Contract (checked at load, with a clear error for a model that does not fit):
//! - one input, float32, fixed shape `[1, H, W, 3]` (NHWC) or `[1, 3, H, W]` (NCHW), 1 <= H, W
//!   <= 2048: the RGB image resized to W x H, values 0..1;
//! - a classifier has one output `[1, N]`: scores 0..1 (apply softmax or sigmoid in the model),
//!   N = the number of labels;
//! - a detector has three outputs: boxes `[1, K, 4]` (ymin, xmin, ymax, xmax as ratios 0..1),
//!   scores `[1, K]` (0..1) and classes `[1, K]` (label index 0..N-1, integer or float);
//! - labels: a UTF-8 text file, one label per line (blank lines ignored), at most 10,000 labels
//!   of at most 100 characters.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use image::RgbImage;
use sha2::{Digest, Sha256};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::infer::Factoid;
use tract_onnx::tract_hir::internal::DimLike;

use crate::labels::{BoundingBox, Instance};
use crate::{preprocess, Label, ModelId, VisionError};

/// Where the user's model and its labels are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomModel {
    pub model: PathBuf,
    pub labels: PathBuf,
}

const MAX_SIDE: usize = 2048;
const MAX_LABELS: usize = 10_000;
const MAX_LABEL_CHARS: usize = 100;
const MAX_LABELS_FILE: u64 = 1 << 20;
const MAX_MODEL_FILE: u64 = 1 << 30;
/// The `sources` value of labels from the custom model.
pub const CUSTOM_SOURCE: &str = "custom";

/// Classifier or detector, as the outputs say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CustomKind {
    Classifier,
    Detector,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Layout {
    Nhwc,
    Nchw,
}

/// A loaded custom model. Cloning is cheap (the optimised graph is shared).
#[derive(Clone)]
pub struct CustomLabeller {
    plan: Arc<TypedRunnableModel>,
    labels: Vec<String>,
    layout: Layout,
    height: usize,
    width: usize,
    kind: CustomKind,
    id: ModelId,
}

impl std::fmt::Debug for CustomLabeller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CustomLabeller").field("id", &self.id).field("kind", &self.kind).finish()
    }
}

fn unfit(path: &Path, message: impl Into<String>) -> VisionError {
    VisionError::CustomModel { path: path.to_path_buf(), message: message.into() }
}

fn read_limited(path: &Path, limit: u64) -> Result<Vec<u8>, VisionError> {
    let meta = std::fs::metadata(path).map_err(|e| unfit(path, format!("cannot read it: {e}")))?;
    if !meta.is_file() {
        return Err(unfit(path, "is not a file"));
    }
    if meta.len() > limit {
        return Err(unfit(path, format!("file is {} bytes, more than the {limit} allowed", meta.len())));
    }
    std::fs::read(path).map_err(|source| VisionError::ModelRead { path: path.to_path_buf(), source })
}

/// Parse a labels file: one label per line, trimmed; blank lines ignored.
pub fn parse_labels(path: &Path, bytes: &[u8]) -> Result<Vec<String>, VisionError> {
    let text = std::str::from_utf8(bytes).map_err(|_| unfit(path, "labels file is not UTF-8 text"))?;
    let labels: Vec<String> = text.lines().map(str::trim).filter(|l| !l.is_empty()).map(String::from).collect();
    if labels.is_empty() {
        return Err(unfit(path, "labels file has no labels"));
    }
    if labels.len() > MAX_LABELS {
        return Err(unfit(path, format!("labels file has {} labels, more than {MAX_LABELS}", labels.len())));
    }
    if let Some(long) = labels.iter().find(|l| l.chars().count() > MAX_LABEL_CHARS || l.chars().any(char::is_control)) {
        let shown: String = long.chars().take(40).collect();
        return Err(unfit(
            path,
            format!("label {shown:?}... is longer than {MAX_LABEL_CHARS} characters or has control characters"),
        ));
    }
    Ok(labels)
}

impl CustomLabeller {
    /// Load the model and its labels and check them against the contract (module docs).
    pub fn load(custom: &CustomModel) -> Result<CustomLabeller, VisionError> {
        let labels = parse_labels(&custom.labels, &read_limited(&custom.labels, MAX_LABELS_FILE)?)?;
        let path = &custom.model;
        let bytes = read_limited(path, MAX_MODEL_FILE)?;
        let sha = hex::encode(Sha256::digest(&bytes));
        let model = tract_onnx::onnx()
            .model_for_read(&mut &*bytes)
            .map_err(|e| unfit(path, format!("not a model tract can read as ONNX: {e:#}")))?;
        let (layout, height, width) = input_shape(path, &model)?;
        let outputs = model.outputs.len();
        let kind = match outputs {
            1 => CustomKind::Classifier,
            3 => CustomKind::Detector,
            n => {
                return Err(unfit(
                    path,
                    format!("has {n} outputs: a classifier has 1 (scores), a detector 3 (boxes, scores, classes)"),
                ))
            }
        };
        let shape: [usize; 4] = match layout {
            Layout::Nhwc => [1, height, width, 3],
            Layout::Nchw => [1, 3, height, width],
        };
        let plan = (|| -> TractResult<Arc<TypedRunnableModel>> {
            let mut model = model;
            model.set_input_fact(0, f32::fact(shape).into())?;
            model.into_optimized()?.into_runnable()
        })()
        .map_err(|e| unfit(path, format!("cannot be prepared for input {shape:?}: {e:#}")))?;
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let id = ModelId::new(&format!("custom:{name}"), &sha);
        let labeller = CustomLabeller { plan, labels, layout, height, width, kind, id };
        // One run on a grey picture proves the outputs fit the contract before any real image.
        let grey = RgbImage::from_pixel(width.min(64) as u32, height.min(64) as u32, image::Rgb([128, 128, 128]));
        labeller.run(&grey).map_err(|e| match e {
            VisionError::Inference(message) => unfit(path, message),
            other => other,
        })?;
        Ok(labeller)
    }

    pub fn id(&self) -> &ModelId {
        &self.id
    }

    pub fn kind(&self) -> CustomKind {
        self.kind
    }

    /// The labels file's labels, in the model's class order.
    pub fn labels(&self) -> &[String] {
        &self.labels
    }

    /// Labels for `image` at or above `min_confidence` (0-100), marked with source "custom".
    pub fn label(&self, image: &RgbImage, min_confidence: f32) -> Result<Vec<Label>, VisionError> {
        crate::check_image(image)?;
        let mut found = self.run(image)?;
        found.retain(|l| l.confidence >= min_confidence);
        for label in &mut found {
            label.instances.retain(|i| i.confidence >= min_confidence);
        }
        Ok(found)
    }

    fn input(&self, image: &RgbImage) -> Result<Tensor, VisionError> {
        let (h, w) = (self.height, self.width);
        let hwc = preprocess::resize_bilinear_to(image, w, h);
        let data: Vec<f32> = match self.layout {
            Layout::Nhwc => hwc.iter().map(|v| v / 255.0).collect(),
            Layout::Nchw => (0..3).flat_map(|c| hwc.iter().skip(c).step_by(3).map(|v| v / 255.0)).collect(),
        };
        let shape: [usize; 4] = match self.layout {
            Layout::Nhwc => [1, h, w, 3],
            Layout::Nchw => [1, 3, h, w],
        };
        Tensor::from_shape(&shape, &data).map_err(|e| VisionError::Inference(format!("{e:#}")))
    }

    fn run(&self, image: &RgbImage) -> Result<Vec<Label>, VisionError> {
        let outputs =
            self.plan.run(tvec!(self.input(image)?.into())).map_err(|e| VisionError::Inference(format!("{e:#}")))?;
        let floats = |ix: usize| -> Result<Vec<f32>, VisionError> {
            let t = outputs.get(ix).ok_or_else(|| VisionError::Inference(format!("no output {ix}")))?;
            let t = t.cast_to::<f32>().map_err(|e| VisionError::Inference(format!("output {ix}: {e:#}")))?;
            let view = t.to_plain_array_view::<f32>().map_err(|e| VisionError::Inference(format!("{e:#}")))?;
            Ok(view.iter().copied().collect())
        };
        let shape = |ix: usize| outputs.get(ix).map(|t| t.shape().to_vec()).unwrap_or_default();
        let n = self.labels.len();
        match self.kind {
            CustomKind::Classifier => {
                let scores = floats(0)?;
                if scores.len() != n {
                    return Err(VisionError::Inference(format!(
                        "output has shape {:?}: expected [1, {n}], one score per label in the labels file",
                        shape(0)
                    )));
                }
                check_scores(&scores)?;
                Ok(scores
                    .iter()
                    .zip(&self.labels)
                    .map(|(&s, name)| custom_label(name, s * 100.0, Vec::new()))
                    .collect())
            }
            CustomKind::Detector => {
                let (boxes, scores, classes) = (floats(0)?, floats(1)?, floats(2)?);
                let k = scores.len();
                if boxes.len() != k * 4 || classes.len() != k {
                    return Err(VisionError::Inference(format!(
                        "outputs have shapes {:?}, {:?}, {:?}: expected boxes [1, K, 4], scores [1, K], classes [1, K]",
                        shape(0),
                        shape(1),
                        shape(2)
                    )));
                }
                check_scores(&scores)?;
                let mut labels: Vec<Label> = Vec::new();
                for (ix, (&score, &class)) in scores.iter().zip(&classes).enumerate() {
                    if !(class >= 0.0 && (class as usize) < n && class.fract() == 0.0) {
                        return Err(VisionError::Inference(format!(
                            "class {class} is not an index into the {n} labels"
                        )));
                    }
                    let b: Vec<f32> = boxes[ix * 4..ix * 4 + 4].iter().map(|v| v.clamp(0.0, 1.0)).collect();
                    let bounding_box = BoundingBox {
                        left: b[1],
                        top: b[0],
                        width: (b[3] - b[1]).max(0.0),
                        height: (b[2] - b[0]).max(0.0),
                    };
                    let instance = Instance { confidence: score * 100.0, bounding_box };
                    let name = &self.labels[class as usize];
                    match labels.iter_mut().find(|l| &l.name == name) {
                        Some(l) => {
                            l.confidence = l.confidence.max(instance.confidence);
                            l.instances.push(instance);
                        }
                        None => labels.push(custom_label(name, instance.confidence, vec![instance])),
                    }
                }
                Ok(labels)
            }
        }
    }
}

fn check_scores(scores: &[f32]) -> Result<(), VisionError> {
    match scores.iter().find(|s| !(-1e-4..=1.0001).contains(*s)) {
        Some(bad) => {
            Err(VisionError::Inference(format!("score {bad} is outside 0..1: end the model with a Softmax or Sigmoid")))
        }
        None => Ok(()),
    }
}

fn custom_label(name: &str, confidence: f32, instances: Vec<Instance>) -> Label {
    Label {
        name: name.to_string(),
        confidence: confidence.clamp(0.0, 100.0),
        parents: Vec::new(),
        aliases: Vec::new(),
        categories: Vec::new(),
        instances,
        sources: vec![CUSTOM_SOURCE.to_string()],
    }
}

fn input_shape(path: &Path, model: &InferenceModel) -> Result<(Layout, usize, usize), VisionError> {
    if model.inputs.len() != 1 {
        return Err(unfit(path, format!("has {} inputs, expected one image input", model.inputs.len())));
    }
    let fact = model.input_fact(0).map_err(|e| unfit(path, format!("{e:#}")))?;
    if let Some(dt) = fact.datum_type.concretize() {
        if dt != f32::datum_type() {
            return Err(unfit(path, format!("input is {dt:?}, expected float32")));
        }
    }
    let dims: Option<Vec<usize>> =
        fact.shape.concretize().and_then(|dims| dims.iter().map(|d| d.to_usize().ok()).collect::<Option<Vec<usize>>>());
    let expected = "expected a fixed [1, H, W, 3] (NHWC) or [1, 3, H, W] (NCHW) input";
    let Some(dims) = dims else {
        return Err(unfit(path, format!("input shape is not fixed; {expected}")));
    };
    let (layout, h, w) = match dims[..] {
        [1, 3, h, w] if w != 3 || h == 3 => (Layout::Nchw, h, w),
        [1, h, w, 3] => (Layout::Nhwc, h, w),
        _ => return Err(unfit(path, format!("input shape is {dims:?}; {expected}"))),
    };
    if !(1..=MAX_SIDE).contains(&h) || !(1..=MAX_SIDE).contains(&w) {
        return Err(unfit(path, format!("input is {w}x{h}; sides must be 1..={MAX_SIDE}")));
    }
    Ok((layout, h, w))
}
