//! The interpreter: runs states, records history and checkpoints each top-level transition.

use crate::definition::{
    error_matches, Assign, ChoiceRule, ChoiceTest, Kind, Machine, Retrier, Seconds, Source, State, WaitFor,
};
use crate::error::{names, StatesError, PAYLOAD_LIMIT_BYTES};
use crate::history::{ExecutionDescription, ExecutionStatus, HistoryEvent};
use crate::invoke::{DelayReason, DelayRecord, EngineOptions, TaskContext, TaskInvoker};
use crate::map_run::MapSpec;
use crate::path::{kind, Path};
use crate::query::{Bindings, JTemplate, States};
use crate::slots::TaskSlots;
use crate::template::{Scope, Template, Vars};
use crate::time;
use crate::Definition;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// The IAM role reported as `$$.Execution.RoleArn`.
pub(crate) const ROLE_ARN: &str = "arn:aws:iam::000000000000:role/imgpipe-local-stepfunctions";

/// Where to continue a top-level run: state `state` was entered with raw input `input`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Checkpoint {
    pub state: String,
    pub input: Value,
    pub entered_time: String,
    /// Per-retrier attempt counters of the state.
    #[serde(default)]
    pub retry_counts: Vec<u32>,
    /// A pending wait (Wait state or retry backoff) ends at this real time.
    #[serde(default)]
    pub wake_at: Option<String>,
    /// The workflow variables when the state was entered.
    #[serde(default)]
    pub variables: Vars,
}

/// The largest value one variable may hold, and all the values of one `Assign` together
/// (the AWS limit).
pub(crate) const VARIABLE_LIMIT_BYTES: usize = 256 * 1024;
/// The largest size of all the variables of an execution together (the AWS limit).
pub(crate) const VARIABLES_TOTAL_LIMIT_BYTES: usize = 10 * 1024 * 1024;

/// What the store keeps for one execution.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Record {
    pub description: ExecutionDescription,
    pub definition: String,
    pub history: Vec<HistoryEvent>,
    pub checkpoint: Option<Checkpoint>,
}

/// One execution: its record (under a lock), its parsed definition and its store file.
pub(crate) struct Execution {
    pub arn: String,
    pub definition: Definition,
    pub input: Value,
    record: Mutex<Record>,
    done: watch::Sender<bool>,
    file: Option<PathBuf>,
    /// A task is driving this execution in this process.
    pub active: AtomicBool,
}

