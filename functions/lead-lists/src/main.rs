use std::sync::Arc;

use gobi_lead_lists::{Clients, LeadListsState, router};
use gobi_shared::{Config, auth::JwtVerifier, dynamo, http, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = dynamo::sdk_config().await;
    let verifier = Arc::new(JwtVerifier::new(&config.jwt)?);
    let clock = gobi_shared::time::Clock::system();
    http::serve(
        router(LeadListsState::new(
            &config,
            Clients {
                dynamodb: dynamo::client(&sdk),
                sqs: aws_sdk_sqs::Client::new(&sdk),
                s3: gobi_domain::leads::files::s3_client(&sdk, config.s3_force_path_style),
            },
            verifier,
            clock,
        )),
        &config,
    )
    .await
}
