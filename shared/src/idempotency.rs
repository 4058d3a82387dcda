//! `Idempotency-Key` on the create routes: a client that retries a POST after a timeout or a
//! 503 with the same key gets the first outcome again, instead of a second object or a
//! conflict with its own first attempt.
//!
//! The first request with a key claims it with a conditional put (the key, scoped to the caller
//! and the route, and a fingerprint of the body), runs, and stores its answer for 24 hours; a 5xx
//! releases the claim so the retry runs afresh. A repeat replays the stored answer (header
//! `Idempotent-Replayed: true`); a repeat while the first still runs gets 409
//! `IDEMPOTENCY_IN_PROGRESS` with `Retry-After`; the same key with a different body gets 422
//! `IDEMPOTENCY_KEY_REUSED`. Requests without the header are not touched.

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::AttributeValue;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::dynamo;
use crate::error::{ApiError, ApiResult};

pub const HEADER: &str = "idempotency-key";
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// How long a key's answer is kept (and the key cannot be reused).
pub const KEEP_SECONDS: i64 = 24 * 3600;
/// Answers larger than this are not stored; a retry then runs afresh.
const MAX_STORED_BODY: usize = 256 * 1024;
/// Bodies are read whole to fingerprint them; the HTTP layer has bounded them already.
const MAX_BODY: usize = 8 * 1024 * 1024;
/// The headers whose values say who is calling (hashed, never stored).
const CALLER_HEADERS: [&str; 3] = [
    "authorization",
    "x-auth-bootstrap-key",
    "x-dev-bootstrap-key",
];

/// The idempotency records table.
#[derive(Clone, Debug)]
pub struct IdempotencyStore {
    client: Client,
    table: String,
}

/// What a key's record says.
enum Claim {
    /// The key was free: this request runs.
    Won,
    /// A first request with this key is still running.
    InProgress,
    /// The first request's answer.
    Done {
        status: u16,
        content_type: String,
        body: String,
    },
    /// The key was used with another body.
    Reused,
}

fn hex(bytes: impl AsRef<[u8]>) -> String {
    bytes.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// The record's key: the client's key within the caller and route, hashed.
fn record_key(headers: &HeaderMap, method: &Method, path: &str, key: &str) -> String {
    let mut hash = Sha256::new();
    for name in CALLER_HEADERS {
        hash.update(name.as_bytes());
        hash.update([0]);
        hash.update(
            headers
                .get(name)
                .map(HeaderValue::as_bytes)
                .unwrap_or_default(),
        );
        hash.update([0]);
    }
    hash.update(method.as_str().as_bytes());
    hash.update([0]);
    hash.update(path.as_bytes());
    hash.update([0]);
    hash.update(key.as_bytes());
    format!("IDEMPOTENCY#{}", hex(hash.finalize()))
}

/// A key as RFC draft `Idempotency-Key` and Stripe use it: 1 to 255 visible ASCII characters.
fn valid_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

impl IdempotencyStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    async fn claim(&self, pk: &str, fingerprint: &str, now: i64) -> ApiResult<Claim> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", AttributeValue::S(pk.to_owned()))
            .item("sk", AttributeValue::S("RECORD".into()))
            .item("fingerprint", AttributeValue::S(fingerprint.to_owned()))
            .item("state", AttributeValue::S("running".into()))
            .item(
                "expiresAt",
                AttributeValue::N((now + KEEP_SECONDS).to_string()),
            )
            // A record past its time may linger until TTL removes it: it counts as free.
            .condition_expression("attribute_not_exists(pk) OR expiresAt < :now")
            .expression_attribute_values(":now", AttributeValue::N(now.to_string()))
            .send()
            .await;
        match put {
            Ok(_) => return Ok(Claim::Won),
            Err(e) if dynamo::is_condition_failed(&e) => {}
            Err(e) => {
                return Err(ApiError::Internal(
                    anyhow::Error::new(e).context("claiming an idempotency key"),
                ));
            }
        }
        let item = dynamo::read_item(
            &self.client,
            &self.table,
            pk,
            "RECORD",
            "reading an idempotency key",
        )
        .await?
        .unwrap_or_default();
        let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
        if text("fingerprint").as_deref() != Some(fingerprint) {
            return Ok(Claim::Reused);
        }
        Ok(match (text("state").as_deref(), text("body")) {
            (Some("done"), Some(body)) => Claim::Done {
                status: item
                    .get("status")
                    .and_then(|v| v.as_n().ok())
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(200),
                content_type: text("contentType").unwrap_or_else(|| "application/json".into()),
                body,
            },
            _ => Claim::InProgress,
        })
    }

    async fn complete(&self, pk: &str, status: StatusCode, content_type: &str, body: &Bytes) {
        let stored = match std::str::from_utf8(body) {
            Ok(text) if body.len() <= MAX_STORED_BODY => text.to_owned(),
            // Not kept: release the key, so a retry runs afresh rather than waiting.
            _ => return self.release(pk).await,
        };
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(pk, "RECORD")))
            .update_expression(
                "SET #state = :done, #status = :status, contentType = :type, body = :body",
            )
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":done", AttributeValue::S("done".into()))
            .expression_attribute_values(":status", AttributeValue::N(status.as_u16().to_string()))
            .expression_attribute_values(":type", AttributeValue::S(content_type.to_owned()))
            .expression_attribute_values(":body", AttributeValue::S(stored))
            .send()
            .await;
        if let Err(e) = result {
            tracing::error!(error = %anyhow::Error::new(e), "storing an idempotent answer");
            self.release(pk).await;
        }
    }

    async fn release(&self, pk: &str) {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(dynamo::key(pk, "RECORD")))
            .send()
            .await;
        if let Err(e) = result {
            // The claim then expires with its TTL; until then a retry gets 409 and waits.
            tracing::error!(error = %anyhow::Error::new(e), "releasing an idempotency key");
        }
    }
}

