//! What the stack tests read: `template.yaml` with its CloudFormation tags, the environment
//! variables each function's code reads, and the seed baseline generated from the rule files.
//!
//! The template is parsed with `serde_norway` (the maintained fork of `serde_yaml`), which keeps
//! unknown tags: `!Ref X` is `Value::Tagged { tag: "!Ref", value: "X" }`, so the tests can follow
//! references between resources instead of comparing strings.

pub mod baseline;
pub mod env_reads;

use std::collections::BTreeMap;
use std::path::PathBuf;

pub use serde_norway::{Mapping, Value};

/// The workspace root.
pub fn repo_root() -> PathBuf {
    triage_testkit::repo_root()
}

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
        repo_root().join("template.yaml")
    }

    pub fn load() -> Result<Template, TemplateError> {
        let path = Self::path();
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
        let env = props
            .get("Environment")
            .and_then(|e| e.get("Variables"))
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
                    .collect()
            })
            .unwrap_or_default();
        let events = props
            .get("Events")
            .and_then(Value::as_mapping)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.clone())))
                    .collect()
            })
            .unwrap_or_default();
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