impl Execution {
    pub fn new(record: Record, definition: Definition, file: Option<PathBuf>) -> Execution {
        let input = serde_json::from_str(&record.description.input).unwrap_or(Value::Null);
        let finished = record.description.status != ExecutionStatus::Running;
        Execution {
            arn: record.description.execution_arn.clone(),
            definition,
            input,
            done: watch::channel(finished).0,
            record: Mutex::new(record),
            file,
            active: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Record> {
        self.record.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn description(&self) -> ExecutionDescription {
        self.lock().description.clone()
    }

    pub fn history(&self) -> Vec<HistoryEvent> {
        self.lock().history.clone()
    }

    pub fn checkpoint(&self) -> Option<Checkpoint> {
        self.lock().checkpoint.clone()
    }

    pub fn last_event_id(&self) -> u64 {
        self.lock().history.last().map(|e| e.id).unwrap_or(0)
    }

    /// Waits until the execution is no longer RUNNING.
    pub async fn finished(&self) {
        let mut rx = self.done.subscribe();
        let _ = rx.wait_for(|d| *d).await;
    }

    /// Appends an event; returns its id.
    fn event(&self, prev: u64, event_type: &str, details: Option<(&str, Value)>) -> u64 {
        let mut rec = self.lock();
        let id = rec.history.last().map(|e| e.id).unwrap_or(0) + 1;
        let mut map = serde_json::Map::new();
        if let Some((k, v)) = details {
            map.insert(k.to_string(), v);
        }
        rec.history.push(HistoryEvent {
            timestamp: time::now_string(),
            event_type: event_type.to_string(),
            id,
            previous_event_id: prev,
            details: map,
        });
        id
    }

    fn set_checkpoint(&self, cp: Checkpoint) {
        let mut rec = self.lock();
        rec.checkpoint = Some(cp);
        self.persist(&rec);
    }

    /// Where a top-level Map Run of this execution keeps its progress (`None` in memory).
    pub fn map_run_dir(&self, key: &str) -> Option<PathBuf> {
        self.file.as_ref().map(|f| f.with_extension("mapruns").join(key))
    }

    /// Removes the Map Runs' progress files once the execution has ended.
    fn remove_map_runs(&self) {
        if let Some(dir) = self.file.as_ref().map(|f| f.with_extension("mapruns")) {
            let _ = std::fs::remove_dir_all(dir);
        }
    }

    /// Persists the record now (used after the start event).
    pub fn save(&self) {
        let rec = self.lock();
        self.persist(&rec);
    }

    fn finish(&self, status: ExecutionStatus, output: Option<Value>, error: Option<StatesError>) {
        {
            let mut rec = self.lock();
            let d = &mut rec.description;
            d.status = status;
            d.stop_date = Some(time::now_string());
            d.output = output.map(|o| o.to_string());
            if let Some(e) = error {
                d.error = Some(e.error);
                d.cause = Some(e.cause);
            }
            rec.checkpoint = None;
            self.persist(&rec);
        }
        self.remove_map_runs();
        self.done.send_replace(true);
    }

    /// Ends a RUNNING execution ABORTED with an `ExecutionAborted` event (StopExecution); no-op
    /// once it has ended. Nothing may drive the execution any more.
    pub fn abort(&self, error: Option<String>, cause: Option<String>) {
        {
            let mut rec = self.lock();
            if rec.description.status != ExecutionStatus::Running {
                return;
            }
            let now = time::now_string();
            let last = rec.history.last().map(|e| e.id).unwrap_or(0);
            let mut details = serde_json::Map::new();
            let fields = [("error", &error), ("cause", &cause)];
            for (field, value) in fields {
                if let Some(value) = value {
                    details.insert(field.to_string(), Value::String(value.clone()));
                }
            }
            let mut event_details = serde_json::Map::new();
            if !details.is_empty() {
                event_details.insert("executionAbortedEventDetails".to_string(), Value::Object(details));
            }
            rec.history.push(HistoryEvent {
                timestamp: now.clone(),
                event_type: "ExecutionAborted".to_string(),
                id: last + 1,
                previous_event_id: last,
                details: event_details,
            });
            let d = &mut rec.description;
            d.status = ExecutionStatus::Aborted;
            d.stop_date = Some(now);
            d.error = error;
            d.cause = cause;
            rec.checkpoint = None;
            self.persist(&rec);
        }
        self.remove_map_runs();
        self.done.send_replace(true);
    }

    fn persist(&self, rec: &Record) {
        let Some(file) = &self.file else { return };
        if let Err(e) = write_atomically(file, rec) {
            tracing::warn!(execution = %self.arn, error = %e, "could not persist execution");
        }
    }
}

fn write_atomically(file: &std::path::Path, rec: &Record) -> std::io::Result<()> {
    let text = serde_json::to_vec(rec).map_err(std::io::Error::other)?;
    let tmp = file.with_extension("json.tmp");
    std::fs::write(&tmp, text)?;
    std::fs::rename(&tmp, file)
}

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Drives one execution.
pub(crate) struct Runner {
    pub exec: Arc<Execution>,
    pub invoker: Arc<dyn TaskInvoker>,
    pub options: EngineOptions,
    pub slots: Arc<TaskSlots>,
}

/// How a state ends: the next state (or `None` at an end), its output and the variables it
/// assigns.
type Step = (Option<String>, Value, Vars);

/// One visit of a state: what its steps, attempts and checkpoints share.
pub(crate) struct Visit<'a> {
    pub state: &'a State,
    /// The state's raw input.
    pub raw: &'a Value,
    /// When the state was entered (`$$.State.EnteredTime`).
    pub entered: String,
    /// A top-level state, checkpointed (states of branches and iterations are not).
    pub top: bool,
    /// The variables in scope when the state was entered.
    pub vars: Arc<Vars>,
    /// The id of the `*StateEntered` event (`None` when resumed from a checkpoint).
    pub entered_event: Option<u64>,
}

impl Visit<'_> {
    /// Prefixes an engine-made error with this state.
    pub fn at(&self, e: StatesError) -> StatesError {
        match self.entered_event {
            Some(id) => StatesError {
                cause: format!(
                    "An error occurred while executing the state '{}' (entered at the event id #{id}). {}",
                    self.state.name, e.cause
                ),
                ..e
            },
            None => at(self.state, e),
        }
    }

    /// The input after InputPath.
    fn effective_input(&self) -> Result<Value, StatesError> {
        io(self.state, &self.state.input_path, self.raw, "InputPath")
    }

    /// The state output: `value` after OutputPath, within the payload limit.
    fn output(&self, value: Value) -> Result<Value, StatesError> {
        let output = io(self.state, &self.state.output_path, &value, "OutputPath")?;
        self.within_limit(output, "the state output")
    }

    /// JSONata: the state output (`Output`, or `default`) and the `Assign` values, both
    /// evaluated with the variables from before the state.
    fn finish_jsonata(
        &self,
        scope: &Scope,
        states: States<'_>,
        output: Option<&JTemplate>,
        assign: Option<&Assign>,
        default: Value,
    ) -> Result<(Value, Vars), StatesError> {
        let value = match output {
            Some(t) => t.eval(states, scope, "Output").map_err(|e| self.at(e))?,
            None => default,
        };
        let assigned = self.assign(assign, &Value::Null, states, scope)?;
        Ok((self.within_limit(value, "the state output")?, assigned))
    }

    /// Evaluates an `Assign` (JSONPath: `.$` fields read `dollar`; JSONata: `$states`) and
    /// checks AWS's size limits.
    fn assign(
        &self,
        assign: Option<&Assign>,
        dollar: &Value,
        states: States<'_>,
        scope: &Scope,
    ) -> Result<Vars, StatesError> {
        let Some(assign) = assign else { return Ok(Vars::new()) };
        let value = match assign {
            Assign::Path(t) => t.eval(dollar, scope),
            Assign::Jsonata(t) => t.eval(states, scope, "Assign"),
        }
        .map_err(|e| self.at(e))?;
        let Value::Object(assigned) = value else {
            return Err(self.at(StatesError::runtime("Assign must build an object")));
        };
        for (name, v) in &assigned {
            let size = json_size(v);
            if size > VARIABLE_LIMIT_BYTES {
                return Err(self.at(StatesError::new(
                    names::DATA_LIMIT_EXCEEDED,
                    format!("variable '{name}' is {size} bytes, over the limit of {VARIABLE_LIMIT_BYTES} bytes"),
                )));
            }
        }
        let total = json_size(&assigned);
        if total > VARIABLE_LIMIT_BYTES {
            return Err(self.at(StatesError::new(
                names::DATA_LIMIT_EXCEEDED,
                format!("the Assign values are {total} bytes, over the limit of {VARIABLE_LIMIT_BYTES} bytes"),
            )));
        }
        Ok(assigned)
    }

    /// `value` unchanged, or States.DataLimitExceeded when its JSON is over the payload limit.
    fn within_limit(&self, value: Value, what: &str) -> Result<Value, StatesError> {
        let size = json_size(&value);
        if size > PAYLOAD_LIMIT_BYTES {
            return Err(self.at(StatesError::new(
                names::DATA_LIMIT_EXCEEDED,
                format!("{what} is {size} bytes, over the payload limit of {PAYLOAD_LIMIT_BYTES} bytes"),
            )));
        }
        Ok(value)
    }
}

/// The length of `value` as compact JSON, counted without building the text.
pub(crate) fn json_size(value: &impl Serialize) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing a Value to a sink that never fails cannot fail.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

/// A Choice state: the first matching rule's target (or Default), the output and the
/// assignments (the matching rule's Assign and Output, else the state's).
fn choose(
    visit: &Visit<'_>,
    scope: &Scope,
    choices: &[ChoiceRule],
    default: &Option<String>,
) -> Result<Step, StatesError> {
    let effective = visit.effective_input()?;
    let state = visit.state;
    for rule in choices {
        let matched = match &rule.test {
            ChoiceTest::Rule(r) => r.eval(&effective, scope).map_err(|e| visit.at(e))?,
            ChoiceTest::Condition(c) => match c.eval(States::input(visit.raw), scope, "Condition") {
                Ok(Value::Bool(b)) => b,
                Ok(other) => {
                    return Err(visit.at(StatesError::evaluation(
                        "Condition",
                        format!("The Condition of a Choice rule must return a boolean, not {}", kind(&other)),
                    )))
                }
                Err(e) => return Err(visit.at(e)),
            },
        };
        if matched {
            let assign = rule.assign.as_ref().or(state.assign.as_ref());
            let (output, assigned) =
                pass_through(visit, scope, assign, rule.output.as_ref().or(state.output.as_ref()))?;
            return Ok((Some(rule.next.clone()), output, assigned));
        }
    }
    let Some(next) = default.clone() else {
        return Err(StatesError::new(
            names::NO_CHOICE_MATCHED,
            format!("No Choice rule of state '{}' matched and there is no Default", state.name),
        ));
    };
    let (output, assigned) = pass_through(visit, scope, state.assign.as_ref(), state.output.as_ref())?;
    Ok((Some(next), output, assigned))
}

/// The output and assignments of a state that passes its input on (Choice, Wait, Succeed):
/// JSONPath: the effective input after OutputPath, `$` in Assign is the effective input;
/// JSONata: `Output` or the input.
fn pass_through(
    visit: &Visit<'_>,
    scope: &Scope,
    assign: Option<&Assign>,
    output: Option<&JTemplate>,
) -> Result<(Value, Vars), StatesError> {
    let states = States::input(visit.raw);
    if visit.state.jsonata {
        return visit.finish_jsonata(scope, states, output, assign, visit.raw.clone());
    }
    let effective = visit.effective_input()?;
    let assigned = visit.assign(assign, &effective, states, scope)?;
    Ok((visit.output(effective)?, assigned))
}

/// The array a Map state's ItemsPath selects.
pub(crate) fn select_items(visit: &Visit<'_>, items_path: &Path, effective: &Value) -> Result<Vec<Value>, StatesError> {
    match items_path.select(effective) {
        Some(Value::Array(items)) => Ok(items),
        Some(other) => Err(visit.at(StatesError::runtime(format!(
            "ItemsPath '{}' must select an array, not {}",
            items_path.text(),
            kind(&other)
        )))),
        None => Err(visit.at(StatesError::runtime(format!(
            "ItemsPath '{}' could not be found in the input {effective}",
            items_path.text()
        )))),
    }
}

/// A Map's ItemSelector, inline or distributed: JSONPath (with `$$.Map.Item`), or JSONata
/// (with `$states.context.Map.Item`, its bindings built once for all items), or none.
pub(crate) enum ItemSelector<'a> {
    None,
    Path(&'a Template),
    Jsonata(&'a JTemplate, Box<Bindings>),
}

impl<'a> ItemSelector<'a> {
    /// The selector of a Map state whose input is `input`.
    pub fn new(path: Option<&'a Template>, jsonata: Option<&'a JTemplate>, input: &Value, scope: &Scope) -> Self {
        match (path, jsonata) {
            (Some(t), _) => ItemSelector::Path(t),
            (None, Some(t)) => ItemSelector::Jsonata(t, Box::new(Bindings::new(States::input(input), scope))),
            (None, None) => ItemSelector::None,
        }
    }

    /// The input of iteration `index` for `item`; `scope`'s context gets `Map.Item` (JSONPath).
    pub fn select(
        &mut self,
        index: usize,
        item: Value,
        effective: &Value,
        scope: &mut Scope,
    ) -> Result<Value, StatesError> {
        match self {
            ItemSelector::None => Ok(item),
            ItemSelector::Path(t) => {
                scope.context["Map"] = json!({"Item": {"Index": index, "Value": item}});
                t.eval(effective, scope)
            }
            ItemSelector::Jsonata(t, bindings) => {
                bindings.set_map_item(index, item);
                t.eval_bound(bindings, "ItemSelector")
            }
        }
    }
}

/// Each Map iteration's input: the item, or the ItemSelector built from it.
fn map_inputs(
    visit: &Visit<'_>,
    mut selector: ItemSelector<'_>,
    items: Vec<Value>,
    effective: &Value,
    scope: &Scope,
) -> Result<Vec<Value>, StatesError> {
    if matches!(selector, ItemSelector::None) {
        return Ok(items);
    }
    let mut scope = scope.clone();
    let inputs = items.into_iter().enumerate().map(|(index, item)| selector.select(index, item, effective, &mut scope));
    inputs.collect::<Result<_, _>>().map_err(|e| visit.at(e))
}

/// A JSONata Map state's items: `Items` evaluated, or the state input; an array.
pub(crate) fn jsonata_items(
    items: Option<&JTemplate>,
    input: &Value,
    scope: &Scope,
) -> Result<Vec<Value>, StatesError> {
    let value = match items {
        Some(t) => t.eval(States::input(input), scope, "Items")?,
        None => input.clone(),
    };
    match value {
        Value::Array(items) => Ok(items),
        other => Err(StatesError::evaluation(
            "Items",
            format!("The Items of a Map state must be an array, not {}", kind(&other)),
        )),
    }
}

impl Runner {
    /// Runs (or resumes) the execution to its end and records the outcome.
    pub async fn run(self: Arc<Self>, resume: Option<Checkpoint>, fresh: bool) {
        let exec = self.exec.clone();
        let mut cur = exec.last_event_id();
        if fresh {
            let details =
                json!({"input": exec.input.to_string(), "inputDetails": {"truncated": false}, "roleArn": ROLE_ARN});
            cur = exec.event(cur, "ExecutionStarted", Some(("executionStartedEventDetails", details)));
            exec.save();
        }
        let machine = exec.definition.machine.clone();
        let input = exec.input.clone();
        let run = self.run_machine(&machine, input, &mut cur, true, resume, Arc::new(Vars::new()));
        let outcome = match machine.timeout_seconds {
            None => Some(run.await),
            Some(limit) => {
                let start = exec
                    .description()
                    .start_date
                    .parse::<chrono::DateTime<chrono::Utc>>()
                    .unwrap_or_else(|_| chrono::Utc::now());
                let limit = duration(limit as f64 * self.options.timeout_scale.unwrap_or(self.options.time_scale));
                let elapsed = (chrono::Utc::now() - start).to_std().unwrap_or_default();
                tokio::time::timeout(limit.saturating_sub(elapsed), run).await.ok()
            }
        };
        let last = exec.last_event_id();
        match outcome {
            Some(Ok(output)) => {
                exec.event(
                    last,
                    "ExecutionSucceeded",
                    Some((
                        "executionSucceededEventDetails",
                        json!({"output": output.to_string(), "outputDetails": {"truncated": false}}),
                    )),
                );
                exec.finish(ExecutionStatus::Succeeded, Some(output), None);
            }
            Some(Err(e)) => {
                exec.event(
                    last,
                    "ExecutionFailed",
                    Some(("executionFailedEventDetails", json!({"error": e.error, "cause": e.cause}))),
                );
                exec.finish(ExecutionStatus::Failed, None, Some(e));
            }
            None => {
                let e = StatesError::new(names::TIMEOUT, "The execution exceeded the state machine's TimeoutSeconds");
                exec.event(
                    last,
                    "ExecutionTimedOut",
                    Some(("executionTimedOutEventDetails", json!({"error": e.error, "cause": e.cause}))),
                );
                exec.finish(ExecutionStatus::TimedOut, None, Some(e));
            }
        }
    }

    fn run_machine<'a>(
        self: &'a Arc<Self>,
        machine: &'a Arc<Machine>,
        input: Value,
        cur: &'a mut u64,
        top: bool,
        resume: Option<Checkpoint>,
        vars: Arc<Vars>,
    ) -> BoxFuture<'a, Result<Value, StatesError>> {
        Box::pin(async move {
            let (mut name, mut input, mut resume, mut vars) = match resume {
                Some(cp) => (cp.state.clone(), cp.input.clone(), Some(cp.clone()), Arc::new(cp.variables)),
                None => (machine.start_at.clone(), input, None, vars),
            };
            loop {
                let state = machine
                    .states
                    .get(&name)
                    .ok_or_else(|| StatesError::runtime(format!("state '{name}' does not exist")))?;
                let (next, output, assigned) =
                    self.run_state(state, input, cur, top, resume.take(), vars.clone()).await?;
                if !assigned.is_empty() {
                    let all = Arc::make_mut(&mut vars);
                    all.extend(assigned);
                    let total = json_size(&*all);
                    if total > VARIABLES_TOTAL_LIMIT_BYTES {
                        return Err(at(
                            state,
                            StatesError::new(
                                names::DATA_LIMIT_EXCEEDED,
                                format!(
                                    "the variables are {total} bytes together, over the limit of \
                                     {VARIABLES_TOTAL_LIMIT_BYTES} bytes"
                                ),
                            ),
                        ));
                    }
                }
                match next {
                    Some(next) => {
                        name = next;
                        input = output;
                    }
                    None => return Ok(output),
                }
            }
        })
    }

