//! The bench's second baseline: a `lambda_http` hello world that loads the AWS configuration
//! and builds a DynamoDB client at init (what every GOBI function does at the least) and uses
//! it for nothing. GOBI's functions are held to 1.3× its init time and peak memory.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let sdk = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    run(service_fn(move |_: Request| {
        let _client = dynamodb.clone();
        async { Ok::<_, Error>(Response::new(Body::from("hello"))) }
    }))
    .await
}
