//! Reclaim, the first state of a re-process batch (`statemachine/reprocess.asl.json`): for each
//! object the Distributed Map listed, it reads the image's record, decides whether the run's
//! filter selects it, and re-claims the selected ones for this execution (see
//! [`crate::table::Reclaim`]). Each claimed image then goes through the pipeline's own steps
//! with the S3 event detail built here from its record, so it is read at the version the record
//! names, never at whatever was written to the key since.
//!
//! The decision ([`select`]) is a pure function; [`run`] only reads, decides and writes.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::Pipeline;
use crate::error::StepError;
use crate::model::{image_id_from_key, BucketRef, ObjectCreatedDetail, ObjectRef, Status};
use crate::table::{ImageRecord, Reclaim};

/// Most objects one Reclaim call takes (the definition's `MaxItemsPerBatch` is below it).
pub const MAX_BATCH_ITEMS: usize = 100;
/// Most model ids a filter names, and the longest one.
pub const MAX_CURRENT_MODELS: usize = 32;
pub const MAX_MODEL_ID_CHARS: usize = 256;
/// `detail.reason` of the event a re-process builds (S3 uses PutObject, POST Object, ...).
pub const REPROCESS_REASON: &str = "Reprocess";
/// Re-reads of a record that changed between the read and the re-claim.
const MAX_RECLAIM_ATTEMPTS: usize = 3;

/// Reclaim's input: `{"items": $.Items, "filter": $.BatchInput, "executionId": $$.Execution.Id}`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReclaimInput {
    pub items: Vec<ListedObject>,
    #[serde(default)]
    pub filter: ReprocessFilter,
    pub execution_id: String,
}

/// One item of the Distributed Map's ItemReader over `s3:listObjectsV2` (other fields ignored).
#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct ListedObject {
    #[serde(rename = "Key")]
    pub key: String,
    #[serde(rename = "Etag", alias = "ETag", default)]
    pub etag: Option<String>,
    #[serde(rename = "Size", default)]
    pub size: Option<u64>,
}

/// Which final records a re-process takes. Empty: every one.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ReprocessFilter {
    /// Only records with this final status (e.g. FAILED after an outage).
    #[serde(default)]
    pub status: Option<Status>,
    /// Only records labelled by a model outside this list (`name@version`, as
    /// [`crate::model::LabelSet::models`] names them): DONE records whose labels are stale.
    #[serde(default)]
    pub current_models: Option<Vec<String>>,
}

impl ReprocessFilter {
    /// Refuses a filter that could select nothing sensible or costs more than its size.
    pub fn check(&self) -> Result<(), StepError> {
        if self.status == Some(Status::Pending) {
            return Err(StepError::Internal("the status filter must be DONE, REJECTED or FAILED".into()));
        }
        if let Some(models) = &self.current_models {
            if models.is_empty() || models.len() > MAX_CURRENT_MODELS {
                return Err(StepError::Internal(format!(
                    "currentModels must name 1 to {MAX_CURRENT_MODELS} models, not {}",
                    models.len()
                )));
            }
            if models.iter().any(|m| m.trim().is_empty() || m.chars().count() > MAX_MODEL_ID_CHARS) {
                return Err(StepError::Internal(format!(
                    "each of currentModels must be a model id of 1 to {MAX_MODEL_ID_CHARS} characters"
                )));
            }
        }
        Ok(())
    }

    /// Does the filter select this final record?
    pub fn selects(&self, record: &ImageRecord) -> bool {
        let status_ok = self.status.is_none_or(|s| s == record.status);
        let stale_ok = self.current_models.as_ref().is_none_or(|current| is_stale(record, current));
        status_ok && stale_ok
    }
}

/// Was a DONE record labelled by a model outside `current` (or by models it does not name,
/// as records stored before models were recorded)?
pub fn is_stale(record: &ImageRecord, current: &[String]) -> bool {
    if record.status != Status::Done {
        return false;
    }
    match record.labels.as_ref().map(|l| &l.models) {
        Some(models) if !models.is_empty() => models.iter().any(|m| !current.contains(m)),
        _ => true,
    }
}

