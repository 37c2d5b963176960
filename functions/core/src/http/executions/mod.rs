//! The console's read side: `GET /executions` (the caller's executions, newest first, with a
//! status filter and paging) and `GET /executions/{name}` (one execution: the state machine's
//! graph with what happened in each state, and its event history).
//!
//! An execution is the caller's when its input, the S3 "Object Created" event, names the upload
//! of an image record they own (same bucket and key); any other execution, of another user's image
//! or of no image at all, answers exactly as a missing one does. Views carry names, never ARNs;
//! failures are code + sentence ([`ClientFailure`]); payloads are shown without ARNs, account ids
//! or causes ([`redact`]).

mod events;
mod graph;
pub mod redact;

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::get;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::auth::Caller;
use super::cursor::CursorCodec;
use super::failure::ClientFailure;
use super::{ApiError, ApiState, ErrorCode, Executions};
use crate::error::StepError;
use crate::model::image_id_from_key;
use crate::table::ImageRecord;
pub use events::EventView;
pub use graph::{EdgeKind, GraphEdgeView, GraphStateView, GraphView, StateOutcome};

const DEFAULT_LIMIT: usize = 25;
const MAX_LIMIT: usize = 100;
/// Executions one list request looks at, at most, to fill a page with the caller's own.
const MAX_SCANNED: usize = 250;
/// Calls to the execution source one list request makes, at most.
const MAX_ROUNDS: usize = 5;
/// Step Functions' longest execution name.
const MAX_NAME_CHARS: usize = 80;

/// An execution's status, as Step Functions names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
    PendingRedrive,
}

impl ExecutionStatus {
    /// Every status, in the order the console offers them.
    pub const ALL: [ExecutionStatus; 6] = [
        ExecutionStatus::Running,
        ExecutionStatus::Succeeded,
        ExecutionStatus::Failed,
        ExecutionStatus::TimedOut,
        ExecutionStatus::Aborted,
        ExecutionStatus::PendingRedrive,
    ];

    /// The API's name (`RUNNING`, `TIMED_OUT`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
            ExecutionStatus::PendingRedrive => "PENDING_REDRIVE",
        }
    }

    /// The status named `text` (exactly as [`ExecutionStatus::as_str`] writes it).
    pub fn parse(text: &str) -> Option<ExecutionStatus> {
        ExecutionStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

/// What an execution source tells of one execution (DescribeExecution's fields).
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionFacts {
    pub execution_arn: String,
    pub name: String,
    pub status: ExecutionStatus,
    pub start_date: DateTime<Utc>,
    pub stop_date: Option<DateTime<Utc>>,
    /// The input as JSON text.
    pub input: String,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// One request for a page of executions, newest first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListQuery<'a> {
    pub status: Option<ExecutionStatus>,
    /// The source's own token for the page after the previous one.
    pub next_token: Option<&'a str>,
    pub max_results: usize,
}

/// A page of executions and the source's token for the next one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExecutionPage {
    pub items: Vec<ExecutionFacts>,
    pub next_token: Option<String>,
}

/// The console routes.
pub fn router(state: Arc<ApiState>) -> axum::Router {
    axum::Router::new()
        .route("/executions", get(list_executions))
        .route("/executions/{name}", get(get_execution))
        .with_state(state)
}

/// Query string of `GET /executions` (strings, so bad values get our own 400).
#[derive(Debug, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct ListParams {
    pub status: Option<String>,
    pub limit: Option<String>,
    pub next_token: Option<String>,
}

/// One row of `GET /executions`.
#[derive(Debug, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionRowView {
    pub name: String,
    pub status: ExecutionStatus,
    pub started_at: String,
    pub stopped_at: Option<String>,
    pub duration_ms: Option<i64>,
    pub image_id: String,
    pub filename: Option<String>,
}

/// `GET /executions`: a page of rows; `nextToken` while there may be more (a page can hold fewer
/// rows than asked for, even none, when the executions looked at were not the caller's).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionListView {
    pub items: Vec<ExecutionRowView>,
    pub next_token: Option<String>,
}

/// `GET /executions/{name}`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionView {
    #[serde(flatten)]
    pub summary: ExecutionRowView,
    /// Why it did not succeed, for FAILED, TIMED_OUT and ABORTED.
    pub error: Option<ClientFailure>,
    pub graph: GraphView,
    pub events: Vec<EventView>,
    /// True when the history had more events than are shown.
    pub events_truncated: bool,
}

fn source(state: &ApiState) -> Result<&Arc<dyn Executions>, ApiError> {
    state
        .executions
        .as_ref()
        .ok_or_else(|| ApiError::backend(StepError::Internal("no execution source configured".into())))
}

