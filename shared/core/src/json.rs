//! Small helpers for reading optional fields out of untyped JSON events.

use serde_json::Value;

/// The string at `path` (object keys), if every step exists and the leaf is a string.
pub fn str_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))
        .and_then(Value::as_str)
}

/// A JSON value to read paths from.
#[derive(Debug, Clone, Copy)]
pub struct JsonPath<'a>(pub &'a Value);

impl<'a> JsonPath<'a> {
    pub fn str(self, path: &[&str]) -> Option<&'a str> {
        str_at(self.0, path)
    }

    /// The string `key` under the object at `path`.
    pub fn str_under(self, path: &[&str], key: &str) -> Option<&'a str> {
        path.iter()
            .try_fold(self.0, |v, k| v.get(k))
            .and_then(|v| v.get(key))
            .and_then(Value::as_str)
    }
}
