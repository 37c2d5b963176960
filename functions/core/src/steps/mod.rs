//! The four pipeline steps, and the re-process batch's Reclaim, as plain async functions over the
//! SDK clients and ports. A Lambda `main` and the local engine call the same [`Pipeline::run`]
//! with the same JSON.

pub mod detect;
pub mod persist;
pub mod reclaim;
pub mod thumbnail;
pub mod validate;

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::aws::Clients;
use crate::config::Config;
use crate::error::StepError;
use crate::table::Table;
pub use detect::LabelDetector;

/// One of the state machine's task functions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StepFunction {
    Validate,
    DetectLabels,
    Thumbnail,
    Persist,
    /// The first state of a re-process batch (`statemachine/reprocess.asl.json`).
    Reclaim,
}

impl StepFunction {
    /// All step functions: the pipeline's in order, then Reclaim.
    pub const ALL: [StepFunction; 5] = [
        StepFunction::Validate,
        StepFunction::DetectLabels,
        StepFunction::Thumbnail,
        StepFunction::Persist,
        StepFunction::Reclaim,
    ];

    /// The function's name: its crate, binary and Lambda name.
    pub fn name(self) -> &'static str {
        match self {
            StepFunction::Validate => "validate",
            StepFunction::DetectLabels => "detect-labels",
            StepFunction::Thumbnail => "thumbnail",
            StepFunction::Persist => "persist",
            StepFunction::Reclaim => "reclaim",
        }
    }

    /// The `DefinitionSubstitutions` key the state machine uses for this function's ARN.
    pub fn substitution(self) -> &'static str {
        match self {
            StepFunction::Validate => "ValidateFunctionArn",
            StepFunction::DetectLabels => "DetectLabelsFunctionArn",
            StepFunction::Thumbnail => "ThumbnailFunctionArn",
            StepFunction::Persist => "PersistFunctionArn",
            StepFunction::Reclaim => "ReclaimFunctionArn",
        }
    }

    /// Looks a function up by its name.
    pub fn from_name(name: &str) -> Option<StepFunction> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Everything the steps need, built once per process.
#[derive(Clone)]
pub struct Pipeline {
    pub config: Config,
    pub clients: Clients,
    /// Rekognition on AWS, the local model locally; `None` where a process never detects.
    pub detector: Option<Arc<dyn LabelDetector>>,
}

impl Pipeline {
    /// The table, through this pipeline's client.
    pub fn table(&self) -> Table {
        Table::new(self.clients.dynamo.clone(), &self.config.table_name)
    }

    /// Runs one step on its state input, returning its result (the state's ResultPath value).
    pub async fn run(&self, function: StepFunction, input: Value) -> Result<Value, StepError> {
        let output = match function {
            StepFunction::Validate => to_json(validate::run(self, parse_input(input)?).await?)?,
            StepFunction::DetectLabels => to_json(detect::run(self, parse_input(input)?).await?)?,
            StepFunction::Thumbnail => to_json(thumbnail::run(self, parse_input(input)?).await?)?,
            StepFunction::Persist => to_json(persist::run(self, parse_input(input)?).await?)?,
            StepFunction::Reclaim => to_json(reclaim::run(self, parse_input(input)?).await?)?,
        };
        Ok(output)
    }
}

/// Parses a step's input; a malformed input is a bug in the definition, not the user's fault.
fn parse_input<T: DeserializeOwned>(input: Value) -> Result<T, StepError> {
    serde_json::from_value(input).map_err(|e| StepError::Internal(format!("malformed step input: {e}")))
}

fn to_json<T: serde::Serialize>(value: T) -> Result<Value, StepError> {
    serde_json::to_value(value).map_err(|e| StepError::Internal(format!("cannot encode step output: {e}")))
}
