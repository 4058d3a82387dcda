//! What the bench's events act on, set up through the in-process app on the same stack: a
//! tenant with an agent answering a number, calls over ninety days, calls for status callbacks,
//! handoffs and claims, an n8n integration and a tool, imports and dial jobs waiting for their
//! workers; and the cases, one per function and hot path.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::body::Bytes;
use gobi_tests::fakes::{self, n8n::FakeN8n};
use gobi_tests::{TestApp, spawn_telephony_app_with, tokens};
use serde_json::json;

use crate::events::{each, http_event, signed_form, sqs_event, twilio_event};
use crate::{Case, NUMBER, SDK_BASELINE};

/// What the events act on: a tenant with an agent answering a number, calls over ninety days,
/// calls for status callbacks, handoffs and claims, an n8n integration and a tool.
pub(crate) struct World {
    pub(crate) app: TestApp,
    _n8n: FakeN8n,
    _telephony: gobi_tests::Telephony,
    tenant: String,
    tool: String,
    /// A call in progress, for tool executions.
    live_call: String,
    /// CallSids opened and handed off: Twilio's retries of them.
    handed_off: Vec<String>,
    /// CallSids opened, for their final status callback.
    ringing: Vec<String>,
    /// Handoff envelopes of calls opened and not yet handed off.
    handoffs: Vec<String>,
    /// Pending dispatches, for claims.
    dispatches: Vec<String>,
    /// The lead-import worker's messages of imports waiting for it.
    imports: Vec<String>,
    /// The dialer worker's dial jobs, queued by one tick at the end of the set-up (a queued
    /// dial's lease lasts five minutes: the bench replays them well inside).
    dial_jobs: Vec<String>,
}

