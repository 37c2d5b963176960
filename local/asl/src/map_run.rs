//! A Distributed Map's Map Run: reads the items (ItemReader through the task invoker, or
//! ItemsPath), applies ItemSelector and ItemBatcher, runs each item or batch as a child
//! execution of the item processor (at most MaxConcurrency at once), fails the run with
//! `States.ExceedToleratedFailureThreshold` once more items failed than tolerated, and exports
//! the results with ResultWriter.
//!
//! A top-level Map Run of a durable engine is kept beside the execution's store file: the child
//! inputs (`children.jsonl`, written once the items are read, so a resumed run never re-reads
//! S3) and one line per finished child (`results.jsonl`). A run resumed after a crash skips the
//! children already finished and runs the others again (a child running at the crash runs twice:
//! at-least-once, as AWS's redrive of a Map Run). The files stay until the execution ends, so a
//! crash after the Map finished but before the next state's checkpoint runs no child again.

use crate::definition::{Machine, Seconds};
use crate::distributed::{resources, Distributed, ItemBatcher, ItemReader, Percentage, Request};
use crate::error::{names, StatesError, PAYLOAD_LIMIT_BYTES};
use crate::exec::{count_in, json_size, jsonata_items, Execution, ItemSelector, Record, Runner, Visit};
use crate::history::{ExecutionDescription, ExecutionStatus};
use crate::invoke::TaskContext;
use crate::item_reader;
use crate::path::Path;
use crate::query::{JTemplate, States};
use crate::template::{Scope, Template};
use crate::{time, Definition};
use serde_json::{json, Value};
use sha2::Digest as _;
use std::io::Write as _;
use std::ops::ControlFlow;
use std::path::PathBuf;
use std::sync::Arc;

/// Child executions running at once when MaxConcurrency is 0 or larger (AWS's limit).
pub(crate) const MAX_CONCURRENCY: u64 = 10_000;
/// Items one Map Run may read; more is `States.ItemReaderFailed`. The child inputs are held in
/// memory as JSON text, so this and [`MAX_RUN_INPUT_BYTES`] bound the memory a run takes.
pub const MAX_ITEMS: usize = 1_000_000;
/// Total size of the child inputs of one Map Run.
pub const MAX_RUN_INPUT_BYTES: usize = 256 * 1024 * 1024;
/// ListObjectsV2 pages one run may request (an answer that never ends cannot loop forever).
const MAX_LIST_PAGES: usize = 100_000;
/// A ResultWriter file is split after this many bytes (AWS splits at 5 GB).
const RESULT_FILE_BYTES: usize = 16 * 1024 * 1024;
const ARN_PREFIX: &str = "arn:aws:states:local:000000000000";

/// The fields of the Map state, borrowed from its definition.
pub(crate) struct MapSpec<'a> {
    pub processor: &'a Arc<Machine>,
    pub items_path: &'a Path,
    pub item_selector: Option<&'a Template>,
    /// JSONata `Items` (the state input when absent).
    pub items: Option<&'a JTemplate>,
    /// JSONata `ItemSelector`.
    pub item_template: Option<&'a JTemplate>,
    pub max_concurrency: &'a Seconds,
    pub dist: &'a Distributed,
}

/// What a run executes: its ARN and each child's input with the count of items in it.
#[derive(Debug, Clone, PartialEq)]
struct Plan {
    map_run_arn: String,
    children: Vec<(String, u64)>,
}

impl Plan {
    fn total_items(&self) -> u64 {
        self.children.iter().map(|(_, n)| n).sum()
    }
}

/// How a finished child ended: its result entry, as ResultWriter writes it.
#[derive(Debug, Clone)]
struct Outcome {
    succeeded: bool,
    entry: Value,
}

/// When the failed items are too many.
struct Tolerance {
    count: Option<u64>,
    percentage: Option<f64>,
}

impl Tolerance {
    fn exceeded(&self, failed: u64, total: u64) -> bool {
        match (self.count, self.percentage) {
            (None, None) => failed > 0,
            (count, percentage) => {
                count.is_some_and(|c| failed > c)
                    || percentage.is_some_and(|p| total > 0 && failed as f64 * 100.0 > p * total as f64)
            }
        }
    }
}

