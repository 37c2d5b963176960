//! The table's items as types: the image record and the label index entries. Their shape in
//! DynamoDB is defined here and nowhere else.

use serde::{Deserialize, Serialize};

use super::attr::{from_item, get_s, to_item, Item};
use super::keys::{
    image_pk, label_pk, label_sk, owner_pk, recent_sk, GSI1PK, GSI1SK, GSI2PK, GSI2SK, IMAGE_SK, PENDING_PARTITION, PK,
    SK,
};
use crate::error::StepError;
use crate::model::{ImageMeta, LabelSet, Status, ThumbnailRef};

/// The image item (`PK = IMAGE#<id>`, `SK = IMAGE`): one per upload, from PENDING to its final status.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageRecord {
    pub image_id: String,
    pub status: Status,
    /// The uploader: the signed-in user's `sub`, written by presign and never taken from the event.
    pub owner: String,
    pub created_at: String,
    pub updated_at: String,
    /// Where the original is: the input bucket and `uploads/<id>.<ext>`.
    pub bucket: String,
    pub key: String,
    /// The name the user gave the file (shown, never used as a path).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The size the presigned upload was signed for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub declared_size: Option<u64>,
    /// The object version the outcome describes (etag without quotes) and its size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// The S3 event's `sequencer`: orders events for the same key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
    /// The object version the claiming execution reads (see [`super::Claim`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// The one execution that claimed the upload; only it may store the outcome.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// A re-process execution that re-claimed this final record (see [`super::Reclaim`]); only it
    /// may replace the outcome, and storing its outcome clears it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reclaimed_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<ImageMeta>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub labels: Option<LabelSet>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub thumbnails: Vec<ThumbnailRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<FailureReason>,
    /// The result document in the output bucket (DONE only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_key: Option<String>,
    /// The label items written for this record, so a rewrite can delete the stale ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub label_keys: Vec<ItemKey>,
    /// DynamoDB TTL (epoch seconds): only PENDING records expire.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

/// Why an upload was REJECTED or FAILED: the state machine's error name, a machine code and a sentence.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FailureReason {
    #[serde(rename = "type")]
    pub error_type: String,
    pub code: String,
    pub message: String,
}

/// A table key (`PK`, `SK`).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct ItemKey {
    #[serde(rename = "PK")]
    pub pk: String,
    #[serde(rename = "SK")]
    pub sk: String,
}

impl ImageRecord {
    /// A PENDING record for an upload of `bucket`/`key` by `owner`, created at `created_at`; the
    /// optional facts start empty.
    pub fn pending(id: &str, owner: &str, bucket: &str, key: &str, created_at: &str) -> ImageRecord {
        ImageRecord {
            image_id: id.to_string(),
            status: Status::Pending,
            owner: owner.to_string(),
            created_at: created_at.to_string(),
            updated_at: created_at.to_string(),
            bucket: bucket.to_string(),
            key: key.to_string(),
            filename: None,
            content_type: None,
            declared_size: None,
            etag: None,
            size: None,
            sequencer: None,
            version_id: None,
            execution_id: None,
            reclaimed_by: None,
            started_at: None,
            completed_at: None,
            image: None,
            labels: None,
            thumbnails: Vec::new(),
            error: None,
            result_key: None,
            label_keys: Vec::new(),
            expires_at: None,
        }
    }

    /// The item's key.
    pub fn key_of(id: &str) -> ItemKey {
        ItemKey { pk: image_pk(id), sk: IMAGE_SK.into() }
    }

    /// The record as a DynamoDB item, with its table and GSI1 keys, and GSI2 keys while it is
    /// PENDING (a final record leaves the pending index).
    pub fn to_item(&self) -> Result<Item, StepError> {
        let mut item = to_item(self).map_err(|e| encode_error("an image record", e))?;
        let key = Self::key_of(&self.image_id);
        put_s(&mut item, PK, key.pk);
        put_s(&mut item, SK, key.sk);
        put_s(&mut item, GSI1PK, owner_pk(&self.owner));
        put_s(&mut item, GSI1SK, recent_sk(&self.created_at, &self.image_id));
        if self.status == Status::Pending {
            put_s(&mut item, GSI2PK, PENDING_PARTITION.into());
            put_s(&mut item, GSI2SK, recent_sk(&self.created_at, &self.image_id));
        }
        Ok(item)
    }

    /// Reads a record back from its item.
    pub fn from_item(item: &Item) -> Result<ImageRecord, StepError> {
        from_item(item).map_err(|e| decode_error("an image record", get_s(item, PK), e))
    }

    /// Is the record final (DONE, REJECTED or FAILED)?
    pub fn is_final(&self) -> bool {
        self.status != Status::Pending
    }

    /// The smallest thumbnail, for lists.
    pub fn smallest_thumbnail(&self) -> Option<&ThumbnailRef> {
        self.thumbnails.iter().min_by_key(|t| t.size)
    }
}

