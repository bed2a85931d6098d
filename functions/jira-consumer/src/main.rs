use jira_consumer::{Settings, cold_start};
use lambda_runtime::{Error, tracing};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let settings = Settings::from_env()?;
    let sdk = aws_config::load_from_env().await;
    triage_lambda::run(cold_start(settings, &sdk).await?).await
}