impl Runner {
    /// Runs a Distributed Map state's attempt and returns its result (before ResultSelector).
    pub(crate) async fn distributed_map(
        self: &Arc<Self>,
        visit: &Visit<'_>,
        spec: MapSpec<'_>,
        effective: &Value,
        ctx: &Scope,
        retry_count: u32,
        cur: &mut u64,
    ) -> Result<Value, StatesError> {
        let dist = spec.dist;
        let limit = match count(spec.max_concurrency, effective, ctx, "MaxConcurrency").map_err(|e| visit.at(e))? {
            0 => MAX_CONCURRENCY,
            n => n.min(MAX_CONCURRENCY),
        };
        let tolerance = tolerance(dist, effective, ctx).map_err(|e| visit.at(e))?;
        let label = dist.label.clone().unwrap_or_else(|| visit.state.name.clone());
        let store = visit.top.then(|| self.exec.map_run_dir(&run_key(visit, retry_count))).flatten().map(RunStore);
        let (plan, fresh) = match store.as_ref().and_then(RunStore::load) {
            Some(plan) => (plan, false),
            None => {
                let plan = match self.plan(visit, &spec, effective, ctx, &label).await {
                    Ok(plan) => plan,
                    Err(e) => {
                        self.emit(cur, "MapStateFailed", None);
                        return Err(visit.at(e));
                    }
                };
                if let Some(store) = &store {
                    store.save(&plan);
                }
                (plan, true)
            }
        };
        if fresh || !self.recorded_start(&plan.map_run_arn) {
            self.emit(
                cur,
                "MapStateStarted",
                Some(("mapStateStartedEventDetails", json!({"length": plan.children.len()}))),
            );
            let started = json!({"mapRunArn": plan.map_run_arn});
            self.emit(cur, "MapRunStarted", Some(("mapRunStartedEventDetails", started)));
            if visit.top {
                self.exec.save();
            }
        }
        let mut outcomes = store.as_ref().map(|s| s.results(plan.children.len())).unwrap_or_default();
        outcomes.resize(plan.children.len(), None);
        let threshold =
            self.run_children(spec.processor, &plan, &label, limit, &tolerance, &mut outcomes, store.as_ref()).await;
        let result = match (&dist.writer, threshold) {
            (Some(writer), threshold) => {
                let written = self
                    .write_results(visit, &writer.parameters, effective, ctx, &plan, &outcomes)
                    .await
                    .map_err(|e| if e.evaluation_location.is_some() { visit.at(e) } else { e });
                threshold.and(written)
            }
            (None, Ok(())) => Ok(map_output(&outcomes)),
            (None, Err(e)) => Err(e),
        };
        match &result {
            Ok(_) => {
                self.emit(cur, "MapRunSucceeded", None);
                self.emit(cur, "MapStateSucceeded", None);
            }
            Err(e) => {
                let details = json!({"error": e.error, "cause": e.cause});
                self.emit(cur, "MapRunFailed", Some(("mapRunFailedEventDetails", details)));
                self.emit(cur, "MapStateFailed", None);
            }
        }
        // The run's files stay until the execution ends: a crash before the next checkpoint
        // resumes this Map with every child finished, so none runs again.
        result
    }

    /// Does the history already hold this Map Run's start (saved before a restart)?
    fn recorded_start(&self, map_run_arn: &str) -> bool {
        self.exec
            .history()
            .iter()
            .any(|e| e.event_type == "MapRunStarted" && e.detail_str("mapRunArn") == Some(map_run_arn))
    }

