//! The state machine as a graph (its top-level states in document order, and the Next, Default,
//! Choices and Catch edges between them), each state marked with what happened to it in one
//! execution, from its history.

use std::collections::HashMap;
use std::fmt;

use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use super::events::RawEvent;
use super::ExecutionStatus;

/// What happened to a state in an execution (its last visit).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StateOutcome {
    /// Never entered.
    NotReached,
    /// Entered and not yet left.
    Running,
    /// Left without a failed attempt.
    Succeeded,
    /// Left after its last attempt succeeded, with failed attempts before it.
    Retried,
    /// Its last attempt failed and a Catch took the execution elsewhere.
    Caught,
    /// The execution failed here (an uncaught error, or a Fail state).
    Failed,
}

/// What kind of transition an edge is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EdgeKind {
    Next,
    Default,
    Choice,
    Catch,
}

/// One state of the graph.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GraphStateView {
    pub name: String,
    #[serde(rename = "type")]
    pub state_type: String,
    pub comment: Option<String>,
    pub end: bool,
    pub outcome: StateOutcome,
    /// Task calls in its last visit (1 + retries).
    pub attempts: u32,
    /// Failed task calls in its last visit.
    pub failures: u32,
}

/// One transition of the graph.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GraphEdgeView {
    pub from: String,
    pub to: String,
    pub kind: EdgeKind,
    /// The errors a Catch takes, or which Choices rule.
    pub label: Option<String>,
    /// Did the execution go this way?
    pub taken: bool,
}

/// The graph of an execution's state machine.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GraphView {
    pub start_at: String,
    pub states: Vec<GraphStateView>,
    pub edges: Vec<GraphEdgeView>,
}

