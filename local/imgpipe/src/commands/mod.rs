//! The bodies of `imgpipe`'s commands; [`run`] dispatches a parsed [`Command`].

pub mod detect;
pub mod env;
pub mod process;
pub mod reprocess;
pub mod serve;
pub mod sfn;
pub mod thumbnail;
pub mod users;

use std::io::IsTerminal;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use crate::accounts;
use crate::cli::{default_data_dir, Cli, Command, LogFormat, SfnCommand, StackArgs};
use crate::invoker::FaultPlan;
use crate::stack::{Runner, Stack, StackOptions};
use crate::storage::{DependencyFaults, Ports};

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
        Command::Serve {
            port,
            s3_port,
            dynamodb_port,
            sfn_port,
            stack,
            definition,
            frontend,
            time_scale,
            header_read_timeout,
            body_read_timeout,
            drain_timeout,
        } => {
            let mut opts = stack_options(&stack, Runner::Engine)?;
            opts.time_scale = time_scale;
            opts.ports = Ports::resolve(port, s3_port, dynamodb_port, sfn_port)?;
            if let Some(path) = definition {
                opts.definition =
                    Some(std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?);
            }
            let header_read_timeout = Duration::from_secs_f64(header_read_timeout);
            let body_read_timeout = Duration::from_secs_f64(body_read_timeout);
            let drain_timeout = Duration::from_secs_f64(drain_timeout);
            let serve = serve::ServeOptions { frontend, header_read_timeout, body_read_timeout, drain_timeout };
            serve::run(serve, opts).await
        }
        Command::Process { paths, json, user, stack } => {
            let opts = stack_options(&stack, Runner::Engine)?;
            let claims = accounts::acting_claims(&accounts::open(&opts.data_dir)?, user.user.as_deref())?;
            process::run(&paths, json, claims, opts).await
        }
        Command::Show { id, user, stack } => {
            let opts = stack_options(&stack, Runner::None)?;
            let claims = accounts::acting_claims(&accounts::open(&opts.data_dir)?, user.user.as_deref())?;
            let stack = Stack::start(opts).await?;
            api_get(&stack, &claims, &format!("/images/{}", urlencode(&id)), &format!("image {id:?}: ")).await
        }
        Command::Query { label, min_confidence, limit, user, stack } => {
            let opts = stack_options(&stack, Runner::None)?;
            let claims = accounts::acting_claims(&accounts::open(&opts.data_dir)?, user.user.as_deref())?;
            let stack = Stack::start(opts).await?;
            let path = format!("/images?label={}&minConfidence={min_confidence}&limit={limit}", urlencode(&label));
            api_get(&stack, &claims, &path, "").await
        }
        Command::Reprocess { prefix, status, stale_model, json, stack } => {
            let opts = stack_options(&stack, Runner::Engine)?;
            reprocess::run(reprocess::ReprocessArgs { prefix, status, stale_model, json }, opts).await
        }
        Command::Env { data } => env::run(&data.unwrap_or_else(default_data_dir)),
        Command::Users { command, data } => users::run(command, &data.unwrap_or_else(default_data_dir)).await,
        Command::Thumbnail { files, out, sizes, quality } => thumbnail::run(&files, &out, &sizes, quality),
        Command::Detect { files, model, custom, json, max_labels, min_confidence } => {
            let custom = custom.model().map_err(anyhow::Error::msg)?;
            detect::run(&files, model.as_deref(), custom, json, max_labels, min_confidence)
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
        custom_model: args.custom.model().map_err(anyhow::Error::msg)?,
        runner,
        definition: None,
        time_scale: 1.0,
        faults: FaultPlan::parse(&std::env::var("IMGPIPE_FAULTS").unwrap_or_default())?,
        dependency_faults: DependencyFaults::from_env()?,
        allowed_origins: Vec::new(),
        max_running_tasks: args.max_tasks.map(usize::from).unwrap_or_else(default_max_tasks),
        ports: Ports::ANY,
        on_task_done: None,
    })
}

/// One running step per CPU core: the steps are CPU-bound, so more only costs memory.
fn default_max_tasks() -> usize {
    std::thread::available_parallelism().map_or(2, std::num::NonZeroUsize::get)
}

/// Calls the API router in-process as the user of `claims` (the same handlers the HTTP server
/// and Lambdas run, with the claims the authorizer would have verified).
/// An error answer is printed on stderr after `context` (e.g. which image).
async fn api_get(stack: &Stack, claims: &auth::JwtClaims, path: &str, context: &str) -> anyhow::Result<ExitCode> {
    let req = axum::http::Request::get(path).body(axum::body::Body::empty())?;
    let resp = call_api(stack, claims, req).await?;
    let ok = resp.status().is_success();
    let bytes = axum::body::to_bytes(resp.into_body(), 16 << 20).await?;
    let value: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    if ok {
        println!("{}", serde_json::to_string_pretty(&value)?);
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!("error: {context}{}", value["error"]["message"].as_str().unwrap_or("request failed"));
        Ok(ExitCode::from(1))
    }
}

/// One request to the API router in-process, as the user of `claims`.
pub async fn call_api(
    stack: &Stack,
    claims: &auth::JwtClaims,
    mut req: axum::http::Request<axum::body::Body>,
) -> anyhow::Result<axum::response::Response> {
    use tower::ServiceExt;
    imgpipe_core::http::auth::attach_jwt_claims(&mut req, claims.claims.clone(), claims.scopes.clone());
    let app = imgpipe_core::http::router(stack.api_state());
    Ok(app.oneshot(req).await?)
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
