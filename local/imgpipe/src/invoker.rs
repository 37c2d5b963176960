//! Runs the state machine's Task states in-process: the Lambda ARN a Task names maps to the
//! same step function the Lambda `main` runs, with the same JSON in and out, and errors
//! reported as Lambda reports them (`Error` = errorType, `Cause` = Lambda's JSON document).
//! The S3 actions of a Distributed Map (ItemReader, ResultWriter) go to [`crate::s3_integration`].

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use asl::{TaskContext, TaskFailure, TaskInvoker};
use imgpipe_core::{Pipeline, StepError, StepFunction};
use serde_json::Value;

/// The local "account" and "region" of ARNs.
pub const LOCAL_ACCOUNT: &str = "000000000000";
pub const LOCAL_REGION: &str = "local";

/// The ARN the local engine gives a step function (what `DefinitionSubstitutions` fill in).
pub fn function_arn(f: StepFunction) -> String {
    format!("arn:aws:lambda:{LOCAL_REGION}:{LOCAL_ACCOUNT}:function:{}", f.name())
}

/// `DefinitionSubstitutions` for `statemachine/pipeline.asl.json` in local mode.
pub fn substitutions() -> HashMap<String, String> {
    StepFunction::ALL.iter().map(|f| (f.substitution().to_string(), function_arn(*f))).collect()
}

/// Test-only fault injection: the first N invocations of a step in each execution throw `Retryable`.
/// Set with `IMGPIPE_FAULTS=detect-labels=2,thumbnail=1` (for tests of Retry and Catch paths).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FaultPlan(HashMap<StepFunction, u32>);

impl FaultPlan {
    /// Parses `name=N,...`; unknown step names or bad counts are errors.
    pub fn parse(spec: &str) -> anyhow::Result<FaultPlan> {
        let mut planned = HashMap::new();
        for part in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, n) =
                part.split_once('=').ok_or_else(|| anyhow::anyhow!("IMGPIPE_FAULTS: expected name=N, got {part:?}"))?;
            let step = StepFunction::from_name(name.trim())
                .ok_or_else(|| anyhow::anyhow!("IMGPIPE_FAULTS: unknown step {name:?}"))?;
            let n: u32 = n.trim().parse().map_err(|_| anyhow::anyhow!("IMGPIPE_FAULTS: bad count in {part:?}"))?;
            planned.insert(step, n);
        }
        Ok(FaultPlan(planned))
    }
}

/// A [`FaultPlan`] with its count of what was injected so far.
#[derive(Default)]
struct Faults {
    plan: FaultPlan,
    seen: Mutex<HashMap<(StepFunction, String), u32>>,
}

impl Faults {
    fn should_fail(&self, step: StepFunction, execution: &str) -> bool {
        let Some(&limit) = self.plan.0.get(&step) else { return false };
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let count = seen.entry((step, execution.to_string())).or_insert(0);
        *count += 1;
        *count <= limit
    }
}

/// The in-process "Lambda service".
pub struct LocalInvoker {
    pipeline: Arc<Pipeline>,
    faults: Faults,
}

impl LocalInvoker {
    /// Runs `pipeline`'s steps, failing them as `faults` plans.
    pub fn new(pipeline: Arc<Pipeline>, faults: FaultPlan) -> LocalInvoker {
        LocalInvoker { pipeline, faults: Faults { plan: faults, seen: Mutex::default() } }
    }

    /// The steps' pipeline.
    pub fn pipeline(&self) -> &Arc<Pipeline> {
        &self.pipeline
    }
}

impl TaskInvoker for LocalInvoker {
    fn invoke(
        &self,
        resource: &str,
        input: Value,
        ctx: TaskContext,
    ) -> Pin<Box<dyn Future<Output = Result<Value, TaskFailure>> + Send + '_>> {
        if crate::s3_integration::handles(resource) {
            // A Distributed Map's ItemReader / ResultWriter: an S3 action, not a Lambda.
            let resource = resource.to_string();
            return Box::pin(async move {
                crate::s3_integration::invoke(&self.pipeline.clients.s3, &resource, input).await
            });
        }
        let function = StepFunction::ALL.into_iter().find(|f| function_arn(*f) == resource);
        let resource = resource.to_string();
        Box::pin(async move {
            let Some(function) = function else {
                return Err(TaskFailure {
                    error: "Lambda.ResourceNotFoundException".into(),
                    cause: format!("Function not found: {resource}"),
                });
            };
            let started = std::time::Instant::now();
            tracing::info!(execution = %ctx.execution_id, state = %ctx.state_name, function = function.name(), attempt = ctx.attempt, "task started");
            let result = if self.faults.should_fail(function, &ctx.execution_id) {
                Err(StepError::Retryable(format!("injected fault in {} (IMGPIPE_FAULTS)", function.name())))
            } else {
                self.pipeline.run(function, input).await
            };
            let ms = started.elapsed().as_millis() as u64;
            match result {
                Ok(v) => {
                    tracing::info!(execution = %ctx.execution_id, state = %ctx.state_name, ms, "task succeeded");
                    Ok(v)
                }
                Err(e) => {
                    tracing::warn!(execution = %ctx.execution_id, state = %ctx.state_name, ms, error_type = e.error_type(), error = %e, "task failed");
                    Err(TaskFailure { error: e.error_type().to_string(), cause: e.cause_json() })
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults_count_per_execution() {
        let f = Faults { plan: FaultPlan::parse("detect-labels=2").unwrap(), seen: Mutex::default() };
        let detect = StepFunction::DetectLabels;
        assert!(f.should_fail(detect, "e1"));
        assert!(f.should_fail(detect, "e1"));
        assert!(!f.should_fail(detect, "e1"));
        assert!(f.should_fail(detect, "e2"));
        assert!(!f.should_fail(StepFunction::Validate, "e1"));
        assert!(FaultPlan::parse("nope=1").is_err());
        assert!(FaultPlan::parse("validate=x").is_err());
        assert_eq!(FaultPlan::parse(" ").unwrap(), FaultPlan::default());
    }
}