    /// Reads the items and turns them into child inputs (ItemSelector, then ItemBatcher).
    async fn plan(
        &self,
        visit: &Visit<'_>,
        spec: &MapSpec<'_>,
        effective: &Value,
        ctx: &Scope,
        label: &str,
    ) -> Result<Plan, StatesError> {
        let batcher = match &spec.dist.batcher {
            Some(b) => Some(Batcher::new(b, effective, ctx)?),
            None => None,
        };
        let selector = ItemSelector::new(spec.item_selector, spec.item_template, effective, ctx);
        let mut children = Children {
            selector,
            effective,
            ctx: ctx.clone(),
            index: 0,
            batcher,
            out: Vec::new(),
            bytes: 0,
            selector_failure: None,
        };
        match &spec.dist.reader {
            Some(reader) => {
                let max = match &reader.max_items {
                    Some(m) => count(m, effective, ctx, "ItemReader.ReaderConfig.MaxItems")?,
                    None => u64::MAX,
                };
                let read = self.read_items(visit, reader, effective, ctx, max, &mut children).await;
                children.selector_failure.take().map_or(read, Err)?;
            }
            None => {
                let items = match visit.state.jsonata {
                    true => jsonata_items(spec.items, effective, ctx)?,
                    false => crate::exec::select_items(visit, spec.items_path, effective)?,
                };
                for item in items {
                    let pushed = children.push(item).map_err(reader_failed);
                    children.selector_failure.take().map_or(pushed, Err)?;
                }
            }
        }
        children.finish().map_err(reader_failed)?;
        let sm = self.exec.description().state_machine_arn;
        let sm_name = sm.rsplit(':').next().unwrap_or_default();
        let map_run_arn = format!("{ARN_PREFIX}:mapRun:{sm_name}/{label}:{}", uuid::Uuid::new_v4());
        Ok(Plan { map_run_arn, children: children.out })
    }

    /// Calls the ItemReader's S3 action (listObjectsV2 page by page, or getObject once) and
    /// hands each item to `children`, stopping after `max` items.
    async fn read_items(
        &self,
        visit: &Visit<'_>,
        reader: &ItemReader,
        effective: &Value,
        ctx: &Scope,
        max: u64,
        children: &mut Children<'_>,
    ) -> Result<(), StatesError> {
        let params = reader.parameters.eval(effective, ctx, "ItemReader.Arguments")?;
        let mut read = 0u64;
        let mut sink = |item: Value| -> Result<ControlFlow<()>, String> {
            if read >= max {
                return Ok(ControlFlow::Break(()));
            }
            read += 1;
            children.push(item)?;
            Ok(if read >= max { ControlFlow::Break(()) } else { ControlFlow::Continue(()) })
        };
        let Some(input_type) = &reader.input_type else {
            return self.list_objects(visit, params, &mut sink).await;
        };
        let answer = self.call_s3(visit, resources::GET_OBJECT, params).await?;
        let body = answer
            .get("Body")
            .and_then(Value::as_str)
            .ok_or_else(|| reader_failed("getObject returned no text Body"))?;
        item_reader::parse_object(body, input_type, &mut sink).map_err(reader_failed)
    }

    async fn list_objects(
        &self,
        visit: &Visit<'_>,
        mut params: Value,
        sink: &mut item_reader::Sink<'_>,
    ) -> Result<(), StatesError> {
        for _ in 0..MAX_LIST_PAGES {
            let page = self.call_s3(visit, resources::LIST_OBJECTS_V2, params.clone()).await?;
            for entry in page.get("Contents").and_then(Value::as_array).into_iter().flatten() {
                let item = item_reader::object_item(entry).map_err(reader_failed)?;
                if sink(item).map_err(reader_failed)?.is_break() {
                    return Ok(());
                }
            }
            let truncated = page.get("IsTruncated").and_then(Value::as_bool).unwrap_or(false);
            let next = page.get("NextContinuationToken").and_then(Value::as_str);
            match (truncated, next) {
                (false, _) => return Ok(()),
                (true, Some(token)) if params.get("ContinuationToken").and_then(Value::as_str) != Some(token) => {
                    params["ContinuationToken"] = json!(token);
                }
                (true, _) => {
                    return Err(reader_failed("listObjectsV2 is truncated but gave no new NextContinuationToken"))
                }
            }
        }
        Err(reader_failed(format!("listObjectsV2 gave more than {MAX_LIST_PAGES} pages")))
    }

    /// One S3 action through the task invoker; a failure is the reader's or writer's error.
    async fn call_s3(&self, visit: &Visit<'_>, resource: &str, params: Value) -> Result<Value, StatesError> {
        let ctx = TaskContext { execution_id: self.exec.arn.clone(), state_name: visit.state.name.clone(), attempt: 0 };
        self.invoker.invoke(resource, params, ctx).await.map_err(|f| {
            let name =
                if resource == resources::PUT_OBJECT { names::RESULT_WRITER_FAILED } else { names::ITEM_READER_FAILED };
            StatesError::new(name, format!("{resource} failed: {}: {}", f.error, f.cause))
        })
    }

