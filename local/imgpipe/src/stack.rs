//! The local stack: embedded S3 and DynamoDB on loopback, the same SDK clients and step code
//! as on AWS, the local model, and the embedded engine running `statemachine/pipeline.asl.json`.
//! An upload into the input bucket becomes the S3 "Object Created" event, and the local rule
//! (input bucket, `uploads/` prefix, as in `template.yaml`) starts an execution with it.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context;
use imgpipe_core::aws::Clients;
use imgpipe_core::http::ApiState;
use imgpipe_core::model::{object_created_event, BucketRef, ObjectCreatedDetail, ObjectRef};
use imgpipe_core::{Config, Pipeline};
use tokio::sync::mpsc;

use crate::adapters::{EngineExecutions, LocalDetector};
use crate::invoker::{substitutions, FaultPlan, LocalInvoker, LOCAL_ACCOUNT};
use crate::storage::{DependencyFaults, Ports, Storage, StorageOptions};

/// The pipeline definition shipped with this build (the repo's `statemachine/pipeline.asl.json`).
pub const PIPELINE_DEFINITION: &str = include_str!("../../../statemachine/pipeline.asl.json");
/// Name of the local state machine.
pub const STATE_MACHINE_NAME: &str = "imgpipe-pipeline";
/// The re-processing definition shipped with this build (`statemachine/reprocess.asl.json`).
pub const REPROCESS_DEFINITION: &str = include_str!("../../../statemachine/reprocess.asl.json");
/// Name of the local re-processing state machine (`imgpipe reprocess` runs it).
pub const REPROCESS_STATE_MACHINE_NAME: &str = "imgpipe-reprocess";

/// Told of every Task that succeeded: its context and its result (progress displays).
pub type TaskHook = Arc<dyn Fn(&asl::TaskContext, &serde_json::Value) + Send + Sync>;

/// What the stack runs besides storage.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Runner {
    /// Storage only (read-only commands: show, query).
    None,
    /// The task functions with the local model, for a caller's own executions (`sfn run`).
    Tasks,
    /// The engine running the pipeline on every upload (serve, process).
    Engine,
}

/// How to start the stack.
pub struct StackOptions {
    pub data_dir: PathBuf,
    /// Explicit model path (`--model`); else `IMGPIPE_MODEL`, else the default cache path.
    /// The classifier's files are beside it.
    pub model: Option<PathBuf>,
    /// The user's own ONNX model and its labels (`--custom-model`, `--custom-labels`).
    pub custom_model: Option<vision::CustomModel>,
    pub runner: Runner,
    /// Definition text to run instead of the built-in pipeline (`--definition`).
    pub definition: Option<String>,
    /// Multiplies Retry and Wait delays (1.0 = real time).
    pub time_scale: f64,
    pub faults: FaultPlan,
    /// Origins the S3 endpoint answers CORS for.
    pub allowed_origins: Vec<String>,
    /// Pipeline steps that run at once; the rest queue (at least 1).
    pub max_running_tasks: usize,
    /// Called after each Task that succeeded (`imgpipe reprocess` counts its progress with it).
    pub on_task_done: Option<TaskHook>,
    /// Errors the embedded S3 and DynamoDB answer a share of requests with (`IMGPIPE_S3_FAULTS`,
    /// `IMGPIPE_DYNAMODB_FAULTS`).
    pub dependency_faults: DependencyFaults,
    /// Where S3 and DynamoDB listen (`ports.s3`, `ports.dynamodb`; 0: any free port).
    pub ports: Ports,
}

/// A running local stack.
pub struct Stack {
    pub config: Config,
    pub storage: Storage,
    /// The in-process "Lambda service" (with [`Runner::Tasks`] or [`Runner::Engine`]).
    pub invoker: Option<Arc<LocalInvoker>>,
    pub engine: Option<Arc<asl::Engine>>,
}

impl Stack {
    /// Starts everything and, with the engine, resumes executions a previous run left unfinished.
    pub async fn start(opts: StackOptions) -> anyhow::Result<Stack> {
        let config = Config::from_env()?;
        let storage_options = StorageOptions {
            data_dir: opts.data_dir.clone(),
            config: config.clone(),
            credentials: None,
            allowed_origins: opts.allowed_origins.clone(),
        };
        let mut storage = Storage::start_on(storage_options, opts.dependency_faults.clone(), &opts.ports).await?;
        let clients = storage.clients.clone();
        let invoker = match opts.runner {
            Runner::None => None,
            Runner::Tasks | Runner::Engine => Some(Arc::new(local_invoker(&config, &clients, &opts).await?)),
        };
        let engine = match (&invoker, opts.runner) {
            (Some(invoker), Runner::Engine) => {
                let events = storage.events.take().context("the upload notifications were already taken")?;
                Some(start_engine(&opts, &config, &clients, invoker.clone(), events).await?)
            }
            _ => None,
        };
        Ok(Stack { config, storage, invoker, engine })
    }

    /// For a graceful stop: lets running steps finish within `timeout` and starts no new one;
    /// unfinished executions continue at the next start.
    pub async fn drain(&self, timeout: std::time::Duration) {
        if let Some(engine) = &self.engine {
            let report = engine.drain(timeout).await;
            if report.still_running > 0 {
                tracing::warn!(
                    still_running = report.still_running,
                    "steps still running at stop; they run again at the next start"
                );
            }
        }
    }

    /// The API handlers' state, with execution histories from the engine.
    pub fn api_state(&self) -> Arc<ApiState> {
        Arc::new(ApiState {
            config: self.config.clone(),
            clients: self.storage.clients.clone(),
            executions: self
                .engine
                .clone()
                .map(|e| Arc::new(EngineExecutions(e)) as Arc<dyn imgpipe_core::http::Executions>),
        })
    }
}

