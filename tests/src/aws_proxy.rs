//! A counting proxy in front of an AWS stand-in (DynamoDB Local, moto), for the bench: the
//! function binaries under measurement are given its address as their AWS endpoint, so every
//! request they send passes here and is counted (by operation: `X-Amz-Target`, or the method
//! for S3) before it is forwarded as it came. The local stand-ins do not check SigV4, so the
//! changed host costs nothing.
//!
//! Like any HTTP proxy it keeps hop-by-hop headers (RFC 9110 §7.6.1) to its own hop. That
//! matters here: moto's server (Werkzeug) answers every request with `Connection: close`, and
//! passed on, that would make the function under measurement open a new connection for every
//! SQS, KMS or S3 request, where AWS keeps its connections open. The proxy's connection to the
//! function stays open whatever the stand-in does with its own.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

#[derive(Clone)]
struct Upstream {
    base: String,
    client: reqwest::Client,
    seen: Arc<Mutex<Vec<String>>>,
}

/// One stand-in behind a proxy that counts what passes.
pub struct CountingProxy {
    url: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl CountingProxy {
    /// Forwards to `upstream` (`http://host:port`) from a free loopback port.
    pub async fn start(upstream: &str) -> anyhow::Result<Self> {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = Upstream {
            base: upstream.trim_end_matches('/').to_owned(),
            client: gobi_shared::https::client_builder().build()?,
            seen: seen.clone(),
        };
        let router = Router::new().fallback(forward).with_state(state);
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(Self { url, seen })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// The operations forwarded so far, in order.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// How many requests were forwarded so far.
    pub fn count(&self) -> usize {
        self.seen.lock().map(|s| s.len()).unwrap_or_default()
    }
}

async fn forward(
    State(upstream): State<Upstream>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let operation = headers
        .get("x-amz-target")
        .and_then(|t| t.to_str().ok())
        .map(|t| t.rsplit('.').next().unwrap_or(t).to_owned())
        .unwrap_or_else(|| format!("{method} {}", uri.path()));
    if let Ok(mut seen) = upstream.seen.lock() {
        seen.push(operation);
    }
    let path = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let mut request = upstream
        .client
        .request(method, format!("{}{path}", upstream.base))
        .body(body);
    for (name, value) in &headers {
        if name != "host" && name != "content-length" && !hop_by_hop(&headers, name) {
            request = request.header(name, value);
        }
    }
    match request.send().await {
        Ok(answer) => {
            let status = answer.status();
            let mut out = HeaderMap::new();
            for (name, value) in answer.headers() {
                if name != "content-length" && !hop_by_hop(answer.headers(), name) {
                    out.insert(name, value.clone());
                }
            }
            let body = answer.bytes().await.unwrap_or_default();
            (status, out, body).into_response()
        }
        Err(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
    }
}

/// Whether `name` belongs to one hop only: the headers RFC 9110 §7.6.1 names, and any the
/// message's own `Connection` header lists.
fn hop_by_hop(headers: &HeaderMap, name: &HeaderName) -> bool {
    const ALWAYS: [&str; 7] = [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
    ];
    ALWAYS.contains(&name.as_str())
        || headers
            .get_all(header::CONNECTION)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|listed| listed.trim().eq_ignore_ascii_case(name.as_str()))
}
