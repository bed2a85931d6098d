//! The environment `template.yaml` gives a function, with every `!Ref` to a queue, topic or
//! table replaced by its local (moto) stand-in and every `!Ref` to a parameter by its default —
//! the approach of `tests/stack/tests/local_invoke.rs`, per function instead of merged.

use std::collections::BTreeMap;

use stack_tests::{Function, Template, Value, intrinsic};

/// The function the template builds from the Cargo binary `binary`.
pub fn function(t: &Template, binary: &str) -> Result<Function, String> {
    t.functions()
        .into_iter()
        .find(|f| f.binary.as_deref() == Some(binary))
        .ok_or_else(|| format!("template.yaml deploys no function with Binary {binary}"))
}

/// `MemorySize` of the function (or `Globals.Function`), in MB.
pub fn memory_mb(t: &Template, f: &Function) -> u64 {
    f.properties
        .get("MemorySize")
        .or_else(|| t.root.get("Globals")?.get("Function")?.get("MemorySize"))
        .and_then(Value::as_u64)
        .unwrap_or(128)
}

/// Every variable of the function's `Environment.Variables`, resolved.
pub fn resolve_env(
    t: &Template,
    f: &Function,
    stand_ins: &BTreeMap<&str, String>,
) -> Result<BTreeMap<String, String>, String> {
    f.env
        .iter()
        .map(|(name, v)| Ok((name.clone(), resolve(t, name, v, stand_ins)?)))
        .collect()
}

fn resolve(
    t: &Template,
    name: &str,
    v: &Value,
    stand_ins: &BTreeMap<&str, String>,
) -> Result<String, String> {
    match v {
        Value::String(s) => return Ok(s.clone()),
        Value::Number(n) => return Ok(n.to_string()),
        Value::Bool(b) => return Ok(b.to_string()),
        _ => {}
    }
    match intrinsic(v) {
        Some((tag, arg)) if tag == "Ref" => {
            let id = arg.as_str().unwrap_or_default();
            if let Some(local) = stand_ins.get(id) {
                return Ok(local.clone());
            }
            match t.parameter_default(id) {
                Some(d) => resolve(t, name, d, stand_ins),
                None => Err(format!(
                    "{name} = !Ref {id}: no local stand-in for it (add one in bench/src/template_env.rs)"
                )),
            }
        }
        _ => Err(format!("{name}: cannot resolve {v:?} locally")),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::expect_used, clippy::unwrap_used)]

    use super::*;

    /// The template's logical ids that have a local stand-in (see cold_start.rs).
    const STAND_INS: [&str; 5] = [
        "TicketQueue",
        "DigestQueue",
        "AlertTopic",
        "DigestTopic",
        "DedupTable",
    ];

    fn stand_ins() -> BTreeMap<&'static str, String> {
        STAND_INS
            .iter()
            .map(|id| (*id, format!("local-{id}")))
            .collect()
    }

    #[test]
    fn every_deployed_function_resolves_with_the_local_stand_ins() {
        let t = Template::load().unwrap();
        for f in t.functions() {
            let env = resolve_env(&t, &f, &stand_ins())
                .unwrap_or_else(|e| panic!("{}: {e}", f.logical_id));
            assert!(!env.is_empty(), "{}", f.logical_id);
            assert!(memory_mb(&t, &f) >= 128, "{}", f.logical_id);
        }
        let ld = function(&t, "log-detector").unwrap();
        let env = resolve_env(&t, &ld, &stand_ins()).unwrap();
        assert_eq!(env["TICKET_QUEUE_URL"], "local-TicketQueue");
        assert_eq!(env["DEDUP_TABLE_NAME"], "local-DedupTable");
        assert!(function(&t, "no-such-binary").is_err());
    }

    #[test]
    fn a_ref_without_stand_in_or_default_is_named() {
        let t = Template::parse(
            "Resources:\n  F:\n    Type: AWS::Serverless::Function\n    Properties:\n      Environment:\n        Variables:\n          X: !Ref Elsewhere\n",
        )
        .unwrap();
        let f = &t.functions()[0];
        let err = resolve_env(&t, f, &stand_ins()).unwrap_err();
        assert!(err.contains("Elsewhere"), "{err}");
    }
}
