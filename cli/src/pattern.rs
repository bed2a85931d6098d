//! `triage pattern …`: test CloudWatch Logs filter patterns offline.
//!
//! A thin shell over [`triage_filter_pattern::tester`], which holds the logic and its tests.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use serde_json::Value;
use triage_filter_pattern::FilterPattern;
use triage_filter_pattern::tester::{self, Summary};

/// Exit status for a pattern AWS would reject.
const EXIT_INVALID_PATTERN: u8 = 2;

#[derive(Debug, clap::Subcommand)]
pub enum PatternCommand {
    /// Test a filter pattern against log messages, offline, like `aws logs test-metric-filter`.
    ///
    /// Each line of the files (or of standard input) is one log message. A file that is one
    /// JSON document instead — a pretty-printed CloudTrail record, an array of records, or a
    /// CloudTrail log file's `{"Records": [...]}` — gives one message per record, as compact
    /// JSON (what CloudTrail delivers to CloudWatch Logs). Prints `MATCH` or `-` with the line
    /// or record number and the message, then how many matched. A pattern that starts
    /// with `-` (an exclusion term) goes after `--`: `triage pattern test -- '-DEBUG' app.log`.
    ///
    /// Exit status: 0 when the messages were tested, 2 for an invalid pattern, 1 when a file
    /// could not be read.
    Test(TestArgs),
}

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    /// The filter pattern, e.g. '{ $.eventName = "ConsoleLogin" }'.
    #[arg(required_unless_present = "jsonl", conflicts_with = "jsonl")]
    pattern: Option<String>,

    /// Files with one log message per line, or one JSON document (default: standard input).
    #[arg(conflicts_with = "jsonl")]
    files: Vec<PathBuf>,

    /// Read `{"pattern": "...", "message": "..."}` lines on standard input and write one line
    /// per input line, in order: `{"match": true}`, `{"match": false}`, or `{"error": "..."}`
    /// for a pattern AWS would reject (or an unreadable line).
    #[arg(long)]
    jsonl: bool,
}

pub fn run(command: PatternCommand) -> ExitCode {
    match command {
        PatternCommand::Test(args) => test(args),
    }
}

fn test(args: TestArgs) -> ExitCode {
    let stdout = io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    if args.jsonl {
        let result = tester::run_jsonl(io::stdin().lock(), &mut out);
        return finish(result.map(|_| ExitCode::SUCCESS), "reading standard input");
    }
    let Some(text) = args.pattern else {
        eprintln!("error: a pattern is required (or --jsonl)");
        return ExitCode::from(EXIT_INVALID_PATTERN);
    };
    let pattern = match FilterPattern::parse(&text) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{}", tester::render_error(&text, &e));
            return ExitCode::from(EXIT_INVALID_PATTERN);
        }
    };
    let mut summary = Summary::default();
    let mut status = ExitCode::SUCCESS;
    if args.files.is_empty() {
        let result = tester::test_lines(&pattern, io::stdin().lock(), None, &mut out, &mut summary);
        if let Err(e) = result {
            return finish(Err(e), "reading standard input");
        }
    } else {
        let label_files = args.files.len() > 1;
        for path in &args.files {
            let shown = path.display().to_string();
            let file = match File::open(path) {
                Ok(f) => f,
                Err(e) => {
                    // Keep the results so far aligned with what was read.
                    let _ = out.flush();
                    eprintln!("error: cannot open {shown}: {e}");
                    status = ExitCode::FAILURE;
                    continue;
                }
            };
            let label = label_files.then_some(shown.as_str());
            let mut text = String::new();
            if let Err(e) = file.take(MAX_FILE_BYTES).read_to_string(&mut text) {
                let _ = out.flush();
                eprintln!("error: cannot read {shown}: {e}");
                status = ExitCode::FAILURE;
                continue;
            }
            let messages = messages(text);
            let result = tester::test_lines(
                &pattern,
                BufReader::new(messages.as_bytes()),
                label,
                &mut out,
                &mut summary,
            );
            if let Err(e) = result {
                return finish(Err(e), &format!("reading {shown}"));
            }
        }
    }
    let result = writeln!(out, "{summary}").and_then(|()| out.flush());
    finish(result.map(|()| status), "writing the results")
}

/// Largest file read.
const MAX_FILE_BYTES: u64 = 64 * 1024 * 1024;

/// The log messages of a file, one per line: the records of a JSON document (an array, a
/// CloudTrail log file's `Records`, or one record) as compact JSON; any other text as it is,
/// one message per line.
fn messages(text: String) -> String {
    let document = text
        .trim_start()
        .starts_with(['{', '['])
        .then(|| serde_json::from_str::<Value>(&text).ok())
        .flatten();
    let records = match document {
        Some(Value::Array(items)) => items,
        Some(Value::Object(mut object)) => match object.remove("Records") {
            Some(Value::Array(items)) => items,
            Some(other) => {
                object.insert("Records".into(), other);
                vec![Value::Object(object)]
            }
            None => vec![Value::Object(object)],
        },
        _ => return text,
    };
    records
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
}

/// Maps an I/O failure to exit status 1 with a message — except a closed output pipe
/// (`… | head`), which is a normal way to stop reading.
fn finish(result: io::Result<ExitCode>, doing: &str) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {doing}: {e}");
            ExitCode::FAILURE
        }
    }
}
