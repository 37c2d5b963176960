//! The operations over the engine. Requests are typed with every member optional, so a missing
//! or out-of-range member is a `ValidationException` naming it (as AWS's model checks do) and
//! only a member of the wrong JSON type is a `SerializationException`. Responses are typed
//! too, with dates as epoch seconds, as the JSON protocol carries timestamps.

use std::sync::Arc;

use asl::{Engine, EngineError, ExecutionDescription, ExecutionStatus, HistoryEvent};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::arn::{self, Kind};
use crate::error::{constraint, ApiError};
use crate::token::Tokens;

/// Page size when `maxResults` is 0 or absent (AWS: 100).
const DEFAULT_PAGE_SIZE: usize = 100;
const MAX_PAGE_SIZE: i64 = 1000;
const MAX_ARN: usize = 256;
const MAX_NAME: usize = 80;
const MAX_INPUT: usize = 262_144;
const MAX_ERROR: usize = 256;
const MAX_CAUSE: usize = 32_768;
const MAX_PAGE_TOKEN: usize = 1024;
const MAX_LIST_EXECUTIONS_TOKEN: usize = 3096;
const STATUSES: [ExecutionStatus; 5] = [
    ExecutionStatus::Running,
    ExecutionStatus::Succeeded,
    ExecutionStatus::Failed,
    ExecutionStatus::TimedOut,
    ExecutionStatus::Aborted,
];
/// A status AWS lists that the local engine never reaches (it has no redrive).
const PENDING_REDRIVE: &str = "PENDING_REDRIVE";

/// The API over one engine.
pub(crate) struct Api {
    engine: Arc<Engine>,
    tokens: Tokens,
    /// When the state machines were registered, as far as the API can tell: its own start.
    created: f64,
}

impl Api {
    pub fn new(engine: Arc<Engine>) -> Self {
        Self { engine, tokens: Tokens::new(), created: now_millis() as f64 / 1000.0 }
    }

    /// Runs `operation` (the part of `X-Amz-Target` after `AWSStepFunctions.`) on a JSON body;
    /// the response body.
    pub async fn call(&self, operation: &str, body: &[u8]) -> Result<String, ApiError> {
        match operation {
            "ListStateMachines" => reply(self.list_state_machines(parse(body)?)),
            "DescribeStateMachine" => reply(self.describe_state_machine(parse(body)?)),
            "StartExecution" => reply(self.start_execution(parse(body)?).await),
            "StopExecution" => reply(self.stop_execution(parse(body)?).await),
            "ListExecutions" => reply(self.list_executions(parse(body)?)),
            "DescribeExecution" => reply(self.describe_execution(parse(body)?)),
            "GetExecutionHistory" => reply(self.get_execution_history(parse(body)?)),
            _ => Err(ApiError::unknown_operation(Some(&format!("AWSStepFunctions.{operation}")))),
        }
    }

    fn list_state_machines(&self, input: ListStateMachinesInput) -> Result<ListStateMachinesOutput, ApiError> {
        let mut checks = Checks::default();
        let size = checks.page_size(input.max_results);
        checks.length(input.next_token.as_deref(), "nextToken", 1, MAX_PAGE_TOKEN, true);
        checks.finish()?;
        let scope = "ListStateMachines";
        let after = self.position(input.next_token.as_deref(), scope)?;
        let machines = self.engine.state_machines().into_iter().map(|(arn, _)| arn);
        let remaining = machines.filter(|arn| after.as_deref().is_none_or(|after| arn.as_str() > after));
        let (arns, next_token) = self.page(remaining, size, scope, |arn| arn.clone());
        let state_machines = arns
            .into_iter()
            .map(|arn| StateMachineListItem {
                name: arn::name(&arn).to_owned(),
                state_machine_arn: arn,
                machine_type: STANDARD,
                creation_date: self.created,
            })
            .collect();
        Ok(ListStateMachinesOutput { state_machines, next_token })
    }

    fn describe_state_machine(&self, input: ArnInput) -> Result<DescribeStateMachineOutput, ApiError> {
        let arn = required_arn(input.state_machine_arn.as_deref(), "stateMachineArn", Kind::StateMachine)?;
        let (arn, definition) = self
            .engine
            .state_machines()
            .into_iter()
            .find(|(registered, _)| registered == arn)
            .ok_or_else(|| ApiError::state_machine_does_not_exist(arn))?;
        Ok(DescribeStateMachineOutput {
            name: arn::name(&arn).to_owned(),
            state_machine_arn: arn,
            status: "ACTIVE",
            definition: definition.as_json().to_owned(),
            role_arn: crate::ROLE_ARN,
            machine_type: STANDARD,
            creation_date: self.created,
            logging_configuration: LoggingConfiguration { level: "OFF", include_execution_data: false },
            tracing_configuration: TracingConfiguration { enabled: false },
        })
    }

