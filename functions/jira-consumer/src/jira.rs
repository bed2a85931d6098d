//! Jira Cloud's REST API v3, the calls the consumer makes:
//!
//! | what | call |
//! |---|---|
//! | find the open issue of a fingerprint | `POST /rest/api/3/search/jql` with `project = "<KEY>" AND labels = "triage-<fingerprint>" AND statusCategory != Done ORDER BY created DESC` |
//! | create | `POST /rest/api/3/issue` (labels `triage` and `triage-<fingerprint>`, priority, an ADF description, an issue property `triage`) |
//! | comment | `POST /rest/api/3/issue/{key}/comment`; with `JIRA_COUNT_FIELD`, `PUT /rest/api/3/issue/{key}` |
//! | close | `GET /rest/api/3/issue/{key}/transitions`, comment, `POST …/transitions`; with no such transition, `GET /rest/api/3/issue/{key}?fields=status` (already done: nothing to do) |
//!
//! A fingerprint is 32 lowercase hex digits (checked before any call) and the project key is
//! checked at cold start, so neither can change the meaning of the JQL. A 429 (Jira refused the
//! request: waiting `Retry-After` seconds) is retried while the invocation's deadline allows.
//! A 5xx or a connection failure is retried only for the calls that may be repeated (the search,
//! the reads, the count field); a create, a comment or a transition whose outcome is unknown is
//! not sent again: the message fails, and its redelivery finds an issue so created by the search.
//! A create, a comment or a transition is not started with less than one request timeout left.
//! Then, and on any other error, the call fails and the message stays queued.

use std::time::Duration;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use tracing::info;
use triage_consumer::{Deadline, TicketSystem};
use triage_core::text::sanitize;
use triage_core::{Fingerprint, TicketEvent};

use crate::render;
use crate::settings::JiraSettings;

/// The Jira user and API token the consumer acts as (from Secrets Manager).
#[derive(Clone)]
pub struct Credentials {
    pub email: String,
    pub api_token: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    #[error("the Jira credentials secret is not JSON with non-empty \"email\" and \"api_token\"")]
    Malformed,
}