async fn list_executions(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Query(params): Query<ListParams>,
) -> Result<Json<ExecutionListView>, ApiError> {
    let status = parse_status(params.status.as_deref())?;
    let limit = parse_limit(params.limit.as_deref())?;
    let scope = format!("executions|{}|{}", caller.sub, status.map_or("ALL", ExecutionStatus::as_str));
    let codec = CursorCodec::new(&state.config.cursor_secret);
    let mut token = match params.next_token.as_deref().filter(|t| !t.is_empty()) {
        Some(sealed) => Some(codec.open(sealed, &scope)?),
        None => None,
    };
    let executions = source(&state)?;
    let mut owners = OwnerCache::default();
    let (mut items, mut scanned) = (Vec::new(), 0);
    for _ in 0..MAX_ROUNDS {
        let query = ListQuery { status, next_token: token.as_deref(), max_results: limit - items.len() };
        let page = executions.list(query).await.map_err(ApiError::backend)?;
        scanned += page.items.len();
        for facts in page.items {
            if let Some(record) = owners.owned(&state, &caller, &facts).await? {
                items.push(row_view(&facts, record));
            }
        }
        token = page.next_token;
        if token.is_none() || items.len() >= limit || scanned >= MAX_SCANNED {
            break;
        }
    }
    Ok(Json(ExecutionListView { items, next_token: token.map(|t| codec.seal(&scope, &t)) }))
}

async fn get_execution(
    State(state): State<Arc<ApiState>>,
    caller: Caller,
    Path(name): Path<String>,
) -> Result<Json<ExecutionView>, ApiError> {
    check_name(&name)?;
    let executions = source(&state)?;
    let facts = executions.describe(&name).await.map_err(ApiError::backend)?.ok_or_else(not_found)?;
    let mut owners = OwnerCache::default();
    let record = owners.owned(&state, &caller, &facts).await?.ok_or_else(not_found)?;
    let history = executions.history(&facts.execution_arn).await.map_err(ApiError::backend)?;
    let definition = executions.definition(&facts.execution_arn).await.map_err(ApiError::backend)?;
    let graph = graph::build(&definition, &history, facts.status)
        .map_err(|e| ApiError::backend(StepError::Internal(format!("the state machine definition: {e}"))))?;
    let (events, events_truncated) = events::view(&history);
    Ok(Json(ExecutionView {
        summary: row_view(&facts, record),
        error: execution_failure(&facts),
        graph,
        events,
        events_truncated,
    }))
}

/// The answer for an execution the caller cannot see: missing, or not of their images.
fn not_found() -> ApiError {
    ApiError::not_found("There is no execution with this name.")
}

fn parse_status(text: Option<&str>) -> Result<Option<ExecutionStatus>, ApiError> {
    match text.map(str::trim) {
        None | Some("") | Some("ALL") => Ok(None),
        Some(name) => ExecutionStatus::parse(name).map(Some).ok_or_else(|| {
            let names: Vec<&str> = ExecutionStatus::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(ErrorCode::BadRequest, format!("status must be one of {}.", names.join(", ")))
        }),
    }
}

fn parse_limit(text: Option<&str>) -> Result<usize, ApiError> {
    match text {
        None | Some("") => Ok(DEFAULT_LIMIT),
        Some(v) => v.parse::<usize>().ok().filter(|n| (1..=MAX_LIMIT).contains(n)).ok_or_else(|| {
            ApiError::bad_request(ErrorCode::BadRequest, format!("limit must be a whole number from 1 to {MAX_LIMIT}."))
        }),
    }
}

/// A 400 unless `name` could name an execution (Step Functions' rules: 1-80 characters, no
/// whitespace, brackets, wildcards, control characters or any of `"#%\^|~`$&,;:/`).
fn check_name(name: &str) -> Result<(), ApiError> {
    let forbidden = |c: char| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c);
    if !name.is_empty() && name.chars().count() <= MAX_NAME_CHARS && !name.chars().any(forbidden) {
        return Ok(());
    }
    Err(ApiError::bad_request(
        ErrorCode::BadRequest,
        "An execution name is 1 to 80 characters without spaces, brackets or any of \"#%\\^|~`$&,;:/.",
    ))
}

/// The S3 object an execution's input names (`detail.bucket.name`, `detail.object.key`).
fn input_object(input: &str) -> Option<(String, String)> {
    #[derive(Deserialize)]
    struct Input {
        detail: Detail,
    }
    #[derive(Deserialize)]
    struct Detail {
        bucket: Named,
        object: Keyed,
    }
    #[derive(Deserialize)]
    struct Named {
        name: String,
    }
    #[derive(Deserialize)]
    struct Keyed {
        key: String,
    }
    let input: Input = serde_json::from_str(input).ok()?;
    Some((input.detail.bucket.name, input.detail.object.key))
}

/// Image records read for one request, by image id.
#[derive(Default)]
struct OwnerCache(HashMap<String, Option<ImageRecord>>);

