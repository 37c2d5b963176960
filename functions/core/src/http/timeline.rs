//! Execution timelines: the `Executions` port (Step Functions on AWS, the embedded engine
//! locally) and the per-state view the page shows, built from GetExecutionHistory-shaped events.
//! Clients see state names, times, statuses and failures as code + sentence
//! ([`ClientFailure`]); error causes stay in the history.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::{json, Value};

use super::executions::{ExecutionFacts, ExecutionPage, ExecutionStatus, ListQuery};
use super::failure::ClientFailure;
use crate::error::{classify_sdk_error, StepError};
use crate::steps::detect::BoxFuture;

/// Where the pipeline's executions and their histories come from.
pub trait Executions: Send + Sync {
    /// The execution's events, shaped like GetExecutionHistory's JSON (`type`, `id`,
    /// `timestamp`, `stateEnteredEventDetails`, `taskFailedEventDetails`, ...).
    fn history<'a>(&'a self, execution_arn: &'a str) -> BoxFuture<'a, Result<Vec<Value>, StepError>>;

    /// A page of the pipeline's executions, newest first (ListExecutions, with each one's input).
    fn list<'a>(&'a self, query: ListQuery<'a>) -> BoxFuture<'a, Result<ExecutionPage, StepError>>;

    /// The pipeline's execution called `name` (DescribeExecution); `None` when there is none.
    fn describe<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<ExecutionFacts>, StepError>>;

    /// The definition (ASL JSON text) the execution runs.
    fn definition<'a>(&'a self, execution_arn: &'a str) -> BoxFuture<'a, Result<String, StepError>>;
}

/// How a state's row ended, so far.
#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StepStatus {
    /// Entered, not yet exited.
    Running,
    /// Exited after its last attempt succeeded.
    Succeeded,
    /// Its last attempt failed (the error may have been caught), or it is a Fail state.
    Failed,
}

/// One state's row in the timeline.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TimelineEntry {
    pub state: String,
    #[serde(rename = "type")]
    pub state_type: String,
    pub entered_at: Option<String>,
    pub exited_at: Option<String>,
    pub duration_ms: Option<i64>,
    /// Task invocations (1 + retries); 0 for states that call nothing.
    pub attempts: u32,
    pub status: StepStatus,
    /// Each failed attempt, as code + sentence.
    pub errors: Vec<ClientFailure>,
}

/// Folds history events into one entry per entered state, in order.
pub fn build_timeline(events: &[Value]) -> Vec<TimelineEntry> {
    let mut entries: Vec<TimelineEntry> = Vec::new();
    let mut open: Option<usize> = None;
    for ev in events {
        let kind = ev["type"].as_str().unwrap_or_default();
        let at = timestamp(&ev["timestamp"]);
        if let Some(state_type) = kind.strip_suffix("StateEntered") {
            entries.push(TimelineEntry {
                state: ev["stateEnteredEventDetails"]["name"].as_str().unwrap_or("?").to_string(),
                state_type: state_type.to_string(),
                entered_at: at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                exited_at: None,
                duration_ms: None,
                attempts: 0,
                status: if state_type == "Fail" { StepStatus::Failed } else { StepStatus::Running },
                errors: Vec::new(),
            });
            open = Some(entries.len() - 1);
        } else if kind.ends_with("StateExited") {
            if let Some(entry) = open.and_then(|i| entries.get_mut(i)) {
                entry.exited_at = at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
                let entered = entry.entered_at.as_deref().and_then(|s| DateTime::parse_from_rfc3339(s).ok());
                entry.duration_ms = match (entered, at) {
                    (Some(a), Some(b)) => Some((b - a.with_timezone(&Utc)).num_milliseconds()),
                    _ => None,
                };
                if entry.status == StepStatus::Running {
                    entry.status = StepStatus::Succeeded;
                }
            }
            open = None;
        } else if matches!(kind, "TaskScheduled" | "LambdaFunctionScheduled") {
            if let Some(entry) = open.and_then(|i| entries.get_mut(i)) {
                entry.attempts += 1;
                entry.status = StepStatus::Running;
            }
        } else if let Some(details) = failure_details(ev, kind) {
            if let Some(entry) = open.and_then(|i| entries.get_mut(i)) {
                let text = |field: &str| details[field].as_str().unwrap_or_default().to_string();
                entry.errors.push(ClientFailure::of_step(&text("error"), &text("cause")));
                entry.status = StepStatus::Failed;
            }
        }
    }
    entries
}

