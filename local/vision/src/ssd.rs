//! SSD post-processing done in Rust (the graph's own post-processor uses TensorArray loops and
//! NonMaxSuppression, which tract does not run): anchors, box decoding, per-class NMS.
//!
//! Everything follows the `ssd_mobilenet_v2_coco` pipeline config of the TF Object Detection API.

/// A box in normalised image coordinates (0..1), TF order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BoxCorners {
    pub ymin: f32,
    pub xmin: f32,
    pub ymax: f32,
    pub xmax: f32,
}

impl BoxCorners {
    fn area(&self) -> f32 {
        (self.ymax - self.ymin).max(0.0) * (self.xmax - self.xmin).max(0.0)
    }

    /// Intersection over union (0 when either box is empty).
    pub fn iou(&self, other: &BoxCorners) -> f32 {
        let h = (self.ymax.min(other.ymax) - self.ymin.max(other.ymin)).max(0.0);
        let w = (self.xmax.min(other.xmax) - self.xmin.max(other.xmin)).max(0.0);
        let inter = h * w;
        let union = self.area() + other.area() - inter;
        if union <= 0.0 {
            0.0
        } else {
            inter / union
        }
    }

    /// The box clipped to the unit square.
    pub fn clipped(&self) -> BoxCorners {
        BoxCorners {
            ymin: self.ymin.clamp(0.0, 1.0),
            xmin: self.xmin.clamp(0.0, 1.0),
            ymax: self.ymax.clamp(0.0, 1.0),
            xmax: self.xmax.clamp(0.0, 1.0),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.area() <= 0.0
    }
}

/// Feature map sizes of the six SSD heads for a 300x300 input.
pub const FEATURE_MAPS: [usize; 6] = [19, 10, 5, 3, 2, 1];
/// Number of anchors (and of rows in the heads' outputs).
pub const NUM_ANCHORS: usize = 1917;
/// Box coder scale factors (y, x, h, w).
const SCALE_FACTORS: [f32; 4] = [10.0, 10.0, 5.0, 5.0];

/// Anchors of `MultipleGridAnchorGenerator` (ssd_anchor_generator: 6 layers, min_scale 0.2,
/// max_scale 0.95, aspect ratios 1, 2, 0.5, 3, 0.3333, interpolated ratio 1,
/// reduce_boxes_in_lowest_layer), in the order of the heads' outputs: layer, row, column, anchor.
pub fn anchors() -> Vec<BoxCorners> {
    let (min_scale, max_scale) = (0.2f32, 0.95f32);
    let layers = FEATURE_MAPS.len();
    let mut scales: Vec<f32> =
        (0..layers).map(|i| min_scale + (max_scale - min_scale) * i as f32 / (layers - 1) as f32).collect();
    scales.push(1.0);

    let mut out = Vec::with_capacity(NUM_ANCHORS);
    for (layer, &size) in FEATURE_MAPS.iter().enumerate() {
        let scale = scales[layer];
        // (scale, aspect ratio) pairs for each grid cell.
        let specs: Vec<(f32, f32)> = if layer == 0 {
            vec![(0.1, 1.0), (scale, 2.0), (scale, 0.5)]
        } else {
            let mut s: Vec<(f32, f32)> = [1.0, 2.0, 0.5, 3.0, 0.3333].iter().map(|&ar| (scale, ar)).collect();
            s.push(((scale * scales[layer + 1]).sqrt(), 1.0));
            s
        };
        let stride = 1.0 / size as f32;
        for row in 0..size {
            let yc = row as f32 * stride + 0.5 * stride;
            for col in 0..size {
                let xc = col as f32 * stride + 0.5 * stride;
                for &(s, ar) in &specs {
                    let h = s / ar.sqrt();
                    let w = s * ar.sqrt();
                    out.push(BoxCorners {
                        ymin: yc - 0.5 * h,
                        xmin: xc - 0.5 * w,
                        ymax: yc + 0.5 * h,
                        xmax: xc + 0.5 * w,
                    });
                }
            }
        }
    }
    out
}

/// Decode one box encoding (ty, tx, th, tw) relative to its anchor (FasterRcnnBoxCoder).
pub fn decode(code: [f32; 4], anchor: &BoxCorners) -> BoxCorners {
    let ha = anchor.ymax - anchor.ymin;
    let wa = anchor.xmax - anchor.xmin;
    let yca = anchor.ymin + 0.5 * ha;
    let xca = anchor.xmin + 0.5 * wa;
    let ty = code[0] / SCALE_FACTORS[0];
    let tx = code[1] / SCALE_FACTORS[1];
    // Cap the exponent so that a wild encoding cannot produce infinities.
    let th = (code[2] / SCALE_FACTORS[2]).min(10.0);
    let tw = (code[3] / SCALE_FACTORS[3]).min(10.0);
    let h = th.exp() * ha;
    let w = tw.exp() * wa;
    let yc = ty * ha + yca;
    let xc = tx * wa + xca;
    BoxCorners { ymin: yc - 0.5 * h, xmin: xc - 0.5 * w, ymax: yc + 0.5 * h, xmax: xc + 0.5 * w }
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// One detection: a COCO class id (1..=90), a score (0..1) and a clipped box.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Detection {
    pub coco_id: usize,
    pub score: f32,
    pub bbox: BoxCorners,
}

/// Post-processing settings (BatchMultiClassNonMaxSuppression of the pipeline config).
#[derive(Debug, Clone, Copy)]
pub struct NmsConfig {
    pub score_threshold: f32,
    pub iou_threshold: f32,
    pub max_per_class: usize,
    pub max_total: usize,
}

impl Default for NmsConfig {
    fn default() -> Self {
        NmsConfig { score_threshold: 0.01, iou_threshold: 0.6, max_per_class: 100, max_total: 100 }
    }
}

/// Turn the raw heads into detections.
///
/// `encodings` is `[anchors x 4]` (flattened), `logits` is `[anchors x classes]` with class 0
/// the background; `anchors` must have as many rows as both.
pub fn detections(
    encodings: &[f32],
    logits: &[f32],
    num_classes: usize,
    anchors: &[BoxCorners],
    config: &NmsConfig,
) -> Vec<Detection> {
    let n = anchors.len();
    if num_classes < 2 || encodings.len() != n * 4 || logits.len() != n * num_classes {
        return Vec::new();
    }
    // Boxes are decoded lazily: only anchors scoring above the threshold for some class.
    let mut boxes: Vec<Option<BoxCorners>> = vec![None; n];
    let mut all = Vec::new();
    for class in 1..num_classes {
        let mut candidates: Vec<(usize, f32)> = (0..n)
            .map(|a| (a, sigmoid(logits[a * num_classes + class])))
            .filter(|&(_, s)| s >= config.score_threshold)
            .collect();
        if candidates.is_empty() {
            continue;
        }
        candidates.sort_by(|a, b| b.1.total_cmp(&a.1));
        let mut kept: Vec<Detection> = Vec::new();
        for (a, score) in candidates {
            if kept.len() >= config.max_per_class {
                break;
            }
            let bbox = *boxes[a].get_or_insert_with(|| {
                let e = &encodings[a * 4..a * 4 + 4];
                decode([e[0], e[1], e[2], e[3]], &anchors[a]).clipped()
            });
            if bbox.is_empty() || kept.iter().any(|k| k.bbox.iou(&bbox) > config.iou_threshold) {
                continue;
            }
            kept.push(Detection { coco_id: class, score, bbox });
        }
        all.extend(kept);
    }
    all.sort_by(|a, b| b.score.total_cmp(&a.score));
    all.truncate(config.max_total);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f32, b: f32) -> bool {
        (a - b).abs() < 1e-5
    }