    pub(crate) fn emit(&self, cur: &mut u64, event_type: &str, details: Option<(&str, Value)>) {
        *cur = self.exec.event(*cur, event_type, details);
    }

    /// The context object and the variables for a visit.
    fn scope(&self, visit: &Visit<'_>, retry_count: u32) -> Scope {
        Scope { context: self.context(&visit.state.name, &visit.entered, retry_count), vars: visit.vars.clone() }
    }

    /// The context object (`$$`) for a state.
    fn context(&self, state: &str, entered: &str, retry_count: u32) -> Value {
        let d = self.exec.description();
        let sm_name = d.state_machine_arn.rsplit(':').next().unwrap_or_default().to_string();
        json!({
            "Execution": {
                "Id": d.execution_arn,
                "Input": self.exec.input,
                "Name": d.name,
                "RoleArn": ROLE_ARN,
                "StartTime": d.start_date,
                "RedriveCount": 0,
            },
            "State": {"EnteredTime": entered, "Name": state, "RetryCount": retry_count},
            "StateMachine": {"Id": d.state_machine_arn, "Name": sm_name},
        })
    }

    async fn run_state(
        self: &Arc<Self>,
        state: &State,
        raw: Value,
        cur: &mut u64,
        top: bool,
        resume: Option<Checkpoint>,
        vars: Arc<Vars>,
    ) -> Result<Step, StatesError> {
        let entered = match &resume {
            Some(cp) => cp.entered_time.clone(),
            None => {
                let details =
                    json!({"name": state.name, "input": raw.to_string(), "inputDetails": {"truncated": false}});
                let event = format!("{}StateEntered", state.kind.event_prefix());
                self.emit(cur, &event, Some(("stateEnteredEventDetails", details)));
                time::now_string()
            }
        };
        let entered_event = resume.is_none().then_some(*cur);
        let visit = Visit { state, raw: &raw, entered, top, vars, entered_event };
        let mut counts = resume.as_ref().map(|cp| cp.retry_counts.clone()).unwrap_or_default();
        counts.resize(state.retry.len(), 0);
        let pending_wake = resume.and_then(|cp| cp.wake_at);
        if pending_wake.is_none() {
            self.checkpoint(&visit, &counts, None);
        }
        let outcome = match &state.kind {
            Kind::Fail { error, cause } => self.fail_error(&visit, error, cause).and_then(Err),
            Kind::Succeed => pass_through(&visit, &self.scope(&visit, 0), None, state.output.as_ref())
                .map(|(output, assigned)| (None, output, assigned)),
            Kind::Choice { choices, default } => choose(&visit, &self.scope(&visit, 0), choices, default),
            Kind::Wait(how) => self.wait(&visit, how, pending_wake, &counts).await,
            Kind::Pass { result } => self.pass(&visit, result),
            Kind::Task { .. } | Kind::Parallel { .. } | Kind::Map { .. } => {
                self.run_with_retries(&visit, counts, pending_wake, cur).await
            }
        };
        let step = outcome.map_err(|e| self.report_evaluation(state, cur, e))?;
        let mut details =
            json!({"name": state.name, "output": step.1.to_string(), "outputDetails": {"truncated": false}});
        if !step.2.is_empty() {
            let assigned: serde_json::Map<String, Value> =
                step.2.iter().map(|(k, v)| (k.clone(), Value::String(v.to_string()))).collect();
            details["assignedVariables"] = Value::Object(assigned);
            details["assignedVariablesDetails"] = json!({"truncated": false});
        }
        let event = format!("{}StateExited", state.kind.event_prefix());
        self.emit(cur, &event, Some(("stateExitedEventDetails", details)));
        Ok(step)
    }

