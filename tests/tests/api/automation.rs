//! The automation gateway against DynamoDB Local, moto's KMS and a local stand-in for n8n.
//!
//! Longer than 600 lines on purpose: each test here is a whole story of this area against the
//! local stack (setup, requests, what the stores hold afterwards), and they share one setup.

use std::time::Duration;

use gobi_automation::store::AutomationStore;
use gobi_domain::calls::{Call, CallStatus, CallStore, Direction};
use gobi_shared::ids::{CallId, TenantId};
use gobi_shared::secrets::{SealedFor, SecretBox};
use gobi_tests::fakes::{self, n8n::FakeN8n};
use gobi_tests::{Answer, TestApp, TestAppOptions, spawn_app_with, tokens};
use http::StatusCode;
use serde_json::{Value, json};

const SECRET: &str = "n8n-api-key-very-secret";

pub(crate) struct Setup {
    pub(crate) app: TestApp,
    n8n: FakeN8n,
    n8n_url: String,
    pub(crate) tenant: String,
    agent: String,
    version: String,
    pub(crate) call: CallId,
    staff: String,
    runtime: String,
}

pub(crate) async fn setup(extra: Vec<(&'static str, String)>) -> Setup {
    let n8n = FakeN8n::new(Duration::from_millis(4000));
    let n8n_url = fakes::serve(n8n.router(), ([127, 0, 0, 1], 0).into()).await;
    let app = spawn_app_with(TestAppOptions {
        extra,
        ..Default::default()
    })
    .await;
    let tenant = app.new_tenant("Auto", "auto").await;
    let (agent, version) = app.published_agent(&tenant, "Booker").await;
    let now = app.clock.now();
    let call = Call {
        id: CallId::new(),
        tenant_id: tenant.parse().unwrap(),
        call_sid: format!("CA{}", uuid::Uuid::new_v4().simple()),
        direction: Direction::Inbound,
        from: "+14158675309".into(),
        to: "+15551230000".into(),
        agent_id: Some(agent.parse().unwrap()),
        agent_version_id: None,
        phone_number_id: None,
        timezone: None,
        answered_by: None,
        status: CallStatus::InProgress,
        started_at: now,
        answered_at: Some(now),
        ended_at: None,
        duration_seconds: None,
        dispatch_id: None,
        end_reason: None,
        retention_days: 30,
        legal_hold: None,
        campaign_id: None,
        lead_id: None,
        campaign_attempt: None,
        disposition: None,
        created_at: now,
        updated_at: now,
    };
    CallStore::new(app.dynamodb.clone(), &app.config.tables.calls)
        .open(&call, false)
        .await
        .unwrap();
    let staff = tokens::internal("internal_operator", &tenant);
    Setup {
        runtime: staff.clone(),
        staff,
        app,
        n8n,
        n8n_url,
        tenant,
        agent,
        version,
        call: call.id,
    }
}

impl Setup {
    pub(crate) async fn integration(&self) -> String {
        let answer = self
            .app
            .post(
                "/internal/integrations/n8n/test",
                &self.staff,
                json!({"tenant_id": self.tenant, "base_url": self.n8n_url, "auth_type": "header_token", "secret": SECRET, "name": "Acme n8n"}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// A tool linked to `/webhook/<hook>`, with a 1 s timeout (generous: the machines are shared).
    pub(crate) async fn tool(&self, name: &str, hook: &str, integration: &str) -> String {
        let created = self
            .app
            .post(
                "/internal/tools",
                &self.staff,
                json!({
                    "tenant_id": self.tenant,
                    "name": name,
                    "description": format!("{name} for callers"),
                    "input_schema": {"type": "object", "properties": {"order": {"type": "string", "pattern": "^[0-9]+$"}}, "required": ["order"]},
                    "timeout_ms": 1000
                }),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let id = created.body["data"]["id"].as_str().unwrap().to_owned();
        let linked = self
            .app
            .post(
                &format!("/internal/tools/{id}/endpoints"),
                &self.staff,
                json!({"integration_id": integration, "webhook_path": format!("/webhook/{hook}"), "method": "POST",
                       "headers_template": {"X-Trace": "{{trace_id}}", "X-Call": "{{call_id}}"}}),
            )
            .await;
        assert_eq!(linked.status, StatusCode::OK, "{}", linked.text);
        id
    }

    pub(crate) async fn allow(&self, tools: &[&str]) {
        let answer = self
            .app
            .post(
                &format!(
                    "/internal/agents/{}/versions/{}/tools",
                    self.agent, self.version
                ),
                &tokens::admin(),
                json!({"tool_ids": tools}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }

    pub(crate) async fn execute(&self, tool: &str, input: Value) -> Answer {
        self.app
            .post(
                &format!("/internal/automation/tools/{tool}/execute"),
                &self.runtime,
                json!({"call_id": self.call, "input_json": input, "trace_id": "trace-1"}),
            )
            .await
    }

    /// A tool on an n8n of its own that answers only after 5 s: every attempt times out.
    /// (the stand-in, kept alive by the caller; the tool's id).
    async fn never_answering_tool(&self) -> (FakeN8n, String) {
        let stuck = FakeN8n::new(Duration::from_secs(5));
        let stuck_url = fakes::serve(stuck.router(), ([127, 0, 0, 1], 0).into()).await;
        let integration = self
            .app
            .post(
                "/internal/integrations/n8n/test",
                &self.staff,
                json!({"tenant_id": self.tenant, "base_url": stuck_url, "auth_type": "none"}),
            )
            .await
            .body["data"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        let tool = self.tool("never_answers", "stuck", &integration).await;
        (stuck, tool)
    }

    fn store(&self) -> AutomationStore {
        AutomationStore::new(self.app.dynamodb.clone(), &self.app.config.tables.tools)
    }

    fn tenant_id(&self) -> TenantId {
        self.tenant.parse().unwrap()
    }
}

#[tokio::test]
async fn a_reachable_n8n_is_stored_with_its_secret_encrypted() {
    let s = setup(vec![]).await;
    let id = s.integration().await;
    let health = s.n8n.requests_to("/healthz");
    assert_eq!(health.len(), 1);
    assert_eq!(
        health[0].headers["x-n8n-api-key"], SECRET,
        "the test used the secret"
    );

    let listed = s
        .app
        .get(
            &format!("/internal/integrations?tenant_id={}", s.tenant),
            &s.staff,
        )
        .await;
    assert_eq!(listed.body["data"][0]["id"], id.as_str());
    assert_eq!(listed.body["data"][0]["has_secret"], true);
    assert!(!listed.text.contains(SECRET), "never returned");
    let one = s
        .app
        .get(&format!("/internal/integrations/{id}"), &s.staff)
        .await;
    assert_eq!(
        (one.status, one.body["data"]["base_url"].as_str()),
        (StatusCode::OK, Some(s.n8n_url.as_str()))
    );
    assert!(!one.text.contains(SECRET));
    let outsider = tokens::internal("internal_operator", &TenantId::new().to_string());
    assert_eq!(
        s.app
            .get(
                &format!("/internal/integrations/{}", uuid::Uuid::now_v7()),
                &outsider
            )
            .await
            .code(),
        "INTEGRATION_NOT_FOUND"
    );

    // The item holds only ciphertext, which opens for this tenant and integration only.
    let raw = s
        .store()
        .raw_integration(s.tenant_id(), id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let dump = format!("{raw:?}");
    assert!(!dump.contains(SECRET));
    let ciphertext = raw["secret_ciphertext"].as_s().unwrap().clone();
    let kms = aws_sdk_kms::Client::new(&gobi_shared::dynamo::sdk_config().await);
    let vault = SecretBox::new(kms, s.app.config.kms_key_id.clone().unwrap());
    let opened = vault
        .open(
            s.tenant_id(),
            SealedFor::Integration(id.parse().unwrap()),
            &ciphertext,
        )
        .await
        .unwrap();
    assert_eq!(secrecy::ExposeSecret::expose_secret(&opened), SECRET);
    assert!(
        vault
            .open(
                TenantId::new(),
                SealedFor::Integration(id.parse().unwrap()),
                &ciphertext
            )
            .await
            .is_err(),
        "another tenant's context fails"
    );
    assert!(
        vault
            .open(
                s.tenant_id(),
                SealedFor::Integration(uuid::Uuid::now_v7()),
                &ciphertext
            )
            .await
            .is_err(),
        "another integration's context fails"
    );
}

#[tokio::test]
async fn an_unreachable_n8n_stores_nothing() {
    let s = setup(vec![]).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let answer = s
        .app
        .post("/internal/integrations/n8n/test", &s.staff, json!({"tenant_id": s.tenant, "base_url": format!("http://{closed}"), "auth_type": "bearer", "secret": SECRET}))
        .await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::BAD_GATEWAY, "N8N_UNREACHABLE")
    );
    assert!(
        s.store()
            .integrations(s.tenant_id())
            .await
            .unwrap()
            .is_empty()
    );
    let missing_secret = s
        .app
        .post(
            "/internal/integrations/n8n/test",
            &s.staff,
            json!({"tenant_id": s.tenant, "base_url": s.n8n_url, "auth_type": "basic"}),
        )
        .await;
    assert_eq!(missing_secret.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn unsafe_urls_are_refused_outside_local_mode() {
    let s = setup(vec![("NODE_ENV", "staging".into())]).await;
    for url in [
        "http://127.0.0.1:5678",
        "https://127.0.0.1",
        "http://169.254.169.254",
        "https://169.254.169.254/latest",
        "https://10.1.2.3",
        "https://192.168.0.10",
        "http://n8n.example.com",
        "https://[::1]",
    ] {
        let answer = s
            .app
            .post(
                "/internal/integrations/n8n/test",
                &s.staff,
                json!({"tenant_id": s.tenant, "base_url": url, "auth_type": "none"}),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::BAD_REQUEST,
            "{url}: {}",
            answer.text
        );
        assert_eq!(
            answer.body["error"]["details"][0]["field"], "base_url",
            "{url}"
        );
    }
    assert!(
        s.store()
            .integrations(s.tenant_id())
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        s.n8n.received.lock().unwrap().is_empty(),
        "nothing was called"
    );
}

#[tokio::test]
async fn tools_are_validated_and_unique_per_tenant() {
    let s = setup(vec![]).await;
    let bad_schema = s
        .app
        .post("/internal/tools", &s.staff, json!({"tenant_id": s.tenant, "name": "x", "description": "d", "input_schema": {"type": 5}}))
        .await;
    assert_eq!(bad_schema.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        bad_schema.body["error"]["details"][0]["field"],
        "input_schema"
    );
    let integration = s.integration().await;
    let tool = s.tool("lookup_order", "ok", &integration).await;
    let dup = s.app.post("/internal/tools", &s.staff, json!({"tenant_id": s.tenant, "name": "LOOKUP_ORDER", "description": "d", "input_schema": {"type": "object"}})).await;
    assert_eq!(
        (dup.status, dup.code()),
        (StatusCode::CONFLICT, "TOOL_NAME_EXISTS")
    );
    let listed = s
        .app
        .get(&format!("/internal/tools?tenant_id={}", s.tenant), &s.staff)
        .await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1);
    let updated = s
        .app
        .put(
            &format!("/internal/tools/{tool}"),
            &s.staff,
            json!({"description": "Find an order", "timeout_ms": 800}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(
        (
            updated.body["data"]["description"].as_str(),
            updated.body["data"]["timeout_ms"].as_u64()
        ),
        (Some("Find an order"), Some(800))
    );
    assert_eq!(
        updated.body["data"]["endpoint"]["webhook_path"], "/webhook/ok",
        "the link is kept"
    );
    let got = s
        .app
        .get(&format!("/internal/tools/{tool}"), &s.staff)
        .await;
    assert_eq!(got.body["data"]["name"], "lookup_order");

    // Another tenant's integration cannot be linked; another tenant's token sees no tool.
    let other = setup(vec![]).await;
    let foreign_integration = other.integration().await;
    let crossed = s
        .app
        .post(
            &format!("/internal/tools/{tool}/endpoints"),
            &s.staff,
            json!({"integration_id": foreign_integration, "webhook_path": "/webhook/ok"}),
        )
        .await;
    assert_eq!(crossed.code(), "INTEGRATION_NOT_FOUND");
    let outsider = tokens::client_viewer(&uuid::Uuid::now_v7().to_string());
    assert_eq!(
        s.app
            .get(&format!("/internal/tools/{tool}"), &outsider)
            .await
            .code(),
        "INSUFFICIENT_PERMISSIONS"
    );
}

#[tokio::test]
async fn executions_against_n8n_are_retried_only_when_it_helps_and_always_recorded() {
    let s = setup(vec![]).await;
    let integration = s.integration().await;
    let mut ids = std::collections::HashMap::new();
    for (name, hook) in [
        ("ok_tool", "ok"),
        ("slow_tool", "slow"),
        ("flaky_tool", "flaky"),
        ("bad_tool", "bad"),
        ("busy_tool", "busy"),
        ("big_tool", "big"),
        ("huge_tool", "huge"),
    ] {
        ids.insert(hook, s.tool(name, hook, &integration).await);
    }
    let input = json!({"order": "12345"});

    let ok = s.execute(&ids["ok"], input.clone()).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(
        (
            ok.body["data"]["status"].as_str(),
            ok.body["data"]["attempts"].as_u64()
        ),
        (Some("succeeded"), Some(1))
    );
    assert_eq!(ok.body["data"]["output"]["echo"], input);
    let sent = &s.n8n.requests_to("/webhook/ok")[0];
    let execution_id = ok.body["data"]["execution_id"].as_str().unwrap();
    assert_eq!(sent.headers["idempotency-key"], execution_id);
    assert_eq!(sent.headers["x-n8n-api-key"], SECRET);
    assert_eq!(
        (
            sent.headers["x-trace"].as_str(),
            sent.headers["x-call"].as_str()
        ),
        ("trace-1", s.call.to_string().as_str())
    );
    assert_eq!(sent.body["execution_id"], execution_id);
    // Header values are secrets: sealed in the item, only their names read back.
    let read = s
        .app
        .get(&format!("/internal/tools/{}", ids["ok"]), &s.staff)
        .await;
    assert_eq!(
        read.body["data"]["endpoint"]["header_names"],
        json!(["X-Call", "X-Trace"])
    );
    assert!(!read.text.contains("{{trace_id}}"), "{}", read.text);
    let item = s
        .app
        .dynamodb
        .get_item()
        .table_name(&s.app.config.tables.tools)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("TENANT#{}", s.tenant)),
        )
        .key(
            "sk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("TOOL#{}", ids["ok"])),
        )
        .send()
        .await
        .unwrap()
        .item
        .unwrap();
    let dump = format!("{item:?}");
    assert!(
        !dump.contains("{{trace_id}}") && dump.contains("sealed_headers"),
        "{dump}"
    );

    let slow = s.execute(&ids["slow"], input.clone()).await;
    assert_eq!(
        slow.status,
        StatusCode::OK,
        "timed out, then answered on the retry: {}",
        slow.text
    );
    assert_eq!(slow.body["data"]["attempts"], 2);
    let flaky = s.execute(&ids["flaky"], input.clone()).await;
    assert_eq!(
        (flaky.status, flaky.body["data"]["attempts"].as_u64()),
        (StatusCode::OK, Some(2))
    );
    let bad = s.execute(&ids["bad"], input.clone()).await;
    assert_eq!(
        (bad.status, bad.code()),
        (StatusCode::BAD_GATEWAY, "N8N_ERROR")
    );
    assert_eq!(
        bad.body["error"]["details"]["attempts"], 1,
        "a 400 is not retried"
    );
    let busy = s.execute(&ids["busy"], input.clone()).await;
    assert_eq!(
        (busy.status, busy.code()),
        (StatusCode::BAD_GATEWAY, "N8N_ERROR")
    );
    assert_eq!(
        busy.body["error"]["details"]["attempts"], 3,
        "429 is retried, boundedly"
    );
    assert_eq!(s.n8n.requests_to("/webhook/busy").len(), 3);
    let big = s.execute(&ids["big"], input.clone()).await;
    assert_eq!(big.status, StatusCode::OK);
    // Past the cap the answer is refused (not buffered), recorded as failed, and not retried.
    let huge = s.execute(&ids["huge"], input.clone()).await;
    assert!(!huge.status.is_success(), "{}", huge.text);
    assert!(!huge.text.contains("xxxxxxxxxx"), "the body is not echoed");
    assert_eq!(s.n8n.requests_to("/webhook/huge").len(), 1, "not retried");

    let invalid = s.execute(&ids["ok"], json!({"order": "abc"})).await;
    assert_eq!(
        (invalid.status, invalid.code()),
        (StatusCode::BAD_REQUEST, "VALIDATION_ERROR")
    );
    assert_eq!(
        invalid.body["error"]["details"][0]["field"],
        "input_json/order"
    );
    assert_eq!(
        s.n8n.requests_to("/webhook/ok").len(),
        1,
        "invalid input never reaches n8n"
    );

    // Every run has its record, and the call's timeline shows each start and finish.
    let executions = s.store().executions(s.tenant_id(), s.call).await.unwrap();
    let summary: Vec<(String, String, u32)> = executions
        .iter()
        .map(|e| {
            (
                e.tool_name.clone(),
                serde_json::to_value(e.status)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned(),
                e.attempts,
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("ok_tool".to_owned(), "succeeded".to_owned(), 1),
            ("slow_tool".to_owned(), "succeeded".to_owned(), 2),
            ("flaky_tool".to_owned(), "succeeded".to_owned(), 2),
            ("bad_tool".to_owned(), "failed".to_owned(), 1),
            ("busy_tool".to_owned(), "failed".to_owned(), 3),
            ("big_tool".to_owned(), "succeeded".to_owned(), 1),
            ("huge_tool".to_owned(), "failed".to_owned(), 1),
        ]
    );
    assert!(executions[5].response_truncated);
    assert!(
        executions[5]
            .response
            .as_ref()
            .unwrap()
            .as_str()
            .unwrap()
            .len()
            <= 8 * 1024
    );
    assert_eq!(executions[3].http_status, Some(400));
    let events = CallStore::new(s.app.dynamodb.clone(), &s.app.config.tables.calls)
        .events(s.tenant_id(), s.call)
        .await
        .unwrap();
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == "tool_execution_finished")
            .count(),
        7
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind == "tool_execution_started")
            .count(),
        7
    );
}

#[tokio::test]
async fn timeouts_and_refused_connections_are_clear_and_recorded() {
    let s = setup(vec![]).await;
    // An n8n that stops answering after the test: its port is closed.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let fake = FakeN8n::new(Duration::from_secs(5));
    let server = tokio::spawn(axum::serve(listener, fake.router()).into_future());
    let answer = s
        .app
        .post("/internal/integrations/n8n/test", &s.staff, json!({"tenant_id": s.tenant, "base_url": format!("http://127.0.0.1:{port}"), "auth_type": "none"}))
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let integration = answer.body["data"]["id"].as_str().unwrap().to_owned();
    let slow = s.tool("always_slow", "slow", &integration).await;
    let timed_out = s.execute(&slow, json!({"order": "1"})).await;
    assert_eq!(
        (timed_out.status, timed_out.code()),
        (StatusCode::OK, ""),
        "retry answers fast: {}",
        timed_out.text
    );
    server.abort();
    let _ = server.await;
    let refused = s.execute(&slow, json!({"order": "1"})).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::BAD_GATEWAY, "N8N_UNREACHABLE"),
        "{}",
        refused.text
    );
    assert_eq!(
        refused.body["error"]["details"]["attempts"], 1,
        "a refused connection is not retried"
    );

    // A tool whose n8n never answers in time: every attempt times out.
    let (_stuck, never) = s.never_answering_tool().await;
    let answer = s.execute(&never, json!({"order": "1"})).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::GATEWAY_TIMEOUT, "N8N_TIMEOUT"),
        "{}",
        answer.text
    );
    assert_eq!(
        answer.body["error"]["details"]["attempts"], 3,
        "timeouts are retried, boundedly"
    );
    let executions = s.store().executions(s.tenant_id(), s.call).await.unwrap();
    assert_eq!(executions.len(), 3);
    assert_eq!(
        serde_json::to_value(executions[2].status).unwrap(),
        "timed_out"
    );
    assert_eq!(
        serde_json::to_value(executions[1].status).unwrap(),
        "failed"
    );
    assert!(
        executions[1]
            .error
            .as_deref()
            .unwrap()
            .contains("unreachable")
    );
}

#[tokio::test]
async fn the_rate_limit_holds_under_concurrency() {
    let s = setup(vec![("AUTOMATION_MAX_EXECUTIONS_PER_MINUTE", "5".into())]).await;
    let integration = s.integration().await;
    let tool = s.tool("lookup_order", "ok", &integration).await;
    let answers =
        futures::future::join_all((0..10).map(|_| s.execute(&tool, json!({"order": "7"})))).await;
    let ran = answers
        .iter()
        .filter(|a| a.status == StatusCode::OK)
        .count();
    let limited: Vec<&Answer> = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!((ran, limited.len()), (5, 5));
    assert_eq!(limited[0].code(), "TOO_MANY_EXECUTIONS");
    assert!(limited[0].headers.contains_key("retry-after"));
    assert_eq!(s.n8n.requests_to("/webhook/ok").len(), 5);
}

#[tokio::test]
async fn the_catalog_and_execution_follow_the_allowlist_when_required() {
    let s = setup(vec![(
        "AUTOMATION_REQUIRE_AGENT_TOOL_MAPPING",
        "true".into(),
    )])
    .await;
    let integration = s.integration().await;
    let allowed = s.tool("lookup_order", "ok", &integration).await;
    let other = s.tool("cancel_order", "ok", &integration).await;
    s.allow(&[&allowed]).await;
    let catalog = s
        .app
        .get(
            &format!("/internal/automation/tools/catalog?call_id={}", s.call),
            &s.runtime,
        )
        .await;
    assert_eq!(catalog.status, StatusCode::OK, "{}", catalog.text);
    let names: Vec<&str> = catalog.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lookup_order"]);
    assert_eq!(
        catalog.body["data"][0]["input_schema"]["required"],
        json!(["order"])
    );
    assert_eq!(
        s.execute(&allowed, json!({"order": "1"})).await.status,
        StatusCode::OK
    );
    let refused = s.execute(&other, json!({"order": "1"})).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "TOOL_NOT_ALLOWED")
    );
    let by_name = s
        .app
        .post(
            "/internal/automation/tools/by-name/lookup_order/execute",
            &s.runtime,
            json!({"call_id": s.call, "input_json": {"order": "9"}}),
        )
        .await;
    assert_eq!(by_name.status, StatusCode::OK, "{}", by_name.text);
    let unknown = s
        .app
        .post(
            "/internal/automation/tools/by-name/nope/execute",
            &s.runtime,
            json!({"call_id": s.call, "input_json": {}}),
        )
        .await;
    assert_eq!(unknown.code(), "TOOL_NOT_FOUND");

    // Another tenant's runtime token, a client token: refused.
    let elsewhere = tokens::internal("internal_operator", &uuid::Uuid::now_v7().to_string());
    assert_eq!(
        s.app
            .get(
                &format!("/internal/automation/tools/catalog?call_id={}", s.call),
                &elsewhere
            )
            .await
            .code(),
        "CALL_NOT_FOUND"
    );
    let crossed = s
        .app
        .post(
            &format!("/internal/automation/tools/{allowed}/execute"),
            &elsewhere,
            json!({"call_id": s.call, "input_json": {"order": "1"}}),
        )
        .await;
    assert_eq!(crossed.code(), "CALL_NOT_FOUND");
    let client = tokens::client_viewer(&s.tenant);
    assert_eq!(
        s.app
            .get(
                &format!("/internal/automation/tools/catalog?call_id={}", s.call),
                &client
            )
            .await
            .code(),
        "INSUFFICIENT_PERMISSIONS"
    );
    // The same for a call that does not exist: the refusal says nothing of which ids exist.
    assert_eq!(
        s.app
            .get(
                &format!(
                    "/internal/automation/tools/catalog?call_id={}",
                    CallId::new()
                ),
                &client
            )
            .await
            .code(),
        "INSUFFICIENT_PERMISSIONS"
    );
}

