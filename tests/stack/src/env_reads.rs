//! Which environment variables a function's code reads, found in its source.
//!
//! Settings are read once, at cold start, by the function's typed settings
//! (`functions/<name>/src/settings.rs`, STYLE.md: one `Config::from_env`, names SCREAMING_SNAKE),
//! always with the name as a string literal, through `triage_core::settings::Env` or small
//! helpers around it. So the names a function reads are the SCREAMING_SNAKE literals (with at
//! least one `_`) in the non-test code of its `settings.rs`; plus the literals passed to
//! `Env` accessors or `std::env::var` anywhere else in its sources; plus — followed
//! transitively — those of every shared type the function builds with `Type::from_env(…)`
//! (`RoutingSettings`, `DedupSettings`, …), found in the shared crates' sources. A read hidden behind a computed name would escape this; the
//! project does not read settings that way, and a test that parses the real sources stays
//! honest when a colleague adds a setting, which a hand-kept list would not.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use regex::Regex;

static READ: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"\b(?:required|optional|bounded|enabled|parsed_or(?:::<[^>()]*>)?|var|var_os)\(\s*"([A-Z][A-Z0-9_]*)""#,
    )
    .unwrap_or_else(|e| panic!("env read regex: {e}"))
});
static NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#""([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)""#)
        .unwrap_or_else(|e| panic!("env name regex: {e}"))
});
static FROM_ENV: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b([A-Z][A-Za-z0-9]*)::from_env\(")
        .unwrap_or_else(|e| panic!("from_env regex: {e}"))
});

/// Variable → the source files that read it (relative to the repository).
pub type Reads = BTreeMap<String, BTreeSet<String>>;

/// The variables read by the function in `functions/<package>/`.
pub fn function_env_reads(repo: &Path, package: &str) -> std::io::Result<Reads> {
    let shared = rust_files(&repo.join("shared"))?;
    let mut reads = Reads::new();
    let mut followed = BTreeSet::new();
    let src = repo.join("functions").join(package).join("src");
    let settings = src.join("settings.rs");
    // (file, whether every SCREAMING_SNAKE literal in it is a setting name)
    let mut queue: Vec<(PathBuf, bool)> = rust_files(&src)?
        .into_iter()
        .map(|f| {
            let all = f == settings;
            (f, all)
        })
        .collect();
    let mut seen_files = BTreeSet::new();
    while let Some((file, all_literals)) = queue.pop() {
        if !seen_files.insert(file.clone()) {
            continue;
        }
        let code = strip_test_code(&std::fs::read_to_string(&file)?);
        let rel = file
            .strip_prefix(repo)
            .unwrap_or(&file)
            .display()
            .to_string();
        let pattern: &Regex = if all_literals { &NAME } else { &READ };
        for c in pattern.captures_iter(&code) {
            reads
                .entry(c[1].to_owned())
                .or_default()
                .insert(rel.clone());
        }
        for c in FROM_ENV.captures_iter(&code) {
            let ty = c[1].to_owned();
            if !followed.insert(ty.clone()) {
                continue;
            }
            let implementation = Regex::new(&format!(r"\bimpl(?:<[^>]*>)?\s+{ty}\b"))
                .unwrap_or_else(|e| panic!("impl regex: {e}"));
            for f in &shared {
                let text = std::fs::read_to_string(f)?;
                if implementation.is_match(&strip_test_code(&text)) {
                    queue.push((f.clone(), true));
                }
            }
        }
    }
    Ok(reads)
}

/// The source without its `#[cfg(test)]` items (test modules and test-only functions).
pub fn strip_test_code(source: &str) -> String {
    let mut out = String::with_capacity(source.len());
    let mut rest = source;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        // The item ends at the brace that closes its first `{`, or at a `;` before any `{`.
        let open = after.find('{');
        let semi = after.find(';');
        let end = match (open, semi) {
            (Some(o), Some(s)) if s < o => s + 1,
            (Some(o), _) => matching_brace(after, o).map_or(after.len(), |c| c + 1),
            (None, Some(s)) => s + 1,
            (None, None) => after.len(),
        };
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

fn matching_brace(text: &str, open: usize) -> Option<usize> {
    let mut depth = 0usize;
    for (i, ch) in text[open..].char_indices() {
        match ch {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    return Some(open + i);
                }
            }
            _ => {}
        }
    }
    None
}

/// Every `.rs` file under `dir` (skipping `target`, `fuzz`, `tests`, `benches`, `examples`),
/// sorted.
pub fn rust_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let path = entry?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if !matches!(name, "target" | "fuzz" | "tests" | "benches" | "examples") {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") {
                out.push(path);
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals_passed_to_env_accessors_are_reads_and_test_modules_are_not() {
        let code = r#"
            let a = env.required("TICKET_QUEUE_URL")?;
            let b = env.parsed_or::<Severity>("ALERT_MIN_SEVERITY", d.alert)?;
            let c = std::env::var("RUST_LOG");
            let not_a_read = "SOME_CONSTANT";
            #[cfg(test)]
            mod tests { fn f() { env.required("ONLY_IN_TESTS"); { } } }
            let d = env.optional("AFTER_TESTS");
        "#;
        let stripped = strip_test_code(code);
        let names: Vec<_> = READ
            .captures_iter(&stripped)
            .map(|c| c[1].to_owned())
            .collect();
        assert_eq!(
            names,
            [
                "TICKET_QUEUE_URL",
                "ALERT_MIN_SEVERITY",
                "RUST_LOG",
                "AFTER_TESTS"
            ]
        );
    }

    #[test]
    fn config_classifier_reads_the_routing_settings_through_routing_settings_from_env() {
        let reads = function_env_reads(&crate::repo_root(), "config-classifier").expect("read");
        for name in [
            "TICKET_QUEUE_URL",
            "DIGEST_QUEUE_URL",
            "ALERT_TOPIC_ARN",
            "ALERT_MIN_SEVERITY",
            "UNKNOWN_CONFIG_RULE_SEVERITY",
        ] {
            assert!(reads.contains_key(name), "{name} not found in {reads:?}");
        }
    }
}
