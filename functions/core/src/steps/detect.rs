//! DetectLabels: the `LabelDetector` port, with Rekognition as the AWS adapter (the local
//! model is the other adapter, in the `imgpipe` binary). On AWS an optional Rekognition Custom
//! Labels model runs beside DetectLabels; [`merge_labels`] makes one answer of both.

use std::future::Future;
use std::pin::Pin;

use aws_sdk_rekognition::config::http::HttpResponse;
use aws_sdk_rekognition::error::{ProvideErrorMetadata, SdkError};
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
/// The `source` of the labels a Rekognition Custom Labels model gave.
pub const CUSTOM_LABELS_SOURCE: &str = "custom-labels";

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

/// Runs the configured detector, then keeps one label per name, at least `MIN_CONFIDENCE`, at most
/// `MAX_LABELS` (whatever the detector returned).
pub async fn run(p: &Pipeline, input: DetectInput) -> Result<LabelSet, StepError> {
    let detector = p
        .detector
        .as_ref()
        .ok_or_else(|| StepError::Internal("this process has no label detector configured".into()))?;
    let mut set = detector.detect(&input.image, p.config.max_labels, p.config.min_confidence).await?;
    set.labels = merge_labels(set.labels, p.config.min_confidence, p.config.max_labels);
    Ok(set)
}

pub use imgpipe_labels::merge as merge_labels;

/// A Rekognition Custom Labels model version, as its ARN names it:
/// `arn:<partition>:rekognition:<region>:<account>:project/<project>/version/<version>/<created>`
/// (the `ProjectVersionArn` pattern of Rekognition's API model).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomLabelsModel {
    arn: String,
    region: String,
    project: String,
    version: String,
    created: String,
}

/// Longest `ProjectVersionArn` Rekognition accepts.
const MAX_ARN_CHARS: usize = 2048;

impl CustomLabelsModel {
    /// Parses a project version ARN; the error says what is wrong.
    pub fn parse(arn: &str) -> Result<CustomLabelsModel, String> {
        const FORM: &str = "arn:aws:rekognition:<region>:<account>:project/<project>/version/<version>/<created>";
        if arn.len() > MAX_ARN_CHARS {
            return Err(format!("longer than {MAX_ARN_CHARS} characters"));
        }
        let bad = || format!("not a Custom Labels model version ARN ({FORM})");
        let fields: Vec<&str> = arn.splitn(6, ':').collect();
        let [scheme, partition, service, region, account, resource] = fields[..] else { return Err(bad()) };
        let lower =
            |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
        let name = |s: &str| {
            (1..=255).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
        };
        let head_ok = scheme == "arn" && lower(partition) && service == "rekognition" && lower(region);
        if !head_ok || account.len() != 12 || !digits(account) {
            return Err(bad());
        }
        match resource.split('/').collect::<Vec<_>>()[..] {
            ["project", project, "version", version, created] if name(project) && name(version) && digits(created) => {
                Ok(CustomLabelsModel {
                    arn: arn.to_string(),
                    region: region.to_string(),
                    project: project.to_string(),
                    version: version.to_string(),
                    created: created.to_string(),
                })
            }
            _ => Err(bad()),
        }
    }

    /// The ARN, as configured.
    pub fn arn(&self) -> &str {
        &self.arn
    }

    /// The region the model runs in (DetectCustomLabels must be called there).
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The model's entry in [`LabelSet::models`]: `custom-labels:<project>@<version>/<created>`.
    /// The name part stays the same across versions of one project, so records labelled by an
    /// older version are found by their version; `<created>` (the ARN's creation timestamp) tells
    /// apart a version deleted and trained again under the same name.
    pub fn model_id(&self) -> String {
        format!("{CUSTOM_LABELS_SOURCE}:{}@{}/{}", self.project, self.version, self.created)
    }
}

impl std::str::FromStr for CustomLabelsModel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        CustomLabelsModel::parse(s)
    }
}

/// Amazon Rekognition DetectLabels by S3Object reference: no image bytes pass through the function.
/// With a Custom Labels model, DetectCustomLabels runs at the same time on the same object and its
/// labels are merged in.
pub struct RekognitionDetector {
    client: aws_sdk_rekognition::Client,
    custom: Option<CustomLabelsModel>,
}

impl RekognitionDetector {
    /// A detector over a Rekognition client; `custom` adds a Custom Labels model.
    pub fn new(client: aws_sdk_rekognition::Client, custom: Option<CustomLabelsModel>) -> Self {
        RekognitionDetector { client, custom }
    }

