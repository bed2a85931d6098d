//! `template.yaml` as data: parsed with `serde_norway` (the maintained fork of `serde_yaml`),
//! which keeps CloudFormation's tags — `!Ref X` is `Value::Tagged { tag: "!Ref", value: "X" }` —
//! so callers follow references between resources instead of comparing strings. The stack tests
//! check the template with it, and everything that builds a function outside Lambda (tests,
//! fault scenarios, bench, `triage replay`) reads the function's environment from it.

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use serde_norway::{Mapping, Value};

/// `template.yaml`, parsed, tags kept.
pub struct Template {
    pub root: Value,
}

#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is not YAML: {source}")]
    Yaml {
        path: String,
        source: serde_norway::Error,
    },
}

impl Template {
    pub fn path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../template.yaml")
    }

    /// The template this binary was built with.
    pub fn shipped() -> Result<Template, serde_norway::Error> {
        Self::parse(include_str!("../../../template.yaml"))
    }

    /// `org/member.yaml`: the template organization members deploy (a StackSet).
    pub fn member_path() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../org/member.yaml")
    }

    pub fn load_member() -> Result<Template, TemplateError> {
        Self::load_path(Self::member_path())
    }

    pub fn load() -> Result<Template, TemplateError> {
        Self::load_path(Self::path())
    }

    fn load_path(path: PathBuf) -> Result<Template, TemplateError> {
        let text = std::fs::read_to_string(&path).map_err(|source| TemplateError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text).map_err(|source| TemplateError::Yaml {
            path: path.display().to_string(),
            source,
        })
    }

    pub fn parse(text: &str) -> Result<Template, serde_norway::Error> {
        Ok(Template {
            root: serde_norway::from_str(text)?,
        })
    }

    /// Every resource, in template order: `(logical id, resource)`.
    pub fn resources(&self) -> Vec<(&str, &Value)> {
        self.root
            .get("Resources")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str()?, v)))
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn resource(&self, logical_id: &str) -> Option<&Value> {
        self.root.get("Resources")?.get(logical_id)
    }

    /// Resources of one type.
    pub fn resources_of(&self, kind: &str) -> Vec<(&str, &Value)> {
        self.resources()
            .into_iter()
            .filter(|(_, r)| r.get("Type").and_then(Value::as_str) == Some(kind))
            .collect()
    }

    pub fn parameter_default(&self, name: &str) -> Option<&Value> {
        self.root.get("Parameters")?.get(name)?.get("Default")
    }

    /// The function the template builds from the Cargo binary `binary`.
    pub fn function(&self, binary: &str) -> Result<Function, String> {
        self.functions()
            .into_iter()
            .find(|f| f.binary.as_deref() == Some(binary))
            .ok_or_else(|| format!("template.yaml deploys no function with Binary {binary}"))
    }

    /// The environment the template gives the function built from `binary`, resolved: literal
    /// values as they are, a `!Ref` to a resource by its stand-in (`stand_ins`, by logical id),
    /// a `!Ref` to a parameter by the parameter's default.
    pub fn function_env(
        &self,
        binary: &str,
        stand_ins: &BTreeMap<&str, String>,
    ) -> Result<BTreeMap<String, String>, String> {
        resolve_env(self, &self.function(binary)?, stand_ins)
    }

    /// The `AWS::Serverless::Function`s, with what the tests need of each.
    pub fn functions(&self) -> Vec<Function> {
        let globals = self.root.get("Globals").and_then(|g| g.get("Function"));
        self.resources_of("AWS::Serverless::Function")
            .into_iter()
            .map(|(id, r)| Function::from_resource(id, r, globals))
            .collect()
    }
}

/// A function of the template.
#[derive(Debug, Clone)]
pub struct Function {
    pub logical_id: String,
    /// `Metadata.BuildProperties.Binary`: the Cargo binary (= package) name.
    pub binary: Option<String>,
    pub timeout: Option<u64>,
    pub env: BTreeMap<String, Value>,
    /// `Events`: name → event source.
    pub events: BTreeMap<String, Value>,
    pub properties: Value,
}

impl Function {
    fn from_resource(id: &str, r: &Value, globals: Option<&Value>) -> Function {
        let props = r.get("Properties").cloned().unwrap_or(Value::Null);
        let prop = |name: &str| {
            props
                .get(name)
                .or_else(|| globals.and_then(|g| g.get(name)))
        };
        let by_name = |v: Option<&Value>| -> BTreeMap<String, Value> {
            v.and_then(Value::as_mapping)
                .map(|m| {
                    m.iter()
                        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
                        .collect()
                })
                .unwrap_or_default()
        };
        let env = by_name(props.get("Environment").and_then(|e| e.get("Variables")));
        let events = by_name(props.get("Events"));
        Function {
            logical_id: id.to_owned(),
            binary: r
                .get("Metadata")
                .and_then(|m| m.get("BuildProperties"))
                .and_then(|b| b.get("Binary"))
                .and_then(Value::as_str)
                .map(str::to_owned),
            timeout: prop("Timeout").and_then(Value::as_u64),
            env,
            events,
            properties: props,
        }
    }

