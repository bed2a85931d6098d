//! `triage`: the local command line.
//!
//! - `triage replay [--format text|jsonl] PATH...` runs sample events through exactly the
//!   classification and routing code the Lambdas run, with in-memory sinks, and prints what
//!   would go where.
//! - `triage pattern test …` evaluates CloudWatch Logs filter patterns offline.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod pattern;
mod replay;

#[derive(Debug, Parser)]
#[command(
    name = "triage",
    version,
    about = "Replay AWS security events through triage locally; test filter patterns."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run events (files or directories) through triage's classifiers and router with in-memory
    /// sinks, and print the ticket events, digest entries and alerts that would be sent.
    Replay {
        /// Output format: `text` for people, `jsonl` for one JSON object per message.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// Also print the totals of the CloudWatch metrics the functions would have written
        /// (their embedded-metric-format log lines), per metric and dimension.
        #[arg(long)]
        metrics: bool,
        /// Event files (.json, .json.gz) or directories of them.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// CloudWatch Logs filter patterns.
    Pattern {
        #[command(subcommand)]
        command: pattern::PatternCommand,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Jsonl,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Replay {
            format,
            metrics,
            paths,
        } => replay::run(format, metrics, &paths),
        Command::Pattern { command } => pattern::run(command),
    }
}
