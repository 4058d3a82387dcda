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
    let dynamodb = dynamo::client(&sdk);
    // A call waits on the runtime's first request (the dispatch claim): connect now.
    dynamo::warm(&dynamodb, &config.tables.calls).await;
    let state = RuntimeState::new(
        &config,
        dynamodb,
        aws_sdk_sqs::Client::new(&sdk),
        verifier,
        Clock::system(),
    );
    http::serve(router(state), &config).await
}
