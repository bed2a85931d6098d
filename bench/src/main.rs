//! `triage-bench`: the harness behind `scripts/bench` (a benchmark, not a test).
//!
//! ```sh
//! triage-bench cold-start [--runs 10]   # JSON row per function: ready, first invocation, peak RSS
//! triage-bench api-calls                # JSON row per scenario: wire-counted calls per finding
//! triage-bench table FILE...            # the markdown table of the JSON rows in FILEs
//! ```
//!
//! Rows go to stdout, one JSON object per line with `"bench": <kind>`; progress goes to stderr.
//! `scripts/bench` builds everything in release mode, collects the rows of every benchmark
//! (these and the examples of log-detector and digest) and prints the table.

mod api_calls;
mod cold_start;
mod runtime_api;
mod stats;
mod table;
mod template_env;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::Value;

#[derive(Parser)]
#[command(about = "Benchmarks of the triage functions (see scripts/bench)")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Cold starts of the release binaries against a minimal Lambda Runtime API and moto.
    ColdStart {
        /// Measured cold starts per function (after one warm-up start).
        #[arg(long, default_value_t = 10)]
        runs: usize,
        /// Directory of the release binaries.
        #[arg(long)]
        bin_dir: Option<PathBuf>,
        /// Directory for the functions' logs (the last start of each).
        #[arg(long)]
        log_dir: Option<PathBuf>,
        /// Only this function (repeatable).
        #[arg(long)]
        only: Vec<String>,
    },
    /// API calls per finding on the ticket path (config-classifier, log-detector) against moto.
    ApiCalls,
    /// Prints the markdown table of the JSON rows in FILEs ("-" for stdin).
    Table { files: Vec<PathBuf> },
}

fn print_rows(rows: &[Value]) {
    for r in rows {
        println!("{r}");
    }
}

fn main() -> ExitCode {
    let target = triage_testkit::repo_root().join("target");
    let result = match Cli::parse().command {
        Command::ColdStart {
            runs,
            bin_dir,
            log_dir,
            only,
        } => cold_start::run(&cold_start::Options {
            runs: runs.max(1),
            bin_dir: bin_dir.unwrap_or_else(|| target.join("release")),
            log_dir: log_dir.unwrap_or_else(|| target.join("bench/logs")),
            only,
        })
        .map(|rows| print_rows(&rows)),
        Command::ApiCalls => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .map_err(|e| e.to_string())
            .and_then(|rt| rt.block_on(api_calls::run()))
            .map(|rows| print_rows(&rows)),
        Command::Table { files } => read_all(&files).map(|text| {
            print!("{}", table::render(&table::rows(&text)));
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("triage-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_all(files: &[PathBuf]) -> Result<String, String> {
    if files.is_empty() || files.iter().any(|f| f.as_os_str() == "-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)
            .map_err(|e| format!("stdin: {e}"))?;
        return Ok(text);
    }
    let mut text = String::new();
    for f in files {
        text.push_str(&std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?);
        text.push('\n');
    }
    Ok(text)
}