fn failure_details<'a>(ev: &'a Value, kind: &str) -> Option<&'a Value> {
    let field = match kind {
        "TaskFailed" => "taskFailedEventDetails",
        "TaskTimedOut" => "taskTimedOutEventDetails",
        "LambdaFunctionFailed" => "lambdaFunctionFailedEventDetails",
        "LambdaFunctionTimedOut" => "lambdaFunctionTimedOutEventDetails",
        "LambdaFunctionScheduleFailed" => "lambdaFunctionScheduleFailedEventDetails",
        "LambdaFunctionStartFailed" => "lambdaFunctionStartFailedEventDetails",
        _ => return None,
    };
    ev.get(field)
}

/// History timestamps: RFC 3339 strings, or epoch seconds as the JSON API sends them.
fn timestamp(v: &Value) -> Option<DateTime<Utc>> {
    match v {
        Value::String(s) => DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => n.as_f64().and_then(|s| DateTime::from_timestamp_millis((s * 1000.0) as i64)),
        _ => None,
    }
}

/// AWS Step Functions as the `Executions` port.
pub struct SfnExecutions {
    client: aws_sdk_sfn::Client,
    /// The pipeline, whose executions [`Executions::list`] and [`Executions::describe`] read.
    state_machine_arn: String,
}

impl SfnExecutions {
    /// Over an SFN client, for the executions of `state_machine_arn` (the pipeline).
    pub fn new(client: aws_sdk_sfn::Client, state_machine_arn: String) -> Self {
        SfnExecutions { client, state_machine_arn }
    }

    async fn describe_arn(&self, execution_arn: &str) -> Result<Option<ExecutionFacts>, StepError> {
        use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
        let out = match self.client.describe_execution().execution_arn(execution_arn).send().await {
            Ok(out) => out,
            Err(e) if matches!(e.as_service_error(), Some(DescribeExecutionError::ExecutionDoesNotExist(_))) => {
                return Ok(None)
            }
            Err(e) => return Err(classify_sdk_error("describing an execution", &e)),
        };
        let Some(status) = ExecutionStatus::parse(out.status().as_str()) else { return Ok(None) };
        Ok(Some(ExecutionFacts {
            execution_arn: out.execution_arn().to_string(),
            name: out.name().unwrap_or_default().to_string(),
            status,
            start_date: sdk_time(out.start_date()),
            stop_date: out.stop_date().map(sdk_time),
            input: out.input().unwrap_or("{}").to_string(),
            error: out.error().map(str::to_string),
            cause: out.cause().map(str::to_string),
        }))
    }
}

fn sdk_time(t: &aws_sdk_sfn::primitives::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or_default()
}

