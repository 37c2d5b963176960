//! The engine: state machines, durable executions, the API shaped like Step Functions.

use crate::error::EngineError;
use crate::exec::{Execution, Record, Runner};
use crate::history::{ExecutionDescription, ExecutionStatus, HistoryEvent};
use crate::invoke::{EngineOptions, TaskInvoker};
use crate::slots::{DrainReport, TaskSlots};
use crate::{time, Definition};
use serde_json::Value;
use sha2::Digest as _;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

const ARN_PREFIX: &str = "arn:aws:states:local:000000000000";

/// The ARN of a state machine registered under `name`.
pub fn state_machine_arn(name: &str) -> String {
    format!("{ARN_PREFIX}:stateMachine:{name}")
}

/// An embedded Step Functions: register definitions, start executions, read their status and
/// history.
///
/// With a store directory, every execution is written to `<store>/executions/<sha256>.json`
/// (temp file + rename) at each top-level state transition: its description, history and a
/// checkpoint (the state to re-enter, its raw input, its retry counters and any pending wait).
/// After a crash, [`Engine::open`] loads them and [`Engine::resume_unfinished`] continues each
/// RUNNING one from its checkpoint. Delivery is at-least-once: a Task interrupted mid-flight is
/// invoked again (like a Lambda retry), a Parallel or inline Map state restarts as a whole, and a
/// top-level Distributed Map continues its Map Run without running its finished children again.
///
/// Dropping the Engine stops its executions (they stay RUNNING in the store).
pub struct Engine {
    store: Option<PathBuf>,
    invoker: Arc<dyn TaskInvoker>,
    options: EngineOptions,
    machines: Mutex<HashMap<String, Definition>>,
    executions: Mutex<HashMap<String, Arc<Execution>>>,
    /// The task driving each execution in this process, by ARN.
    tasks: Mutex<HashMap<String, JoinHandle<()>>>,
    /// Serializes [`Engine::stop_execution`], so one stop's runner is gone before another looks.
    stopping: tokio::sync::Mutex<()>,
    slots: Arc<TaskSlots>,
    load_problems: Vec<String>,
}