    async fn start_execution(&self, input: StartExecutionInput) -> Result<StartExecutionOutput, ApiError> {
        let mut checks = Checks::default();
        checks.required(input.state_machine_arn.as_deref(), "stateMachineArn");
        checks.length(input.state_machine_arn.as_deref(), "stateMachineArn", 1, MAX_ARN, false);
        checks.length(input.name.as_deref(), "name", 1, MAX_NAME, false);
        checks.length(input.input.as_deref(), "input", 0, MAX_INPUT, true);
        checks.finish()?;
        let machine = input.state_machine_arn.as_deref().unwrap_or_default();
        arn::check(machine, Kind::StateMachine)?;
        let execution_input: Value = serde_json::from_str(input.input.as_deref().unwrap_or("{}"))
            .map_err(|e| ApiError::invalid_execution_input(&e.to_string()))?;
        let execution_arn =
            self.engine.start_execution(machine, input.name, execution_input).await.map_err(engine_error)?;
        let started = self.described(&execution_arn)?;
        Ok(StartExecutionOutput { start_date: epoch(&started.start_date), execution_arn })
    }

    async fn stop_execution(&self, input: StopExecutionInput) -> Result<StopExecutionOutput, ApiError> {
        let mut checks = Checks::default();
        checks.length(input.error.as_deref(), "error", 0, MAX_ERROR, true);
        checks.length(input.cause.as_deref(), "cause", 0, MAX_CAUSE, true);
        let arn = checks.arn(input.execution_arn.as_deref(), "executionArn", Kind::Execution)?;
        let stopped = self.engine.stop_execution(arn, input.error, input.cause).await.map_err(engine_error)?;
        let stop_date = stopped.stop_date.as_deref().map_or_else(|| now_millis() as f64 / 1000.0, epoch);
        Ok(StopExecutionOutput { stop_date })
    }

    fn list_executions(&self, input: ListExecutionsInput) -> Result<ListExecutionsOutput, ApiError> {
        if let Some(map_run) = input.map_run_arn.as_deref() {
            return Err(ApiError::resource_not_found(format!("Resource not found: '{map_run}'")));
        }
        let mut checks = Checks::default();
        let size = checks.page_size(input.max_results);
        checks.length(input.next_token.as_deref(), "nextToken", 1, MAX_LIST_EXECUTIONS_TOKEN, true);
        let filter = checks.status_filter(input.status_filter.as_deref());
        let Some(machine) = input.state_machine_arn.as_deref() else {
            checks.finish()?;
            return Err(ApiError::validation(&["Must provide a StateMachine ARN or MapRun ARN".into()]));
        };
        let machine = checks.arn(Some(machine), "stateMachineArn", Kind::StateMachine)?;
        if !self.engine.state_machines().iter().any(|(arn, _)| arn == machine) {
            return Err(ApiError::state_machine_does_not_exist(machine));
        }
        let scope = format!("ListExecutions|{machine}|{}", input.status_filter.as_deref().unwrap_or_default());
        let after = self.position(input.next_token.as_deref(), &scope)?;
        let after = after.as_deref().map(|a| a.split_once('|').unwrap_or((a, "")));
        let executions = self.engine.list_executions().into_iter().rev();
        let remaining = executions
            .filter(|e| e.state_machine_arn == machine && filter.is_none_or(|f| f == Some(e.status)))
            .filter(|e| after.is_none_or(|after| (e.start_date.as_str(), e.execution_arn.as_str()) < after));
        let (page, next_token) =
            self.page(remaining, size, &scope, |e| format!("{}|{}", e.start_date, e.execution_arn));
        let executions = page
            .into_iter()
            .map(|e| ExecutionListItem {
                start_date: epoch(&e.start_date),
                stop_date: e.stop_date.as_deref().map(epoch),
                execution_arn: e.execution_arn,
                state_machine_arn: e.state_machine_arn,
                name: e.name,
                status: e.status,
            })
            .collect();
        Ok(ListExecutionsOutput { executions, next_token })
    }