impl OwnerCache {
    /// The caller's image record that `facts`' input names; `None` when the input names no
    /// upload, or one that is gone or someone else's.
    async fn owned(
        &mut self,
        state: &ApiState,
        caller: &Caller,
        facts: &ExecutionFacts,
    ) -> Result<Option<&ImageRecord>, ApiError> {
        let Some((bucket, key)) = input_object(&facts.input) else { return Ok(None) };
        let Some(id) = image_id_from_key(&key) else { return Ok(None) };
        if !self.0.contains_key(&id) {
            let record = state.table().get_image(&id, false).await.map_err(ApiError::backend)?;
            self.0.insert(id.clone(), record);
        }
        let record = self.0.get(&id).and_then(Option::as_ref);
        Ok(record.filter(|r| r.owner == caller.sub && r.bucket == bucket && r.key == key))
    }
}

fn row_view(facts: &ExecutionFacts, record: &ImageRecord) -> ExecutionRowView {
    let rfc3339 = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    ExecutionRowView {
        name: facts.name.clone(),
        status: facts.status,
        started_at: rfc3339(facts.start_date),
        stopped_at: facts.stop_date.map(rfc3339),
        duration_ms: facts.stop_date.map(|stop| (stop - facts.start_date).num_milliseconds()),
        image_id: record.image_id.clone(),
        filename: record.filename.clone(),
    }
}

/// Why an execution ended without success, as code + sentence.
fn execution_failure(facts: &ExecutionFacts) -> Option<ClientFailure> {
    match facts.status {
        ExecutionStatus::Failed | ExecutionStatus::TimedOut => Some(ClientFailure::of_step(
            facts.error.as_deref().unwrap_or(if facts.status == ExecutionStatus::TimedOut {
                "States.Timeout"
            } else {
                ""
            }),
            facts.cause.as_deref().unwrap_or_default(),
        )),
        ExecutionStatus::Aborted => Some(ClientFailure {
            code: "ABORTED".into(),
            message: "The execution was stopped before it finished.".into(),
        }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_parse_exactly_their_api_names() {
        for s in ExecutionStatus::ALL {
            assert_eq!(ExecutionStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
        }
        assert_eq!(parse_status(Some("ALL")).unwrap(), None);
        assert_eq!(parse_status(Some(" FAILED ")).unwrap(), Some(ExecutionStatus::Failed));
        for bad in ["failed", "DONE", "FAILED,RUNNING", "x".repeat(10_000).as_str(), "\u{0}"] {
            assert_eq!(parse_status(Some(bad)).unwrap_err().status.as_u16(), 400, "{bad:?}");
        }
    }

    #[test]
    fn limits_are_whole_numbers_in_range() {
        assert_eq!(parse_limit(None).unwrap(), DEFAULT_LIMIT);
        assert_eq!(parse_limit(Some("100")).unwrap(), 100);
        for bad in ["0", "101", "-1", "1.5", "1e3", "99999999999999999999999"] {
            assert!(parse_limit(Some(bad)).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_follow_step_functions_rules() {
        for good in ["3f0c9a1e-8d2b-4a7f-9c1d-2e3f4a5b6c7d", "abc-r2", "x", "é", &"n".repeat(80)] {
            assert!(check_name(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "a/b", "a:b", "..%2f", "a\u{0}", "<x>", "a\nb", &"n".repeat(81)] {
            assert_eq!(check_name(bad).unwrap_err().status.as_u16(), 400, "{bad:?}");
        }
    }

    #[test]
    fn the_input_names_an_object_only_in_the_s3_event_shape() {
        let event = r#"{"detail":{"bucket":{"name":"in"},"object":{"key":"uploads/x.jpg","size":3}}}"#;
        assert_eq!(input_object(event), Some(("in".into(), "uploads/x.jpg".into())));
        for other in ["", "{}", "[]", "null", r#"{"detail":{"bucket":"in","object":{"key":"k"}}}"#, "{\"detail\":"] {
            assert_eq!(input_object(other), None, "{other}");
        }
    }

    #[test]
    fn failures_are_codes_and_sentences_without_causes() {
        let facts = |status, error: Option<&str>, cause: Option<&str>| ExecutionFacts {
            execution_arn: "arn:aws:states:eu-west-1:123456789012:execution:P:n".into(),
            name: "n".into(),
            status,
            start_date: Utc::now(),
            stop_date: None,
            input: "{}".into(),
            error: error.map(str::to_string),
            cause: cause.map(str::to_string),
        };
        let cause = "dispatch failure arn:aws:lambda:eu-west-1:123456789012:function:x";
        let failed = execution_failure(&facts(ExecutionStatus::Failed, Some("Retryable"), Some(cause))).unwrap();
        assert_eq!(failed.code, super::super::failure::STEP_FAILED);
        assert!(!failed.message.contains("arn:"));
        let timed_out = execution_failure(&facts(ExecutionStatus::TimedOut, None, None)).unwrap();
        assert_eq!(timed_out.code, super::super::failure::TIMED_OUT);
        assert_eq!(execution_failure(&facts(ExecutionStatus::Aborted, None, None)).unwrap().code, "ABORTED");
        assert_eq!(execution_failure(&facts(ExecutionStatus::Succeeded, None, None)), None);
        assert_eq!(execution_failure(&facts(ExecutionStatus::Running, None, None)), None);
    }
}
