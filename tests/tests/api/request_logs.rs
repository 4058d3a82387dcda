//! Every log line written while a request is handled carries its `x-request-id` and, inside
//! Lambda, the Lambda request id: the layers every function uses, with the subscriber every
//! function installs, writing to a buffer this test reads.

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use gobi_shared::error::ApiError;
use gobi_shared::http::layered;
use gobi_shared::telemetry;
use gobi_tests::{TestAppOptions, test_config};
use http::{Request, StatusCode};
use serde_json::Value;
use tower::ServiceExt;

#[derive(Clone, Default)]
struct Lines(Arc<Mutex<Vec<u8>>>);

impl Write for Lines {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Lines {
    type Writer = Lines;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

async fn works() -> &'static str {
    tracing::info!("handling the request");
    "ok"
}

async fn fails() -> Result<&'static str, ApiError> {
    tracing::warn!("about to fail");
    Err(ApiError::Internal(anyhow::anyhow!("a dependency broke")))
}

#[tokio::test(flavor = "current_thread")]
async fn every_line_of_a_request_names_both_request_ids() {
    let lines = Lines::default();
    let _guard = tracing::subscriber::set_default(telemetry::subscriber(lines.clone()));
    let config = test_config(&TestAppOptions::default());
    let app = layered(
        Router::new()
            .route("/works", get(works))
            .route("/fails", get(fails)),
        &config,
    );

    for (path, status) in [
        ("/works", StatusCode::OK),
        ("/fails", StatusCode::INTERNAL_SERVER_ERROR),
    ] {
        let mut context = lambda_http::Context::default();
        context.request_id = format!("lambda-{path}");
        let mut request = Request::get(path)
            .header("x-request-id", format!("caller-{path}"))
            .body(axum::body::Body::empty())
            .expect("request");
        request.extensions_mut().insert(context);
        let response = app.clone().oneshot(request).await.expect("answer");
        assert_eq!(response.status(), status);
        assert_eq!(
            response.headers()["x-request-id"],
            format!("caller-{path}").as_str()
        );
    }

    let written = String::from_utf8(lines.0.lock().expect("log buffer").clone()).expect("utf-8");
    let logged: Vec<Value> = written
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    for path in ["/works", "/fails"] {
        let of_request: Vec<&Value> = logged
            .iter()
            .filter(|line| line["span"]["path"] == path)
            .collect();
        // The handler's own line, the response line, and for the failure its error line.
        assert!(of_request.len() >= 2, "{path}: {written}");
        for line in &of_request {
            assert_eq!(
                line["span"]["request_id"],
                format!("caller-{path}").as_str(),
                "{line}"
            );
            assert_eq!(
                line["span"]["lambda_request_id"],
                format!("lambda-{path}").as_str(),
                "{line}"
            );
        }
    }
    let messages: Vec<&str> = logged
        .iter()
        .filter_map(|l| l["message"].as_str())
        .collect();
    for expected in [
        "handling the request",
        "about to fail",
        "request failed",
        "response",
    ] {
        assert!(
            messages.contains(&expected),
            "no {expected:?} line: {written}"
        );
    }
    // Every line is of one of the two requests.
    assert!(
        logged.iter().all(|line| line["span"]["path"].is_string()),
        "a line without its request: {written}"
    );
}
