//! One request: read the bounded body, verify SigV4, run the operation its `X-Amz-Target`
//! names. No CORS: the endpoint is for the AWS CLI and SDKs, never a browser.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;
use loopback_listener::Dropped;

use crate::error::ApiError;
use crate::operations::Api;

/// Largest request body read: an execution input (256 KiB of characters) with JSON escaping
/// and the other members.
pub(crate) const MAX_BODY_BYTES: usize = 2 * 1024 * 1024;
/// `X-Amz-Target` prefix of Step Functions operations.
const TARGET_PREFIX: &str = "AWSStepFunctions.";
const JSON_1_0: &str = "application/x-amz-json-1.0";

pub(crate) struct Handler {
    pub api: Api,
    pub verifier: sigv4::Verifier,
    pub body_read_timeout: Duration,
}

impl Handler {
    pub(crate) async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Result<Response<String>, Dropped> {
        let (parts, body) = req.into_parts();
        if parts.uri.path() != "/" || parts.method != Method::POST {
            return Ok(not_found());
        }
        let body =
            match tokio::time::timeout(self.body_read_timeout, Limited::new(body, MAX_BODY_BYTES).collect()).await {
                Ok(Ok(collected)) => collected.to_bytes(),
                Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => {
                    let mut refusal = json(Err(ApiError::too_large()));
                    refusal.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
                    return Ok(refusal);
                }
                // unreadable or too slow: nothing sensible to answer
                Ok(Err(_)) | Err(_) => return Err(Dropped),
            };
        if let Err(err) = self.verifier.verify_parts(&parts.method, &parts.uri, &parts.headers, &body, Utc::now()) {
            tracing::info!(error = %err, "Step Functions request refused: signature");
            return Ok(json(Err(ApiError::refused(&sigv4::coral::refusal(&err, "states")))));
        }
        let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok());
        let answer = match target.and_then(|t| t.strip_prefix(TARGET_PREFIX)) {
            Some(operation) => self.api.call(operation, &body).await,
            None => Err(ApiError::unknown_operation(target)),
        };
        if let Err(err) = &answer {
            tracing::debug!(target = ?target, error = err.name, message = %err.message, "Step Functions request failed");
        }
        Ok(json(answer))
    }
}

fn json(answer: Result<String, ApiError>) -> Response<String> {
    let (status, body) = match answer {
        Ok(body) => (200, body),
        Err(err) => (err.status, err.body()),
    };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_1_0));
    let request_id = HeaderValue::from_str(&uuid::Uuid::new_v4().to_string());
    response.headers_mut().insert("x-amzn-requestid", request_id.unwrap_or(HeaderValue::from_static("0")));
    response
}

/// What the service answers to any method but POST, or any path but `/`.
fn not_found() -> Response<String> {
    let mut response = Response::new("<UnknownOperationException/>\n".to_owned());
    *response.status_mut() = StatusCode::NOT_FOUND;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}