    /// Runs the unfinished children; `Err` once the failures exceed the tolerance (the children
    /// not finished by then are left out of `outcomes`: PENDING).
    #[allow(clippy::too_many_arguments)]
    async fn run_children(
        self: &Arc<Self>,
        processor: &Arc<Machine>,
        plan: &Plan,
        label: &str,
        limit: u64,
        tolerance: &Tolerance,
        outcomes: &mut [Option<Outcome>],
        store: Option<&RunStore>,
    ) -> Result<(), StatesError> {
        let total = plan.total_items();
        let failed_items = |outcomes: &[Option<Outcome>]| -> u64 {
            outcomes
                .iter()
                .zip(&plan.children)
                .filter(|(o, _)| o.as_ref().is_some_and(|o| !o.succeeded))
                .map(|(_, c)| c.1)
                .sum()
        };
        let exceeded = |failed: u64| {
            StatesError::new(
                names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                format!("The specified tolerated failure threshold was exceeded: {failed} of {total} items failed"),
            )
        };
        let mut failed = failed_items(outcomes);
        if tolerance.exceeded(failed, total) {
            return Err(exceeded(failed));
        }
        let definition = Definition::of_machine(processor.clone());
        let sm = self.exec.description().state_machine_arn;
        let child_sm = format!("{sm}/{label}");
        let sm_name = sm.rsplit(':').next().unwrap_or_default().to_string();
        let unfinished: Vec<usize> = (0..plan.children.len()).filter(|i| outcomes[*i].is_none()).collect();
        let mut pending = unfinished.into_iter();
        let mut set = tokio::task::JoinSet::new();
        loop {
            while (set.len() as u64) < limit {
                let Some(index) = pending.next() else { break };
                let name = uuid::Uuid::new_v4().to_string();
                let child = ChildSpec {
                    arn: format!("{ARN_PREFIX}:execution:{sm_name}/{label}:{name}"),
                    state_machine_arn: child_sm.clone(),
                    name,
                    input: plan.children[index].0.clone(),
                };
                let (me, definition) = (self.clone(), definition.clone());
                set.spawn(async move { (index, me.run_child(definition, child).await) });
            }
            let Some(joined) = set.join_next().await else { return Ok(()) };
            let (index, outcome) =
                joined.map_err(|e| StatesError::runtime(format!("a child execution stopped unexpectedly: {e}")))?;
            if let Some(store) = store {
                store.append(index, &outcome);
            }
            if !outcome.succeeded {
                failed += plan.children[index].1;
            }
            outcomes[index] = Some(outcome);
            if tolerance.exceeded(failed, total) {
                set.abort_all();
                return Err(exceeded(failed));
            }
        }
    }

    /// Runs one child execution of the item processor to its end; returns its result entry.
    async fn run_child(self: Arc<Self>, definition: Definition, child: ChildSpec) -> Outcome {
        let record = Record {
            description: ExecutionDescription {
                execution_arn: child.arn,
                state_machine_arn: child.state_machine_arn,
                name: child.name,
                status: ExecutionStatus::Running,
                start_date: time::now_string(),
                stop_date: None,
                input: child.input,
                output: None,
                error: None,
                cause: None,
            },
            definition: String::new(),
            history: Vec::new(),
            checkpoint: None,
        };
        let exec = Arc::new(Execution::new(record, definition, None));
        let runner = Arc::new(Runner {
            exec: exec.clone(),
            invoker: self.invoker.clone(),
            options: self.options.clone(),
            slots: self.slots.clone(),
        });
        runner.run(None, true).await;
        let d = exec.description();
        Outcome { succeeded: d.status == ExecutionStatus::Succeeded, entry: result_entry(&d) }
    }