impl Executions for SfnExecutions {
    fn history<'a>(&'a self, execution_arn: &'a str) -> BoxFuture<'a, Result<Vec<Value>, StepError>> {
        Box::pin(async move {
            let mut pages = self.client.get_execution_history().execution_arn(execution_arn).into_paginator().send();
            let mut events = Vec::new();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| classify_sdk_error("reading the execution history", &e))?;
                events.extend(page.events().iter().map(sfn_event_json));
                if events.len() > 5000 {
                    break;
                }
            }
            Ok(events)
        })
    }

    fn list<'a>(&'a self, query: ListQuery<'a>) -> BoxFuture<'a, Result<ExecutionPage, StepError>> {
        Box::pin(async move {
            let status = query.status.map(|s| aws_sdk_sfn::types::ExecutionStatus::from(s.as_str()));
            let max = i32::try_from(query.max_results.clamp(1, 1000)).unwrap_or(1000);
            let out = self
                .client
                .list_executions()
                .state_machine_arn(&self.state_machine_arn)
                .set_status_filter(status)
                .set_next_token(query.next_token.map(str::to_string))
                .max_results(max)
                .send()
                .await
                .map_err(|e| classify_sdk_error("listing executions", &e))?;
            // The list carries no inputs, and an execution is the caller's by its input.
            let mut items = Vec::with_capacity(out.executions().len());
            for summary in out.executions() {
                items.extend(self.describe_arn(summary.execution_arn()).await?);
            }
            Ok(ExecutionPage { items, next_token: out.next_token().map(str::to_string) })
        })
    }

    fn describe<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<ExecutionFacts>, StepError>> {
        Box::pin(async move {
            let machine = &self.state_machine_arn;
            let Some(prefix) = machine.split_once(":stateMachine:").map(|(p, m)| format!("{p}:execution:{m}")) else {
                return Err(StepError::Internal(format!("{machine} is not a state machine ARN")));
            };
            self.describe_arn(&format!("{prefix}:{name}")).await
        })
    }

    fn definition<'a>(&'a self, execution_arn: &'a str) -> BoxFuture<'a, Result<String, StepError>> {
        Box::pin(async move {
            let out = self
                .client
                .describe_state_machine_for_execution()
                .execution_arn(execution_arn)
                .send()
                .await
                .map_err(|e| classify_sdk_error("reading the state machine definition", &e))?;
            Ok(out.definition().to_string())
        })
    }
}

