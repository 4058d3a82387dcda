use std::sync::Arc;

use gobi_client::{ClientState, router};
use gobi_shared::time::Clock;
use gobi_shared::{Config, auth::JwtVerifier, dynamo, http, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = dynamo::sdk_config().await;
    let verifier = Arc::new(JwtVerifier::new(&config.jwt)?);
    http::serve(
        router(ClientState::new(
            &config,
            dynamo::client(&sdk),
            verifier,
            Clock::system(),
        )),
        &config,
    )
    .await
}