    /// Emits `EvaluationFailed` for an error from evaluating one of `state`'s JSONata fields
    /// (once: the error leaves without its location, so enclosing states do not report it again).
    fn report_evaluation(&self, state: &State, cur: &mut u64, mut e: StatesError) -> StatesError {
        if let Some(mut location) = e.evaluation_location.take() {
            // EvaluationFailureLocation is at most 256 characters in the API model.
            if let Some((cut, _)) = location.char_indices().nth(256) {
                location.truncate(cut);
            }
            let details = json!({"error": e.error, "cause": e.cause, "location": location, "state": state.name});
            self.emit(cur, "EvaluationFailed", Some(("evaluationFailedEventDetails", details)));
        }
        e
    }

    /// Saves where a top-level state stands (nested states are not checkpointed).
    fn checkpoint(&self, visit: &Visit<'_>, counts: &[u32], wake_at: Option<String>) {
        if visit.top {
            self.exec.set_checkpoint(Checkpoint {
                state: visit.state.name.clone(),
                input: visit.raw.clone(),
                entered_time: visit.entered.clone(),
                retry_counts: counts.to_vec(),
                wake_at,
                variables: (*visit.vars).clone(),
            });
        }
    }

    /// The error a Fail state ends with: Error/Cause, or ErrorPath/CausePath evaluated.
    fn fail_error(
        &self,
        visit: &Visit<'_>,
        error: &Option<Source>,
        cause: &Option<Source>,
    ) -> Result<StatesError, StatesError> {
        let pick = |source: &Option<Source>, field: &str| -> Result<String, StatesError> {
            match source {
                None => Ok(String::new()),
                Some(Source::Fixed(v)) => Ok(v.clone()),
                Some(Source::Dynamic(d)) => {
                    match d.eval(visit.raw, &self.scope(visit, 0), field).map_err(|e| visit.at(e))? {
                        Value::String(s) => Ok(s),
                        other => Err(visit
                            .at(StatesError::runtime(format!("the {field} must be a string, not {}", kind(&other))))),
                    }
                }
                Some(Source::Expr(e)) => {
                    match e.eval(States::input(visit.raw), &self.scope(visit, 0), field).map_err(|e| visit.at(e))? {
                        Value::String(s) => Ok(s),
                        other => Err(visit.at(StatesError::evaluation(
                            field,
                            format!("the {field} must be a string, not {}", kind(&other)),
                        ))),
                    }
                }
            }
        };
        let (error_field, cause_field) =
            if visit.state.jsonata { ("Error", "Cause") } else { ("ErrorPath", "CausePath") };
        Ok(StatesError::new(&pick(error, error_field)?, pick(cause, cause_field)?))
    }