    fn describe_execution(&self, input: DescribeExecutionInput) -> Result<DescribeExecutionOutput, ApiError> {
        let mut checks = Checks::default();
        let metadata_only = checks.included_data(input.included_data.as_deref());
        let arn = checks.arn(input.execution_arn.as_deref(), "executionArn", Kind::Execution)?;
        let d = self.described(arn)?;
        let data = |text: Option<String>| if metadata_only { None } else { text };
        let included = Some(DataDetails { included: !metadata_only });
        Ok(DescribeExecutionOutput {
            start_date: epoch(&d.start_date),
            stop_date: d.stop_date.as_deref().map(epoch),
            input_details: included,
            output_details: d.output.as_ref().and(included),
            input: data(Some(d.input)),
            output: data(d.output),
            error: data(d.error),
            cause: data(d.cause),
            execution_arn: d.execution_arn,
            state_machine_arn: d.state_machine_arn,
            name: d.name,
            status: d.status,
            redrive_count: 0,
        })
    }

    fn get_execution_history(&self, input: GetExecutionHistoryInput) -> Result<GetExecutionHistoryOutput, ApiError> {
        let mut checks = Checks::default();
        let size = checks.page_size(input.max_results);
        checks.length(input.next_token.as_deref(), "nextToken", 1, MAX_PAGE_TOKEN, true);
        let arn = checks.arn(input.execution_arn.as_deref(), "executionArn", Kind::Execution)?;
        self.described(arn)?;
        let reverse = input.reverse_order.unwrap_or(false);
        let include_data = input.include_execution_data.unwrap_or(true);
        let scope = format!("GetExecutionHistory|{arn}|{reverse}|{include_data}");
        let after = match self.position(input.next_token.as_deref(), &scope)? {
            Some(id) => Some(id.parse::<u64>().map_err(|_| ApiError::invalid_token("not a page token"))?),
            None => None,
        };
        let mut events = self.engine.history(arn);
        if reverse {
            events.reverse();
        }
        let remaining = events.into_iter().filter(|e| match after {
            None => true,
            Some(after) if reverse => e.id < after,
            Some(after) => e.id > after,
        });
        let (page, next_token) = self.page(remaining, size, &scope, |e| e.id.to_string());
        let events = page.into_iter().map(|e| Event::of(e, include_data)).collect();
        Ok(GetExecutionHistoryOutput { events, next_token })
    }

    /// The description of an execution that must exist.
    fn described(&self, arn: &str) -> Result<ExecutionDescription, ApiError> {
        self.engine.describe(arn).ok_or_else(|| ApiError::execution_does_not_exist(arn))
    }

    /// Where the page after `token` starts (`None`: at the beginning).
    fn position(&self, token: Option<&str>, scope: &str) -> Result<Option<String>, ApiError> {
        token.map(|t| self.tokens.open(t, scope, now_millis() / 1000).map_err(ApiError::invalid_token)).transpose()
    }

    /// Up to `size` items of `remaining`, and a token for the rest if there is more.
    fn page<T>(
        &self,
        remaining: impl Iterator<Item = T>,
        size: usize,
        scope: &str,
        position: impl Fn(&T) -> String,
    ) -> (Vec<T>, Option<String>) {
        let mut items: Vec<T> = remaining.take(size + 1).collect();
        if items.len() <= size {
            return (items, None);
        }
        items.truncate(size);
        let next = items.last().map(|last| self.tokens.issue(scope, &position(last), now_millis() / 1000));
        (items, next)
    }
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| ApiError::serialization(&e.to_string()))
}

fn reply<T: Serialize>(output: Result<T, ApiError>) -> Result<String, ApiError> {
    serde_json::to_string(&output?).map_err(|e| ApiError::internal(&format!("cannot encode the response: {e}")))
}

fn engine_error(err: EngineError) -> ApiError {
    match err {
        EngineError::StateMachineDoesNotExist(arn) => ApiError::state_machine_does_not_exist(&arn),
        EngineError::ExecutionDoesNotExist(arn) => ApiError::execution_does_not_exist(&arn),
        EngineError::ExecutionAlreadyExists(message) => ApiError::execution_already_exists(message),
        EngineError::InvalidName(message) => ApiError::invalid_name(message),
        other => {
            tracing::error!(error = %other, "Step Functions request failed in the engine");
            ApiError::internal("the engine could not complete the request")
        }
    }
}

/// A required ARN of `kind`, with the model's constraints.
fn required_arn<'a>(value: Option<&'a str>, member: &str, kind: Kind) -> Result<&'a str, ApiError> {
    Checks::default().arn(value, member, kind)
}

