//! Persist: the result JSON in S3 and the table items. Only the execution that claimed the
//! upload at Validate stores its outcome; the same outcome twice is written once, a final record
//! is never replaced, and an outcome for a record that was deleted meanwhile removes what this
//! execution wrote instead of resurrecting it. RecordRejected and RecordFailed use this step too.
//!
//! The decisions (may this execution write, what the record becomes, which label items it has)
//! are pure functions below; [`run`] only reads, decides and writes.

use std::cmp::Ordering;
use std::collections::HashSet;

use serde::Deserialize;

use super::thumbnail::thumbnail_key;
use super::Pipeline;
use crate::error::{classify_sdk_error, StepError};
use crate::model::{
    image_id_from_key, CaughtError, ImageMeta, LabelSet, ObjectCreatedDetail, RecordRef, Status, ThumbnailRef,
};
use crate::table::keys::IMAGE_SK;
use crate::table::{
    compare_sequencers, FailureReason, ImageRecord, ItemKey, LabelHit, OutcomeWrite, WriteError, MAX_TRANSACTION_ITEMS,
};
use imgpipe_imaging::Rejection;

/// Label items per record: with the image item and the deletion of a previous outcome's label
/// items, every rewrite fits one transaction (1 + 49 + 49 < 100). Labels past this are kept in
/// the record, just not indexed.
pub const MAX_LABEL_ITEMS: usize = (MAX_TRANSACTION_ITEMS - 1) / 2;
/// Optimistic-concurrency attempts before giving up as `Retryable`.
const MAX_WRITE_ATTEMPTS: usize = 4;
/// Longest stored failure message, in characters.
const MAX_REASON_CHARS: usize = 2000;

/// Persist's input. `image`, `labels` and `thumbnails` are present for DONE; `error` for the others.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PersistInput {
    pub status: Status,
    pub detail: ObjectCreatedDetail,
    pub image: Option<ImageMeta>,
    pub labels: Option<LabelSet>,
    pub thumbnails: Option<Vec<ThumbnailRef>>,
    pub error: Option<CaughtError>,
    pub execution_id: Option<String>,
    pub started_at: Option<String>,
}

/// The key of an image's result document in the output bucket.
pub fn result_key(id: &str) -> String {
    format!("results/{id}.json")
}

/// A stored failure reason: the state machine's error name, a machine code and a sentence.
pub fn failure_reason(error: &CaughtError) -> FailureReason {
    // Lambda errors arrive with Cause = {"errorType","errorMessage"}; engine errors with plain text.
    let message = serde_json::from_str::<serde_json::Value>(&error.cause)
        .ok()
        .and_then(|c| c.get("errorMessage").and_then(serde_json::Value::as_str).map(str::to_string))
        .unwrap_or_else(|| error.cause.clone());
    let (code, message) = match Rejection::parse(&message) {
        Some(r) => (r.code.as_str().to_string(), r.message),
        None => (error.error.clone(), message),
    };
    FailureReason { error_type: error.error.clone(), code, message: message.chars().take(MAX_REASON_CHARS).collect() }
}

/// What Persist does with the record it read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Store the outcome.
    Write,
    /// The record already holds this execution's outcome (a retry), or another execution's: leave it.
    Leave,
    /// The record is gone (the owner deleted the image): remove what this execution wrote.
    CleanUp,
    /// A re-process failed over an outcome the image earned (DONE or REJECTED): keep that outcome
    /// and only give up the re-claim, so an outage during a re-process loses no result.
    Release,
}

