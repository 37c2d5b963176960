//! `imgpipe`: the whole image pipeline on one machine, offline. See `imgpipe --help`.

use std::process::ExitCode;

use clap::Parser;
use imgpipe::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    imgpipe::commands::init_logging(&cli);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(1);
        }
    };
    match runtime.block_on(imgpipe::commands::run(cli.command)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}
