//! The hot paths' AWS requests, counted at the SDK as the handler sends them (issue 16's goals:
//! counts, not times): the webhook for a known number, a Twilio retry, and a call after what it
//! opens with changed (the context kept beside the route is checked, never trusted).

use gobi_infra::aws_requests::counted;
use gobi_tests::{spawn_telephony_app_with, tokens};
use http::StatusCode;
use serde_json::json;

use super::call_records::raw_expiry;
use super::inbound_calls::{NUMBER, calls, claim, drain, form, line, signed};
use super::{analytics, webhooks};

const INBOUND: &str = "/twilio/webhook/inbound";
const STATUS: &str = "/twilio/webhook/status";

#[tokio::test]
async fn a_known_number_is_answered_after_three_requests_and_a_retry_after_two() {
    // Answered with a media stream, whose parameters name the call.
    let line = line(vec![(
        "TWILIO_MEDIA_STREAM_URL",
        "wss://stream.example.com/media".to_owned(),
    )])
    .await;
    let app = &line.app;
    // The number's first call reads what calls to it open with, and keeps it beside the route.
    let (first, sent) = counted(signed(app, INBOUND, &form("CA1001", NUMBER))).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(
        sent,
        [
            "dynamodb:Query",
            "dynamodb:GetItem",
            "dynamodb:GetItem",
            "dynamodb:TransactWriteItems",
            "sqs:SendMessage"
        ]
    );
    // Every call after it: the route partition, the call's transaction, the handoff.
    let (second, sent) = counted(signed(app, INBOUND, &form("CA1002", NUMBER))).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(
        sent,
        [
            "dynamodb:Query",
            "dynamodb:TransactWriteItems",
            "sqs:SendMessage"
        ]
    );
    let call = calls(app)
        .by_sid("CA1002")
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(
        call.agent_version_id.map(|v| v.to_string()),
        Some(line.version.clone())
    );
    assert!(
        second.text.contains(&call.id.to_string()),
        "{}",
        second.text
    );

    // Twilio's retry of it once the worker has the handoff: two requests, the same answer.
    assert_eq!(drain(app).await, 2);
    let (retry, sent) = counted(signed(app, INBOUND, &form("CA1002", NUMBER))).await;
    assert_eq!(retry.status, StatusCode::OK);
    assert_eq!(sent, ["dynamodb:Query", "dynamodb:TransactWriteItems"]);
    assert_eq!(retry.text, second.text);
    assert_eq!(drain(app).await, 0, "nothing queued again");
}

