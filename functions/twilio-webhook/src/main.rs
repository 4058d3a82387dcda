use gobi_shared::time::Clock;
use gobi_shared::{Config, dynamo, http, telemetry};
use gobi_twilio_webhook::{WebhookState, router};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = dynamo::sdk_config().await;
    let dynamodb = dynamo::client(&sdk);
    // A ringing caller waits on the first request: connect now (a table it may GetItem).
    dynamo::warm(&dynamodb, &config.tables.tenants).await;
    let state = WebhookState::new(
        &config,
        dynamodb,
        aws_sdk_sqs::Client::new(&sdk),
        Clock::system(),
    )?;
    http::serve(router(state), &config).await
}
