//! `imgpipe serve`: the whole product on loopback, through the same accept loop as the embedded
//! endpoints (header-read timeout, connection cap, graceful stop): the page and API on one port,
//! S3, DynamoDB and the Step Functions API on the next three (see [`Ports`]).

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt as _, LengthLimitError, Limited};
use hyper::body::Incoming;
use loopback_listener::{Dropped, ListenerLimits};
use tower::ServiceExt as _;

use imgpipe_core::config::AuthSettings;

use crate::accounts;
use crate::stack::{Stack, StackOptions};
use crate::storage::{self, local_url, Ports, SIGNING_REGION};

/// How `serve` listens.
pub struct ServeOptions {
    pub frontend: Option<PathBuf>,
    /// A connection that has not sent a whole request head within this time is closed.
    pub header_read_timeout: Duration,
    /// A request whose body has not arrived within this time is dropped with its connection.
    pub body_read_timeout: Duration,
    /// At a stop, how long running steps may take to finish.
    pub drain_timeout: Duration,
}

/// Largest request body the server reads: the API's JSON and the sign-in forms are a few hundred
/// bytes (uploads go to the S3 endpoint, not here).
const MAX_BODY_BYTES: usize = 64 * 1024;

/// Reads the whole body first, within `timeout` and [`MAX_BODY_BYTES`], so a slow or endless
/// body cannot hold a connection: too large is answered 413 (and the connection closed), too
/// slow or broken drops the connection.
async fn read_body(req: hyper::Request<Incoming>, timeout: Duration) -> Result<Result<Request, Response>, Dropped> {
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(timeout, Limited::new(body, MAX_BODY_BYTES).collect()).await {
        Ok(Ok(collected)) => Ok(Ok(Request::from_parts(parts, Body::from(collected.to_bytes())))),
        Ok(Err(err)) if err.is::<LengthLimitError>() => {
            let message = "Request Entity Too Large";
            let headers = [(header::CONNECTION, "close")];
            Ok(Err((StatusCode::PAYLOAD_TOO_LARGE, headers, axum::Json(serde_json::json!({ "message": message })))
                .into_response()))
        }
        Ok(Err(_)) | Err(_) => {
            tracing::info!(path = parts.uri.path(), "request dropped: its body was too slow or broken");
            Err(Dropped)
        }
    }
}

/// What `GET /config` tells the page: the local sign-in service, whose endpoints sit under its issuer.
fn page_auth(auth: &auth::AuthService) -> anyhow::Result<AuthSettings> {
    let config = auth.config();
    AuthSettings::new(&config.issuer, &config.client_id, &config.issuer, config.scopes.clone())
        .map_err(|err| anyhow::anyhow!("the page's sign-in settings: {err}"))
}

/// Resolves at Ctrl-C (SIGINT) or SIGTERM.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "cannot listen for SIGTERM; stopping on Ctrl-C only");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

/// The Step Functions API over the stack's engine on `port`, with the stack's key pair.
async fn start_sfn(stack: &Stack, port: u16) -> anyhow::Result<sfn_endpoint::SfnEndpoint> {
    let engine = stack.engine.clone().context("serve runs the engine")?;
    let listener = storage::bind(port, "Step Functions", "--sfn-port").await?;
    let credentials = &stack.storage.credentials;
    let config = sfn_endpoint::Config::new(&credentials.access_key, &credentials.secret_key, SIGNING_REGION);
    sfn_endpoint::start(config, listener, engine).await.context("starting the Step Functions endpoint")
}

/// What `serve` prints once it listens: the page's URL first (scripts look for it), then every
/// endpoint and how to point the AWS CLI at them.
fn banner(ports: &Ports, data_dir: &std::path::Path) -> String {
    let data = data_dir.display();
    [
        format!("imgpipe is running at {}/  (data: {data})", local_url(ports.page)),
        format!("  S3:             {}", local_url(ports.s3)),
        format!("  DynamoDB:       {}", local_url(ports.dynamodb)),
        format!("  Step Functions: {}", local_url(ports.sfn)),
        format!("  AWS CLI/SDKs:   eval \"$(imgpipe env --data {})\"", super::env::shell_quote(&data.to_string())),
    ]
    .join("\n")
}

/// Runs the server until Ctrl-C or SIGTERM, then stops taking requests and lets running steps finish.
pub async fn run(serve: ServeOptions, mut opts: StackOptions) -> anyhow::Result<ExitCode> {
    let listener = storage::bind(opts.ports.page, "the page", "--port").await?;
    let addr = listener.local_addr()?;
    let port = addr.port();
    // The page uploads straight to the S3 endpoint: CORS for the page's own origin and no other.
    opts.allowed_origins = vec![format!("http://{addr}"), format!("http://localhost:{port}")];
    let data_dir = opts.data_dir.clone();
    let auth = accounts::open_for_server(&data_dir, port)?;
    let first_user = accounts::ensure_initial_user(&auth)?;
    let sfn_port = opts.ports.sfn;
    let mut stack = Stack::start(opts).await?;
    let sfn = start_sfn(&stack, sfn_port).await?;
    stack.config.auth = Some(page_auth(&auth)?);
    let app = crate::server::app(stack.api_state(), serve.frontend, &auth, port);
    let ports = Ports {
        page: port,
        s3: stack.storage.s3.addr.port(),
        dynamodb: stack.storage.dynamodb.addr.port(),
        sfn: sfn.addr.port(),
    };
    ports.save(&data_dir)?;
    if let Some((user, password)) = first_user {
        println!("{}", accounts::initial_user_notice(&user, &password));
    }
    println!("{}", banner(&ports, &data_dir));
    tracing::info!(url = %format!("http://{addr}/"), issuer = %auth.config().issuer, "serving");

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(());
    tokio::spawn(async move {
        stop_signal().await;
        tracing::info!("stopping: no new requests; letting running steps finish");
        let _ = stop_tx.send(());
    });
    let limits = ListenerLimits {
        header_read_timeout: serve.header_read_timeout,
        body_read_timeout: serve.body_read_timeout,
        ..ListenerLimits::default()
    };
    let handler = Arc::new(move |req: hyper::Request<Incoming>| {
        let app = app.clone();
        async move {
            let req = match read_body(req, limits.body_read_timeout).await? {
                Ok(req) => req,
                Err(refusal) => return Ok(refusal),
            };
            match app.oneshot(req).await {
                Ok(response) => Ok(response),
                Err(never) => match never {},
            }
        }
    });
    loopback_listener::serve("API", listener, limits, handler, stop_rx).await;
    sfn.shutdown().await;
    stack.drain(serve.drain_timeout).await;
    drop(stack);
    Ok(ExitCode::SUCCESS)
}
