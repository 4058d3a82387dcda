use std::sync::Arc;

use gobi_runtime::{RuntimeState, router};
use gobi_shared::time::Clock;
use gobi_shared::{Config, auth::JwtVerifier, dynamo, http, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = dynamo::sdk_config().await;
    let verifier = Arc::new(JwtVerifier::new(&config.jwt)?);
    let state = RuntimeState::new(
        &config,
        dynamo::client(&sdk),
        aws_sdk_sqs::Client::new(&sdk),
        verifier,
        Clock::system(),
    );
    http::serve(router(state), &config).await
}
