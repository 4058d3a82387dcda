#![recursion_limit = "256"]
use gobi_handoff_worker::{WorkerState, handle};
use gobi_shared::time::Clock;
use gobi_shared::{Config, dynamo, telemetry};
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = dynamo::sdk_config().await;
    let state = WorkerState::new(
        &config,
        dynamo::client(&sdk),
        aws_sdk_sqs::Client::new(&sdk),
        Clock::system(),
    );
    let state = &state;
    lambda_runtime::run(service_fn(move |event| handle(state, event))).await
}
