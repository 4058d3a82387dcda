use std::sync::Arc;

use gobi_shared::{Config, auth::JwtVerifier, dynamo, http, telemetry};
use gobi_tenants::{TenantsState, router, store::TenantStore};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = dynamo::sdk_config().await;
    let state = TenantsState {
        store: TenantStore::new(dynamo::client(&sdk), &config.tables.tenants),
        calls: gobi_shared::calls::CallStore::new(dynamo::client(&sdk), &config.tables.calls),
        verifier: Arc::new(JwtVerifier::new(&config.jwt)?),
    };
    http::serve(router(state), &config).await
}
