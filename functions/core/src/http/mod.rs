//! The HTTP API as axum routers: `lambda_http` serves them on AWS and `imgpipe serve`
//! mounts the very same routers locally.

pub mod auth;
pub mod cursor;
mod delete;
pub mod executions;
pub mod failure;
pub mod frontend;
pub mod presign;
pub mod query;
pub mod site;
pub mod timeline;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;

use crate::aws::Clients;
use crate::config::Config;
use crate::table::Table;
pub use timeline::Executions;

/// What the API handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub config: Config,
    pub clients: Clients,
    /// The pipeline's executions and their histories: Step Functions on AWS, the embedded engine locally.
    pub executions: Option<Arc<dyn Executions>>,
}

impl ApiState {
    /// The table, through this state's client.
    pub fn table(&self) -> Table {
        Table::new(self.clients.dynamo.clone(), &self.config.table_name)
    }
}

/// The whole API: presign, query, the console's executions and the public site routes.
pub fn router(state: Arc<ApiState>) -> axum::Router {
    presign::router(state.clone())
        .merge(query::router(state.clone()))
        .merge(executions::router(state.clone()))
        .merge(site::router(state))
}

/// What the Query function serves on AWS: the query and execution routes, the public site
/// routes and the page.
pub fn query_function_router(state: Arc<ApiState>) -> axum::Router {
    query::router(state.clone())
        .merge(executions::router(state.clone()))
        .merge(site::router(state.clone()))
        .merge(frontend::router(&state))
}

/// The machine codes of API errors (`error.code` in every error answer).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// A malformed request: body, query parameter, id or cursor.
    BadRequest,
    /// A content type the pipeline does not accept.
    UnsupportedType,
    /// A declared size of zero.
    Empty,
    /// A declared size over the limit.
    TooLarge,
    /// No verified caller: a missing, invalid or expired access token.
    Unauthorized,
    NotFound,
    /// Transient backend trouble; worth retrying.
    Unavailable,
    Internal,
}

/// An API error: a status and `{"error":{"code","message"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    /// 400 with a code and sentence.
    pub fn bad_request(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, code, message: message.into() }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::NOT_FOUND, code: ErrorCode::NotFound, message: message.into() }
    }

    /// 503 for transient backend trouble, 500 otherwise; details go to the log, not the client.
    pub fn backend(err: crate::error::StepError) -> Self {
        tracing::error!(error = %err, "backend call failed");
        match err {
            crate::error::StepError::Retryable(_) => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: ErrorCode::Unavailable,
                message: "The service is busy; try again shortly.".into(),
            },
            _ => ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: ErrorCode::Internal,
                message: "Something went wrong on our side.".into(),
            },
        }
    }
}

/// The body of an error answer.
#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: ErrorCode,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: ErrorDetail { code: self.code, message: &self.message } }))
            .into_response()
    }
}