    /// DetectLabels: its labels and Rekognition's label model version.
    async fn detect_labels(
        &self,
        image: &ImageMeta,
        max_labels: usize,
        min_confidence: f32,
    ) -> Result<(Vec<Label>, String), StepError> {
        let out = self
            .client
            .detect_labels()
            .image(s3_image(image))
            .max_labels(api_limit(max_labels))
            .min_confidence(min_confidence)
            .send()
            .await
            .map_err(|e| classify_rekognition("detecting labels", &e))?;
        let labels = out
            .labels()
            .iter()
            .filter_map(|l| {
                Some(Label {
                    parents: names(l.parents(), |x| x.name()),
                    aliases: names(l.aliases(), |x| x.name()),
                    categories: names(l.categories(), |x| x.name()),
                    instances: l
                        .instances()
                        .iter()
                        .filter_map(|i| instance(i.confidence(), i.bounding_box()))
                        .collect(),
                    ..label(l.name(), l.confidence(), REKOGNITION_SOURCE)?
                })
            })
            .collect();
        Ok((labels, out.label_model_version().unwrap_or("unknown").to_string()))
    }

    /// DetectCustomLabels with `model`. MinConfidence is not sent, so each label must pass the
    /// threshold the model set for it in training; the pipeline's own minimum applies after the
    /// merge. An object detection model answers once per object found: the merge makes those one
    /// label with several boxes.
    async fn detect_custom_labels(
        &self,
        model: &CustomLabelsModel,
        image: &ImageMeta,
        max_labels: usize,
    ) -> Result<Vec<Label>, StepError> {
        let out = self
            .client
            .detect_custom_labels()
            .project_version_arn(model.arn())
            .image(s3_image(image))
            .max_results(api_limit(max_labels.max(MIN_CUSTOM_RESULTS)))
            .send()
            .await
            .map_err(|e| classify_rekognition(&format!("detecting custom labels with {}", model.arn()), &e))?;
        let labels = out
            .custom_labels()
            .iter()
            .filter_map(|l| {
                let b = l.geometry().and_then(|g| g.bounding_box());
                Some(Label {
                    instances: instance(l.confidence(), b).into_iter().collect(),
                    ..label(l.name(), l.confidence(), CUSTOM_LABELS_SOURCE)?
                })
            })
            .collect();
        Ok(labels)
    }
}

/// Results asked of a Custom Labels model at least: an object detection model answers once per
/// object, so a few objects of each kind fit even when `MAX_LABELS` is small.
const MIN_CUSTOM_RESULTS: usize = 100;

impl LabelDetector for RekognitionDetector {
    fn detect<'a>(
        &'a self,
        image: &'a ImageMeta,
        max_labels: usize,
        min_confidence: f32,
    ) -> BoxFuture<'a, Result<LabelSet, StepError>> {
        Box::pin(async move {
            let custom = async {
                match &self.custom {
                    Some(model) => self.detect_custom_labels(model, image, max_labels).await.map(Some),
                    None => Ok(None),
                }
            };
            let (detected, custom) = tokio::join!(self.detect_labels(image, max_labels, min_confidence), custom);
            let ((mut labels, model_version), custom) = match (detected, custom) {
                (Ok(detected), Ok(custom)) => (detected, custom),
                (Err(e), Ok(_)) | (Ok(_), Err(e)) => return Err(e),
                (Err(a), Err(b)) => return Err(not_retryable_first(a, b)),
            };
            let mut models = vec![format!("{REKOGNITION_SOURCE}@{model_version}")];
            if let (Some(model), Some(custom)) = (&self.custom, custom) {
                models.push(model.model_id());
                labels.extend(custom);
            }
            Ok(LabelSet {
                source: REKOGNITION_SOURCE.into(),
                model_version,
                models,
                labels: merge_labels(labels, min_confidence, max_labels),
            })
        })
    }
}

/// The image as Rekognition reads it: the claimed version of the S3 object, by reference.
fn s3_image(image: &ImageMeta) -> Image {
    let object =
        S3Object::builder().bucket(&image.bucket).name(&image.key).set_version(image.version_id.clone()).build();
    Image::builder().s3_object(object).build()
}

/// A count as the API takes it: 1000 at most.
fn api_limit(n: usize) -> i32 {
    n.min(1000) as i32
}

/// Longest label name kept. Rekognition's names are short; a custom model's are its trainer's
/// choice, and a name becomes part of a DynamoDB key (2048 bytes at most) when the image is stored.
pub const MAX_LABEL_NAME_CHARS: usize = 256;