#[tokio::test]
async fn a_call_opens_with_the_tenant_and_agent_as_they_are_now() {
    let line = line(vec![]).await;
    let app = &line.app;
    let admin = tokens::admin();
    assert_eq!(
        signed(app, INBOUND, &form("CA2001", NUMBER)).await.status,
        StatusCode::OK
    );

    // A new retention and a new active version after the number's context was kept.
    let tenant_path = format!("/api/tenants/{}", line.tenant);
    let updated = app
        .put(&tenant_path, &admin, json!({"retentionDays": 45}))
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    let v2 = app
        .post(
            &format!("/internal/agents/{}/versions", line.agent),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(v2.status, StatusCode::CREATED, "{}", v2.text);
    let v2 = v2.body["data"]["id"].as_str().unwrap().to_owned();
    let published = app
        .post(
            &format!("/internal/agents/{}/versions/{v2}/publish", line.agent),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.text);

    // The next call's transaction finds the context stale, reads it again and writes it with
    // the call; the one after is back to three requests.
    let (answer, sent) = counted(signed(app, INBOUND, &form("CA2002", NUMBER))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert_eq!(
        sent,
        [
            "dynamodb:Query",
            "dynamodb:TransactWriteItems",
            "dynamodb:GetItem",
            "dynamodb:GetItem",
            "dynamodb:TransactWriteItems",
            "sqs:SendMessage"
        ]
    );
    let call = calls(app)
        .by_sid("CA2002")
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(
        (
            call.retention_days,
            call.agent_version_id.map(|v| v.to_string())
        ),
        (45, Some(v2.clone()))
    );
    let (_, sent) = counted(signed(app, INBOUND, &form("CA2003", NUMBER))).await;
    assert_eq!(sent.len(), 3, "{sent:?}");
    let call = calls(app)
        .by_sid("CA2003")
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(
        (
            call.retention_days,
            call.agent_version_id.map(|v| v.to_string())
        ),
        (45, Some(v2))
    );

    // A legal hold on the tenant: the next call is opened under it (no expiry on its record).
    let held = app
        .post(
            &format!("/internal/tenants/{}/legal-hold", line.tenant),
            &admin,
            json!({"reason": "Regulator request"}),
        )
        .await;
    assert_eq!(held.status, StatusCode::ACCEPTED, "{}", held.text);
    assert_eq!(
        signed(app, INBOUND, &form("CA2004", NUMBER)).await.status,
        StatusCode::OK
    );
    let call = calls(app)
        .by_sid("CA2004")
        .await
        .unwrap()
        .expect("recorded");
    assert_eq!(
        raw_expiry(app, &line.tenant, format!("CALL#{}", call.id)).await,
        None,
        "a held tenant's call does not expire"
    );

    // A deactivated tenant: refused, nothing written.
    let off = app.delete(&tenant_path, &admin).await;
    assert_eq!(off.status, StatusCode::OK, "{}", off.text);
    let refused = signed(app, INBOUND, &form("CA2005", NUMBER)).await;
    assert!(refused.text.contains("<Reject"), "{}", refused.text);
    assert!(calls(app).by_sid("CA2005").await.unwrap().is_none());
}

#[tokio::test]
async fn a_tenant_s_runtime_claims_its_dispatch_in_one_request() {
    let line = line(vec![]).await;
    let app = &line.app;
    assert_eq!(
        signed(app, INBOUND, &form("CA3001", NUMBER)).await.status,
        StatusCode::OK
    );
    drain(app).await;
    let call = calls(app)
        .by_sid("CA3001")
        .await
        .unwrap()
        .expect("recorded");
    let dispatch = call.dispatch_id.expect("dispatched").to_string();
    let runtime = tokens::internal("internal_operator", &line.tenant);
    let (claimed, sent) = counted(claim(app, &runtime, &dispatch)).await;
    assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.text);
    assert_eq!(sent, ["dynamodb:UpdateItem"]);
    // Another tenant's token finds nothing under its own key: absent, still one request.
    let other = tokens::internal("internal_operator", &uuid::Uuid::now_v7().to_string());
    let (absent, sent) = counted(claim(app, &other, &dispatch)).await;
    assert_eq!(absent.status, StatusCode::NOT_FOUND, "{}", absent.text);
    assert_eq!(sent, ["dynamodb:UpdateItem"]);
}

#[tokio::test]
async fn a_tool_execution_reads_the_call_once_and_records_in_one_transaction() {
    let s = super::automation::setup(vec![]).await;
    let integration = s.integration().await;
    let tool = s.tool("lookup_order", "ok", &integration).await;
    let (done, sent) = counted(s.execute(&tool, json!({"order": "12345"}))).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
    assert_eq!(
        sent,
        [
            // The call (with its expiry), then the tool.
            "dynamodb:GetItem",
            "dynamodb:GetItem",
            // The per-call rate limit's slot.
            "dynamodb:UpdateItem",
            // The integration, and its sealed secret.
            "dynamodb:GetItem",
            "kms:Decrypt",
            // The tool's sealed headers.
            "kms:Decrypt",
            // `started` on the call's timeline; n8n; then the record, `finished` and the counters.
            "dynamodb:TransactWriteItems",
            "dynamodb:TransactWriteItems",
        ]
    );
    let timeline = s
        .app
        .get(
            &format!("/client/calls/{}", s.call),
            &tokens::client_viewer(&s.tenant),
        )
        .await;
    assert_eq!(timeline.status, StatusCode::OK, "{}", timeline.text);
    let kinds: Vec<&str> = timeline.body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["kind"].as_str())
        .collect();
    assert_eq!(kinds, ["tool_execution_started", "tool_execution_finished"]);
}

