//! Key builders of the single-table design. Every key the code reads or writes comes from here.

/// Partition key attribute of the table.
pub const PK: &str = "PK";
/// Sort key attribute of the table.
pub const SK: &str = "SK";
/// The "recent by owner" index and its key attributes.
pub const GSI1: &str = "GSI1";
/// GSI1's partition key attribute.
pub const GSI1PK: &str = "GSI1PK";
/// GSI1's sort key attribute.
pub const GSI1SK: &str = "GSI1SK";
/// The "PENDING uploads by creation time" index (sparse: only PENDING image items carry its keys),
/// read by the reconciler.
pub const GSI2: &str = "GSI2";
/// GSI2's partition key attribute.
pub const GSI2PK: &str = "GSI2PK";
/// GSI2's sort key attribute.
pub const GSI2SK: &str = "GSI2SK";
/// The one GSI2 partition: every PENDING upload.
pub const PENDING_PARTITION: &str = "PENDING";
/// The TTL attribute (epoch seconds): set on PENDING records only.
pub const TTL_ATTRIBUTE: &str = "expiresAt";

/// Sort key of an image item.
pub const IMAGE_SK: &str = "IMAGE";

/// Partition key of an image item.
pub fn image_pk(id: &str) -> String {
    format!("IMAGE#{id}")
}

/// GSI1 partition key: an owner's images, for "recent by owner".
pub fn owner_pk(owner: &str) -> String {
    format!("OWNER#{owner}")
}

/// GSI1 sort key: creation time then id, so the newest sort last.
pub fn recent_sk(created_at: &str, id: &str) -> String {
    format!("{created_at}#{id}")
}

/// Partition key of label items: one partition per owner and label (label lower-cased, so queries ignore case).
pub fn label_pk(owner: &str, label: &str) -> String {
    format!("OWNER#{owner}#LABEL#{}", label.trim().to_lowercase())
}

/// Sort key of a label item: confidence (0-100, two decimals, zero padded) then id.
pub fn label_sk(confidence: f32, id: &str) -> String {
    format!("C#{}#{id}", confidence_key(confidence))
}

/// The lower bound of label sort keys at or above `min_confidence`.
pub fn label_sk_floor(min_confidence: f32) -> String {
    format!("C#{}", confidence_key(min_confidence))
}

fn confidence_key(confidence: f32) -> String {
    let hundredths = (confidence.clamp(0.0, 100.0) * 100.0).round() as u32;
    format!("{hundredths:05}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_keys_sort_by_confidence() {
        assert!(label_sk(95.5, "a") > label_sk(90.0, "z"));
        assert!(label_sk(9.0, "a") < label_sk(10.0, "a"));
        assert!(label_sk(90.0, "a") >= label_sk_floor(90.0));
        assert!(label_sk(89.99, "a") < label_sk_floor(90.0));
        assert_eq!(label_pk("o", " Dog "), "OWNER#o#LABEL#dog");
    }
}
