//! Execution descriptions and history events, serialized like the Step Functions JSON API
//! (DescribeExecution and GetExecutionHistory).

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The status of an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    /// The name used by the Step Functions API (`RUNNING`, `SUCCEEDED`, ...).
    pub fn as_str(&self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What DescribeExecution returns. `input` and `output` are JSON text, as in the AWS API; dates
/// are RFC 3339 strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDescription {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: ExecutionStatus,
    pub start_date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_date: Option<String>,
    pub input: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl ExecutionDescription {
    /// The output parsed as JSON (`None` unless SUCCEEDED).
    pub fn output_json(&self) -> Option<Value> {
        self.output.as_deref().and_then(|o| serde_json::from_str(o).ok())
    }
}

/// One GetExecutionHistory event: `{"timestamp", "type", "id", "previousEventId",
/// "<kind>EventDetails": {...}}`. JSON payloads inside details (`input`, `output`,
/// `parameters`) are JSON text, as in the AWS API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    pub timestamp: String,
    #[serde(rename = "type")]
    pub event_type: String,
    pub id: u64,
    pub previous_event_id: u64,
    /// The `...EventDetails` member (at most one), keyed by its AWS name.
    #[serde(flatten)]
    pub details: Map<String, Value>,
}

impl HistoryEvent {
    /// The details object, whatever its key.
    pub fn detail(&self) -> Option<&Value> {
        self.details.values().next()
    }

    /// A string field of the details (`name`, `error`, `cause`, `input`, `output`, ...).
    pub fn detail_str(&self, field: &str) -> Option<&str> {
        self.detail()?.get(field)?.as_str()
    }
}
