//! The `Executions` port's local adapter: histories come from the embedded engine.

use std::sync::Arc;

use imgpipe_core::http::Executions;
use imgpipe_core::steps::detect::BoxFuture;
use imgpipe_core::StepError;
use serde_json::Value;

/// The embedded States Language engine as an execution history source.
pub struct EngineExecutions(pub Arc<asl::Engine>);

impl Executions for EngineExecutions {
    fn history<'a>(&'a self, execution_arn: &'a str) -> BoxFuture<'a, Result<Vec<Value>, StepError>> {
        Box::pin(async move {
            self.0
                .history(execution_arn)
                .iter()
                .map(serde_json::to_value)
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| StepError::Internal(format!("encoding history: {e}")))
        })
    }
}
