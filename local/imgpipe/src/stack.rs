//! The local stack: embedded S3 and DynamoDB on loopback, the same SDK clients and step code
//! as on AWS, the local model, and the embedded engine running `statemachine/pipeline.asl.json`.
//! An upload into the input bucket becomes the S3 "Object Created" event, and the local rule
//! (input bucket, `uploads/` prefix, as in `template.yaml`) starts an execution with it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use imgpipe_core::aws::{Clients, LocalEndpoints};
use imgpipe_core::http::ApiState;
use imgpipe_core::model::{object_created_event, BucketRef, ObjectCreatedDetail, ObjectRef};
use imgpipe_core::{Config, Pipeline};
use tokio::sync::mpsc;

use crate::detector::LocalDetector;
use crate::dynamodb::{self, EmbeddedDynamo};
use crate::executions::EngineExecutions;
use crate::invoker::{substitutions, Faults, LocalInvoker, LOCAL_ACCOUNT};

/// The pipeline definition shipped with this build (the repo's `statemachine/pipeline.asl.json`).
pub const PIPELINE_DEFINITION: &str = include_str!("../../../statemachine/pipeline.asl.json");
/// Name of the local state machine.
pub const STATE_MACHINE_NAME: &str = "imgpipe-pipeline";
/// Region the local SDK clients sign for.
const SIGNING_REGION: &str = "us-east-1";

/// How to start the stack.
pub struct StackOptions {
    pub data_dir: PathBuf,
    /// Explicit model path (`--model`); else `IMGPIPE_MODEL`, else the default cache path.
    pub model: Option<PathBuf>,
    /// Run the engine (serve, process) or not (read-only commands: show, query).
    pub with_engine: bool,
    /// Definition text to run instead of the built-in pipeline (`--definition`).
    pub definition: Option<String>,
    /// Multiplies Retry and Wait delays (1.0 = real time).
    pub time_scale: f64,
    pub faults: Faults,
    /// Origins the S3 endpoint answers CORS for.
    pub allowed_origins: Vec<String>,
}

/// A running local stack.
pub struct Stack {
    pub config: Config,
    pub clients: Clients,
    pub pipeline: Arc<Pipeline>,
    pub engine: Option<Arc<asl::Engine>>,
    pub s3: s3_endpoint::S3Endpoint,
    _dynamo: EmbeddedDynamo,
}

impl Stack {
    /// Starts everything and, with the engine, resumes executions a previous run left unfinished.
    pub async fn start(opts: StackOptions) -> anyhow::Result<Stack> {
        std::fs::create_dir_all(&opts.data_dir)
            .with_context(|| format!("cannot create the data directory {}", opts.data_dir.display()))?;
        let config = Config::from_env()?;
        let (access_key, secret_key) = local_credentials(&opts.data_dir)?;

        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let s3_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.context("binding the S3 endpoint")?;
        let s3 = s3_endpoint::start(
            s3_endpoint::Config {
                data_dir: opts.data_dir.join("s3"),
                access_key: access_key.clone(),
                secret_key: secret_key.clone(),
                region: SIGNING_REGION.into(),
                buckets: vec![config.input_bucket.clone(), config.output_bucket.clone()],
                notify_buckets: vec![config.input_bucket.clone()],
                max_upload_bytes: config.limits.max_bytes,
                allowed_origins: opts.allowed_origins.clone(),
            },
            s3_listener,
            events_tx,
        )
        .await
        .context("starting the embedded S3 endpoint")?;
        let dynamo = dynamodb::start(&opts.data_dir).await?;
        let clients = Clients::local(&LocalEndpoints {
            s3_url: s3.url.clone(),
            dynamodb_url: dynamo.url.clone(),
            access_key,
            secret_key,
            region: SIGNING_REGION.into(),
        });
        dynamodb::ensure_table(&clients.dynamo, &config.table_name).await?;

        let mut pipeline = Pipeline { config: config.clone(), clients: clients.clone(), detector: None };
        let mut engine = None;
        if opts.with_engine {
            let model = vision::Detector::locate(opts.model.as_deref())?;
            let detector = Arc::new(LocalDetector::new(model, clients.s3.clone(), config.limits.clone()));
            let preload = detector.clone();
            tokio::spawn(async move {
                if let Err(e) = preload.preload().await {
                    tracing::error!(error = %e, "the local model failed to load");
                }
            });
            pipeline.detector = Some(detector);
            let invoker =
                Arc::new(LocalInvoker { pipeline: Arc::new(pipeline.clone()), faults: Arc::new(opts.faults) });
            let e = asl::Engine::open(
                opts.data_dir.join("executions"),
                invoker,
                asl::EngineOptions { time_scale: opts.time_scale, timeout_scale: Some(1.0), ..Default::default() },
            )
            .context("opening the execution store")?;
            let text = opts.definition.as_deref().unwrap_or(PIPELINE_DEFINITION);
            let definition = asl::Definition::parse(&asl::Definition::substitute(text, &substitutions())?)?;
            let state_machine_arn = e.register_state_machine(STATE_MACHINE_NAME, definition);
            let e = Arc::new(e);
            let resumed = e.resume_unfinished().await;
            if resumed > 0 {
                tracing::info!(resumed, "resumed unfinished executions");
            }
            tokio::spawn(route_events(
                events_rx,
                e.clone(),
                state_machine_arn,
                config.input_bucket.clone(),
                clients.region(),
            ));
            engine = Some(e);
        }
        Ok(Stack { config, clients, pipeline: Arc::new(pipeline), engine, s3, _dynamo: dynamo })
    }

    /// The API handlers' state, with execution histories from the engine.
    pub fn api_state(&self) -> Arc<ApiState> {
        Arc::new(ApiState {
            config: self.config.clone(),
            clients: self.clients.clone(),
            executions: self
                .engine
                .clone()
                .map(|e| Arc::new(EngineExecutions(e)) as Arc<dyn imgpipe_core::http::Executions>),
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

/// The access key pair of the embedded S3 endpoint: made once per data directory, kept private.
fn local_credentials(data_dir: &Path) -> anyhow::Result<(String, String)> {
    let path = data_dir.join("credentials.json");
    if let Ok(text) = std::fs::read_to_string(&path) {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            if let (Some(a), Some(s)) = (v["accessKey"].as_str(), v["secretKey"].as_str()) {
                return Ok((a.to_string(), s.to_string()));
            }
        }
        tracing::warn!(path = %path.display(), "unreadable credentials file; making a new key pair");
    }
    let access = format!("IMGPIPE{}", &uuid::Uuid::new_v4().simple().to_string()[..13].to_uppercase());
    let secret = format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
    let text = serde_json::json!({ "accessKey": access, "secretKey": secret }).to_string();
    std::fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    Ok((access, secret))
}