/// Decides whether an outcome may be stored. Only the claiming execution writes, and only over
/// a PENDING record; an unclaimed PENDING record (Validate failed before its claim) may take a
/// FAILED or REJECTED outcome; a record from a later S3 event (greater sequencer) is never replaced.
/// A final record is replaced only by the re-process execution that re-claimed it.
pub fn decide(
    existing: Option<&ImageRecord>,
    execution_id: Option<&str>,
    sequencer: Option<&str>,
    outcome: Status,
) -> Decision {
    let Some(rec) = existing else { return Decision::CleanUp };
    if rec.status != Status::Pending {
        let reclaimed_by_us = execution_id.is_some() && rec.reclaimed_by.as_deref() == execution_id;
        return match (reclaimed_by_us, outcome, rec.status) {
            (false, _, _) => Decision::Leave,
            (true, Status::Failed, Status::Done | Status::Rejected) => Decision::Release,
            (true, _, _) => Decision::Write,
        };
    }
    let newer_event = match (rec.sequencer.as_deref(), sequencer) {
        (Some(stored), Some(ours)) => compare_sequencers(stored, ours) == Ordering::Greater,
        _ => false,
    };
    let ours = match rec.execution_id.as_deref() {
        None => true,
        Some(claimer) => Some(claimer) == execution_id,
    };
    if ours && !newer_event {
        Decision::Write
    } else {
        Decision::Leave
    }
}

/// Stores the outcome of an execution.
pub async fn run(p: &Pipeline, input: PersistInput) -> Result<RecordRef, StepError> {
    let key = &input.detail.object.key;
    let id = image_id_from_key(key)
        .ok_or_else(|| StepError::Internal(format!("object key {key:?} was not generated by imgpipe")))?;
    if input.status == Status::Done && (input.image.is_none() || input.labels.is_none() || input.thumbnails.is_none()) {
        return Err(StepError::Internal("a DONE record needs image, labels and thumbnails".into()));
    }
    let etag = input.detail.object.etag.trim_matches('"').to_string();
    let table = p.table();
    for _ in 0..MAX_WRITE_ATTEMPTS {
        let existing = table.get_image(&id, true).await?;
        let Some(existing) = existing.as_ref() else {
            remove_outputs(p, &id).await?;
            return Ok(record_ref(&id, input.status, false));
        };
        let decision = decide(
            Some(existing),
            input.execution_id.as_deref(),
            input.detail.object.sequencer.as_deref(),
            input.status,
        );
        let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let (record, labels, stale) = match decision {
            Decision::Leave | Decision::CleanUp => return Ok(record_ref(&id, input.status, false)),
            // The image item alone: its label items stay as they are.
            Decision::Release => (released(existing, &now), Vec::new(), Vec::new()),
            Decision::Write => {
                let mut record = outcome_record(&input, &id, &etag, existing, &now);
                let labels = label_hits(&record);
                record.label_keys = labels.iter().map(LabelHit::key).collect();
                let stale = stale_label_keys(Some(existing), &record.label_keys);
                if let Some(rk) = &record.result_key {
                    write_result(p, rk, &record).await?;
                }
                (record, labels, stale)
            }
        };
        let write = OutcomeWrite {
            record: &record,
            seen_updated_at: Some(existing.updated_at.as_str()),
            labels: &labels,
            stale: &stale,
        };
        match table.write_outcome(write).await {
            Ok(()) => return Ok(record_ref(&id, input.status, decision == Decision::Write)),
            Err(WriteError::Conflict) => continue,
            Err(WriteError::Failed(e)) => return Err(e),
        }
    }
    Err(StepError::Retryable(format!("the record of image {id} kept changing under concurrent writes")))
}

/// Deletes the thumbnails and result document an execution may have written for an image whose
/// record was deleted, so a delete during processing leaves nothing behind.
async fn remove_outputs(p: &Pipeline, id: &str) -> Result<(), StepError> {
    let keys = p.config.thumbnails.sizes.iter().map(|size| thumbnail_key(id, *size)).chain([result_key(id)]);
    for key in keys {
        p.clients
            .s3
            .delete_object()
            .bucket(&p.config.output_bucket)
            .key(&key)
            .send()
            .await
            .map_err(|e| classify_sdk_error("removing the output of a deleted image", &e))?;
    }
    tracing::info!(image_id = id, "the image was deleted during processing; its outputs are removed");
    Ok(())
}