/// The step functions with the local models in Rekognition's place. A missing model file or a
/// custom model that does not fit its contract stops the start; the large models load in the
/// background so the first image does not wait for them.
async fn local_invoker(config: &Config, clients: &Clients, opts: &StackOptions) -> anyhow::Result<LocalInvoker> {
    let model = vision::Detector::locate(opts.model.as_deref())?;
    let custom = opts.custom_model.clone();
    let detector = Arc::new(LocalDetector::start(&model, custom, clients.s3.clone(), config.limits).await?);
    let preload = detector.clone();
    tokio::spawn(async move {
        if let Err(e) = preload.preload().await {
            tracing::error!(error = %e, "the local model failed to load");
        }
    });
    let pipeline = Pipeline { config: config.clone(), clients: clients.clone(), detector: Some(detector) };
    Ok(LocalInvoker::new(Arc::new(pipeline), opts.faults.clone()))
}

/// Opens the execution store, registers the pipeline, resumes unfinished executions, starts the
/// reconciler, and routes the input bucket's uploads to new executions.
async fn start_engine(
    opts: &StackOptions,
    config: &Config,
    clients: &Clients,
    invoker: Arc<LocalInvoker>,
    events: mpsc::UnboundedReceiver<s3_endpoint::ObjectCreated>,
) -> anyhow::Result<Arc<asl::Engine>> {
    let invoker: Arc<dyn asl::TaskInvoker> = match &opts.on_task_done {
        Some(hook) => Arc::new(Observed { inner: invoker, hook: hook.clone() }),
        None => invoker,
    };
    let engine = asl::Engine::open(
        opts.data_dir.join("executions"),
        invoker,
        asl::EngineOptions {
            time_scale: opts.time_scale,
            timeout_scale: Some(1.0),
            max_running_tasks: Some(opts.max_running_tasks.max(1)),
            ..Default::default()
        },
    )
    .context("opening the execution store")?;
    let text = opts.definition.as_deref().unwrap_or(PIPELINE_DEFINITION);
    let definition = asl::Definition::parse(&asl::Definition::substitute(text, &substitutions())?)?;
    let state_machine_arn = engine.register_state_machine(STATE_MACHINE_NAME, definition);
    engine.register_state_machine(REPROCESS_STATE_MACHINE_NAME, reprocess_definition(config)?);
    let engine = Arc::new(engine);
    let resumed = engine.resume_unfinished().await;
    if resumed > 0 {
        tracing::info!(resumed, "resumed unfinished executions");
    }
    // Uploads whose event a crash lost get their execution now, and every minute from then on.
    crate::reconciler::spawn(engine.clone(), state_machine_arn.clone(), config.clone(), clients.clone());
    tokio::spawn(route_events(
        events,
        engine.clone(),
        state_machine_arn,
        config.input_bucket.clone(),
        clients.region(),
    ));
    Ok(engine)
}

/// `statemachine/reprocess.asl.json` with the local function ARNs and this stack's buckets.
pub fn reprocess_definition(config: &Config) -> anyhow::Result<asl::Definition> {
    let mut values = substitutions();
    values.insert("InputBucket".into(), config.input_bucket.clone());
    values.insert("OutputBucket".into(), config.output_bucket.clone());
    Ok(asl::Definition::parse(&asl::Definition::substitute(REPROCESS_DEFINITION, &values)?)?)
}

/// The invoker with a [`TaskHook`] told of each Task that succeeded.
struct Observed {
    inner: Arc<LocalInvoker>,
    hook: TaskHook,
}

impl asl::TaskInvoker for Observed {
    fn invoke(&self, resource: &str, input: serde_json::Value, ctx: asl::TaskContext) -> asl::TaskFuture<'_> {
        let task = self.inner.invoke(resource, input, ctx.clone());
        Box::pin(async move {
            let result = task.await;
            if let Ok(output) = &result {
                (self.hook)(&ctx, output);
            }
            result
        })
    }
}

/// The local EventBridge rule: "Object Created" in the input bucket under `uploads/` starts the
/// state machine with the event, unchanged.
async fn route_events(
    mut events: mpsc::UnboundedReceiver<s3_endpoint::ObjectCreated>,
    engine: Arc<asl::Engine>,
    state_machine_arn: String,
    input_bucket: String,
    region: String,
) {
    while let Some(created) = events.recv().await {
        if created.bucket != input_bucket || !created.key.starts_with("uploads/") {
            continue;
        }
        let detail = ObjectCreatedDetail {
            version: Some("0".into()),
            bucket: BucketRef { name: created.bucket.clone() },
            object: ObjectRef {
                key: created.key.clone(),
                size: created.size,
                etag: created.etag.clone(),
                sequencer: Some(created.sequencer.clone()),
                version_id: created.version_id.clone(),
            },
            request_id: Some(uuid::Uuid::new_v4().simple().to_string().to_uppercase()),
            requester: Some(LOCAL_ACCOUNT.into()),
            source_ip_address: Some("127.0.0.1".into()),
            reason: Some(created.reason.clone()),
        };
        let event = object_created_event(&detail, LOCAL_ACCOUNT, &region, created.time);
        match engine.start_execution(&state_machine_arn, None, event).await {
            Ok(arn) => tracing::info!(execution = %arn, key = %created.key, "execution started"),
            Err(e) => tracing::error!(error = %e, key = %created.key, "could not start an execution"),
        }
    }
}
