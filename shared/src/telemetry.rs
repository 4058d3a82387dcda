//! JSON logs via `tracing`. Never log tokens, auth headers, secrets or request bodies.
//!
//! Every line logged while a request is handled carries the request's span: its `request_id`
//! (the `x-request-id` header, made up when absent) and, inside Lambda, `lambda_request_id`.
//! Workers log inside the Lambda runtime's own span, whose `requestId` each line carries.

use std::io;

use tracing::Subscriber;
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::MakeWriter;

/// Installs the JSON subscriber on stdout; `RUST_LOG` sets the filter (default `info`).
pub fn init() {
    let _ = tracing::subscriber::set_global_default(subscriber(io::stdout));
}

/// The JSON subscriber writing to `writer`, so tests read exactly what a function logs.
pub fn subscriber<W>(writer: W) -> impl Subscriber + Send + Sync
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}