/// Why an object is not re-processed.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SkipReason {
    /// The key is not an imgpipe upload (`uploads/<uuid>.<ext>`), or not the one its record names.
    NotAnUpload,
    /// The object has no record (it was not uploaded through a form, or its image was deleted).
    NoRecord,
    /// The upload is still PENDING or being processed: the running upload wins.
    InProgress,
    /// The filter does not select the record.
    NotSelected,
    /// The record kept changing while it was being re-claimed.
    Changed,
    /// The batch listed the key twice.
    Repeated,
}

/// What Reclaim decides for a record it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selection {
    /// Re-claim it for this execution.
    Reclaim,
    /// It is already re-claimed for this execution (a retry of this step).
    Mine,
    Skip(SkipReason),
}

/// Decides for one listed object and its record.
pub fn select(record: &ImageRecord, listed_key: &str, filter: &ReprocessFilter, execution_id: &str) -> Selection {
    if record.key != listed_key {
        return Selection::Skip(SkipReason::NotAnUpload);
    }
    if !record.is_final() {
        return Selection::Skip(SkipReason::InProgress);
    }
    if record.reclaimed_by.as_deref() == Some(execution_id) {
        return Selection::Mine;
    }
    if !filter.selects(record) {
        return Selection::Skip(SkipReason::NotSelected);
    }
    Selection::Reclaim
}

/// Reclaim's result: `{"claimed": [{"detail": ...}], "skipped": [{"key", "reason"}]}`.
#[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct ReclaimOutput {
    /// One pipeline input per re-claimed image: the S3 event detail its steps read.
    pub claimed: Vec<ReclaimedUpload>,
    pub skipped: Vec<Skipped>,
}

/// The input the pipeline's steps get for a re-claimed image.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct ReclaimedUpload {
    pub detail: ObjectCreatedDetail,
}

/// An object left alone, and why.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Skipped {
    pub key: String,
    pub reason: SkipReason,
}

/// The S3 event detail a re-process runs the steps on: the object version, ETag, size and
/// sequencer the record holds (the listing's ETag and size only where the record has none).
pub fn reprocess_detail(record: &ImageRecord, listed: &ListedObject) -> ObjectCreatedDetail {
    let listed_etag = listed.etag.as_deref().map(|e| e.trim_matches('"').to_string());
    ObjectCreatedDetail {
        version: Some("0".into()),
        bucket: BucketRef { name: record.bucket.clone() },
        object: ObjectRef {
            key: record.key.clone(),
            size: record.size.or(listed.size).unwrap_or_default(),
            etag: record.etag.clone().or(listed_etag).unwrap_or_default(),
            sequencer: record.sequencer.clone(),
            version_id: record.version_id.clone(),
        },
        request_id: None,
        requester: None,
        source_ip_address: None,
        reason: Some(REPROCESS_REASON.into()),
    }
}

/// Reads, selects and re-claims each listed object's record.
pub async fn run(p: &Pipeline, input: ReclaimInput) -> Result<ReclaimOutput, StepError> {
    if input.items.len() > MAX_BATCH_ITEMS {
        return Err(StepError::Internal(format!(
            "a batch of {} objects is over the {MAX_BATCH_ITEMS} one Reclaim takes (lower MaxItemsPerBatch)",
            input.items.len()
        )));
    }
    input.filter.check()?;
    let mut out = ReclaimOutput::default();
    let mut seen = HashSet::new();
    for item in &input.items {
        let decided = if seen.insert(item.key.as_str()) {
            reclaim_one(p, item, &input.filter, &input.execution_id).await?
        } else {
            Err(SkipReason::Repeated)
        };
        match decided {
            Ok(detail) => out.claimed.push(ReclaimedUpload { detail }),
            Err(reason) => out.skipped.push(Skipped { key: item.key.clone(), reason }),
        }
    }
    Ok(out)
}

