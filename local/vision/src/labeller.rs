//! All local models together: the detector (COCO objects with boxes), the ImageNet classifier
//! (scenes and objects, no boxes) and optionally the user's own model, merged into one answer.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use image::RgbImage;

use crate::{
    check_image, check_min_confidence, imagenet, Classifier, CustomLabeller, CustomModel, Detector, Label, Labels,
    ModelId, VisionError, CLASSIFIER_FILE_NAME, CLASSIFIER_LABELS_FILE_NAME,
};

/// The `sources` value of labels from the classifier.
pub const CLASSIFIER_SOURCE: &str = "classifier";
/// The `source` of a [`Labels`] made by the [`Labeller`].
pub const LOCAL_SOURCE: &str = "local";

/// Where the model files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelPaths {
    /// `ssd_mobilenet_v2_coco.pb`.
    pub detector: PathBuf,
    /// `efficientnet_lite3.onnx`.
    pub classifier: PathBuf,
    /// `efficientnet_labels.txt`.
    pub classifier_labels: PathBuf,
    /// The user's own model, if any.
    pub custom: Option<CustomModel>,
}

impl ModelPaths {
    /// The classifier's files in the same directory as the detector (where
    /// scripts/fetch-model.sh puts them), no custom model.
    pub fn beside(detector: &Path) -> ModelPaths {
        let dir = detector.parent().unwrap_or(Path::new("."));
        ModelPaths {
            detector: detector.to_path_buf(),
            classifier: dir.join(CLASSIFIER_FILE_NAME),
            classifier_labels: dir.join(CLASSIFIER_LABELS_FILE_NAME),
            custom: None,
        }
    }

    /// Checks that every file is there, in the order the models load, before anything loads:
    /// a missing classifier file is named with the directory it must be in and how to fetch it.
    pub fn check_present(&self) -> Result<(), VisionError> {
        if !self.detector.is_file() {
            return Err(VisionError::ModelNotFound { path: self.detector.clone() });
        }
        for path in [&self.classifier, &self.classifier_labels] {
            if !path.is_file() {
                return Err(VisionError::ClassifierNotFound { path: path.clone() });
            }
        }
        if let Some(custom) = &self.custom {
            for path in [&custom.model, &custom.labels] {
                if !path.is_file() {
                    return Err(VisionError::CustomModel { path: path.clone(), message: "no such file".to_string() });
                }
            }
        }
        Ok(())
    }
}

/// Where the time of one [`Labeller::label_timed`] went, model by model (each on its own
/// thread: the detector on the caller's, the others side by side on a second one).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Timings {
    /// The detector: pre-processing, network, box decoding.
    pub detector: Duration,
    /// The classifier: pre-processing, network, label mapping.
    pub classifier: Duration,
    /// The custom model, when there is one.
    pub custom: Option<Duration>,
}

/// The loaded models. `Send + Sync`: load once, share.
#[derive(Debug)]
pub struct Labeller {
    detector: Detector,
    classifier: Classifier,
    custom: Option<CustomLabeller>,
}

impl Labeller {
    /// Load (and check) every model, side by side on threads of their own.
    pub fn load(paths: &ModelPaths) -> Result<Labeller, VisionError> {
        paths.check_present()?;
        std::thread::scope(|s| {
            let classifier = s.spawn(|| Classifier::load(&paths.classifier, &paths.classifier_labels));
            let custom = s.spawn(|| paths.custom.as_ref().map(CustomLabeller::load).transpose());
            let detector = Detector::load(&paths.detector)?;
            let joined =
                |what: &str| VisionError::ModelLoad { path: PathBuf::from(what), message: "loader panicked".into() };
            let classifier = classifier.join().map_err(|_| joined("classifier"))??;
            let custom = custom.join().map_err(|_| joined("custom model"))??;
            Ok(Labeller { detector, classifier, custom })
        })
    }

    /// This labeller with `custom` in the place of its custom model (e.g. one loaded and
    /// checked earlier, at start-up, while the large models load in the background).
    pub fn with_custom(self, custom: Option<CustomLabeller>) -> Labeller {
        Labeller { custom, ..self }
    }

    /// The models that label each image, in the order of [`Labels::models`].
    pub fn models(&self) -> Vec<ModelId> {
        let mut ids = vec![self.detector.id().clone(), self.classifier.id().clone()];
        ids.extend(self.custom.as_ref().map(|c| c.id().clone()));
        ids
    }

    /// Label `image` (decoded once, already oriented): every model runs on it (the classifier
    /// and the custom model on a second thread, side by side with the detector), and their
    /// labels are merged ([`merge`]). Keeps labels at or above `min_confidence` (0-100), at
    /// most `max_labels`, highest confidence first.
    pub fn label(&self, image: &RgbImage, min_confidence: f32, max_labels: usize) -> Result<Labels, VisionError> {
        self.label_timed(image, min_confidence, max_labels).map(|(labels, _)| labels)
    }

