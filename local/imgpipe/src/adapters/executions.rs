//! The `Executions` port's local adapter: the pipeline's executions, their histories and
//! definition come from the embedded engine.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use imgpipe_core::http::executions::{ExecutionFacts, ExecutionPage, ExecutionStatus, ListQuery};
use imgpipe_core::http::Executions;
use imgpipe_core::steps::detect::BoxFuture;
use imgpipe_core::StepError;
use serde_json::Value;

use crate::stack::STATE_MACHINE_NAME;

/// The embedded States Language engine as the source of the pipeline's executions.
pub struct EngineExecutions(pub Arc<asl::Engine>);

impl EngineExecutions {
    fn pipeline_arn() -> String {
        asl::state_machine_arn(STATE_MACHINE_NAME)
    }
}

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

    fn list<'a>(&'a self, query: ListQuery<'a>) -> BoxFuture<'a, Result<ExecutionPage, StepError>> {
        Box::pin(async move {
            let pipeline = Self::pipeline_arn();
            let ours = self.0.list_executions().into_iter().filter(|d| d.state_machine_arn == pipeline);
            Ok(page(ours.filter_map(facts).collect(), query))
        })
    }

    fn describe<'a>(&'a self, name: &'a str) -> BoxFuture<'a, Result<Option<ExecutionFacts>, StepError>> {
        Box::pin(async move {
            let arn = format!("{}:{name}", Self::pipeline_arn().replacen(":stateMachine:", ":execution:", 1));
            Ok(self.0.describe(&arn).and_then(facts))
        })
    }

    fn definition<'a>(&'a self, execution_arn: &'a str) -> BoxFuture<'a, Result<String, StepError>> {
        Box::pin(async move {
            let missing = || StepError::Internal(format!("no state machine for {execution_arn}"));
            let machine = self.0.describe(execution_arn).ok_or_else(missing)?.state_machine_arn;
            let (_, definition) =
                self.0.state_machines().into_iter().find(|(arn, _)| *arn == machine).ok_or_else(missing)?;
            Ok(definition.as_json().to_string())
        })
    }
}

/// The page of `executions`, newest first, that `query` asks for. Its token is the position of
/// the last execution given (start date and ARN), so executions started meanwhile do not shift
/// the pages after it.
fn page(mut executions: Vec<ExecutionFacts>, query: ListQuery<'_>) -> ExecutionPage {
    executions.sort_by(|a, b| (b.start_date, &b.execution_arn).cmp(&(a.start_date, &a.execution_arn)));
    let after = query.next_token.and_then(|t| t.split_once('\n'));
    let mut matching = executions
        .into_iter()
        .filter(|f| query.status.is_none_or(|s| f.status == s))
        .filter(|f| after.is_none_or(|(start, arn)| (position(f).0.as_str(), f.execution_arn.as_str()) < (start, arn)));
    let items: Vec<ExecutionFacts> = matching.by_ref().take(query.max_results.max(1)).collect();
    let next_token = match (items.last(), matching.next()) {
        (Some(last), Some(_)) => {
            let (start, arn) = position(last);
            Some(format!("{start}\n{arn}"))
        }
        _ => None,
    };
    ExecutionPage { items, next_token }
}

/// An execution's place in the engine's order: its start (RFC 3339, sortable as text) and ARN.
fn position(f: &ExecutionFacts) -> (String, &str) {
    (f.start_date.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true), &f.execution_arn)
}

fn facts(d: asl::ExecutionDescription) -> Option<ExecutionFacts> {
    let time = |s: &str| s.parse::<DateTime<Utc>>().ok();
    Some(ExecutionFacts {
        status: ExecutionStatus::parse(d.status.as_str())?,
        start_date: time(&d.start_date)?,
        stop_date: d.stop_date.as_deref().and_then(time),
        execution_arn: d.execution_arn,
        name: d.name,
        input: d.input,
        error: d.error,
        cause: d.cause,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn execution(i: u32, status: ExecutionStatus) -> ExecutionFacts {
        ExecutionFacts {
            execution_arn: format!("arn:x:{i:03}"),
            name: format!("{i:03}"),
            status,
            // Two executions per second, so some share a start and are told apart by ARN.
            start_date: DateTime::from_timestamp(1_800_000_000 - i64::from(i / 2), 0).unwrap(),
            stop_date: None,
            input: "{}".into(),
            error: None,
            cause: None,
        }
    }

    fn all() -> Vec<ExecutionFacts> {
        (0..25)
            .map(|i| execution(i, if i % 3 == 0 { ExecutionStatus::Failed } else { ExecutionStatus::Succeeded }))
            .collect()
    }

    fn walk(status: Option<ExecutionStatus>, size: usize) -> Vec<String> {
        let mut seen = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let query = ListQuery { status, next_token: token.as_deref(), max_results: size };
            let p = page(all(), query);
            assert!(p.items.len() <= size);
            seen.extend(p.items.into_iter().map(|f| f.name));
            match p.next_token {
                Some(t) => token = Some(t),
                None => return seen,
            }
        }
    }

    #[test]
    fn pages_walk_every_execution_once_in_order_with_and_without_a_filter() {
        // Newest first; of two started in the same second, the greater ARN first.
        let order = |i: u32| (i / 2) * 2 + (1 - i % 2);
        let names: Vec<String> = (0..25).map(order).filter(|&i| i < 25).map(|i| format!("{i:03}")).collect();
        assert_eq!(names.len(), 24, "the last pair is alone: 024");
        let names: Vec<String> = names.into_iter().chain(["024".to_string()]).collect();
        for size in [1, 2, 7, 25, 100] {
            assert_eq!(walk(None, size), names, "page size {size}");
        }
        let failed: Vec<String> = names.iter().filter(|n| n.parse::<u32>().unwrap() % 3 == 0).cloned().collect();
        assert_eq!(walk(Some(ExecutionStatus::Failed), 2), failed);
        assert!(walk(Some(ExecutionStatus::Running), 5).is_empty());
    }

    #[test]
    fn a_token_of_no_execution_still_pages_by_position() {
        let query = ListQuery { status: None, next_token: Some("junk"), max_results: 3 };
        assert_eq!(page(all(), query).items.len(), 3, "an unparsable token starts at the top");
        let last = "1970-01-01T00:00:00Z\nz";
        let query = ListQuery { status: None, next_token: Some(last), max_results: 3 };
        assert!(page(all(), query).items.is_empty(), "nothing is older than the epoch");
    }
}