#[derive(Deserialize)]
struct DefinitionIn {
    #[serde(rename = "StartAt")]
    start_at: String,
    #[serde(rename = "States", deserialize_with = "in_order")]
    states: Vec<(String, StateIn)>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct StateIn {
    #[serde(rename = "Type")]
    state_type: String,
    comment: Option<String>,
    next: Option<String>,
    #[serde(default)]
    end: bool,
    default: Option<String>,
    #[serde(default)]
    choices: Vec<Target>,
    #[serde(default)]
    catch: Vec<Catcher>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Target {
    next: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Catcher {
    #[serde(default)]
    error_equals: Vec<String>,
    next: String,
}

/// A JSON object's members in document order.
fn in_order<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<(String, StateIn)>, D::Error> {
    struct Ordered;
    impl<'de> Visitor<'de> for Ordered {
        type Value = Vec<(String, StateIn)>;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("an object of states")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
            let mut states = Vec::new();
            while let Some(entry) = map.next_entry()? {
                states.push(entry);
            }
            Ok(states)
        }
    }
    deserializer.deserialize_map(Ordered)
}

/// What the history says of one state (its last visit).
#[derive(Default)]
struct Visit {
    entered: bool,
    exited: bool,
    attempts: u32,
    failures: u32,
    last_attempt_failed: bool,
}

/// The graph of `definition` (ASL JSON text) with each state's outcome in `history`.
pub fn build(definition: &str, history: &[Value], status: ExecutionStatus) -> Result<GraphView, serde_json::Error> {
    let definition: DefinitionIn = serde_json::from_str(definition)?;
    let (visits, path) = fold(history);
    let taken: std::collections::HashSet<(&str, &str)> =
        path.windows(2).map(|pair| (pair[0].as_str(), pair[1].as_str())).collect();
    let mut edges = Vec::new();
    let mut states = Vec::with_capacity(definition.states.len());
    for (name, state) in &definition.states {
        let visit = visits.get(name.as_str());
        // A state left through a Catch did not take its Next, and the other way round.
        let caught = visit.is_some_and(|v| v.last_attempt_failed);
        let mut edge = |to: &str, kind, label: Option<String>| {
            let taken = taken.contains(&(name.as_str(), to)) && (kind == EdgeKind::Catch) == caught;
            edges.push(GraphEdgeView { from: name.clone(), to: to.to_string(), kind, label, taken });
        };
        if let Some(next) = &state.next {
            edge(next, EdgeKind::Next, None);
        }
        for (i, choice) in state.choices.iter().enumerate() {
            if let Some(next) = &choice.next {
                edge(next, EdgeKind::Choice, Some(format!("rule {}", i + 1)));
            }
        }
        if let Some(default) = &state.default {
            edge(default, EdgeKind::Default, None);
        }
        for catcher in &state.catch {
            edge(&catcher.next, EdgeKind::Catch, Some(catcher.error_equals.join(", ")));
        }
        states.push(GraphStateView {
            name: name.clone(),
            state_type: state.state_type.clone(),
            comment: state.comment.clone(),
            end: state.end || matches!(state.state_type.as_str(), "Succeed" | "Fail"),
            outcome: outcome(visit, &state.state_type, status),
            attempts: visit.map_or(0, |v| v.attempts),
            failures: visit.map_or(0, |v| v.failures),
        });
    }
    Ok(GraphView { start_at: definition.start_at, states, edges })
}

/// Each state's last visit, and the states in the order they were entered.
fn fold(history: &[Value]) -> (HashMap<String, Visit>, Vec<String>) {
    let mut visits: HashMap<String, Visit> = HashMap::new();
    let mut path = Vec::new();
    let mut current: Option<String> = None;
    for value in history {
        let event = RawEvent::parse(value);
        let kind = event.event_type.as_str();
        if kind.ends_with("StateEntered") {
            let Some(name) = event.details().name else { continue };
            visits.insert(name.clone(), Visit { entered: true, ..Visit::default() });
            path.push(name.clone());
            current = Some(name);
            continue;
        }
        let Some(visit) = current.as_ref().and_then(|name| visits.get_mut(name)) else { continue };
        if kind.ends_with("StateExited") {
            visit.exited = true;
            current = None;
        } else if event.is_task_call() {
            visit.attempts += 1;
            visit.last_attempt_failed = false;
        } else if event.is_task_failure() {
            visit.failures += 1;
            visit.last_attempt_failed = true;
        }
    }
    (visits, path)
}

fn outcome(visit: Option<&Visit>, state_type: &str, status: ExecutionStatus) -> StateOutcome {
    let Some(visit) = visit.filter(|v| v.entered) else { return StateOutcome::NotReached };
    if state_type == "Fail" {
        return StateOutcome::Failed;
    }
    match (visit.exited, visit.last_attempt_failed, visit.failures) {
        (false, _, _) if status == ExecutionStatus::Running => StateOutcome::Running,
        (false, _, _) => StateOutcome::Failed,
        (true, true, _) => StateOutcome::Caught,
        (true, false, 0) => StateOutcome::Succeeded,
        (true, false, _) => StateOutcome::Retried,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PIPELINE: &str = include_str!("../../../../../statemachine/pipeline.asl.json");

    fn entered(name: &str) -> Value {
        json!({"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}})
    }
    fn exited(name: &str) -> Value {
        json!({"type": "TaskStateExited", "stateExitedEventDetails": {"name": name}})
    }
    fn event(kind: &str) -> Value {
        json!({"type": kind, "taskFailedEventDetails": {"error": "Retryable", "cause": "c"}})
    }

    fn outcomes(graph: &GraphView) -> HashMap<&str, (StateOutcome, u32)> {
        graph.states.iter().map(|s| (s.name.as_str(), (s.outcome, s.attempts))).collect()
    }

    #[test]
    fn the_pipeline_is_drawn_in_document_order_with_every_edge() {
        let graph = build(PIPELINE, &[], ExecutionStatus::Running).unwrap();
        assert_eq!(graph.start_at, "Validate");
        let names: Vec<&str> = graph.states.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(&names[..4], ["Validate", "DetectLabels", "Thumbnail", "Persist"]);
        assert_eq!(names.len(), 10);
        let from_validate: Vec<(&str, EdgeKind)> =
            graph.edges.iter().filter(|e| e.from == "Validate").map(|e| (e.to.as_str(), e.kind)).collect();
        assert_eq!(
            from_validate,
            [
                ("DetectLabels", EdgeKind::Next),
                ("Duplicate", EdgeKind::Catch),
                ("Unknown", EdgeKind::Catch),
                ("RecordRejected", EdgeKind::Catch),
                ("RecordFailed", EdgeKind::Catch)
            ]
        );
        let catch_all = graph.edges.iter().find(|e| e.from == "Persist").unwrap();
        assert_eq!(catch_all.label.as_deref(), Some("States.ALL"));
        assert!(graph.states.iter().all(|s| s.outcome == StateOutcome::NotReached));
        assert!(graph.states.iter().find(|s| s.name == "Failed").unwrap().end);
    }

    #[test]
    fn each_state_is_coloured_by_its_last_visit() {
        let history = vec![
            json!({"type": "ExecutionStarted"}),
            entered("Validate"),
            event("TaskScheduled"),
            event("TaskSucceeded"),
            exited("Validate"),
            entered("DetectLabels"),
            event("LambdaFunctionScheduled"),
            event("LambdaFunctionFailed"),
            event("LambdaFunctionScheduled"),
            event("LambdaFunctionSucceeded"),
            exited("DetectLabels"),
            entered("Thumbnail"),
            event("TaskScheduled"),
            event("TaskTimedOut"),
            exited("Thumbnail"),
            entered("RecordFailed"),
            event("TaskScheduled"),
            exited("RecordFailed"),
            json!({"type": "FailStateEntered", "stateEnteredEventDetails": {"name": "Failed"}}),
            json!({"type": "ExecutionFailed"}),
        ];
        let graph = build(PIPELINE, &history, ExecutionStatus::Failed).unwrap();
        let o = outcomes(&graph);
        assert_eq!(o["Validate"], (StateOutcome::Succeeded, 1));
        assert_eq!(o["DetectLabels"], (StateOutcome::Retried, 2));
        assert_eq!(o["Thumbnail"], (StateOutcome::Caught, 1));
        assert_eq!(o["RecordFailed"], (StateOutcome::Succeeded, 1));
        assert_eq!(o["Failed"].0, StateOutcome::Failed);
        assert_eq!(o["Persist"].0, StateOutcome::NotReached);
        let taken: Vec<(&str, &str)> =
            graph.edges.iter().filter(|e| e.taken).map(|e| (e.from.as_str(), e.to.as_str())).collect();
        assert_eq!(
            taken,
            [
                ("Validate", "DetectLabels"),
                ("DetectLabels", "Thumbnail"),
                ("Thumbnail", "RecordFailed"),
                ("RecordFailed", "Failed")
            ]
        );
    }

    #[test]
    fn an_open_state_is_running_while_the_execution_runs_and_failed_after() {
        let history = vec![entered("Validate"), event("TaskScheduled")];
        assert_eq!(
            outcomes(&build(PIPELINE, &history, ExecutionStatus::Running).unwrap())["Validate"].0,
            StateOutcome::Running
        );
        assert_eq!(
            outcomes(&build(PIPELINE, &history, ExecutionStatus::Aborted).unwrap())["Validate"].0,
            StateOutcome::Failed
        );
    }

    #[test]
    fn bad_definitions_are_errors_and_unknown_names_in_a_history_are_ignored() {
        for bad in ["", "{}", "[]", r#"{"StartAt":"A","States":[]}"#, r#"{"StartAt":"A","States":{"A":{}}}"#] {
            assert!(build(bad, &[], ExecutionStatus::Running).is_err(), "{bad}");
        }
        let minimal = r#"{"StartAt":"B","States":{"B":{"Type":"Pass","End":true},"A":{"Type":"Choice","Choices":[{"Next":"B"},{}],"Default":"B"}}}"#;
        let graph = build(minimal, &[entered("Nope"), exited("Nope"), json!(7)], ExecutionStatus::Succeeded).unwrap();
        assert_eq!(graph.states.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(), ["B", "A"]);
        let kinds: Vec<(EdgeKind, Option<&str>)> = graph.edges.iter().map(|e| (e.kind, e.label.as_deref())).collect();
        assert_eq!(kinds, [(EdgeKind::Choice, Some("rule 1")), (EdgeKind::Default, None)]);
    }
}
