//! The command line (stable: scripts and tests rely on it).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand, ValueEnum};

use crate::invoker::Faults;
use crate::stack::{Stack, StackOptions};

#[derive(Parser)]
#[command(name = "imgpipe", version, about = "Image recognition pipeline: the AWS design, on one machine")]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

/// Options shared by the commands that run the local stack.
#[derive(clap::Args, Clone)]
pub struct StackArgs {
    /// Data directory (objects, table, executions).
    #[arg(long, env = "IMGPIPE_DATA")]
    pub data: Option<PathBuf>,
    /// The model file (default: IMGPIPE_MODEL, then ~/.cache/imgpipe/models/ssd_mobilenet_v2_coco.pb).
    #[arg(long)]
    pub model: Option<PathBuf>,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the whole product locally: page, API, S3, DynamoDB, engine, model. Prints the URL.
    Serve {
        #[arg(long, default_value_t = 8080)]
        port: u16,
        #[command(flatten)]
        stack: StackArgs,
        /// Run this ASL definition instead of the built-in statemachine/pipeline.asl.json.
        #[arg(long)]
        definition: Option<PathBuf>,
        /// Directory of the frontend's static files.
        #[arg(long)]
        frontend: Option<PathBuf>,
        /// Multiply Retry/Wait delays (tests use e.g. 0.01).
        #[arg(long, default_value_t = 1.0, env = "IMGPIPE_TIME_SCALE")]
        time_scale: f64,
    },
    /// Run the pipeline over local files and directories; a row per image.
    Process {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Show one image's record.
    Show {
        id: String,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Images with a label, highest confidence first.
    Query {
        #[arg(long)]
        label: String,
        #[arg(long, default_value_t = 0.0)]
        min_confidence: f32,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// The thumbnail step alone, on local files.
    Thumbnail {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value = "1024,256")]
        sizes: String,
        #[arg(long, default_value_t = 80)]
        quality: u8,
    },
    /// The local model alone, on local files: the labels it finds in each, and how long it took.
    Detect {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The model file (default: IMGPIPE_MODEL, then ~/.cache/imgpipe/models/ssd_mobilenet_v2_coco.pb).
        #[arg(long)]
        model: Option<PathBuf>,
        /// Print a JSON line per file (labels as the DetectLabels step gives them, decodeMs, modelMs).
        #[arg(long)]
        json: bool,
        /// Most labels per image (default: MAX_LABELS, as the pipeline).
        #[arg(long)]
        max_labels: Option<usize>,
        /// Lowest confidence kept, 0-100 (default: MIN_CONFIDENCE, as the pipeline).
        #[arg(long)]
        min_confidence: Option<f32>,
    },
    /// Step Functions tools.
    Sfn {
        #[command(subcommand)]
        command: SfnCommand,
    },
}

#[derive(Subcommand)]
pub enum SfnCommand {
    /// Run any ASL definition; prints the output JSON. Exit 0 SUCCEEDED, 1 FAILED, 2 bad definition.
    Run {
        #[arg(long)]
        definition: PathBuf,
        /// The execution input: JSON text, or @FILE.
        #[arg(long, default_value = "{}")]
        input: String,
        /// AWS Step Functions Local mock config file.
        #[arg(long, requires = "test_case")]
        mock_config: Option<PathBuf>,
        #[arg(long, requires = "mock_config")]
        test_case: Option<String>,
        /// State machine name in the mock config (default: the definition file's stem).
        #[arg(long)]
        state_machine: Option<String>,
        #[command(flatten)]
        stack: StackArgs,
        #[arg(long, default_value_t = 1.0, env = "IMGPIPE_TIME_SCALE")]
        time_scale: f64,
    },
}

/// The default data directory: `$XDG_DATA_HOME/imgpipe` or `~/.local/share/imgpipe`.
pub fn default_data_dir() -> PathBuf {
    if let Some(x) = std::env::var_os("XDG_DATA_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("imgpipe");
    }
    match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        Some(h) => PathBuf::from(h).join(".local/share/imgpipe"),
        None => PathBuf::from(".imgpipe"),
    }
}

impl StackArgs {
    /// Stack options for these arguments.
    pub fn options(&self, with_engine: bool) -> anyhow::Result<StackOptions> {
        let faults = Faults::parse(&std::env::var("IMGPIPE_FAULTS").unwrap_or_default())?;
        Ok(StackOptions {
            data_dir: self.data.clone().unwrap_or_else(default_data_dir),
            model: self.model.clone(),
            with_engine,
            definition: None,
            time_scale: 1.0,
            faults,
            allowed_origins: vec!["*".into()],
        })
    }
}

/// Runs a command; the exit code is the command's verdict.
pub async fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { port, stack, definition, frontend, time_scale } => {
            let mut opts = stack.options(true)?;
            opts.time_scale = time_scale;
            if let Some(path) = definition {
                opts.definition =
                    Some(std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?);
            }
            serve(port, opts, frontend).await
        }
        Command::Process { paths, json, stack } => crate::process::run(&paths, json, stack.options(true)?).await,
        Command::Show { id, stack } => {
            let stack = Stack::start(stack.options(false)?).await?;
            api_get(&stack, &format!("/images/{id}")).await
        }
        Command::Query { label, min_confidence, limit, stack } => {
            let stack = Stack::start(stack.options(false)?).await?;
            let path = format!("/images?label={}&minConfidence={min_confidence}&limit={limit}", urlencode(&label));
            api_get(&stack, &path).await
        }
        Command::Thumbnail { files, out, sizes, quality } => crate::thumbnail::run(&files, &out, &sizes, quality),
        Command::Detect { files, model, json, max_labels, min_confidence } => {
            crate::detect::run(&files, model.as_deref(), json, max_labels, min_confidence)
        }
        Command::Sfn {
            command: SfnCommand::Run { definition, input, mock_config, test_case, state_machine, stack, time_scale },
        } => {
            crate::sfn::run(crate::sfn::RunArgs {
                definition,
                input,
                mock_config,
                test_case,
                state_machine,
                stack,
                time_scale,
            })
            .await
        }
    }
}

async fn serve(port: u16, opts: StackOptions, frontend: Option<PathBuf>) -> anyhow::Result<ExitCode> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| format!("cannot listen on 127.0.0.1:{port} (try --port 0 for any free port)"))?;
    let addr = listener.local_addr()?;
    let data_dir = opts.data_dir.clone();
    let stack = Stack::start(opts).await?;
    let frontend = frontend.unwrap_or_else(|| PathBuf::from(crate::server::DEFAULT_FRONTEND));
    let app = crate::server::app(stack.api_state(), frontend);
    println!("imgpipe is running at http://{addr}/  (data: {}, S3: {})", data_dir.display(), stack.s3.url);
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
