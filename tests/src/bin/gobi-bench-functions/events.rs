//! The events the bench hands the functions: API Gateway HTTP (payload 2.0) and Function URL
//! requests, Twilio's signed posts, SQS batches.

use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Bytes;
use base64::Engine;
use gobi_tests::WEBHOOK_BASE;
use serde_json::{Value, json};

/// An API Gateway HTTP API (payload 2.0) event, as `lambda_http` reads it; Function URLs send
/// the same shape.
pub(crate) fn http_event(
    method: &str,
    path: &str,
    query: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Bytes {
    let mut headers = json!({
        "accept": "application/json",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "x-forwarded-proto": "https",
    });
    if let Some(token) = token {
        headers["authorization"] = json!(format!("Bearer {token}"));
    }
    if body.is_some() {
        headers["content-type"] = json!("application/json");
    }
    let query_parameters: serde_json::Map<String, Value> =
        url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
            .collect();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "gobi-bench"},
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": "06/Dec/2026:06:00:00 +0000",
            "timeEpoch": 1796536800000u64
        },
        "isBase64Encoded": false
    });
    if !query_parameters.is_empty() {
        event["queryStringParameters"] = Value::Object(query_parameters);
    }
    if let Some(body) = body {
        event["body"] = json!(body.to_string());
    }
    Bytes::from(event.to_string())
}

/// Twilio's form post of `params` to `path`: the encoded body and its `X-Twilio-Signature`.
pub(crate) fn signed_form(path: &str, params: &[(&str, &str)]) -> (String, String) {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = gobi_twilio_webhook::signature::compute(
        "twilio-test-token",
        &format!("{WEBHOOK_BASE}{path}"),
        &params,
    );
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    (body, signature)
}

/// Twilio's signed form post to the webhook's Function URL.
pub(crate) fn twilio_event(path: &str, params: &[(&str, &str)]) -> Bytes {
    let (body, signature) = signed_form(path, params);
    let mut event: Value =
        serde_json::from_slice(&http_event("POST", path, "", None, None)).expect("an event");
    event["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
    event["headers"]["x-twilio-signature"] = json!(signature);
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
    event["isBase64Encoded"] = json!(true);
    Bytes::from(event.to_string())
}

/// An SQS event of one record per body.
pub(crate) fn sqs_event(bodies: &[String]) -> Bytes {
    let records: Vec<Value> = bodies
        .iter()
        .map(|body| {
            json!({
                "messageId": uuid::Uuid::new_v4().to_string(),
                "receiptHandle": "AQEB-bench",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1796536800000", "SenderId": "AROAEXAMPLE:bench", "ApproximateFirstReceiveTimestamp": "1796536800100"},
                "messageAttributes": {},
                "md5OfBody": "00000000000000000000000000000000",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:gobi-bench",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    Bytes::from(json!({"Records": records}).to_string())
}

/// Takes the next of a prepared list, one per invocation, across runs.
pub(crate) fn each<T: Clone + 'static>(
    items: Vec<T>,
    make: impl Fn(T) -> Bytes + 'static,
) -> Box<dyn Fn() -> Bytes> {
    let next = AtomicUsize::new(0);
    Box::new(move || {
        let i = next.fetch_add(1, Ordering::Relaxed);
        make(items[i % items.len()].clone())
    })
}