    /// The EventBridge rule patterns of this function's `EventBridgeRule` events, as JSON.
    pub fn eventbridge_patterns(&self) -> Vec<(String, serde_json::Value)> {
        self.events
            .iter()
            .filter(|(_, e)| e.get("Type").and_then(Value::as_str) == Some("EventBridgeRule"))
            .filter_map(|(name, e)| {
                let pattern = e.get("Properties")?.get("Pattern")?;
                Some((name.clone(), yaml_to_json(pattern)))
            })
            .collect()
    }

    /// Event source types (`EventBridgeRule`, `Schedule`, `CloudWatchLogs`, …).
    pub fn event_types(&self) -> Vec<String> {
        self.events
            .values()
            .filter_map(|e| e.get("Type").and_then(Value::as_str).map(str::to_owned))
            .collect()
    }
}

/// A CloudFormation intrinsic: `(tag, argument)` for `!Ref X`, `!GetAtt A.B`, `!Sub "…"`, and
/// for the long forms `{Ref: X}`, `{"Fn::GetAtt": …}`.
pub fn intrinsic(v: &Value) -> Option<(String, &Value)> {
    match v {
        Value::Tagged(t) => Some((
            t.tag.to_string().trim_start_matches('!').to_owned(),
            &t.value,
        )),
        Value::Mapping(m) if m.len() == 1 => {
            let (k, arg) = m.iter().next()?;
            let k = k.as_str()?;
            if k == "Ref" {
                Some(("Ref".into(), arg))
            } else {
                k.strip_prefix("Fn::").map(|f| (f.to_owned(), arg))
            }
        }
        _ => None,
    }
}

/// The logical id a `!Ref X` / `!GetAtt X.Attr` names.
pub fn referenced_resource(v: &Value) -> Option<String> {
    let (tag, arg) = intrinsic(v)?;
    match tag.as_str() {
        "Ref" => arg.as_str().map(str::to_owned),
        "GetAtt" => match arg {
            Value::String(s) => s.split('.').next().map(str::to_owned),
            Value::Sequence(parts) => parts.first().and_then(Value::as_str).map(str::to_owned),
            _ => None,
        },
        _ => None,
    }
}

/// Plain YAML → JSON (tags dropped to their value): for EventBridge patterns.
pub fn yaml_to_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Number(n) => n
            .as_i64()
            .map(serde_json::Value::from)
            .or_else(|| n.as_f64().map(serde_json::Value::from))
            .unwrap_or(serde_json::Value::Null),
        Value::String(s) => serde_json::Value::String(s.clone()),
        Value::Sequence(items) => items.iter().map(yaml_to_json).collect(),
        Value::Mapping(m) => m
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), yaml_to_json(v))))
            .collect::<serde_json::Map<_, _>>()
            .into(),
        Value::Tagged(t) => yaml_to_json(&t.value),
    }
}

/// Stand-ins for every resource a function's environment names, for a backend that ignores
/// them (the in-memory one of the tests and `triage replay`).
pub fn memory_stand_ins() -> BTreeMap<&'static str, String> {
    [
        ("TicketQueue", "memory://ticket-queue.fifo"),
        ("DigestQueue", "memory://digest-queue"),
        ("AlertTopic", "memory://alert-topic"),
        ("DigestTopic", "memory://digest-topic"),
        ("DedupTable", "memory-dedup-table"),
        ("TriageEventBus", "memory-event-bus"),
        ("TicketLinksTable", "memory-ticket-links"),
    ]
    .into_iter()
    .map(|(id, name)| (id, name.to_owned()))
    .collect()
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
                    "{name} = !Ref {id}: no local stand-in for it (give it a stand-in)"
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

    /// The template's logical ids that have a local stand-in (what the tests and `triage replay` stand in).
    const STAND_INS: [&str; 7] = [
        "TicketQueue",
        "DigestQueue",
        "AlertTopic",
        "DigestTopic",
        "DedupTable",
        "TriageEventBus",
        "TicketLinksTable",
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
        let env = t.function_env("log-detector", &stand_ins()).unwrap();
        assert_eq!(env["TICKET_QUEUE_URL"], "local-TicketQueue");
        assert_eq!(env["DEDUP_TABLE_NAME"], "local-DedupTable");
        assert!(t.function("no-such-binary").is_err());
        let shipped = Template::shipped().unwrap();
        assert_eq!(shipped.functions().len(), t.functions().len());
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
