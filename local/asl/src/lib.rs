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
//! # API in brief
//!
//! - [`Definition::substitute`] fills `${Name}` placeholders, [`Definition::parse`] validates
//!   (errors are [`DefinitionError`]; [`Problem`] names the state, the field and what is wrong).
//! - [`Engine::open`] (durable, over a store directory) or [`Engine::in_memory`];
//!   [`Engine::register_state_machine`], [`Engine::start_execution`], [`Engine::wait`],
//!   [`Engine::describe`], [`Engine::history`], [`Engine::list_executions`],
//!   [`Engine::resume_unfinished`], [`Engine::load_problems`].
//! - [`ExecutionDescription`] and [`HistoryEvent`] serialize like DescribeExecution and
//!   GetExecutionHistory (camelCase, `input`/`output` as JSON text, RFC 3339 dates).
//! - [`EngineOptions::time_scale`] scales every real wait; [`EngineOptions::on_delay`] sees each
//!   requested delay (Retry backoff after jitter, Wait states) in unscaled seconds.
//! - [`run_once`] runs one execution in memory (for `imgpipe sfn run`).
//!
//! Error names, as AWS documents them: a Task failure's `error` is matched by `ErrorEquals`;
//! the engine raises `States.Runtime` for a path that matches nothing (InputPath, Parameters,
//! ResultSelector, ItemSelector, an intrinsic's argument, OutputPath, ItemsPath, Choice and Wait
//! paths), `States.DataLimitExceeded` for a payload over 256 KiB (the input after Parameters, a
//! task result, a state output), `States.ResultPathMatchFailure`, `States.IntrinsicFailure`,
//! `States.NoChoiceMatched` and `States.Timeout` (Task TimeoutSeconds/TimeoutSecondsPath and the
//! execution's TimeoutSeconds, which ends it TIMED_OUT). `States.Runtime` is never retried or
//! caught; `States.DataLimitExceeded` only by its own name (not `States.ALL`);
//! `States.TaskFailed` matches every other error but `States.Timeout`. A failed Parallel branch
//! or Map iteration fails the state with the branch's own error (no `States.BranchFailed`).
//!
//! Differences from AWS worth knowing: a Task without TimeoutSeconds has no timeout (AWS
//! default); all Task events are
//! `Task*` (no `LambdaFunction*` events); JSONata, variables (`Assign`), distributed Map and
//! `ItemReader`/`ItemBatcher`/`ResultWriter` are rejected at load with a clear error;
//! HeartbeatSeconds is accepted and ignored; a failed Map iteration fails the Map (no tolerated
//! failures); `States.Hash` supports MD5, SHA-1, SHA-256, SHA-384 and SHA-512;
//! `States.StringSplit` splits on any character of the delimiter string and drops empty parts.

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
mod slots;
mod template;
mod time;

pub use definition::Definition;
pub use engine::{run_once, state_machine_arn, Engine};
pub use error::{names as error_names, DefinitionError, EngineError, Problem};
pub use history::{ExecutionDescription, ExecutionStatus, HistoryEvent};
pub use invoke::{
    DelayObserver, DelayReason, DelayRecord, EngineOptions, TaskContext, TaskFailure, TaskFuture, TaskInvoker,
};
pub use mock::{MockConfigError, MockInvoker};
pub use slots::DrainReport;