    /// A Wait state: waits (or finishes a wait interrupted by a restart) and passes its input on.
    async fn wait(
        &self,
        visit: &Visit<'_>,
        how: &WaitFor,
        pending_wake: Option<String>,
        counts: &[u32],
    ) -> Result<Step, StatesError> {
        let effective = visit.effective_input()?;
        let scope = self.scope(visit, 0);
        let wake = match pending_wake {
            Some(wake) => wake,
            None => {
                let seconds = wait_seconds(how, &effective, &scope).map_err(|e| visit.at(e))?;
                let wake = self.delay_target(visit.state, DelayReason::Wait, seconds);
                self.checkpoint(visit, counts, Some(wake.clone()));
                wake
            }
        };
        sleep_until(&wake).await;
        let (output, assigned) = pass_through(visit, &scope, visit.state.assign.as_ref(), visit.state.output.as_ref())?;
        Ok((visit.state.next.clone(), output, assigned))
    }

    /// A Pass state: Result, or the Parameters, or the effective input, placed by ResultPath.
    /// JSONata: `Output` or the input. Assign's `$` (JSONPath) is the value placed by ResultPath.
    fn pass(&self, visit: &Visit<'_>, result: &Option<Value>) -> Result<Step, StatesError> {
        let state = visit.state;
        let scope = self.scope(visit, 0);
        if state.jsonata {
            let (output, assigned) = pass_through(visit, &scope, state.assign.as_ref(), state.output.as_ref())?;
            return Ok((state.next.clone(), output, assigned));
        }
        let effective = visit.effective_input()?;
        let value = match (result, &state.parameters) {
            (Some(r), _) => r.clone(),
            (None, Some(t)) => t.eval(&effective, &scope).map_err(|e| visit.at(e))?,
            (None, None) => effective,
        };
        let assigned = visit.assign(state.assign.as_ref(), &value, States::input(visit.raw), &scope)?;
        let combined = apply_result_path(state, &state.result_path, visit.raw, value)?;
        Ok((state.next.clone(), visit.output(combined)?, assigned))
    }

