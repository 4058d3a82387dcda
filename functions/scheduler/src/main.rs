use gobi_scheduler::{SchedulerState, handle};
use gobi_shared::time::Clock;
use gobi_shared::{Config, dynamo, telemetry};
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = dynamo::sdk_config().await;
    let dynamodb = dynamo::client(&sdk);
    let dialer = gobi_domain::campaigns::dialer::Dialer::from_config(
        &config,
        dynamodb.clone(),
        aws_sdk_sqs::Client::new(&sdk),
    );
    let webhooks = gobi_domain::webhooks::delivery::Deliverer::from_config(
        &config,
        dynamodb.clone(),
        aws_sdk_sqs::Client::new(&sdk),
        None,
    );
    let state = SchedulerState::new(&config, dynamodb, Clock::system())
        .with_dialer(dialer)
        .with_webhooks(webhooks);
    let state = &state;
    lambda_runtime::run(service_fn(move |event| handle(state, event))).await
}