impl Drop for Engine {
    fn drop(&mut self) {
        for (_, t) in lock(&self.tasks).drain() {
            t.abort();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn check_options(options: &EngineOptions) -> Result<(), EngineError> {
    if options.timeout_scale.is_some_and(|t| !t.is_finite() || t < 0.0) {
        return Err(EngineError::InvalidOptions(format!(
            "timeout_scale must be a finite number >= 0, got {:?}",
            options.timeout_scale
        )));
    }
    if !options.time_scale.is_finite() || options.time_scale < 0.0 {
        return Err(EngineError::InvalidOptions(format!(
            "time_scale must be a finite number >= 0, got {}",
            options.time_scale
        )));
    }
    Ok(())
}

impl Engine {
    /// Opens (creating if needed) a durable engine over `store_dir`, loading its executions.
    /// Unreadable execution files are skipped and reported by [`Engine::load_problems`].
    pub fn open(
        store_dir: PathBuf,
        invoker: Arc<dyn TaskInvoker>,
        options: EngineOptions,
    ) -> Result<Engine, EngineError> {
        check_options(&options)?;
        let max_running_tasks = options.max_running_tasks;
        let dir = store_dir.join("executions");
        std::fs::create_dir_all(&dir)
            .map_err(|e| EngineError::Store(format!("cannot create {}: {e}", dir.display())))?;
        let mut executions = HashMap::new();
        let mut problems = Vec::new();
        let entries =
            std::fs::read_dir(&dir).map_err(|e| EngineError::Store(format!("cannot read {}: {e}", dir.display())))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().and_then(|e| e.to_str()) != Some("json") {
                continue;
            }
            match load_record(&path) {
                Ok((record, definition)) => {
                    let exec = Execution::new(record, definition, Some(path));
                    executions.insert(exec.arn.clone(), Arc::new(exec));
                }
                Err(e) => {
                    let msg = format!("skipping unreadable execution file {}: {e}", path.display());
                    tracing::warn!("{msg}");
                    problems.push(msg);
                }
            }
        }
        Ok(Engine {
            store: Some(dir),
            invoker,
            options,
            machines: Mutex::new(HashMap::new()),
            executions: Mutex::new(executions),
            tasks: Mutex::new(HashMap::new()),
            stopping: tokio::sync::Mutex::new(()),
            slots: Arc::new(TaskSlots::new(max_running_tasks)),
            load_problems: problems,
        })
    }

    /// An engine that keeps executions in memory only.
    pub fn in_memory(invoker: Arc<dyn TaskInvoker>, options: EngineOptions) -> Result<Engine, EngineError> {
        check_options(&options)?;
        let max_running_tasks = options.max_running_tasks;
        Ok(Engine {
            store: None,
            invoker,
            options,
            machines: Mutex::new(HashMap::new()),
            executions: Mutex::new(HashMap::new()),
            tasks: Mutex::new(HashMap::new()),
            stopping: tokio::sync::Mutex::new(()),
            slots: Arc::new(TaskSlots::new(max_running_tasks)),
            load_problems: Vec::new(),
        })
    }

    /// Store files that could not be loaded by [`Engine::open`].
    pub fn load_problems(&self) -> &[String] {
        &self.load_problems
    }

    /// Registers (or replaces) a state machine; returns its ARN
    /// `arn:aws:states:local:000000000000:stateMachine:<name>`.
    pub fn register_state_machine(&self, name: &str, definition: Definition) -> String {
        let arn = state_machine_arn(name);
        lock(&self.machines).insert(arn.clone(), definition);
        arn
    }

    /// The registered state machines, `(ARN, definition)`, ordered by ARN (ListStateMachines).
    pub fn state_machines(&self) -> Vec<(String, Definition)> {
        let mut machines: Vec<_> = lock(&self.machines).iter().map(|(a, d)| (a.clone(), d.clone())).collect();
        machines.sort_by(|a, b| a.0.cmp(&b.0));
        machines
    }

    /// Starts an execution (it runs in a tokio task) and returns its ARN
    /// `arn:aws:states:local:000000000000:execution:<machine>:<name>`. Without a name a UUID is
    /// used. Like Step Functions, reusing a name returns the same ARN while that execution is
    /// RUNNING with the same input, and is `ExecutionAlreadyExists` otherwise.
    pub async fn start_execution(
        &self,
        state_machine_arn: &str,
        name: Option<String>,
        input: Value,
    ) -> Result<String, EngineError> {
        let definition = lock(&self.machines)
            .get(state_machine_arn)
            .cloned()
            .ok_or_else(|| EngineError::StateMachineDoesNotExist(state_machine_arn.to_string()))?;
        let name = name.unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        check_name(&name)?;
        let sm_name = state_machine_arn.rsplit(':').next().unwrap_or_default();
        let arn = format!("{ARN_PREFIX}:execution:{sm_name}:{name}");
        let exec = {
            let mut execs = lock(&self.executions);
            if let Some(existing) = execs.get(&arn) {
                let d = existing.description();
                let same_input = serde_json::from_str::<Value>(&d.input).ok().as_ref() == Some(&input);
                if d.status == ExecutionStatus::Running && same_input {
                    return Ok(arn);
                }
                return Err(EngineError::ExecutionAlreadyExists(format!(
                    "Execution Already Exists: '{arn}' ({})",
                    d.status.as_str()
                )));
            }
            let record = Record {
                description: ExecutionDescription {
                    execution_arn: arn.clone(),
                    state_machine_arn: state_machine_arn.to_string(),
                    name,
                    status: ExecutionStatus::Running,
                    start_date: time::now_string(),
                    stop_date: None,
                    input: input.to_string(),
                    output: None,
                    error: None,
                    cause: None,
                },
                definition: definition.as_json().to_string(),
                history: Vec::new(),
                checkpoint: None,
            };
            let file = self.store.as_ref().map(|dir| dir.join(file_name(&arn)));
            let exec = Arc::new(Execution::new(record, definition, file));
            execs.insert(arn.clone(), exec.clone());
            exec
        };
        self.spawn(exec, None, true);
        Ok(arn)
    }

    fn spawn(&self, exec: Arc<Execution>, resume: Option<crate::exec::Checkpoint>, fresh: bool) {
        exec.active.store(true, Ordering::SeqCst);
        let arn = exec.arn.clone();
        let runner = Arc::new(Runner {
            exec,
            invoker: self.invoker.clone(),
            options: self.options.clone(),
            slots: self.slots.clone(),
        });
        let handle = tokio::spawn(runner.run(resume, fresh));
        let mut tasks = lock(&self.tasks);
        tasks.retain(|_, t| !t.is_finished());
        tasks.insert(arn, handle);
    }

    /// Stops a RUNNING execution (StopExecution): its runner is cancelled (a Task in flight is
    /// abandoned, as a Lambda's result is after a stop), and it ends ABORTED with an
    /// `ExecutionAborted` event carrying `error` and `cause`. An execution that already ended is
    /// left as it is. Returns the description afterwards (its `stop_date`).
    pub async fn stop_execution(
        &self,
        execution_arn: &str,
        error: Option<String>,
        cause: Option<String>,
    ) -> Result<ExecutionDescription, EngineError> {
        let exec = self.execution(execution_arn)?;
        let _one_at_a_time = self.stopping.lock().await;
        let runner = lock(&self.tasks).remove(execution_arn);
        if let Some(runner) = runner {
            runner.abort();
            // Cancelled, or it finished first: either way nothing drives the execution after this.
            let _ = runner.await;
        }
        exec.abort(error, cause);
        Ok(exec.description())
    }

    /// Waits until the execution is no longer RUNNING and describes it.
    pub async fn wait(&self, execution_arn: &str) -> Result<ExecutionDescription, EngineError> {
        let exec = self.execution(execution_arn)?;
        exec.finished().await;
        Ok(exec.description())
    }

    fn execution(&self, arn: &str) -> Result<Arc<Execution>, EngineError> {
        lock(&self.executions).get(arn).cloned().ok_or_else(|| EngineError::ExecutionDoesNotExist(arn.to_string()))
    }

    /// The execution's current description (DescribeExecution).
    pub fn describe(&self, execution_arn: &str) -> Option<ExecutionDescription> {
        self.execution(execution_arn).ok().map(|e| e.description())
    }

    /// The execution's events so far (GetExecutionHistory); empty for an unknown ARN.
    pub fn history(&self, execution_arn: &str) -> Vec<HistoryEvent> {
        self.execution(execution_arn).map(|e| e.history()).unwrap_or_default()
    }

    /// Every execution, oldest first.
    pub fn list_executions(&self) -> Vec<ExecutionDescription> {
        let mut all: Vec<ExecutionDescription> = lock(&self.executions).values().map(|e| e.description()).collect();
        all.sort_by(|a, b| a.start_date.cmp(&b.start_date).then(a.execution_arn.cmp(&b.execution_arn)));
        all
    }

    /// Task states running now, across all executions.
    pub fn running_tasks(&self) -> usize {
        self.slots.running()
    }

    /// For a graceful stop: starts no new Task from now on and waits up to `timeout` for the
    /// running ones to finish and checkpoint. Executions stay RUNNING in the store and continue
    /// at the next [`Engine::resume_unfinished`].
    pub async fn drain(&self, timeout: std::time::Duration) -> DrainReport {
        let report = self.slots.drain(timeout).await;
        tracing::info!(still_running = report.still_running, "engine drained");
        report
    }

    /// Continues every RUNNING execution loaded from the store from its last checkpoint;
    /// returns how many were resumed.
    pub async fn resume_unfinished(&self) -> usize {
        let candidates: Vec<Arc<Execution>> = lock(&self.executions)
            .values()
            .filter(|e| e.description().status == ExecutionStatus::Running && !e.active.load(Ordering::SeqCst))
            .cloned()
            .collect();
        let count = candidates.len();
        for exec in candidates {
            let checkpoint = exec.checkpoint();
            let fresh = exec.history().is_empty();
            tracing::info!(execution = %exec.arn, state = ?checkpoint.as_ref().map(|c| &c.state), "resuming execution");
            self.spawn(exec, checkpoint, fresh);
        }
        count
    }
}

fn load_record(path: &std::path::Path) -> Result<(Record, Definition), String> {
    let text = std::fs::read_to_string(path).map_err(|e| e.to_string())?;
    let record: Record = serde_json::from_str(&text).map_err(|e| format!("not an execution record: {e}"))?;
    let definition = Definition::parse(&record.definition).map_err(|e| e.to_string())?;
    Ok((record, definition))
}

/// Store file names are hashes of the ARN, so no name ever becomes a path.
fn file_name(arn: &str) -> String {
    format!("{}.json", hex::encode(sha2::Sha256::digest(arn.as_bytes())))
}

/// Step Functions execution name rules: 1-80 characters, none of whitespace, brackets,
/// wildcards, `"#%\^|~`$&,;:/` or control characters.
fn check_name(name: &str) -> Result<(), EngineError> {
    let count = name.chars().count();
    if count == 0 || count > 80 {
        return Err(EngineError::InvalidName(format!("execution name must be 1 to 80 characters, got {count}")));
    }
    if let Some(c) =
        name.chars().find(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(*c))
    {
        return Err(EngineError::InvalidName(format!("execution name '{name}' contains the invalid character {c:?}")));
    }
    Ok(())
}

/// Runs `definition` once on `input` in memory and returns the finished execution
/// (for `imgpipe sfn run`).
pub async fn run_once(
    definition: Definition,
    input: Value,
    invoker: Arc<dyn TaskInvoker>,
    options: EngineOptions,
) -> Result<ExecutionDescription, EngineError> {
    let engine = Engine::in_memory(invoker, options)?;
    let arn = engine.register_state_machine("run-once", definition);
    let exec = engine.start_execution(&arn, None, input).await?;
    engine.wait(&exec).await
}
