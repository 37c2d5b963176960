//! The detector on real photos (scikit-image's bundled data) with the real model.
//!
//! Setup (the README's test command does both):
//!   scripts/fetch-model.sh                 # model -> ~/.cache/imgpipe/models (or set IMGPIPE_MODEL)
//!   export IMGPIPE_TEST_PHOTOS=$(tests/fixtures/photos.sh | tail -n1)

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Instant;

use image::{Rgb, RgbImage};
use vision::{Detector, Labels, VisionError};

fn detector() -> &'static Detector {
    static DETECTOR: OnceLock<Detector> = OnceLock::new();
    DETECTOR.get_or_init(|| {
        let path = Detector::locate(None).unwrap_or_else(|e| {
            panic!("{e}\nsetup: run scripts/fetch-model.sh (or set IMGPIPE_MODEL to the model file)")
        });
        let start = Instant::now();
        let detector = Detector::load(&path).unwrap_or_else(|e| panic!("{e}"));
        eprintln!("model loaded in {} ms", start.elapsed().as_millis());
        detector
    })
}

fn photo(name: &str) -> RgbImage {
    let dir = std::env::var_os("IMGPIPE_TEST_PHOTOS").map(PathBuf::from).unwrap_or_else(|| {
        panic!(
            "IMGPIPE_TEST_PHOTOS is not set: run `export IMGPIPE_TEST_PHOTOS=$(tests/fixtures/photos.sh | tail -n1)`"
        )
    });
    let path = dir.join(name);
    image::open(&path)
        .unwrap_or_else(|e| {
            panic!("cannot open {}: {e}; run tests/fixtures/photos.sh {}", path.display(), dir.display())
        })
        .to_rgb8()
}

fn detect_timed(image: &RgbImage, max_labels: usize, min_confidence: f32) -> Labels {
    let detector = detector();
    let start = Instant::now();
    let labels = detector.detect(image, max_labels, min_confidence).unwrap();
    eprintln!(
        "detect {}x{}: {} ms -> {:?}",
        image.width(),
        image.height(),
        start.elapsed().as_millis(),
        labels.labels.iter().map(|l| format!("{} {:.1}", l.name, l.confidence)).collect::<Vec<_>>()
    );
    labels
}

fn names(labels: &Labels) -> Vec<&str> {
    labels.labels.iter().map(|l| l.name.as_str()).collect()
}

#[test]
fn chelsea_is_a_cat_in_the_middle() {
    let labels = detect_timed(&photo("chelsea.png"), 20, 50.0);
    assert_eq!(labels.source, "local:ssd_mobilenet_v2_coco");
    assert_eq!(labels.model_version, detector().model_version());
    let cat = labels.get("Cat").unwrap_or_else(|| panic!("no Cat in {:?}", names(&labels)));
    assert!(cat.confidence >= 70.0, "cat confidence {}", cat.confidence);
    assert!(cat.parents.iter().any(|p| p == "Animal"), "{:?}", cat.parents);
    assert_eq!(cat.categories, vec!["Animals and Pets"]);
    let best = &cat.instances[0];
    assert_eq!(best.confidence, cat.confidence);
    let b = best.bounding_box;
    assert!(b.contains(0.5, 0.5), "cat box {b:?} misses the centre");
    assert!(b.width > 0.4 && b.height > 0.4, "cat box {b:?} is too small for this close-up");
    assert!(b.left >= 0.0 && b.top >= 0.0 && b.left + b.width <= 1.0 && b.top + b.height <= 1.0);

    // The parents are labels too, without instances, with the cat's confidence.
    let animal = labels.get("Animal").unwrap_or_else(|| panic!("no Animal in {:?}", names(&labels)));
    assert!(animal.instances.is_empty());
    assert_eq!(animal.confidence, cat.confidence);
    assert!(labels.get("Dog").is_none(), "{:?}", names(&labels));
}

#[test]
fn coffee_is_a_cup() {
    let labels = detect_timed(&photo("coffee.png"), 20, 50.0);
    let cup = labels.get("Cup").unwrap_or_else(|| panic!("no Cup in {:?}", names(&labels)));
    assert!(cup.confidence >= 70.0, "cup confidence {}", cup.confidence);
    assert_eq!(cup.categories, vec!["Food and Beverage"]);
    assert!(!cup.instances.is_empty());
}

#[test]
fn astronaut_is_a_person() {
    let labels = detect_timed(&photo("astronaut.png"), 20, 50.0);
    let person = labels.get("Person").unwrap_or_else(|| panic!("no Person in {:?}", names(&labels)));
    assert!(person.confidence >= 60.0, "person confidence {}", person.confidence);
    assert!(person.parents.is_empty());
    assert_eq!(person.categories, vec!["Person Description"]);
    assert!(labels.get("Cat").is_none() && labels.get("Dog").is_none(), "{:?}", names(&labels));
}

#[test]
fn uniform_images_have_no_confident_label() {
    for colour in [[0, 0, 0], [255, 255, 255], [128, 128, 128], [40, 90, 200]] {
        let blank = RgbImage::from_pixel(640, 480, Rgb(colour));
        let labels = detect_timed(&blank, 50, 50.0);
        assert!(labels.labels.is_empty(), "{colour:?} gave {:?}", names(&labels));
    }
}

#[test]
fn min_confidence_and_max_labels_are_honoured() {
    let image = photo("coffee.png");
    let all = detect_timed(&image, 1000, 0.0);
    assert!(all.labels.len() > 3, "a low threshold should give many labels: {:?}", names(&all));
    assert!(all.labels.windows(2).all(|w| w[0].confidence >= w[1].confidence));

    let strict = detect_timed(&image, 1000, 60.0);
    assert!(strict.labels.iter().all(|l| l.confidence >= 60.0));
    assert!(strict.labels.iter().flat_map(|l| &l.instances).all(|i| i.confidence >= 60.0));
    assert!(strict.labels.len() < all.labels.len());
    // Every confident label is also among the permissive ones, with the same confidence.
    for label in &strict.labels {
        let same = all.get(&label.name).unwrap();
        assert!((same.confidence - label.confidence).abs() < 1e-3, "{}", label.name);
    }

    let top2 = detect_timed(&image, 2, 0.0);
    assert_eq!(names(&top2), names(&all)[..2].to_vec());
    assert!(detect_timed(&image, 0, 0.0).labels.is_empty());
}

#[test]
fn parallel_runs_agree_with_a_serial_one() {
    let image = photo("chelsea.png");
    let serial = detect_timed(&image, 10, 30.0);
    let results: Vec<Labels> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..3).map(|_| s.spawn(|| detect_timed(&image, 10, 30.0))).collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for r in results {
        assert_eq!(r, serial);
    }
}

#[test]
fn bad_arguments_are_errors() {
    let image = RgbImage::from_pixel(10, 10, Rgb([1, 2, 3]));
    for bad in [-1.0, 100.5, f32::NAN] {
        assert!(matches!(detector().detect(&image, 10, bad), Err(VisionError::InvalidArgument(_))));
    }
    let empty = RgbImage::new(0, 0);
    assert!(matches!(detector().detect(&empty, 10, 50.0), Err(VisionError::InvalidImage(_))));
    // Extreme aspect ratios still work.
    let strip = RgbImage::from_pixel(1, 2000, Rgb([200, 10, 10]));
    assert!(detector().detect(&strip, 10, 50.0).is_ok());
}
