//! Rekognition DetectLabels-shaped results, built from detections.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::coco;
use crate::ssd::Detection;

/// Labels found in one image (the shape of Rekognition's DetectLabels answer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Labels {
    /// Who produced the labels, e.g. "local:ssd_mobilenet_v2_coco".
    pub source: String,
    pub model_version: String,
    /// Every model that labelled the image, e.g. `ssd_mobilenet_v2_coco@2a8d8a89d695`.
    #[serde(default)]
    pub models: Vec<crate::ModelId>,
    /// Sorted by confidence, highest first.
    pub labels: Vec<Label>,
}

pub use imgpipe_labels::{BoundingBox, Instance, Label};

impl Labels {
    /// The label with this name, if present.
    pub fn get(&self, name: &str) -> Option<&Label> {
        self.labels.iter().find(|l| l.name == name)
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Group detections into labels (with their parents), keep those at or above `min_confidence`
/// (0-100), sort by confidence (then name) and keep the first `max_labels`.
pub fn build_labels(detections: &[Detection], max_labels: usize, min_confidence: f32) -> Vec<Label> {
    let mut by_name: BTreeMap<String, Label> = BTreeMap::new();
    for det in detections {
        let confidence = det.score * 100.0;
        if confidence < min_confidence {
            continue;
        }
        let Some(class) = coco::by_coco_id(det.coco_id) else { continue };
        let label = by_name.entry(class.name.to_string()).or_insert_with(|| Label {
            name: class.name.to_string(),
            confidence: 0.0,
            parents: strings(class.parents),
            aliases: strings(class.aliases),
            categories: strings(class.categories),
            instances: Vec::new(),
            sources: vec![crate::DETECTOR_SOURCE.to_string()],
        });
        label.confidence = label.confidence.max(confidence);
        let b = det.bbox;
        label.instances.push(Instance {
            confidence,
            bounding_box: BoundingBox { left: b.xmin, top: b.ymin, width: b.xmax - b.xmin, height: b.ymax - b.ymin },
        });
    }

    // Parents become labels of their own, without instances, with the best of their children.
    let children: Vec<Label> = by_name.values().cloned().collect();
    for child in &children {
        for parent in &child.parents {
            let label = by_name.entry(parent.clone()).or_insert_with(|| Label {
                name: parent.clone(),
                confidence: 0.0,
                parents: Vec::new(),
                aliases: Vec::new(),
                categories: Vec::new(),
                instances: Vec::new(),
                sources: vec![crate::DETECTOR_SOURCE.to_string()],
            });
            label.confidence = label.confidence.max(child.confidence);
            if label.instances.is_empty() {
                for category in &child.categories {
                    if !label.categories.contains(category) {
                        label.categories.push(category.clone());
                    }
                }
            }
        }
    }

    let mut labels: Vec<Label> = by_name.into_values().collect();
    for label in &mut labels {
        label.instances.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    }
    // Highest confidence first; on a tie, a detected label before its parents, then by name.
    labels.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.instances.is_empty().cmp(&b.instances.is_empty()))
            .then_with(|| a.name.cmp(&b.name))
    });
    labels.truncate(max_labels);
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ssd::BoxCorners;

    fn det(coco_id: usize, score: f32) -> Detection {
        Detection { coco_id, score, bbox: BoxCorners { ymin: 0.1, xmin: 0.2, ymax: 0.5, xmax: 0.9 } }
    }

    #[test]
    fn dog_brings_its_parents() {
        let labels = build_labels(&[det(18, 0.9), det(18, 0.7), det(17, 0.6)], 100, 50.0);
        let dog = labels.iter().find(|l| l.name == "Dog").unwrap();
        assert_eq!(dog.instances.len(), 2);
        assert!((dog.confidence - 90.0).abs() < 1e-4);
        assert!((dog.instances[0].bounding_box.width - 0.7).abs() < 1e-6);
        assert_eq!(dog.categories, vec!["Animals and Pets"]);
        for parent in ["Animal", "Canine", "Mammal", "Pet"] {
            let p = labels.iter().find(|l| l.name == parent).unwrap();
            assert!(p.instances.is_empty());
            // Animal is the parent of both the dog (90) and the cat (60): it takes the max.
            assert!((p.confidence - 90.0).abs() < 1e-4, "{parent}");
        }
        assert!(labels.windows(2).all(|w| w[0].confidence >= w[1].confidence));
        // No duplicate names.
        let mut names: Vec<_> = labels.iter().map(|l| &l.name).collect();
        names.dedup();
        assert_eq!(names.len(), labels.len());
    }

    #[test]
    fn min_confidence_and_max_labels() {
        let dets = [det(1, 0.95), det(47, 0.8), det(3, 0.4)];
        let labels = build_labels(&dets, 100, 50.0);
        assert!(labels.iter().all(|l| l.confidence >= 50.0));
        assert!(labels.iter().all(|l| l.name != "Car" && l.name != "Vehicle"));
        let labels = build_labels(&dets, 1, 0.0);
        assert_eq!(labels.len(), 1);
        assert_eq!(labels[0].name, "Person");
        assert!(build_labels(&dets, 0, 0.0).is_empty());
    }

    #[test]
    fn serializes_in_camel_case() {
        let labels = Labels {
            source: "local:x".into(),
            model_version: "v".into(),
            models: Vec::new(),
            labels: build_labels(&[det(17, 0.9)], 10, 0.0),
        };
        let json = serde_json::to_value(&labels).unwrap();
        assert_eq!(json["modelVersion"], "v");
        // The cat comes before its parents (same confidence).
        assert_eq!(json["labels"][0]["name"], "Cat");
        assert!(json["labels"][0]["instances"][0]["boundingBox"]["left"].is_number());
        assert!(json["labels"][1]["instances"].as_array().unwrap().is_empty());
    }
}
