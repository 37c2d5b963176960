//! One request: read the bounded body, verify SigV4, maybe inject a fault, run the operation.
//! No CORS: the endpoint is for the stack's own SDK clients, never a browser.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use chrono::Utc;
use dynoxide::Database;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use crate::dispatch::{dispatch, Answer};
use crate::faults::Faults;
use loopback_listener::Dropped;

/// DynamoDB accepts request bodies up to 16 MB.
pub(crate) const MAX_BODY_BYTES: usize = 16 * 1024 * 1024;

const JSON_1_0: &str = "application/x-amz-json-1.0";

pub(crate) struct Handler {
    pub db: Database,
    pub verifier: sigv4::Verifier,
    pub faults: Faults,
    pub region: String,
    pub body_read_timeout: Duration,
}

impl Handler {
    pub(crate) async fn handle(self: Arc<Self>, req: Request<Incoming>) -> Result<Response<String>, Dropped> {
        let (parts, body) = req.into_parts();
        if parts.uri.path() != "/" {
            return Ok(not_found());
        }
        match parts.method {
            Method::GET => {
                return Ok(plain(StatusCode::OK, format!("healthy: dynamodb.{}.amazonaws.com ", self.region)))
            }
            Method::POST => {}
            _ => return Ok(not_found()),
        }
        let body =
            match tokio::time::timeout(self.body_read_timeout, Limited::new(body, MAX_BODY_BYTES).collect()).await {
                Ok(Ok(collected)) => collected.to_bytes(),
                Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => {
                    return Ok(closing(json(Answer::error(
                        413,
                        "com.amazon.coral.service#RequestEntityTooLarge",
                        "Request entity too large",
                    ))))
                }
                // unreadable or too slow: nothing sensible to answer
                Ok(Err(_)) | Err(_) => return Err(Dropped),
            };
        if let Err(err) = self.verifier.verify_parts(&parts.method, &parts.uri, &parts.headers, &body, Utc::now()) {
            tracing::info!(error = %err, "DynamoDB request refused: signature");
            return Ok(json(crate::auth::refusal(&err, "dynamodb")));
        }
        if let Some(fault) = self.faults.draw() {
            tracing::debug!(fault = fault.name(), "DynamoDB fault injected");
            return fault.answer().map(json).ok_or(Dropped);
        }
        let target = parts.headers.get("x-amz-target").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let handler = self.clone();
        let answer = tokio::task::spawn_blocking(move || run(&handler.db, target.as_deref(), &body)).await;
        Ok(json(answer.unwrap_or_else(|_| {
            Answer::error(500, "com.amazonaws.dynamodb.v20120810#InternalServerError", "Internal server error")
        })))
    }
}

fn run(db: &Database, target: Option<&str>, body: &Bytes) -> Answer {
    match std::str::from_utf8(body) {
        Ok(text) => dispatch(db, target, text),
        Err(_) => Answer::error(400, "com.amazon.coral.service#SerializationException", "Body is not UTF-8"),
    }
}

fn json(answer: Answer) -> Response<String> {
    let mut response = Response::new(answer.body);
    *response.status_mut() = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON_1_0));
    response.headers_mut().insert("x-amzn-requestid", request_id());
    response
}

fn plain(status: StatusCode, body: String) -> Response<String> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    response
}

/// What DynamoDB answers to any method but GET/POST, or any path but `/`.
fn not_found() -> Response<String> {
    plain(StatusCode::NOT_FOUND, "<UnknownOperationException/>\n".into())
}

fn closing(mut response: Response<String>) -> Response<String> {
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A request id like DynamoDB's: 52 upper-case alphanumerics.
fn request_id() -> HeaderValue {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = Utc::now().timestamp_nanos_opt().unwrap_or(0);
    let text = format!("{:026X}{:026X}", n, nanos as u64);
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static("0"))
}
