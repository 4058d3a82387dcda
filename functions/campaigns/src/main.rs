use std::sync::Arc;

use gobi_campaigns::{CampaignsState, router};
use gobi_shared::{Config, auth::JwtVerifier, dynamo, http, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = dynamo::sdk_config().await;
    let verifier = Arc::new(JwtVerifier::new(&config.jwt)?);
    let clock = gobi_shared::time::Clock::system();
    http::serve(
        router(CampaignsState::new(
            &config,
            dynamo::client(&sdk),
            aws_sdk_sqs::Client::new(&sdk),
            verifier,
            clock,
        )),
        &config,
    )
    .await
}
