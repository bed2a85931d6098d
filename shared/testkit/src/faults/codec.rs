//! What identifies a request for the draw: a hash of its service, operation and canonical body.

use std::net::SocketAddr;

/// Prefixes of strings that are random by design in a request body: the DynamoDB dedup store's
/// per-attempt write tokens (`triage_aws::WRITE_TOKEN_PREFIX`, then 32 hex digits).
pub const RANDOM_TOKEN_PREFIXES: &[&str] = &["wt-"];

/// The key of a request: the same in every run for the same service, operation and body, the
/// `loopback` addresses (moto's and the proxy's, which change from run to run) left out.
pub(super) fn request_key(
    service: &str,
    operation: &str,
    body: &[u8],
    loopback: &[&SocketAddr],
) -> u64 {
    let body = canonical_body(body, loopback);
    fnv1a(&[service.as_bytes(), operation.as_bytes(), &body])
}

/// FNV-1a over byte strings, each terminated so that ("ab","c") and ("a","bc") differ.
pub(super) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.iter().chain(std::iter::once(&0xffu8)) {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    h
}

/// Whether a JSON string is a random token (masked before the fault is drawn).
fn is_random_token(s: &str) -> bool {
    RANDOM_TOKEN_PREFIXES.iter().any(|p| {
        s.strip_prefix(p)
            .is_some_and(|rest| rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_hexdigit()))
    })
}

/// A request body with the keys of every JSON object sorted — the SDK serialises maps (DynamoDB
/// items, expression attributes) in hash order, which differs from process to process — random
/// tokens masked, and the loopback addresses of moto and the proxy (in queue URLs) replaced: the
/// fault drawn for a request must depend on none of them. (An SDK retry resends the same body,
/// token included, so its sightings still count up.)
fn canonical_body(body: &[u8], addresses: &[&SocketAddr]) -> Vec<u8> {
    let mut text = match sorted_json(body) {
        Some(json) => json,
        None => String::from_utf8_lossy(body).into_owned(),
    };
    for addr in addresses {
        for form in [addr.to_string(), addr.to_string().replace(':', "%3A")] {
            text = text.replace(&form, "loopback");
        }
    }
    text.into_bytes()
}

/// A JSON document with the keys of every object sorted; `None` if the body is not JSON.
fn sorted_json(body: &[u8]) -> Option<String> {
    fn write(v: &serde_json::Value, out: &mut String) {
        match v {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.iter().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (k, v)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push_str(&serde_json::Value::String(k.clone()).to_string());
                    out.push(':');
                    write(v, out);
                }
                out.push('}');
            }
            serde_json::Value::Array(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write(v, out);
                }
                out.push(']');
            }
            serde_json::Value::String(s) if is_random_token(s) => out.push_str("\"token\""),
            other => out.push_str(&other.to_string()),
        }
    }
    let v = serde_json::from_slice::<serde_json::Value>(body).ok()?;
    let mut out = String::with_capacity(body.len());
    write(&v, &mut out);
    Some(out)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn requests_are_keyed_whatever_their_key_order_and_the_loopback_ports() {
        let moto: SocketAddr = "127.0.0.1:5123".parse().unwrap();
        let other: SocketAddr = "127.0.0.1:6234".parse().unwrap();
        assert_eq!(
            canonical_body(
                br#"{"b":{"y":1,"x":[{"d":2,"c":3}]},"a":"s","QueueUrl":"http://127.0.0.1:5123/1/q"}"#,
                &[&moto]
            ),
            canonical_body(
                br#"{"QueueUrl":"http://127.0.0.1:6234/1/q","a":"s","b":{"x":[{"c":3,"d":2}],"y":1}}"#,
                &[&other]
            )
        );
        assert_ne!(
            canonical_body(br#"{"a":1}"#, &[]),
            canonical_body(br#"{"a":2}"#, &[])
        );
        assert_eq!(
            canonical_body(
                b"Action=Publish&Url=http%3A%2F%2F127.0.0.1%3A5123%2Fq",
                &[&moto]
            ),
            b"Action=Publish&Url=http%3A%2F%2Floopback%2Fq".to_vec()
        );
        assert_ne!(
            request_key("sqs", "SendMessage", b"{}", &[]),
            request_key("sns", "SendMessage", b"{}", &[])
        );
    }

    #[test]
    fn random_write_tokens_are_masked_and_nothing_else_that_looks_like_one() {
        let token = |hex: &str| format!(r#"{{"Item":{{"write_token":{{"S":"wt-{hex}"}}}}}}"#);
        let a = token("0123456789abcdef0123456789abcdef");
        let b = token("fedcba9876543210fedcba9876543210");
        assert_eq!(
            canonical_body(a.as_bytes(), &[]),
            canonical_body(b.as_bytes(), &[])
        );
        // Not a token: too short, not hex, another prefix.
        for (x, y) in [
            (token("0123"), token("4567")),
            (
                token("0123456789abcdef0123456789abcdeg"),
                token("0123456789abcdef0123456789abcdeh"),
            ),
            (
                r#"{"S":"xt-0123456789abcdef0123456789abcdef"}"#.to_owned(),
                r#"{"S":"xt-fedcba9876543210fedcba9876543210"}"#.to_owned(),
            ),
        ] {
            assert_ne!(
                canonical_body(x.as_bytes(), &[]),
                canonical_body(y.as_bytes(), &[])
            );
        }
    }
}
