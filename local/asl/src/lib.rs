//! An embedded Amazon States Language engine with durable executions.
//!
//! It runs Step Functions state machine definitions (QueryLanguage JSONPath or JSONata) as the
//! spec says:
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
//! Distributed Map (ItemProcessor ProcessorConfig Mode `DISTRIBUTED`, ExecutionType `STANDARD`
//! or `EXPRESS`): items from ItemsPath or an ItemReader (`arn:aws:states:::s3:listObjectsV2`
//! with Parameters Bucket/Prefix, every page followed; `arn:aws:states:::s3:getObject` with
//! ReaderConfig InputType `JSON` (an array), `JSONL` or `CSV` (CSVHeaderLocation `FIRST_ROW` or
//! `GIVEN` with CSVHeaders); MaxItems(Path)); ItemSelector with `$$.Map.Item.Index`/`Value`;
//! ItemBatcher (MaxItemsPerBatch(Path), MaxInputBytesPerBatch(Path), each child gets
//! `{"BatchInput": ..., "Items": [...]}`); MaxConcurrency(Path) (0: up to 10,000);
//! ToleratedFailurePercentage(Path) / ToleratedFailureCount(Path) (none: no failure tolerated;
//! a failed batch counts all its items); Label; ResultWriter (`arn:aws:states:::s3:putObject`,
//! Parameters Bucket/Prefix) writing `<Prefix>/<run id>/SUCCEEDED_n.json`, `FAILED_n.json`,
//! `PENDING_n.json` (JSON arrays of the children's execution results, Transformation NONE) and
//! `manifest.json`, the Map's result then being `{"MapRunArn", "ResultWriterDetails": {"Bucket",
//! "Key"}}`. Each item or batch runs as a child execution of the item processor with its own
//! history; the parent's history shows `MapStateStarted`, `MapRunStarted` (`mapRunArn`),
//! `MapRunSucceeded` or `MapRunFailed`. The S3 actions go through the [`TaskInvoker`] with the
//! AWS parameter names ([`resources`]); their failures are `States.ItemReaderFailed` and
//! `States.ResultWriterFailed`, a malformed file or an item over the limits (256 KiB, or a
//! batch's MaxInputBytesPerBatch) is `States.ItemReaderFailed`, and too many failed items
//! `States.ExceedToleratedFailureThreshold` (after the results are written). A top-level Map
//! Run of a durable engine keeps its child inputs and finished results beside the execution's
//! store file: resumed after a crash, it runs only the children not finished (the ones running
//! at the crash run again: at-least-once, like a redrive).
//!
//! Differences from AWS worth knowing: a Task without TimeoutSeconds has no timeout (AWS
//! default); all Task events are
//! `Task*` (no `LambdaFunction*` events); JSONata states and variables are described below;
//! HeartbeatSeconds is accepted and ignored; `States.Hash` supports MD5, SHA-1, SHA-256, SHA-384
//! and SHA-512; `States.StringSplit` splits on any character of the delimiter string and drops
//! empty parts. Distributed Map: ReaderConfig InputType `PARQUET`/`MANIFEST`, CSVDelimiter,
//! ResultWriter WriterConfig, S3 inventory manifests and Map Run redrive/UpdateMapRun are not
//! supported (rejected at load); a Map Run reads all its items before the first child starts and
//! holds the child inputs in memory as JSON text, at most 1,000,000 items and 256 MiB (more is
//! `States.ItemReaderFailed`), and each finished child's result entry until the run ends (a
//! child's output is at most 256 KiB); children are not listed by [`Engine::list_executions`] (their
//! ARNs are in the result files); EXPRESS children run like STANDARD ones; a Distributed Map
//! nested in a Parallel branch or a Map iteration is not durable (it restarts with its state).
//!
//! # JSONata and variables
//!
//! `QueryLanguage` `JSONata` at the top or per state (a JSONPath machine may hold JSONata
//! states, not the reverse; a branch or item processor inherits its machine's language).
//! JSONata states take `Arguments` (Task, Parallel) and `Output` templates in which any string
//! that is entirely `{% expr %}` is replaced by the expression's value, with `$states.input`,
//! `$states.result` (Task, Parallel, Map), `$states.errorOutput` (Catch) and
//! `$states.context`; Choice rules with `Condition` (a boolean), `Assign` and `Output`; Map
//! `Items` and `ItemSelector` (`$states.context.Map.Item`); Wait `Seconds`/`Timestamp`, Fail
//! `Error`/`Cause`, Task `TimeoutSeconds`/`HeartbeatSeconds` and Map `MaxConcurrency` as
//! expressions; Catch `Output` and `Assign`. A Distributed Map in a JSONata state takes `Items`
//! (default: the state input), `ItemSelector`, `ItemReader.Arguments` (an object or one
//! expression), `ReaderConfig.MaxItems`, `ItemBatcher.MaxItemsPerBatch`/`MaxInputBytesPerBatch`,
//! `BatchInput`, `MaxConcurrency`, `ToleratedFailureCount`/`ToleratedFailurePercentage` and
//! `ResultWriter.Arguments` as literals or expressions over `$states.input`; its `Output` and
//! `Assign` see `$states.result` (the results, or the ResultWriter details); `Parameters` and
//! every `*Path` field (MaxItemsPath, MaxItemsPerBatchPath, ToleratedFailureCountPath, ...) are
//! refused at load naming the state and field. Every expression is parsed at load; the JSONPath
//! fields are refused in JSONata states naming the state and the field. An expression that fails,
//! returns nothing where a value is needed, or returns the wrong type is
//! `States.QueryEvaluationError` (caught by `States.ALL`), reported first by an `EvaluationFailed`
//! event (`error`, `cause`, `location`: the field, such as `Output/n`, and `state`) from the state
//! that evaluated it, before its retry, catch or failure events. Causes read as AWS's: "An error
//! occurred while executing the state 'E' (entered at the event id #2). The JSONata expression
//! '$states.input.missing' specified for the field 'Output/v' returned nothing (undefined)." (a
//! state resumed after a restart leaves out the event id).
//!
//! Variables: `Assign` on Pass, Task, Choice (and its rules), Wait, Parallel, Map and catchers,
//! in both query languages (JSONPath: `.$` keys are paths or intrinsics whose `$` is the
//! state's result after ResultSelector, a Pass state's Result/Parameters value, the effective
//! input of Choice and Wait, a catcher's error output; JSONata: expressions over `$states`).
//! Every value of an Assign, and Output, sees the variables from before the state. Read as
//! `$name...` in JSONPath paths (Parameters, ResultSelector, Choice, intrinsic arguments; not in
//! InputPath/OutputPath/ResultPath or the `*Path` fields) and as `$name` in JSONata. A Parallel
//! branch or Inline Map iteration reads outer variables and keeps its own; assigning a name
//! assigned in an enclosing scope is a load error. Limits: 256 KiB per variable and per Assign, 10 MiB
//! together (`States.DataLimitExceeded`). Variables are saved with each checkpoint and restored
//! on resume; `*StateExited` events carry `assignedVariables` (JSON text) and
//! `assignedVariablesDetails`.
//!
//! A Distributed Map's children are executions of their own and, as on AWS ("Distributed Map
//! states cannot reference variables in outer scopes", workflow-variables, Variable scope), do
//! not see the parent's variables: reading one is `States.QueryEvaluationError` (JSONata) in
//! the child, and a child may assign a name its parent assigns.
//!
//! JSONata expressions are evaluated by the `jsonata` crate, which lists what of JSONata 2.0.6 it
//! does not support (a few regular-expression details and group-by over `@`/`#` bindings).
//!
//! Not supported (refused at load or absent): `Credentials`. Each JSONata evaluation runs on its
//! own short-lived thread (the engine's worker waits for it) within the jsonata crate's step,
//! depth, string and time (10 s) limits.

mod choice;
mod definition;
mod distributed;
mod engine;
mod error;
mod exec;
mod history;
mod intrinsic;
mod invoke;
mod item_reader;
mod map_run;
mod mock;
mod path;
mod query;
mod slots;
mod template;
mod time;

pub use definition::Definition;
pub use distributed::resources;
pub use engine::{run_once, state_machine_arn, Engine};
pub use error::{names as error_names, DefinitionError, EngineError, Problem};
pub use history::{ExecutionDescription, ExecutionStatus, HistoryEvent};
pub use invoke::{
    DelayObserver, DelayReason, DelayRecord, EngineOptions, TaskContext, TaskFailure, TaskFuture, TaskInvoker,
};
pub use mock::{MockConfigError, MockInvoker};
pub use slots::DrainReport;
