use gobi_auth::{AuthState, router};
use gobi_shared::{Config, dynamo, http, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = dynamo::sdk_config().await;
    let state = AuthState::new(&config, dynamo::client(&sdk))?;
    http::serve(router(state), &config).await
}
