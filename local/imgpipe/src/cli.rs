//! The command line's arguments (stable: scripts and tests rely on them). The commands
//! themselves are in [`crate::commands`].

use std::path::PathBuf;

use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "imgpipe", version, about = "Image recognition pipeline: the AWS design, on one machine")]
pub struct Cli {
    /// Log format on stderr.
    #[arg(long, value_enum, default_value = "text", global = true)]
    pub log_format: LogFormat,
    /// Log level on stderr (error, warn, info, debug, trace, or a tracing filter); default: info
    /// for `serve`, warn for the one-shot commands.
    #[arg(long, global = true, env = "IMGPIPE_LOG")]
    pub log_level: Option<String>,
    /// More log output: -v for info, -vv for debug.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
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
    /// Pipeline steps that run at once (decoding a large photo takes hundreds of MB); the rest
    /// queue. Default: the number of CPU cores.
    #[arg(long, env = "IMGPIPE_MAX_TASKS", value_parser = clap::value_parser!(u16).range(1..))]
    pub max_tasks: Option<u16>,
    #[command(flatten)]
    pub custom: CustomModelArgs,
}

/// The user's own ONNX model, in the place of Rekognition Custom Labels (docs/labels.md gives
/// its contract). Both or neither.
#[derive(clap::Args, Clone, Default)]
pub struct CustomModelArgs {
    /// Your own ONNX image classifier or detector, run beside the local models.
    #[arg(long, env = "IMGPIPE_CUSTOM_MODEL", value_name = "FILE.onnx")]
    pub custom_model: Option<PathBuf>,
    /// Its labels: one per line, in the model's class order.
    #[arg(long, env = "IMGPIPE_CUSTOM_LABELS", value_name = "FILE.txt")]
    pub custom_labels: Option<PathBuf>,
}

