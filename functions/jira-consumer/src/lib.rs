//! jira-consumer (optional, `JiraConsumer=enabled`): consumes the FIFO ticket queue and keeps one
//! Jira Cloud issue per problem. `open` creates the issue (labels `triage` and
//! `triage-<fingerprint>`, the priority of `policy/jira.toml`, the finding as an ADF
//! description), `update` comments on it (and sets the count field, if one is configured),
//! `resolve` comments and applies the done transition. The queue handling, the sequence rule and
//! the links table are `triage-consumer`'s, shared with any other ticket system; this crate is the
//! Jira side only. [`cold_start`] builds it as it ships; `main.rs` serves it.

pub mod handler;
pub mod jira;
pub mod render;
pub mod settings;

pub use handler::Handler;
pub use jira::{Credentials, Jira};
pub use settings::Settings;

use triage_consumer::links::DynamoDbLinks;
use triage_consumer::{Consumer, LinkStore};
use triage_core::metrics::Emitter;

#[derive(Debug, thiserror::Error)]
pub enum ColdStartError {
    #[error("reading the Jira credentials secret: {0}")]
    Secret(String),
    #[error(transparent)]
    Credentials(#[from] jira::CredentialsError),
    #[error(transparent)]
    Jira(#[from] jira::JiraError),
}

/// The function on any link store (memory in unit tests).
pub fn assemble<L: LinkStore>(
    settings: Settings,
    credentials: &Credentials,
    links: L,
) -> Result<Handler<L>, ColdStartError> {
    let margin = settings.time_margin;
    let metrics = Emitter::new("jira-consumer", settings.metrics);
    let jira = Jira::new(settings.jira, credentials)?;
    Ok(Handler::new(Consumer::new(jira, links), margin, metrics))
}

/// The function as it ships: the credentials read once from Secrets Manager, the links in
/// DynamoDB, both through `sdk` (the Lambda's environment; moto in the tests).
pub async fn cold_start(
    settings: Settings,
    sdk: &aws_config::SdkConfig,
) -> Result<Handler<DynamoDbLinks>, ColdStartError> {
    let secret = aws_sdk_secretsmanager::Client::new(sdk)
        .get_secret_value()
        .secret_id(&settings.credentials_secret_arn)
        .send()
        .await
        .map_err(|e| {
            ColdStartError::Secret(
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e).to_string(),
            )
        })?;
    let credentials = Credentials::from_secret(secret.secret_string().unwrap_or_default())?;
    let links = DynamoDbLinks::new(
        aws_sdk_dynamodb::Client::new(sdk),
        settings.links_table.clone(),
        "jira",
    );
    assemble(settings, &credentials, links)
}
