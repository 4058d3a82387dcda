//! The BOLA matrix: every operation of the OpenAPI document that addresses a tenant's object is
//! sent, with tenant A's real objects, by four callers of tenant B — its `client_viewer`, a
//! non-internal user naming a staff role, and B-bound `internal_operator` and `internal_admin`
//! tokens (no platform account). None gets a 2xx or any of A's data, and A reads the same
//! afterwards. The same requests by a platform token then succeed, so the matrix proves
//! something. An operation the document lists but this file does not cover fails the test.
//!
//! Longer than 600 lines on purpose: each test here is a whole story of this area against the
//! local stack (setup, requests, what the stores hold afterwards), and they share one setup.

use gobi_infra::aws_requests::as_function;
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use gobi_handoff_worker::WorkerState;
use gobi_tests::fakes::{self, n8n::FakeN8n};
use gobi_tests::{TestApp, WEBHOOK_BASE, spawn_telephony_app_with, tokens};
use gobi_twilio_webhook::signature;
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};

const NUMBER: &str = "+15557650101";
const SPARE_NUMBER: &str = "+15557650102";
const AUTH_TOKEN: &str = "twilio-test-token";
const AGENT_NAME: &str = "Bola Reception of A";
const TRANSCRIPT: &str = "bola secret words of tenant A";
const TOOL: &str = "bola_lookup";
const LEAD: &str = "+14155550177";
const SUPPRESSED: &str = "+14155550178";

/// Operations that address no tenant's object, and why.
const NOT_TENANT_SCOPED: &[(&str, &str)] = &[
    ("GET /health", "public"),
    ("GET /health/db", "public"),
    (
        "POST /auth/register-first-admin",
        "public setup, no tenant addressed",
    ),
    ("POST /auth/login", "public"),
    ("POST /auth/bootstrap/user", "bootstrap key, not a token"),
    ("POST /internal/dev/token", "dev bootstrap key, not a token"),
    (
        "POST /twilio/webhook/inbound",
        "Twilio signature, not a token",
    ),
    (
        "POST /twilio/webhook/status",
        "Twilio signature, not a token",
    ),
    (
        "POST /twilio/webhook/outbound",
        "Twilio signature, not a token",
    ),
    (
        "GET /api/tenants",
        "lists tenants: platform account only (tenants.rs)",
    ),
    (
        "POST /api/tenants",
        "creates a tenant: platform account only (tenants.rs)",
    ),
];

/// A's objects, by the path parameter names the document uses.
struct World {
    app: TestApp,
    tenant: String,
    ids: BTreeMap<&'static str, String>,
    call: String,
}