    /// Runs attempts of a Task, Parallel or Map state until one succeeds, the retriers give up
    /// or a catcher takes the error.
    async fn run_with_retries(
        self: &Arc<Self>,
        visit: &Visit<'_>,
        mut counts: Vec<u32>,
        pending_wake: Option<String>,
        cur: &mut u64,
    ) -> Result<Step, StatesError> {
        let state = visit.state;
        if let Some(wake) = &pending_wake {
            sleep_until(wake).await;
        }
        loop {
            let total: u32 = counts.iter().sum();
            let error = match self.attempt(visit, total, cur).await {
                Ok((output, assigned)) => return Ok((state.next.clone(), output, assigned)),
                Err(e) => self.report_evaluation(state, cur, e),
            };
            if let Some(wake) = self.retry_wake(visit, &mut counts, &error.error) {
                self.checkpoint(visit, &counts, Some(wake.clone()));
                sleep_until(&wake).await;
                continue;
            }
            let Some(catcher) = state.catch.iter().find(|c| error_matches(&c.errors, &error.error)) else {
                return Err(error);
            };
            let error_output = json!({"Error": error.error, "Cause": error.cause});
            let scope = self.scope(visit, total);
            let next = Some(catcher.next.clone());
            if state.jsonata {
                let states = States { input: visit.raw, result: None, error_output: Some(&error_output) };
                let (output, assigned) = visit.finish_jsonata(
                    &scope,
                    states,
                    catcher.output.as_ref(),
                    catcher.assign.as_ref(),
                    error_output.clone(),
                )?;
                return Ok((next, output, assigned));
            }
            let assigned = visit.assign(catcher.assign.as_ref(), &error_output, States::input(visit.raw), &scope)?;
            let output = apply_result_path(state, &catcher.result_path, visit.raw, error_output)?;
            return Ok((next, output, assigned));
        }
    }

    /// When the first retrier matching `error` has attempts left: counts one and returns when
    /// the retry is due.
    fn retry_wake(&self, visit: &Visit<'_>, counts: &mut [u32], error: &str) -> Option<String> {
        let i = visit.state.retry.iter().position(|r| error_matches(&r.errors, error))?;
        let retrier = &visit.state.retry[i];
        if counts[i] >= retrier.max_attempts {
            return None;
        }
        let seconds = backoff(retrier, counts[i]);
        counts[i] += 1;
        Some(self.delay_target(visit.state, DelayReason::Retry { retrier: i, attempt: counts[i] }, seconds))
    }

    /// Reports a requested delay and returns the real time it ends (scaled).
    fn delay_target(&self, state: &State, reason: DelayReason, seconds: f64) -> String {
        if let Some(cb) = &self.options.on_delay {
            cb(&DelayRecord { execution_arn: self.exec.arn.clone(), state_name: state.name.clone(), reason, seconds });
        }
        let scaled = duration(seconds * self.options.time_scale);
        // Capped at a century so the wake time stays a normal RFC 3339 date.
        let scaled = scaled.min(Duration::from_secs(100 * 365 * 86_400));
        let wake = chrono::Utc::now() + chrono::Duration::from_std(scaled).unwrap_or(chrono::Duration::days(36_500));
        time::format(wake)
    }

    /// One attempt of a Task, Parallel or Map state: from the raw input to the state output.
    async fn attempt(
        self: &Arc<Self>,
        visit: &Visit<'_>,
        retry_count: u32,
        cur: &mut u64,
    ) -> Result<(Value, Vars), StatesError> {
        let state = visit.state;
        let scope = self.scope(visit, retry_count);
        let effective = visit.effective_input()?;
        let parameters = || -> Result<Value, StatesError> {
            let input = match (&state.parameters, &state.arguments) {
                (Some(t), _) => t.eval(&effective, &scope),
                (None, Some(t)) => t.eval(States::input(visit.raw), &scope, "Arguments"),
                (None, None) => Ok(effective.clone()),
            };
            visit.within_limit(input.map_err(|e| visit.at(e))?, "the input after Parameters")
        };
        let (timeout_field, concurrency_field) = if state.jsonata {
            ("TimeoutSeconds", "MaxConcurrency")
        } else {
            ("TimeoutSecondsPath", "MaxConcurrencyPath")
        };
        let result = match &state.kind {
            Kind::Task { resource, timeout } => {
                let input = parameters()?;
                let timeout = match timeout {
                    None => None,
                    Some(s) => Some(count_in(s, &effective, timeout_field, &scope).map_err(|e| visit.at(e))?),
                };
                let result = self.invoke_task(visit, resource, input, timeout, retry_count, cur).await?;
                visit.within_limit(result, "the task result")?
            }
            Kind::Parallel { branches } => self.parallel(branches, parameters()?, cur, &visit.vars).await?,
            Kind::Map { processor, items_path, item_selector, items, item_template, max_concurrency, distributed } => {
                if let Some(dist) = distributed {
                    let spec = MapSpec {
                        processor,
                        items_path,
                        item_selector: item_selector.as_deref(),
                        items: items.as_ref(),
                        item_template: item_template.as_ref(),
                        max_concurrency,
                        dist,
                    };
                    self.distributed_map(visit, spec, &effective, &scope, retry_count, cur).await?
                } else {
                    let items = match state.jsonata {
                        true => jsonata_items(items.as_ref(), visit.raw, &scope).map_err(|e| visit.at(e))?,
                        false => select_items(visit, items_path, &effective)?,
                    };
                    let limit =
                        count_in(max_concurrency, &effective, concurrency_field, &scope).map_err(|e| visit.at(e))?;
                    let inputs = map_inputs(
                        visit,
                        ItemSelector::new(item_selector.as_deref(), item_template.as_ref(), visit.raw, &scope),
                        items,
                        &effective,
                        &scope,
                    )?;
                    self.map(state, processor, inputs, limit, cur, &visit.vars).await?
                }
            }
            _ => return Err(visit.at(StatesError::runtime("only Task, Parallel and Map states make attempts"))),
        };
        if state.jsonata {
            let states = States { input: visit.raw, result: Some(&result), error_output: None };
            return visit.finish_jsonata(&scope, states, state.output.as_ref(), state.assign.as_ref(), result.clone());
        }
        let result = match &state.result_selector {
            Some(t) => t.eval(&result, &scope).map_err(|e| visit.at(e))?,
            None => result,
        };
        let assigned = visit.assign(state.assign.as_ref(), &result, States::input(visit.raw), &scope)?;
        let combined = apply_result_path(state, &state.result_path, visit.raw, result)?;
        Ok((visit.output(combined)?, assigned))
    }

