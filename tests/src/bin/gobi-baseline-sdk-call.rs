//! The bench's third baseline: the SDK baseline (`gobi-baseline-sdk`) that also makes one
//! DynamoDB `GetItem` per request (of a key no item has, in the tenants table). It is the floor
//! for a function that reads DynamoDB on its hot path: the SDK's request path (signing, the HTTP
//! client, retries, endpoint resolution) is code the plain SDK baseline never runs. The bench
//! prints it for comparison; the goals stay multiples of the plain SDK baseline.

use aws_sdk_dynamodb::types::AttributeValue;
use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    let table = std::env::var("TENANTS_TABLE").unwrap_or_else(|_| {
        let prefix = std::env::var("TABLE_PREFIX").unwrap_or_else(|_| "gobi".into());
        format!("{prefix}-tenants")
    });
    run(service_fn(move |_: Request| {
        let read = dynamodb
            .get_item()
            .table_name(&table)
            .key("pk", AttributeValue::S("BASELINE".into()))
            .key("sk", AttributeValue::S("BASELINE".into()))
            .send();
        async move {
            let found = read.await?.item.is_some();
            Ok::<_, Error>(Response::new(Body::from(format!("found: {found}"))))
        }
    }))
    .await
}
