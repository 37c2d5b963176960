//! Error types: definition problems, engine API errors and States Language runtime errors.

use thiserror::Error;

/// A definition that cannot be used: its [`Problem`] names the state and field where it is.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum DefinitionError {
    /// The text is not JSON.
    #[error("definition is not valid JSON: {0}")]
    Json(String),
    /// A `${Name}` placeholder has no value.
    #[error("definition substitution failed: {0}")]
    Substitution(String),
    /// The JSON does not follow the States Language (or uses a feature this engine lacks).
    #[error("invalid definition: {0}")]
    Invalid(Problem),
}

/// What is wrong in a definition, and where.
#[derive(Debug, Clone, Error, PartialEq)]
pub enum Problem {
    /// A problem of a machine as a whole: its top-level fields, StartAt, States, reachability.
    #[error("{0}")]
    Machine(String),
    /// A problem in one state; `field` names the field when there is one (`Retry[0]`, `Parameters`).
    #[error("state '{state}': {}{message}", field.as_deref().map(|f| format!("{f}: ")).unwrap_or_default())]
    State { state: String, field: Option<String>, message: String },
    /// A problem inside a Parallel branch or a Map processor (`part`) of state `state`.
    #[error("state '{state}', {part}: {problem}")]
    Nested { state: String, part: String, problem: Box<Problem> },
}

/// Errors of the [`crate::Engine`] API (not of executions: those end FAILED instead).
#[derive(Debug, Clone, Error, PartialEq)]
pub enum EngineError {
    #[error("StateMachineDoesNotExist: {0}")]
    StateMachineDoesNotExist(String),
    #[error("ExecutionDoesNotExist: {0}")]
    ExecutionDoesNotExist(String),
    #[error("ExecutionAlreadyExists: {0}")]
    ExecutionAlreadyExists(String),
    #[error("InvalidName: {0}")]
    InvalidName(String),
    #[error("InvalidOptions: {0}")]
    InvalidOptions(String),
    #[error("store error: {0}")]
    Store(String),
}

/// An error raised inside an execution: a States Language error name and a cause.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StatesError {
    pub error: String,
    pub cause: String,
    /// The field whose JSONata evaluation failed, until an `EvaluationFailed` event reports it.
    pub evaluation_location: Option<String>,
}

impl StatesError {
    pub fn new(error: &str, cause: impl Into<String>) -> Self {
        StatesError { error: error.to_string(), cause: cause.into(), evaluation_location: None }
    }
    /// `States.QueryEvaluationError` from evaluating `field` (reported by an `EvaluationFailed` event).
    pub fn evaluation(field: &str, cause: impl Into<String>) -> Self {
        StatesError { evaluation_location: Some(field.to_string()), ..Self::new(names::QUERY_EVALUATION_ERROR, cause) }
    }
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }
    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new(names::INTRINSIC_FAILURE, cause)
    }
}

/// Predefined error names.
pub mod names {
    /// Matches every error but `States.Runtime` and `States.DataLimitExceeded`.
    pub const ALL: &str = "States.ALL";
    /// Matches every error but `States.Timeout` (and the two that `States.ALL` misses).
    pub const TASK_FAILED: &str = "States.TaskFailed";
    /// A Task ran longer than its TimeoutSeconds, or the execution longer than its own.
    pub const TIMEOUT: &str = "States.Timeout";
    /// A path that matches nothing, a value of the wrong type: never retried or caught.
    pub const RUNTIME: &str = "States.Runtime";
    /// A payload over 256 KiB; caught or retried only when named exactly.
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    /// A Choice state matched no rule and has no Default.
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    /// Defined by the spec; like AWS, this engine reports a `.$` path that matches nothing as
    /// `States.Runtime` instead.
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    /// ResultPath cannot be applied to the state's input.
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    /// An intrinsic function failed on its arguments.
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    /// A Distributed Map's ItemReader could not read its items (S3 error, malformed file, an item
    /// over the limits).
    pub const ITEM_READER_FAILED: &str = "States.ItemReaderFailed";
    /// A Distributed Map's ResultWriter could not write its results.
    pub const RESULT_WRITER_FAILED: &str = "States.ResultWriterFailed";
    /// More items of a Distributed Map failed than ToleratedFailureCount/Percentage allow.
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
    /// A JSONata expression failed or returned nothing where a value is needed.
    pub const QUERY_EVALUATION_ERROR: &str = "States.QueryEvaluationError";
}

/// The payload limit of Step Functions: 256 KiB for a state's input, result or output.
pub const PAYLOAD_LIMIT_BYTES: usize = 256 * 1024;