    /// A Parallel state's branches, with their history events.
    async fn parallel(
        self: &Arc<Self>,
        branches: &[Arc<Machine>],
        input: Value,
        cur: &mut u64,
        vars: &Arc<Vars>,
    ) -> Result<Value, StatesError> {
        self.emit(cur, "ParallelStateStarted", None);
        match self.run_parallel(branches, input, *cur, vars).await {
            Ok(results) => {
                self.emit(cur, "ParallelStateSucceeded", None);
                Ok(Value::Array(results))
            }
            Err(e) => {
                self.emit(cur, "ParallelStateFailed", None);
                Err(e)
            }
        }
    }

    /// A Map state's iterations, with their history events.
    async fn map(
        self: &Arc<Self>,
        state: &State,
        processor: &Arc<Machine>,
        inputs: Vec<Value>,
        limit: u64,
        cur: &mut u64,
        vars: &Arc<Vars>,
    ) -> Result<Value, StatesError> {
        self.emit(cur, "MapStateStarted", Some(("mapStateStartedEventDetails", json!({"length": inputs.len()}))));
        match self.run_map(state, processor, inputs, limit, *cur, vars).await {
            Ok(results) => {
                self.emit(cur, "MapStateSucceeded", None);
                Ok(Value::Array(results))
            }
            Err(e) => {
                self.emit(cur, "MapStateFailed", None);
                Err(e)
            }
        }
    }

    async fn invoke_task(
        &self,
        visit: &Visit<'_>,
        resource: &str,
        input: Value,
        timeout: Option<u64>,
        attempt: u32,
        cur: &mut u64,
    ) -> Result<Value, StatesError> {
        let state = visit.state;
        let (resource_type, short) = resource_parts(resource);
        let mut scheduled = json!({
            "resourceType": resource_type,
            "resource": short,
            "region": "local",
            "parameters": input.to_string(),
        });
        if let Some(t) = timeout {
            scheduled["timeoutInSeconds"] = json!(t);
        }
        self.emit(cur, "TaskScheduled", Some(("taskScheduledEventDetails", scheduled)));
        let _slot = self.slots.acquire().await;
        self.emit(
            cur,
            "TaskStarted",
            Some(("taskStartedEventDetails", json!({"resourceType": resource_type, "resource": short}))),
        );
        if visit.top {
            // A crash from here on re-invokes the task; keep the in-flight attempt on record.
            self.exec.save();
        }
        let ctx = TaskContext { execution_id: self.exec.arn.clone(), state_name: state.name.clone(), attempt };
        let call = self.invoker.invoke(resource, input, ctx);
        let outcome = match timeout {
            None => Some(call.await),
            Some(t) => tokio::time::timeout(
                duration(t as f64 * self.options.timeout_scale.unwrap_or(self.options.time_scale)),
                call,
            )
            .await
            .ok(),
        };
        match outcome {
            Some(Ok(output)) => {
                let details = json!({"resourceType": resource_type, "resource": short, "output": output.to_string(), "outputDetails": {"truncated": false}});
                self.emit(cur, "TaskSucceeded", Some(("taskSucceededEventDetails", details)));
                Ok(output)
            }
            Some(Err(f)) => {
                let details =
                    json!({"resourceType": resource_type, "resource": short, "error": f.error, "cause": f.cause});
                self.emit(cur, "TaskFailed", Some(("taskFailedEventDetails", details)));
                Err(StatesError::new(&f.error, f.cause))
            }
            None => {
                let cause = format!(
                    "The task of state '{}' did not finish within {} seconds",
                    state.name,
                    timeout.unwrap_or(0)
                );
                let details =
                    json!({"resourceType": resource_type, "resource": short, "error": names::TIMEOUT, "cause": cause});
                self.emit(cur, "TaskTimedOut", Some(("taskTimedOutEventDetails", details)));
                Err(StatesError::new(names::TIMEOUT, cause))
            }
        }
    }

    async fn run_parallel(
        self: &Arc<Self>,
        branches: &[Arc<Machine>],
        input: Value,
        started: u64,
        vars: &Arc<Vars>,
    ) -> Result<Vec<Value>, StatesError> {
        let mut set = tokio::task::JoinSet::new();
        for (i, branch) in branches.iter().enumerate() {
            let (me, branch, input, vars) = (self.clone(), branch.clone(), input.clone(), vars.clone());
            set.spawn(async move {
                let mut cur = started;
                (i, me.run_machine(&branch, input, &mut cur, false, None, vars).await)
            });
        }
        collect(set, branches.len()).await
    }

    async fn run_map(
        self: &Arc<Self>,
        state: &State,
        processor: &Arc<Machine>,
        inputs: Vec<Value>,
        limit: u64,
        started: u64,
        vars: &Arc<Vars>,
    ) -> Result<Vec<Value>, StatesError> {
        let count = inputs.len();
        let permits = (limit > 0).then(|| Arc::new(tokio::sync::Semaphore::new(limit.min(10_000) as usize)));
        let mut set = tokio::task::JoinSet::new();
        for (index, input) in inputs.into_iter().enumerate() {
            let (me, processor, permits, name) = (self.clone(), processor.clone(), permits.clone(), state.name.clone());
            let vars = vars.clone();
            set.spawn(async move {
                let _permit = match permits {
                    Some(p) => match p.acquire_owned().await {
                        Ok(permit) => Some(permit),
                        Err(_) => return (index, Err(StatesError::runtime("the Map concurrency limiter closed"))),
                    },
                    None => None,
                };
                let mut cur = started;
                let iteration = json!({"name": name, "index": index});
                me.emit(&mut cur, "MapIterationStarted", Some(("mapIterationStartedEventDetails", iteration.clone())));
                let result = me.run_machine(&processor, input, &mut cur, false, None, vars).await;
                let kind = if result.is_ok() { "MapIterationSucceeded" } else { "MapIterationFailed" };
                let key =
                    if result.is_ok() { "mapIterationSucceededEventDetails" } else { "mapIterationFailedEventDetails" };
                me.emit(&mut cur, kind, Some((key, iteration)));
                (index, result)
            });
        }
        collect(set, count).await
    }
}

