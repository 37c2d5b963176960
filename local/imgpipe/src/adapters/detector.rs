//! The `LabelDetector` port's local adapter: the object is read through the same S3 client,
//! decoded once (shrink-on-load, oriented) and labelled by the local SSD-MobileNet model.

use std::path::PathBuf;
use std::sync::Arc;

use imgpipe_core::model::{BoundingBox, ImageMeta, Instance, Label, LabelSet};
use imgpipe_core::steps::detect::BoxFuture;
use imgpipe_core::steps::LabelDetector;
use imgpipe_core::StepError;
use imgpipe_imaging::{ImageInfo, Limits, Rejection};
use tokio::sync::OnceCell;

/// Longest side the detector sees; the network itself takes 300x300.
const DETECT_SIDE: u32 = 640;

/// The picture the model is given: `bytes` decoded once (shrink-on-load), oriented as EXIF says,
/// longest side at most 640 px.
pub fn detector_view(bytes: &[u8], info: &ImageInfo, limits: &Limits) -> Result<image::RgbImage, Rejection> {
    imgpipe_imaging::decode_oriented(bytes, info, DETECT_SIDE, limits)
}

/// The local model, loaded once on first use (or eagerly with [`LocalDetector::preload`]).
pub struct LocalDetector {
    path: PathBuf,
    s3: aws_sdk_s3::Client,
    limits: Limits,
    model: OnceCell<Arc<vision::Detector>>,
}

impl LocalDetector {
    /// A detector for the model at `path`, reading images through `s3`.
    pub fn new(path: PathBuf, s3: aws_sdk_s3::Client, limits: Limits) -> Self {
        LocalDetector { path, s3, limits, model: OnceCell::new() }
    }

    /// Loads the model now (it takes a few seconds), so the first image does not wait.
    pub async fn preload(&self) -> Result<(), StepError> {
        self.model().await.map(|_| ())
    }

    async fn model(&self) -> Result<Arc<vision::Detector>, StepError> {
        self.model
            .get_or_try_init(|| async {
                let path = self.path.clone();
                let loaded = tokio::task::spawn_blocking(move || vision::Detector::load(&path))
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
                model.detect(&rgb, max_labels, min_confidence).map_err(|e| StepError::Internal(e.to_string()))
            })
            .await
            .map_err(|e| StepError::Internal(format!("detector worker failed: {e}")))??;
            Ok(label_set(labels))
        })
    }
}

/// The local model's labels in the pipeline's (Rekognition's) terms, field by field, so a change
/// on either side is a compile error rather than a lost field.
pub fn label_set(labels: vision::Labels) -> LabelSet {
    LabelSet {
        source: labels.source,
        model_version: labels.model_version,
        models: labels.models.iter().map(ToString::to_string).collect(),
        labels: labels.labels.into_iter().map(label).collect(),
    }
}

fn label(l: vision::Label) -> Label {
    let vision::Label { name, confidence, parents, aliases, categories, instances, sources } = l;
    let instances = instances.into_iter().map(instance).collect();
    Label { name, confidence, parents, aliases, categories, instances, sources }
}

fn instance(i: vision::Instance) -> Instance {
    let vision::Instance { confidence, bounding_box: b } = i;
    let vision::BoundingBox { left, top, width, height } = b;
    Instance { confidence, bounding_box: BoundingBox { left, top, width, height } }
}
