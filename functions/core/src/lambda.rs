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
use crate::steps::detect::RekognitionDetector;
use crate::steps::{LabelDetector, Pipeline, StepFunction};

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
        Arc::new(RekognitionDetector::new(aws_sdk_rekognition::Client::new(&clients.sdk))) as Arc<dyn LabelDetector>
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
        Arc::new(SfnExecutions::new(aws_sdk_sfn::Client::new(&clients.sdk))) as Arc<dyn crate::http::Executions>
    });
    let state = Arc::new(ApiState { config, clients, executions });
    lambda_http::run(build(state)).await
}