impl Credentials {
    /// From the secret's string: `{"email": "…", "api_token": "…"}`.
    pub fn from_secret(secret: &str) -> Result<Self, CredentialsError> {
        let v: Value = serde_json::from_str(secret).map_err(|_| CredentialsError::Malformed)?;
        let get = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty() && !s.chars().any(char::is_control))
                .map(str::to_owned)
        };
        Ok(Credentials {
            email: get("email").ok_or(CredentialsError::Malformed)?,
            api_token: get("api_token").ok_or(CredentialsError::Malformed)?,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JiraError {
    #[error("{call}: HTTP {status}: {body}")]
    Status {
        call: &'static str,
        status: u16,
        body: String,
    },
    #[error("{call}: still {last} when the invocation's deadline came ({attempts} attempts)")]
    OutOfTime {
        call: &'static str,
        last: String,
        attempts: u32,
    },
    #[error("{call}: unexpected answer: {problem}")]
    Answer { call: &'static str, problem: String },
    #[error("{call}: {problem}")]
    Request { call: &'static str, problem: String },
    #[error("issue {key}: no transition named {transition:?} from its status, and it is not done")]
    NoTransition { key: String, transition: String },
}

/// Retries in one call at most (each also bounded by the deadline).
const MAX_ATTEMPTS: u32 = 6;
/// The wait before the second attempt when Jira names none; doubled each time, up to 8 s.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(8);
/// The longest `Retry-After` honoured (longer: the message is left for a later invocation).
const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);

pub struct Jira {
    http: reqwest::Client,
    settings: JiraSettings,
    /// Marked sensitive: never printed by a request's Debug.
    authorization: reqwest::header::HeaderValue,
}

fn bounded(s: &str) -> String {
    sanitize(s, 300)
}

/// A Jira issue key as Jira writes it (`SEC-42`): checked before it goes into a URL or a log.
fn is_issue_key(key: &str) -> bool {
    key.split_once('-').is_some_and(|(project, number)| {
        !project.is_empty()
            && project.len() <= 255
            && project
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !number.is_empty()
            && number.len() <= 12
            && number.bytes().all(|b| b.is_ascii_digit())
    })
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

impl Jira {
    pub fn new(settings: JiraSettings, credentials: &Credentials) -> Result<Self, JiraError> {
        let http = reqwest::Client::builder()
            .timeout(settings.request_timeout)
            .connect_timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("triage-jira-consumer/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| JiraError::Request {
                call: "client",
                problem: e.to_string(),
            })?;
        let token = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", credentials.email, credentials.api_token));
        let mut authorization = reqwest::header::HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|_| JiraError::Request {
            call: "client",
            problem: "the credentials do not make a header value".into(),
        })?;
        authorization.set_sensitive(true);
        Ok(Jira {
            http,
            settings,
            authorization,
        })
    }

    /// One call, retried on 429, 5xx and connection failures while the deadline allows. The
    /// answer's JSON (`Null` for an empty body).
    async fn call(
        &self,
        name: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
        deadline: Deadline,
    ) -> Result<Value, JiraError> {
        let repeatable = matches!(name, "search" | "transitions" | "status" | "count");
        let url = format!("{}{path}", self.settings.base_url);
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 0;
        loop {
            if !repeatable && !deadline.allows(self.settings.request_timeout) {
                // Its answer could not be awaited: an unanswered create would be created again.
                return Err(JiraError::OutOfTime {
                    call: name,
                    last: "less than one request timeout left".into(),
                    attempts,
                });
            }
            attempts += 1;
            let mut request = self
                .http
                .request(method.clone(), &url)
                .header(reqwest::header::AUTHORIZATION, self.authorization.clone())
                .header(reqwest::header::ACCEPT, "application/json")
                .timeout(self.settings.request_timeout.min(deadline.remaining()));
            if let Some(body) = body {
                request = request.json(body);
            }
            let (last, wait) = match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    if status.is_success() {
                        let bytes = response.bytes().await.map_err(|e| JiraError::Request {
                            call: name,
                            problem: bounded(&e.to_string()),
                        })?;
                        if bytes.is_empty() {
                            return Ok(Value::Null);
                        }
                        return serde_json::from_slice(&bytes).map_err(|e| JiraError::Answer {
                            call: name,
                            problem: bounded(&e.to_string()),
                        });
                    }
                    if status == StatusCode::TOO_MANY_REQUESTS
                        || (status.is_server_error() && repeatable)
                    {
                        let wait = retry_after(&response).unwrap_or(backoff);
                        (format!("HTTP {}", status.as_u16()), wait)
                    } else {
                        let body = response.text().await.unwrap_or_default();
                        return Err(JiraError::Status {
                            call: name,
                            status: status.as_u16(),
                            body: bounded(&body),
                        });
                    }
                }
                Err(e) if repeatable => (bounded(&format!("unreachable ({e})")), backoff),
                Err(e) => {
                    return Err(JiraError::Request {
                        call: name,
                        problem: bounded(&format!(
                            "no answer, outcome unknown: not sent again ({e})"
                        )),
                    });
                }
            };
            if attempts >= MAX_ATTEMPTS || wait > MAX_RETRY_AFTER || !deadline.allows(wait) {
                return Err(JiraError::OutOfTime {
                    call: name,
                    last,
                    attempts,
                });
            }
            info!(call = name, last = %last, wait_ms = wait.as_millis() as u64, "Jira retry");
            tokio::time::sleep(wait).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn label(fingerprint: &Fingerprint) -> String {
        format!("triage-{fingerprint}")
    }

    fn key_of(call: &'static str, v: &Value) -> Result<String, JiraError> {
        v.get("key")
            .and_then(Value::as_str)
            .filter(|k| is_issue_key(k))
            .map(str::to_owned)
            .ok_or_else(|| JiraError::Answer {
                call,
                problem: "no issue key".into(),
            })
    }

    fn checked(key: &str) -> Result<&str, JiraError> {
        if is_issue_key(key) {
            Ok(key)
        } else {
            Err(JiraError::Answer {
                call: "link",
                problem: format!("{:?} is not an issue key", bounded(key)),
            })
        }
    }

    async fn add_comment(
        &self,
        key: &str,
        body: Value,
        deadline: Deadline,
    ) -> Result<(), JiraError> {
        self.call(
            "comment",
            Method::POST,
            &format!("/rest/api/3/issue/{key}/comment"),
            Some(&json!({ "body": body })),
            deadline,
        )
        .await
        .map(drop)
    }
}

impl TicketSystem for Jira {
    type Error = JiraError;
    const NAME: &'static str = "jira";

    async fn find_open(
        &self,
        fingerprint: &Fingerprint,
        deadline: Deadline,
    ) -> Result<Option<String>, JiraError> {
        let jql = format!(
            "project = \"{}\" AND labels = \"{}\" AND statusCategory != Done ORDER BY created DESC",
            self.settings.project_key,
            Self::label(fingerprint)
        );
        let found = self
            .call(
                "search",
                Method::POST,
                "/rest/api/3/search/jql",
                Some(&json!({"jql": jql, "maxResults": 1, "fields": ["status"]})),
                deadline,
            )
            .await?;
        let issues = found
            .get("issues")
            .and_then(Value::as_array)
            .ok_or_else(|| JiraError::Answer {
                call: "search",
                problem: "no issues list".into(),
            })?;
        issues
            .first()
            .map(|i| Self::key_of("search", i))
            .transpose()
    }

    async fn create(
        &self,
        event: &TicketEvent,
        previous: Option<&str>,
        deadline: Deadline,
    ) -> Result<String, JiraError> {
        let f = &event.finding;
        let mut fields = json!({
            "project": {"key": self.settings.project_key},
            "issuetype": {"name": self.settings.issue_type},
            "summary": render::summary(f),
            "description": render::description(event, previous),
            "labels": ["triage", Self::label(&event.fingerprint)],
        });
        if let Some(priority) = self.settings.priorities.of(f.severity) {
            fields["priority"] = json!({ "name": priority });
        }
        if let Some(count) = &self.settings.count_field {
            fields[count] = json!(f.count);
        }
        let body = json!({
            "fields": fields,
            "properties": [{"key": "triage", "value": {
                "fingerprint": event.fingerprint,
                "sequence": event.sequence,
                "source": f.source,
                "severity": f.severity,
            }}],
        });
        let created = self
            .call(
                "create",
                Method::POST,
                "/rest/api/3/issue",
                Some(&body),
                deadline,
            )
            .await?;
        Self::key_of("create", &created)
    }

    async fn comment(
        &self,
        key: &str,
        event: &TicketEvent,
        deadline: Deadline,
    ) -> Result<(), JiraError> {
        let key = Self::checked(key)?;
        self.add_comment(key, render::update_comment(event), deadline)
            .await?;
        if let Some(count) = &self.settings.count_field {
            self.call(
                "count",
                Method::PUT,
                &format!("/rest/api/3/issue/{key}"),
                Some(&json!({"fields": {count.as_str(): event.finding.count}})),
                deadline,
            )
            .await?;
        }
        Ok(())
    }

    async fn close(
        &self,
        key: &str,
        event: &TicketEvent,
        deadline: Deadline,
    ) -> Result<(), JiraError> {
        let key = Self::checked(key)?;
        // Done already (closed by a person, as Done or Won't Do, or by an earlier attempt whose
        // link write was lost): left as it is.
        let issue = self
            .call(
                "status",
                Method::GET,
                &format!("/rest/api/3/issue/{key}?fields=status"),
                None,
                deadline,
            )
            .await?;
        let category = issue
            .pointer("/fields/status/statusCategory/key")
            .and_then(Value::as_str);
        if category == Some("done") {
            return Ok(());
        }
        let path = format!("/rest/api/3/issue/{key}/transitions");
        let transitions = self
            .call("transitions", Method::GET, &path, None, deadline)
            .await?;
        let wanted = &self.settings.done_transition;
        let id = transitions
            .get("transitions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .find(|t| {
                t.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.trim().eq_ignore_ascii_case(wanted))
            })
            .and_then(|t| t.get("id").and_then(Value::as_str))
            .map(str::to_owned)
            .ok_or_else(|| JiraError::NoTransition {
                key: key.to_owned(),
                transition: wanted.clone(),
            })?;
        self.call(
            "transition",
            Method::POST,
            &path,
            Some(&json!({"transition": {"id": id}})),
            deadline,
        )
        .await?;
        // After the transition: a transition Jira refuses (a required field on its screen)
        // leaves no comment behind to repeat on every retry.
        self.add_comment(key, render::resolve_comment(event), deadline)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_keys_are_checked_before_they_reach_a_url() {
        for (key, ok) in [
            ("SEC-42", true),
            ("A_1-1", true),
            ("SEC-", false),
            ("-1", false),
            ("SEC-1/../../x", false),
            ("SEC-1?x", false),
            ("SEC 1", false),
        ] {
            assert_eq!(is_issue_key(key), ok, "{key}");
        }
    }

    #[test]
    fn credentials_need_an_email_and_a_token_and_never_print() {
        let c = Credentials::from_secret(r#"{"email":"bot@example.com","api_token":"t0k"}"#);
        assert!(c.as_ref().is_ok_and(|c| c.email == "bot@example.com"));
        assert_eq!(format!("{:?}", c.ok()), "Some(Credentials { .. })");
        for bad in [
            "",
            "{}",
            r#"{"email":"a"}"#,
            r#"{"email":"a","api_token":" "}"#,
            "tok",
        ] {
            assert!(Credentials::from_secret(bad).is_err(), "{bad}");
        }
    }
}