impl CustomModelArgs {
    /// The custom model, if both files are given; one without the other is an error.
    pub fn model(&self) -> Result<Option<vision::CustomModel>, String> {
        match (&self.custom_model, &self.custom_labels) {
            (Some(model), Some(labels)) => {
                Ok(Some(vision::CustomModel { model: model.clone(), labels: labels.clone() }))
            }
            (None, None) => Ok(None),
            (Some(_), None) => {
                Err("--custom-model needs --custom-labels (or IMGPIPE_CUSTOM_LABELS): the model's labels, one per line"
                    .into())
            }
            (None, Some(_)) => {
                Err("--custom-labels needs --custom-model (or IMGPIPE_CUSTOM_MODEL): the ONNX model they belong to"
                    .into())
            }
        }
    }
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the whole product locally: page, API, S3, DynamoDB, engine, model. Prints the URL.
    Serve {
        /// Port of the page and API; 0 puts every endpoint on a free port.
        #[arg(long, default_value_t = crate::storage::DEFAULT_PAGE_PORT, env = "IMGPIPE_PORT")]
        port: u16,
        /// Port of the S3 endpoint (default: --port + 1).
        #[arg(long, env = "IMGPIPE_S3_PORT")]
        s3_port: Option<u16>,
        /// Port of the DynamoDB endpoint (default: --port + 2).
        #[arg(long, env = "IMGPIPE_DYNAMODB_PORT")]
        dynamodb_port: Option<u16>,
        /// Port of the Step Functions endpoint (default: --port + 3).
        #[arg(long, env = "IMGPIPE_SFN_PORT")]
        sfn_port: Option<u16>,
        #[command(flatten)]
        stack: StackArgs,
        /// Run this ASL definition instead of the built-in statemachine/pipeline.asl.json.
        #[arg(long)]
        definition: Option<PathBuf>,
        /// Serve the page from this directory instead of the copy built into the binary (page development).
        #[arg(long)]
        frontend: Option<PathBuf>,
        /// Multiply Retry/Wait delays (tests use e.g. 0.01).
        #[arg(long, default_value_t = 1.0, env = "IMGPIPE_TIME_SCALE")]
        time_scale: f64,
        /// Seconds a connection may take to send a request's headers before it is closed.
        #[arg(long, default_value_t = 10.0, value_parser = parse_seconds)]
        header_read_timeout: f64,
        /// Seconds a request may take to send its body before its connection is dropped.
        #[arg(long, default_value_t = 30.0, value_parser = parse_seconds)]
        body_read_timeout: f64,
        /// On SIGTERM or Ctrl-C, seconds to let running steps finish (the rest continue at the next start).
        #[arg(long, default_value_t = 30.0, value_parser = parse_seconds)]
        drain_timeout: f64,
    },
    /// Run the pipeline over local files and directories as a user; a row per image.
    Process {
        #[arg(required = true)]
        paths: Vec<PathBuf>,
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        user: UserArg,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Show one of a user's images.
    Show {
        id: String,
        #[command(flatten)]
        user: UserArg,
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
        user: UserArg,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Shell `export` lines that point the AWS CLI and SDKs at the local stack:
    /// `eval "$(imgpipe env)"`. The server need not run.
    Env {
        /// Data directory.
        #[arg(long, env = "IMGPIPE_DATA")]
        data: Option<PathBuf>,
    },
    /// The accounts of the local sign-in service (the server need not run).
    Users {
        #[command(subcommand)]
        command: UsersCommand,
        /// Data directory.
        #[arg(long, env = "IMGPIPE_DATA", global = true)]
        data: Option<PathBuf>,
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
        #[command(flatten)]
        custom: CustomModelArgs,
        /// Print a JSON line per file (labels as the DetectLabels step gives them, decodeMs, modelMs
        /// and each model's ms).
        #[arg(long)]
        json: bool,
        /// Most labels per image (default: MAX_LABELS, as the pipeline).
        #[arg(long)]
        max_labels: Option<usize>,
        /// Lowest confidence kept, 0-100 (default: MIN_CONFIDENCE, as the pipeline).
        #[arg(long)]
        min_confidence: Option<f32>,
    },
    /// Run the pipeline again over stored uploads (statemachine/reprocess.asl.json): all of them,
    /// only those with a status, or only those labelled by a model other than the current ones.
    /// Prints how many were re-processed, skipped and failed; exit 1 if any failed.
    Reprocess {
        /// Only keys under this prefix (under uploads/).
        #[arg(long, default_value = "uploads/")]
        prefix: String,
        /// Only uploads whose record has this status.
        #[arg(long, value_parser = ["DONE", "REJECTED", "FAILED"], ignore_case = true)]
        status: Option<String>,
        /// Only DONE uploads labelled by a model other than the current local models.
        #[arg(long)]
        stale_model: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        stack: StackArgs,
    },
    /// Step Functions tools.
    Sfn {
        #[command(subcommand)]
        command: SfnCommand,
    },
}

/// Whose images a command works with.
#[derive(clap::Args, Clone)]
pub struct UserArg {
    /// Act as this user (default: the first user; created on a first run).
    #[arg(long)]
    pub user: Option<String>,
}

#[derive(Subcommand)]
pub enum UsersCommand {
    /// Add a user; the password is asked twice on a terminal, else read from stdin.
    Add {
        name: String,
        /// Read the password from the first line of stdin, without asking.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List the users.
    List {
        /// Print JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Remove a user (their images stay; tokens already issued work until they expire).
    Remove { name: String },
    /// Print an access token for the user (password on stdin), for curl and scripts.
    Token { name: String },
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
        /// State machine name in the mock config (default: the only one in the file, else the
        /// definition file's name without `.asl.json` or `.json`).
        #[arg(long)]
        state_machine: Option<String>,
        #[command(flatten)]
        stack: StackArgs,
        #[arg(long, default_value_t = 1.0, env = "IMGPIPE_TIME_SCALE")]
        time_scale: f64,
    },
}

/// A positive number of seconds, at most a day.
fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.trim().parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs <= 86_400.0 => Ok(secs),
        _ => Err("expected seconds, more than 0 and at most 86400".into()),
    }
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
