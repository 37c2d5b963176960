//! The classifier's 1000 ImageNet classes mapped to Rekognition-style labels, from the table
//! `imagenet_labels.tsv` (compiled in; documented in docs/labels.md).
//!
//! A label's probability is the probability mass of every class that implies it: "Cat" sums
//! tabby, tiger cat, Persian, Siamese and Egyptian cat; "Nature" sums every class listing it.

use std::collections::BTreeMap;
use std::sync::OnceLock;

/// The table: `index<TAB>ImageNet name<TAB>label ('-' = skipped)<TAB>parents (;)<TAB>categories (;)`.
pub const TABLE: &str = include_str!("imagenet_labels.tsv");
/// Number of ImageNet classes the classifier scores.
pub const NUM_CLASSES: usize = 1000;

/// One ImageNet class and the label it stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassEntry {
    /// ImageNet's first name for the class, e.g. "seashore".
    pub imagenet: &'static str,
    /// The Rekognition-style label, or `None` when the class is deliberately skipped.
    pub label: Option<&'static str>,
    /// Every ancestor label, e.g. Nature, Outdoors, Water for "Beach".
    pub parents: Vec<&'static str>,
    pub categories: Vec<&'static str>,
}

fn list(field: &'static str) -> Vec<&'static str> {
    field.split(';').map(str::trim).filter(|s| !s.is_empty()).collect()
}

/// Parse a table; `Err` names the first bad line. Rows must be numbered 0, 1, 2... in order.
pub fn parse(table: &'static str) -> Result<Vec<ClassEntry>, String> {
    let mut entries = Vec::new();
    for (number, line) in table.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&'static str> = line.split('\t').collect();
        let [index, imagenet, label, parents, categories] = fields[..] else {
            return Err(format!("line {}: expected 5 tab-separated fields, got {}", number + 1, fields.len()));
        };
        if index.parse::<usize>().ok() != Some(entries.len()) {
            return Err(format!("line {}: index {index:?}, expected {}", number + 1, entries.len()));
        }
        let label = match label.trim() {
            "" => return Err(format!("line {}: empty label (use '-' to skip a class)", number + 1)),
            "-" => None,
            name => Some(name),
        };
        entries.push(ClassEntry { imagenet, label, parents: list(parents), categories: list(categories) });
    }
    Ok(entries)
}

/// The compiled-in table, parsed once.
pub fn classes() -> &'static [ClassEntry] {
    static CLASSES: OnceLock<Vec<ClassEntry>> = OnceLock::new();
    // The table is part of the crate and checked by the tests; a bad edit cannot ship.
    CLASSES.get_or_init(|| parse(TABLE).unwrap_or_default())
}

/// A label from the classifier: its probability (0..1), parents and categories.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredLabel {
    pub name: &'static str,
    pub probability: f32,
    /// Parents, when the label is a class's own label (not only someone's parent).
    pub parents: Vec<&'static str>,
    pub categories: Vec<&'static str>,
}

/// Turn class probabilities into labels: each label's probability is the sum over the classes
/// that name it or list it as a parent (capped at 1). Labels below `min_probability` are dropped.
pub fn aggregate(probs: &[f32], min_probability: f32) -> Vec<ScoredLabel> {
    let mut by_name: BTreeMap<&'static str, ScoredLabel> = BTreeMap::new();
    for (entry, &p) in classes().iter().zip(probs) {
        let Some(name) = entry.label else { continue };
        if p.is_nan() || p <= 0.0 {
            continue;
        }
        let own = by_name.entry(name).or_insert_with(|| ScoredLabel {
            name,
            probability: 0.0,
            parents: Vec::new(),
            categories: Vec::new(),
        });
        own.probability += p;
        merge_names(&mut own.parents, &entry.parents);
        merge_names(&mut own.categories, &entry.categories);
        for &parent in &entry.parents {
            let label = by_name.entry(parent).or_insert_with(|| ScoredLabel {
                name: parent,
                probability: 0.0,
                parents: Vec::new(),
                categories: Vec::new(),
            });
            label.probability += p;
            merge_names(&mut label.categories, &entry.categories);
        }
    }
    let mut labels: Vec<ScoredLabel> = by_name
        .into_values()
        .map(|mut l| {
            l.probability = l.probability.min(1.0);
            l
        })
        .filter(|l| l.probability >= min_probability)
        .collect();
    labels.sort_by(|a, b| b.probability.total_cmp(&a.probability).then_with(|| a.name.cmp(b.name)));
    labels
}