fn sfn_event_json(e: &aws_sdk_sfn::types::HistoryEvent) -> Value {
    let ts = DateTime::from_timestamp(e.timestamp().secs(), e.timestamp().subsec_nanos()).unwrap_or_default();
    let mut v = json!({
        "id": e.id(),
        "previousEventId": e.previous_event_id(),
        "type": e.r#type().as_str(),
        "timestamp": ts.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
    });
    let fail = |error: Option<&str>, cause: Option<&str>| json!({ "error": error, "cause": cause });
    if let Some(d) = e.execution_started_event_details() {
        v["executionStartedEventDetails"] = json!({ "input": d.input() });
    }
    if let Some(d) = e.execution_succeeded_event_details() {
        v["executionSucceededEventDetails"] = json!({ "output": d.output() });
    }
    if let Some(d) = e.state_entered_event_details() {
        v["stateEnteredEventDetails"] = json!({ "name": d.name(), "input": d.input() });
    }
    if let Some(d) = e.state_exited_event_details() {
        v["stateExitedEventDetails"] = json!({ "name": d.name(), "output": d.output() });
    }
    if let Some(d) = e.task_scheduled_event_details() {
        v["taskScheduledEventDetails"] = json!({ "parameters": d.parameters() });
    }
    if let Some(d) = e.task_succeeded_event_details() {
        v["taskSucceededEventDetails"] = json!({ "output": d.output() });
    }
    if let Some(d) = e.lambda_function_scheduled_event_details() {
        v["lambdaFunctionScheduledEventDetails"] = json!({ "input": d.input() });
    }
    if let Some(d) = e.lambda_function_succeeded_event_details() {
        v["lambdaFunctionSucceededEventDetails"] = json!({ "output": d.output() });
    }
    if let Some(d) = e.task_failed_event_details() {
        v["taskFailedEventDetails"] = fail(d.error(), d.cause());
    }
    if let Some(d) = e.task_timed_out_event_details() {
        v["taskTimedOutEventDetails"] = fail(d.error(), d.cause());
    }
    if let Some(d) = e.lambda_function_failed_event_details() {
        v["lambdaFunctionFailedEventDetails"] = fail(d.error(), d.cause());
    }
    if let Some(d) = e.lambda_function_timed_out_event_details() {
        v["lambdaFunctionTimedOutEventDetails"] = fail(d.error(), d.cause());
    }
    if let Some(d) = e.execution_failed_event_details() {
        v["executionFailedEventDetails"] = fail(d.error(), d.cause());
    }
    if let Some(d) = e.execution_timed_out_event_details() {
        v["executionTimedOutEventDetails"] = fail(d.error(), d.cause());
    }
    if let Some(d) = e.execution_aborted_event_details() {
        v["executionAbortedEventDetails"] = fail(d.error(), d.cause());
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    const SDK_CAUSE: &str = "dispatch failure: io error; arn:aws:states:eu-west-1:123456789012:execution:P:x";

    #[test]
    fn folds_retries_and_errors_into_one_row_per_state() {
        let ev = |id: u32, t: &str, ts: &str, extra: Value| {
            let mut v = json!({"id": id, "type": t, "timestamp": ts});
            if let (Some(o), Some(e)) = (v.as_object_mut(), extra.as_object()) {
                o.extend(e.clone());
            }
            v
        };
        let events = vec![
            ev(1, "ExecutionStarted", "2026-01-01T00:00:00Z", json!({})),
            ev(
                2,
                "TaskStateEntered",
                "2026-01-01T00:00:00.100Z",
                json!({"stateEnteredEventDetails": {"name": "DetectLabels"}}),
            ),
            ev(3, "LambdaFunctionScheduled", "2026-01-01T00:00:00.100Z", json!({})),
            ev(
                4,
                "LambdaFunctionFailed",
                "2026-01-01T00:00:00.200Z",
                json!({"lambdaFunctionFailedEventDetails": {"error": "Retryable", "cause": SDK_CAUSE}}),
            ),
            ev(5, "LambdaFunctionScheduled", "2026-01-01T00:00:01Z", json!({})),
            ev(
                6,
                "TaskStateExited",
                "2026-01-01T00:00:01.600Z",
                json!({"stateExitedEventDetails": {"name": "DetectLabels"}}),
            ),
            ev(
                7,
                "PassStateEntered",
                1767225602.0.to_string().as_str(),
                json!({"stateEnteredEventDetails": {"name": "P"}}),
            ),
        ];
        let rows = build_timeline(&events);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].state, "DetectLabels");
        assert_eq!(rows[0].state_type, "Task");
        assert_eq!(rows[0].attempts, 2);
        assert_eq!(rows[0].duration_ms, Some(1500));
        assert_eq!(rows[0].errors, vec![ClientFailure::of_step("Retryable", "")]);
        assert_eq!(rows[0].status, StepStatus::Succeeded, "a retry that succeeded");
        assert_eq!((rows[1].exited_at.as_deref(), rows[1].status), (None, StepStatus::Running));
        let shown = serde_json::to_string(&rows).unwrap();
        assert!(!shown.contains("123456789012") && !shown.contains("arn:") && !shown.contains("Dispatch"), "{shown}");
    }

    #[test]
    fn a_failure_caught_at_the_last_attempt_shows_as_failed_with_its_code() {
        let cause =
            json!({"errorType": "ImageRejected", "errorMessage": "CORRUPT: The header is damaged."}).to_string();
        let events = vec![
            json!({"type": "TaskStateEntered", "timestamp": "2026-01-01T00:00:00Z", "stateEnteredEventDetails": {"name": "Validate"}}),
            json!({"type": "TaskScheduled", "timestamp": "2026-01-01T00:00:00Z"}),
            json!({"type": "TaskFailed", "timestamp": "2026-01-01T00:00:01Z", "taskFailedEventDetails": {"error": "ImageRejected", "cause": cause}}),
            json!({"type": "TaskStateExited", "timestamp": "2026-01-01T00:00:01Z", "stateExitedEventDetails": {"name": "Validate"}}),
            json!({"type": "FailStateEntered", "timestamp": "2026-01-01T00:00:02Z", "stateEnteredEventDetails": {"name": "Fail"}}),
        ];
        let rows = build_timeline(&events);
        assert_eq!(rows[0].status, StepStatus::Failed);
        assert_eq!(
            (rows[0].errors[0].code.as_str(), rows[0].errors[0].message.as_str()),
            ("CORRUPT", "The header is damaged.")
        );
        assert_eq!((rows[1].state_type.as_str(), rows[1].status), ("Fail", StepStatus::Failed));
    }
}
