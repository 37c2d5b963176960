//! Executions survive a crash (engine dropped mid-task) and resume from their checkpoint;
//! execution names behave like Step Functions.

mod common;
use asl::{
    Definition, Engine, EngineError, EngineOptions, ExecutionStatus, TaskContext, TaskFailure, TaskFuture, TaskInvoker,
};
use common::*;
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

struct TempDir(PathBuf);
impl TempDir {
    fn new() -> TempDir {
        let p = std::env::temp_dir().join(format!("asl-durability-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&p).unwrap();
        TempDir(p)
    }
}
impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Never finishes the "Block" state; echoes everything else.
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

fn machine() -> Definition {
    Definition::parse(&json!({"StartAt": "First", "States": {
        "First": {"Type": "Pass", "Result": "first", "ResultPath": "$.first", "Next": "Block"},
        "Block": {"Type": "Task", "Resource": "block", "ResultPath": "$.block", "Next": "After"},
        "After": {"Type": "Task", "Resource": "after", "Parameters": {"k.$": "$.k"}, "ResultPath": "$.after", "End": true}
    }}).to_string()).unwrap()
}

#[tokio::test]
async fn a_crashed_execution_resumes_from_its_checkpoint() {
    let dir = TempDir::new();
    let blocking = Arc::new(Blocking { calls: Mutex::new(Vec::new()) });
    let engine = Engine::open(dir.0.clone(), blocking.clone(), fast()).unwrap();
    let sm = engine.register_state_machine("m", machine());
    let arn = engine.start_execution(&sm, Some("crash".into()), json!({"k": 1})).await.unwrap();
    until(|| engine.history(&arn).iter().any(|e| e.event_type == "TaskStarted")).await;
    drop(engine); // the process "dies" while Block is in flight

    let echo = Recorder::echo();
    let engine = Engine::open(dir.0.clone(), echo.clone(), fast()).unwrap();
    assert!(engine.load_problems().is_empty());
    assert_eq!(engine.describe(&arn).unwrap().status, ExecutionStatus::Running);
    assert_eq!(engine.resume_unfinished().await, 1);
    let d = tokio::time::timeout(Duration::from_secs(10), engine.wait(&arn)).await.unwrap().unwrap();
    assert_eq!(output(&d), json!({"k": 1, "first": "first", "block": {"k": 1, "first": "first"}, "after": {"k": 1}}));

    // Block was invoked again (at-least-once); First was not re-run.
    let states: Vec<String> = echo.calls().iter().map(|c| c.ctx.state_name.clone()).collect();
    assert_eq!(states, ["Block", "After"]);
    assert_eq!(*blocking.calls.lock().unwrap(), ["Block"]);

    let h = engine.history(&arn);
    let t = types(&h);
    assert_eq!(t.iter().filter(|x| *x == "ExecutionStarted").count(), 1);
    assert_eq!(t.iter().filter(|x| *x == "PassStateEntered").count(), 1);
    assert_eq!(
        h.iter().filter(|e| e.event_type == "TaskStateEntered" && e.detail_str("name") == Some("Block")).count(),
        1
    );
    assert_eq!(
        t.iter().filter(|x| *x == "TaskScheduled").count(),
        3,
        "Block twice (before and after the crash), After once"
    );
    assert_eq!(t.last().unwrap(), "ExecutionSucceeded");
    for (i, e) in h.iter().enumerate() {
        assert_eq!(e.id, i as u64 + 1, "ids stay sequential across the restart");
    }

    // The finished execution is durable too.
    drop(engine);
    let engine = Engine::open(dir.0.clone(), Recorder::echo(), fast()).unwrap();
    assert_eq!(engine.describe(&arn).unwrap(), d);
    assert_eq!(engine.history(&arn), h);
    assert_eq!(engine.resume_unfinished().await, 0);
    assert_eq!(engine.list_executions().len(), 1);
}

#[tokio::test]
async fn retry_counters_survive_a_restart() {
    let dir = TempDir::new();
    let def = Definition::parse(
        &task(json!({"Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2, "IntervalSeconds": 1}]})).to_string(),
    )
    .unwrap();
    let failing = Recorder::new(|_, _, _| Err(TaskFailure::new("Boom", "x")));
    // Real time: the first retry waits one second, during which we "crash".
    let engine = Engine::open(dir.0.clone(), failing.clone(), EngineOptions::default()).unwrap();
    let sm = engine.register_state_machine("m", def.clone());
    let arn = engine.start_execution(&sm, Some("r".into()), json!({})).await.unwrap();
    until(|| engine.history(&arn).iter().any(|e| e.event_type == "TaskFailed")).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    drop(engine);
    assert_eq!(failing.calls().len(), 1);

    let failing = Recorder::new(|_, _, _| Err(TaskFailure::new("Boom", "x")));
    let engine =
        Engine::open(dir.0.clone(), failing.clone(), EngineOptions { time_scale: 0.0, ..Default::default() }).unwrap();
    engine.resume_unfinished().await;
    let d = tokio::time::timeout(Duration::from_secs(10), engine.wait(&arn)).await.unwrap().unwrap();
    assert_eq!(d.error.as_deref(), Some("Boom"));
    let attempts: Vec<u32> = failing.calls().iter().map(|c| c.ctx.attempt).collect();
    assert_eq!(attempts, [1, 2], "one retry was already used before the crash");
}

#[tokio::test]
async fn a_corrupt_store_file_is_reported_and_skipped() {
    let dir = TempDir::new();
    {
        let engine = Engine::open(dir.0.clone(), Recorder::echo(), fast()).unwrap();
        let sm = engine.register_state_machine("m", Definition::parse(&pass(json!({})).to_string()).unwrap());
        let arn = engine.start_execution(&sm, Some("good".into()), json!({})).await.unwrap();
        engine.wait(&arn).await.unwrap();
    }
    std::fs::write(dir.0.join("executions").join("broken.json"), b"{ not json").unwrap();
    std::fs::write(dir.0.join("executions").join("other.json"), b"{\"description\": 1}").unwrap();
    let engine = Engine::open(dir.0.clone(), Recorder::echo(), fast()).unwrap();
    assert_eq!(engine.load_problems().len(), 2, "{:?}", engine.load_problems());
    assert!(engine.load_problems().iter().any(|p| p.contains("broken.json")));
    let all = engine.list_executions();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].name, "good");
}

#[tokio::test]
async fn execution_names_behave_like_step_functions() {
    let engine = Engine::in_memory(Arc::new(Blocking { calls: Mutex::new(Vec::new()) }), fast()).unwrap();
    let sm = engine.register_state_machine("m", machine());
    let arn = engine.start_execution(&sm, Some("same".into()), json!({"k": 1})).await.unwrap();
    assert_eq!(arn, "arn:aws:states:local:000000000000:execution:m:same");
    // Same name and input while running: idempotent.
    assert_eq!(engine.start_execution(&sm, Some("same".into()), json!({"k": 1})).await, Ok(arn.clone()));
    // Different input: already exists.
    let e = engine.start_execution(&sm, Some("same".into()), json!({"k": 2})).await.unwrap_err();
    assert!(matches!(e, EngineError::ExecutionAlreadyExists(_)), "{e:?}");

    let quick = Engine::in_memory(Recorder::echo(), fast()).unwrap();
    let sm2 = quick.register_state_machine("q", Definition::parse(&pass(json!({})).to_string()).unwrap());
    let a = quick.start_execution(&sm2, Some("n".into()), json!({})).await.unwrap();
    quick.wait(&a).await.unwrap();
    let e = quick.start_execution(&sm2, Some("n".into()), json!({})).await.unwrap_err();
    assert!(matches!(e, EngineError::ExecutionAlreadyExists(_)), "a closed execution's name cannot be reused: {e:?}");

    for bad in ["", "has space", "a/b", "x*", &"n".repeat(81)] {
        let e = quick.start_execution(&sm2, Some(bad.to_string()), json!({})).await.unwrap_err();
        assert!(matches!(e, EngineError::InvalidName(_)), "{bad:?}: {e:?}");
    }
    let e = quick
        .start_execution("arn:aws:states:local:000000000000:stateMachine:none", None, json!({}))
        .await
        .unwrap_err();
    assert!(matches!(e, EngineError::StateMachineDoesNotExist(_)));
    assert!(matches!(quick.wait("arn:nope").await, Err(EngineError::ExecutionDoesNotExist(_))));
    assert!(quick.describe("arn:nope").is_none());
    // Unnamed executions get unique UUID names.
    let x = quick.start_execution(&sm2, None, json!({})).await.unwrap();
    let y = quick.start_execution(&sm2, None, json!({})).await.unwrap();
    assert_ne!(x, y);
}

#[tokio::test]
async fn run_once_runs_a_definition_to_its_end() {
    let def = Definition::parse(&task(json!({"ResultPath": "$.r"})).to_string()).unwrap();
    let d = asl::run_once(def, json!({"a": 1}), Recorder::new(|_, _, _| Ok(json!(2))), fast()).await.unwrap();
    assert_eq!(output(&d), json!({"a": 1, "r": 2}));
    let bad = asl::run_once(
        Definition::parse(&pass(json!({})).to_string()).unwrap(),
        json!({}),
        Recorder::echo(),
        EngineOptions { time_scale: -1.0, ..Default::default() },
    )
    .await;
    assert!(matches!(bad, Err(EngineError::InvalidOptions(_))));
}

#[tokio::test]
async fn the_engine_can_be_shared_across_tasks() {
    fn send_sync<T: Send + Sync>(_: &T) {}
    fn send<T: Send>(_: &T) {}
    let engine = Arc::new(Engine::in_memory(Recorder::echo(), fast()).unwrap());
    send_sync(&engine);
    let sm = engine.register_state_machine("m", Definition::parse(&pass(json!({})).to_string()).unwrap());
    let start = engine.start_execution(&sm, None, json!({}));
    send(&start);
    let arn = start.await.unwrap();
    let waiting = engine.wait(&arn);
    send(&waiting);
    let d = waiting.await.unwrap();
    assert_eq!(d.status, asl::ExecutionStatus::Succeeded);
    assert_eq!((d.status.as_str(), d.status.to_string().as_str()), ("SUCCEEDED", "SUCCEEDED"));
    send(&engine.resume_unfinished());
}