/// The record as it was, without the re-claim of a re-process that failed over it.
pub fn released(existing: &ImageRecord, now: &str) -> ImageRecord {
    ImageRecord { reclaimed_by: None, updated_at: now.to_string(), ..existing.clone() }
}

fn record_ref(id: &str, status: Status, written: bool) -> RecordRef {
    let key = ImageRecord::key_of(id);
    let result_key = (status == Status::Done).then(|| result_key(id));
    RecordRef { pk: key.pk, sk: IMAGE_SK.into(), status, result_key, written }
}

/// The record an outcome produces: what presign stored (owner, filename, creation time) is kept,
/// the rest comes from this execution (a re-claim is cleared). The owner only ever comes from the
/// stored record.
pub fn outcome_record(input: &PersistInput, id: &str, etag: &str, existing: &ImageRecord, now: &str) -> ImageRecord {
    let done = input.status == Status::Done;
    ImageRecord {
        image_id: id.to_string(),
        status: input.status,
        owner: existing.owner.clone(),
        created_at: existing.created_at.clone(),
        updated_at: now.to_string(),
        bucket: input.detail.bucket.name.clone(),
        key: input.detail.object.key.clone(),
        filename: existing.filename.clone(),
        content_type: existing.content_type.clone(),
        declared_size: existing.declared_size,
        etag: Some(etag.to_string()),
        size: Some(input.detail.object.size),
        sequencer: input.detail.object.sequencer.clone(),
        version_id: input.detail.object.version_id.clone(),
        execution_id: input.execution_id.clone(),
        reclaimed_by: None,
        started_at: input.started_at.clone(),
        completed_at: Some(now.to_string()),
        image: input.image.clone(),
        labels: input.labels.clone(),
        thumbnails: input.thumbnails.clone().unwrap_or_default(),
        error: input.error.as_ref().map(failure_reason),
        result_key: done.then(|| result_key(id)),
        label_keys: Vec::new(),
        expires_at: None,
    }
}

/// Label items of a DONE record: one per distinct label (names compared as the index keys them),
/// at most [`MAX_LABEL_ITEMS`], each pointing at the smallest thumbnail.
pub fn label_hits(record: &ImageRecord) -> Vec<LabelHit> {
    let (Status::Done, Some(labels)) = (record.status, record.labels.as_ref()) else { return Vec::new() };
    let thumbnail_key = record.smallest_thumbnail().map(|t| t.key.clone());
    let mut seen = HashSet::new();
    labels
        .labels
        .iter()
        .filter(|l| !l.name.trim().is_empty() && seen.insert(l.name.trim().to_lowercase()))
        .take(MAX_LABEL_ITEMS)
        .map(|l| LabelHit {
            image_id: record.image_id.clone(),
            label: l.name.clone(),
            confidence: l.confidence,
            owner: record.owner.clone(),
            created_at: record.created_at.clone(),
            thumbnail_key: thumbnail_key.clone(),
        })
        .collect()
}

/// Label items the previous outcome wrote that the new one does not.
pub fn stale_label_keys(existing: Option<&ImageRecord>, current: &[ItemKey]) -> Vec<ItemKey> {
    let current: HashSet<&ItemKey> = current.iter().collect();
    existing.map(|e| e.label_keys.iter().filter(|k| !current.contains(k)).cloned().collect()).unwrap_or_default()
}

/// The result document the owner can download: the record without the table's bookkeeping or
/// the execution that made it (an ARN names the account; the history stays in Step Functions).
pub fn result_document(record: &ImageRecord) -> ImageRecord {
    ImageRecord { label_keys: Vec::new(), execution_id: None, reclaimed_by: None, expires_at: None, ..record.clone() }
}

