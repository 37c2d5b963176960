//! The ImageNet classifier: EfficientNet-Lite3 (from the same PyPI package as the detector),
//! converted once by scripts/fetch-model.sh to a float ONNX graph and run through tract-onnx.
//!
//! Graph contract (scripts/tflite-to-onnx.py): input `[1, 280, 280, 3]` float pixel values
//! 0..255, output `[1, 1000]` softmax probabilities in the order of `efficientnet_labels.txt`.

use std::path::Path;
use std::sync::Arc;

use image::RgbImage;
use tract_onnx::prelude::*;

use crate::{preprocess, read_checked, ModelId, VisionError};

/// File names in the model directory.
pub const CLASSIFIER_FILE_NAME: &str = "efficientnet_lite3.onnx";
pub const CLASSIFIER_LABELS_FILE_NAME: &str = "efficientnet_labels.txt";
/// sha256 of the converted graph (pinned by scripts/fetch-model.sh).
pub const CLASSIFIER_SHA256: &str = "4a93537fcd99624f78c46acf99792bf48db62b00cba489089ad3ce26b810c371";
/// sha256 of `efficientnet_labels.txt` in the package.
pub const CLASSIFIER_LABELS_SHA256: &str = "a40d9be82eb4738becd1dd69991b89f87f309975e860a6f3f45395d8c06a7e0d";
/// The model's name in [`ModelId`]s.
pub const CLASSIFIER_NAME: &str = "efficientnet_lite3";
/// Side of the square input.
pub const CLASSIFIER_SIDE: usize = 280;

/// A loaded classifier. `Send + Sync`: share it between threads.
pub struct Classifier {
    plan: Arc<TypedRunnableModel>,
    id: ModelId,
}

impl std::fmt::Debug for Classifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Classifier").field("id", &self.id).finish()
    }
}

impl Classifier {
    /// Load and check (sha256) the converted graph and its labels file, then optimise the graph
    /// for its fixed input shape.
    pub fn load(model: &Path, labels: &Path) -> Result<Classifier, VisionError> {
        read_checked(labels, CLASSIFIER_LABELS_SHA256, "efficientnet_labels.txt")?;
        let bytes = read_checked(model, CLASSIFIER_SHA256, "efficientnet_lite3.onnx")?;
        let plan = build_plan(&bytes)
            .map_err(|e| VisionError::ModelLoad { path: model.to_path_buf(), message: format!("{e:#}") })?;
        Ok(Classifier { plan, id: ModelId::new(CLASSIFIER_NAME, CLASSIFIER_SHA256) })
    }

    /// Which model this is (name and sha256 prefix).
    pub fn id(&self) -> &ModelId {
        &self.id
    }

    /// Class probabilities (1000, summing to about 1) for `image`, resized to 280x280.
    pub fn probabilities(&self, image: &RgbImage) -> Result<Vec<f32>, VisionError> {
        crate::check_image(image)?;
        let side = CLASSIFIER_SIDE;
        let input = Tensor::from_shape(&[1, side, side, 3], &preprocess::resize_bilinear(image, side))
            .map_err(|e| VisionError::Inference(format!("{e:#}")))?;
        self.run(input)
    }

    /// Run the graph on an already sized input: `pixels` is 280x280 RGB, row-major (tests use
    /// this to feed the reference implementation's exact input).
    pub fn probabilities_of_input(&self, pixels: &[u8]) -> Result<Vec<f32>, VisionError> {
        let side = CLASSIFIER_SIDE;
        if pixels.len() != side * side * 3 {
            return Err(VisionError::InvalidImage(format!("expected {side}x{side} RGB, got {} bytes", pixels.len())));
        }
        let data: Vec<f32> = pixels.iter().map(|&b| f32::from(b)).collect();
        let input =
            Tensor::from_shape(&[1, side, side, 3], &data).map_err(|e| VisionError::Inference(format!("{e:#}")))?;
        self.run(input)
    }

    fn run(&self, input: Tensor) -> Result<Vec<f32>, VisionError> {
        let outputs = self.plan.run(tvec!(input.into())).map_err(|e| VisionError::Inference(format!("{e:#}")))?;
        let view = outputs
            .first()
            .ok_or_else(|| VisionError::Inference("classifier gave no output".into()))?
            .to_plain_array_view::<f32>()
            .map_err(|e| VisionError::Inference(format!("{e:#}")))?;
        if view.len() != crate::imagenet::NUM_CLASSES {
            return Err(VisionError::Inference(format!("classifier output has shape {:?}", view.shape())));
        }
        Ok(view.iter().copied().collect())
    }
}

fn build_plan(bytes: &[u8]) -> TractResult<Arc<TypedRunnableModel>> {
    let side = CLASSIFIER_SIDE;
    let mut model = tract_onnx::onnx().model_for_read(&mut &*bytes)?;
    model.set_input_fact(0, f32::fact([1, side, side, 3]).into())?;
    model.into_optimized()?.into_runnable()
}