/// A label without hierarchy or boxes, from the fields DetectLabels' `Label` and Custom Labels'
/// `CustomLabel` share. `None` without a name or a confidence (nothing to record), or with a name
/// longer than [`MAX_LABEL_NAME_CHARS`].
fn label(name: Option<&str>, confidence: Option<f32>, source: &str) -> Option<Label> {
    let name = name.map(str::trim).filter(|n| !n.is_empty())?;
    if name.chars().count() > MAX_LABEL_NAME_CHARS {
        tracing::warn!(source, chars = name.chars().count(), "label name too long; label dropped");
        return None;
    }
    Some(Label {
        name: name.to_string(),
        confidence: confidence?,
        sources: vec![source.to_string()],
        ..Label::default()
    })
}

/// The names in a list of Rekognition's named items (parents, aliases, categories).
fn names<T>(items: &[T], name: impl Fn(&T) -> Option<&str>) -> Vec<String> {
    items.iter().filter_map(name).map(str::to_string).collect()
}

/// An instance from Rekognition's box (DetectLabels' `Instance` and a custom label's `Geometry`
/// carry the same `BoundingBox`); `None` without a box.
fn instance(confidence: Option<f32>, b: Option<&aws_sdk_rekognition::types::BoundingBox>) -> Option<Instance> {
    let b = b?;
    Some(Instance {
        confidence: confidence.unwrap_or_default(),
        bounding_box: BoundingBox {
            left: b.left().unwrap_or_default(),
            top: b.top().unwrap_or_default(),
            width: b.width().unwrap_or_default(),
            height: b.height().unwrap_or_default(),
        },
    })
}

/// Of two failures, one a retry cannot fix: retrying would only repeat the other call.
fn not_retryable_first(a: StepError, b: StepError) -> StepError {
    match (&a, &b) {
        (StepError::Retryable(_), e) if !matches!(e, StepError::Retryable(_)) => b,
        _ => a,
    }
}

