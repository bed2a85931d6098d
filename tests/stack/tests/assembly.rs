//! One assembly per function, held by the build and by this test: a function's handler has no
//! public constructor (only its crate's `assemble` builds one), and outside `shared/core` no
//! code builds a router by hand — `triage_core::router::assemble` does, from the function's
//! settings and a backend. So a test, a fault scenario, a benchmark or `triage replay` that
//! wired a function differently from its Lambda would not compile, or would fail here.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure

use std::path::Path;

use stack_tests::repo_root;

/// Every `.rs` file of the workspace outside `target/`, `fuzz/` and `shared/core/`, tests and
/// benchmarks included.
fn sources(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if path.is_dir() {
            let skip = matches!(name, "target" | "fuzz" | ".git" | ".venv" | ".aws-sam")
                || path.ends_with("shared/core");
            if !skip {
                sources(&path, out);
            }
        } else if name.ends_with(".rs") {
            out.push(path);
        }
    }
}

/// Files that build a router by hand, and why that is not a function's wiring.
const HAND_BUILT_ROUTERS: [(&str, &str); 1] = [(
    "shared/aws/tests/dedup_moto.rs",
    "the DynamoDB dedup store's own concurrency test: it counts raw sends in memory, where a FIFO queue would hide a second open",
)];

#[test]
fn no_code_outside_the_core_builds_a_router_or_a_handler_by_hand() {
    let router_new = concat!("Router", "::new(");
    let handler_new = concat!("Handler", "::new(");
    let root = repo_root();
    let mut files = Vec::new();
    sources(&root, &mut files);
    assert!(files.len() > 50, "found the workspace's sources");
    let mut offenders = Vec::new();
    for f in &files {
        let text = std::fs::read_to_string(f).expect("source");
        let rel = f.strip_prefix(&root).unwrap_or(f).display().to_string();
        let allowed = HAND_BUILT_ROUTERS.iter().any(|(file, _)| rel == *file);
        if text.contains(router_new) && !allowed {
            offenders.push(format!("{rel}: Router::new"));
        }
        // A handler's constructor is pub(crate): only the crate's own lib.rs (assemble) calls it.
        let own_lib = rel.starts_with("functions/") && rel.ends_with("src/lib.rs");
        if text.contains(handler_new) && !own_lib {
            offenders.push(format!("{rel}: Handler::new"));
        }
    }
    assert!(
        offenders.is_empty(),
        "build functions with their crate's assemble(settings, backend): {offenders:#?}"
    );
}

#[test]
fn every_function_crate_has_an_assemble_and_a_main_that_only_serves_it() {
    let root = repo_root();
    let mut functions: Vec<String> = std::fs::read_dir(root.join("functions"))
        .expect("functions/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    functions.sort();
    assert_eq!(functions.len(), 6, "{functions:?}");
    for function in &functions {
        let lib = std::fs::read_to_string(root.join(format!("functions/{function}/src/lib.rs")))
            .expect("lib.rs");
        let main = std::fs::read_to_string(root.join(format!("functions/{function}/src/main.rs")))
            .expect("main.rs");
        assert!(
            main.lines().count() <= 20,
            "{function}: main.rs is wiring only"
        );
        if function.ends_with("-consumer") {
            // A ticket-queue consumer routes no finding: it has no backend, and its one
            // constructor reads its credentials and opens its links table through the SDK
            // configuration it is given (the Lambda's, moto's in the tests).
            assert!(
                lib.contains("pub async fn cold_start(\n    settings: Settings,\n    sdk: &aws_config::SdkConfig,"),
                "{function}: one cold_start"
            );
            assert!(
                main.contains("triage_lambda::run(cold_start(settings, &sdk).await?)"),
                "{function}: main.rs serves what cold_start builds"
            );
            continue;
        }
        assert!(
            lib.contains("pub fn assemble<B: Backend>(settings: Settings, backend: &B)"),
            "{function}: one assemble"
        );
        assert!(
            main.contains("triage_lambda::run(assemble(settings, &aws))"),
            "{function}: main.rs serves what assemble builds"
        );
        assert!(!main.contains("recursion_limit"), "{function}");
    }
}
