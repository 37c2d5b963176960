//! `imgpipe sfn run`: any ASL definition, any input; Task results from the in-process functions
//! or from an AWS Step Functions Local mock config. Exit 0 SUCCEEDED, 1 FAILED, 2 bad definition.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::invoker::substitutions;
use crate::stack::{Stack, StackOptions};

/// Arguments of `sfn run`.
pub struct RunArgs {
    pub definition: PathBuf,
    pub input: String,
    pub mock_config: Option<PathBuf>,
    pub test_case: Option<String>,
    pub state_machine: Option<String>,
}

/// Runs one execution to its end and prints its output (or its error and cause).
pub async fn run(args: RunArgs, stack: StackOptions) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.definition)
        .with_context(|| format!("cannot read the definition {}", args.definition.display()))?;
    let definition = match parse_definition(&text) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: invalid definition {}: {e}", args.definition.display());
            return Ok(ExitCode::from(2));
        }
    };
    let input = read_input(&args.input)?;
    let options = asl::EngineOptions { time_scale: stack.time_scale, timeout_scale: Some(1.0), ..Default::default() };
    let description = match (&args.mock_config, &args.test_case) {
        (Some(config), Some(case)) => {
            let name = match &args.state_machine {
                Some(name) => name.clone(),
                None => default_state_machine(config, &args.definition)?,
            };
            let invoker = asl::MockInvoker::from_file(config, &name, case).map_err(|e| anyhow::anyhow!("{e}"))?;
            asl::run_once(definition, input, Arc::new(invoker), options).await?
        }
        _ => {
            let stack = Stack::start(stack).await?;
            let invoker = stack.invoker.clone().context("the stack was started without its task functions")?;
            asl::run_once(definition, input, invoker, options).await?
        }
    };
    if description.status == asl::ExecutionStatus::Succeeded {
        let output = description.output.as_deref().unwrap_or("null");
        let value: Value = serde_json::from_str(output).unwrap_or(Value::String(output.to_string()));
        println!("{}", serde_json::to_string_pretty(&value)?);
        Ok(ExitCode::SUCCESS)
    } else {
        println!("{}", json!({ "error": description.error, "cause": description.cause }));
        Ok(ExitCode::from(1))
    }
}

fn parse_definition(text: &str) -> Result<asl::Definition, String> {
    let text = asl::Definition::substitute(text, &substitutions()).map_err(|e| e.to_string())?;
    asl::Definition::parse(&text).map_err(|e| e.to_string())
}

fn read_input(arg: &str) -> anyhow::Result<Value> {
    match arg.strip_prefix('@') {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("cannot read the input file {path}"))?;
            serde_json::from_str(&text).with_context(|| format!("the input file {path} is not JSON"))
        }
        None => serde_json::from_str(arg).context("--input is not JSON (use @FILE for a file)"),
    }
}

/// The state machines a mock config file names.
#[derive(Deserialize)]
struct MockConfigFile {
    #[serde(rename = "StateMachines", default)]
    state_machines: BTreeMap<String, serde::de::IgnoredAny>,
}

/// The state machine of a mock config when `--state-machine` is not given: the only one in the
/// file, else the one named like the definition file.
fn default_state_machine(config: &Path, definition: &Path) -> anyhow::Result<String> {
    let text = std::fs::read_to_string(config).with_context(|| format!("cannot read {}", config.display()))?;
    let file: MockConfigFile =
        serde_json::from_str(&text).with_context(|| format!("{} is not a mock config file", config.display()))?;
    let mut names = file.state_machines.into_keys();
    match (names.next(), names.next()) {
        (Some(only), None) => Ok(only),
        _ => Ok(definition_name(definition)),
    }
}

/// A definition file's name without `.asl.json` or `.json`: `pipeline.asl.json` → `pipeline`.
pub fn definition_name(path: &Path) -> String {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    [".asl.json", ".json", ".asl"].iter().find_map(|ext| name.strip_suffix(ext)).unwrap_or(name).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn definition_names_drop_the_asl_suffixes() {
        assert_eq!(definition_name(Path::new("dir/x.asl.json")), "x");
        assert_eq!(definition_name(Path::new("x.json")), "x");
        assert_eq!(definition_name(Path::new("x.asl")), "x");
        assert_eq!(definition_name(Path::new("x")), "x");
    }

    #[test]
    fn a_single_state_machine_needs_no_name() {
        let dir = std::env::temp_dir().join(format!("imgpipe-sfn-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let one = dir.join("one.json");
        std::fs::write(&one, r#"{"StateMachines": {"Mine": {"TestCases": {}}}, "MockedResponses": {}}"#).unwrap();
        assert_eq!(default_state_machine(&one, Path::new("other.asl.json")).unwrap(), "Mine");
        let two = dir.join("two.json");
        std::fs::write(&two, r#"{"StateMachines": {"A": {}, "B": {}}}"#).unwrap();
        assert_eq!(default_state_machine(&two, Path::new("B.asl.json")).unwrap(), "B");
        std::fs::write(&two, "not json").unwrap();
        assert!(default_state_machine(&two, Path::new("B.asl.json")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