/// Classifies an error of DetectLabels or DetectCustomLabels (they share their error codes).
fn classify_rekognition<E>(what: &str, err: &SdkError<E, HttpResponse>) -> StepError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err.as_service_error().and_then(|se| se.code()) {
        Some("InvalidImageFormatException") => {
            StepError::rejected(RejectCode::UnsupportedFormat, "Rekognition cannot read this image format.")
        }
        Some("ImageTooLargeException") => {
            StepError::rejected(RejectCode::TooLarge, "The image is too large for label detection.")
        }
        Some("ResourceNotReadyException") => StepError::CustomModelNotRunning(format!(
            "{what}: the model is not running; start it with `aws rekognition start-project-version \
             --project-version-arn <arn> --min-inference-units 1`, then process the upload again"
        )),
        // Too many concurrent requests for a Rekognition quota: transient, as its documentation says.
        Some("LimitExceededException") => StepError::Retryable(format!("{what}: a Rekognition limit was exceeded")),
        _ => classify_sdk_error(what, err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(name: &str, confidence: f32, boxes: &[f32], source: &str) -> Label {
        Label {
            name: name.into(),
            confidence,
            instances: boxes
                .iter()
                .map(|&c| Instance {
                    confidence: c,
                    bounding_box: BoundingBox { left: c / 200.0, ..BoundingBox::default() },
                })
                .collect(),
            sources: vec![source.into()],
            ..Label::default()
        }
    }

    fn names(labels: &[Label]) -> Vec<&str> {
        labels.iter().map(|l| l.name.as_str()).collect()
    }

    #[test]
    fn a_name_from_both_models_is_one_label_with_the_higher_confidence_boxes_and_both_sources() {
        let rekognition = Label {
            parents: vec!["Animal".into(), "Pet".into()],
            categories: vec!["Animals and Pets".into()],
            ..label("Dog", 90.0, &[88.0], REKOGNITION_SOURCE)
        };
        let custom = label("Dog", 97.5, &[97.5], CUSTOM_LABELS_SOURCE);
        let mut again = rekognition.clone();
        again.parents = vec!["Mammal".into(), "Animal".into()];
        let merged = merge_labels(vec![rekognition, custom, again], 55.0, 20);
        assert_eq!(merged.len(), 1, "{merged:?}");
        let dog = &merged[0];
        assert_eq!(dog.confidence, 97.5);
        assert_eq!(dog.parents, ["Animal", "Pet", "Mammal"]);
        assert_eq!(dog.categories, ["Animals and Pets"]);
        assert_eq!(dog.sources, [REKOGNITION_SOURCE, CUSTOM_LABELS_SOURCE]);
        let box_confidences: Vec<f32> = dog.instances.iter().map(|i| i.confidence).collect();
        assert_eq!(box_confidences, [97.5, 88.0, 88.0], "every box, highest first");
    }

    #[test]
    fn an_object_detection_models_answers_for_one_name_become_one_label_with_every_box() {
        let answers = [80.0, 92.0, 60.0].map(|c| label("Widget", c, &[c], CUSTOM_LABELS_SOURCE));
        let merged = merge_labels(answers.to_vec(), 55.0, 20);
        assert_eq!(names(&merged), ["Widget"]);
        assert_eq!(merged[0].confidence, 92.0);
        let boxes: Vec<f32> = merged[0].instances.iter().map(|i| i.bounding_box.left).collect();
        assert_eq!(boxes, [0.46, 0.4, 0.3]);
        assert_eq!(merged[0].sources, [CUSTOM_LABELS_SOURCE]);
    }

    #[test]
    fn the_minimum_confidence_applies_to_the_merged_label() {
        // Rekognition is unsure of the cat (50) but boxes it; the custom model is sure (70): the
        // label stays, with the box. Filtering before the merge would lose the box.
        let merged = merge_labels(
            vec![label("Cat", 50.0, &[50.0], REKOGNITION_SOURCE), label("Cat", 70.0, &[], CUSTOM_LABELS_SOURCE)],
            55.0,
            20,
        );
        assert_eq!(merged.len(), 1);
        assert_eq!((merged[0].confidence, merged[0].instances.len()), (70.0, 1));
        // Below the minimum from every model: dropped.
        let low = vec![label("Fog", 54.9, &[], REKOGNITION_SOURCE), label("Fog", 40.0, &[], CUSTOM_LABELS_SOURCE)];
        assert!(merge_labels(low, 55.0, 20).is_empty());
        // At the minimum: kept.
        assert_eq!(merge_labels(vec![label("Sky", 55.0, &[], REKOGNITION_SOURCE)], 55.0, 20).len(), 1);
    }

    #[test]
    fn the_label_limit_counts_names_after_the_merge() {
        let rows = vec![
            label("Apple", 99.0, &[], REKOGNITION_SOURCE),
            label("Apple", 98.0, &[], CUSTOM_LABELS_SOURCE),
            label("Banana", 97.0, &[], CUSTOM_LABELS_SOURCE),
            label("Cherry", 96.0, &[], REKOGNITION_SOURCE),
        ];
        assert_eq!(names(&merge_labels(rows.clone(), 0.0, 2)), ["Apple", "Banana"]);
        assert_eq!(names(&merge_labels(rows.clone(), 0.0, 10)), ["Apple", "Banana", "Cherry"]);
        assert!(merge_labels(rows, 0.0, 0).is_empty());
    }

    #[test]
    fn order_is_confidence_then_boxed_first_then_name() {
        let merged = merge_labels(
            vec![
                label("Zebra", 80.0, &[], REKOGNITION_SOURCE),
                label("Yak", 80.0, &[80.0], REKOGNITION_SOURCE),
                label("Ant", 80.0, &[], CUSTOM_LABELS_SOURCE),
                label("Bee", 90.0, &[], CUSTOM_LABELS_SOURCE),
            ],
            0.0,
            10,
        );
        assert_eq!(names(&merged), ["Bee", "Yak", "Ant", "Zebra"]);
    }

    #[test]
    fn forged_confidences_are_dropped_or_capped() {
        let merged = merge_labels(
            vec![
                label("Nan", f32::NAN, &[], CUSTOM_LABELS_SOURCE),
                label("Inf", f32::INFINITY, &[], CUSTOM_LABELS_SOURCE),
                label("Over", 1e30, &[], CUSTOM_LABELS_SOURCE),
                label("Under", -5.0, &[], CUSTOM_LABELS_SOURCE),
            ],
            0.0,
            10,
        );
        assert_eq!(names(&merged), ["Over"]);
        assert_eq!(merged[0].confidence, 100.0);
    }

    #[test]
    fn many_answers_for_one_name_merge_in_one_pass() {
        let rows: Vec<Label> =
            (0..50_000).map(|i| label("Widget", (i % 100) as f32, &[1.0], CUSTOM_LABELS_SOURCE)).collect();
        let merged = merge_labels(rows, 0.0, 20);
        assert_eq!((merged.len(), merged[0].instances.len(), merged[0].confidence), (1, 50_000, 99.0));
        assert_eq!(merged[0].sources, [CUSTOM_LABELS_SOURCE]);
    }

    #[test]
    fn rekognition_fields_become_a_label_only_with_a_name_and_a_confidence() {
        let l = super::label(Some(" Corgi "), Some(91.0), CUSTOM_LABELS_SOURCE).expect("a label");
        assert_eq!(
            (l.name.as_str(), l.confidence, l.sources.as_slice()),
            ("Corgi", 91.0, &[CUSTOM_LABELS_SOURCE.to_string()][..])
        );
        assert!(l.instances.is_empty() && l.parents.is_empty());
        assert_eq!(super::label(None, Some(91.0), CUSTOM_LABELS_SOURCE), None);
        assert_eq!(super::label(Some("  "), Some(91.0), CUSTOM_LABELS_SOURCE), None);
        assert_eq!(super::label(Some("Corgi"), None, CUSTOM_LABELS_SOURCE), None);
        let long = "x".repeat(MAX_LABEL_NAME_CHARS + 1);
        assert_eq!(super::label(Some(&long), Some(91.0), CUSTOM_LABELS_SOURCE), None);
        let longest = "é".repeat(MAX_LABEL_NAME_CHARS);
        assert!(super::label(Some(&longest), Some(91.0), CUSTOM_LABELS_SOURCE).is_some());
    }

    #[test]
    fn a_rekognition_box_becomes_an_instance_and_no_box_none() {
        let b = aws_sdk_rekognition::types::BoundingBox::builder().left(0.125).top(0.25).width(0.5).build();
        let i = instance(Some(88.0), Some(&b)).expect("an instance");
        assert_eq!(i.confidence, 88.0);
        assert_eq!(i.bounding_box, BoundingBox { left: 0.125, top: 0.25, width: 0.5, height: 0.0 });
        assert_eq!(instance(Some(88.0), None), None);
    }

    #[test]
    fn of_two_failures_the_one_a_retry_cannot_fix_is_reported() {
        let retry = || StepError::Retryable("throttled".into());
        let stopped = || StepError::CustomModelNotRunning("stopped".into());
        assert_eq!(not_retryable_first(retry(), stopped()).error_type(), "CustomModelNotRunning");
        assert_eq!(not_retryable_first(stopped(), retry()).error_type(), "CustomModelNotRunning");
        assert_eq!(not_retryable_first(retry(), retry()).error_type(), "Retryable");
        let internal = StepError::Internal("denied".into());
        assert_eq!(not_retryable_first(internal, stopped()).error_type(), "InternalError");
    }

    const ARN: &str =
        "arn:aws:rekognition:us-east-1:123456789012:project/my-project/version/my-project.2020-01-21T09.10.15/1579626615000";

    #[test]
    fn a_model_arn_gives_its_region_and_model_id() {
        let m = CustomLabelsModel::parse(ARN).unwrap();
        assert_eq!((m.arn(), m.region()), (ARN, "us-east-1"));
        assert_eq!(m.model_id(), "custom-labels:my-project@my-project.2020-01-21T09.10.15/1579626615000");
        let china = "arn:aws-cn:rekognition:cn-north-1:123456789012:project/p_1/version/V-2/1";
        assert_eq!(china.parse::<CustomLabelsModel>().unwrap().model_id(), "custom-labels:p_1@V-2/1");
    }

    #[test]
    fn malformed_and_forged_model_arns_are_refused() {
        let long_name = format!("arn:aws:rekognition:us-east-1:123456789012:project/{}/version/v/1", "p".repeat(256));
        let huge = format!("{ARN}{}", "0".repeat(1 << 20));
        let repeated = format!("{ARN}/version/v/1");
        for bad in [
            "",
            "arn",
            "arn:aws:rekognition:us-east-1:123456789012:project/p/1579626615000",
            "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/",
            "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/12a",
            "arn:aws:rekognition:us-east-1:123456789012:project//version/v/1",
            "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1/extra",
            "arn:aws:rekognition:us-east-1:123456789012:collection/p/version/v/1",
            "arn:aws:rekognition:us-east-1:12345678901:project/p/version/v/1",
            "arn:aws:rekognition:us-east-1:1234567890123:project/p/version/v/1",
            "arn:aws:rekognition:US-EAST-1:123456789012:project/p/version/v/1",
            "arn:aws:rekognition::123456789012:project/p/version/v/1",
            "arn:aws:sagemaker:us-east-1:123456789012:project/p/version/v/1",
            "arn:aws:rekognition:us-east-1:123456789012:project/p q/version/v/1",
            "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v:x/1",
            "arn:aws:rekognition:us-east-1:123456789012:project/pé/version/v/1",
            "arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1\n",
            " arn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1",
            "xarn:aws:rekognition:us-east-1:123456789012:project/p/version/v/1",
            &long_name,
            &huge,
            &repeated,
        ] {
            let err = CustomLabelsModel::parse(bad).expect_err(bad);
            assert!(!err.is_empty());
        }
    }
}
