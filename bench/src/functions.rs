//! Each function as it ships — its crate's `assemble`, with the settings `template.yaml`'s
//! environment gives it — on the backend a benchmark measures it on: memory, or AWS clients
//! pointed at moto. `stand_ins` stand in for the stack's queues, topics and table.

use std::collections::BTreeMap;

use stack_tests::{function_env, function_vars};
use triage_core::ports::Backend;
use triage_core::settings::env_from_map;

pub type StandIns = BTreeMap<&'static str, String>;

pub fn log_detector_on<B: Backend>(
    backend: &B,
    stand_ins: &StandIns,
) -> Result<log_detector::Handler<B>, String> {
    let settings = log_detector::Settings::from(&function_env("log-detector", stand_ins))
        .map_err(|e| format!("log-detector settings: {e}"))?;
    Ok(log_detector::assemble(settings, backend))
}

pub fn config_classifier_on<B: Backend>(
    backend: &B,
    stand_ins: &StandIns,
) -> Result<config_classifier::Handler<B>, String> {
    let settings = config_classifier::Settings::from(&function_env("config-classifier", stand_ins))
        .map_err(|e| format!("config-classifier settings: {e}"))?;
    Ok(config_classifier::assemble(settings, backend))
}

/// The digest function, with some of the template's variables `changed`.
pub fn digest_on<B: Backend>(
    backend: &B,
    stand_ins: &StandIns,
    changed: &[(&str, String)],
) -> Result<digest::Handler<B>, String> {
    let mut vars = function_vars("digest", stand_ins);
    for (name, value) in changed {
        if vars.insert((*name).to_owned(), value.clone()).is_none() {
            return Err(format!("template.yaml gives digest no {name} to change"));
        }
    }
    let settings =
        digest::Settings::from(&env_from_map(vars)).map_err(|e| format!("digest settings: {e}"))?;
    Ok(digest::assemble(settings, backend))
}
