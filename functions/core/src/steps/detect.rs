//! DetectLabels: the `LabelDetector` port, with Rekognition as the AWS adapter (the local
//! model is the other adapter, in the `imgpipe` binary).

use std::future::Future;
use std::pin::Pin;

use aws_sdk_rekognition::types::{Image, S3Object};
use serde::Deserialize;

use super::Pipeline;
use crate::error::{classify_sdk_error, StepError};
use crate::model::{BoundingBox, ImageMeta, Instance, Label, LabelSet};
use imgpipe_imaging::RejectCode;

/// A boxed future, for object-safe async ports.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The `source` of Rekognition's labels (and the model name in [`LabelSet::models`]).
pub const REKOGNITION_SOURCE: &str = "rekognition";

/// Finds labels in an image stored in S3.
pub trait LabelDetector: Send + Sync {
    /// Labels for `image`, at most `max_labels`, each at least `min_confidence` (0-100).
    fn detect<'a>(
        &'a self,
        image: &'a ImageMeta,
        max_labels: usize,
        min_confidence: f32,
    ) -> BoxFuture<'a, Result<LabelSet, StepError>>;
}

/// DetectLabels' input: `{"image": $.image}`.
#[derive(Debug, Deserialize)]
pub struct DetectInput {
    pub image: ImageMeta,
}

/// Runs the configured detector.
pub async fn run(p: &Pipeline, input: DetectInput) -> Result<LabelSet, StepError> {
    let detector = p
        .detector
        .as_ref()
        .ok_or_else(|| StepError::Internal("this process has no label detector configured".into()))?;
    let mut set = detector.detect(&input.image, p.config.max_labels, p.config.min_confidence).await?;
    set.labels.retain(|l| l.confidence >= p.config.min_confidence);
    set.labels.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    set.labels.truncate(p.config.max_labels);
    Ok(set)
}

/// Amazon Rekognition DetectLabels by S3Object reference: no image bytes pass through the function.
pub struct RekognitionDetector {
    client: aws_sdk_rekognition::Client,
}

impl RekognitionDetector {
    /// A detector over a Rekognition client.
    pub fn new(client: aws_sdk_rekognition::Client) -> Self {
        RekognitionDetector { client }
    }
}

impl LabelDetector for RekognitionDetector {
    fn detect<'a>(
        &'a self,
        image: &'a ImageMeta,
        max_labels: usize,
        min_confidence: f32,
    ) -> BoxFuture<'a, Result<LabelSet, StepError>> {
        Box::pin(async move {
            let s3_object = S3Object::builder()
                .bucket(&image.bucket)
                .name(&image.key)
                .set_version(image.version_id.clone())
                .build();
            let out = self
                .client
                .detect_labels()
                .image(Image::builder().s3_object(s3_object).build())
                .max_labels(max_labels.min(1000) as i32)
                .min_confidence(min_confidence)
                .send()
                .await
                .map_err(|e| classify_rekognition(&e))?;
            let labels = out
                .labels()
                .iter()
                .map(|l| Label {
                    name: l.name().unwrap_or_default().to_string(),
                    confidence: l.confidence().unwrap_or_default(),
                    parents: l.parents().iter().filter_map(|x| x.name().map(str::to_string)).collect(),
                    aliases: l.aliases().iter().filter_map(|x| x.name().map(str::to_string)).collect(),
                    categories: l.categories().iter().filter_map(|x| x.name().map(str::to_string)).collect(),
                    instances: l
                        .instances()
                        .iter()
                        .filter_map(|i| {
                            let b = i.bounding_box()?;
                            Some(Instance {
                                confidence: i.confidence().unwrap_or_default(),
                                bounding_box: BoundingBox {
                                    left: b.left().unwrap_or_default(),
                                    top: b.top().unwrap_or_default(),
                                    width: b.width().unwrap_or_default(),
                                    height: b.height().unwrap_or_default(),
                                },
                            })
                        })
                        .collect(),
                    sources: vec![REKOGNITION_SOURCE.into()],
                })
                .collect();
            let model_version = out.label_model_version().unwrap_or("unknown").to_string();
            Ok(LabelSet {
                source: REKOGNITION_SOURCE.into(),
                models: vec![format!("{REKOGNITION_SOURCE}@{model_version}")],
                model_version,
                labels,
            })
        })
    }
}

fn classify_rekognition(
    err: &aws_sdk_rekognition::error::SdkError<
        aws_sdk_rekognition::operation::detect_labels::DetectLabelsError,
        aws_sdk_rekognition::config::http::HttpResponse,
    >,
) -> StepError {
    use aws_sdk_rekognition::error::ProvideErrorMetadata;
    match err.as_service_error().and_then(|se| se.code()) {
        Some("InvalidImageFormatException") => {
            StepError::rejected(RejectCode::UnsupportedFormat, "Rekognition cannot read this image format.")
        }
        Some("ImageTooLargeException") => {
            StepError::rejected(RejectCode::TooLarge, "The image is too large for label detection.")
        }
        _ => classify_sdk_error("detecting labels", err),
    }
}
