//! Regenerates the seed baseline section of template.yaml from the rule files.
//!
//!   cargo run -p stack-tests --bin seed-baseline            print the section as it should be
//!   cargo run -p stack-tests --bin seed-baseline -- --write  rewrite it in template.yaml

use std::process::ExitCode;

use stack_tests::{Template, baseline};

fn main() -> ExitCode {
    let write = match std::env::args().nth(1).as_deref() {
        None => false,
        Some("--write") => true,
        Some(other) => {
            eprintln!("seed-baseline: unknown argument {other:?} (only --write)");
            return ExitCode::from(2);
        }
    };
    let section = match baseline::generate() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("seed-baseline: {e}");
            return ExitCode::FAILURE;
        }
    };
    if !write {
        print!("{section}");
        return ExitCode::SUCCESS;
    }
    let path = Template::path();
    let result = std::fs::read_to_string(&path)
        .map_err(|e| e.to_string())
        .and_then(|t| baseline::replace_section(&t, &section).map_err(|e| e.to_string()))
        .and_then(|t| std::fs::write(&path, t).map_err(|e| e.to_string()));
    match result {
        Ok(()) => {
            eprintln!(
                "seed-baseline: rewrote the seed baseline in {}",
                path.display()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("seed-baseline: {}: {e}", path.display());
            ExitCode::FAILURE
        }
    }
}
