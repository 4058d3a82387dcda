//! The bench's first baseline: the smallest `lambda_http` function, answering every request
//! with a fixed body. `make bench` measures GOBI's functions beside it, built the same way.

use lambda_http::{Body, Error, Request, Response, run, service_fn};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|_: Request| async {
        Ok::<_, Error>(Response::new(Body::from("hello")))
    }))
    .await
}
