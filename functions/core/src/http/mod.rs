//! The HTTP API as axum routers: `lambda_http` serves them on AWS and `imgpipe serve`
//! mounts the very same routers locally.

pub mod presign;
pub mod query;
pub mod timeline;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::aws::Clients;
use crate::config::Config;
pub use timeline::Executions;

/// What the API handlers share.
#[derive(Clone)]
pub struct ApiState {
    pub config: Config,
    pub clients: Clients,
    /// Execution history source: Step Functions on AWS, the embedded engine locally.
    pub executions: Option<Arc<dyn Executions>>,
}

/// The whole API: presign and query routes.
pub fn router(state: Arc<ApiState>) -> axum::Router {
    presign::router(state.clone()).merge(query::router(state))
}

/// An API error: a status and `{"error":{"code","message"}}`.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    /// 400 with a code and sentence.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::BAD_REQUEST, code, message: message.into() }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError { status: StatusCode::NOT_FOUND, code: "NOT_FOUND", message: message.into() }
    }

    /// 503 for transient backend trouble, 500 otherwise; details go to the log, not the client.
    pub fn backend(err: crate::error::StepError) -> Self {
        tracing::error!(error = %err, "backend call failed");
        match err {
            crate::error::StepError::Retryable(_) => ApiError {
                status: StatusCode::SERVICE_UNAVAILABLE,
                code: "UNAVAILABLE",
                message: "The service is busy; try again shortly.".into(),
            },
            _ => ApiError {
                status: StatusCode::INTERNAL_SERVER_ERROR,
                code: "INTERNAL",
                message: "Something went wrong on our side.".into(),
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "error": { "code": self.code, "message": self.message } }))).into_response()
    }
}