/// `router` with its POST routes honouring `Idempotency-Key` (see the module).
pub fn honour_keys(router: axum::Router, store: IdempotencyStore) -> axum::Router {
    router.layer(axum::middleware::from_fn_with_state(store, middleware))
}

/// The middleware: put it on a router whose POST routes create things.
pub async fn middleware(
    State(store): State<IdempotencyStore>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let Some(key) = request.headers().get(HEADER) else {
        return next.run(request).await;
    };
    let key = match key.to_str() {
        Ok(key) if valid_key(key) => key.to_owned(),
        _ => {
            return ApiError::validation(HEADER, "1 to 255 visible ASCII characters")
                .into_response();
        }
    };
    let (parts, body) = request.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => return ApiError::PayloadTooLarge.into_response(),
    };
    let pk = record_key(&parts.headers, &parts.method, parts.uri.path(), &key);
    let fingerprint = hex(Sha256::digest(&body));
    let now = chrono::Utc::now().timestamp();
    let claim = match store.claim(&pk, &fingerprint, now).await {
        Ok(claim) => claim,
        Err(e) => return e.into_response(),
    };
    match claim {
        Claim::Won => {}
        Claim::InProgress => {
            // A 409 that says when to come back (the error type's 429 carries the header).
            let mut response = ApiError::TooManyRequests {
                code: "IDEMPOTENCY_IN_PROGRESS",
                message: "A request with this Idempotency-Key is still running; retry shortly"
                    .into(),
                retry_after_seconds: 1,
            }
            .into_response();
            *response.status_mut() = StatusCode::CONFLICT;
            return response;
        }
        Claim::Reused => {
            return ApiError::Dependency {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                code: "IDEMPOTENCY_KEY_REUSED",
                message: "This Idempotency-Key was used with a different request body".into(),
                details: None,
                twilio_code: None,
            }
            .into_response();
        }
        Claim::Done {
            status,
            content_type,
            body,
        } => {
            let mut response = Response::new(Body::from(body));
            *response.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
            if let Ok(value) = HeaderValue::from_str(&content_type) {
                response.headers_mut().insert(header::CONTENT_TYPE, value);
            }
            response
                .headers_mut()
                .insert(REPLAYED_HEADER, HeaderValue::from_static("true"));
            return response;
        }
    }
    let response = next.run(Request::from_parts(parts, Body::from(body))).await;
    let (parts, body) = response.into_parts();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            store.release(&pk).await;
            return ApiError::Internal(anyhow::anyhow!("an answer too large to read"))
                .into_response();
        }
    };
    if parts.status.is_server_error() {
        // Nothing was promised: the retry runs again.
        store.release(&pk).await;
    } else {
        let content_type = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/json")
            .to_owned();
        store
            .complete(&pk, parts.status, &content_type, &body)
            .await;
    }
    Response::from_parts(parts, Body::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_scoped_to_the_caller_and_the_route() {
        let mut a = HeaderMap::new();
        a.insert("authorization", HeaderValue::from_static("Bearer a"));
        let mut b = HeaderMap::new();
        b.insert("authorization", HeaderValue::from_static("Bearer b"));
        let key = |h: &HeaderMap, path: &str| record_key(h, &Method::POST, path, "k-1");
        assert_eq!(key(&a, "/api/tenants"), key(&a, "/api/tenants"));
        assert_ne!(key(&a, "/api/tenants"), key(&b, "/api/tenants"));
        assert_ne!(key(&a, "/api/tenants"), key(&a, "/internal/tools"));
        assert!(!key(&a, "/api/tenants").contains("Bearer"));
        assert!(valid_key("order-2026-11-22/7"));
        assert!(!valid_key("") && !valid_key("has space") && !valid_key(&"x".repeat(256)));
    }
}
