use std::sync::Arc;

use gobi_shared::{Config, auth::JwtVerifier, dynamo, http, telemetry};
use gobi_webhooks::{WebhooksState, router};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = dynamo::sdk_config().await;
    let verifier = Arc::new(JwtVerifier::new(&config.jwt)?);
    let state = WebhooksState::new(
        &config,
        dynamo::client(&sdk),
        aws_sdk_sqs::Client::new(&sdk),
        aws_sdk_kms::Client::new(&sdk),
        verifier,
        gobi_shared::time::Clock::system(),
    );
    http::serve(router(state), &config).await
}
