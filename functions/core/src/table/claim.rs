//! The claim: the first state of an execution takes the upload's PENDING record for itself,
//! naming its execution and the object version it will read. One upload, one pipeline run: a
//! duplicate event or a replayed upload form finds the record claimed (or final) and ends at once.

use std::cmp::Ordering;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

use super::keys::{image_pk, IMAGE_SK, PK, SK};
use super::{ImageRecord, Table};
use crate::error::{classify_sdk_error, StepError};
use crate::model::Status;

/// What an execution claims: the upload's record, for itself, at one object version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim<'a> {
    pub image_id: &'a str,
    /// `$$.Execution.Id` of the claiming execution.
    pub execution_id: &'a str,
    /// The event's `version-id` (absent on an unversioned bucket).
    pub version_id: Option<&'a str>,
    /// The event's ETag, without quotes.
    pub etag: &'a str,
    /// The event's `sequencer`.
    pub sequencer: Option<&'a str>,
    pub now: &'a str,
}

/// The answer to a claim.
#[derive(Debug, Clone, PartialEq)]
pub enum ClaimOutcome {
    /// The record is this execution's (claimed now, or by this execution before a retry).
    Claimed(ImageRecord),
    /// A final record a re-process re-claimed for this execution (see [`super::Reclaim`]): it
    /// runs again over the version the record names, and only its outcome may replace the record.
    Reclaimed(ImageRecord),
    /// Another execution holds the record, or it already has its outcome.
    Taken(ImageRecord),
    /// There is no record: the object was not uploaded through a presigned form, or was deleted.
    Missing,
}

impl Table {
    /// Claims a PENDING record for `claim.execution_id`, atomically: it succeeds only if the
    /// record is PENDING and unclaimed or already claimed by the same execution (a retry). A final
    /// record re-claimed for this execution is answered [`ClaimOutcome::Reclaimed`], unchanged.
    pub async fn claim(&self, claim: &Claim<'_>) -> Result<ClaimOutcome, StepError> {
        let optional = |v: Option<&str>| v.map_or(AttributeValue::Null(true), |s| AttributeValue::S(s.into()));
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key(PK, AttributeValue::S(image_pk(claim.image_id)))
            .key(SK, AttributeValue::S(IMAGE_SK.into()))
            .update_expression(
                "SET executionId = :me, versionId = :version, etag = :etag, sequencer = :seq, updatedAt = :now",
            )
            .condition_expression(
                "attribute_exists(PK) AND #status = :pending AND (attribute_not_exists(executionId) OR executionId = :me)",
            )
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":me", AttributeValue::S(claim.execution_id.into()))
            .expression_attribute_values(":version", optional(claim.version_id))
            .expression_attribute_values(":etag", AttributeValue::S(claim.etag.into()))
            .expression_attribute_values(":seq", optional(claim.sequencer))
            .expression_attribute_values(":now", AttributeValue::S(claim.now.into()))
            .expression_attribute_values(":pending", AttributeValue::S(Status::Pending.as_str().into()))
            .return_values(ReturnValue::AllNew)
            .send()
            .await;
        match result {
            Ok(out) => match out.attributes {
                Some(item) => Ok(ClaimOutcome::Claimed(ImageRecord::from_item(&item)?)),
                None => Err(StepError::Internal("the claim returned no record".into())),
            },
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => {
                match self.get_image(claim.image_id, true).await? {
                    Some(record) if record.is_final() && record.reclaimed_by.as_deref() == Some(claim.execution_id) => {
                        Ok(ClaimOutcome::Reclaimed(record))
                    }
                    Some(record) => Ok(ClaimOutcome::Taken(record)),
                    None => Ok(ClaimOutcome::Missing),
                }
            }
            Err(e) => Err(classify_sdk_error("claiming the upload", &e)),
        }
    }
}

/// The reconciler hands a stuck upload to a new execution: the record must still be PENDING,
/// unchanged since it was read, and claimed by `from` (or by nobody), so a claim or outcome
/// written meanwhile, or another reconciler's hand-over, wins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handover<'a> {
    pub image_id: &'a str,
    /// The claimer as read (an execution no longer running), `None` when unclaimed.
    pub from: Option<&'a str>,
    /// `updatedAt` as read.
    pub seen_updated_at: &'a str,
    /// The execution that will be started; its first state finds the record claimed by itself.
    pub to: &'a str,
    pub now: &'a str,
}

impl Table {
    /// Releases a dead claim (or an unclaimed record) to `handover.to` in one conditional
    /// update. `Ok(false)`: the record changed since it was read; leave it.
    pub async fn hand_over(&self, handover: &Handover<'_>) -> Result<bool, StepError> {
        let claimer = match handover.from {
            Some(_) => "executionId = :from",
            None => "attribute_not_exists(executionId)",
        };
        let mut values = std::collections::HashMap::from([
            (":to".to_string(), AttributeValue::S(handover.to.into())),
            (":now".to_string(), AttributeValue::S(handover.now.into())),
            (":seen".to_string(), AttributeValue::S(handover.seen_updated_at.into())),
            (":pending".to_string(), AttributeValue::S(Status::Pending.as_str().into())),
        ]);
        if let Some(from) = handover.from {
            values.insert(":from".into(), AttributeValue::S(from.into()));
        }
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key(PK, AttributeValue::S(image_pk(handover.image_id)))
            .key(SK, AttributeValue::S(IMAGE_SK.into()))
            .update_expression("SET executionId = :to, updatedAt = :now")
            .condition_expression(format!("#status = :pending AND updatedAt = :seen AND {claimer}"))
            .expression_attribute_names("#status", "status")
            .set_expression_attribute_values(Some(values))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(classify_sdk_error("handing the upload to a new execution", &e)),
        }
    }
}

/// Orders two S3 event sequencers of the same key as S3 documents: left-pad the shorter with
/// zeros, then compare as strings (hex digits, so case is ignored).
pub fn compare_sequencers(a: &str, b: &str) -> Ordering {
    let width = a.len().max(b.len());
    let pad = |s: &str| format!("{s:0>width$}").to_ascii_uppercase();
    pad(a).cmp(&pad(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequencers_compare_after_left_padding() {
        assert_eq!(compare_sequencers("0A", "9"), Ordering::Greater);
        assert_eq!(compare_sequencers("009", "9"), Ordering::Equal);
        assert_eq!(compare_sequencers("5F", "5e"), Ordering::Greater);
        assert_eq!(compare_sequencers("0055B7", "0055B8"), Ordering::Less);
    }
}
