use gobi_shared::time::Clock;
use gobi_shared::{Config, dynamo, http, telemetry};
use gobi_twilio_webhook::{WebhookState, router};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = dynamo::sdk_config().await;
    let dynamodb = dynamo::client(&sdk);
    let state = WebhookState::new(
        &config,
        dynamodb.clone(),
        aws_sdk_sqs::Client::new(&sdk),
        Clock::system(),
    )?;
    // A ringing caller waits on the first requests (DynamoDB, then the handoff's queue):
    // connect to both now.
    tokio::join!(dynamo::warm(&dynamodb, &config.tables.tenants), async {
        if let Some(publisher) = &state.publisher {
            publisher.warm().await;
        }
    });
    http::serve(router(state), &config).await
}