    /// Writes `SUCCEEDED_n.json`, `FAILED_n.json`, `PENDING_n.json` and `manifest.json` under
    /// `<Prefix>/<map run id>/`; returns `{"MapRunArn", "ResultWriterDetails": {"Bucket", "Key"}}`.
    async fn write_results(
        &self,
        visit: &Visit<'_>,
        parameters: &Request,
        effective: &Value,
        ctx: &Scope,
        plan: &Plan,
        outcomes: &[Option<Outcome>],
    ) -> Result<Value, StatesError> {
        let params = parameters.eval(effective, ctx, "ResultWriter.Arguments")?;
        let field = parameters.field_name();
        let bucket = params
            .get("Bucket")
            .and_then(Value::as_str)
            .ok_or_else(|| writer_failed(format!("{field}.Bucket must be a string")))?;
        let prefix = match params.get("Prefix") {
            None => "",
            Some(Value::String(p)) => p.trim_end_matches('/'),
            Some(_) => return Err(writer_failed(format!("{field}.Prefix must be a string"))),
        };
        let run_id = plan.map_run_arn.rsplit(':').next().unwrap_or_default();
        let dir = if prefix.is_empty() { run_id.to_string() } else { format!("{prefix}/{run_id}") };
        let mut files = serde_json::Map::new();
        for status in ["FAILED", "PENDING", "SUCCEEDED"] {
            let entries = outcomes.iter().zip(&plan.children).filter_map(|(o, (input, _))| match (status, o) {
                ("SUCCEEDED", Some(o)) if o.succeeded => Some(o.entry.clone()),
                ("FAILED", Some(o)) if !o.succeeded => Some(o.entry.clone()),
                ("PENDING", None) => {
                    Some(json!({"Input": input, "InputDetails": {"Included": true}, "Status": "PENDING"}))
                }
                _ => None,
            });
            let mut listed = Vec::new();
            for (n, body) in chunk_json_arrays(entries, RESULT_FILE_BYTES).into_iter().enumerate() {
                let key = format!("{dir}/{status}_{n}.json");
                listed.push(json!({"Key": key, "Size": body.len()}));
                self.call_s3(visit, resources::PUT_OBJECT, json!({"Bucket": bucket, "Key": key, "Body": body})).await?;
            }
            files.insert(status.to_string(), Value::Array(listed));
        }
        let manifest = json!({"DestinationBucket": bucket, "MapRunArn": plan.map_run_arn, "ResultFiles": files});
        let key = format!("{dir}/manifest.json");
        self.call_s3(visit, resources::PUT_OBJECT, json!({"Bucket": bucket, "Key": key, "Body": manifest.to_string()}))
            .await?;
        Ok(json!({"MapRunArn": plan.map_run_arn, "ResultWriterDetails": {"Bucket": bucket, "Key": key}}))
    }
}

/// A child execution to start.
struct ChildSpec {
    arn: String,
    state_machine_arn: String,
    name: String,
    input: String,
}

/// The Map output without ResultWriter: each child's output in order; a failed child (within
/// the tolerance) gives its whole result entry, as AWS returns failed executions unchanged.
fn map_output(outcomes: &[Option<Outcome>]) -> Value {
    Value::Array(
        outcomes
            .iter()
            .map(|o| match o {
                Some(o) if o.succeeded => o
                    .entry
                    .get("Output")
                    .and_then(Value::as_str)
                    .and_then(|t| serde_json::from_str(t).ok())
                    .unwrap_or(Value::Null),
                Some(o) => o.entry.clone(),
                None => Value::Null,
            })
            .collect(),
    )
}

/// A child's entry in the result files (Transformation NONE): its execution described.
fn result_entry(d: &ExecutionDescription) -> Value {
    let mut e = json!({
        "ExecutionArn": d.execution_arn,
        "Input": d.input,
        "InputDetails": {"Included": true},
        "Name": d.name,
        "RedriveCount": 0,
        "RedriveStatus": "NOT_REDRIVABLE",
        "StartDate": d.start_date,
        "StateMachineArn": d.state_machine_arn,
        "Status": d.status.as_str(),
        "StopDate": d.stop_date,
    });
    match (&d.output, &d.error) {
        (Some(output), _) => {
            e["Output"] = json!(output);
            e["OutputDetails"] = json!({"Included": true});
        }
        (None, error) => {
            e["Error"] = json!(error.clone().unwrap_or_default());
            e["Cause"] = json!(d.cause.clone().unwrap_or_default());
        }
    }
    e
}

