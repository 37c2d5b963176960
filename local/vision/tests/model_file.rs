//! Finding and checking the model file: clear errors, never a panic. Needs no model.

use std::path::{Path, PathBuf};

use vision::{Detector, VisionError};

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vision-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn missing_model_says_how_to_fetch_it() {
    let path = Path::new("/nonexistent/imgpipe/model.pb");
    let err = Detector::load(path).unwrap_err();
    assert!(matches!(err, VisionError::ModelNotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("scripts/fetch-model.sh"), "{message}");
    assert!(message.contains("/nonexistent/imgpipe/model.pb"), "{message}");
}

#[test]
fn garbage_model_is_rejected() {
    let dir = temp_dir("garbage");
    let path = dir.join("model.pb");
    std::fs::write(&path, b"this is not a tensorflow graph \x00\xff\x12").unwrap();
    let err = Detector::load(&path).unwrap_err();
    assert!(matches!(err, VisionError::ModelChecksum { .. }), "{err:?}");
    assert!(err.to_string().contains("scripts/fetch-model.sh"), "{err}");

    // An empty file and a directory are errors too.
    std::fs::write(&path, b"").unwrap();
    assert!(matches!(Detector::load(&path), Err(VisionError::ModelChecksum { .. })));
    assert!(matches!(Detector::load(&dir), Err(VisionError::ModelNotFound { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// One test owns the environment variables (tests of a binary share them).
#[test]
fn locate_prefers_flag_then_env_then_home() {
    let dir = temp_dir("locate");
    let flag = dir.join("flag.pb");
    let env = dir.join("env.pb");
    std::fs::write(&flag, b"x").unwrap();
    std::fs::write(&env, b"x").unwrap();
    let home = dir.join("home");
    let home_model = vision::default_model_path(&home);
    std::fs::create_dir_all(home_model.parent().unwrap()).unwrap();

    std::env::set_var("HOME", &home);
    std::env::set_var("IMGPIPE_MODEL", &env);
    assert_eq!(Detector::locate(Some(&flag)).unwrap(), flag);
    assert_eq!(Detector::locate(None).unwrap(), env);

    std::env::remove_var("IMGPIPE_MODEL");
    let err = Detector::locate(None).unwrap_err();
    assert!(matches!(&err, VisionError::ModelNotFound { path } if *path == home_model), "{err:?}");
    assert!(err.to_string().contains("scripts/fetch-model.sh"));
    std::fs::write(&home_model, b"x").unwrap();
    assert_eq!(Detector::locate(None).unwrap(), home_model);
    assert!(home_model.ends_with(".cache/imgpipe/models/ssd_mobilenet_v2_coco.pb"));

    // A flag naming a missing file is an error, not a fall-back.
    let missing = dir.join("missing.pb");
    assert!(matches!(Detector::locate(Some(&missing)), Err(VisionError::ModelNotFound { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_missing_classifier_file_is_named_before_anything_loads() {
    let dir = temp_dir("no-classifier");
    // Only the detector's file is there (its content does not matter: nothing is read).
    let detector = dir.join("ssd_mobilenet_v2_coco.pb");
    std::fs::write(&detector, b"x").unwrap();
    let mut paths = vision::ModelPaths::beside(&detector);
    let err = vision::Labeller::load(&paths).unwrap_err();
    assert!(
        matches!(&err, VisionError::ClassifierNotFound { path } if path.ends_with("efficientnet_lite3.onnx")),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(message.contains(&dir.display().to_string()) && message.contains("scripts/fetch-model.sh"), "{message}");

    std::fs::write(&paths.classifier, b"x").unwrap();
    let err = paths.check_present().unwrap_err();
    assert!(err.to_string().contains("efficientnet_labels.txt"), "{err}");
    std::fs::write(&paths.classifier_labels, b"x").unwrap();
    assert!(paths.check_present().is_ok());

    // A custom model's missing file is named too.
    paths.custom = Some(vision::CustomModel { model: dir.join("mine.onnx"), labels: dir.join("mine.txt") });
    let err = paths.check_present().unwrap_err();
    assert!(matches!(err, VisionError::CustomModel { .. }) && err.to_string().contains("mine.onnx"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
