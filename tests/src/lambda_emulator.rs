//! A small Lambda Runtime API emulator, for the bench: a function binary started with
//! `AWS_LAMBDA_RUNTIME_API` pointing here polls `GET /2018-06-01/runtime/invocation/next` as it
//! does in Lambda, and posts its answer to `.../invocation/<id>/response` (or `.../error`). The
//! bench hands it one event at a time ([`RuntimeApi::invoke`]) and learns when the function
//! finished its init: its first poll ([`RuntimeApi::ready`]). The paths and headers are those of
//! AWS's Runtime API reference (docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::{Mutex, Notify, mpsc};

const PREFIX: &str = "/2018-06-01/runtime";

/// What the function answered to one event.
#[derive(Debug, Clone)]
pub struct Answer {
    pub body: Bytes,
    /// Posted to `.../error` (or `init/error`) rather than `.../response`.
    pub error: bool,
}

struct Shared {
    events: Mutex<mpsc::Receiver<(String, Bytes)>>,
    answers: mpsc::Sender<(String, Answer)>,
    polled: AtomicBool,
    ready: Notify,
}

/// One function's Runtime API: one event in flight at a time, as in Lambda.
pub struct RuntimeApi {
    address: String,
    events: mpsc::Sender<(String, Bytes)>,
    answers: Mutex<mpsc::Receiver<(String, Answer)>>,
    shared: Arc<Shared>,
}

impl RuntimeApi {
    /// Listens on a free loopback port.
    pub async fn start() -> anyhow::Result<Self> {
        let (event_tx, event_rx) = mpsc::channel(1);
        let (answer_tx, answer_rx) = mpsc::channel(4);
        let shared = Arc::new(Shared {
            events: Mutex::new(event_rx),
            answers: answer_tx,
            polled: AtomicBool::new(false),
            ready: Notify::new(),
        });
        let router = Router::new()
            .route(&format!("{PREFIX}/invocation/next"), get(next))
            .route(
                &format!("{PREFIX}/invocation/{{id}}/response"),
                post(response),
            )
            .route(&format!("{PREFIX}/invocation/{{id}}/error"), post(error))
            .route(&format!("{PREFIX}/init/error"), post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let address = listener.local_addr()?.to_string();
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(Self {
            address,
            events: event_tx,
            answers: Mutex::new(answer_rx),
            shared,
        })
    }

    /// `host:port`, as `AWS_LAMBDA_RUNTIME_API` takes it.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Returns once the function has asked for its first event (its init is done).
    pub async fn ready(&self) {
        let notified = self.shared.ready.notified();
        if self.shared.polled.load(Ordering::SeqCst) {
            return;
        }
        notified.await;
    }

    /// Hands `event` to the function and waits for its answer.
    pub async fn invoke(&self, event: Bytes) -> anyhow::Result<Answer> {
        let id = uuid::Uuid::new_v4().to_string();
        self.events.send((id.clone(), event)).await?;
        let mut answers = self.answers.lock().await;
        loop {
            let (answered, answer) = answers
                .recv()
                .await
                .ok_or_else(|| anyhow::anyhow!("the runtime API stopped"))?;
            if answered == id || answered.is_empty() {
                return Ok(answer);
            }
        }
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    if !shared.polled.swap(true, Ordering::SeqCst) {
        shared.ready.notify_waiters();
    }
    let Some((id, body)) = shared.events.lock().await.recv().await else {
        return StatusCode::GONE.into_response();
    };
    let deadline = chrono::Utc::now().timestamp_millis() + 30_000;
    let mut headers = HeaderMap::new();
    let mut set = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    set("lambda-runtime-aws-request-id", id);
    set("lambda-runtime-deadline-ms", deadline.to_string());
    set(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:gobi-bench".into(),
    );
    set(
        "lambda-runtime-trace-id",
        "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=0".into(),
    );
    set("content-type", "application/json".into());
    (StatusCode::OK, headers, body).into_response()
}

async fn answered(shared: &Shared, id: String, body: Bytes, error: bool) -> StatusCode {
    let _ = shared.answers.send((id, Answer { body, error })).await;
    StatusCode::ACCEPTED
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    answered(&shared, id, body, false).await
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    answered(&shared, id, body, true).await
}

async fn init_error(State(shared): State<Arc<Shared>>, body: Bytes) -> StatusCode {
    if !shared.polled.swap(true, Ordering::SeqCst) {
        shared.ready.notify_waiters();
    }
    answered(&shared, String::new(), body, true).await
}
