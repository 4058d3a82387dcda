//! A stand-in for a tenant's n8n: `/healthz`, and webhooks whose path picks a behaviour
//! (`ok`, `slow`, `stuck`, `flaky`, `bad`, `busy`, `big`, `huge`). Every request is recorded.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};

#[derive(Debug, Clone)]
pub struct N8nReceived {
    pub method: String,
    pub path: String,
    /// Lower-case names.
    pub headers: BTreeMap<String, String>,
    pub body: Value,
}

#[derive(Clone, Default)]
pub struct FakeN8n {
    pub received: Arc<Mutex<Vec<N8nReceived>>>,
    hits: Arc<Mutex<HashMap<String, u32>>>,
    /// How long `slow` sleeps on its first request.
    pub slow_for: Duration,
}

impl FakeN8n {
    pub fn new(slow_for: Duration) -> Self {
        Self {
            slow_for,
            ..Default::default()
        }
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route("/healthz", get(health))
            .route("/webhook/{name}", any(webhook))
            .with_state(self.clone())
    }

    pub fn requests_to(&self, path: &str) -> Vec<N8nReceived> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.path == path)
            .cloned()
            .collect()
    }

    fn record(&self, method: &Method, path: String, headers: &HeaderMap, body: Value) -> u32 {
        let headers = headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_owned(),
                    v.to_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        self.received.lock().unwrap().push(N8nReceived {
            method: method.to_string(),
            path: path.clone(),
            headers,
            body,
        });
        let mut hits = self.hits.lock().unwrap();
        let n = hits.entry(path).or_default();
        *n += 1;
        *n
    }
}

async fn health(State(fake): State<FakeN8n>, method: Method, headers: HeaderMap) -> Response {
    fake.record(&method, "/healthz".into(), &headers, Value::Null);
    Json(json!({"status": "ok"})).into_response()
}

async fn webhook(
    State(fake): State<FakeN8n>,
    method: Method,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let hit = fake.record(&method, format!("/webhook/{name}"), &headers, body.clone());
    match name.as_str() {
        "ok" => Json(json!({"result": "done", "echo": body["input"]})).into_response(),
        "slow" => {
            if hit == 1 {
                tokio::time::sleep(fake.slow_for).await;
            }
            Json(json!({"result": "late but done"})).into_response()
        }
        "stuck" => {
            tokio::time::sleep(fake.slow_for).await;
            Json(json!({"result": "too late"})).into_response()
        }
        "flaky" if hit == 1 => (
            StatusCode::INTERNAL_SERVER_ERROR,
            Json(json!({"message": "workflow crashed"})),
        )
            .into_response(),
        "flaky" => Json(json!({"result": "recovered"})).into_response(),
        "bad" => (
            StatusCode::BAD_REQUEST,
            Json(json!({"message": "order number missing"})),
        )
            .into_response(),
        "busy" => (
            StatusCode::TOO_MANY_REQUESTS,
            Json(json!({"message": "slow down"})),
        )
            .into_response(),
        "big" => Json(json!({"blob": "x".repeat(20_000)})).into_response(),
        "huge" => Json(json!({"blob": "x".repeat(2 * 1024 * 1024)})).into_response(),
        _ => (
            StatusCode::NOT_FOUND,
            Json(json!({"message": "webhook not registered"})),
        )
            .into_response(),
    }
}
