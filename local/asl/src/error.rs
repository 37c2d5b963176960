//! Error types: definition problems, engine API errors and States Language runtime errors.

use thiserror::Error;

/// A definition that cannot be used, with a message naming the problem (and the state).
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
    Invalid(String),
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
}

impl StatesError {
    pub fn new(error: &str, cause: impl Into<String>) -> Self {
        StatesError { error: error.to_string(), cause: cause.into() }
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
    pub const ALL: &str = "States.ALL";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const RUNTIME: &str = "States.Runtime";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const PARAMETER_PATH_FAILURE: &str = "States.ParameterPathFailure";
    pub const RESULT_PATH_MATCH_FAILURE: &str = "States.ResultPathMatchFailure";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
}
