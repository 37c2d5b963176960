//! The user's own ONNX model: real ONNX files made by tests/vision-reference/make_custom_models.py
//! whose answers are known, and models that break the contract.

mod common;

use image::{Rgb, RgbImage};
use vision::{CustomKind, CustomLabeller, CustomModel, VisionError};

fn custom(model: &str, labels: &str) -> CustomModel {
    let dir = common::reference_dir().join("custom");
    CustomModel { model: dir.join(model), labels: dir.join(labels) }
}

fn error_of(model: &str, labels: &str) -> String {
    let err = CustomLabeller::load(&custom(model, labels)).unwrap_err();
    assert!(matches!(err, VisionError::CustomModel { .. }), "{err:?}");
    err.to_string()
}

#[test]
fn colour_classifier_answers_the_mean_colour() {
    let model = CustomLabeller::load(&custom("colour_classifier.onnx", "colour_labels.txt")).unwrap();
    assert_eq!(model.kind(), CustomKind::Classifier);
    assert_eq!(model.labels(), ["red", "green", "blue"]);
    assert!(model.id().name == "custom:colour_classifier.onnx" && model.id().version.len() == 12, "{}", model.id());
    for (colour, name) in [([250, 10, 10], "red"), ([5, 240, 5], "green"), ([0, 0, 255], "blue")] {
        let image = RgbImage::from_pixel(100, 60, Rgb(colour));
        let labels = model.label(&image, 55.0).unwrap();
        assert_eq!(labels.len(), 1, "{labels:?}");
        assert_eq!(labels[0].name, name);
        assert!(labels[0].confidence > 99.0, "{labels:?}");
        assert_eq!(labels[0].sources, vec!["custom"]);
        assert!(labels[0].instances.is_empty());
    }
    // Grey: a three-way tie, a third each; none at 55.
    let grey = model.label(&RgbImage::from_pixel(8, 8, Rgb([128, 128, 128])), 0.0).unwrap();
    assert!(grey.iter().all(|l| (l.confidence - 100.0 / 3.0).abs() < 0.1), "{grey:?}");
    assert!(model.label(&RgbImage::from_pixel(8, 8, Rgb([128, 128, 128])), 55.0).unwrap().is_empty());
    assert!(matches!(model.label(&RgbImage::new(0, 0), 55.0), Err(VisionError::InvalidImage(_))));
}

#[test]
fn detector_answers_a_box_as_confident_as_the_picture_is_red() {
    let model = CustomLabeller::load(&custom("red_detector.onnx", "red_labels.txt")).unwrap();
    assert_eq!(model.kind(), CustomKind::Detector);
    // Left half red, right half black: mean red 0.5 -> 50%.
    let half = RgbImage::from_fn(64, 64, |x, _| if x < 32 { Rgb([255, 0, 0]) } else { Rgb([0, 0, 0]) });
    let labels = model.label(&half, 0.0).unwrap();
    assert_eq!(labels.len(), 1);
    assert_eq!(labels[0].name, "Red Thing");
    assert!((labels[0].confidence - 50.0).abs() < 1.0, "{labels:?}");
    let b = labels[0].instances[0].bounding_box;
    assert!((b.left - 0.25).abs() < 1e-6 && (b.top - 0.25).abs() < 1e-6 && (b.width - 0.5).abs() < 1e-6, "{b:?}");
    assert!(model.label(&half, 55.0).unwrap().is_empty());
    let red = model.label(&RgbImage::from_pixel(10, 10, Rgb([255, 0, 0])), 55.0).unwrap();
    assert!(red[0].confidence > 99.0);
}

#[test]
fn models_that_do_not_fit_the_contract_get_clear_errors() {
    assert!(error_of("dynamic_input.onnx", "colour_labels.txt").contains("not fixed"));
    assert!(error_of("two_outputs.onnx", "red_labels.txt").contains("2 outputs"));
    assert!(error_of("logits_classifier.onnx", "colour_labels.txt").contains("Softmax"));
    // Three scores but one label.
    assert!(error_of("colour_classifier.onnx", "red_labels.txt").contains("one score per label"));
    // Not a model at all, and a model given as the labels file.
    let msg = error_of("colour_labels.txt", "colour_labels.txt");
    assert!(msg.contains("ONNX"), "{msg}");
    assert!(error_of("colour_classifier.onnx", "colour_classifier.onnx").contains("UTF-8"));
}

#[test]
fn labels_files_are_checked() {
    let path = std::path::Path::new("labels.txt");
    assert_eq!(vision::parse_labels(path, b"a\n\n  b  \r\nc").unwrap(), ["a", "b", "c"]);
    for bad in [&b""[..], b"\n \n", b"\xff\xfe", b"ok\nbad\x07bell"] {
        assert!(vision::parse_labels(path, bad).is_err(), "{bad:?}");
    }
    let long = "x".repeat(101);
    assert!(vision::parse_labels(path, long.as_bytes()).is_err());
    let many = "x\n".repeat(10_001);
    assert!(vision::parse_labels(path, many.as_bytes()).is_err());
    let missing = CustomModel { model: "/nonexistent/m.onnx".into(), labels: "/nonexistent/l.txt".into() };
    let err = CustomLabeller::load(&missing).unwrap_err();
    assert!(matches!(err, VisionError::CustomModel { .. }), "{err:?}");
    assert!(err.to_string().contains("/nonexistent/l.txt"), "{err}");
}