/// Milliseconds since the Unix epoch.
fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// An engine date (RFC 3339) as epoch seconds with milliseconds, as the JSON protocol sends it.
fn epoch(date: &str) -> f64 {
    chrono::DateTime::parse_from_rfc3339(date).map_or(0.0, |t| t.timestamp_millis() as f64 / 1000.0)
}

/// The model's constraints, collected so one answer names every violation.
#[derive(Default)]
struct Checks(Vec<String>);

impl Checks {
    fn required(&mut self, value: Option<&str>, member: &str) {
        if value.is_none() {
            self.0.push(format!("Value null at '{member}' failed to satisfy constraint: Member must not be null"));
        }
    }

    /// Length in characters within `min..=max`; a sensitive member's value is not echoed.
    fn length(&mut self, value: Option<&str>, member: &str, min: usize, max: usize, sensitive: bool) {
        let Some(value) = value else { return };
        let shown = (!sensitive).then_some(value);
        let count = value.chars().take(max + 1).count();
        if count > max {
            self.0.push(constraint(shown, member, &format!("Member must have length less than or equal to {max}")));
        } else if count < min {
            self.0.push(constraint(shown, member, &format!("Member must have length greater than or equal to {min}")));
        }
    }

    /// `maxResults`: 0 (the default page) to 1000.
    fn page_size(&mut self, value: Option<i64>) -> usize {
        match value {
            None | Some(0) => DEFAULT_PAGE_SIZE,
            Some(n) if n < 0 => {
                let text = n.to_string();
                self.0.push(constraint(Some(&text), "maxResults", "Member must have value greater than or equal to 0"));
                DEFAULT_PAGE_SIZE
            }
            Some(n) if n > MAX_PAGE_SIZE => {
                let text = n.to_string();
                let rule = format!("Member must have value less than or equal to {MAX_PAGE_SIZE}");
                self.0.push(constraint(Some(&text), "maxResults", &rule));
                DEFAULT_PAGE_SIZE
            }
            Some(n) => usize::try_from(n).unwrap_or(DEFAULT_PAGE_SIZE),
        }
    }

    /// `statusFilter`: `None` lists every status, `Some(None)` matches nothing (PENDING_REDRIVE).
    fn status_filter(&mut self, value: Option<&str>) -> Option<Option<ExecutionStatus>> {
        let value = value?;
        if value == PENDING_REDRIVE {
            return Some(None);
        }
        if let Some(status) = STATUSES.into_iter().find(|s| s.as_str() == value) {
            return Some(Some(status));
        }
        let names: Vec<&str> = STATUSES.iter().map(|s| s.as_str()).chain([PENDING_REDRIVE]).collect();
        let rule = format!("Member must satisfy enum value set: [{}]", names.join(", "));
        self.0.push(constraint(Some(value), "statusFilter", &rule));
        None
    }

    /// `includedData`: whether only metadata is asked for.
    fn included_data(&mut self, value: Option<&str>) -> bool {
        match value {
            None | Some("ALL_DATA") => false,
            Some("METADATA_ONLY") => true,
            Some(other) => {
                let rule = "Member must satisfy enum value set: [ALL_DATA, METADATA_ONLY]";
                self.0.push(constraint(Some(other), "includedData", rule));
                false
            }
        }
    }

    /// Ends the checks with a required ARN of `kind`: every violation so far, else `InvalidArn`
    /// for anything but such an ARN.
    fn arn<'a>(mut self, value: Option<&'a str>, member: &str, kind: Kind) -> Result<&'a str, ApiError> {
        self.required(value, member);
        self.length(value, member, 1, MAX_ARN, false);
        self.finish()?;
        let arn = value.unwrap_or_default();
        arn::check(arn, kind)?;
        Ok(arn)
    }

    fn finish(self) -> Result<(), ApiError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ApiError::validation(&self.0))
        }
    }
}

