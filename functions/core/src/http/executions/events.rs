//! The event history as the console shows it: each GetExecutionHistory event with the state it
//! belongs to, which attempt a task call is, its input or output (redacted) and its error as
//! code + sentence.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::redact::{payload, redact};
use crate::http::failure::ClientFailure;

/// Events shown, at most (the pipeline writes a few dozen; AWS caps a history at 25,000).
pub const MAX_EVENTS: usize = 1000;

/// One event of `GET /executions/{name}`.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub id: u64,
    pub previous_event_id: u64,
    #[serde(rename = "type")]
    pub event_type: String,
    pub timestamp: Option<String>,
    /// The state the event belongs to (entered, exited, or running when the event happened).
    pub state: Option<String>,
    /// For a task call (`TaskScheduled`, `LambdaFunctionScheduled`): 1 for the first, 2 for the
    /// first retry, ...
    pub attempt: Option<u32>,
    pub input: Option<Value>,
    pub output: Option<Value>,
    /// The workflow variables a state assigned (`assignedVariables` of its `…StateExited` event),
    /// name to value.
    pub variables: Option<Map<String, Value>>,
    pub error: Option<ClientFailure>,
}

/// A history event as the execution source gives it.
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawEvent {
    #[serde(default)]
    pub id: u64,
    #[serde(default)]
    pub previous_event_id: u64,
    #[serde(rename = "type", default)]
    pub event_type: String,
    #[serde(default)]
    pub timestamp: Value,
    #[serde(flatten)]
    pub rest: Map<String, Value>,
}

/// The fields of an `…EventDetails` member the console reads.
#[derive(Debug, Deserialize, Default)]
pub(super) struct Details {
    pub name: Option<String>,
    pub input: Option<String>,
    pub output: Option<String>,
    pub parameters: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// Variable name to its value as JSON text.
    #[serde(rename = "assignedVariables")]
    pub assigned_variables: Option<Map<String, Value>>,
}

impl RawEvent {
    /// `value` as an event; a value of another shape is an event of no known type.
    pub fn parse(value: &Value) -> RawEvent {
        RawEvent::deserialize(value).unwrap_or_default()
    }

    /// Its `…EventDetails` member.
    pub fn details(&self) -> Details {
        self.rest
            .iter()
            .find(|(key, _)| key.ends_with("EventDetails"))
            .and_then(|(_, v)| Details::deserialize(v).ok())
            .unwrap_or_default()
    }

    /// Is this a failed or timed-out attempt of a task?
    pub fn is_task_failure(&self) -> bool {
        matches!(
            self.event_type.as_str(),
            "TaskFailed"
                | "TaskTimedOut"
                | "TaskStartFailed"
                | "TaskSubmitFailed"
                | "LambdaFunctionFailed"
                | "LambdaFunctionTimedOut"
                | "LambdaFunctionStartFailed"
                | "LambdaFunctionScheduleFailed"
        )
    }

    /// Is this a task call being scheduled (one attempt)?
    pub fn is_task_call(&self) -> bool {
        matches!(self.event_type.as_str(), "TaskScheduled" | "LambdaFunctionScheduled")
    }
}

/// The events shown, and whether there were more.
pub fn view(history: &[Value]) -> (Vec<EventView>, bool) {
    let mut current: Option<String> = None;
    let mut attempts = 0u32;
    let mut shown = Vec::with_capacity(history.len().min(MAX_EVENTS));
    for value in history.iter().take(MAX_EVENTS) {
        let event = RawEvent::parse(value);
        let details = event.details();
        let kind = event.event_type.as_str();
        if kind.ends_with("StateEntered") {
            current = details.name.clone();
            attempts = 0;
        }
        let attempt = event.is_task_call().then(|| {
            attempts += 1;
            attempts
        });
        let has_error = details.error.is_some() || details.cause.is_some();
        shown.push(EventView {
            id: event.id,
            previous_event_id: event.previous_event_id,
            event_type: event.event_type.clone(),
            timestamp: timestamp(&event.timestamp),
            state: if kind.starts_with("Execution") { None } else { current.clone() },
            attempt,
            input: details.input.as_deref().or(details.parameters.as_deref()).map(payload),
            output: details.output.as_deref().map(payload),
            variables: details.assigned_variables.map(variables),
            error: has_error.then(|| {
                ClientFailure::of_step(
                    details.error.as_deref().unwrap_or_default(),
                    details.cause.as_deref().unwrap_or_default(),
                )
            }),
        });
        if kind.ends_with("StateExited") {
            current = None;
        }
    }
    (shown, history.len() > MAX_EVENTS)
}

/// Assigned variables as shown: each value parsed and redacted like a payload.
fn variables(assigned: Map<String, Value>) -> Map<String, Value> {
    assigned
        .into_iter()
        .map(|(name, value)| {
            let shown = match value {
                Value::String(text) => payload(&text),
                other => redact(other),
            };
            (name, shown)
        })
        .collect()
}