/// One object: `Ok(Ok(detail))` when it is this execution's to re-process.
async fn reclaim_one(
    p: &Pipeline,
    item: &ListedObject,
    filter: &ReprocessFilter,
    execution_id: &str,
) -> Result<Result<ObjectCreatedDetail, SkipReason>, StepError> {
    let Some(id) = image_id_from_key(&item.key) else { return Ok(Err(SkipReason::NotAnUpload)) };
    let table = p.table();
    for _ in 0..MAX_RECLAIM_ATTEMPTS {
        let Some(record) = table.get_image(&id, true).await? else { return Ok(Err(SkipReason::NoRecord)) };
        match select(&record, &item.key, filter, execution_id) {
            Selection::Skip(reason) => return Ok(Err(reason)),
            Selection::Mine => return Ok(Ok(reprocess_detail(&record, item))),
            Selection::Reclaim => {
                let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
                let reclaim =
                    Reclaim { image_id: &id, execution_id, seen_updated_at: &record.updated_at, now: now.as_str() };
                if table.reclaim(&reclaim).await? {
                    return Ok(Ok(reprocess_detail(&record, item)));
                }
            }
        }
    }
    Ok(Err(SkipReason::Changed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::LabelSet;

    const ID: &str = "0f8b8a9e-2f7c-4c47-9a53-1b2a3c4d5e6f";
    const ME: &str = "arn:aws:states:us-east-1:1:execution:imgpipe-reprocess/Reprocess:abc";

    fn key() -> String {
        format!("uploads/{ID}.jpg")
    }

    fn record(status: Status, models: &[&str]) -> ImageRecord {
        let mut rec = ImageRecord::pending(ID, "o1", "in", &key(), "2026-01-01T00:00:00.000Z");
        rec.status = status;
        rec.labels = (status == Status::Done)
            .then(|| LabelSet { models: models.iter().map(|m| m.to_string()).collect(), ..LabelSet::default() });
        rec
    }

    fn models(ids: &[&str]) -> ReprocessFilter {
        ReprocessFilter { current_models: Some(ids.iter().map(|m| m.to_string()).collect()), ..Default::default() }
    }

    #[test]
    fn everything_final_is_selected_and_nothing_in_progress() {
        let all = ReprocessFilter::default();
        for status in [Status::Done, Status::Rejected, Status::Failed] {
            assert_eq!(select(&record(status, &["m@1"]), &key(), &all, ME), Selection::Reclaim, "{status:?}");
        }
        assert_eq!(select(&record(Status::Pending, &[]), &key(), &all, ME), Selection::Skip(SkipReason::InProgress));
        let claimed = ImageRecord { execution_id: Some("arn:upload".into()), ..record(Status::Pending, &[]) };
        assert_eq!(select(&claimed, &key(), &all, ME), Selection::Skip(SkipReason::InProgress));
    }

    #[test]
    fn the_status_filter_takes_only_that_status() {
        let failed = ReprocessFilter { status: Some(Status::Failed), ..Default::default() };
        assert_eq!(select(&record(Status::Failed, &[]), &key(), &failed, ME), Selection::Reclaim);
        let done = record(Status::Done, &["m@1"]);
        assert_eq!(select(&done, &key(), &failed, ME), Selection::Skip(SkipReason::NotSelected));
        let rejected = record(Status::Rejected, &[]);
        assert_eq!(select(&rejected, &key(), &failed, ME), Selection::Skip(SkipReason::NotSelected));
    }

    #[test]
    fn the_stale_filter_takes_done_records_labelled_by_another_model() {
        let current = models(&["detector@aaa", "classifier@bbb"]);
        let fresh = record(Status::Done, &["detector@aaa", "classifier@bbb"]);
        assert_eq!(select(&fresh, &key(), &current, ME), Selection::Skip(SkipReason::NotSelected));
        let subset = record(Status::Done, &["detector@aaa"]);
        assert_eq!(select(&subset, &key(), &current, ME), Selection::Skip(SkipReason::NotSelected));
        let old = record(Status::Done, &["detector@aaa", "classifier@old"]);
        assert_eq!(select(&old, &key(), &current, ME), Selection::Reclaim);
        let unnamed = record(Status::Done, &[]);
        assert_eq!(select(&unnamed, &key(), &current, ME), Selection::Reclaim, "labelled before models were recorded");
        let failed = record(Status::Failed, &[]);
        assert_eq!(select(&failed, &key(), &current, ME), Selection::Skip(SkipReason::NotSelected), "never labelled");
    }

    #[test]
    fn a_retry_finds_its_own_reclaim_and_another_key_is_not_the_records() {
        let mine = ImageRecord { reclaimed_by: Some(ME.into()), ..record(Status::Done, &["m@1"]) };
        assert_eq!(
            select(&mine, &key(), &models(&["m@1"]), ME),
            Selection::Mine,
            "even if the filter no longer selects"
        );
        let theirs = ImageRecord { reclaimed_by: Some("arn:other".into()), ..record(Status::Done, &["m@1"]) };
        assert_eq!(
            select(&theirs, &key(), &ReprocessFilter::default(), ME),
            Selection::Reclaim,
            "the newest re-claim wins"
        );
        let other_key = format!("uploads/{ID}.png");
        let done = record(Status::Done, &["m@1"]);
        assert_eq!(
            select(&done, &other_key, &ReprocessFilter::default(), ME),
            Selection::Skip(SkipReason::NotAnUpload)
        );
    }

    #[test]
    fn bad_filters_are_refused_with_a_reason() {
        let pending = ReprocessFilter { status: Some(Status::Pending), ..Default::default() };
        assert!(pending.check().is_err());
        assert!(models(&[]).check().is_err());
        assert!(models(&[" "]).check().is_err());
        let many: Vec<String> = (0..=MAX_CURRENT_MODELS).map(|i| format!("m@{i}")).collect();
        let too_many = ReprocessFilter { current_models: Some(many), ..Default::default() };
        assert!(too_many.check().is_err());
        let long = "m".repeat(MAX_MODEL_ID_CHARS + 1);
        assert!(models(&[&long]).check().is_err());
        assert!(models(&["detector@aaa"]).check().is_ok());
        assert!(ReprocessFilter::default().check().is_ok());
        let unknown = serde_json::from_value::<ReprocessFilter>(serde_json::json!({"statuz": "FAILED"}));
        assert!(unknown.is_err(), "a misspelt filter is an error, not a run over everything");
        let forged = serde_json::from_value::<ReprocessFilter>(serde_json::json!({"status": "GONE"}));
        assert!(forged.is_err());
        let nulls =
            serde_json::from_value::<ReprocessFilter>(serde_json::json!({"status": null, "currentModels": null}));
        assert_eq!(nulls.unwrap(), ReprocessFilter::default());
    }

    #[test]
    fn the_detail_pins_what_the_record_names() {
        let mut rec = record(Status::Done, &["m@1"]);
        rec.etag = Some("e-record".into());
        rec.size = Some(1234);
        rec.version_id = Some("v1".into());
        rec.sequencer = Some("0055".into());
        let listed = ListedObject { key: key(), etag: Some("\"e-now\"".into()), size: Some(99) };
        let d = reprocess_detail(&rec, &listed);
        assert_eq!(
            (d.object.etag.as_str(), d.object.size, d.object.version_id.as_deref(), d.object.sequencer.as_deref()),
            ("e-record", 1234, Some("v1"), Some("0055"))
        );
        assert_eq!(
            (d.bucket.name.as_str(), d.object.key.as_str(), d.reason.as_deref()),
            ("in", key().as_str(), Some("Reprocess"))
        );
        let bare = reprocess_detail(&record(Status::Failed, &[]), &listed);
        assert_eq!(
            (bare.object.etag.as_str(), bare.object.size),
            ("e-now", 99),
            "the listing fills what the record lacks"
        );
    }

    #[test]
    fn listing_items_parse_as_the_item_reader_gives_them() {
        let item: ListedObject = serde_json::from_value(serde_json::json!({
            "Etag": "\"abc\"", "Key": "uploads/x.jpg", "LastModified": 1668699881, "Size": 34910, "StorageClass": "STANDARD"
        }))
        .unwrap();
        assert_eq!(item, ListedObject { key: "uploads/x.jpg".into(), etag: Some("\"abc\"".into()), size: Some(34910) });
        let sdk_spelling: ListedObject = serde_json::from_value(serde_json::json!({"ETag": "e", "Key": "k"})).unwrap();
        assert_eq!(sdk_spelling.etag.as_deref(), Some("e"));
        assert!(serde_json::from_value::<ListedObject>(serde_json::json!({"Size": 1})).is_err(), "no key, no item");
    }
}
