use finding_classifier::{Settings, assemble};
use lambda_runtime::{Error, tracing};
use triage_aws::Aws;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    let settings = Settings::from_env()?;
    let aws = Aws::from_env().await;
    triage_lambda::run(assemble(settings, &aws)).await
}