/// JSON arrays of `entries`, each closed once it passes `limit` bytes (empty: no file).
fn chunk_json_arrays(entries: impl Iterator<Item = Value>, limit: usize) -> Vec<String> {
    let mut files = Vec::new();
    let mut cur = String::new();
    for entry in entries {
        cur.push(if cur.is_empty() { '[' } else { ',' });
        cur.push_str(&entry.to_string());
        if cur.len() >= limit {
            cur.push(']');
            files.push(std::mem::take(&mut cur));
        }
    }
    if !cur.is_empty() {
        cur.push(']');
        files.push(cur);
    }
    files
}

fn reader_failed(cause: impl Into<String>) -> StatesError {
    StatesError::new(names::ITEM_READER_FAILED, cause)
}

fn writer_failed(cause: impl Into<String>) -> StatesError {
    StatesError::new(names::RESULT_WRITER_FAILED, cause)
}

/// A whole-number field: `name` in a JSONata expression's errors, `namePath` in a path's.
fn count(s: &Seconds, effective: &Value, ctx: &Scope, name: &str) -> Result<u64, StatesError> {
    match s {
        Seconds::Expr(_) => count_in(s, effective, name, ctx),
        _ => count_in(s, effective, &format!("{name}Path"), ctx),
    }
}

fn tolerance(dist: &Distributed, effective: &Value, ctx: &Scope) -> Result<Tolerance, StatesError> {
    let count = match &dist.tolerated_count {
        Some(c) => Some(count(c, effective, ctx, "ToleratedFailureCount")?),
        None => None,
    };
    let percentage = match &dist.tolerated_percentage {
        None => None,
        Some(Percentage::Fixed(p)) => Some(*p),
        Some(Percentage::Expr(e)) => {
            let field = "ToleratedFailurePercentage";
            let v = e.eval(States::input(effective), ctx, field)?;
            Some(v.as_f64().filter(|p| (0.0..=100.0).contains(p)).ok_or_else(|| {
                StatesError::evaluation(
                    field,
                    format!("The JSONata expression for the field '{field}' returned {v}, not a number from 0 to 100."),
                )
            })?)
        }
        Some(Percentage::Path(path)) => {
            let v = path.select(effective).ok_or_else(|| {
                StatesError::runtime(format!(
                    "ToleratedFailurePercentagePath '{}' could not be found in the input",
                    path.text()
                ))
            })?;
            Some(v.as_f64().filter(|p| (0.0..=100.0).contains(p)).ok_or_else(|| {
                StatesError::runtime(format!(
                    "ToleratedFailurePercentagePath '{}' must select a number from 0 to 100, not {v}",
                    path.text()
                ))
            })?)
        }
    };
    Ok(Tolerance { count, percentage })
}

/// Identifies one attempt of one visit of a Map state, stable across a restart.
fn run_key(visit: &Visit<'_>, retry_count: u32) -> String {
    let key = format!("{}\n{}\n{retry_count}", visit.state.name, visit.entered);
    hex::encode(&sha2::Sha256::digest(key.as_bytes())[..16])
}

/// Collects child inputs: ItemSelector on each item, then the batcher; enforces the limits.
struct Children<'a> {
    selector: ItemSelector<'a>,
    effective: &'a Value,
    /// The context object; `$$.Map.Item` is set for each item in place.
    ctx: Scope,
    index: usize,
    batcher: Option<Batcher>,
    out: Vec<(String, u64)>,
    bytes: usize,
    /// Why ItemSelector failed on an item, which stops the reading.
    selector_failure: Option<StatesError>,
}