impl World {
    fn fill(&self, template: &str) -> String {
        let mut out = template.to_owned();
        for (name, value) in &self.ids {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        out
    }
}

/// One request of the matrix: method, path (document template), query, body; and whether it
/// changes or removes something, so the platform's pass runs it last.
struct Case {
    method: Method,
    template: &'static str,
    query: String,
    body: Option<Value>,
    destructive: bool,
    /// A path parameter filled from another of A's objects than the one its name gives
    /// (`(parameter, world key)`): a draft to delete while the other is started.
    other_object: Option<(&'static str, &'static str)>,
}

fn case(method: Method, template: &'static str, query: &str, body: Option<Value>) -> Case {
    Case {
        method,
        template,
        query: query.to_owned(),
        body,
        destructive: false,
        other_object: None,
    }
}

fn on(mut c: Case, parameter: &'static str, world_key: &'static str) -> Case {
    c.other_object = Some((parameter, world_key));
    c
}

fn last(mut c: Case) -> Case {
    c.destructive = true;
    c
}

fn cases(w: &World) -> Vec<Case> {
    let t = &w.tenant;
    let call = &w.call;
    let integration = &w.ids["integrationId"];
    let dispatch = &w.ids["dispatchId"];
    let agent = &w.ids["agentId"];
    let version = &w.ids["versionId"];
    let tenant_q = format!("tenant_id={t}");
    let today = w.app.clock.now().date_naive();
    use Method as M;
    vec![
        case(M::GET, "/api/tenants/{id}", "", None),
        case(
            M::PUT,
            "/api/tenants/{id}",
            "",
            Some(json!({"description": "changed"})),
        ),
        case(M::PATCH, "/api/tenants/{id}/activate", "", None),
        case(M::GET, "/api/tenants/{id}/agents", "", None),
        case(
            M::POST,
            "/api/tenants/{id}/agents",
            "",
            Some(
                json!({"name": "Intruder", "llmProvider": "openai", "llmModel": "gpt-4o-mini", "voiceProvider": "elevenlabs", "voiceId": "v1"}),
            ),
        ),
        case(M::GET, "/api/tenants/{id}/agents/{agentId}", "", None),
        case(
            M::PUT,
            "/api/tenants/{id}/agents/{agentId}",
            "",
            Some(json!({"description": "changed"})),
        ),
        case(
            M::GET,
            "/api/tenants/{id}/agents/{agentId}/events",
            "",
            None,
        ),
        case(M::GET, "/internal/agents/{agentId}/versions", "", None),
        case(
            M::POST,
            "/internal/agents/{agentId}/versions",
            "",
            Some(json!({})),
        ),
        case(
            M::POST,
            "/internal/agents/{agentId}/versions/{versionId}/publish",
            "",
            None,
        ),
        case(
            M::POST,
            "/internal/agents/{agentId}/versions/{versionId}/tools",
            "",
            Some(json!({"tool_ids": [w.ids["toolId"]]})),
        ),
        case(
            M::GET,
            "/api/tenants/{id}/phone-numbers/available",
            "type=LOCAL&limit=5",
            None,
        ),
        case(
            M::POST,
            "/api/tenants/{id}/phone-numbers",
            "",
            Some(json!({"number": SPARE_NUMBER})),
        ),
        case(M::GET, "/api/tenants/{id}/phone-numbers", "", None),
        case(
            M::GET,
            "/api/tenants/{id}/phone-numbers/{phoneId}",
            "",
            None,
        ),
        case(
            M::PUT,
            "/api/tenants/{id}/phone-numbers/{phoneId}",
            "",
            Some(json!({"label": "changed"})),
        ),
        case(M::GET, "/internal/phone-numbers", &tenant_q, None),
        case(
            M::POST,
            "/internal/phone-numbers",
            "",
            Some(
                json!({"tenant_id": t, "e164": "+15557650103", "twilio_sid": format!("PN{}", "b".repeat(32))}),
            ),
        ),
        case(
            M::PATCH,
            "/internal/phone-numbers/{phoneNumberId}/agent",
            "",
            Some(json!({"agent_id": agent})),
        ),
        case(
            M::POST,
            "/internal/integrations/n8n/test",
            "",
            Some(
                json!({"tenant_id": t, "base_url": w.ids["n8nUrl"], "auth_type": "none", "name": "Other n8n"}),
            ),
        ),
        case(M::GET, "/internal/integrations", &tenant_q, None),
        case(M::GET, "/internal/integrations/{integrationId}", "", None),
        case(
            M::POST,
            "/internal/tools",
            "",
            Some(
                json!({"tenant_id": t, "name": "bola_second", "description": "d", "input_schema": {"type": "object"}}),
            ),
        ),
        case(M::GET, "/internal/tools", &tenant_q, None),
        case(M::GET, "/internal/tools/{toolId}", "", None),
        case(
            M::PUT,
            "/internal/tools/{toolId}",
            "",
            Some(json!({"description": "changed"})),
        ),
        case(
            M::POST,
            "/internal/tools/{toolId}/endpoints",
            "",
            Some(
                json!({"integration_id": integration, "webhook_path": "/webhook/ok", "headers_template": {"X-Api-Key": "a-key"}}),
            ),
        ),
        case(
            M::GET,
            "/internal/automation/tools/catalog",
            &format!("call_id={call}"),
            None,
        ),
        case(
            M::POST,
            "/internal/automation/tools/{toolId}/execute",
            "",
            Some(json!({"call_id": call, "input_json": {"order": "1"}})),
        ),
        case(
            M::POST,
            "/internal/automation/tools/by-name/{toolName}/execute",
            "",
            Some(json!({"call_id": call, "input_json": {"order": "2"}})),
        ),
        case(
            M::POST,
            "/internal/runtime/heartbeat",
            "",
            Some(
                json!({"agent_id": agent, "worker_id": "w1", "status": "available", "active_calls": 0, "capacity": 1}),
            ),
        ),
        case(
            M::GET,
            "/internal/runtime/dispatches",
            &format!("call_id={call}"),
            None,
        ),
        case(
            M::POST,
            "/internal/runtime/dispatches/claim",
            "",
            Some(json!({"dispatch_id": dispatch})),
        ),
        case(
            M::POST,
            "/internal/runtime/calls/{callId}/events",
            "",
            Some(json!({"events": [{"event_id": uuid::Uuid::now_v7(), "kind": "agent_joined"}]})),
        ),
        case(
            M::POST,
            "/internal/runtime/calls/{callId}/transcript",
            "",
            Some(
                json!({"segments": [{"sequence": 2, "speaker": "caller", "text": "more", "start_ms": 2000, "end_ms": 2500}]}),
            ),
        ),
        case(
            M::PUT,
            "/internal/runtime/calls/{callId}/recording",
            "",
            Some(
                json!({"storage_uri": "s3://bucket/a.wav", "format": "wav", "duration_seconds": 5, "size_bytes": 100}),
            ),
        ),
        case(
            M::POST,
            "/internal/runtime/calls/{callId}/opt-out",
            "",
            Some(json!({})),
        ),
        case(
            M::POST,
            "/internal/runtime/calls/{callId}/disposition",
            "",
            Some(json!({"code": "appointment_set", "data": {"by": "B"}})),
        ),
        case(M::GET, "/api/tenants/{id}/dispositions", "", None),
        case(
            M::POST,
            "/api/tenants/{id}/dispositions",
            "",
            Some(json!({"code": "b_try", "label": "B's try"})),
        ),
        case(M::GET, "/api/tenants/{id}/dispositions/{code}", "", None),
        case(
            M::PUT,
            "/api/tenants/{id}/dispositions/{code}",
            "",
            Some(json!({"label": "changed by B", "suppress": true})),
        ),
        last(case(
            M::DELETE,
            "/api/tenants/{id}/dispositions/{code}",
            "",
            None,
        )),
        case(M::GET, "/api/tenants/{id}/webhooks", "", None),
        case(
            M::POST,
            "/api/tenants/{id}/webhooks",
            "",
            Some(json!({"url": "http://127.0.0.1:9/b", "eventTypes": ["call.started"]})),
        ),
        case(M::GET, "/api/tenants/{id}/webhooks/{endpointId}", "", None),
        case(
            M::PUT,
            "/api/tenants/{id}/webhooks/{endpointId}",
            "",
            Some(json!({"url": "http://127.0.0.1:9/b-took-it"})),
        ),
        case(
            M::GET,
            "/api/tenants/{id}/webhooks/{endpointId}/deliveries",
            "",
            None,
        ),
        case(
            M::GET,
            "/api/tenants/{id}/webhooks/{endpointId}/deliveries/{deliveryId}",
            "",
            None,
        ),
        last(case(
            M::POST,
            "/api/tenants/{id}/webhooks/{endpointId}/deliveries/{deliveryId}/redeliver",
            "",
            None,
        )),
        last(case(
            M::POST,
            "/api/tenants/{id}/webhooks/{endpointId}/rotate-secret",
            "",
            None,
        )),
        last(case(
            M::DELETE,
            "/api/tenants/{id}/webhooks/{endpointId}",
            "",
            None,
        )),
        case(M::GET, "/api/tenants/{id}/lead-lists", "", None),
        case(
            M::POST,
            "/api/tenants/{id}/lead-lists",
            "",
            Some(json!({"name": "B's try"})),
        ),
        case(M::GET, "/api/tenants/{id}/lead-lists/{listId}", "", None),
        case(
            M::PUT,
            "/api/tenants/{id}/lead-lists/{listId}",
            "",
            Some(json!({"description": "changed"})),
        ),
        case(
            M::GET,
            "/api/tenants/{id}/lead-lists/{listId}/leads",
            "",
            None,
        ),
        case(
            M::GET,
            "/api/tenants/{id}/lead-lists/{listId}/leads/{leadId}",
            "",
            None,
        ),
        case(
            M::POST,
            "/api/tenants/{id}/lead-lists/{listId}/leads",
            "",
            Some(json!({"phoneNumber": "+14155550180"})),
        ),
        case(
            M::PATCH,
            "/api/tenants/{id}/lead-lists/{listId}/leads/{leadId}",
            "",
            Some(json!({"tags": ["vip"]})),
        ),
        last(case(
            M::DELETE,
            "/api/tenants/{id}/lead-lists/{listId}/leads/{leadId}",
            "",
            None,
        )),
        case(
            M::POST,
            "/api/tenants/{id}/lead-lists/{listId}/imports",
            "",
            Some(json!({"sizeBytes": 10})),
        ),
        case(
            M::GET,
            "/api/tenants/{id}/lead-lists/{listId}/imports/{importId}",
            "",
            None,
        ),
        case(
            M::POST,
            "/api/tenants/{id}/lead-lists/{listId}/imports/{importId}/start",
            "",
            None,
        ),
        case(
            M::GET,
            "/api/tenants/{id}/lead-lists/{listId}/imports/{importId}/errors",
            "",
            None,
        ),
        case(M::GET, "/api/tenants/{id}/suppressions", "", None),
        case(
            M::POST,
            "/api/tenants/{id}/suppressions",
            "",
            Some(json!({"phoneNumber": "+14155550179", "reason": "manual"})),
        ),
        case(M::GET, "/api/tenants/{id}/suppressions/{number}", "", None),
        case(
            M::POST,
            "/api/tenants/{id}/suppressions/imports",
            "",
            Some(json!({"sizeBytes": 10})),
        ),
        case(
            M::GET,
            "/api/tenants/{id}/suppressions/imports/{suppressionImportId}",
            "",
            None,
        ),
        case(
            M::POST,
            "/api/tenants/{id}/suppressions/imports/{suppressionImportId}/start",
            "",
            None,
        ),
        case(
            M::GET,
            "/api/tenants/{id}/suppressions/imports/{suppressionImportId}/errors",
            "",
            None,
        ),
        last(case(
            M::DELETE,
            "/api/tenants/{id}/suppressions/{number}",
            "",
            None,
        )),
        case(M::GET, "/api/tenants/{id}/campaigns", "", None),
        case(
            M::POST,
            "/api/tenants/{id}/calls",
            "",
            Some(json!({"agentId": agent, "to": callable_now(w), "callerId": NUMBER})),
        ),
        case(
            M::POST,
            "/api/tenants/{id}/campaigns",
            "",
            Some(
                json!({"name": "B's try", "agentId": agent, "schedule": {"windows": [{"days": ["mon"], "start": "09:00", "end": "17:00"}], "timezone": "America/New_York"}, "direction": "inbound", "callerIds": [NUMBER]}),
            ),
        ),
        case(M::GET, "/api/tenants/{id}/campaigns/{campaignId}", "", None),
        case(
            M::GET,
            "/api/tenants/{id}/campaigns/{campaignId}/report",
            "",
            None,
        ),
        case(
            M::PUT,
            "/api/tenants/{id}/campaigns/{campaignId}",
            "",
            Some(json!({"name": "changed"})),
        ),
        case(
            M::POST,
            "/api/tenants/{id}/campaigns/{campaignId}/duplicate",
            "",
            None,
        ),
        case(
            M::GET,
            "/api/tenants/{id}/campaigns/{campaignId}/leads",
            "",
            None,
        ),
        case(
            M::GET,
            "/api/tenants/{id}/campaigns/{campaignId}/leads/{leadId}/attempts",
            "",
            None,
        ),
        last(case(
            M::POST,
            "/api/tenants/{id}/campaigns/{campaignId}/start",
            "",
            None,
        )),
        last(case(
            M::POST,
            "/api/tenants/{id}/campaigns/{campaignId}/pause",
            "",
            None,
        )),
        last(case(
            M::POST,
            "/api/tenants/{id}/campaigns/{campaignId}/resume",
            "",
            None,
        )),
        last(case(
            M::POST,
            "/api/tenants/{id}/campaigns/{campaignId}/cancel",
            "",
            None,
        )),
        last(on(
            case(
                M::DELETE,
                "/api/tenants/{id}/campaigns/{campaignId}",
                "",
                None,
            ),
            "campaignId",
            "draftCampaignId",
        )),
        case(M::GET, "/client/calls", &tenant_q, None),
        case(M::GET, "/client/calls/{callId}", &tenant_q, None),
        case(M::GET, "/client/calls/{callId}/transcript", &tenant_q, None),
        case(M::GET, "/client/calls/{callId}/recording", &tenant_q, None),
        case(
            M::GET,
            "/client/kpis",
            &format!("{tenant_q}&from={today}&to={today}"),
            None,
        ),
        case(
            M::GET,
            "/client/analytics",
            &format!("{tenant_q}&groupBy=agent"),
            None,
        ),
        case(
            M::GET,
            "/api/tenants/{id}/analytics",
            "groupBy=version",
            None,
        ),
        case(
            M::GET,
            "/api/tenants/{id}/agents/{agentId}/compare",
            &format!("versionA={version}&versionB={version}"),
            None,
        ),
        last(case(
            M::POST,
            "/internal/calls/{callId}/legal-hold",
            "",
            Some(json!({"reason": "matter 1"})),
        )),
        last(case(
            M::DELETE,
            "/internal/calls/{callId}/legal-hold",
            "",
            None,
        )),
        last(case(
            M::POST,
            "/internal/tenants/{tenantId}/legal-hold",
            "",
            Some(json!({"reason": "matter 2"})),
        )),
        last(case(
            M::DELETE,
            "/internal/tenants/{tenantId}/legal-hold",
            "",
            None,
        )),
        last(case(M::DELETE, "/internal/calls/{callId}", "", None)),
        last(case(
            M::DELETE,
            "/api/tenants/{id}/phone-numbers/{phoneId}",
            "",
            None,
        )),
        last(case(
            M::DELETE,
            "/api/tenants/{id}/agents/{agentId}",
            "",
            None,
        )),
        last(case(
            M::DELETE,
            "/api/tenants/{id}/lead-lists/{listId}",
            "",
            None,
        )),
        last(case(M::DELETE, "/api/tenants/{id}", "", None)),
    ]
}

/// A number whose local time is inside the law's calling hours at the app's clock (the
/// platform's single call must be placed, whenever the suite runs).
fn callable_now(w: &World) -> String {
    use gobi_domain::campaigns::{law, windows};
    let now = w.app.clock.now();
    let any_time = windows::Schedule {
        start_at: None,
        end_at: None,
        windows: vec![windows::Window {
            days: vec![
                windows::Day::Mon,
                windows::Day::Tue,
                windows::Day::Wed,
                windows::Day::Thu,
                windows::Day::Fri,
                windows::Day::Sat,
                windows::Day::Sun,
            ],
            start: chrono::NaiveTime::MIN,
            end: chrono::NaiveTime::from_hms_opt(23, 59, 0).unwrap(),
        }],
        timezone: "UTC".into(),
        blackout_dates: Vec::new(),
    };
    // Los Angeles, New York, London, Berlin, Dubai, Bangalore, Singapore, Tokyo.
    [
        "+14155550100",
        "+12125550100",
        "+442079460018",
        "+4930123456",
        "+97143123456",
        "+918022123456",
        "+6562345678",
        "+81312345678",
    ]
    .into_iter()
    .find(|number| {
        let zones = windows::zones_of(&gobi_domain::leads::timezones::from_number(number), "UTC");
        windows::permit(&any_time, &zones, law::rule_for(number), now).is_some()
    })
    .expect("some number is inside its hours at any moment")
    .to_owned()
}

async fn send(w: &World, c: &Case, token: &str) -> gobi_tests::Answer {
    let template = match c.other_object {
        Some((parameter, key)) => c.template.replace(&format!("{{{parameter}}}"), &w.ids[key]),
        None => c.template.to_owned(),
    };
    let mut uri = w.fill(&template);
    if !c.query.is_empty() {
        uri = format!("{uri}?{}", c.query);
    }
    w.app
        .call(c.method.clone(), &uri, Some(token), c.body.clone())
        .await
}

async fn post_signed(app: &TestApp, path: &str, params: &[(&str, &str)]) -> gobi_tests::Answer {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = signature::compute(AUTH_TOKEN, &format!("{WEBHOOK_BASE}{path}"), &params);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params.iter())
        .finish();
    app.send(
        Request::post(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("x-twilio-signature", signature)
            .body(axum::body::Body::from(body))
            .unwrap(),
    )
    .await
}

fn ok(answer: &gobi_tests::Answer, what: &str) -> Value {
    assert!(
        answer.status.is_success(),
        "{what}: {} {}",
        answer.status,
        answer.text
    );
    answer.body.clone()
}

/// Tenant A with an agent, a published version, a number, an n8n integration, a linked tool on
/// the version's allowlist, and a call (through the signed webhook and the handoff worker) with
/// a dispatch and a transcript.
async fn world() -> (World, FakeN8n) {
    let n8n = FakeN8n::new(Duration::from_millis(4000));
    let n8n_url = fakes::serve(n8n.router(), ([127, 0, 0, 1], 0).into()).await;
    let (app, _fakes) = spawn_telephony_app_with(true, Vec::new()).await;
    let admin = tokens::admin();
    let tenant = app.new_tenant("Bola A", "bola-a").await;
    let (agent, version) = app.published_agent(&tenant, AGENT_NAME).await;
    let number = ok(
        &app.post(
            &format!("/api/tenants/{tenant}/phone-numbers"),
            &admin,
            json!({"number": NUMBER, "agentId": agent}),
        )
        .await,
        "buy",
    )["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let integration = ok(
        &app.post(
            "/internal/integrations/n8n/test",
            &admin,
            json!({"tenant_id": tenant, "base_url": n8n_url, "auth_type": "none", "name": "A n8n"}),
        )
        .await,
        "integration",
    )["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let tool = ok(
        &app.post(
            "/internal/tools",
            &admin,
            json!({"tenant_id": tenant, "name": TOOL, "description": "Looks up orders", "input_schema": {"type": "object"}}),
        )
        .await,
        "tool",
    )["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &app.post(
            &format!("/internal/tools/{tool}/endpoints"),
            &admin,
            json!({"integration_id": integration, "webhook_path": "/webhook/ok", "headers_template": {"X-Api-Key": "a-secret-header"}}),
        )
        .await,
        "link",
    );
    ok(
        &app.post(
            &format!("/internal/agents/{agent}/versions/{version}/tools"),
            &admin,
            json!({"tool_ids": [tool]}),
        )
        .await,
        "allowlist",
    );
    let endpoint = ok(
        &app.post(
            &format!("/api/tenants/{tenant}/webhooks"),
            &admin,
            json!({"url": "http://127.0.0.1:9/a", "eventTypes": ["call.started"]}),
        )
        .await,
        "webhook endpoint",
    )["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let inbound = post_signed(
        &app,
        "/twilio/webhook/inbound",
        &[
            ("AccountSid", "AC00000000000000000000000000000001"),
            ("CallSid", "CA00000000000000000000000000b01a"),
            ("From", "+14158675309"),
            ("To", NUMBER),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
        ],
    )
    .await;
    assert_eq!(inbound.status, StatusCode::OK, "{}", inbound.text);
    let worker = WorkerState::new(
        &app.config,
        app.dynamodb.clone(),
        app.sqs.clone(),
        app.clock.clone(),
    );
    let queue = app.config.handoff_queue_url.clone().unwrap();
    while as_function(
        "HandoffWorkerFunction",
        gobi_handoff_worker::poll_once(&worker, &app.sqs, &queue, 0),
    )
    .await
    .unwrap()
    .received
        > 0
    {}
    let calls = ok(
        &app.get(&format!("/client/calls?tenant_id={tenant}"), &admin)
            .await,
        "calls",
    );
    let call = calls["data"][0]["id"].as_str().unwrap().to_owned();
    // The call's `call.started`, delivered (and failing: nothing listens on port 9).
    app.drain_webhooks().await;
    let delivery = ok(
        &app.get(
            &format!("/api/tenants/{tenant}/webhooks/{endpoint}/deliveries"),
            &admin,
        )
        .await,
        "deliveries",
    )["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dispatch = ok(
        &app.get(
            &format!("/internal/runtime/dispatches?call_id={call}"),
            &admin,
        )
        .await,
        "dispatch",
    )["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &app.post(
            &format!("/internal/runtime/calls/{call}/transcript"),
            &admin,
            json!({"segments": [{"sequence": 1, "speaker": "caller", "text": TRANSCRIPT, "start_ms": 0, "end_ms": 900}]}),
        )
        .await,
        "transcript",
    );
    let list = ok(
        &app.post(
            &format!("/api/tenants/{tenant}/lead-lists"),
            &admin,
            json!({"name": "A's leads", "defaultCountry": "US"}),
        )
        .await,
        "lead list",
    )["data"]
        .clone();
    let list_id = list["id"].as_str().unwrap().to_owned();
    let leads =
        gobi_domain::leads::store::LeadStore::new(app.dynamodb.clone(), &app.config.tables.leads);
    let list: gobi_domain::leads::model::LeadList = serde_json::from_value(list).unwrap();
    leads
        .add_lead(
            &list,
            &gobi_domain::leads::model::Lead {
                id: LEAD.trim_start_matches('+').to_owned(),
                list_id: list.id,
                tenant_id: list.tenant_id,
                phone_number: LEAD.to_owned(),
                name: Some("Secret Lead Of A".into()),
                external_id: None,
                variables: Default::default(),
                timezone: gobi_domain::leads::timezones::from_number(LEAD),
                consent: Default::default(),
                tags: Vec::new(),
                state: gobi_domain::leads::model::LeadState::Valid,
                created_at: app.clock.now(),
                updated_at: app.clock.now(),
            },
        )
        .await
        .unwrap();
    ok(
        &app.post(
            &format!("/api/tenants/{tenant}/suppressions"),
            &admin,
            json!({"phoneNumber": SUPPRESSED, "reason": "manual"}),
        )
        .await,
        "suppression",
    );
    let import = app
        .send(
            http::Request::post(format!(
                "/api/tenants/{tenant}/lead-lists/{}/imports",
                list.id
            ))
            .header("authorization", format!("Bearer {admin}"))
            .header("content-type", "text/csv")
            .body(axum::body::Body::from(format!("phone\n{LEAD}\n")))
            .unwrap(),
        )
        .await;
    let import = ok(&import, "import")["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let dnc_import = app
        .send(
            http::Request::post(format!("/api/tenants/{tenant}/suppressions/imports"))
                .header("authorization", format!("Bearer {admin}"))
                .header("content-type", "text/csv")
                .body(axum::body::Body::from(format!("phone\n{SUPPRESSED}\n")))
                .unwrap(),
        )
        .await;
    let dnc_import = ok(&dnc_import, "do-not-call import")["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.drain_lead_imports().await;
    let campaign_body = json!({
        "name": "A's campaign", "agentId": agent, "leadListIds": [list_id], "callerIds": [NUMBER],
        "schedule": {"windows": [{"days": ["mon"], "start": "09:00", "end": "17:00"}], "timezone": "America/New_York"},
        "pacing": {"maxConcurrency": 1, "maxCallsPerSecond": 1}
    });
    let campaign = ok(
        &app.post(
            &format!("/api/tenants/{tenant}/campaigns"),
            &admin,
            campaign_body.clone(),
        )
        .await,
        "campaign",
    )["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let draft_campaign = ok(
        &app.post(
            &format!("/api/tenants/{tenant}/campaigns"),
            &admin,
            campaign_body,
        )
        .await,
        "draft campaign",
    )["data"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    ok(
        &app.post(
            &format!("/api/tenants/{tenant}/dispositions"),
            &admin,
            json!({"code": "appointment_set", "label": "Appointment set", "success": true}),
        )
        .await,
        "disposition",
    );
    let ids = BTreeMap::from([
        ("code", "appointment_set".to_owned()),
        ("endpointId", endpoint),
        ("deliveryId", delivery),
        ("campaignId", campaign),
        ("draftCampaignId", draft_campaign),
        ("id", tenant.clone()),
        ("importId", import),
        ("suppressionImportId", dnc_import),
        ("listId", list_id),
        ("leadId", LEAD.trim_start_matches('+').to_owned()),
        ("number", SUPPRESSED.to_owned()),
        ("tenantId", tenant.clone()),
        ("agentId", agent),
        ("versionId", version),
        ("phoneId", number.clone()),
        ("phoneNumberId", number),
        ("toolId", tool),
        ("toolName", TOOL.to_owned()),
        ("integrationId", integration),
        ("callId", call.clone()),
        ("dispatchId", dispatch),
        ("n8nUrl", n8n_url),
    ]);
    (
        World {
            app,
            tenant,
            ids,
            call,
        },
        n8n,
    )
}

/// What the platform reads of A: compared before and after B's attempts.
async fn snapshot(w: &World) -> Vec<Value> {
    let admin = tokens::admin();
    let t = &w.tenant;
    let mut out = Vec::new();
    for path in [
        format!("/api/tenants/{t}"),
        format!("/api/tenants/{t}/agents"),
        w.fill("/api/tenants/{id}/agents/{agentId}"),
        w.fill("/api/tenants/{id}/agents/{agentId}/events"),
        w.fill("/internal/agents/{agentId}/versions"),
        format!("/api/tenants/{t}/phone-numbers"),
        format!("/internal/tools?tenant_id={t}"),
        format!("/internal/integrations?tenant_id={t}"),
        format!("/client/calls?tenant_id={t}"),
        format!("/client/calls/{}?tenant_id={t}", w.call),
        format!("/client/calls/{}/transcript?tenant_id={t}", w.call),
        format!("/internal/runtime/dispatches?call_id={}", w.call),
        w.fill("/api/tenants/{id}/lead-lists/{listId}"),
        w.fill("/api/tenants/{id}/lead-lists/{listId}/leads"),
        format!("/api/tenants/{t}/suppressions"),
        w.fill("/api/tenants/{id}/campaigns/{campaignId}"),
        w.fill("/api/tenants/{id}/dispositions"),
        format!("/client/analytics?tenant_id={t}&groupBy=agent"),
        format!("/api/tenants/{t}/webhooks"),
        w.fill("/api/tenants/{id}/webhooks/{endpointId}/deliveries/{deliveryId}"),
    ] {
        let answer = w.app.get(&path, &admin).await;
        assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
        out.push(json!({"path": path, "body": answer.body}));
    }
    out
}

/// The operations the served document lists, as `METHOD /path`.
async fn documented(app: &TestApp) -> BTreeSet<String> {
    let doc = app
        .call(Method::GET, "/api-docs/swagger.json", None, None)
        .await
        .body;
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                ops.insert(format!("{} {path}", method.to_uppercase()));
            }
        }
    }
    ops
}

