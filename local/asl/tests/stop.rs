//! StopExecution: a running execution ends ABORTED with an `ExecutionAborted` event, its
//! runner is cancelled, the outcome is durable, and a finished execution is left alone.

mod common;
use asl::{Definition, Engine, EngineError, ExecutionStatus, TaskContext, TaskFuture, TaskInvoker};
use common::*;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Never finishes the "Block" state; echoes everything else. Records the states invoked.
#[derive(Default)]
struct Blocking {
    calls: Mutex<Vec<String>>,
}
impl TaskInvoker for Blocking {
    fn invoke(&self, _: &str, input: Value, ctx: TaskContext) -> TaskFuture<'_> {
        self.calls.lock().unwrap().push(ctx.state_name.clone());
        Box::pin(async move {
            if ctx.state_name == "Block" {
                std::future::pending::<()>().await;
            }
            Ok(input)
        })
    }
}
impl Blocking {
    fn called(&self, state: &str) -> bool {
        self.calls.lock().unwrap().iter().any(|s| s == state)
    }
}

fn machine() -> Definition {
    Definition::parse(
        &json!({"StartAt": "Block", "States": {
            "Block": {"Type": "Task", "Resource": "block", "Next": "After"},
            "After": {"Type": "Task", "Resource": "after", "End": true}
        }})
        .to_string(),
    )
    .unwrap()
}

#[tokio::test]
async fn stopping_a_running_execution_aborts_it_durably() {
    let dir = std::env::temp_dir().join(format!("asl-stop-{}", uuid::Uuid::new_v4()));
    let invoker = Arc::new(Blocking::default());
    let engine = Engine::open(dir.clone(), invoker.clone(), fast()).unwrap();
    let sm = engine.register_state_machine("m", machine());
    let arn = engine.start_execution(&sm, Some("x".into()), json!({"k": 1})).await.unwrap();
    until(|| invoker.called("Block")).await;

    let stopped = engine.stop_execution(&arn, Some("Operator".into()), Some("stopped by hand".into())).await.unwrap();
    assert_eq!(stopped.status, ExecutionStatus::Aborted);
    assert_eq!(stopped.error.as_deref(), Some("Operator"));
    assert_eq!(stopped.cause.as_deref(), Some("stopped by hand"));
    let stop_date = stopped.stop_date.clone().expect("a stop date");
    let waited = tokio::time::timeout(Duration::from_secs(5), engine.wait(&arn)).await.unwrap().unwrap();
    assert_eq!(waited, stopped);

    let history = engine.history(&arn);
    let last = history.last().unwrap();
    assert_eq!(last.event_type, "ExecutionAborted");
    assert_eq!(last.previous_event_id, history[history.len() - 2].id);
    assert_eq!(
        last.details.get("executionAbortedEventDetails"),
        Some(&json!({"error": "Operator", "cause": "stopped by hand"}))
    );
    // The runner is gone: nothing after the stop, and a second stop changes nothing.
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!invoker.called("After"));
    let again = engine.stop_execution(&arn, Some("Other".into()), None).await.unwrap();
    assert_eq!((again.error.as_deref(), again.stop_date.as_deref()), (Some("Operator"), Some(stop_date.as_str())));
    assert_eq!(engine.history(&arn).len(), history.len());
    drop(engine);

    let reopened = Engine::open(dir.clone(), Arc::new(Blocking::default()), fast()).unwrap();
    assert_eq!(reopened.describe(&arn).unwrap().status, ExecutionStatus::Aborted);
    assert_eq!(reopened.resume_unfinished().await, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn stop_without_error_or_cause_and_on_finished_or_unknown_executions() {
    let engine = Engine::in_memory(Arc::new(Blocking::default()), fast()).unwrap();
    let sm = engine.register_state_machine("m", machine());
    let arn = engine.start_execution(&sm, None, json!({})).await.unwrap();
    let stopped = engine.stop_execution(&arn, None, None).await.unwrap();
    assert_eq!((stopped.status, stopped.error, stopped.cause), (ExecutionStatus::Aborted, None, None));
    let last = engine.history(&arn).pop().unwrap();
    assert_eq!(last.event_type, "ExecutionAborted");
    assert!(last.details.is_empty(), "{last:?}");

    let pass = Definition::parse(&json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string());
    let done_sm = engine.register_state_machine("done", pass.unwrap());
    let done = engine.start_execution(&done_sm, None, json!({"a": 1})).await.unwrap();
    let finished = engine.wait(&done).await.unwrap();
    let after = engine.stop_execution(&done, Some("Late".into()), None).await.unwrap();
    assert_eq!(after, finished);
    assert_eq!(after.status, ExecutionStatus::Succeeded);

    let missing = engine.stop_execution("arn:aws:states:local:000000000000:execution:m:nope", None, None).await;
    assert!(matches!(missing, Err(EngineError::ExecutionDoesNotExist(_))), "{missing:?}");
}

#[test]
fn state_machines_are_listed_by_arn_with_their_definitions() {
    let engine = Engine::in_memory(Arc::new(Blocking::default()), fast()).unwrap();
    assert!(engine.state_machines().is_empty());
    let b = engine.register_state_machine("b", machine());
    let a = engine.register_state_machine("a", machine());
    let listed = engine.state_machines();
    let arns: Vec<&str> = listed.iter().map(|(arn, _)| arn.as_str()).collect();
    assert_eq!(arns, [a.as_str(), b.as_str()]);
    assert_eq!(listed[0].1.as_json(), machine().as_json());
}
