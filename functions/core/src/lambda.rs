//! The Lambda side: each function's `main` is one call into here. Config is read and clients
//! are built once, outside the handler; errors are reported with our exact `errorType` names.

use std::sync::Arc;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;

use crate::aws::Clients;
use crate::config::Config;
use crate::error::StepError;
use crate::http::timeline::SfnExecutions;
use crate::http::ApiState;
use crate::reconcile::{metric_line, Reconciler, SfnStarter};
use crate::steps::detect::RekognitionDetector;
use crate::steps::{LabelDetector, Pipeline, StepFunction};
use crate::table::Table;

/// Boxed error for `main`.
pub type Error = lambda_runtime::Error;

impl From<StepError> for Diagnostic {
    fn from(e: StepError) -> Diagnostic {
        Diagnostic { error_type: e.error_type().to_string(), error_message: e.error_message() }
    }
}

fn init_tracing() {
    // JSON on Lambda, where CloudWatch parses it; LOG_FORMAT=text for humans.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()));
    if std::env::var("LOG_FORMAT").as_deref() == Ok("text") {
        builder.without_time().init();
    } else {
        builder.json().with_current_span(false).init();
    }
}

/// Runs a state machine task function: the Lambda `main` of validate, detect-labels, thumbnail, persist.
pub async fn run_step(function: StepFunction) -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let clients = Clients::from_env().await;
    let detector = (function == StepFunction::DetectLabels).then(|| {
        let client = aws_sdk_rekognition::Client::new(&clients.sdk);
        Arc::new(RekognitionDetector::new(client, config.custom_labels.clone())) as Arc<dyn LabelDetector>
    });
    let pipeline = Arc::new(Pipeline { config, clients, detector });
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let pipeline = pipeline.clone();
        async move {
            let result = pipeline.run(function, event.payload).await;
            if let Err(e) = &result {
                tracing::warn!(function = function.name(), error_type = e.error_type(), error = %e, "step failed");
            }
            result
        }
    }))
    .await
}

/// Serves the HTTP API router (presign or query) through API Gateway.
pub async fn run_http(build: fn(Arc<ApiState>) -> axum::Router) -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    let clients = Clients::from_env().await;
    let executions = (!config.state_machine_arn.is_empty()).then(|| {
        let client = aws_sdk_sfn::Client::new(&clients.sdk);
        Arc::new(SfnExecutions::new(client, config.state_machine_arn.clone())) as Arc<dyn crate::http::Executions>
    });
    let state = Arc::new(ApiState { config, clients, executions });
    lambda_http::run(build(state)).await
}

/// Records one scheduled run examines at most; the rest wait for the next run.
const RECONCILE_MAX_RECORDS: usize = 500;

/// Runs the reconciler on each scheduled invocation (the event's content is not used): the
/// Lambda `main` of reconcile. Logs the report and prints its Embedded Metric Format line.
pub async fn run_reconcile() -> Result<(), Error> {
    init_tracing();
    let config = Config::from_env()?;
    if config.state_machine_arn.is_empty() {
        return Err("STATE_MACHINE_ARN is not set: the reconciler has no pipeline to start".into());
    }
    let clients = Clients::from_env().await;
    let starter = SfnStarter::new(aws_sdk_sfn::Client::new(&clients.sdk), config.state_machine_arn.clone());
    let table = Table::new(clients.dynamo.clone(), config.table_name.clone());
    let shared = Arc::new((config, clients, starter, table));
    lambda_runtime::run(service_fn(move |_event: LambdaEvent<Value>| {
        let shared = shared.clone();
        async move {
            let (config, clients, starter, table) = &*shared;
            let reconciler = Reconciler {
                table,
                s3: &clients.s3,
                starter,
                input_bucket: &config.input_bucket,
                quiet_for: std::time::Duration::from_secs(config.reconcile_after_seconds),
                upload_ttl: std::time::Duration::from_secs(config.upload_ttl_seconds),
                max_records: RECONCILE_MAX_RECORDS,
            };
            let now = chrono::Utc::now();
            let report = reconciler.run(now).await?;
            println!("{}", metric_line(&report, now));
            report.log();
            Ok::<_, StepError>(report)
        }
    }))
    .await
}