#[tokio::test]
async fn tenant_b_reaches_none_of_tenant_as_objects_and_the_platform_reaches_all() {
    let (w, _n8n) = world().await;
    let b = w.app.new_tenant("Bola B", "bola-b").await;

    // Coverage: every documented operation is in the matrix or named as not tenant-scoped.
    let all = cases(&w);
    let covered: BTreeSet<String> = all
        .iter()
        .map(|c| format!("{} {}", c.method, c.template))
        .chain(NOT_TENANT_SCOPED.iter().map(|(op, _)| op.to_string()))
        .collect();
    let documented = documented(&w.app).await;
    let uncovered: Vec<&String> = documented
        .iter()
        .filter(|op| !covered.contains(*op) && !op.starts_with("GET /api-docs"))
        .collect();
    assert!(
        uncovered.is_empty(),
        "routes without BOLA coverage: {uncovered:?}"
    );
    let stale: Vec<&String> = covered
        .iter()
        .filter(|op| !documented.contains(*op))
        .collect();
    assert!(
        stale.is_empty(),
        "matrix names routes the document lacks: {stale:?}"
    );

    let callers = [
        ("B client_viewer", tokens::client_viewer(&b)),
        (
            "B non-internal user naming a staff role",
            tokens::hs256(&tokens::claims(
                json!({"sub": "b-user", "role": "internal_admin", "is_internal": false, "tenant_id": b}),
            )),
        ),
        (
            "B-bound internal_operator",
            tokens::internal("internal_operator", &b),
        ),
        (
            "B-bound internal_admin",
            tokens::internal("internal_admin", &b),
        ),
    ];
    let secrets = [
        AGENT_NAME,
        TRANSCRIPT,
        NUMBER,
        "bola-a-",
        "a-secret-header",
        "Secret Lead Of A",
        LEAD,
        SUPPRESSED,
    ];
    let before = snapshot(&w).await;
    let mut refusals = 0;
    for c in &all {
        for (who, token) in &callers {
            let answer = send(&w, c, token).await;
            assert!(
                !answer.status.is_success(),
                "{who}: {} {} answered {}: {}",
                c.method,
                c.template,
                answer.status,
                answer.text
            );
            assert!(
                answer.status.is_client_error(),
                "{who}: {} {} answered {}",
                c.method,
                c.template,
                answer.status
            );
            for secret in secrets {
                assert!(
                    !answer.text.contains(secret),
                    "{who}: {} {} leaked {secret}: {}",
                    c.method,
                    c.template,
                    answer.text
                );
            }
            refusals += 1;
        }
    }
    assert_eq!(refusals, all.len() * callers.len());
    assert_eq!(snapshot(&w).await, before, "A is unchanged");

    // The platform account does each of them: the matrix tests real requests.
    let platform = tokens::admin();
    let (safe, destructive): (Vec<&Case>, Vec<&Case>) = all.iter().partition(|c| !c.destructive);
    for c in safe.into_iter().chain(destructive) {
        let answer = send(&w, c, &platform).await;
        assert!(
            answer.status.is_success(),
            "platform: {} {} answered {}: {}",
            c.method,
            c.template,
            answer.status,
            answer.text
        );
    }
}
