//! A tenant's webhook receiver: records every delivery it gets (headers and body) and answers
//! 500 for the first `failures` of them, 200 after.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// What it answered.
    pub status: u16,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

#[derive(Default)]
pub struct ReceiverState {
    /// Answers left to fail (500) before it succeeds.
    pub failures: usize,
    pub received: Vec<Received>,
}

#[derive(Clone, Default)]
pub struct WebhookReceiver {
    pub state: Arc<Mutex<ReceiverState>>,
}

impl WebhookReceiver {
    /// A receiver that fails the first `failures` deliveries (`usize::MAX`: all of them).
    pub fn failing(failures: usize) -> Self {
        let receiver = Self::default();
        receiver.state.lock().unwrap().failures = failures;
        receiver
    }

    pub fn router(&self) -> axum::Router {
        axum::Router::new()
            .route("/hook", post(receive))
            .with_state(self.clone())
    }

    pub fn received(&self) -> Vec<Received> {
        self.state.lock().unwrap().received.clone()
    }
}

async fn receive(
    State(receiver): State<WebhookReceiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let mut state = receiver.state.lock().unwrap();
    let status = if state.failures > 0 {
        state.failures -= 1;
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    state.received.push(Received {
        headers: headers
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or_default().to_owned()))
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
        status: status.as_u16(),
    });
    let answer = if status.is_success() {
        "thanks"
    } else {
        "receiver down for maintenance"
    };
    (status, answer)
}
