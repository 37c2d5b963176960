//! The `LabelDetector` port's local adapter: the object is read through the same S3 client,
//! decoded once (shrink-on-load, oriented) and labelled by the local models together
//! (`vision::Labeller`: the detector, the ImageNet classifier and the user's own model, if any).

use std::path::Path;
use std::sync::Arc;

use imgpipe_core::model::{ImageMeta, LabelSet};
use imgpipe_core::steps::detect::BoxFuture;
use imgpipe_core::steps::LabelDetector;
use imgpipe_core::StepError;
use imgpipe_imaging::{ImageInfo, Limits, Rejection};
use tokio::sync::OnceCell;

/// Longest side the models see; the networks themselves take 300x300 and 280x280.
const DETECT_SIDE: u32 = 640;

/// The picture the models are given: `bytes` decoded once (shrink-on-load), oriented as EXIF
/// says, longest side at most 640 px.
pub fn detector_view(bytes: &[u8], info: &ImageInfo, limits: &Limits) -> Result<image::RgbImage, Rejection> {
    imgpipe_imaging::decode_oriented(bytes, info, DETECT_SIDE, limits)
}

/// The local models, loaded once in the background (see [`LocalDetector::start`]).
pub struct LocalDetector {
    paths: vision::ModelPaths,
    /// The user's own model, loaded and checked at start.
    custom: Option<vision::CustomLabeller>,
    s3: aws_sdk_s3::Client,
    limits: Limits,
    model: OnceCell<Arc<vision::Labeller>>,
}

impl LocalDetector {
    /// The models beside the detector's file `model` (where scripts/fetch-model.sh puts them)
    /// and the user's own, if any. Checks that every file is there and loads the user's model
    /// now (its contract is checked, so a misfit stops the start with its reason); the large
    /// models load on first use, or in the background with [`LocalDetector::preload`].
    pub async fn start(
        model: &Path,
        custom: Option<vision::CustomModel>,
        s3: aws_sdk_s3::Client,
        limits: Limits,
    ) -> Result<LocalDetector, vision::VisionError> {
        let paths = vision::ModelPaths { custom, ..vision::ModelPaths::beside(model) };
        paths.check_present()?;
        let custom = match paths.custom.clone() {
            None => None,
            Some(custom) => Some(
                tokio::task::spawn_blocking(move || vision::CustomLabeller::load(&custom))
                    .await
                    .map_err(|e| vision::VisionError::Inference(format!("the custom model's loader failed: {e}")))??,
            ),
        };
        Ok(LocalDetector { paths, custom, s3, limits, model: OnceCell::new() })
    }

    /// Loads the models now (it takes a second or so), so the first image does not wait.
    pub async fn preload(&self) -> Result<(), StepError> {
        self.model().await.map(|_| ())
    }

    async fn model(&self) -> Result<Arc<vision::Labeller>, StepError> {
        self.model
            .get_or_try_init(|| async {
                let paths = vision::ModelPaths { custom: None, ..self.paths.clone() };
                let custom = self.custom.clone();
                let loaded =
                    tokio::task::spawn_blocking(move || vision::Labeller::load(&paths).map(|l| l.with_custom(custom)))
                        .await
                        .map_err(|e| StepError::Internal(format!("model loader failed: {e}")))?;
                loaded.map(Arc::new).map_err(|e| StepError::Internal(e.to_string()))
            })
            .await
            .cloned()
    }
}

impl LabelDetector for LocalDetector {
    fn detect<'a>(
        &'a self,
        image: &'a ImageMeta,
        max_labels: usize,
        min_confidence: f32,
    ) -> BoxFuture<'a, Result<LabelSet, StepError>> {
        Box::pin(async move {
            let model = self.model().await?;
            let bytes = imgpipe_core::steps::validate::read_upload(&self.s3, image).await?;
            let info = image.info();
            let limits = self.limits;
            let labels = tokio::task::spawn_blocking(move || -> Result<vision::Labels, StepError> {
                let rgb = detector_view(&bytes, &info, &limits)?;
                model.label(&rgb, min_confidence, max_labels).map_err(|e| StepError::Internal(e.to_string()))
            })
            .await
            .map_err(|e| StepError::Internal(format!("detector worker failed: {e}")))??;
            Ok(label_set(labels))
        })
    }
}

/// The local models' labels as the pipeline's label set (both use `imgpipe_labels::Label`).
pub fn label_set(labels: vision::Labels) -> LabelSet {
    LabelSet {
        source: labels.source,
        model_version: labels.model_version,
        models: labels.models.iter().map(ToString::to_string).collect(),
        labels: labels.labels,
    }
}
