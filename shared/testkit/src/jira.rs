//! A local stand-in of the Jira Cloud REST API endpoints jira-consumer calls (wiremock on
//! 127.0.0.1, stopped when dropped), and the credentials secret it reads, on moto.

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

use crate::MotoServer;

pub const EMAIL: &str = "triage-bot@example.com";
pub const TOKEN: &str = "ATATT3xFfGF0-test-token";

/// Creates the secret `{"email": EMAIL, "api_token": TOKEN}` (or `value`) on moto; its ARN.
pub async fn secret(moto: &MotoServer, name: &str, value: Option<&str>) -> String {
    let client = aws_sdk_secretsmanager::Client::new(&moto.sdk_config().await);
    let value = value
        .map(str::to_owned)
        .unwrap_or_else(|| json!({"email": EMAIL, "api_token": TOKEN}).to_string());
    client
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap_or_else(|e| panic!("create secret {name}: {e:?}"))
        .arn
        .unwrap_or_else(|| panic!("secret {name}: no ARN"))
}

/// A created issue's answer.
pub fn created(key: &str) -> ResponseTemplate {
    ResponseTemplate::new(201).set_body_json(json!({
        "id": "10001",
        "key": key,
        "self": "https://example.atlassian.net/rest/api/3/issue/10001"
    }))
}

/// Mounts a healthy Jira: a search that finds nothing, issues created as SEC-1 (in progress),
/// comments accepted, a workflow offering "To Do", "In Progress" and "Done" (id 31).
pub async fn healthy(jira: &MockServer) {
    Mock::given(method("POST"))
        .and(path("/rest/api/3/search/jql"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(json!({"issues": [], "isLast": true})),
        )
        .mount(jira)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue"))
        .respond_with(created("SEC-1"))
        .mount(jira)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/SEC-1/comment"))
        .respond_with(ResponseTemplate::new(201).set_body_json(json!({"id": "1"})))
        .mount(jira)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/SEC-1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "key": "SEC-1",
            "fields": {"status": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}}}
        })))
        .mount(jira)
        .await;
    Mock::given(method("GET"))
        .and(path("/rest/api/3/issue/SEC-1/transitions"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({"transitions": [
            {"id": "11", "name": "To Do"}, {"id": "21", "name": "In Progress"}, {"id": "31", "name": "Done"}
        ]})))
        .mount(jira)
        .await;
    Mock::given(method("POST"))
        .and(path("/rest/api/3/issue/SEC-1/transitions"))
        .respond_with(ResponseTemplate::new(204))
        .mount(jira)
        .await;
}

/// Every request the stand-in received, in order.
pub async fn requests(jira: &MockServer) -> Vec<Request> {
    jira.received_requests().await.unwrap_or_default()
}

/// `METHOD /path` of each request.
pub fn calls(requests: &[Request]) -> Vec<String> {
    requests
        .iter()
        .map(|r| format!("{} {}", r.method, r.url.path()))
        .collect()
}

/// The calls of one problem's open, update and resolve on a healthy Jira.
pub const LIFECYCLE_CALLS: [&str; 7] = [
    "POST /rest/api/3/search/jql",
    "POST /rest/api/3/issue",
    "POST /rest/api/3/issue/SEC-1/comment",
    "GET /rest/api/3/issue/SEC-1",
    "GET /rest/api/3/issue/SEC-1/transitions",
    "POST /rest/api/3/issue/SEC-1/transitions",
    "POST /rest/api/3/issue/SEC-1/comment",
];
