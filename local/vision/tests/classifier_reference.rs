//! The classifier through tract (converted ONNX) against the reference TFLite interpreter's
//! answers on real photos (tests/vision-reference/run.sh writes them, with the exact inputs).

mod common;

use std::path::Path;

use vision::{Classifier, ModelPaths};

#[derive(serde::Deserialize)]
struct Reference {
    photos: Vec<Answer>,
}

#[derive(serde::Deserialize)]
struct Answer {
    photo: String,
    input: String,
    top5: Vec<(usize, f32)>,
}

/// Probabilities may differ by this much: the reference runs int8 activations (output steps of
/// 1/256), tract runs the same weights in float.
const TOLERANCE: f32 = 0.08;

#[test]
fn top5_classes_and_probabilities_match_the_reference_interpreter() {
    let dir = common::reference_dir();
    let text = std::fs::read_to_string(dir.join("reference.json")).expect("reference.json");
    let reference: Reference = serde_json::from_str(&text).expect("reference.json parses");
    assert!(reference.photos.len() >= 18, "expected the skimage and mate photos, got {}", reference.photos.len());
    let paths = ModelPaths::beside(&common::detector_path());
    let classifier = Classifier::load(&paths.classifier, &paths.classifier_labels).unwrap_or_else(|e| panic!("{e}"));
    let mut top1_agree = 0;
    for answer in &reference.photos {
        let pixels = std::fs::read(dir.join(&answer.input)).expect("input bytes");
        let probs = classifier.probabilities_of_input(&pixels).unwrap();
        let sum: f32 = probs.iter().sum();
        assert!((sum - 1.0).abs() < 1e-3, "{}: probabilities sum to {sum}", answer.photo);
        let mut ours: Vec<(usize, f32)> = probs.iter().copied().enumerate().collect();
        ours.sort_by(|a, b| b.1.total_cmp(&a.1));
        eprintln!("{}: reference {:?}\n   tract {:?}", answer.photo, answer.top5, &ours[..5]);
        for &(class, p) in &answer.top5 {
            assert!(
                (probs[class] - p).abs() <= TOLERANCE,
                "{}: class {class} has {} here, {p} in the reference",
                answer.photo,
                probs[class]
            );
        }
        // Every clear reference class (>= 10%) is in our top 5.
        for &(class, p) in answer.top5.iter().filter(|(_, p)| *p >= 0.10) {
            assert!(
                ours[..5].iter().any(|&(c, _)| c == class),
                "{}: class {class} ({p}) not in our top 5",
                answer.photo
            );
        }
        if ours[0].0 == answer.top5[0].0 {
            top1_agree += 1;
        }
    }
    // Top-1 may only differ where the reference's own top two are within the tolerance.
    assert!(
        top1_agree * 10 >= reference.photos.len() * 9,
        "top-1 agreed on {top1_agree} of {}",
        reference.photos.len()
    );
}

#[test]
fn classifier_files_are_checked() {
    let paths = ModelPaths::beside(&common::detector_path());
    // The labels file in place of the model: wrong checksum, clear error.
    let err = Classifier::load(&paths.classifier_labels, &paths.classifier_labels).unwrap_err();
    assert!(err.to_string().contains("efficientnet_lite3.onnx") && err.to_string().contains("fetch-model.sh"), "{err}");
    let err = Classifier::load(Path::new("/nonexistent/x.onnx"), &paths.classifier_labels).unwrap_err();
    assert!(matches!(err, vision::VisionError::ClassifierNotFound { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/x.onnx") && err.to_string().contains("fetch-model.sh"), "{err}");
}
