//! `triage pattern …`: test CloudWatch Logs filter patterns offline.
//!
//! A thin shell over [`triage_filter_pattern::tester`], which holds the logic and its tests.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use triage_filter_pattern::FilterPattern;
use triage_filter_pattern::tester::{self, Summary};

/// Exit status for a pattern AWS would reject.
const EXIT_INVALID_PATTERN: u8 = 2;

#[derive(Debug, clap::Subcommand)]
pub enum PatternCommand {
    /// Test a filter pattern against log messages, offline, like `aws logs test-metric-filter`.
    ///
    /// Each line of the files (or of standard input) is one log message. Prints `MATCH` or `-`
    /// with the line number and the message, then how many matched. A pattern that starts
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

    /// Files with one log message per line (default: standard input).
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
            let result = tester::test_lines(
                &pattern,
                BufReader::new(file),
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
