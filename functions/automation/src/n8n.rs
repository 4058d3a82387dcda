//! Calls to a tenant's n8n: a timeout per attempt, and bounded retries with backoff on timeouts,
//! 5xx and 429 only, all inside a total budget that fits the function's own timeout (the last
//! attempt gets what is left, and none starts without enough). Connections go to the addresses
//! the SSRF check approved.

use std::time::{Duration, Instant};

use gobi_shared::outbound::CheckedUrl;

/// One request to n8n.
#[derive(Debug, Clone)]
pub struct N8nRequest {
    pub target: CheckedUrl,
    pub method: reqwest::Method,
    pub headers: Vec<(String, String)>,
    pub body: Option<serde_json::Value>,
    pub timeout: Duration,
    pub max_attempts: u32,
    /// Every attempt and backoff together stay within this.
    pub budget: Duration,
}

/// An attempt is not started with less than this left of the budget.
pub const MIN_ATTEMPT: Duration = Duration::from_millis(100);

/// How the last attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// 2xx, with the body (JSON when it parses, else text).
    Success {
        status: u16,
        body: serde_json::Value,
    },
    /// Any other status, with the body.
    Status {
        status: u16,
        body: serde_json::Value,
    },
    TimedOut,
    /// No connection (refused, unreachable, TLS).
    Unreachable(String),
}

#[derive(Debug, Clone)]
pub struct N8nResult {
    pub outcome: Outcome,
    pub attempts: u32,
    pub latency_ms: u64,
}

fn retryable(outcome: &Outcome) -> bool {
    match outcome {
        Outcome::TimedOut => true,
        Outcome::Status { status, .. } => *status == 429 || *status >= 500,
        _ => false,
    }
}

fn client(target: &CheckedUrl, timeout: Duration) -> reqwest::Result<reqwest::Client> {
    let mut builder = gobi_shared::https::client_builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none());
    if let Some(host) = target
        .url
        .host_str()
        .filter(|h| h.parse::<std::net::IpAddr>().is_err())
    {
        builder = builder.resolve_to_addrs(host, &target.addresses);
    }
    builder.build()
}

async fn attempt(client: &reqwest::Client, request: &N8nRequest, timeout: Duration) -> Outcome {
    let mut call = client
        .request(request.method.clone(), request.target.url.clone())
        .timeout(timeout);
    for (name, value) in &request.headers {
        call = call.header(name, value);
    }
    if let Some(body) = &request.body {
        call = call.json(body);
    }
    match call.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let text = match capped_body(response).await {
                Ok(text) => text,
                Err(outcome) => return outcome,
            };
            let body = serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text));
            if (200..300).contains(&status) {
                Outcome::Success { status, body }
            } else {
                Outcome::Status { status, body }
            }
        }
        Err(e) if e.is_timeout() => Outcome::TimedOut,
        Err(e) => Outcome::Unreachable(without_url(&e)),
    }
}

/// The most of an n8n answer GOBI reads; a larger one is refused, never buffered whole.
pub const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

/// Reads the body chunk by chunk, stopping as soon as it passes [`MAX_RESPONSE_BYTES`].
async fn capped_body(mut response: reqwest::Response) -> Result<String, Outcome> {
    let mut bytes = Vec::new();
    loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if bytes.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    return Err(Outcome::Unreachable(format!(
                        "n8n's answer is larger than {MAX_RESPONSE_BYTES} bytes"
                    )));
                }
                bytes.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(String::from_utf8_lossy(&bytes).into_owned()),
            Err(e) if e.is_timeout() => return Err(Outcome::TimedOut),
            Err(e) => return Err(Outcome::Unreachable(without_url(&e))),
        }
    }
}

/// reqwest's message without the URL (which may carry a tenant's path).
fn without_url(error: &reqwest::Error) -> String {
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut last = "connection failed".to_owned();
    while let Some(e) = source {
        last = e.to_string();
        source = e.source();
    }
    last
}

/// Sends `request`, retrying what may pass on a later attempt.
pub async fn send(request: &N8nRequest) -> N8nResult {
    let started = Instant::now();
    let client = match client(&request.target, request.timeout) {
        Ok(client) => client,
        Err(e) => {
            return N8nResult {
                outcome: Outcome::Unreachable(e.to_string()),
                attempts: 0,
                latency_ms: 0,
            };
        }
    };
    let left = |now: Instant| request.budget.saturating_sub(now - started);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let timeout = request.timeout.min(left(Instant::now()));
        let outcome = attempt(&client, request, timeout).await;
        let backoff = Duration::from_millis(100 * 2u64.pow(attempts - 1));
        let no_time = left(Instant::now()) < backoff + MIN_ATTEMPT;
        if !retryable(&outcome) || attempts >= request.max_attempts || no_time {
            return N8nResult {
                outcome,
                attempts,
                latency_ms: started.elapsed().as_millis() as u64,
            };
        }
        tracing::warn!(attempts, ?backoff, "n8n attempt failed; retrying");
        tokio::time::sleep(backoff).await;
    }
}
