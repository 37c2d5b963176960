//! What a client is told about a failure: a reason code and a sentence for people. Error names,
//! causes (SDK messages, stack traces, ARNs with the account id) stay in the logs, the stored
//! record and the execution history.

use imgpipe_imaging::{RejectCode, Rejection};
use serde::Serialize;

use crate::model::Status;
use crate::table::FailureReason;

/// A REJECTED or FAILED upload's code for an unexpected failure.
pub const PROCESSING_FAILED: &str = "PROCESSING_FAILED";
/// A REJECTED upload whose stored reason names no known rejection code.
pub const REJECTED: &str = "REJECTED";
/// A step that ran out of time.
pub const TIMED_OUT: &str = "TIMED_OUT";
/// A step that failed for a reason other than the image (retried where that can help).
pub const STEP_FAILED: &str = "STEP_FAILED";

/// A failure as clients see it.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ClientFailure {
    /// A stable machine code: a rejection code (`CORRUPT`, `TOO_LARGE`, ...) or one of this module's.
    pub code: String,
    /// One sentence for people.
    pub message: String,
}

impl ClientFailure {
    fn new(code: &str, message: &str) -> ClientFailure {
        ClientFailure { code: code.to_string(), message: message.to_string() }
    }

    /// The reason of a record: REJECTED shows its rejection code and sentence, FAILED a generic
    /// code and sentence; other statuses have none.
    pub fn of_record(status: Status, reason: Option<&FailureReason>) -> Option<ClientFailure> {
        match status {
            Status::Rejected => Some(
                reason
                    .filter(|r| RejectCode::from_str_code(&r.code).is_some() && !r.message.trim().is_empty())
                    .map(|r| ClientFailure { code: r.code.clone(), message: r.message.clone() })
                    .unwrap_or_else(|| ClientFailure::new(REJECTED, "The file was not accepted as an image.")),
            ),
            Status::Failed if reason.is_some_and(|r| r.code == crate::reconcile::NOT_UPLOADED) => {
                Some(ClientFailure::new(
                    crate::reconcile::NOT_UPLOADED,
                    "Nothing was uploaded before the upload form expired.",
                ))
            }
            Status::Failed => Some(ClientFailure::new(
                PROCESSING_FAILED,
                "Processing failed on our side; upload the image again later.",
            )),
            _ => None,
        }
    }

    /// A failed attempt of a step, from the history's `error` name and `cause`.
    pub fn of_step(error: &str, cause: &str) -> ClientFailure {
        if error == "ImageRejected" {
            if let Some(r) = Rejection::parse(&error_message(cause)) {
                return ClientFailure { code: r.code.as_str().to_string(), message: r.message };
            }
        }
        if error == "States.Timeout" || error.ends_with(".Timeout") || error.contains("TimedOut") {
            return ClientFailure::new(TIMED_OUT, "This step took too long.");
        }
        ClientFailure::new(STEP_FAILED, "This step failed; it is retried where that can help.")
    }
}

/// The message inside a Lambda error cause (`{"errorType","errorMessage"}`), or the cause itself.
fn error_message(cause: &str) -> String {
    #[derive(serde::Deserialize)]
    struct LambdaCause {
        #[serde(rename = "errorMessage")]
        error_message: String,
    }
    serde_json::from_str::<LambdaCause>(cause).map(|c| c.error_message).unwrap_or_else(|_| cause.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDK_CAUSE: &str =
        "service error: DispatchFailure(ConnectorError { kind: Io, source: hyper::Error(Connect) }) \
        arn:aws:states:eu-west-1:123456789012:execution:Pipeline:abc RequestId: 7f9c";

    fn reason(error_type: &str, code: &str, message: &str) -> FailureReason {
        FailureReason { error_type: error_type.into(), code: code.into(), message: message.into() }
    }

    #[test]
    fn a_rejection_shows_its_code_and_sentence() {
        let r = reason("ImageRejected", "CORRUPT", "The header is damaged.");
        assert_eq!(
            ClientFailure::of_record(Status::Rejected, Some(&r)),
            Some(ClientFailure::new("CORRUPT", "The header is damaged."))
        );
    }

    #[test]
    fn failures_and_unknown_rejections_never_show_stored_causes() {
        for (status, r) in [
            (Status::Failed, reason("Retryable", "Retryable", SDK_CAUSE)),
            (Status::Failed, reason("ImageRejected", "CORRUPT", SDK_CAUSE)),
            (Status::Rejected, reason("ImageRejected", "ImageRejected", SDK_CAUSE)),
            (Status::Rejected, reason("ImageRejected", "NOT_A_CODE", SDK_CAUSE)),
        ] {
            let shown = ClientFailure::of_record(status, Some(&r)).unwrap();
            let text = serde_json::to_string(&shown).unwrap();
            assert!(!text.contains("123456789012") && !text.contains("arn:") && !text.contains("Dispatch"), "{text}");
            assert!(shown.code == PROCESSING_FAILED || shown.code == REJECTED, "{text}");
        }
        assert_eq!(ClientFailure::of_record(Status::Done, None), None);
        assert_eq!(ClientFailure::of_record(Status::Pending, Some(&reason("x", "y", "z"))), None);
    }

    #[test]
    fn an_upload_that_never_came_says_so_with_a_fixed_sentence() {
        let shown = ClientFailure::of_record(Status::Failed, Some(&reason("Reconciler", "NOT_UPLOADED", SDK_CAUSE)));
        assert_eq!(
            shown,
            Some(ClientFailure::new("NOT_UPLOADED", "Nothing was uploaded before the upload form expired."))
        );
    }

    #[test]
    fn step_failures_map_to_codes_without_causes() {
        let lambda = serde_json::json!({"errorType": "ImageRejected", "errorMessage": "TOO_SMALL: The image is 2x2."});
        assert_eq!(ClientFailure::of_step("ImageRejected", &lambda.to_string()).code, "TOO_SMALL");
        assert_eq!(
            ClientFailure::of_step("ImageRejected", "TOO_SMALL: The image is 2x2.").message,
            "The image is 2x2."
        );
        assert_eq!(ClientFailure::of_step("States.Timeout", SDK_CAUSE).code, TIMED_OUT);
        for error in ["Retryable", "Lambda.ServiceException", "ImageRejected", "", "States.TaskFailed"] {
            let shown = ClientFailure::of_step(error, SDK_CAUSE);
            assert!(!shown.message.contains("arn:") && !shown.message.contains("123456789012"), "{shown:?}");
        }
        assert_eq!(ClientFailure::of_step("Retryable", SDK_CAUSE).code, STEP_FAILED);
    }
}
