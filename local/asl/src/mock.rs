//! Task results from an AWS Step Functions Local mock config file:
//!
//! ```json
//! {"StateMachines": {"<machine>": {"TestCases": {"<case>": {"<StateName>": "<MockedResponse>"}}}},
//!  "MockedResponses": {"<MockedResponse>": {"0": {"Return": {...}},
//!                                          "1-2": {"Throw": {"Error": "...", "Cause": "..."}}}}}
//! ```
//!
//! Keys are the 0-based count of invocations of that state within the execution (retries and
//! loops included); `"a-b"` covers a to b inclusive. The `Return` value is the whole task result.

use crate::invoke::{TaskContext, TaskFailure, TaskFuture, TaskInvoker};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use thiserror::Error;

/// A mock config that cannot be used.
#[derive(Debug, Clone, Error, PartialEq)]
#[error("mock config: {0}")]
pub struct MockConfigError(pub String);

#[derive(Debug, Clone)]
enum Response {
    Return(Value),
    Throw(TaskFailure),
}

#[derive(Debug, Clone)]
struct MockedResponse {
    /// (first, last) invocation index, inclusive.
    ranges: Vec<(u64, u64, Response)>,
}

/// A [`TaskInvoker`] answering from one test case of a mock config. Task states that the test
/// case does not name go to the `fallback` invoker, if any.
pub struct MockInvoker {
    test_case: String,
    states: HashMap<String, (String, MockedResponse)>,
    fallback: Option<Arc<dyn TaskInvoker>>,
    counters: Mutex<HashMap<(String, String), u64>>,
}

impl MockInvoker {
    /// Reads the mock config file and selects `state_machine` / `test_case`.
    pub fn from_file(
        path: &std::path::Path,
        state_machine: &str,
        test_case: &str,
    ) -> Result<MockInvoker, MockConfigError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| MockConfigError(format!("cannot read {}: {e}", path.display())))?;
        Self::from_json(&text, state_machine, test_case)
    }

    /// Parses mock config text and selects `state_machine` / `test_case`.
    pub fn from_json(text: &str, state_machine: &str, test_case: &str) -> Result<MockInvoker, MockConfigError> {
        let err = |m: String| MockConfigError(m);
        let root: Value = serde_json::from_str(text).map_err(|e| err(format!("not valid JSON: {e}")))?;
        let machines = root
            .get("StateMachines")
            .and_then(Value::as_object)
            .ok_or_else(|| err("'StateMachines' must be an object".into()))?;
        let machine = machines.get(state_machine).ok_or_else(|| {
            err(format!("unknown state machine '{state_machine}' (the file has: {})", keys(machines)))
        })?;
        let cases = machine
            .get("TestCases")
            .and_then(Value::as_object)
            .ok_or_else(|| err(format!("state machine '{state_machine}': 'TestCases' must be an object")))?;
        let case = cases.get(test_case).and_then(Value::as_object).ok_or_else(|| {
            err(format!(
                "unknown test case '{test_case}' of state machine '{state_machine}' (the file has: {})",
                keys(cases)
            ))
        })?;
        let responses = root
            .get("MockedResponses")
            .and_then(Value::as_object)
            .ok_or_else(|| err("'MockedResponses' must be an object".into()))?;
        let mut states = HashMap::new();
        for (state, response_name) in case {
            let response_name = response_name.as_str().ok_or_else(|| {
                err(format!("test case '{test_case}': the value for state '{state}' must be a MockedResponses name"))
            })?;
            let response = responses.get(response_name).ok_or_else(|| {
                err(format!("test case '{test_case}': state '{state}' uses unknown mocked response '{response_name}'"))
            })?;
            let parsed =
                parse_response(response).map_err(|e| err(format!("mocked response '{response_name}': {e}")))?;
            states.insert(state.clone(), (response_name.to_string(), parsed));
        }
        Ok(MockInvoker {
            test_case: test_case.to_string(),
            states,
            fallback: None,
            counters: Mutex::new(HashMap::new()),
        })
    }

    /// Sends Task states the test case does not mock to `inner`.
    pub fn with_fallback(mut self, inner: Arc<dyn TaskInvoker>) -> MockInvoker {
        self.fallback = Some(inner);
        self
    }
}

fn keys(m: &serde_json::Map<String, Value>) -> String {
    let mut k: Vec<&str> = m.keys().map(String::as_str).collect();
    k.sort();
    if k.is_empty() {
        "none".into()
    } else {
        k.join(", ")
    }
}

fn parse_response(v: &Value) -> Result<MockedResponse, String> {
    let obj = v.as_object().ok_or("must be an object of invocation keys")?;
    let mut ranges = Vec::new();
    for (key, r) in obj {
        let bad_key = || format!("invalid key '{key}' (use \"0\" or a range like \"1-2\")");
        let (first, last) = match key.split_once('-') {
            Some((a, b)) => {
                (a.trim().parse::<u64>().map_err(|_| bad_key())?, b.trim().parse::<u64>().map_err(|_| bad_key())?)
            }
            None => {
                let n = key.trim().parse::<u64>().map_err(|_| bad_key())?;
                (n, n)
            }
        };
        if first > last {
            return Err(bad_key());
        }
        let robj = r.as_object().ok_or(format!("'{key}' must be an object with Return or Throw"))?;
        let response = match (robj.get("Return"), robj.get("Throw")) {
            (Some(v), None) => Response::Return(v.clone()),
            (None, Some(t)) => {
                let field = |f: &str| t.get(f).and_then(Value::as_str).map(str::to_string);
                let error = field("Error").ok_or(format!("'{key}': Throw needs an 'Error' string"))?;
                Response::Throw(TaskFailure { error, cause: field("Cause").unwrap_or_default() })
            }
            _ => return Err(format!("'{key}' must have exactly one of Return and Throw")),
        };
        if ranges.iter().any(|(a, b, _)| first <= *b && *a <= last) {
            return Err(format!("key '{key}' overlaps another key"));
        }
        ranges.push((first, last, response));
    }
    Ok(MockedResponse { ranges })
}

impl TaskInvoker for MockInvoker {
    fn invoke(&self, resource: &str, input: Value, ctx: TaskContext) -> TaskFuture<'_> {
        let Some((name, mocked)) = self.states.get(&ctx.state_name) else {
            return match &self.fallback {
                Some(inner) => inner.invoke(resource, input, ctx),
                None => {
                    let cause = format!(
                        "state '{}' is not mocked in test case '{}' and there is no other task invoker",
                        ctx.state_name, self.test_case
                    );
                    Box::pin(async move { Err(TaskFailure::new("States.Runtime", cause)) })
                }
            };
        };
        let index = {
            let mut counters = self.counters.lock().unwrap_or_else(|p| p.into_inner());
            let n = counters.entry((ctx.execution_id.clone(), ctx.state_name.clone())).or_insert(0);
            let index = *n;
            *n += 1;
            index
        };
        let result = match mocked.ranges.iter().find(|(a, b, _)| (*a..=*b).contains(&index)) {
            Some((_, _, Response::Return(v))) => Ok(v.clone()),
            Some((_, _, Response::Throw(f))) => Err(f.clone()),
            None => Err(TaskFailure::new(
                "States.Runtime",
                format!("mocked response '{name}' has no entry for invocation {index} of state '{}'", ctx.state_name),
            )),
        };
        Box::pin(async move { result })
    }
}
