#![recursion_limit = "256"]
use gobi_lead_import::{Clients, WorkerState, handle};
use gobi_shared::time::Clock;
use gobi_shared::{Config, dynamo, telemetry};
use lambda_runtime::service_fn;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = dynamo::sdk_config().await;
    let clients = Clients {
        dynamodb: dynamo::client(&sdk),
        s3: gobi_domain::leads::files::s3_client(&sdk, config.s3_force_path_style),
        sqs: aws_sdk_sqs::Client::new(&sdk),
    };
    let state = WorkerState::new(&config, clients, Clock::system())?;
    let state = &state;
    lambda_runtime::run(service_fn(move |event| handle(state, event))).await
}
