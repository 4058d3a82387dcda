use std::sync::Arc;

use gobi_shared::{Config, auth::JwtVerifier, dynamo, http, telemetry};
use gobi_tenants::{TenantsState, router};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = dynamo::sdk_config().await;
    let state = TenantsState::new(
        &config,
        dynamo::client(&sdk),
        aws_sdk_sqs::Client::new(&sdk),
        Arc::new(JwtVerifier::new(&config.jwt)?),
    );
    http::serve(router(state), &config).await
}