    /// [`Labeller::label`], and how long each model took.
    pub fn label_timed(
        &self,
        image: &RgbImage,
        min_confidence: f32,
        max_labels: usize,
    ) -> Result<(Labels, Timings), VisionError> {
        check_image(image)?;
        check_min_confidence(min_confidence)?;
        let (objects, others) = std::thread::scope(|s| {
            let others = s.spawn(|| self.classify(image, min_confidence));
            let started = Instant::now();
            let objects = self.detector.labels(image, usize::MAX, min_confidence);
            (objects.map(|o| (o, started.elapsed())), others.join())
        });
        let (others, classifier, custom) =
            others.map_err(|_| VisionError::Inference("classifier thread panicked".into()))??;
        let (mut all, detector) = objects?;
        all.extend(others);
        let labels = Labels {
            source: LOCAL_SOURCE.to_string(),
            model_version: self.models().iter().map(ModelId::to_string).collect::<Vec<_>>().join("+"),
            models: self.models(),
            labels: merge(all, min_confidence, max_labels),
        };
        Ok((labels, Timings { detector, classifier, custom }))
    }

    /// The classifier's (and the custom model's) labels, and the time each took.
    fn classify(
        &self,
        image: &RgbImage,
        min_confidence: f32,
    ) -> Result<(Vec<Label>, Duration, Option<Duration>), VisionError> {
        let started = Instant::now();
        let mut labels = classifier_labels(&self.classifier.probabilities(image)?, min_confidence);
        let classifier = started.elapsed();
        let mut custom_time = None;
        if let Some(custom) = &self.custom {
            let started = Instant::now();
            labels.extend(custom.label(image, min_confidence)?);
            custom_time = Some(started.elapsed());
        }
        Ok((labels, classifier, custom_time))
    }
}

/// The classifier's labels: confidence = 100 x the probability mass of the classes implying the
/// label (see [`imagenet::aggregate`]); no instances.
pub fn classifier_labels(probs: &[f32], min_confidence: f32) -> Vec<Label> {
    imagenet::aggregate(probs, min_confidence / 100.0)
        .into_iter()
        .map(|l| Label {
            name: l.name.to_string(),
            confidence: l.probability * 100.0,
            parents: l.parents.iter().map(|p| p.to_string()).collect(),
            aliases: Vec::new(),
            categories: l.categories.iter().map(|c| c.to_string()).collect(),
            instances: Vec::new(),
            sources: vec![CLASSIFIER_SOURCE.to_string()],
        })
        .collect()
}

pub use imgpipe_labels::merge;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BoundingBox, Instance};

    fn label(name: &str, confidence: f32, boxed: bool, source: &str, parents: &[&str]) -> Label {
        let bounding_box = BoundingBox { left: 0.1, top: 0.1, width: 0.5, height: 0.5 };
        Label {
            name: name.into(),
            confidence,
            parents: parents.iter().map(|p| p.to_string()).collect(),
            aliases: Vec::new(),
            categories: vec!["Animals and Pets".into()],
            instances: if boxed { vec![Instance { confidence, bounding_box }] } else { Vec::new() },
            sources: vec![source.into()],
        }
    }

    #[test]
    fn same_name_from_two_models_is_one_label_with_the_higher_confidence_and_the_boxes() {
        let merged = merge(
            vec![
                label("Cat", 80.0, true, "detector", &["Animal", "Pet"]),
                label("Cat", 91.0, false, "classifier", &["Animal", "Mammal"]),
                label("Animal", 80.0, false, "detector", &[]),
                label("Animal", 95.0, false, "classifier", &[]),
            ],
            55.0,
            10,
        );
        assert_eq!(merged.len(), 2);
        let cat = merged.iter().find(|l| l.name == "Cat").unwrap();
        assert_eq!(cat.confidence, 91.0);
        assert_eq!(cat.instances.len(), 1, "the detector's box is kept");
        assert_eq!(cat.parents, vec!["Animal", "Pet", "Mammal"]);
        assert_eq!(cat.sources, vec!["detector", "classifier"]);
        assert_eq!(merged[0].name, "Animal");
    }

    #[test]
    fn threshold_order_and_limit() {
        let merged = merge(
            vec![
                label("Low", 54.9, false, "classifier", &[]),
                label("Nan", f32::NAN, false, "classifier", &[]),
                label("Boxed", 70.0, true, "detector", &[]),
                label("Scene", 70.0, false, "classifier", &[]),
                label("Top", 99.0, false, "custom", &[]),
            ],
            55.0,
            2,
        );
        let names: Vec<_> = merged.iter().map(|l| l.name.as_str()).collect();
        // On a tie, the label with a box comes first.
        assert_eq!(names, vec!["Top", "Boxed"]);
        assert!(merge(vec![label("A", 90.0, false, "x", &[])], 0.0, 0).is_empty());
    }

    #[test]
    fn classifier_labels_use_the_zero_to_hundred_scale() {
        let mut probs = vec![0.0; imagenet::NUM_CLASSES];
        probs[978] = 0.6; // seashore
        probs[975] = 0.3; // lakeside
        let labels = classifier_labels(&probs, 55.0);
        let get = |n: &str| labels.iter().find(|l| l.name == n).map(|l| l.confidence);
        assert!((get("Beach").unwrap() - 60.0).abs() < 1e-3);
        assert!((get("Water").unwrap() - 90.0).abs() < 1e-3);
        assert!(get("Lake").is_none(), "30 is below 55");
        assert!(labels.iter().all(|l| l.instances.is_empty() && l.sources == vec!["classifier"]));
    }
}
