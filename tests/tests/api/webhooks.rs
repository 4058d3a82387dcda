//! Webhooks to the tenant's systems on the local stack: an endpoint's secret shown once, events
//! from real changes (an inbound call through Twilio's webhook), deliveries signed as Standard
//! Webhooks says (checked by the Python `standardwebhooks` package, an independent
//! implementation), retried on the schedule as the clock moves, every attempt recorded,
//! redelivered on request, numbered per endpoint; URLs that reach private addresses refused;
//! an endpoint failing for longer than allowed disabled, and the others told.

use std::process::Command;

use chrono::Duration;
use gobi_tests::fakes::{self, webhook_receiver::WebhookReceiver};
use gobi_tests::{TestApp, spawn_telephony_app_with, tokens};
use http::StatusCode;
use serde_json::{Value, json};

use crate::analytics::{line, ring};

pub(crate) async fn receiver(failures: usize) -> (WebhookReceiver, String) {
    let receiver = WebhookReceiver::failing(failures);
    let base = fakes::serve(receiver.router(), ([127, 0, 0, 1], 0).into()).await;
    (receiver, format!("{base}/hook"))
}

pub(crate) async fn add_endpoint(app: &TestApp, tenant: &str, url: &str, events: Value) -> Value {
    let added = app
        .post(
            &format!("/api/tenants/{tenant}/webhooks"),
            &tokens::admin(),
            json!({"url": url, "eventTypes": events, "description": "CRM"}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    added.body["data"].clone()
}

async fn delivery(app: &TestApp, tenant: &str, endpoint: &str, id: &str) -> Value {
    let read = app
        .get(
            &format!("/api/tenants/{tenant}/webhooks/{endpoint}/deliveries/{id}"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    read.body["data"].clone()
}

/// Moves the clock past the next retry, lets the scheduler queue it, and delivers.
async fn next_round(app: &TestApp, by: Duration) {
    app.clock.advance(by);
    app.tick().await;
    app.drain_webhooks().await;
}

/// The Python `standardwebhooks` package's verdict on a delivery: `ok` or its error.
fn verify_with_python(secret: &str, body: &str, headers: &[(&str, &str)]) -> String {
    let python = gobi_tests::workspace_root().join(".local/venv/bin/python");
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect();
    let script = "import json, sys\n\
        from standardwebhooks.webhooks import Webhook\n\
        secret, body, headers = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])\n\
        try:\n    Webhook(secret).verify(body, headers)\n    print('ok')\n\
        except Exception as e:\n    print(type(e).__name__, e)\n";
    let output = Command::new(python)
        .args([
            "-c",
            script,
            secret,
            body,
            &Value::Object(headers).to_string(),
        ])
        .output()
        .expect("the test venv's python (make test installs standardwebhooks)");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

#[tokio::test]
async fn a_receiver_that_fails_twice_gets_the_event_once_with_every_attempt_recorded() {
    let (app, _fakes) =
        spawn_telephony_app_with(true, vec![("TWILIO_VALIDATE_SIGNATURE", "true".into())]).await;
    let number = "+15557653001";
    let (tenant, _, _) = line(&app, "hooks", "UTC", number).await;
    let (receiver, url) = receiver(2).await;
    let added = add_endpoint(&app, &tenant, &url, json!(["call.started", "call.ended"])).await;
    let endpoint = added["id"].as_str().unwrap().to_owned();
    let secret = added["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{added}");
    assert_eq!(added["secretHint"], secret[..10]);
    // The secret is shown once: never in a read.
    let read = app
        .get(
            &format!("/api/tenants/{tenant}/webhooks/{endpoint}"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(!read.text.contains(&secret), "{}", read.text);

    // A call comes in: `call.started` (from the handoff worker, once the dispatch exists),
    // tried at once and failing.
    let call = ring(&app, &tenant, "CAhook0001", number).await;
    app.drain_handoffs().await;
    app.drain_webhooks().await;
    let deliveries = app
        .get(
            &format!("/api/tenants/{tenant}/webhooks/{endpoint}/deliveries"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(deliveries.status, StatusCode::OK, "{}", deliveries.text);
    let id = deliveries.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let first = delivery(&app, &tenant, &endpoint, &id).await;
    assert_eq!(first["status"], "pending", "{first}");
    assert_eq!(first["sequence"], 1);
    assert_eq!(first["attempts"][0]["statusCode"], 500);
    assert_eq!(
        first["attempts"][0]["responseSnippet"],
        "receiver down for maintenance"
    );
    // Nothing is retried before its time, however often the scheduler runs.
    app.tick().await;
    app.drain_webhooks().await;
    assert_eq!(receiver.received().len(), 1);
    // The schedule's 5 s (±20 %), then 60 s (±20 %).
    next_round(&app, Duration::seconds(7)).await;
    assert_eq!(receiver.received().len(), 2);
    next_round(&app, Duration::seconds(73)).await;
    let received = receiver.received();
    assert_eq!(received.len(), 3);
    assert_eq!(
        received.iter().map(|r| r.status).collect::<Vec<_>>(),
        [500, 500, 200]
    );
    // One event: the same id each time, so the receiver keeps it once.
    let ids: Vec<&str> = received
        .iter()
        .map(|r| r.header("webhook-id").unwrap())
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    let body = received[2].json();
    assert_eq!(body["type"], "call.started");
    assert_eq!(body["data"]["callId"], call.as_str());
    assert_eq!(body["sequence"], 1);
    let done = delivery(&app, &tenant, &endpoint, &id).await;
    assert_eq!(done["status"], "succeeded", "{done}");
    let attempts = done["attempts"].as_array().unwrap();
    assert_eq!(
        attempts
            .iter()
            .map(|a| a["statusCode"].clone())
            .collect::<Vec<_>>(),
        [json!(500), json!(500), json!(200)]
    );
    assert!(attempts.iter().all(|a| a["durationMs"].is_u64()));
    assert_eq!(attempts[2]["responseSnippet"], "thanks");

    // An independent implementation accepts the signature, and refuses a changed body.
    let last = &received[2];
    let headers = [
        ("webhook-id", last.header("webhook-id").unwrap()),
        (
            "webhook-timestamp",
            last.header("webhook-timestamp").unwrap(),
        ),
        (
            "webhook-signature",
            last.header("webhook-signature").unwrap(),
        ),
    ];
    assert_eq!(verify_with_python(&secret, &last.body, &headers), "ok");
    let forged = last.body.replace("call.started", "call.ended");
    assert!(verify_with_python(&secret, &forged, &headers).starts_with("WebhookVerificationError"));

    // Redelivered on request: the same id, a fourth attempt.
    let again = app
        .post(
            &format!("/api/tenants/{tenant}/webhooks/{endpoint}/deliveries/{id}/redeliver"),
            &tokens::admin(),
            json!({}),
        )
        .await;
    assert_eq!(again.status, StatusCode::ACCEPTED, "{}", again.text);
    app.drain_webhooks().await;
    let received = receiver.received();
    assert_eq!(received.len(), 4);
    assert_eq!(received[3].header("webhook-id"), Some(ids[0]));
    assert_eq!(
        delivery(&app, &tenant, &endpoint, &id).await["attempts"]
            .as_array()
            .unwrap()
            .len(),
        4
    );

    // A rotated secret signs what comes next; the old one no longer verifies.
    let rotated = app
        .post(
            &format!("/api/tenants/{tenant}/webhooks/{endpoint}/rotate-secret"),
            &tokens::admin(),
            json!({}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let new_secret = rotated.body["data"]["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    crate::analytics::twilio(
        &app,
        "/twilio/webhook/status",
        &[
            ("CallSid", "CAhook0001"),
            ("CallStatus", "completed"),
            ("CallDuration", "30"),
        ],
    )
    .await;
    app.drain_webhooks().await;
    let received = receiver.received();
    let ended = received.last().unwrap();
    assert_eq!(ended.json()["type"], "call.ended");
    assert_eq!(ended.json()["sequence"], 2, "numbered per endpoint");
    let headers = [
        ("webhook-id", ended.header("webhook-id").unwrap()),
        (
            "webhook-timestamp",
            ended.header("webhook-timestamp").unwrap(),
        ),
        (
            "webhook-signature",
            ended.header("webhook-signature").unwrap(),
        ),
    ];
    assert_eq!(verify_with_python(&new_secret, &ended.body, &headers), "ok");
    assert_ne!(verify_with_python(&secret, &ended.body, &headers), "ok");
}

#[tokio::test]
async fn urls_that_do_not_resolve_or_reach_private_addresses_are_refused() {
    let (app, _fakes) = spawn_telephony_app_with(true, vec![]).await;
    let tenant = app.new_tenant("Hooks refused", "hooks-refused").await;
    for (body, field) in [
        (
            json!({"url": "http://10.0.0.5/hook", "eventTypes": ["call.started"]}),
            "url",
        ),
        (
            json!({"url": "http://192.168.1.20/hook", "eventTypes": ["call.started"]}),
            "url",
        ),
        (
            json!({"url": "http://169.254.169.254/latest/meta-data", "eventTypes": ["call.started"]}),
            "url",
        ),
        (
            json!({"url": "http://[fd00::1]/hook", "eventTypes": ["call.started"]}),
            "url",
        ),
        (
            json!({"url": "https://no-such-host.invalid/hook", "eventTypes": ["call.started"]}),
            "url",
        ),
        (
            json!({"url": "ftp://example.com/hook", "eventTypes": ["call.started"]}),
            "url",
        ),
        (
            json!({"url": "http://127.0.0.1:9/hook", "eventTypes": []}),
            "eventTypes",
        ),
        (json!({"url": "http://127.0.0.1:9/hook"}), "eventTypes"),
    ] {
        let refused = app
            .post(
                &format!("/api/tenants/{tenant}/webhooks"),
                &tokens::admin(),
                body.clone(),
            )
            .await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            refused.text
        );
        assert!(refused.text.contains(field), "{body}: {}", refused.text);
    }
    let unknown = app
        .post(
            &format!("/api/tenants/{tenant}/webhooks"),
            &tokens::admin(),
            json!({"url": "http://127.0.0.1:9/hook", "eventTypes": ["call.exploded"]}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.text);
    let listed = app
        .get(&format!("/api/tenants/{tenant}/webhooks"), &tokens::admin())
        .await;
    assert_eq!(listed.body["data"], json!([]));
}

#[tokio::test]
async fn an_endpoint_that_keeps_failing_is_disabled_and_the_others_are_told() {
    let (app, _fakes) = spawn_telephony_app_with(
        true,
        vec![
            ("TWILIO_VALIDATE_SIGNATURE", "true".into()),
            (
                "WEBHOOK_RETRY_SCHEDULE",
                "10m,10m,10m,10m,10m,10m,10m,10m".into(),
            ),
            ("WEBHOOK_DISABLE_AFTER", "1h".into()),
        ],
    )
    .await;
    let number = "+15557653002";
    let (tenant, _, _) = line(&app, "hooks-down", "UTC", number).await;
    let (down, down_url) = receiver(usize::MAX).await;
    let (up, up_url) = receiver(0).await;
    let events = json!(["call.started", "endpoint.disabled"]);
    let broken = add_endpoint(&app, &tenant, &down_url, events.clone()).await;
    add_endpoint(&app, &tenant, &up_url, events).await;
    let broken = broken["id"].as_str().unwrap().to_owned();
    ring(&app, &tenant, "CAhook0101", number).await;
    app.drain_handoffs().await;
    app.drain_webhooks().await;
    assert_eq!(up.received().len(), 1);
    // Every ten minutes another failure; after an hour of them the endpoint is disabled.
    for _ in 0..7 {
        next_round(&app, Duration::minutes(13)).await;
    }
    let endpoint = app
        .get(
            &format!("/api/tenants/{tenant}/webhooks/{broken}"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(endpoint.body["data"]["active"], false, "{}", endpoint.text);
    assert!(
        endpoint.body["data"]["disabledReason"]
            .as_str()
            .unwrap()
            .starts_with("every delivery failed since"),
        "{}",
        endpoint.text
    );
    let attempts = down.received().len();
    assert!(
        (5..=7).contains(&attempts),
        "{attempts} attempts before it was disabled"
    );
    // The working endpoint is told, as its second event.
    app.drain_webhooks().await;
    let told = up.received();
    assert_eq!(told.len(), 2, "{told:?}");
    let disabled = told[1].json();
    assert_eq!(disabled["type"], "endpoint.disabled");
    assert_eq!(disabled["data"]["endpointId"], broken.as_str());
    assert_eq!(disabled["sequence"], 2);
    // Nothing more goes to the disabled one, and a redelivery is refused until it is on again.
    next_round(&app, Duration::minutes(13)).await;
    assert_eq!(down.received().len(), attempts);
    let deliveries = app
        .get(
            &format!("/api/tenants/{tenant}/webhooks/{broken}/deliveries"),
            &tokens::admin(),
        )
        .await;
    let id = deliveries.body["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let refused = app
        .post(
            &format!("/api/tenants/{tenant}/webhooks/{broken}/deliveries/{id}/redeliver"),
            &tokens::admin(),
            json!({}),
        )
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::CONFLICT, "WEBHOOK_DISABLED")
    );
}

#[tokio::test]
async fn campaign_lead_and_agent_changes_reach_the_webhooks() {
    const LEAD: &str = "+12125550901";
    let d = crate::dialing::started(&[LEAD], json!({}), 440).await;
    let app = &d.app;
    let (receiver, url) = receiver(0).await;
    add_endpoint(
        app,
        &d.tenant,
        &url,
        json!(["lead.completed", "campaign.paused", "agent.offline"]),
    )
    .await;
    // The lead is called, answers, and the call ends: the lead is done.
    crate::dialing::to_monday(app, 15, 0);
    app.tick().await;
    app.drain_dialer().await;
    d.telephony.twilio.answer_calls(&d.base).await;
    d.telephony.twilio.finish_calls(&d.base).await;
    app.drain_webhooks().await;
    // Paused by hand.
    let paused = app
        .post(
            &format!("/api/tenants/{}/campaigns/{}/pause", d.tenant, d.campaign),
            &tokens::admin(),
            json!({}),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.text);
    // The campaign's agent goes quiet: the sweep marks it offline.
    let agent = d.campaign().await["agentId"].as_str().unwrap().to_owned();
    let beat = app
        .post(
            "/internal/runtime/heartbeat",
            &tokens::internal("internal_operator", &d.tenant),
            json!({"agent_id": agent, "worker_id": "w1", "status": "available", "active_calls": 0, "capacity": 4}),
        )
        .await;
    assert_eq!(beat.status, StatusCode::OK, "{}", beat.text);
    app.clock
        .advance(Duration::seconds(app.config.heartbeat_timeout_seconds + 5));
    app.tick().await;
    app.drain_webhooks().await;

    let got: Vec<Value> = receiver.received().iter().map(|r| r.json()).collect();
    let types: Vec<&str> = got.iter().map(|g| g["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["lead.completed", "campaign.paused", "agent.offline"],
        "{got:?}"
    );
    assert_eq!(got[0]["data"]["phoneNumber"], LEAD);
    assert_eq!(got[0]["data"]["outcome"], "answered");
    assert_eq!(got[1]["data"]["pauseReason"], "manual");
    assert_eq!(got[2]["data"]["agentId"], agent.as_str());
    assert_eq!(
        got.iter()
            .map(|g| g["sequence"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
}
