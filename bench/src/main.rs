//! `triage-bench`: every benchmark of triage (a benchmark, not a test), run by `scripts/bench`.
//!
//! ```sh
//! triage-bench cold-start [--runs 10]      # per function: ready, first invocation, peak RSS
//! triage-bench throughput [MB] [PASSES]    # log-detector's handler vs decoding; peak RSS
//! triage-bench api-calls                   # per scenario: calls per finding, against moto
//! triage-bench digest [ENTRIES] [PER_INVOCATION] [RECEIVERS] [--memory]
//! triage-bench load [RECORDS] [--every 10] [--payload-mb 1] [--samples DIR]
//! triage-bench floor DIR [PASSES]          # base64 + gunzip alone over the payload files in DIR
//! triage-bench table FILE...               # the markdown table of the JSON rows in FILEs
//! ```
//!
//! Each benchmark prints the markdown table of its results, or with `--json` its rows (one JSON
//! object per line, `"bench": <kind>`) for `table` to fold; progress goes to stderr. Every
//! function is built by its crate's `assemble` with the template's settings (`functions`).

mod api_calls;
mod cold_start;
mod digest_calls;
mod functions;
mod load;
mod payloads;
mod rss;
mod runtime_api;
mod stats;
mod table;
mod throughput;
mod wire;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use serde_json::Value;

#[derive(Parser)]
#[command(about = "Benchmarks of the triage functions (see scripts/bench)")]
struct Cli {
    /// Print the JSON rows instead of their table.
    #[arg(long, global = true)]
    json: bool,
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
    /// log-detector's handler on subscription payloads next to decoding alone (in memory), and
    /// the peak RSS of a fresh process handling one 6 MB payload.
    Throughput {
        /// Size of the payloads, in MB.
        #[arg(default_value_t = 1)]
        mb: usize,
        /// Measured passes (after one warm-up); the best is kept.
        #[arg(default_value_t = 15)]
        passes: usize,
        /// Internal: handle the Lambda event in this file once and print the peak RSS.
        #[arg(long, hide = true)]
        rss_child: Option<PathBuf>,
    },
    /// API calls per finding on the ticket path (config-classifier, log-detector) against moto.
    ApiCalls,
    /// API calls per entry of one digest run over a queue of ENTRIES entries, against moto.
    Digest {
        #[arg(default_value_t = 100_000)]
        entries: usize,
        /// Entries per classifier invocation, packed as the digest sink packs them.
        #[arg(default_value_t = 50)]
        per_invocation: usize,
        /// Concurrent receivers of the digest.
        #[arg(default_value_t = 8)]
        receivers: usize,
        /// Against the in-memory queue and topic instead (triage's own cost).
        #[arg(long)]
        memory: bool,
    },
    /// RECORDS CloudTrail records through log-detector (in memory), ~1 MB payloads at a time.
    Load {
        #[arg(default_value_t = 1_000_000)]
        records: usize,
        /// One record in EVERY matches a detection.
        #[arg(long, default_value_t = 10)]
        every: usize,
        #[arg(long, default_value_t = 1)]
        payload_mb: usize,
        /// The `cloudtrail-*.json` samples (default: ../shared/samples, else events/).
        #[arg(long)]
        samples: Option<PathBuf>,
    },
    /// The decompression floor of a corpus: base64 + gunzip alone over every subscription
    /// payload file in DIR (`{"awslogs":{"data":…}}`), best of PASSES passes.
    Floor {
        dir: PathBuf,
        #[arg(default_value_t = 3)]
        passes: usize,
    },
    /// Prints the markdown table of the JSON rows in FILEs ("-" for stdin).
    Table { files: Vec<PathBuf> },
}

fn multi_thread() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
}

fn rows(command: Command) -> Result<Vec<Value>, String> {
    let target = triage_testkit::repo_root().join("target");
    match command {
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
        }),
        Command::Throughput {
            rss_child: Some(path),
            ..
        } => throughput::rss_child(&path).map(|v| vec![v]),
        Command::Throughput { mb, passes, .. } => throughput::run(&throughput::Options {
            mb: mb.max(1),
            passes: passes.max(1),
        }),
        Command::ApiCalls => multi_thread()?.block_on(api_calls::run()),
        Command::Floor { dir, passes } => throughput::floor(&dir, passes.max(1)).map(|v| vec![v]),
        Command::Digest {
            entries,
            per_invocation,
            receivers,
            memory,
        } => multi_thread()?.block_on(digest_calls::run(&digest_calls::Options {
            entries,
            per_invocation: per_invocation.clamp(1, 10_000),
            receivers: receivers.clamp(1, 20),
            memory,
        })),
        Command::Load {
            records,
            every,
            payload_mb,
            samples,
        } => load::run(&load::Options {
            records,
            every: every.max(1),
            payload_mb: payload_mb.max(1),
            samples: samples.unwrap_or_else(load::default_samples),
        }),
        Command::Table { files } => read_all(&files).map(|text| table::rows(&text)),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json
        || matches!(
            cli.command,
            Command::Throughput {
                rss_child: Some(_),
                ..
            }
        );
    match rows(cli.command) {
        Ok(rows) if json => {
            for r in rows {
                println!("{r}");
            }
            ExitCode::SUCCESS
        }
        Ok(rows) => {
            print!("{}", table::render(&rows));
            ExitCode::SUCCESS
        }
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
