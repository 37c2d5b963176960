//! Bounded work: at most `max_running_tasks` Task states run at once across executions, the rest
//! queue; a drain lets running tasks finish, starts no new one, and the queued executions resume
//! after a restart.

use asl::{Definition, Engine, EngineOptions, ExecutionStatus, TaskContext, TaskFuture, TaskInvoker};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A task that takes `millis` and records how many ran at once.
struct Slow {
    millis: u64,
    now: AtomicUsize,
    peak: AtomicUsize,
    done: AtomicUsize,
}

impl Slow {
    fn new(millis: u64) -> Arc<Slow> {
        Arc::new(Slow { millis, now: AtomicUsize::new(0), peak: AtomicUsize::new(0), done: AtomicUsize::new(0) })
    }
}

impl TaskInvoker for Slow {
    fn invoke(&self, _: &str, input: Value, _: TaskContext) -> TaskFuture<'_> {
        Box::pin(async move {
            let running = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.peak.fetch_max(running, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(self.millis)).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
            self.done.fetch_add(1, Ordering::SeqCst);
            Ok(input)
        })
    }
}

fn two_tasks() -> Definition {
    Definition::parse(
        &json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Resource": "a", "TimeoutSeconds": 1, "ResultPath": "$.a", "Next": "B"},
            "B": {"Type": "Task", "Resource": "b", "ResultPath": "$.b", "End": true}
        }})
        .to_string(),
    )
    .unwrap()
}

fn bounded(limit: usize) -> EngineOptions {
    EngineOptions { time_scale: 1.0, max_running_tasks: Some(limit), ..Default::default() }
}

#[tokio::test]
async fn no_more_tasks_run_at_once_than_the_limit_and_queued_time_is_not_task_time() {
    let slow = Slow::new(150);
    let engine = Engine::in_memory(slow.clone(), bounded(2)).unwrap();
    let sm = engine.register_state_machine("bounded", two_tasks());
    let mut arns = Vec::new();
    for i in 0..8 {
        arns.push(engine.start_execution(&sm, Some(format!("e{i}")), json!({ "i": i })).await.unwrap());
    }
    for arn in &arns {
        let d = tokio::time::timeout(Duration::from_secs(20), engine.wait(arn)).await.expect("finished").unwrap();
        // 16 tasks of 150 ms two at a time take 1.2 s: a task that counted its queue time against
        // its 1 s TimeoutSeconds would have timed out.
        assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    }
    assert_eq!(slow.done.load(Ordering::SeqCst), 16);
    assert_eq!(slow.peak.load(Ordering::SeqCst), 2, "more tasks ran at once than allowed");
}

#[tokio::test]
async fn without_a_limit_tasks_run_side_by_side() {
    let slow = Slow::new(100);
    let engine = Engine::in_memory(slow.clone(), EngineOptions::default()).unwrap();
    let sm = engine.register_state_machine("free", two_tasks());
    let arns: Vec<String> = start_all(&engine, &sm, 4).await;
    for arn in &arns {
        engine.wait(arn).await.unwrap();
    }
    assert_eq!(slow.peak.load(Ordering::SeqCst), 4);
}

async fn start_all(engine: &Engine, sm: &str, n: usize) -> Vec<String> {
    let mut arns = Vec::new();
    for i in 0..n {
        arns.push(engine.start_execution(sm, Some(format!("f{i}")), json!({})).await.unwrap());
    }
    arns
}

#[tokio::test]
async fn a_drain_finishes_running_tasks_and_queued_executions_resume_after_a_restart() {
    let dir = std::env::temp_dir().join(format!("asl-drain-{}", uuid::Uuid::new_v4()));
    let slow = Slow::new(200);
    let arns = {
        let engine = Engine::open(dir.clone(), slow.clone(), bounded(1)).unwrap();
        let sm = engine.register_state_machine("drained", two_tasks());
        let arns = start_all(&engine, &sm, 3).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(engine.running_tasks(), 1);
        let report = engine.drain(Duration::from_secs(5)).await;
        assert_eq!(report.still_running, 0, "the running task was not allowed to finish");
        assert_eq!(slow.done.load(Ordering::SeqCst), 1, "a task started after the drain began");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(slow.done.load(Ordering::SeqCst), 1, "a task started after the drain ended");
        arns
    };
    // The next start continues every execution from its checkpoint.
    let again = Engine::open(dir.clone(), slow.clone(), bounded(1)).unwrap();
    again.register_state_machine("drained", two_tasks());
    assert_eq!(again.resume_unfinished().await, 3);
    for arn in &arns {
        let d = tokio::time::timeout(Duration::from_secs(20), again.wait(arn)).await.expect("finished").unwrap();
        assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    }
    assert_eq!(slow.done.load(Ordering::SeqCst), 6, "each task ran once: none lost, none repeated");
    let _ = std::fs::remove_dir_all(PathBuf::from(&dir));
}