async fn write_result(p: &Pipeline, key: &str, record: &ImageRecord) -> Result<(), StepError> {
    let document = result_document(record);
    let body =
        serde_json::to_vec_pretty(&document).map_err(|e| StepError::Internal(format!("encoding the result: {e}")))?;
    p.clients
        .s3
        .put_object()
        .bucket(&p.config.output_bucket)
        .key(key)
        .content_type("application/json")
        .body(body.into())
        .send()
        .await
        .map_err(|e| classify_sdk_error("writing the result JSON", &e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BucketRef, Label, ObjectRef};

    const ID: &str = "0f8b8a9e-2f7c-4c47-9a53-1b2a3c4d5e6f";

    fn input(status: Status, labels: &[(&str, f32)]) -> PersistInput {
        PersistInput {
            status,
            detail: ObjectCreatedDetail {
                version: None,
                bucket: BucketRef { name: "in".into() },
                object: ObjectRef {
                    key: format!("uploads/{ID}.jpg"),
                    size: 42,
                    etag: "\"e1\"".into(),
                    sequencer: Some("01".into()),
                    version_id: None,
                },
                request_id: None,
                requester: None,
                source_ip_address: None,
                reason: None,
            },
            image: None,
            labels: Some(LabelSet {
                source: "test".into(),
                model_version: "1".into(),
                models: vec!["test@1".into()],
                labels: labels
                    .iter()
                    .map(|(name, confidence)| Label {
                        name: (*name).into(),
                        confidence: *confidence,
                        ..Label::default()
                    })
                    .collect(),
            }),
            thumbnails: Some(vec![thumb(1024), thumb(256)]),
            error: (status != Status::Done)
                .then(|| CaughtError { error: "Retryable".into(), cause: "S3 is down".into() }),
            execution_id: Some("arn:exec".into()),
            started_at: None,
        }
    }

    fn refs(v: &[(String, f32)]) -> Vec<(&str, f32)> {
        v.iter().map(|(n, c)| (n.as_str(), *c)).collect()
    }

    fn thumb(size: u32) -> ThumbnailRef {
        ThumbnailRef {
            size,
            bucket: "out".into(),
            key: format!("thumbnails/{ID}/{size}.jpg"),
            width: size,
            height: size,
            bytes: 1,
            format: "jpeg".into(),
        }
    }

    fn presigned() -> ImageRecord {
        let mut rec =
            ImageRecord::pending(ID, "presign-owner", "in", &format!("uploads/{ID}.jpg"), "2026-01-01T00:00:00.000Z");
        rec.filename = Some("cat.jpg".into());
        rec.expires_at = Some(1);
        rec
    }

    fn claimed_by(execution: &str, sequencer: &str) -> ImageRecord {
        ImageRecord { execution_id: Some(execution.into()), sequencer: Some(sequencer.into()), ..presigned() }
    }

    #[test]
    fn only_the_claiming_execution_writes_over_pending() {
        let me = Some("arn:exec");
        assert_eq!(
            decide(None, me, Some("01"), Status::Done),
            Decision::CleanUp,
            "a deleted record is not resurrected"
        );
        assert_eq!(
            decide(Some(&presigned()), me, Some("01"), Status::Done),
            Decision::Write,
            "unclaimed: a failure before the claim"
        );
        assert_eq!(decide(Some(&claimed_by("arn:exec", "01")), me, Some("01"), Status::Done), Decision::Write);
        assert_eq!(
            decide(Some(&claimed_by("arn:other", "01")), me, Some("01"), Status::Done),
            Decision::Leave,
            "a duplicate run"
        );
        assert_eq!(
            decide(Some(&claimed_by("arn:exec", "0A")), me, Some("09"), Status::Done),
            Decision::Leave,
            "a later event's record"
        );
        let done = ImageRecord { status: Status::Done, ..claimed_by("arn:exec", "01") };
        assert_eq!(decide(Some(&done), me, Some("01"), Status::Done), Decision::Leave, "a retry after the write");
        let failed = ImageRecord { status: Status::Failed, ..presigned() };
        assert_eq!(
            decide(Some(&failed), me, Some("01"), Status::Done),
            Decision::Leave,
            "a final record is never replaced"
        );
    }

    #[test]
    fn only_the_reprocess_that_reclaimed_a_final_record_replaces_it() {
        let me = Some("arn:reprocess");
        let reclaimed = |status| ImageRecord {
            status,
            reclaimed_by: Some("arn:reprocess".into()),
            ..claimed_by("arn:original", "01")
        };
        for status in [Status::Done, Status::Rejected, Status::Failed] {
            assert_eq!(decide(Some(&reclaimed(status)), me, None, Status::Done), Decision::Write, "{status:?}");
            assert_eq!(decide(Some(&reclaimed(status)), me, None, Status::Rejected), Decision::Write, "{status:?}");
            let late_original = decide(Some(&reclaimed(status)), Some("arn:original"), Some("01"), Status::Done);
            assert_eq!(late_original, Decision::Leave, "a late original execution never overwrites a re-claim");
            assert_eq!(decide(Some(&reclaimed(status)), None, None, Status::Failed), Decision::Leave);
        }
        assert_eq!(decide(Some(&reclaimed(Status::Done)), me, None, Status::Failed), Decision::Release);
        assert_eq!(decide(Some(&reclaimed(Status::Rejected)), me, None, Status::Failed), Decision::Release);
        assert_eq!(
            decide(Some(&reclaimed(Status::Failed)), me, None, Status::Failed),
            Decision::Write,
            "a new failure replaces an old one"
        );
        let superseded = ImageRecord { reclaimed_by: Some("arn:newer-reprocess".into()), ..reclaimed(Status::Done) };
        assert_eq!(decide(Some(&superseded), me, None, Status::Done), Decision::Leave, "a newer re-claim wins");
        let released = released(&reclaimed(Status::Done), "later");
        assert_eq!(
            (released.reclaimed_by, released.status, released.updated_at.as_str()),
            (None, Status::Done, "later")
        );
    }

    #[test]
    fn an_outcome_clears_the_reclaim_and_replaces_every_label_item() {
        let mut old =
            outcome_record(&input(Status::Done, &[("Cat", 80.0), ("Pet", 70.0)]), ID, "e1", &presigned(), "t1");
        old.label_keys = label_hits(&old).iter().map(LabelHit::key).collect();
        old.reclaimed_by = Some("arn:reprocess".into());
        let new = outcome_record(&input(Status::Done, &[("Dog", 90.0), ("Pet", 75.0)]), ID, "e1", &old, "t2");
        assert_eq!(new.reclaimed_by, None);
        assert_eq!((new.owner.as_str(), new.created_at.as_str()), ("presign-owner", old.created_at.as_str()));
        let keys: Vec<ItemKey> = label_hits(&new).iter().map(LabelHit::key).collect();
        let stale = stale_label_keys(Some(&old), &keys);
        // Cat goes; Pet at a new confidence is a new key, so its old item goes too.
        assert_eq!(stale.len(), 2, "{stale:?}");
        assert!(stale.iter().all(|k| !keys.contains(k)));
    }

    #[test]
    fn the_result_document_names_no_execution() {
        let mut rec = outcome_record(&input(Status::Done, &[("Dog", 90.0)]), ID, "e1", &presigned(), "now");
        rec.label_keys = label_hits(&rec).iter().map(LabelHit::key).collect();
        let doc = serde_json::to_string(&result_document(&rec)).unwrap();
        assert!(!doc.contains("arn:") && !doc.contains("executionId") && !doc.contains("labelKeys"), "{doc}");
        assert!(doc.contains("\"Dog\""), "{doc}");
    }

    #[test]
    fn outcome_keeps_what_presign_stored() {
        let existing = presigned();
        let rec = outcome_record(&input(Status::Done, &[]), ID, "e1", &existing, "2026-02-02T00:00:00.000Z");
        assert_eq!(rec.owner, "presign-owner");
        assert_eq!(rec.filename.as_deref(), Some("cat.jpg"));
        assert_eq!(rec.created_at, existing.created_at);
        assert_eq!(rec.updated_at, "2026-02-02T00:00:00.000Z");
        assert_eq!(rec.etag.as_deref(), Some("e1"));
        assert_eq!(rec.result_key, Some(result_key(ID)));
        assert_eq!(rec.expires_at, None, "a final record never expires");
        let failed = outcome_record(&input(Status::Failed, &[]), ID, "e1", &existing, "now");
        assert_eq!(failed.owner, "presign-owner", "the owner never comes from the event");
        assert_eq!(failed.result_key, None);
        assert_eq!(failed.error.map(|e| e.code), Some("Retryable".into()));
    }

    #[test]
    fn label_items_are_distinct_bounded_and_point_at_the_small_thumbnail() {
        let mut names: Vec<(String, f32)> = (0..80).map(|i| (format!("L{i}"), 99.0 - i as f32)).collect();
        names.insert(1, ("l0 ".into(), 50.0));
        let named: Vec<(&str, f32)> = names.iter().map(|(n, c)| (n.as_str(), *c)).collect();
        let rec = outcome_record(&input(Status::Done, &named), ID, "e1", &presigned(), "now");
        let hits = label_hits(&rec);
        assert_eq!(hits.len(), MAX_LABEL_ITEMS);
        assert_eq!(hits[0].label, "L0");
        assert_eq!(hits[1].label, "L1", "a name differing only in case and spaces is one label");
        assert!(hits.iter().all(|h| h.thumbnail_key.as_deref() == Some(&*format!("thumbnails/{ID}/256.jpg"))));
        let failed = outcome_record(&input(Status::Failed, &named), ID, "e1", &presigned(), "now");
        assert!(label_hits(&failed).is_empty(), "only DONE records are indexed");
    }

    #[test]
    fn every_rewrite_fits_one_transaction() {
        let labelled =
            |prefix: &str| -> Vec<(String, f32)> { (0..200).map(|i| (format!("{prefix}{i}"), 90.0)).collect() };
        let (first, second) = (labelled("a"), labelled("b"));
        let mut old = outcome_record(&input(Status::Done, &refs(&first)), ID, "e1", &presigned(), "now");
        old.label_keys = label_hits(&old).iter().map(LabelHit::key).collect();
        let new = outcome_record(&input(Status::Done, &refs(&second)), ID, "e2", &old, "later");
        let keys: Vec<ItemKey> = label_hits(&new).iter().map(LabelHit::key).collect();
        let stale = stale_label_keys(Some(&old), &keys);
        assert_eq!(stale.len(), old.label_keys.len(), "no old label survives the rewrite");
        assert!(1 + keys.len() + stale.len() <= MAX_TRANSACTION_ITEMS);
    }

    #[test]
    fn failure_reasons_carry_a_code_and_a_bounded_sentence() {
        let lambda = CaughtError {
            error: "ImageRejected".into(),
            cause: serde_json::json!({"errorType": "ImageRejected", "errorMessage": "CORRUPT: The header is damaged."})
                .to_string(),
        };
        let r = failure_reason(&lambda);
        assert_eq!((r.error_type.as_str(), r.code.as_str()), ("ImageRejected", "CORRUPT"));
        assert_eq!(r.message, "The header is damaged.");
        let engine = CaughtError { error: "States.Timeout".into(), cause: "x".repeat(10_000) };
        let r = failure_reason(&engine);
        assert_eq!(r.code, "States.Timeout");
        assert_eq!(r.message.chars().count(), MAX_REASON_CHARS);
    }
}