impl Children<'_> {
    fn push(&mut self, item: Value) -> Result<(), String> {
        if self.index >= MAX_ITEMS {
            return Err(format!("the Map Run has more than {MAX_ITEMS} items, the most this engine reads"));
        }
        let selected = match self.selector.select(self.index, item, self.effective, &mut self.ctx) {
            Ok(selected) => selected,
            Err(e) => {
                // Reported as it is (States.Runtime, States.QueryEvaluationError ...), not as
                // a reader failure.
                self.selector_failure = Some(e);
                return Err("ItemSelector failed".into());
            }
        };
        self.index += 1;
        match &mut self.batcher {
            None => {
                let size = json_size(&selected);
                if size > PAYLOAD_LIMIT_BYTES {
                    return Err(format!(
                        "item {} is {size} bytes, over the {PAYLOAD_LIMIT_BYTES}-byte input limit",
                        self.index - 1
                    ));
                }
                self.add(selected.to_string(), 1)
            }
            Some(b) => match b.push(selected, self.index - 1)? {
                Some((batch, n)) => self.add(batch, n),
                None => Ok(()),
            },
        }
    }

    fn add(&mut self, input: String, items: u64) -> Result<(), String> {
        self.bytes += input.len();
        if self.bytes > MAX_RUN_INPUT_BYTES {
            return Err(format!(
                "the Map Run's inputs are over {MAX_RUN_INPUT_BYTES} bytes, the most this engine holds"
            ));
        }
        self.out.push((input, items));
        Ok(())
    }

    fn finish(&mut self) -> Result<(), String> {
        if let Some((batch, n)) = self.batcher.as_mut().and_then(Batcher::flush) {
            self.add(batch, n)?;
        }
        Ok(())
    }
}

/// ItemBatcher: groups items into `{"BatchInput": ..., "Items": [...]}` of at most `max_items`
/// items and `max_bytes` bytes of JSON.
struct Batcher {
    max_items: u64,
    max_bytes: usize,
    batch_input: Option<Value>,
    items: Vec<Value>,
    /// The JSON size of a batch without items, and of the batch holding `items`.
    empty_size: usize,
    size: usize,
}

impl Batcher {
    fn new(b: &ItemBatcher, effective: &Value, ctx: &Scope) -> Result<Batcher, StatesError> {
        let max_items = match &b.max_items {
            Some(m) => count(m, effective, ctx, "ItemBatcher.MaxItemsPerBatch")?.max(1),
            None => u64::MAX,
        };
        let max_bytes = match &b.max_bytes {
            Some(m) => (count(m, effective, ctx, "ItemBatcher.MaxInputBytesPerBatch")?.max(1) as usize)
                .min(PAYLOAD_LIMIT_BYTES),
            None => PAYLOAD_LIMIT_BYTES,
        };
        let batch_input = match &b.batch_input {
            Some(t) => Some(t.eval(effective, ctx, "ItemBatcher.BatchInput")?),
            None => None,
        };
        let mut batcher = Batcher { max_items, max_bytes, batch_input, items: Vec::new(), empty_size: 0, size: 0 };
        batcher.empty_size = json_size(&batcher.batch(Vec::new()));
        batcher.size = batcher.empty_size;
        Ok(batcher)
    }

    fn batch(&self, items: Vec<Value>) -> Value {
        match &self.batch_input {
            Some(input) => json!({"BatchInput": input, "Items": items}),
            None => json!({"Items": items}),
        }
    }

    /// Adds an item; returns a full batch when this item does not fit in the current one.
    fn push(&mut self, item: Value, index: usize) -> Result<Option<(String, u64)>, String> {
        let item_size = json_size(&item);
        if self.empty_size + item_size > self.max_bytes {
            return Err(format!(
                "item {index} is {item_size} bytes: its batch would be over MaxInputBytesPerBatch ({} bytes)",
                self.max_bytes
            ));
        }
        let comma = usize::from(!self.items.is_empty());
        let mut full = None;
        if self.items.len() as u64 >= self.max_items || self.size + comma + item_size > self.max_bytes {
            full = self.flush();
        }
        let comma = usize::from(!self.items.is_empty());
        self.size += comma + item_size;
        self.items.push(item);
        Ok(full)
    }

    fn flush(&mut self) -> Option<(String, u64)> {
        if self.items.is_empty() {
            return None;
        }
        let items = std::mem::take(&mut self.items);
        let n = items.len() as u64;
        let batch = self.batch(items).to_string();
        self.size = self.empty_size;
        Some((batch, n))
    }
}

/// A durable Map Run's files.
struct RunStore(PathBuf);