#[tokio::test]
async fn kpis_and_analytics_over_ninety_days_take_two_requests() {
    let line = line(vec![]).await;
    let app = &line.app;
    // A call now and then over the last ninety days: 89 days ago, 60, 30, yesterday, today.
    for (i, advance) in [0, 29, 30, 29, 1].into_iter().enumerate() {
        app.clock.advance(chrono::Duration::days(advance));
        assert_eq!(
            signed(app, INBOUND, &form(&format!("CA40{i:02}"), NUMBER))
                .await
                .status,
            StatusCode::OK
        );
    }
    let viewer = tokens::client_viewer(&line.tenant);
    let today = app.clock.now().date_naive();
    let from = today - chrono::Duration::days(89);
    for path in [
        format!("/client/kpis?from={from}&to={today}"),
        format!("/client/analytics?groupBy=agent&from={from}&to={today}"),
        format!(
            "/api/tenants/{}/analytics?groupBy=version&from={from}&to={today}",
            line.tenant
        ),
    ] {
        let (answer, sent) = counted(app.get(&path, &viewer)).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
        assert_eq!(sent, ["dynamodb:GetItem", "dynamodb:Query"], "{path}");
        assert!(
            answer.text.contains("\"calls\":5") || answer.text.contains("\"calls\": 5"),
            "{path}: {}",
            answer.text
        );
    }
}

#[tokio::test]
async fn a_status_callback_that_answers_and_ends_a_call_queues_both_events_in_one_request() {
    let (app, _fakes) =
        spawn_telephony_app_with(true, vec![("TWILIO_VALIDATE_SIGNATURE", "true".into())]).await;
    let app = &app;
    let number = "+15557653101";
    let (tenant, _, _) = analytics::line(app, "batched", "UTC", number).await;
    let (receiver, url) = webhooks::receiver(0).await;
    webhooks::add_endpoint(app, &tenant, &url, json!(["call.answered", "call.ended"])).await;
    analytics::ring(app, &tenant, "CAbatch0001", number).await;
    app.drain_handoffs().await;
    app.drain_webhooks().await;
    assert!(
        receiver.received().is_empty(),
        "call.started is not subscribed"
    );

    // Twilio's only callback for a call it saw answered and end: both events, one request.
    let completed = [
        ("CallSid", "CAbatch0001"),
        ("CallStatus", "completed"),
        ("CallDuration", "30"),
    ];
    // The call found by its CallSid (marker, then the call), the conditional write, ...
    let found_and_written = [
        "dynamodb:GetItem",
        "dynamodb:GetItem",
        "dynamodb:TransactWriteItems",
    ];
    let ((), sent) = counted(analytics::twilio(app, STATUS, &completed)).await;
    assert_eq!(
        sent,
        [
            found_and_written.as_slice(),
            // ... the call as it now is, and its two events.
            &["dynamodb:GetItem", "sqs:SendMessageBatch"]
        ]
        .concat()
    );
    app.drain_webhooks().await;
    let mut kinds: Vec<String> = receiver
        .received()
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap_or_default().to_owned())
        .collect();
    kinds.sort();
    assert_eq!(kinds, ["call.answered", "call.ended"]);
    // Repeated, it changes nothing and queues nothing (its second conditional write is the
    // one for a call answered before).
    let ((), sent) = counted(analytics::twilio(app, STATUS, &completed)).await;
    assert_eq!(
        sent,
        [
            found_and_written.as_slice(),
            &["dynamodb:TransactWriteItems"]
        ]
        .concat()
    );
    assert_eq!(app.drain_webhooks().await, 0);
}
