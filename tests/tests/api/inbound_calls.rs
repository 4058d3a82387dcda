//! The inbound call path on the local stack: a signed Twilio webhook, the call record, the SQS
//! handoff (moto), the handoff worker, the dispatch, its claim and its expiry.
//!
//! Longer than 600 lines on purpose: each test here is a whole story of this area against the
//! local stack (setup, requests, what the stores hold afterwards), and they share one setup.

use axum::body::Body;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::Duration;
use gobi_domain::calls::{CallStore, DispatchStatus};
use gobi_handoff_worker::WorkerState;
use gobi_infra::aws_requests::as_function;
use gobi_tests::{
    SIP_AUTH_PASSWORD, SIP_AUTH_USERNAME, Telephony, TestApp, WEBHOOK_BASE,
    spawn_telephony_app_with, tokens,
};
use gobi_twilio_webhook::signature;
use http::{Request, StatusCode};
use serde_json::{Value, json};

pub(crate) const NUMBER: &str = "+15557650001";
const AUTH_TOKEN: &str = "twilio-test-token";

pub(crate) struct Line {
    pub(crate) app: TestApp,
    pub(crate) fakes: Telephony,
    pub(crate) tenant: String,
    pub(crate) agent: String,
    pub(crate) version: String,
}

/// A tenant with an agent (version 1 published) answering a bought number; signatures checked.
pub(crate) async fn line(extra: Vec<(&'static str, String)>) -> Line {
    let mut config = vec![("TWILIO_VALIDATE_SIGNATURE", "true".to_owned())];
    config.extend(extra);
    let (app, fakes) = spawn_telephony_app_with(true, config).await;
    let admin = tokens::admin();
    let tenant = app.new_tenant("Line", "line").await;
    let (agent, version) = app.published_agent(&tenant, "Reception").await;
    let bought = app
        .post(
            &format!("/api/tenants/{tenant}/phone-numbers"),
            &admin,
            json!({"number": NUMBER, "agentId": agent}),
        )
        .await;
    assert_eq!(bought.status, StatusCode::CREATED, "{}", bought.text);
    Line {
        app,
        fakes,
        tenant,
        agent,
        version,
    }
}

pub(crate) fn form(call_sid: &str, to: &str) -> Vec<(String, String)> {
    [
        ("AccountSid", "AC00000000000000000000000000000001"),
        ("CallSid", call_sid),
        ("From", "+14158675309"),
        ("To", to),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

fn encode(params: &[(String, String)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

async fn post_form(
    app: &TestApp,
    path: &str,
    params: &[(String, String)],
    signature: Option<String>,
) -> gobi_tests::Answer {
    let mut request =
        Request::post(path).header("content-type", "application/x-www-form-urlencoded");
    if let Some(signature) = signature {
        request = request.header("x-twilio-signature", signature);
    }
    app.send(request.body(Body::from(encode(params))).unwrap())
        .await
}

pub(crate) async fn signed(
    app: &TestApp,
    path: &str,
    params: &[(String, String)],
) -> gobi_tests::Answer {
    let signature = signature::compute(AUTH_TOKEN, &format!("{WEBHOOK_BASE}{path}"), params);
    post_form(app, path, params, Some(signature)).await
}

pub(crate) fn calls(app: &TestApp) -> CallStore {
    CallStore::new(app.dynamodb.clone(), &app.config.tables.calls)
}

fn worker(app: &TestApp) -> WorkerState {
    WorkerState::new(
        &app.config,
        app.dynamodb.clone(),
        app.sqs.clone(),
        app.clock.clone(),
    )
}

/// Runs the worker until the queue is empty; returns how many messages it received.
pub(crate) async fn drain(app: &TestApp) -> usize {
    app.drain_handoffs().await
}

pub(crate) async fn claim(app: &TestApp, token: &str, dispatch: &str) -> gobi_tests::Answer {
    app.post(
        "/internal/runtime/dispatches/claim",
        token,
        json!({"dispatch_id": dispatch}),
    )
    .await
}

#[tokio::test]
async fn one_call_end_to_end() {
    let line = line(vec![
        (
            "TWILIO_MEDIA_STREAM_URL",
            "wss://media.gobi.example/stream".into(),
        ),
        ("TWILIO_MEDIA_STREAM_TOKEN", "stream-secret".into()),
    ])
    .await;
    let app = &line.app;
    let answer = signed(app, "/twilio/webhook/inbound", &form("CA0001", NUMBER)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    assert!(
        answer.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/xml")
    );
    assert!(
        answer
            .text
            .contains(r#"<Connect><Stream url="wss://media.gobi.example/stream">"#),
        "{}",
        answer.text
    );
    assert!(
        answer
            .text
            .contains(r#"<Parameter name="token" value="stream-secret"/>"#)
    );

    let call = calls(app)
        .by_sid("CA0001")
        .await
        .unwrap()
        .expect("the call is recorded");
    assert_eq!(
        (
            call.tenant_id.to_string(),
            call.agent_id.map(|a| a.to_string())
        ),
        (line.tenant.clone(), Some(line.agent.clone()))
    );
    assert!(answer.text.contains(&format!(
        r#"<Parameter name="call_id" value="{}"/>"#,
        call.id
    )));

    assert_eq!(drain(app).await, 1, "one handoff message");
    let runtime = tokens::internal("internal_operator", &line.tenant);
    let found = app
        .get(
            &format!("/internal/runtime/dispatches?call_id={}", call.id),
            &runtime,
        )
        .await;
    assert_eq!(found.status, StatusCode::OK, "{}", found.text);
    let view = &found.body["data"];
    assert_eq!(
        (view["status"].as_str(), view["agent_version_id"].as_str()),
        (Some("pending"), Some(line.version.as_str()))
    );
    assert_eq!(view["room_name"], format!("call-{}", call.id));
    assert!(
        view.get("join_token").is_none(),
        "the lookup never shows the token"
    );
    let dispatch_id = view["id"].as_str().unwrap().to_owned();

    // LiveKit was asked to dispatch the agent, with the dispatch id in the metadata.
    let sent = fakes_dispatches(&line.fakes);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].room, format!("call-{}", call.id));
    assert_eq!(sent[0].agent_name, gobi_tests::LIVEKIT_AGENT);
    let metadata: Value = serde_json::from_str(&sent[0].metadata).unwrap();
    assert_eq!(metadata["dispatch_id"], dispatch_id.as_str());
    assert_eq!(view["livekit_dispatch_id"], sent[0].id.as_str());

    // The claim returns the token once; the record keeps no token.
    let claimed = claim(app, &runtime, &dispatch_id).await;
    assert_eq!(claimed.status, StatusCode::OK, "{}", claimed.text);
    let token = claimed.body["data"]["join_token"].as_str().unwrap();
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(
        (
            claims["video"]["room"].as_str(),
            claims["video"]["roomJoin"].as_bool()
        ),
        (Some(format!("call-{}", call.id).as_str()), Some(true))
    );
    assert_eq!(claimed.body["data"]["dispatch"]["status"], "claimed");
    let again = claim(app, &runtime, &dispatch_id).await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "DISPATCH_ALREADY_CLAIMED")
    );
    let stored = calls(app)
        .dispatch(call.tenant_id, dispatch_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert!(stored.join_token.is_none());
    assert_eq!(stored.status, DispatchStatus::Claimed);
}

fn fakes_dispatches(fakes: &Telephony) -> Vec<livekit_protocol::AgentDispatch> {
    fakes.livekit.state.lock().unwrap().agent_dispatches.clone()
}

#[tokio::test]
async fn forged_or_missing_signatures_write_nothing() {
    let line = line(vec![]).await;
    let app = &line.app;
    let params = form("CA0002", NUMBER);
    let forged = post_form(
        app,
        "/twilio/webhook/inbound",
        &params,
        Some("RSOYDt4T1cUTdK1PDd93/VVr8B8=".into()),
    )
    .await;
    assert_eq!(
        (forged.status, forged.code()),
        (StatusCode::FORBIDDEN, "INVALID_TWILIO_SIGNATURE")
    );
    let missing = post_form(app, "/twilio/webhook/inbound", &params, None).await;
    assert_eq!(missing.status, StatusCode::FORBIDDEN);
    // Signed over other parameters than those sent.
    let mut tampered = params.clone();
    let signature = signature::compute(
        AUTH_TOKEN,
        &format!("{WEBHOOK_BASE}/twilio/webhook/inbound"),
        &params,
    );
    tampered[2].1 = "+19999999999".into();
    assert_eq!(
        post_form(app, "/twilio/webhook/inbound", &tampered, Some(signature))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert!(calls(app).by_sid("CA0002").await.unwrap().is_none());
    assert_eq!(drain(app).await, 0, "nothing queued");
    let status = post_form(
        app,
        "/twilio/webhook/status",
        &[
            ("CallSid".into(), "CA0002".into()),
            ("CallStatus".into(), "completed".into()),
        ],
        None,
    )
    .await;
    assert_eq!(status.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_same_callsid_five_times_makes_one_call_and_one_dispatch() {
    let line = line(vec![]).await;
    let app = &line.app;
    let params = form("CA0003", NUMBER);
    for _ in 0..3 {
        assert_eq!(
            signed(app, "/twilio/webhook/inbound", &params).await.status,
            StatusCode::OK
        );
    }
    let racing =
        futures::future::join_all((0..2).map(|_| signed(app, "/twilio/webhook/inbound", &params)))
            .await;
    assert!(racing.iter().all(|a| a.status == StatusCode::OK));
    // Until the worker has made the dispatch, a retry queues the handoff again (the first
    // send may have been lost); the worker makes one dispatch of them all.
    let messages = drain(app).await;
    assert!((1..=5).contains(&messages), "{messages} handoff messages");
    // Once it has, a retry queues nothing.
    for _ in 0..2 {
        assert_eq!(
            signed(app, "/twilio/webhook/inbound", &params).await.status,
            StatusCode::OK
        );
    }
    assert_eq!(drain(app).await, 0, "no handoff once the dispatch exists");
    let call = calls(app).by_sid("CA0003").await.unwrap().unwrap();
    let runtime = tokens::internal("internal_operator", &line.tenant);
    let dispatch = app
        .get(
            &format!("/internal/runtime/dispatches?call_id={}", call.id),
            &runtime,
        )
        .await;
    assert_eq!(dispatch.status, StatusCode::OK);
    assert_eq!(fakes_dispatches(&line.fakes).len(), 1, "LiveKit asked once");
    // One call for the CallSid: the call list of the tenant holds one.
    let tenant = line.tenant.parse().unwrap();
    assert_eq!(
        calls(app)
            .get(tenant, call.id)
            .await
            .unwrap()
            .unwrap()
            .dispatch_id,
        call.dispatch_id.or(dispatch.body["data"]["id"]
            .as_str()
            .and_then(|d| d.parse().ok()))
    );
}

#[tokio::test]
async fn fifty_concurrent_claims_return_one_token() {
    let line = line(vec![]).await;
    let app = &line.app;
    signed(app, "/twilio/webhook/inbound", &form("CA0004", NUMBER)).await;
    drain(app).await;
    let call = calls(app).by_sid("CA0004").await.unwrap().unwrap();
    let runtime = tokens::internal("internal_operator", &line.tenant);
    let dispatch = app
        .get(
            &format!("/internal/runtime/dispatches?call_id={}", call.id),
            &runtime,
        )
        .await
        .body["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let answers = futures::future::join_all((0..50).map(|_| claim(app, &runtime, &dispatch))).await;
    let tokens_handed: Vec<&str> = answers
        .iter()
        .filter_map(|a| a.body["data"]["join_token"].as_str())
        .collect();
    assert_eq!(tokens_handed.len(), 1);
    assert_eq!(
        answers
            .iter()
            .filter(|a| a.status == StatusCode::CONFLICT)
            .count(),
        49
    );
}

#[tokio::test]
async fn claims_are_tenant_isolated_and_expire() {
    let line = line(vec![("DISPATCH_TTL_SECONDS", "30".into())]).await;
    let app = &line.app;
    signed(app, "/twilio/webhook/inbound", &form("CA0005", NUMBER)).await;
    drain(app).await;
    let call = calls(app).by_sid("CA0005").await.unwrap().unwrap();
    let runtime = tokens::internal("internal_operator", &line.tenant);
    let dispatch = app
        .get(
            &format!("/internal/runtime/dispatches?call_id={}", call.id),
            &runtime,
        )
        .await
        .body["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let elsewhere = tokens::internal("internal_operator", &uuid::Uuid::now_v7().to_string());
    assert_eq!(
        claim(app, &elsewhere, &dispatch).await.code(),
        "DISPATCH_NOT_FOUND"
    );
    assert_eq!(
        app.get(
            &format!("/internal/runtime/dispatches?call_id={}", call.id),
            &elsewhere
        )
        .await
        .code(),
        "CALL_NOT_FOUND"
    );
    assert_eq!(
        claim(app, &tokens::client_viewer(&line.tenant), &dispatch)
            .await
            .code(),
        "INSUFFICIENT_PERMISSIONS"
    );
    assert_eq!(
        claim(app, &runtime, &uuid::Uuid::now_v7().to_string())
            .await
            .code(),
        "DISPATCH_NOT_FOUND"
    );

    app.clock.advance(Duration::seconds(31));
    let late = claim(app, &runtime, &dispatch).await;
    assert_eq!(
        (late.status, late.code()),
        (StatusCode::GONE, "DISPATCH_EXPIRED")
    );
    let scheduler =
        gobi_scheduler::SchedulerState::new(&app.config, app.dynamodb.clone(), app.clock.clone());
    let report = as_function("SchedulerFunction", gobi_scheduler::run(&scheduler))
        .await
        .unwrap();
    assert_eq!(report.dispatches_expired, 1);
    assert_eq!(
        as_function("SchedulerFunction", gobi_scheduler::run(&scheduler))
            .await
            .unwrap()
            .dispatches_expired,
        0,
        "once"
    );
    let stored = calls(app)
        .dispatch(call.tenant_id, dispatch.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.status, DispatchStatus::Expired);
    assert!(stored.join_token.is_none(), "the token is scrubbed");
    assert_eq!(
        claim(app, &runtime, &dispatch).await.status,
        StatusCode::GONE
    );
}

#[tokio::test]
async fn unknown_numbers_and_inactive_tenants_are_rejected() {
    let line = line(vec![]).await;
    let app = &line.app;
    let unknown = signed(
        app,
        "/twilio/webhook/inbound",
        &form("CA0006", "+15557659999"),
    )
    .await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert!(unknown.text.contains("<Reject/>"));
    assert!(calls(app).by_sid("CA0006").await.unwrap().is_none());

    app.delete(&format!("/api/tenants/{}", line.tenant), &tokens::admin())
        .await;
    let inactive = signed(app, "/twilio/webhook/inbound", &form("CA0007", NUMBER)).await;
    assert!(inactive.text.contains("<Reject/>"));
    assert!(calls(app).by_sid("CA0007").await.unwrap().is_none());
    assert_eq!(drain(app).await, 0);
    let incomplete = signed(
        app,
        "/twilio/webhook/inbound",
        &[("CallSid".into(), "CA0008".into())],
    )
    .await;
    assert_eq!(incomplete.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn without_a_stream_calls_dial_livekit_sip_or_hang_up() {
    let line = line(vec![(
        "LIVEKIT_SIP_URI",
        "sip:gobi-test.sip.livekit.cloud".into(),
    )])
    .await;
    let answer = signed(
        &line.app,
        "/twilio/webhook/inbound",
        &form("CA0009", NUMBER),
    )
    .await;
    assert!(
        answer.text.contains(&format!(
            "<Dial><Sip username=\"{SIP_AUTH_USERNAME}\" password=\"{SIP_AUTH_PASSWORD}\">sip:{NUMBER}@gobi-test.sip.livekit.cloud</Sip></Dial>"
        )),
        "{}",
        answer.text
    );

    let plain = line_without_livekit().await;
    let answer = signed(&plain, "/twilio/webhook/inbound", &form("CA0010", NUMBER)).await;
    assert!(
        answer.text.contains("<Say>") && answer.text.contains("<Hangup/>"),
        "{}",
        answer.text
    );
}

async fn line_without_livekit() -> TestApp {
    let (app, _fakes) =
        spawn_telephony_app_with(false, vec![("TWILIO_VALIDATE_SIGNATURE", "true".into())]).await;
    let admin = tokens::admin();
    let tenant = app
        .post(
            "/api/tenants",
            &admin,
            json!({"name": "Plain", "domain": "plain.example"}),
        )
        .await
        .body["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bought = app
        .post(
            &format!("/api/tenants/{tenant}/phone-numbers"),
            &admin,
            json!({"number": NUMBER}),
        )
        .await;
    assert_eq!(bought.status, StatusCode::CREATED, "{}", bought.text);
    app
}

#[tokio::test]
async fn status_callbacks_only_move_calls_forward() {
    let line = line(vec![]).await;
    let app = &line.app;
    signed(app, "/twilio/webhook/inbound", &form("CA0011", NUMBER)).await;
    let status = |s: &str, extra: &[(&str, &str)]| {
        let mut params = vec![
            ("CallSid".to_owned(), "CA0011".to_owned()),
            ("CallStatus".to_owned(), s.to_owned()),
        ];
        params.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        params
    };
    assert_eq!(
        signed(app, "/twilio/webhook/status", &status("in-progress", &[]))
            .await
            .status,
        StatusCode::OK
    );
    signed(
        app,
        "/twilio/webhook/status",
        &status(
            "completed",
            &[
                ("CallDuration", "42"),
                ("Timestamp", "Sat, 21 Nov 2026 06:10:00 +0000"),
            ],
        ),
    )
    .await;
    // Late and repeated callbacks change nothing.
    signed(app, "/twilio/webhook/status", &status("ringing", &[])).await;
    signed(app, "/twilio/webhook/status", &status("in-progress", &[])).await;
    let call = calls(app).by_sid("CA0011").await.unwrap().unwrap();
    assert_eq!(serde_json::to_value(call.status).unwrap(), "completed");
    assert_eq!(call.duration_seconds, Some(42));
    assert!(call.answered_at.is_some());
    assert_eq!(
        call.ended_at.unwrap().to_rfc3339(),
        "2026-11-21T06:10:00+00:00"
    );
    let bad = signed(app, "/twilio/webhook/status", &status("exploded", &[])).await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let unknown = signed(
        app,
        "/twilio/webhook/status",
        &[
            ("CallSid".into(), "CA-nobody".into()),
            ("CallStatus".into(), "completed".into()),
        ],
    )
    .await;
    assert_eq!(
        unknown.status,
        StatusCode::OK,
        "unknown calls are acknowledged and ignored"
    );
}

#[tokio::test]
async fn a_poison_message_is_reported_then_dead_lettered() {
    let line = line(vec![]).await;
    let app = &line.app;
    let queue = app.config.handoff_queue_url.clone().unwrap();
    // Make redelivery immediate so the receive limit is reached quickly.
    app.sqs
        .set_queue_attributes()
        .queue_url(&queue)
        .attributes(
            aws_sdk_sqs::types::QueueAttributeName::VisibilityTimeout,
            "0",
        )
        .send()
        .await
        .unwrap();
    app.sqs
        .send_message()
        .queue_url(&queue)
        .message_body("{\"type\": \"runtime.handoff_requested\", \"broken\": true}")
        .send()
        .await
        .unwrap();
    let state = worker(app);
    let first = as_function(
        "HandoffWorkerFunction",
        gobi_handoff_worker::poll_once(&state, &app.sqs, &queue, 0),
    )
    .await
    .unwrap();
    assert_eq!(
        (first.received, first.failed),
        (1, 1),
        "reported as an item failure"
    );
    for _ in 0..10 {
        as_function(
            "HandoffWorkerFunction",
            gobi_handoff_worker::poll_once(&state, &app.sqs, &queue, 0),
        )
        .await
        .unwrap();
    }
    let dlq = app
        .sqs
        .get_queue_url()
        .queue_name(format!("{}-dlq", queue.rsplit('/').next().unwrap()))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let dead = app
        .sqs
        .receive_message()
        .queue_url(&dlq)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap_or_default();
    assert_eq!(
        dead.len(),
        1,
        "the poison message is in the dead-letter queue"
    );
    assert!(dead[0].body.as_deref().unwrap().contains("broken"));
    assert_eq!(
        as_function(
            "HandoffWorkerFunction",
            gobi_handoff_worker::poll_once(&state, &app.sqs, &queue, 0)
        )
        .await
        .unwrap()
        .received,
        0
    );
}

#[tokio::test]
async fn lambda_fixtures_for_the_function_url_and_sqs() {
    use lambda_http::request::LambdaRequest;
    use lambda_runtime::{Context, LambdaEvent, Service, service_fn};

    let line = line(vec![]).await;
    let app = &line.app;
    // A Function URL event, body base64-encoded as Lambda delivers it, through lambda_http.
    let params = form("CA0012", NUMBER);
    let signature = signature::compute(
        AUTH_TOKEN,
        &format!("{WEBHOOK_BASE}/twilio/webhook/inbound"),
        &params,
    );
    let event = gobi_tests::read_fixture("function-url-twilio-inbound.json")
        .replace("{{SIGNATURE}}", &signature)
        .replace("{{BODY}}", &STANDARD.encode(encode(&params)));
    let payload: LambdaRequest = serde_json::from_str(&event).unwrap();
    let mut adapter = lambda_http::Adapter::from(app.router.clone());
    let response = serde_json::to_value(
        adapter
            .call(LambdaEvent::new(payload, Context::default()))
            .await
            .unwrap(),
    )
    .unwrap();
    assert_eq!(response["statusCode"], 200, "{response}");
    let body = response["body"].as_str().unwrap();
    let body = if response["isBase64Encoded"] == true {
        String::from_utf8(STANDARD.decode(body).unwrap()).unwrap()
    } else {
        body.to_owned()
    };
    assert!(body.contains("<Response>"), "{body}");
    let call = calls(app)
        .by_sid("CA0012")
        .await
        .unwrap()
        .expect("recorded through the Lambda path");

    // An SQS event with the handoff and a poison record, through lambda_runtime.
    let queue = app.config.handoff_queue_url.clone().unwrap();
    let queued = app
        .sqs
        .receive_message()
        .queue_url(&queue)
        .max_number_of_messages(10)
        .send()
        .await
        .unwrap()
        .messages
        .unwrap();
    let handoff = queued[0].body.clone().unwrap();
    let fixture = gobi_tests::read_fixture("sqs-handoff-batch.json")
        .replace("\"{{HANDOFF}}\"", &serde_json::to_string(&handoff).unwrap());
    let sqs_event: aws_lambda_events::sqs::SqsEvent = serde_json::from_str(&fixture).unwrap();
    let state = worker(app);
    let mut handler = service_fn(|event| {
        as_function(
            "HandoffWorkerFunction",
            gobi_handoff_worker::handle(&state, event),
        )
    });
    let result = handler
        .call(LambdaEvent::new(sqs_event, Context::default()))
        .await
        .unwrap();
    let failures: Vec<&str> = result
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failures,
        ["22222222-2222-4222-8222-222222222222"],
        "only the poison record failed"
    );
    let stored = calls(app)
        .get(call.tenant_id, call.id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.dispatch_id.is_some(),
        "the handoff record made a dispatch"
    );
}

#[tokio::test]
async fn the_webhook_refuses_to_start_with_checks_on_and_nothing_to_check_against() {
    let sdk = gobi_shared::dynamo::sdk_config().await;
    for missing in ["TWILIO_AUTH_TOKEN", "TWILIO_WEBHOOK_BASE_URL"] {
        let config = gobi_tests::test_config(&gobi_tests::TestAppOptions {
            extra: vec![(missing, String::new())],
            ..Default::default()
        });
        assert!(config.twilio.validate_signature, "on by default");
        let refused = gobi_twilio_webhook::WebhookState::new(
            &config,
            gobi_shared::dynamo::client(&sdk),
            aws_sdk_sqs::Client::new(&sdk),
            gobi_shared::time::Clock::system(),
        )
        .err()
        .expect("refused to start");
        assert!(
            refused.to_string().contains("TWILIO_VALIDATE_SIGNATURE"),
            "{refused}"
        );
    }
}