#[tokio::test]
async fn without_the_requirement_every_linked_tool_is_offered() {
    let s = setup(vec![(
        "AUTOMATION_REQUIRE_AGENT_TOOL_MAPPING",
        "false".into(),
    )])
    .await;
    let integration = s.integration().await;
    let linked = s.tool("lookup_order", "ok", &integration).await;
    s.app.post("/internal/tools", &s.staff, json!({"tenant_id": s.tenant, "name": "unlinked", "description": "d", "input_schema": {"type": "object"}})).await;
    let catalog = s
        .app
        .get(
            &format!("/internal/automation/tools/catalog?call_id={}", s.call),
            &s.runtime,
        )
        .await;
    let names: Vec<&str> = catalog.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["lookup_order"], "only tools n8n can run");
    assert_eq!(
        s.execute(&linked, json!({"order": "1"})).await.status,
        StatusCode::OK,
        "no allowlist needed"
    );
}

#[tokio::test]
async fn retries_stop_when_the_execution_budget_is_spent() {
    // Budget 1.5 s, tool timeout 1 s: a second attempt gets what is left, a third never starts
    // (with the default 25 s budget the same tool is tried three times, as above).
    let s = setup(vec![("AUTOMATION_EXECUTION_BUDGET_MS", "1500".into())]).await;
    let (stuck, never) = s.never_answering_tool().await;
    let answer = s.execute(&never, json!({"order": "1"})).await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::GATEWAY_TIMEOUT, "N8N_TIMEOUT"),
        "{}",
        answer.text
    );
    let attempts = answer.body["error"]["details"]["attempts"]
        .as_u64()
        .unwrap();
    assert!((1..3).contains(&attempts), "{attempts} attempts");
    assert_eq!(stuck.requests_to("/webhook/stuck").len() as u64, attempts);
}
