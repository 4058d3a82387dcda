//! Small local HTTP servers that stand in for Twilio and LiveKit: they check what they receive
//! (auth, fields, numbers, rule targets), answer as the real services do, errors included, and
//! record every request for tests to read.

pub mod livekit;
pub mod n8n;
pub mod twilio;
pub mod webhook_receiver;

use std::net::SocketAddr;

/// Serves `router` on `address` (port 0: any free port) until the runtime stops.
pub async fn serve(router: axum::Router, address: SocketAddr) -> String {
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .expect("bind a fake");
    let bound = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    format!("http://{bound}")
}
