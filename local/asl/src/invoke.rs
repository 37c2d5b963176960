//! The port through which Task states run their work, and the engine options.

use serde_json::Value;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// A Task failure: the error name matched by `ErrorEquals` and a cause for people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskFailure {
    pub error: String,
    pub cause: String,
}

impl TaskFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskFailure { error: error.into(), cause: cause.into() }
    }
}

impl fmt::Display for TaskFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

impl std::error::Error for TaskFailure {}

/// What a Task invocation knows about where it runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskContext {
    /// The execution ARN (`$$.Execution.Id`).
    pub execution_id: String,
    /// The Task state's name.
    pub state_name: String,
    /// How many times this state has been retried so far (`$$.State.RetryCount`, 0-based).
    pub attempt: u32,
}

/// The future a [`TaskInvoker`] returns.
pub type TaskFuture<'a> = Pin<Box<dyn Future<Output = Result<Value, TaskFailure>> + Send + 'a>>;

/// Runs the work of Task states: gets the `Resource` and the effective Parameters, returns the
/// task result or a failure (`error` is matched by Retry/Catch `ErrorEquals`).
pub trait TaskInvoker: Send + Sync + 'static {
    fn invoke(&self, resource: &str, input: Value, ctx: TaskContext) -> TaskFuture<'_>;
}

/// Why the engine waited.
#[derive(Debug, Clone, PartialEq)]
pub enum DelayReason {
    /// Before retry number `attempt` (1-based) of retrier `retrier` (index in `Retry`).
    Retry { retrier: usize, attempt: u32 },
    /// A Wait state.
    Wait,
}

/// A wait the engine requested, in unscaled seconds (before `time_scale`).
#[derive(Debug, Clone, PartialEq)]
pub struct DelayRecord {
    pub execution_arn: String,
    pub state_name: String,
    pub reason: DelayReason,
    pub seconds: f64,
}

/// A callback told about every requested delay (Retry backoff, Wait states).
pub type DelayObserver = Arc<dyn Fn(&DelayRecord) + Send + Sync>;

/// Engine settings.
#[derive(Clone)]
pub struct EngineOptions {
    /// Multiplies every real wait (Wait states, Retry delays, TimeoutSeconds, execution
    /// TimeoutSeconds): 1.0 is real time, 0.001 makes a second a millisecond, 0 never waits.
    pub time_scale: f64,
    /// Multiplies TimeoutSeconds only, when set; `None` scales them by `time_scale`. A product
    /// that shrinks Retry/Wait delays for tests keeps real task timeouts with `Some(1.0)`.
    pub timeout_scale: Option<f64>,
    /// Called with every requested delay (for tests and tracing).
    pub on_delay: Option<DelayObserver>,
    /// At most this many Task states run at once across all executions; the others queue
    /// between TaskScheduled and TaskStarted. `None`: no limit.
    pub max_running_tasks: Option<usize>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions { time_scale: 1.0, timeout_scale: None, on_delay: None, max_running_tasks: None }
    }
}

impl fmt::Debug for EngineOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EngineOptions")
            .field("time_scale", &self.time_scale)
            .field("timeout_scale", &self.timeout_scale)
            .field("on_delay", &self.on_delay.as_ref().map(|_| "<callback>"))
            .field("max_running_tasks", &self.max_running_tasks)
            .finish()
    }
}