impl World {
    pub(crate) async fn set_up(per_case: usize) -> anyhow::Result<Self> {
        let (app, telephony) = spawn_telephony_app_with(
            true,
            vec![
                ("TWILIO_VALIDATE_SIGNATURE", "true".into()),
                (
                    "TWILIO_MEDIA_STREAM_URL",
                    "wss://stream.bench.example/media".into(),
                ),
                ("AUTOMATION_MAX_EXECUTIONS_PER_MINUTE", "1000".into()),
            ],
        )
        .await;
        let admin = tokens::admin();
        let tenant = app.new_tenant("Bench", "bench").await;
        // Room for the dial jobs (the default is 10 live calls), set before any call: the
        // first new call measured finds the number's context current.
        let raised = app
            .put(
                &format!("/api/tenants/{tenant}"),
                &admin,
                json!({"maxConcurrentCalls": 100}),
            )
            .await;
        anyhow::ensure!(raised.status.is_success(), "caps: {}", raised.text);
        let (agent, _version) = app.published_agent(&tenant, "Reception").await;
        let bought = app
            .post(
                &format!("/api/tenants/{tenant}/phone-numbers"),
                &admin,
                json!({"number": NUMBER, "agentId": agent}),
            )
            .await;
        anyhow::ensure!(
            bought.status.is_success(),
            "buying the number: {}",
            bought.text
        );

        // Calls over the last ninety days, for the call list, KPIs and analytics.
        app.clock.advance(chrono::Duration::days(-89));
        let mut sid = 0;
        let mut ring = async |app: &TestApp| {
            sid += 1;
            let call_sid = format!("CAbench{sid:08}");
            let answer = app
                .send(twilio_request(
                    "/twilio/webhook/inbound",
                    &[
                        ("CallSid", &call_sid),
                        ("From", "+14158675309"),
                        ("To", NUMBER),
                    ],
                ))
                .await;
            assert!(answer.status.is_success(), "{}", answer.text);
            call_sid
        };
        for _ in 0..30 {
            ring(&app).await;
            app.clock.advance(chrono::Duration::days(3));
        }
        app.clock.advance(chrono::Duration::days(-1));
        app.drain_handoffs().await;

        let mut handed_off = Vec::new();
        let mut ringing = Vec::new();
        for _ in 0..per_case {
            handed_off.push(ring(&app).await);
            ringing.push(ring(&app).await);
        }
        app.drain_handoffs().await;
        // Pending dispatches of calls handed off: their ids, for claims.
        let calls =
            gobi_domain::calls::CallStore::new(app.dynamodb.clone(), &app.config.tables.calls);
        let mut dispatches = Vec::new();
        for sid in &handed_off {
            let call = calls
                .by_sid(sid)
                .await?
                .ok_or_else(|| anyhow::anyhow!("call {sid}"))?;
            if let Some(dispatch) = call.dispatch_id {
                dispatches.push(dispatch.to_string());
            }
        }
        let live_call = calls
            .by_sid(&handed_off[0])
            .await?
            .map(|c| c.id.to_string())
            .ok_or_else(|| anyhow::anyhow!("the live call"))?;
        // Calls opened whose handoffs the worker under measurement makes (their envelopes are
        // taken off the queue here).
        let mut handoffs = Vec::new();
        for _ in 0..per_case {
            ring(&app).await;
        }
        let queue = app.config.handoff_queue_url.clone().unwrap_or_default();
        handoffs.extend(take_messages(&app, &queue).await?);
        anyhow::ensure!(!handoffs.is_empty(), "no handoff envelopes to replay");

        // n8n and a tool linked to it.
        let n8n = FakeN8n::new(Duration::from_millis(4000));
        let n8n_url = fakes::serve(n8n.router(), ([127, 0, 0, 1], 0).into()).await;
        let staff = tokens::internal("internal_operator", &tenant);
        let integration = app
            .post(
                "/internal/integrations/n8n/test",
                &staff,
                json!({"tenant_id": tenant, "base_url": n8n_url, "auth_type": "header_token", "secret": "n8n-bench-secret", "name": "Bench n8n"}),
            )
            .await;
        anyhow::ensure!(
            integration.status.is_success(),
            "integration: {}",
            integration.text
        );
        let integration = integration.body["data"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let tool = app
            .post(
                "/internal/tools",
                &staff,
                json!({"tenant_id": tenant, "name": "lookup_order", "description": "An order's status",
                       "input_schema": {"type": "object", "properties": {"order": {"type": "string"}}, "required": ["order"]},
                       "timeout_ms": 2000}),
            )
            .await;
        anyhow::ensure!(tool.status.is_success(), "tool: {}", tool.text);
        let tool = tool.body["data"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let linked = app
            .post(
                &format!("/internal/tools/{tool}/endpoints"),
                &staff,
                json!({"integration_id": integration, "webhook_path": "/webhook/ok", "method": "POST"}),
            )
            .await;
        anyhow::ensure!(linked.status.is_success(), "endpoint: {}", linked.text);

        let imports = queue_imports(&app, &tenant, per_case).await?;
        let dial_jobs = queue_dial_jobs(&app, &tenant, &agent, per_case).await?;
        Ok(Self {
            app,
            _n8n: n8n,
            _telephony: telephony,
            tenant,
            tool,
            live_call,
            handed_off,
            ringing,
            handoffs,
            dispatches,
            imports,
            dial_jobs,
        })
    }

    pub(crate) fn cases(&self) -> Vec<Case> {
        let tenant = self.tenant.clone();
        let admin = tokens::admin();
        let runtime = tokens::internal("internal_operator", &tenant);
        let viewer = tokens::client_viewer(&tenant);
        let today = chrono::Utc::now().date_naive();
        let ninety = format!("from={}&to={today}", today - chrono::Duration::days(89));
        let get = |path: String, query: String, token: String| -> Box<dyn Fn() -> Bytes> {
            Box::new(move || http_event("GET", &path, &query, Some(&token), None))
        };
        let new_calls = Arc::new(AtomicUsize::new(0));
        let (tool, live_call) = (self.tool.clone(), self.live_call.clone());
        vec![
            Case {
                binary: "gobi-baseline-hello",
                label: "GET /health",
                event: get("/health".into(), String::new(), admin.clone()),
            },
            Case {
                binary: SDK_BASELINE,
                label: "GET /health",
                event: get("/health".into(), String::new(), admin.clone()),
            },
            Case {
                binary: "gobi-baseline-sdk-call",
                label: "GET /health: one GetItem",
                event: get("/health".into(), String::new(), admin.clone()),
            },
            Case {
                binary: "gobi-twilio-webhook",
                label: "inbound: known number, new call",
                event: Box::new(move || {
                    let sid = format!(
                        "CAnew{:010}{}",
                        new_calls.fetch_add(1, Ordering::Relaxed),
                        std::process::id()
                    );
                    twilio_event(
                        "/twilio/webhook/inbound",
                        &[("CallSid", &sid), ("From", "+14158675309"), ("To", NUMBER)],
                    )
                }),
            },
            Case {
                binary: "gobi-twilio-webhook",
                label: "inbound: Twilio retry",
                event: each(self.handed_off.clone(), |sid| {
                    twilio_event(
                        "/twilio/webhook/inbound",
                        &[("CallSid", &sid), ("From", "+14158675309"), ("To", NUMBER)],
                    )
                }),
            },
            Case {
                binary: "gobi-twilio-webhook",
                label: "status callback: completed",
                event: each(self.ringing.clone(), |sid| {
                    twilio_event(
                        "/twilio/webhook/status",
                        &[
                            ("CallSid", &sid),
                            ("CallStatus", "completed"),
                            ("CallDuration", "42"),
                        ],
                    )
                }),
            },
            Case {
                binary: "gobi-handoff-worker",
                label: "handoff of a real call",
                event: each(self.handoffs.clone(), |body| sqs_event(&[body])),
            },
            Case {
                binary: "gobi-runtime",
                label: "dispatch claim",
                event: {
                    let runtime = runtime.clone();
                    each(self.dispatches.clone(), move |dispatch| {
                        http_event(
                            "POST",
                            "/internal/runtime/dispatches/claim",
                            "",
                            Some(&runtime),
                            Some(json!({"dispatch_id": dispatch})),
                        )
                    })
                },
            },
            Case {
                binary: "gobi-automation",
                label: "tool execution (n8n stand-in)",
                event: Box::new(move || {
                    http_event(
                        "POST",
                        &format!("/internal/automation/tools/{tool}/execute"),
                        "",
                        Some(&runtime),
                        Some(json!({"call_id": live_call, "input_json": {"order": "12345"}})),
                    )
                }),
            },
            Case {
                binary: "gobi-client",
                label: "call list",
                event: get("/client/calls".into(), "limit=20".into(), viewer.clone()),
            },
            Case {
                binary: "gobi-client",
                label: "KPIs, 90 days",
                event: get("/client/kpis".into(), ninety.clone(), viewer.clone()),
            },
            Case {
                binary: "gobi-client",
                label: "analytics by agent, 90 days",
                event: get(
                    "/client/analytics".into(),
                    format!("groupBy=agent&{ninety}"),
                    viewer.clone(),
                ),
            },
            Case {
                binary: "gobi-system",
                label: "GET /health",
                event: get("/health".into(), String::new(), admin.clone()),
            },
            Case {
                binary: "gobi-auth",
                label: "POST /auth/login (refused)",
                // A new unknown e-mail each time: the login is refused after verifying the
                // password against a dummy Argon2id hash, as for any unknown e-mail. One e-mail
                // throughout would be locked out after five failures and answered without
                // hashing, so the peak would depend on how many runs came before.
                event: {
                    let attempts = AtomicUsize::new(0);
                    Box::new(move || {
                        let n = attempts.fetch_add(1, Ordering::Relaxed);
                        http_event(
                            "POST",
                            "/auth/login",
                            "",
                            None,
                            Some(
                                json!({"email": format!("nobody-{n}@bench.example"), "password": "wrong-password-1"}),
                            ),
                        )
                    })
                },
            },
            Case {
                binary: "gobi-tenants",
                label: "GET /api/tenants/{id}",
                event: get(
                    format!("/api/tenants/{tenant}"),
                    String::new(),
                    admin.clone(),
                ),
            },
            Case {
                binary: "gobi-phone-numbers",
                label: "GET numbers",
                event: get(
                    format!("/api/tenants/{tenant}/phone-numbers"),
                    String::new(),
                    admin.clone(),
                ),
            },
            Case {
                binary: "gobi-agents",
                label: "GET agents",
                event: get(
                    format!("/api/tenants/{tenant}/agents"),
                    String::new(),
                    admin.clone(),
                ),
            },
            Case {
                binary: "gobi-lead-lists",
                label: "GET lead lists",
                event: get(
                    format!("/api/tenants/{tenant}/lead-lists"),
                    String::new(),
                    admin.clone(),
                ),
            },
            Case {
                binary: "gobi-campaigns",
                label: "GET campaigns",
                event: get(
                    format!("/api/tenants/{tenant}/campaigns"),
                    String::new(),
                    admin.clone(),
                ),
            },
            Case {
                binary: "gobi-webhooks",
                label: "GET webhook endpoints",
                event: get(
                    format!("/api/tenants/{tenant}/webhooks"),
                    String::new(),
                    admin.clone(),
                ),
            },
            Case {
                binary: "gobi-scheduler",
                label: "scheduled tick",
                event: Box::new(|| {
                    Bytes::from(gobi_tests::read_fixture("eventbridge-scheduled-event.json"))
                }),
            },
            Case {
                binary: "gobi-dialer",
                label: "dial job (Twilio stand-in)",
                event: each(self.dial_jobs.clone(), |body| sqs_event(&[body])),
            },
            Case {
                binary: "gobi-lead-import",
                label: "import of 194 rows (2 batches)",
                event: each(self.imports.clone(), |body| sqs_event(&[body])),
            },
            Case {
                binary: "gobi-legal-hold-worker",
                label: "empty SQS batch",
                event: Box::new(|| sqs_event(&[])),
            },
            Case {
                binary: "gobi-webhook-worker",
                label: "empty SQS batch",
                event: Box::new(|| sqs_event(&[])),
            },
        ]
    }
}

/// Takes every message off `queue` (without handling it): their bodies.
async fn take_messages(app: &TestApp, queue: &str) -> anyhow::Result<Vec<String>> {
    let mut bodies = Vec::new();
    loop {
        let received = app
            .sqs
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(10)
            .send()
            .await?;
        let messages = received.messages.unwrap_or_default();
        if messages.is_empty() {
            return Ok(bodies);
        }
        for message in messages {
            bodies.extend(message.body);
            if let Some(handle) = message.receipt_handle {
                app.sqs
                    .delete_message()
                    .queue_url(queue)
                    .receipt_handle(handle)
                    .send()
                    .await?;
            }
        }
    }
}

/// `count` imports of 194 new leads each (two store batches of 97) into one list, started and
/// left on the queue for the worker under measurement: their messages.
async fn queue_imports(app: &TestApp, tenant: &str, count: usize) -> anyhow::Result<Vec<String>> {
    let list = app.new_lead_list(tenant, "Bench imports").await;
    for i in 0..count {
        let mut file = String::from("phone,name\n");
        for row in 0..194 {
            file.push_str(&format!("+1415{:03}{:04},Lead {row}\n", 200 + i, row));
        }
        let created = app
            .post_csv(
                &format!("/api/tenants/{tenant}/lead-lists/{list}/imports"),
                &tokens::admin(),
                file.as_bytes(),
            )
            .await;
        anyhow::ensure!(created.status.is_success(), "import: {}", created.text);
    }
    let queue = app.config.lead_import_queue_url.clone().unwrap_or_default();
    take_messages(app, &queue).await
}

/// A running campaign of `count` leads whose local time is now inside the legal calling hours
/// (8:00–21:00), and one tick: the dial jobs it queued. The leads are New York numbers with an
/// explicit zone (the `timezone` column, which the dialer takes over the number's) picked among
/// zones no more than six hours apart, so one is between 9:00 and 20:00 at any hour of the day.
async fn queue_dial_jobs(
    app: &TestApp,
    tenant: &str,
    agent: &str,
    count: usize,
) -> anyhow::Result<Vec<String>> {
    use chrono::Timelike;
    let now = chrono::Utc::now();
    let zone = [
        chrono_tz::America::New_York,
        chrono_tz::America::Los_Angeles,
        chrono_tz::Pacific::Honolulu,
        chrono_tz::Asia::Tokyo,
        chrono_tz::Asia::Kolkata,
        chrono_tz::Europe::London,
    ]
    .into_iter()
    .find(|zone| (9..20).contains(&now.with_timezone(zone).hour()))
    .expect("the zones are never more than six hours apart");
    let admin = tokens::admin();
    let list = app.new_lead_list(tenant, "Bench dialing").await;
    let mut file = String::from("phone,name,timezone\n");
    for i in 0..count {
        file.push_str(&format!("+1212555{i:04},Lead {i},{}\n", zone.name()));
    }
    let imported = app
        .post_csv(
            &format!("/api/tenants/{tenant}/lead-lists/{list}/imports"),
            &admin,
            file.as_bytes(),
        )
        .await;
    anyhow::ensure!(imported.status.is_success(), "dial list: {}", imported.text);
    app.drain_lead_imports().await;
    let days = json!(["mon", "tue", "wed", "thu", "fri", "sat", "sun"]);
    let created = app
        .post(
            &format!("/api/tenants/{tenant}/campaigns"),
            &admin,
            json!({
                "name": "Bench dialing",
                "agentId": agent,
                "leadListIds": [list],
                "callerIds": [NUMBER],
                "schedule": {"windows": [{"days": days, "start": "00:00", "end": "23:59"}], "timezone": "UTC"},
                "pacing": {"maxConcurrency": 100, "maxCallsPerSecond": 50}
            }),
        )
        .await;
    anyhow::ensure!(created.status.is_success(), "campaign: {}", created.text);
    let campaign = created.body["data"]["id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let started = app
        .post(
            &format!("/api/tenants/{tenant}/campaigns/{campaign}/start"),
            &admin,
            json!({}),
        )
        .await;
    anyhow::ensure!(started.status.is_success(), "start: {}", started.text);
    app.drain_dialer().await;
    app.tick().await;
    let queue = app.config.dialer_queue_url.clone().unwrap_or_default();
    let jobs = take_messages(app, &queue).await?;
    anyhow::ensure!(!jobs.is_empty(), "the tick queued no dial job");
    Ok(jobs)
}

/// A signed form post to the in-process app (setting up).
fn twilio_request(path: &str, params: &[(&str, &str)]) -> http::Request<axum::body::Body> {
    let (body, signature) = signed_form(path, params);
    http::Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(axum::body::Body::from(body))
        .expect("a request")
}
