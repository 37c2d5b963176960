//! Labels in Amazon Rekognition DetectLabels' shape, shared by the pipeline (AWS and local) and
//! the local models, and [`merge`]: the one rule that makes one answer of several models'.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One label with its confidence (0-100), hierarchy and instances.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    pub name: String,
    pub confidence: f32,
    #[serde(default)]
    pub parents: Vec<String>,
    #[serde(default)]
    pub aliases: Vec<String>,
    #[serde(default)]
    pub categories: Vec<String>,
    #[serde(default)]
    pub instances: Vec<Instance>,
    /// Which kind of model gave the label: `rekognition`, `custom-labels` (AWS), `detector`,
    /// `classifier`, `custom` (local); several when models agree.
    #[serde(default)]
    pub sources: Vec<String>,
}

/// One located instance of a label.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    pub confidence: f32,
    pub bounding_box: BoundingBox,
}

/// A box as ratios (0-1) of the oriented image.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct BoundingBox {
    pub left: f32,
    pub top: f32,
    pub width: f32,
    pub height: f32,
}

impl BoundingBox {
    /// Whether the point (x, y), in ratios of the image, lies inside the box.
    pub fn contains(&self, x: f32, y: f32) -> bool {
        x >= self.left && x <= self.left + self.width && y >= self.top && y <= self.top + self.height
    }
}

/// Merges labels from one or several models: one label per name (names match exactly), with the
/// highest confidence any model gave it, every model's instances (highest confidence first), and
/// the union of parents, aliases, categories and sources, in first-seen order. Then keeps those
/// with a finite confidence of at least `min_confidence` (capped at 100), sorts them by
/// confidence, labels with boxes first, then by name, and keeps the first `max_labels`.
pub fn merge(labels: Vec<Label>, min_confidence: f32, max_labels: usize) -> Vec<Label> {
    let mut by_name: BTreeMap<String, Label> = BTreeMap::new();
    for mut label in labels {
        if !label.confidence.is_finite() {
            continue;
        }
        label.confidence = label.confidence.min(100.0);
        match by_name.get_mut(&label.name) {
            None => {
                by_name.insert(label.name.clone(), label);
            }
            Some(kept) => {
                kept.confidence = kept.confidence.max(label.confidence);
                kept.instances.extend(label.instances);
                for (into, from) in [
                    (&mut kept.parents, label.parents),
                    (&mut kept.aliases, label.aliases),
                    (&mut kept.categories, label.categories),
                    (&mut kept.sources, label.sources),
                ] {
                    for item in from {
                        if !into.contains(&item) {
                            into.push(item);
                        }
                    }
                }
            }
        }
    }
    let mut merged: Vec<Label> = by_name.into_values().filter(|l| l.confidence >= min_confidence).collect();
    for label in &mut merged {
        label.instances.sort_by(|a, b| b.confidence.total_cmp(&a.confidence));
    }
    merged.sort_by(|a, b| {
        b.confidence
            .total_cmp(&a.confidence)
            .then_with(|| a.instances.is_empty().cmp(&b.instances.is_empty()))
            .then_with(|| a.name.cmp(&b.name))
    });
    merged.truncate(max_labels);
    merged
}
