//! An embedded Amazon States Language engine with durable executions.
//!
//! It runs Step Functions state machine definitions (QueryLanguage JSONPath) as the spec says:
//! Task, Pass, Choice, Wait, Succeed, Fail, Parallel and Map states; InputPath -> Parameters ->
//! task -> ResultSelector -> ResultPath -> OutputPath with `.$` fields, the `$$` context object
//! and intrinsic functions; Retry (IntervalSeconds, MaxAttempts, BackoffRate, MaxDelaySeconds,
//! JitterStrategy) and Catch; TimeoutSeconds; a history shaped like GetExecutionHistory.
//!
//! Task work goes through a [`TaskInvoker`]; [`MockInvoker`] answers from an AWS Step
//! Functions Local mock config. [`Engine`] keeps executions durable across restarts;
//! [`run_once`] runs a definition once in memory.
//!
//! Differences from AWS worth knowing: a Task without TimeoutSeconds has no timeout (AWS
//! default); `States.Runtime` is never retried or caught (as on AWS); all Task events are
//! `Task*` (no `LambdaFunction*` events); JSONata, variables (`Assign`), distributed Map and
//! `ItemReader`/`ItemBatcher`/`ResultWriter` are rejected at load with a clear error.

mod choice;
mod definition;
mod engine;
mod error;
mod exec;
mod history;
mod intrinsic;
mod invoke;
mod mock;
mod path;
mod template;
mod time;

pub use definition::Definition;
pub use engine::{run_once, state_machine_arn, Engine};
pub use error::{names as error_names, DefinitionError, EngineError};
pub use history::{ExecutionDescription, ExecutionStatus, HistoryEvent};
pub use invoke::{DelayObserver, DelayReason, DelayRecord, EngineOptions, TaskContext, TaskFailure, TaskFuture, TaskInvoker};
pub use mock::{MockConfigError, MockInvoker};
