//! The error taxonomy shared by every step. Its `error_type()` names are the exact
//! `errorType` strings the Lambdas report and the state machine's `ErrorEquals` match.

use aws_sdk_s3::config::http::HttpResponse;
use imgpipe_imaging::{RejectCode, Rejection};

/// `errorType` of bad input: never retried.
pub const IMAGE_REJECTED: &str = "ImageRejected";
/// `errorType` of a transient failure (throttling, 5xx, timeouts) after the SDK's own retries.
pub const RETRYABLE: &str = "Retryable";
/// `errorType` of a bug or misconfiguration: not retried beyond Lambda's own service errors.
pub const INTERNAL_ERROR: &str = "InternalError";
/// The upload is already claimed by another execution, or already has its outcome: a duplicate
/// event or a replayed upload form. The state machine ends at once, writing nothing.
pub const DUPLICATE_UPLOAD: &str = "DuplicateUpload";
/// The object has no record to claim: it was not uploaded through a presigned form (or its record
/// was deleted). There is no owner to attribute it to, so nothing is written.
pub const UNKNOWN_UPLOAD: &str = "UnknownUpload";
/// The configured Rekognition Custom Labels model is not running (stopped, starting, or failed to
/// start). Not retried: a model takes minutes to start and a stopped one never starts by itself, so
/// the upload ends FAILED with this name and can be processed again once the model runs.
pub const CUSTOM_MODEL_NOT_RUNNING: &str = "CustomModelNotRunning";

/// Why a step failed, classified for the state machine's Retry and Catch.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    /// The upload is not an acceptable image; the cause carries a machine code and a sentence.
    #[error("{0}")]
    Rejected(Rejection),
    /// Worth retrying: throttling, 5xx, timeouts.
    #[error("{0}")]
    Retryable(String),
    /// A bug or misconfiguration.
    #[error("{0}")]
    Internal(String),
    /// See [`DUPLICATE_UPLOAD`].
    #[error("{0}")]
    Duplicate(String),
    /// See [`UNKNOWN_UPLOAD`].
    #[error("{0}")]
    UnknownUpload(String),
    /// See [`CUSTOM_MODEL_NOT_RUNNING`].
    #[error("{0}")]
    CustomModelNotRunning(String),
}

impl StepError {
    /// A rejection with the given code and a sentence for people.
    pub fn rejected(code: RejectCode, message: impl Into<String>) -> Self {
        StepError::Rejected(Rejection { code, message: message.into() })
    }

    /// The `errorType` name the state machine matches.
    pub fn error_type(&self) -> &'static str {
        match self {
            StepError::Rejected(_) => IMAGE_REJECTED,
            StepError::Retryable(_) => RETRYABLE,
            StepError::Internal(_) => INTERNAL_ERROR,
            StepError::Duplicate(_) => DUPLICATE_UPLOAD,
            StepError::UnknownUpload(_) => UNKNOWN_UPLOAD,
            StepError::CustomModelNotRunning(_) => CUSTOM_MODEL_NOT_RUNNING,
        }
    }

    /// The `errorMessage`: for rejections `CODE: sentence`.
    pub fn error_message(&self) -> String {
        self.to_string()
    }

    /// The `Cause` Step Functions records for a Lambda error: Lambda's JSON error document.
    pub fn cause_json(&self) -> String {
        serde_json::json!({ "errorType": self.error_type(), "errorMessage": self.error_message() }).to_string()
    }
}

impl From<Rejection> for StepError {
    fn from(r: Rejection) -> Self {
        StepError::Rejected(r)
    }
}

/// Classifies an AWS SDK error: throttling, 5xx, timeouts and I/O are `Retryable`; the rest `Internal`.
pub fn classify_sdk_error<E>(what: &str, err: &aws_sdk_s3::error::SdkError<E, HttpResponse>) -> StepError
where
    E: aws_sdk_s3::error::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_sdk_s3::error::SdkError;
    let detail = aws_sdk_s3::error::DisplayErrorContext(err).to_string();
    let retryable = match err {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => true,
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or_default();
            is_retryable_code(code) || se.raw().status().is_server_error()
        }
        _ => false,
    };
    let message = format!("{what}: {detail}");
    if retryable {
        StepError::Retryable(message)
    } else {
        StepError::Internal(message)
    }
}

/// Error codes AWS services use for throttling and transient server trouble.
pub fn is_retryable_code(code: &str) -> bool {
    matches!(
        code,
        "Throttling"
            | "ThrottlingException"
            | "ThrottledException"
            | "RequestThrottledException"
            | "TooManyRequestsException"
            | "ProvisionedThroughputExceededException"
            | "RequestLimitExceeded"
            | "SlowDown"
            | "InternalError"
            | "InternalServerError"
            | "InternalServerErrorException"
            | "ServiceUnavailable"
            | "ServiceUnavailableException"
            | "RequestTimeout"
            | "RequestTimeoutException"
            | "TransactionInProgressException"
    )
}
