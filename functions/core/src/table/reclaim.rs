//! The re-claim: a re-process execution takes a final record (DONE, REJECTED or FAILED) for
//! itself, so that its outcome may replace the stored one. An upload still in progress (PENDING,
//! claimed or not) is never re-claimed: the running upload wins. A record that changed since it
//! was read is not re-claimed either, so the filter that chose it holds for what is claimed.

use aws_sdk_dynamodb::types::AttributeValue;

use super::keys::{image_pk, IMAGE_SK, PK, SK};
use super::Table;
use crate::error::{classify_sdk_error, StepError};
use crate::model::Status;

/// What a re-process execution re-claims: one final record, as it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reclaim<'a> {
    pub image_id: &'a str,
    /// `$$.Execution.Id` of the execution that will store the new outcome.
    pub execution_id: &'a str,
    /// `updatedAt` as read: the re-claim succeeds only if the record is unchanged.
    pub seen_updated_at: &'a str,
    pub now: &'a str,
}

impl Table {
    /// Re-claims a final record for `reclaim.execution_id` in one conditional update (it also
    /// moves `updatedAt`, so a writer that read the record before cannot overwrite the re-claim).
    /// `Ok(false)`: the record is gone, no longer final, or changed since it was read.
    pub async fn reclaim(&self, reclaim: &Reclaim<'_>) -> Result<bool, StepError> {
        let final_status = |s: Status| AttributeValue::S(s.as_str().into());
        let result = self
            .client
            .update_item()
            .table_name(&self.name)
            .key(PK, AttributeValue::S(image_pk(reclaim.image_id)))
            .key(SK, AttributeValue::S(IMAGE_SK.into()))
            .update_expression("SET reclaimedBy = :me, updatedAt = :now")
            .condition_expression("updatedAt = :seen AND #status IN (:done, :rejected, :failed)")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":me", AttributeValue::S(reclaim.execution_id.into()))
            .expression_attribute_values(":now", AttributeValue::S(reclaim.now.into()))
            .expression_attribute_values(":seen", AttributeValue::S(reclaim.seen_updated_at.into()))
            .expression_attribute_values(":done", final_status(Status::Done))
            .expression_attribute_values(":rejected", final_status(Status::Rejected))
            .expression_attribute_values(":failed", final_status(Status::Failed))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|se| se.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(classify_sdk_error("re-claiming the record", &e)),
        }
    }
}
