//! Helpers shared by the core's integration tests.
#![allow(clippy::expect_used, clippy::unwrap_used)] // test code: a failed expectation is the failure
#![allow(dead_code)]

use std::path::PathBuf;

pub fn repo_path(relative: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
}

pub fn sample(name: &str) -> serde_json::Value {
    let path = repo_path("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}