const STANDARD: &str = "STANDARD";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListStateMachinesInput {
    max_results: Option<i64>,
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListStateMachinesOutput {
    state_machines: Vec<StateMachineListItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StateMachineListItem {
    state_machine_arn: String,
    name: String,
    #[serde(rename = "type")]
    machine_type: &'static str,
    creation_date: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ArnInput {
    state_machine_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DescribeStateMachineOutput {
    state_machine_arn: String,
    name: String,
    status: &'static str,
    definition: String,
    role_arn: &'static str,
    #[serde(rename = "type")]
    machine_type: &'static str,
    creation_date: f64,
    logging_configuration: LoggingConfiguration,
    tracing_configuration: TracingConfiguration,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LoggingConfiguration {
    level: &'static str,
    include_execution_data: bool,
}

#[derive(Serialize)]
struct TracingConfiguration {
    enabled: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StartExecutionInput {
    state_machine_arn: Option<String>,
    name: Option<String>,
    input: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StartExecutionOutput {
    execution_arn: String,
    start_date: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct StopExecutionInput {
    execution_arn: Option<String>,
    error: Option<String>,
    cause: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct StopExecutionOutput {
    stop_date: f64,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListExecutionsInput {
    state_machine_arn: Option<String>,
    status_filter: Option<String>,
    max_results: Option<i64>,
    next_token: Option<String>,
    map_run_arn: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ListExecutionsOutput {
    executions: Vec<ExecutionListItem>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExecutionListItem {
    execution_arn: String,
    state_machine_arn: String,
    name: String,
    status: ExecutionStatus,
    start_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_date: Option<f64>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DescribeExecutionInput {
    execution_arn: Option<String>,
    included_data: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DescribeExecutionOutput {
    execution_arn: String,
    state_machine_arn: String,
    name: String,
    status: ExecutionStatus,
    start_date: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop_date: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    input_details: Option<DataDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_details: Option<DataDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cause: Option<String>,
    redrive_count: u32,
}

#[derive(Serialize, Clone, Copy)]
struct DataDetails {
    included: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GetExecutionHistoryInput {
    execution_arn: Option<String>,
    max_results: Option<i64>,
    reverse_order: Option<bool>,
    next_token: Option<String>,
    include_execution_data: Option<bool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct GetExecutionHistoryOutput {
    events: Vec<Event>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_token: Option<String>,
}

/// A history event as GetExecutionHistory sends it: the engine's event with an epoch timestamp.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Event {
    timestamp: f64,
    #[serde(rename = "type")]
    event_type: String,
    id: u64,
    previous_event_id: u64,
    /// The `...EventDetails` member, as the engine records it.
    #[serde(flatten)]
    details: Map<String, Value>,
}

/// The members of event details that carry execution data: inputs, outputs and the workflow
/// variables a state assigned (which the API model marks sensitive, like inputs and outputs).
const DATA_MEMBERS: [&str; 6] =
    ["input", "inputDetails", "output", "outputDetails", "assignedVariables", "assignedVariablesDetails"];

impl Event {
    fn of(event: HistoryEvent, include_data: bool) -> Self {
        let mut details = event.details;
        if !include_data {
            for detail in details.values_mut() {
                if let Value::Object(members) = detail {
                    members.retain(|name, _| !DATA_MEMBERS.contains(&name.as_str()));
                }
            }
        }
        Event {
            timestamp: epoch(&event.timestamp),
            event_type: event.event_type,
            id: event.id,
            previous_event_id: event.previous_event_id,
            details,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_epoch_seconds_with_milliseconds() {
        assert_eq!(epoch("2026-01-02T03:04:05.678Z"), 1_767_323_045.678);
        assert_eq!(epoch("garbage"), 0.0);
    }

    #[test]
    fn checks_name_every_violation() {
        let mut checks = Checks::default();
        assert_eq!(checks.page_size(Some(1001)), DEFAULT_PAGE_SIZE);
        assert_eq!(checks.page_size(Some(-1)), DEFAULT_PAGE_SIZE);
        assert_eq!(checks.status_filter(Some("DONE")), None);
        checks.length(Some(&"x".repeat(300_000)), "input", 0, MAX_INPUT, true);
        let err = checks.finish().unwrap_err();
        assert!(
            err.message.starts_with("4 validation errors detected: Value '1001' at 'maxResults'"),
            "{}",
            err.message
        );
        assert!(err.message.contains("Value at 'input' failed"), "a sensitive value is not echoed");
        assert!(err.message.len() < 1000);
        let mut fine = Checks::default();
        assert_eq!((fine.page_size(None), fine.page_size(Some(0)), fine.page_size(Some(1000))), (100, 100, 1000));
        assert_eq!(fine.status_filter(Some("PENDING_REDRIVE")), Some(None));
        assert_eq!(fine.status_filter(Some("FAILED")), Some(Some(ExecutionStatus::Failed)));
        assert!(fine.finish().is_ok());
    }
}