/// RFC 3339 with milliseconds, from an RFC 3339 string or epoch seconds.
pub(super) fn timestamp(value: &Value) -> Option<String> {
    let at = match value {
        Value::String(s) => chrono::DateTime::parse_from_rfc3339(s).ok().map(|t| t.with_timezone(&chrono::Utc)),
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite())
            .and_then(|s| chrono::DateTime::from_timestamp_millis((s * 1000.0) as i64)),
        _ => None,
    };
    at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CAUSE: &str = "service error arn:aws:lambda:eu-west-1:123456789012:function:detect RequestId 7f";

    #[test]
    fn events_carry_their_state_attempt_payloads_and_errors_without_causes() {
        let input = json!({"detail": {"object": {"key": "uploads/x.jpg"}}, "account": "123456789012"}).to_string();
        let history = vec![
            json!({"id": 1, "previousEventId": 0, "type": "ExecutionStarted", "timestamp": "2026-01-01T00:00:00Z",
                "executionStartedEventDetails": {"input": input, "roleArn": "arn:aws:iam::123456789012:role/r"}}),
            json!({"id": 2, "previousEventId": 1, "type": "TaskStateEntered", "timestamp": 1767225600.25,
                "stateEnteredEventDetails": {"name": "DetectLabels", "input": "{\"a\":1}"}}),
            json!({"id": 3, "previousEventId": 2, "type": "TaskScheduled", "timestamp": "2026-01-01T00:00:00.300Z",
                "taskScheduledEventDetails": {"resource": "arn:aws:lambda:x", "parameters": "{\"image\":{}}"}}),
            json!({"id": 4, "previousEventId": 3, "type": "TaskFailed", "timestamp": "2026-01-01T00:00:00.400Z",
                "taskFailedEventDetails": {"error": "Retryable", "cause": CAUSE}}),
            json!({"id": 5, "previousEventId": 4, "type": "TaskScheduled", "timestamp": "2026-01-01T00:00:01Z",
                "taskScheduledEventDetails": {"parameters": "{}"}}),
            json!({"id": 6, "previousEventId": 5, "type": "TaskSucceeded", "timestamp": "2026-01-01T00:00:02Z",
                "taskSucceededEventDetails": {"output": "{\"labels\":[]}"}}),
            json!({"id": 7, "previousEventId": 6, "type": "TaskStateExited", "timestamp": "2026-01-01T00:00:02Z",
                "stateExitedEventDetails": {"name": "DetectLabels", "output": "{\"executionId\":\"arn:aws:states:x\"}"}}),
            json!({"id": 8, "previousEventId": 7, "type": "ExecutionFailed", "timestamp": "2026-01-01T00:00:03Z",
                "executionFailedEventDetails": {"error": "States.Timeout", "cause": CAUSE}}),
        ];
        let (events, truncated) = view(&history);
        assert!(!truncated);
        assert_eq!(events.len(), 8);
        assert_eq!(events[0].input.as_ref().unwrap()["account"], super::super::redact::HIDDEN);
        assert_eq!(events[1].timestamp.as_deref(), Some("2026-01-01T00:00:00.250Z"));
        assert_eq!(events[1].state.as_deref(), Some("DetectLabels"));
        assert_eq!((events[2].attempt, events[4].attempt), (Some(1), Some(2)));
        assert_eq!(events[2].input, Some(json!({"image": {}})));
        assert_eq!(events[3].error.as_ref().unwrap().code, "STEP_FAILED");
        assert_eq!(events[3].state.as_deref(), Some("DetectLabels"));
        assert_eq!(events[5].output, Some(json!({"labels": []})));
        assert_eq!(events[6].output, Some(json!({"executionId": "(hidden)"})));
        assert_eq!((events[7].state.as_deref(), events[7].error.as_ref().unwrap().code.as_str()), (None, "TIMED_OUT"));
        let text = serde_json::to_string(&events).unwrap();
        assert!(!text.contains("123456789012") && !text.contains("arn:") && !text.contains("RequestId"), "{text}");
    }

    #[test]
    fn assigned_variables_are_shown_parsed_and_redacted() {
        let history = vec![
            json!({"id": 1, "type": "TaskStateEntered", "stateEnteredEventDetails": {"name": "Validate"}}),
            json!({"id": 2, "type": "TaskStateExited", "stateExitedEventDetails": {"name": "Validate", "output": "{}",
                "assignedVariables": {"image": "{\"width\":640}", "who": "\"arn:aws:iam::123456789012:role/r\"",
                    "odd": 5, "text": "not json"},
                "assignedVariablesDetails": {"truncated": false}}}),
            json!({"id": 3, "type": "PassStateExited", "stateExitedEventDetails": {"name": "P", "output": "{}"}}),
        ];
        let (events, _) = view(&history);
        let shown = events[1].variables.as_ref().expect("the exited event's variables");
        assert_eq!(shown["image"], json!({"width": 640}));
        assert_eq!(shown["who"], super::super::redact::HIDDEN);
        assert_eq!((&shown["odd"], &shown["text"]), (&json!(5), &json!("not json")));
        assert!(events[0].variables.is_none() && events[2].variables.is_none());
    }

    #[test]
    fn odd_events_are_shown_as_far_as_they_go_and_long_histories_are_cut() {
        let (events, _) = view(&[json!(null), json!("x"), json!({"type": 5}), json!({"id": -1, "type": "X"})]);
        assert_eq!(events.len(), 4);
        assert!(events.iter().all(|e| e.event_type.is_empty() && e.input.is_none() && e.error.is_none()));
        let (events, _) = view(&[json!({"type": "TaskScheduled", "timestamp": f64::MAX})]);
        assert_eq!((events[0].timestamp.as_deref(), events[0].attempt), (None, Some(1)));
        let many = vec![json!({"type": "PassStateEntered"}); MAX_EVENTS + 5];
        let (events, truncated) = view(&many);
        assert_eq!((events.len(), truncated), (MAX_EVENTS, true));
    }
}