impl RunStore {
    fn plan_file(&self) -> PathBuf {
        self.0.join("children.jsonl")
    }

    fn results_file(&self) -> PathBuf {
        self.0.join("results.jsonl")
    }

    /// The saved plan, if a complete one is there.
    fn load(&self) -> Option<Plan> {
        let text = std::fs::read_to_string(self.plan_file()).ok()?;
        let mut lines = text.lines();
        let map_run_arn = serde_json::from_str::<Value>(lines.next()?).ok()?.get("mapRunArn")?.as_str()?.to_string();
        let mut children = Vec::new();
        for line in lines {
            let v: Value = serde_json::from_str(line).ok()?;
            children.push((v.get("input")?.as_str()?.to_string(), v.get("items")?.as_u64()?));
        }
        Some(Plan { map_run_arn, children })
    }

    /// Writes the plan (temp file + rename, so a half-written plan is never loaded).
    fn save(&self, plan: &Plan) {
        let write = || -> std::io::Result<()> {
            std::fs::create_dir_all(&self.0)?;
            let tmp = self.0.join("children.jsonl.tmp");
            let mut f = std::io::BufWriter::new(std::fs::File::create(&tmp)?);
            writeln!(f, "{}", json!({"mapRunArn": plan.map_run_arn}))?;
            for (input, items) in &plan.children {
                writeln!(f, "{}", json!({"input": input, "items": items}))?;
            }
            f.into_inner().map_err(|e| e.into_error())?.sync_all()?;
            let _ = std::fs::remove_file(self.results_file());
            std::fs::rename(tmp, self.plan_file())
        };
        if let Err(e) = write() {
            tracing::warn!(dir = %self.0.display(), error = %e, "could not save the Map Run; a restart reads its items again");
        }
    }

    /// The outcomes recorded so far (a torn last line is ignored: that child runs again).
    fn results(&self, count: usize) -> Vec<Option<Outcome>> {
        let mut outcomes = vec![None; count];
        let text = std::fs::read_to_string(self.results_file()).unwrap_or_default();
        for line in text.lines() {
            let Ok(v) = serde_json::from_str::<Value>(line) else { continue };
            let (Some(index), Some(succeeded), Some(entry)) =
                (v.get("index").and_then(Value::as_u64), v.get("succeeded").and_then(Value::as_bool), v.get("entry"))
            else {
                continue;
            };
            if let Some(slot) = outcomes.get_mut(index as usize) {
                *slot = Some(Outcome { succeeded, entry: entry.clone() });
            }
        }
        outcomes
    }

    fn append(&self, index: usize, outcome: &Outcome) {
        let line = json!({"index": index, "succeeded": outcome.succeeded, "entry": outcome.entry});
        let write = || -> std::io::Result<()> {
            let mut f = std::fs::OpenOptions::new().create(true).append(true).open(self.results_file())?;
            f.write_all(format!("{line}\n").as_bytes())
        };
        if let Err(e) = write() {
            tracing::warn!(dir = %self.0.display(), error = %e, "could not record a child's result; it runs again after a restart");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tolerance_as_aws_counts_it() {
        let t = |count, percentage| Tolerance { count, percentage };
        assert!(t(None, None).exceeded(1, 10));
        assert!(!t(None, None).exceeded(0, 10));
        assert!(!t(Some(2), None).exceeded(2, 10));
        assert!(t(Some(2), None).exceeded(3, 10));
        assert!(!t(None, Some(20.0)).exceeded(2, 10));
        assert!(t(None, Some(20.0)).exceeded(3, 10));
        assert!(t(Some(5), Some(10.0)).exceeded(2, 10), "either threshold fails the run");
    }

    #[test]
    fn result_files_split_at_the_limit_and_stay_json_arrays() {
        let files = chunk_json_arrays((0..5).map(|i| json!({"i": i})), 16);
        assert!(files.len() > 1);
        let all: Vec<Value> = files.iter().flat_map(|f| serde_json::from_str::<Vec<Value>>(f).unwrap()).collect();
        assert_eq!(all, (0..5).map(|i| json!({"i": i})).collect::<Vec<_>>());
        assert!(chunk_json_arrays(std::iter::empty(), 16).is_empty());
    }
}
