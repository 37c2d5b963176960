//! The JSON contracts between states (`$.image`, `$.labels`, `$.thumbnails`, `$.record`) and
//! the S3 "Object Created" EventBridge event that starts an execution.

use serde::{Deserialize, Serialize};

pub use imgpipe_imaging::{ExifSubset, Format};

/// `detail` of the S3 "Object Created" EventBridge event, as S3 sends it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObjectCreatedDetail {
    pub version: Option<String>,
    pub bucket: BucketRef,
    pub object: ObjectRef,
    #[serde(rename = "request-id", default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requester: Option<String>,
    #[serde(rename = "source-ip-address", default, skip_serializing_if = "Option::is_none")]
    pub source_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// `detail.bucket`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct BucketRef {
    pub name: String,
}

/// `detail.object`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct ObjectRef {
    pub key: String,
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub etag: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequencer: Option<String>,
    #[serde(rename = "version-id", default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
}

/// Builds the EventBridge event S3 emits for a created object (the state machine's input).
pub fn object_created_event(
    detail: &ObjectCreatedDetail,
    account: &str,
    region: &str,
    time: chrono::DateTime<chrono::Utc>,
) -> serde_json::Value {
    serde_json::json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": account,
        "time": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        "region": region,
        "resources": [format!("arn:aws:s3:::{}", detail.bucket.name)],
        "detail": detail,
    })
}

/// `$.image`: what Validate learnt from the object's header.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageMeta {
    pub id: String,
    pub bucket: String,
    pub key: String,
    pub etag: String,
    /// The object version this execution claimed (S3 bucket versioning; the embedded S3 keeps
    /// versions too). Every step reads exactly these bytes, even if the key is written again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    pub format: Format,
    pub content_type: String,
    pub width: u32,
    pub height: u32,
    pub oriented_width: u32,
    pub oriented_height: u32,
    pub bytes: u64,
    pub orientation: u8,
    #[serde(default)]
    pub animated: bool,
    #[serde(default)]
    pub exif: ExifSubset,
}

impl ImageMeta {
    /// The header facts in the imaging crate's terms (what decoding needs).
    pub fn info(&self) -> imgpipe_imaging::ImageInfo {
        imgpipe_imaging::ImageInfo {
            format: self.format,
            width: self.width,
            height: self.height,
            orientation: self.orientation,
            oriented_width: self.oriented_width,
            oriented_height: self.oriented_height,
            animated: self.animated,
            exif: self.exif.clone(),
        }
    }
}

/// `$.labels`: what is in the picture, in Rekognition DetectLabels' terms.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
#[serde(rename_all = "camelCase")]
pub struct LabelSet {
    /// `rekognition` or `local:<model>`.
    pub source: String,
    pub model_version: String,
    /// Every model that labelled the image, as `name@version` (e.g. `rekognition@3.0`,
    /// `efficientnet_lite3@4a93537fcd99`), so records labelled by an older model can be found.
    #[serde(default)]
    pub models: Vec<String>,
    pub labels: Vec<Label>,
}

pub use imgpipe_labels::{BoundingBox, Instance, Label};

/// One element of `$.thumbnails`.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ThumbnailRef {
    pub size: u32,
    pub bucket: String,
    pub key: String,
    pub width: u32,
    pub height: u32,
    pub bytes: u64,
    pub format: String,
}

/// Final status of an upload's record.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    Pending,
    Done,
    Rejected,
    Failed,
}

impl Status {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::Done => "DONE",
            Status::Rejected => "REJECTED",
            Status::Failed => "FAILED",
        }
    }
}

/// The `{"Error","Cause"}` object a Catch puts at its ResultPath.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct CaughtError {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// `$.record`: where Persist stored the outcome.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RecordRef {
    pub pk: String,
    pub sk: String,
    pub status: Status,
    pub result_key: Option<String>,
    /// False when the write was skipped as a duplicate or a late failure.
    pub written: bool,
}

/// The image id inside a generated key `uploads/<uuid>.<ext>`; `None` for any other key.
pub fn image_id_from_key(key: &str) -> Option<String> {
    let name = key.strip_prefix("uploads/")?;
    let (stem, ext) = name.rsplit_once('.')?;
    let id = uuid::Uuid::parse_str(stem).ok()?;
    (!ext.is_empty() && ext.len() <= 5 && ext.bytes().all(|b| b.is_ascii_alphanumeric()) && stem.len() == 36)
        .then(|| id.hyphenated().to_string())
}

/// Is `id` a well-formed image id (a hyphenated UUID)?
pub fn is_image_id(id: &str) -> bool {
    id.len() == 36 && uuid::Uuid::parse_str(id).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_come_only_from_generated_keys() {
        let id = "0f8b8a9e-2f7c-4c47-9a53-1b2a3c4d5e6f";
        assert_eq!(image_id_from_key(&format!("uploads/{id}.jpg")).as_deref(), Some(id));
        assert_eq!(image_id_from_key(&format!("other/{id}.jpg")), None);
        assert_eq!(image_id_from_key(&format!("uploads/{id}")), None);
        assert_eq!(image_id_from_key("uploads/../../etc/passwd.jpg"), None);
        assert_eq!(image_id_from_key(&format!("uploads/{id}.j/pg")), None);
    }

    #[test]
    fn event_has_s3_shape() {
        let detail = ObjectCreatedDetail {
            version: Some("0".into()),
            bucket: BucketRef { name: "in".into() },
            object: ObjectRef {
                key: "uploads/x.jpg".into(),
                size: 3,
                etag: "e".into(),
                sequencer: Some("1".into()),
                version_id: None,
            },
            request_id: None,
            requester: None,
            source_ip_address: None,
            reason: Some("PostObject".into()),
        };
        let ev = object_created_event(&detail, "000000000000", "us-east-1", chrono::Utc::now());
        assert_eq!(ev["detail-type"], "Object Created");
        assert_eq!(ev["source"], "aws.s3");
        assert_eq!(ev["detail"]["object"]["key"], "uploads/x.jpg");
        assert_eq!(ev["detail"]["reason"], "PostObject");
        let back: ObjectCreatedDetail = serde_json::from_value(ev["detail"].clone()).unwrap();
        assert_eq!(back, detail);
    }
}