    #[test]
    fn anchor_count_and_known_values() {
        let a = anchors();
        assert_eq!(a.len(), NUM_ANCHORS);
        // Values computed by the graph's own MultipleGridAnchorGenerator (TensorFlow).
        let first = a[0];
        assert!(close(first.ymin, -0.02368421) && close(first.xmax, 0.07631579), "{first:?}");
        let second = a[1];
        assert!(close(second.ymin, -0.04439489) && close(second.xmin, -0.11510557), "{second:?}");
        let layer1 = a[1083];
        assert!(close(layer1.ymin, -0.125) && close(layer1.ymax, 0.225), "{layer1:?}");
        let layer1b = a[1084];
        assert!(close(layer1b.ymin, -0.07374369) && close(layer1b.xmax, 0.29748738), "{layer1b:?}");
        // The last anchor is centred on the image.
        let last = a[NUM_ANCHORS - 1];
        assert!(close((last.ymin + last.ymax) / 2.0, 0.5));
    }

    #[test]
    fn zero_code_decodes_to_its_anchor() {
        let anchor = BoxCorners { ymin: 0.1, xmin: 0.2, ymax: 0.5, xmax: 0.6 };
        let b = decode([0.0; 4], &anchor);
        assert!(close(b.ymin, 0.1) && close(b.xmin, 0.2) && close(b.ymax, 0.5) && close(b.xmax, 0.6));
        // ty = 10 shifts the centre by one anchor height; tw = 5*ln 2 doubles the width.
        let b = decode([10.0, 0.0, 0.0, 5.0 * 2f32.ln()], &anchor);
        assert!(close(b.ymin, 0.5) && close(b.ymax, 0.9), "{b:?}");
        assert!(close(b.xmax - b.xmin, 0.8), "{b:?}");
        // Absurd encodings stay finite.
        let b = decode([0.0, 0.0, 1e9, 1e9], &anchor);
        assert!(b.ymax.is_finite() && b.xmax.is_finite());
    }

    #[test]
    fn nms_keeps_the_best_of_overlapping_boxes_per_class() {
        let anchors = vec![
            BoxCorners { ymin: 0.1, xmin: 0.1, ymax: 0.5, xmax: 0.5 },
            BoxCorners { ymin: 0.11, xmin: 0.1, ymax: 0.51, xmax: 0.5 },
            BoxCorners { ymin: 0.6, xmin: 0.6, ymax: 0.9, xmax: 0.9 },
        ];
        let encodings = vec![0.0; 12];
        let classes = 3; // background, class 1, class 2
        let logits = vec![
            0.0, 2.0, -9.0, // anchor 0: class 1 strong
            0.0, 3.0, 1.0, // anchor 1: class 1 stronger (overlaps anchor 0), class 2 weak
            0.0, 1.0, -9.0, // anchor 2: class 1, separate place
        ];
        let d = detections(&encodings, &logits, classes, &anchors, &NmsConfig::default());
        let class1: Vec<_> = d.iter().filter(|d| d.coco_id == 1).collect();
        assert_eq!(class1.len(), 2, "{d:?}");
        assert!(close(class1[0].score, sigmoid(3.0)) && close(class1[0].bbox.ymin, 0.11));
        assert!(close(class1[1].score, sigmoid(1.0)));
        // Class 2 on anchor 1 is not suppressed by class 1's boxes.
        assert!(d.iter().any(|d| d.coco_id == 2 && close(d.score, sigmoid(1.0))));
        // Sorted by score.
        assert!(d.windows(2).all(|w| w[0].score >= w[1].score));
    }

    #[test]
    fn mismatched_shapes_give_nothing() {
        let anchors = anchors();
        assert!(detections(&[0.0; 8], &[0.0; 6], 3, &anchors, &NmsConfig::default()).is_empty());
    }
}