fn merge_names(into: &mut Vec<&'static str>, from: &[&'static str]) {
    for name in from {
        if !into.contains(name) {
            into.push(name);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_class_is_mapped_or_explicitly_skipped() {
        let entries = parse(TABLE).unwrap();
        assert_eq!(entries.len(), NUM_CLASSES);
        for (ix, e) in entries.iter().enumerate() {
            assert!(!e.imagenet.is_empty(), "class {ix} has no ImageNet name");
            if let Some(label) = e.label {
                assert!(!label.is_empty() && label.len() <= 100, "class {ix}: label {label:?}");
                assert!(!e.categories.is_empty(), "class {ix} ({label}) has no category");
                assert!(!e.parents.contains(&label), "class {ix} ({label}) is its own parent");
                let unique: HashSet<_> = e.parents.iter().collect();
                assert_eq!(unique.len(), e.parents.len(), "class {ix} repeats a parent");
            }
        }
        assert_eq!(classes().len(), NUM_CLASSES);
    }

    #[test]
    fn table_names_match_the_model_labels_file_order() {
        // Spot checks against efficientnet_labels.txt (the model's own class order).
        let c = classes();
        assert_eq!(
            (c[0].imagenet, c[281].imagenet, c[970].imagenet, c[978].imagenet),
            ("tench", "tabby", "alp", "seashore")
        );
        assert_eq!(c[970].label, Some("Mountain"));
        assert!(c[970].parents.contains(&"Nature") && c[970].parents.contains(&"Outdoors"));
        assert_eq!(c[978].label, Some("Beach"));
        for parent in ["Shoreline", "Nature", "Outdoors", "Water", "Sea"] {
            assert!(c[978].parents.contains(&parent), "{parent}");
        }
    }

    #[test]
    fn bad_tables_are_refused() {
        assert!(parse("0\ttench\tFish\tAnimal\n").unwrap_err().contains("5 tab-separated"));
        assert!(parse("1\ttench\tFish\tAnimal\tPets\n").unwrap_err().contains("expected 0"));
        assert!(parse("0\ttench\t\tAnimal\tPets\n").unwrap_err().contains("empty label"));
        assert_eq!(parse("# comment\n0\ttench\t-\t\t\n").unwrap()[0].label, None);
    }

    #[test]
    fn probability_mass_adds_up_through_the_hierarchy() {
        let mut probs = vec![0.0; NUM_CLASSES];
        probs[281] = 0.4; // tabby -> Cat
        probs[285] = 0.3; // Egyptian cat -> Egyptian Cat, parent Cat
        probs[978] = 0.2; // seashore -> Beach
        probs[744] = 0.1; // skipped
        let labels = aggregate(&probs, 0.0);
        let get = |n: &str| labels.iter().find(|l| l.name == n).map(|l| l.probability);
        assert!((get("Cat").unwrap() - 0.7).abs() < 1e-6);
        assert!((get("Egyptian Cat").unwrap() - 0.3).abs() < 1e-6);
        assert!((get("Animal").unwrap() - 0.7).abs() < 1e-6);
        assert!((get("Beach").unwrap() - 0.2).abs() < 1e-6);
        assert!(labels.iter().all(|l| l.probability <= 1.0));
        assert!(labels.windows(2).all(|w| w[0].probability >= w[1].probability));
        let cat = labels.iter().find(|l| l.name == "Cat").unwrap();
        assert!(cat.parents.contains(&"Animal"));
        assert_eq!(aggregate(&probs, 0.5).len(), labels.iter().filter(|l| l.probability >= 0.5).count());
        // NaN, negative and short inputs do not panic or invent labels.
        assert!(aggregate(&[f32::NAN, -1.0], 0.0).is_empty());
    }
}
