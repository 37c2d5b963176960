//! A minimal AWS Lambda Runtime API on loopback, and a compiled function binary running under it.
//!
//! The server implements the four routes a runtime client uses (`invocation/next`,
//! `invocation/{id}/response`, `invocation/{id}/error`, `init/error`). It hands out queued events
//! with the headers Lambda sends, and records what the function answers, including the
//! `Lambda-Runtime-Function-Error-Type` header and the `{errorType, errorMessage}` body.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, watch};

use crate::endpoints::TempDir;

/// How long a function may take to answer one invocation before the test fails.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long a cold start may take before the test fails.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(30);

/// What the function posted for one invocation (or at init).
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`: the body (JSON, or a JSON string if it was not JSON).
    Response(Value),
    /// `POST /invocation/{id}/error` or `/init/error`.
    Error {
        /// The `Lambda-Runtime-Function-Error-Type` header, if sent.
        header: Option<String>,
        /// `errorType` of the body.
        error_type: String,
        /// `errorMessage` of the body.
        error_message: String,
    },
}

impl Outcome {
    /// The response body; panics (with the error) if the function failed.
    pub fn response(&self) -> &Value {
        match self {
            Outcome::Response(v) => v,
            Outcome::Error { error_type, error_message, .. } => {
                panic!("expected a response, the function failed with {error_type}: {error_message}")
            }
        }
    }

    /// `(errorType, errorMessage)`; panics if the function answered normally.
    pub fn error(&self) -> (&str, &str) {
        match self {
            Outcome::Error { error_type, error_message, .. } => (error_type, error_message),
            Outcome::Response(v) => panic!("expected an error, the function answered {v}"),
        }
    }
}

struct Queued {
    request_id: String,
    function_arn: String,
    event: Value,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Queued>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_error: Mutex<Option<Outcome>>,
    /// Time from start to the function's first `/next` (its init is done).
    first_poll: watch::Sender<Option<Duration>>,
    started: Instant,
}

/// A Lambda Runtime API server on `127.0.0.1:0`.
pub struct RuntimeApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Queued>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl RuntimeApi {
    /// Starts serving.
    pub async fn start() -> RuntimeApi {
        let (queue, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(rx),
            waiting: Mutex::new(HashMap::new()),
            init_error: Mutex::new(None),
            first_poll: watch::channel(None).0,
            started: Instant::now(),
        });
        let router = axum::Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(fail))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding the Runtime API");
        let addr = listener.local_addr().expect("Runtime API address");
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        RuntimeApi { addr, shared, queue, task }
    }

    /// Queues `event` for the next `/next` poll; the receiver gets what the function answers.
    pub fn enqueue(&self, function_name: &str, event: Value) -> oneshot::Receiver<Outcome> {
        let request_id = uuid::Uuid::new_v4().to_string();
        let (tx, rx) = oneshot::channel();
        self.shared.waiting.lock().unwrap().insert(request_id.clone(), tx);
        let function_arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{function_name}");
        self.queue.send(Queued { request_id, function_arn, event }).expect("the Runtime API is running");
        rx
    }

    /// Time from start to the first `/next`, once the function has polled.
    pub fn first_poll(&self) -> Option<Duration> {
        *self.shared.first_poll.borrow()
    }

    /// What the function posted to `/init/error`, if anything.
    pub fn init_error(&self) -> Option<Outcome> {
        self.shared.init_error.lock().unwrap().clone()
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let elapsed = shared.started.elapsed();
    shared.first_poll.send_if_modified(|first| {
        let unset = first.is_none();
        if unset {
            *first = Some(elapsed);
        }
        unset
    });
    // Long-polls like Lambda: the function blocks here until an event is queued.
    let Some(job) = shared.queue.lock().await.recv().await else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
    let deadline = now_ms + INVOKE_TIMEOUT.as_millis();
    let trace = format!(
        "Root=1-{:08x}-{};Parent={};Sampled=0",
        now_ms / 1000,
        &uuid::Uuid::new_v4().simple().to_string()[..24],
        &uuid::Uuid::new_v4().simple().to_string()[..16]
    );
    (
        [
            ("content-type", "application/json".to_string()),
            ("lambda-runtime-aws-request-id", job.request_id),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            ("lambda-runtime-invoked-function-arn", job.function_arn),
            ("lambda-runtime-trace-id", trace),
        ],
        job.event.to_string(),
    )
        .into_response()
}

async fn respond(State(shared): State<Arc<Shared>>, UrlPath(id): UrlPath<String>, body: Bytes) -> StatusCode {
    let value = serde_json::from_slice(&body).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into()));
    settle(&shared, &id, Outcome::Response(value))
}

async fn fail(
    State(shared): State<Arc<Shared>>,
    UrlPath(id): UrlPath<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    settle(&shared, &id, error_outcome(&headers, &body))
}

async fn init_error(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    *shared.init_error.lock().unwrap() = Some(error_outcome(&headers, &body));
    StatusCode::ACCEPTED
}

fn settle(shared: &Shared, id: &str, outcome: Outcome) -> StatusCode {
    match shared.waiting.lock().unwrap().remove(id) {
        Some(tx) => {
            let _ = tx.send(outcome);
            StatusCode::ACCEPTED
        }
        // Lambda answers 400 InvalidRequestID; a runtime that posts twice or invents ids is broken.
        None => StatusCode::BAD_REQUEST,
    }
}

fn error_outcome(headers: &HeaderMap, body: &[u8]) -> Outcome {
    let doc: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    Outcome::Error {
        header: headers.get("lambda-runtime-function-error-type").and_then(|v| v.to_str().ok()).map(str::to_string),
        error_type: doc["errorType"].as_str().unwrap_or("<missing errorType>").to_string(),
        error_message: doc["errorMessage"].as_str().unwrap_or("<missing errorMessage>").to_string(),
    }
}

/// The compiled binary of a function: `target/debug/<name>`. Panics if it is not built.
pub fn function_binary(name: &str) -> PathBuf {
    let mut dirs = Vec::new();
    // The test executable is target/debug/deps/<test>-<hash>: its grandparent is target/debug.
    if let Some(debug) = std::env::current_exe().ok().and_then(|p| Some(p.parent()?.parent()?.to_path_buf())) {
        dirs.push(debug);
    }
    if let Ok(target) = std::env::var("CARGO_TARGET_DIR") {
        dirs.push(Path::new(&target).join("debug"));
    }
    dirs.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug"));
    dirs.iter().map(|d| d.join(name)).find(|p| p.is_file()).unwrap_or_else(|| {
        panic!("function binary {name:?} not found in {dirs:?}: build first with `cargo build --workspace --bins`")
    })
}

/// Why a function did not finish its init.
#[derive(Debug)]
pub struct InitFailure {
    pub why: String,
    /// Its stdout and stderr.
    pub log: String,
    /// What it posted to `/init/error`, if anything.
    pub init_error: Option<Outcome>,
}

/// A function binary running under its own Runtime API, as Lambda runs it.
pub struct LambdaFunction {
    pub name: String,
    pub api: RuntimeApi,
    /// Time from spawn to the first `/next` request: the cold start.
    pub cold_start: Duration,
    child: tokio::process::Child,
    log_file: PathBuf,
    _log_dir: TempDir,
}

impl LambdaFunction {
    /// Spawns `target/debug/<name>` with Lambda's environment plus `env`, and waits until it
    /// polls for its first event (its init finished). Panics, with its log, if it does not.
    pub async fn start(name: &str, env: &[(String, String)]) -> LambdaFunction {
        match Self::try_start(name, env).await {
            Ok(function) => function,
            Err(failure) => panic!("function {name} {}\n--- its log ---\n{}", failure.why, failure.log),
        }
    }

    /// Like [`LambdaFunction::start`], but an init that fails (exit, `/init/error`, no poll) is returned.
    pub async fn try_start(name: &str, env: &[(String, String)]) -> Result<LambdaFunction, InitFailure> {
        let binary = function_binary(name);
        let api = RuntimeApi::start().await;
        let log_dir = TempDir::new(&format!("imgpipe-e2e-{name}"));
        let log_file = log_dir.0.join("function.log");
        let log = std::fs::File::create(&log_file).expect("creating the function log");
        let mut command = tokio::process::Command::new(&binary);
        command
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2025/01/01/[$LATEST]0123456789abcdef")
            .env("LOG_FORMAT", "text")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("cloning the log handle"))
            .stderr(log)
            .kill_on_drop(true);
        let spawned = Instant::now();
        let mut child = command.spawn().unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
        let mut polled = api.shared.first_poll.subscribe();
        let init = tokio::select! {
            ready = tokio::time::timeout(INIT_TIMEOUT, polled.wait_for(Option::is_some)) => match ready {
                Ok(_) => Ok(()),
                Err(_) => Err(format!("did not poll /next within {INIT_TIMEOUT:?}")),
            },
            status = child.wait() => Err(format!("exited during init ({status:?}); init error: {:?}", api.init_error())),
        };
        let function = LambdaFunction {
            name: name.to_string(),
            api,
            cold_start: spawned.elapsed(),
            child,
            log_file,
            _log_dir: log_dir,
        };
        match init {
            Ok(()) => Ok(function),
            Err(why) => {
                let init_error = function.api.init_error();
                Err(InitFailure { why, log: function.log(), init_error })
            }
        }
    }

    /// Sends one event and returns what the function posted back.
    pub async fn invoke(&mut self, event: Value) -> Outcome {
        let answer = self.api.enqueue(&self.name, event);
        let result = tokio::select! {
            outcome = tokio::time::timeout(INVOKE_TIMEOUT, answer) => match outcome {
                Ok(Ok(outcome)) => Ok(outcome),
                _ => Err(format!("did not answer within {INVOKE_TIMEOUT:?}")),
            },
            status = self.child.wait() => Err(format!("exited while handling an event ({status:?})")),
        };
        result.unwrap_or_else(|why| self.fail(&why))
    }

    /// The function's stdout and stderr so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log_file).unwrap_or_default()
    }

    fn fail(&self, why: &str) -> ! {
        panic!("function {} {why}\n--- its log ---\n{}", self.name, self.log())
    }
}

/// An API Gateway HTTP API (payload 2.0) event for `method path?query` with a JSON body.
pub fn http_event(method: &str, path: &str, query: &str, body: Option<&Value>) -> Value {
    let route = match path {
        p if p.starts_with("/images/") && p.ends_with("/timeline") => "/images/{id}/timeline",
        p if p.starts_with("/images/") => "/images/{id}",
        p => p,
    };
    let mut headers = json!({
        "accept": "application/json",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "user-agent": "imgpipe-e2e",
        "x-forwarded-proto": "https",
    });
    if body.is_some() {
        headers["content-type"] = json!("application/json");
    }
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let query_params: serde_json::Map<String, Value> = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let mut event = json!({
        "version": "2.0",
        "routeKey": format!("{method} {route}"),
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "imgpipe-e2e"
            },
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": format!("{method} {route}"),
            "stage": "$default",
            "time": "01/Jan/2025:00:00:00 +0000",
            "timeEpoch": now.as_millis() as u64,
            // What the JWT authorizer hands the function for a Cognito access token.
            "authorizer": {
                "jwt": {
                    "claims": {
                        "sub": crate::endpoints::TEST_OWNER,
                        "token_use": "access",
                        "client_id": "e2eclient",
                        "username": "e2e",
                        "scope": "openid imgpipe/images",
                        "iss": "https://cognito-idp.us-east-1.amazonaws.com/us-east-1_e2e",
                    },
                    "scopes": ["openid", "imgpipe/images"]
                }
            }
        },
        "isBase64Encoded": false
    });
    if !query_params.is_empty() {
        event["queryStringParameters"] = Value::Object(query_params);
    }
    if let Some(b) = body {
        event["body"] = Value::String(b.to_string());
    }
    event
}

/// The same event as if no authorizer had run (a route left open by mistake).
pub fn without_authorizer(mut event: Value) -> Value {
    if let Some(context) = event["requestContext"].as_object_mut() {
        context.remove("authorizer");
    }
    event
}

/// `(statusCode, body as JSON)` of an API Gateway HTTP API response.
pub fn http_response(response: &Value) -> (u16, Value) {
    let status = response["statusCode"].as_u64().unwrap_or_else(|| panic!("no statusCode in {response}")) as u16;
    let body = response["body"].as_str().unwrap_or("");
    let body = serde_json::from_str(body).unwrap_or_else(|_| Value::String(body.to_string()));
    (status, body)
}