/// Gathers branch results in order; the first failure cancels the others.
async fn collect(
    mut set: tokio::task::JoinSet<(usize, Result<Value, StatesError>)>,
    count: usize,
) -> Result<Vec<Value>, StatesError> {
    let mut results: Vec<Value> = vec![Value::Null; count];
    while let Some(joined) = set.join_next().await {
        match joined {
            Ok((i, Ok(v))) => results[i] = v,
            Ok((_, Err(e))) => {
                set.abort_all();
                return Err(e);
            }
            Err(e) => {
                set.abort_all();
                return Err(StatesError::runtime(format!("a branch stopped unexpectedly: {e}")));
            }
        }
    }
    Ok(results)
}

/// Prefixes an engine-made error with the state it happened in.
fn at(state: &State, mut e: StatesError) -> StatesError {
    e.cause = format!("An error occurred while executing the state '{}': {}", state.name, e.cause);
    e
}

/// Applies InputPath / OutputPath: `None` (null) gives `{}`; a path that matches nothing is
/// States.Runtime.
fn io(state: &State, path: &Option<Path>, value: &Value, field: &str) -> Result<Value, StatesError> {
    match path {
        None => Ok(json!({})),
        Some(p) => p.select(value).ok_or_else(|| {
            at(state, StatesError::runtime(format!("Invalid {field} '{}': it could not be found in {value}", p.text())))
        }),
    }
}

fn apply_result_path(state: &State, path: &Option<Path>, raw: &Value, result: Value) -> Result<Value, StatesError> {
    match path {
        None => Ok(raw.clone()),
        Some(p) => {
            p.set(raw.clone(), result).map_err(|e| at(state, StatesError::new(names::RESULT_PATH_MATCH_FAILURE, e)))
        }
    }
}

/// A non-negative whole number from a definition field, a Reference Path or (in a JSONata
/// state, whose effective input is its input) a JSONata expression.
pub(crate) fn count_in(s: &Seconds, input: &Value, field: &str, scope: &Scope) -> Result<u64, StatesError> {
    match s {
        Seconds::Expr(e) => e.eval_count(States::input(input), scope, field, 0),
        _ => resolve_count(s, input, field),
    }
}

/// A non-negative whole number from a definition field or a Reference Path.
pub(crate) fn resolve_count(s: &Seconds, input: &Value, field: &str) -> Result<u64, StatesError> {
    match s {
        Seconds::Fixed(n) => Ok(*n),
        Seconds::Expr(_) => Err(StatesError::runtime(format!("{field}: a JSONata expression is not valid here"))),
        Seconds::Path(p) => match p.select(input) {
            Some(v) => v.as_u64().ok_or_else(|| {
                StatesError::runtime(format!("{field} '{}' must select a non-negative integer, not {v}", p.text()))
            }),
            None => Err(StatesError::runtime(format!("{field} '{}' could not be found in the input", p.text()))),
        },
    }
}

fn wait_seconds(how: &WaitFor, input: &Value, scope: &Scope) -> Result<f64, StatesError> {
    let until = |ts: &str| -> Result<f64, StatesError> {
        let t = time::parse(ts).ok_or_else(|| StatesError::runtime(format!("'{ts}' is not an RFC 3339 timestamp")))?;
        let ms = (t.with_timezone(&chrono::Utc) - chrono::Utc::now()).num_milliseconds();
        Ok((ms.max(0) as f64) / 1000.0)
    };
    match how {
        WaitFor::Seconds(s) => Ok(count_in(s, input, "SecondsPath", scope)? as f64),
        WaitFor::Timestamp(ts) => until(ts),
        WaitFor::TimestampExpr(e) => match e.eval(States::input(input), scope, "Timestamp")? {
            Value::String(ts) => until(&ts),
            other => Err(StatesError::evaluation(
                "Timestamp",
                format!("The Timestamp expression must return a string, not {}", kind(&other)),
            )),
        },
        WaitFor::TimestampPath(p) => match p.select(input) {
            Some(Value::String(ts)) => until(&ts),
            Some(other) => {
                Err(StatesError::runtime(format!("TimestampPath '{}' must select a string, not {other}", p.text())))
            }
            None => Err(StatesError::runtime(format!("TimestampPath '{}' could not be found in the input", p.text()))),
        },
    }
}

/// The delay before retry number `done + 1` of a retrier (spec: IntervalSeconds x
/// BackoffRate^done, capped by MaxDelaySeconds; FULL jitter picks uniformly in [0, delay]).
pub(crate) fn backoff(r: &Retrier, done: u32) -> f64 {
    let mut delay = r.interval_seconds as f64 * r.backoff_rate.powi(done.min(1000) as i32);
    if let Some(max) = r.max_delay_seconds {
        delay = delay.min(max as f64);
    }
    if !delay.is_finite() {
        delay = 99_999_999.0;
    }
    if r.jitter_full {
        use rand::Rng;
        delay = rand::thread_rng().gen_range(0.0..=delay);
    }
    delay
}

fn duration(seconds: f64) -> Duration {
    if seconds.is_nan() || seconds <= 0.0 {
        Duration::ZERO
    } else {
        Duration::try_from_secs_f64(seconds).unwrap_or(Duration::from_secs(u32::MAX as u64))
    }
}

async fn sleep_until(wake: &str) {
    let Ok(t) = wake.parse::<chrono::DateTime<chrono::Utc>>() else { return };
    if let Ok(left) = (t - chrono::Utc::now()).to_std() {
        tokio::time::sleep(left).await;
    }
}

/// Splits a Resource into the history's `resourceType` and `resource`
/// (`arn:aws:states:::lambda:invoke` -> `lambda`, `invoke`; a Lambda ARN -> `lambda`, the ARN).
fn resource_parts(resource: &str) -> (String, String) {
    if let Some(rest) = resource.strip_prefix("arn:aws:states:::") {
        if let Some((service, action)) = rest.split_once(':') {
            return (service.to_string(), action.to_string());
        }
    }
    let parts: Vec<&str> = resource.split(':').collect();
    if parts.len() > 2 && parts[0] == "arn" {
        return (parts[2].to_string(), resource.to_string());
    }
    ("local".to_string(), resource.to_string())
}
