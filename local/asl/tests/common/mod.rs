#![allow(dead_code)]
//! Shared helpers: a recording task invoker and one-call runners.

use asl::{
    Definition, Engine, EngineOptions, ExecutionDescription, HistoryEvent, TaskContext, TaskFailure, TaskFuture,
    TaskInvoker,
};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// One recorded invocation.
#[derive(Debug, Clone)]
pub struct Call {
    pub resource: String,
    pub input: Value,
    pub ctx: TaskContext,
}

type Respond = dyn Fn(&str, &Value, &TaskContext) -> Result<Value, TaskFailure> + Send + Sync;

/// Records every invocation and answers with a closure.
pub struct Recorder {
    pub calls: Mutex<Vec<Call>>,
    respond: Box<Respond>,
}

impl Recorder {
    pub fn new(
        f: impl Fn(&str, &Value, &TaskContext) -> Result<Value, TaskFailure> + Send + Sync + 'static,
    ) -> Arc<Recorder> {
        Arc::new(Recorder { calls: Mutex::new(Vec::new()), respond: Box::new(f) })
    }
    /// Returns its input unchanged.
    pub fn echo() -> Arc<Recorder> {
        Self::new(|_, input, _| Ok(input.clone()))
    }
    pub fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl TaskInvoker for Recorder {
    fn invoke(&self, resource: &str, input: Value, ctx: TaskContext) -> TaskFuture<'_> {
        self.calls.lock().unwrap().push(Call { resource: resource.into(), input: input.clone(), ctx: ctx.clone() });
        let out = (self.respond)(resource, &input, &ctx);
        Box::pin(async move { out })
    }
}

pub fn fast() -> EngineOptions {
    EngineOptions { time_scale: 0.0, ..Default::default() }
}

/// Runs a definition to its end in memory; returns the description and the history.
pub async fn run_with(
    def: &Value,
    input: Value,
    invoker: Arc<dyn TaskInvoker>,
    options: EngineOptions,
) -> (ExecutionDescription, Vec<HistoryEvent>) {
    let definition = Definition::parse(&def.to_string()).expect("valid definition");
    let engine = Engine::in_memory(invoker, options).unwrap();
    let sm = engine.register_state_machine("test", definition);
    let arn = engine.start_execution(&sm, Some("run".into()), input).await.unwrap();
    let d = tokio::time::timeout(std::time::Duration::from_secs(20), engine.wait(&arn))
        .await
        .expect("execution finished")
        .unwrap();
    (d, engine.history(&arn))
}

pub async fn run(
    def: &Value,
    input: Value,
    invoker: Arc<dyn TaskInvoker>,
) -> (ExecutionDescription, Vec<HistoryEvent>) {
    run_with(def, input, invoker, fast()).await
}

/// The output of a SUCCEEDED execution (panics with the error otherwise).
pub fn output(d: &ExecutionDescription) -> Value {
    assert_eq!(d.status, asl::ExecutionStatus::Succeeded, "execution failed: {:?} {:?}", d.error, d.cause);
    d.output_json().unwrap()
}

pub fn types(history: &[HistoryEvent]) -> Vec<String> {
    history.iter().map(|e| e.event_type.clone()).collect()
}

/// A one-state Pass machine with the given fields.
pub fn pass(fields: Value) -> Value {
    let mut state = serde_json::json!({"Type": "Pass", "End": true});
    for (k, v) in fields.as_object().unwrap() {
        state[k] = v.clone();
    }
    serde_json::json!({"StartAt": "P", "States": {"P": state}})
}

/// A one-state Task machine with the given fields.
pub fn task(fields: Value) -> Value {
    let mut state =
        serde_json::json!({"Type": "Task", "Resource": "arn:aws:lambda:local:000000000000:function:f", "End": true});
    for (k, v) in fields.as_object().unwrap() {
        state[k] = v.clone();
    }
    serde_json::json!({"StartAt": "T", "States": {"T": state}})
}

/// Waits (up to 5 s, polling every 10 ms) until `f` holds; panics otherwise.
pub async fn until(mut f: impl FnMut() -> bool) {
    for _ in 0..500 {
        if f() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("condition not reached");
}
