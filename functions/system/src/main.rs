use gobi_shared::{Config, dynamo, http, telemetry};
use gobi_system::{SystemState, router};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = dynamo::sdk_config().await;
    let state = SystemState {
        dynamodb: dynamo::client(&sdk),
        probe_table: config.tables.tenants.clone(),
    };
    http::serve(router(state), &config).await
}
