//! The bodies of `imgpipe`'s commands; [`run`] dispatches a parsed [`Command`].

pub mod detect;
pub mod process;
pub mod sfn;
pub mod thumbnail;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::cli::{default_data_dir, Cli, Command, LogFormat, SfnCommand, StackArgs};
use crate::invoker::FaultPlan;
use crate::stack::{Runner, Stack, StackOptions};

/// Quiet by default for the one-shot commands (their output is the progress bar and the table),
/// and for the libraries everywhere.
const QUIET_DEPENDENCIES: &str = "aws_config=warn,aws_smithy_runtime=warn,tract=warn,s3s=warn";

/// Sets up logging on stderr: `--log-level`/`-v` over the command's default; colour only on a terminal.
pub fn init_logging(cli: &Cli) {
    let default = if matches!(cli.command, Command::Serve { .. }) { "info" } else { "warn" };
    let level = match (cli.log_level.as_deref(), cli.verbose) {
        (Some(level), _) => level.to_string(),
        (None, 0) => default.to_string(),
        (None, 1) => "info".to_string(),
        (None, _) => "debug".to_string(),
    };
    let filter = tracing_subscriber::EnvFilter::try_new(format!("{level},{QUIET_DEPENDENCIES}"))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(format!("{default},{QUIET_DEPENDENCIES}")));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match cli.log_format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

/// Runs a command; the exit code is the command's verdict.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { port, stack, definition, frontend, time_scale } => {
            let mut opts = stack_options(&stack, Runner::Engine)?;
            opts.time_scale = time_scale;
            if let Some(path) = definition {
                opts.definition =
                    Some(std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?);
            }
            serve(port, opts, frontend).await
        }
        Command::Process { paths, json, stack } => {
            process::run(&paths, json, stack_options(&stack, Runner::Engine)?).await
        }
        Command::Show { id, stack } => {
            let stack = Stack::start(stack_options(&stack, Runner::None)?).await?;
            api_get(&stack, &format!("/images/{id}")).await
        }
        Command::Query { label, min_confidence, limit, stack } => {
            let stack = Stack::start(stack_options(&stack, Runner::None)?).await?;
            let path = format!("/images?label={}&minConfidence={min_confidence}&limit={limit}", urlencode(&label));
            api_get(&stack, &path).await
        }
        Command::Thumbnail { files, out, sizes, quality } => thumbnail::run(&files, &out, &sizes, quality),
        Command::Detect { files, model, json, max_labels, min_confidence } => {
            detect::run(&files, model.as_deref(), json, max_labels, min_confidence)
        }
        Command::Sfn {
            command: SfnCommand::Run { definition, input, mock_config, test_case, state_machine, stack, time_scale },
        } => {
            let mut opts = stack_options(&stack, Runner::Tasks)?;
            opts.time_scale = time_scale;
            let args = sfn::RunArgs { definition, input, mock_config, test_case, state_machine };
            sfn::run(args, opts).await
        }
    }
}

/// Stack options for a command's arguments; `IMGPIPE_FAULTS` is read here and nowhere else.
fn stack_options(args: &StackArgs, runner: Runner) -> anyhow::Result<StackOptions> {
    Ok(StackOptions {
        data_dir: args.data.clone().unwrap_or_else(default_data_dir),
        model: args.model.clone(),
        runner,
        definition: None,
        time_scale: 1.0,
        faults: FaultPlan::parse(&std::env::var("IMGPIPE_FAULTS").unwrap_or_default())?,
        allowed_origins: Vec::new(),
    })
}

async fn serve(port: u16, mut opts: StackOptions, frontend: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port} (try --port 0 for any free port)"))?;
    let addr = listener.local_addr()?;
    // The page uploads straight to the S3 endpoint: CORS for the page's own origin and no other.
    opts.allowed_origins = vec![format!("http://{addr}"), format!("http://localhost:{}", addr.port())];
    let data_dir = opts.data_dir.clone();
    let stack = Stack::start(opts).await?;
    let frontend = frontend.unwrap_or_else(|| PathBuf::from(crate::server::DEFAULT_FRONTEND));
    let app = crate::server::app(stack.api_state(), frontend);
    println!("imgpipe is running at http://{addr}/  (data: {}, S3: {})", data_dir.display(), stack.storage.s3.url);
    tracing::info!(url = %format!("http://{addr}/"), "serving");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await
        .context("the HTTP server failed")?;
    Ok(ExitCode::SUCCESS)
}

/// Calls the API router in-process (the same handlers the HTTP server and Lambdas run).
async fn api_get(stack: &Stack, path: &str) -> anyhow::Result<ExitCode> {
    use tower::ServiceExt;
    let app = imgpipe_core::http::router(stack.api_state());
    let req = axum::http::Request::get(path).body(axum::body::Body::empty())?;
    let resp = app.oneshot(req).await?;
    let ok = resp.status().is_success();
    let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20).await?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    if ok {
        println!("{}", serde_json::to_string_pretty(&value)?);
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: {}", value["error"]["message"].as_str().unwrap_or("request failed"));
        Ok(ExitCode::from(1))
    }
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