/// A label index item (`PK = OWNER#<owner>#LABEL#<label>`, `SK = C#<confidence>#<id>`): one per
/// label of a DONE image, so "images with Dog at >= 90%" is one Query.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct LabelHit {
    pub image_id: String,
    /// The label as the model named it.
    pub label: String,
    /// 0-100, stored with two decimals.
    #[serde(serialize_with = "two_decimals")]
    pub confidence: f32,
    pub owner: String,
    pub created_at: String,
    /// The image's smallest thumbnail, so a result list needs no second read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub thumbnail_key: Option<String>,
}

impl LabelHit {
    /// The item's key.
    pub fn key(&self) -> ItemKey {
        ItemKey { pk: label_pk(&self.owner, &self.label), sk: label_sk(self.confidence, &self.image_id) }
    }

    /// The entry as a DynamoDB item, with its keys.
    pub fn to_item(&self) -> Result<Item, StepError> {
        let mut item = to_item(self).map_err(|e| encode_error("a label item", e))?;
        let key = self.key();
        put_s(&mut item, PK, key.pk);
        put_s(&mut item, SK, key.sk);
        Ok(item)
    }

    /// Reads an entry back from its item.
    pub fn from_item(item: &Item) -> Result<LabelHit, StepError> {
        from_item(item).map_err(|e| decode_error("a label item", get_s(item, PK), e))
    }
}

/// Writes an f32 as the decimal it stands for at two places (`91.23`, not `91.2300033569336`).
fn two_decimals<S: serde::Serializer>(value: &f32, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(format!("{value:.2}").parse::<f64>().unwrap_or(0.0))
}

fn put_s(item: &mut Item, name: &str, value: String) {
    item.insert(name.into(), aws_sdk_dynamodb::types::AttributeValue::S(value));
}

fn encode_error(what: &str, e: serde_json::Error) -> StepError {
    StepError::Internal(format!("cannot encode {what}: {e}"))
}

fn decode_error(what: &str, pk: Option<&str>, e: serde_json::Error) -> StepError {
    StepError::Internal(format!("the table holds {what} ({}) this version cannot read: {e}", pk.unwrap_or("?")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pending(id: &str) -> ImageRecord {
        let mut rec = ImageRecord::pending(id, "o1", "in", &format!("uploads/{id}.jpg"), "2026-01-01T00:00:00.000Z");
        rec.filename = Some("cat.jpg".into());
        rec.expires_at = Some(1_800_000_000);
        rec
    }

    #[test]
    fn image_records_round_trip_with_their_keys() {
        let mut rec = pending("abc");
        rec.status = Status::Failed;
        rec.error = Some(FailureReason { error_type: "Retryable".into(), code: "X".into(), message: "m".into() });
        rec.label_keys = vec![ItemKey { pk: "a".into(), sk: "b".into() }];
        let item = rec.to_item().unwrap();
        assert_eq!(get_s(&item, PK), Some("IMAGE#abc"));
        assert_eq!(get_s(&item, SK), Some("IMAGE"));
        assert_eq!(get_s(&item, GSI1PK), Some("OWNER#o1"));
        assert_eq!(get_s(&item, GSI1SK), Some("2026-01-01T00:00:00.000Z#abc"));
        assert_eq!(get_s(&item, "status"), Some("FAILED"));
        assert_eq!((get_s(&item, GSI2PK), get_s(&item, GSI2SK)), (None, None), "final records leave the pending index");
        assert_eq!(ImageRecord::from_item(&item).unwrap(), rec);
    }

    #[test]
    fn pending_records_are_in_the_pending_index_by_creation_time() {
        let item = pending("abc").to_item().unwrap();
        assert_eq!(get_s(&item, GSI2PK), Some("PENDING"));
        assert_eq!(get_s(&item, GSI2SK), Some("2026-01-01T00:00:00.000Z#abc"));
        assert_eq!(ImageRecord::from_item(&item).unwrap(), pending("abc"));
    }

    #[test]
    fn unreadable_items_are_errors_not_panics() {
        let mut item = pending("abc").to_item().unwrap();
        item.insert("status".into(), aws_sdk_dynamodb::types::AttributeValue::S("LOST".into()));
        assert!(ImageRecord::from_item(&item).is_err());
        item.remove("status");
        assert!(ImageRecord::from_item(&item).is_err());
    }

    #[test]
    fn label_hits_store_two_decimals_under_their_keys() {
        let hit = LabelHit {
            image_id: "id1".into(),
            label: "Dog".into(),
            confidence: 91.23456,
            owner: "o1".into(),
            created_at: "t".into(),
            thumbnail_key: Some("thumbnails/id1/256.jpg".into()),
        };
        let item = hit.to_item().unwrap();
        assert_eq!(get_s(&item, PK), Some("OWNER#o1#LABEL#dog"));
        assert_eq!(get_s(&item, SK), Some("C#09123#id1"));
        assert_eq!(item["confidence"].as_n().map(String::as_str), Ok("91.23"));
        let back = LabelHit::from_item(&item).unwrap();
        assert!((back.confidence - 91.23).abs() < 1e-4);
        assert_eq!(back.key(), hit.key());
    }
}
