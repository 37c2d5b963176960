//! `imgpipe sfn run`: any ASL definition, any input; Task results from the in-process functions
//! or from an AWS Step Functions Local mock config. Exit 0 SUCCEEDED, 1 FAILED, 2 bad definition.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use serde_json::{json, Value};

use crate::cli::StackArgs;
use crate::invoker::{substitutions, Faults, LocalInvoker};
use crate::stack::Stack;

/// Arguments of `sfn run`.
pub struct RunArgs {
    pub definition: PathBuf,
    pub input: String,
    pub mock_config: Option<PathBuf>,
    pub test_case: Option<String>,
    pub state_machine: Option<String>,
    pub stack: StackArgs,
    pub time_scale: f64,
}

/// Runs one execution to its end and prints its output (or its error and cause).
pub async fn run(args: RunArgs) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.definition)
        .with_context(|| format!("cannot read the definition {}", args.definition.display()))?;
    let definition = match asl::Definition::substitute(&text, &substitutions())
        .map_err(|e| e.to_string())
        .and_then(|t| asl::Definition::parse(&t).map_err(|e| e.to_string()))
    {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: invalid definition {}: {e}", args.definition.display());
            return Ok(ExitCode::from(2));
        }
    };
    let input: Value = match args.input.strip_prefix('@') {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the input file {path}"))?;
            serde_json::from_str(&text).with_context(|| format!("the input file {path} is not JSON"))?
        }
        None => serde_json::from_str(&args.input).context("--input is not JSON (use @FILE for a file)")?,
    };
    let options = asl::EngineOptions { time_scale: args.time_scale, timeout_scale: Some(1.0), ..Default::default() };
    let description = match (&args.mock_config, &args.test_case) {
        (Some(config), Some(case)) => {
            let name = args
                .state_machine
                .clone()
                .or_else(|| args.definition.file_stem().and_then(|s| s.to_str()).map(str::to_string))
                .unwrap_or_default();
            let invoker = asl::MockInvoker::from_file(config, &name, case).map_err(|e| anyhow::anyhow!("{e}"))?;
            asl::run_once(definition, input, Arc::new(invoker), options).await?
        }
        _ => {
            let stack = Stack::start(args.stack.options(false)?).await?;
            let mut pipeline = (*stack.pipeline).clone();
            let model = vision::Detector::locate(args.stack.model.as_deref())?;
            pipeline.detector = Some(Arc::new(crate::detector::LocalDetector::new(
                model,
                stack.clients.s3.clone(),
                stack.config.limits.clone(),
            )));
            let invoker = LocalInvoker {
                pipeline: Arc::new(pipeline),
                faults: Arc::new(Faults::parse(&std::env::var("IMGPIPE_FAULTS").unwrap_or_default())?),
            };
            asl::run_once(definition, input, Arc::new(invoker), options).await?
        }
    };
    if description.status == "SUCCEEDED" {
        let output = description.output.as_deref().unwrap_or("null");
        let value: Value = serde_json::from_str(output).unwrap_or(Value::String(output.to_string()));
        println!("{}", serde_json::to_string_pretty(&value)?);
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{}", json!({ "error": description.error, "cause": description.cause }));
        Ok(ExitCode::from(1))
    }
}
