//! `make bench`: every function's release binary under the Lambda Runtime API emulator
//! (`gobi_tests::lambda_emulator`), against the local stack through counting proxies
//! (`gobi_tests::aws_proxy`), beside two hello-world `lambda_http` baselines built the same way.
//! Prints one table: binary size, init, first and warm invoke, peak RSS, AWS requests per
//! invocation, and init and memory as multiples of the SDK baseline. Medians over RUNS
//! interleaved runs (each run starts every binary once, in turn); no assertion on any time: the
//! machines are shared and noisy (the request counts are asserted by `tests/tests/api/hot_paths.rs`).
//!
//!   gobi-bench-functions [runs] [warm invokes]     (default 5 runs, 5 warm invokes each)
//!
//! Needs the release binaries in `target/release` (`make bench` builds them; `BENCH_BINARIES`
//! names another folder) and the local stack.

use std::collections::HashMap;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use base64::Engine;
use gobi_tests::aws_proxy::CountingProxy;
use gobi_tests::fakes::{self, n8n::FakeN8n};
use gobi_tests::lambda_emulator::RuntimeApi;
use gobi_tests::{TestApp, WEBHOOK_BASE, spawn_telephony_app_with, tokens};
use serde_json::{Value, json};

const NUMBER: &str = "+15557659001";
const SDK_BASELINE: &str = "gobi-baseline-sdk";

/// One measured event source: a binary and the event of each invocation (0 is the first).
struct Case {
    binary: &'static str,
    label: &'static str,
    event: Box<dyn Fn() -> Bytes>,
}

/// One run of one case.
#[derive(Default, Clone)]
struct Sample {
    init_ms: f64,
    first_ms: f64,
    warm_ms: f64,
    peak_rss_kib: u64,
    first_requests: usize,
    warm_requests: usize,
    errors: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let runs: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    let warm: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5);
    // `BENCH_BINARIES` names another folder (target/debug, to try the bench itself quickly).
    let release = std::env::var_os("BENCH_BINARIES")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| gobi_tests::workspace_root().join("target/release"));

    let dynamodb = CountingProxy::start(&endpoint("AWS_ENDPOINT_URL_DYNAMODB")?).await?;
    let moto = CountingProxy::start(&endpoint("AWS_ENDPOINT_URL_SQS")?).await?;
    let world = World::set_up(runs * (warm + 1) + 2).await?;
    let cases = world.cases();

    let mut samples: HashMap<(&str, &str), Vec<Sample>> = HashMap::new();
    for run in 0..runs {
        eprintln!("run {}/{runs}", run + 1);
        for case in &cases {
            let sample = measure(&release, case, &world.app.env, &dynamodb, &moto, warm).await?;
            samples
                .entry((case.binary, case.label))
                .or_default()
                .push(sample);
        }
    }

    let sdk = median_sample(&samples[&(SDK_BASELINE, "GET /health")]);
    println!(
        "\n{runs} runs × (1 first + {warm} warm invokes), medians; AWS requests counted by the proxies in front of DynamoDB Local and moto\n"
    );
    println!(
        "{:<22} {:<34} {:>8} {:>8} {:>9} {:>8} {:>8} {:>9} {:>9} {:>7} {:>7}",
        "function",
        "event",
        "size MB",
        "init ms",
        "first ms",
        "warm ms",
        "RSS MB",
        "AWS 1st",
        "AWS warm",
        "init×",
        "RSS×"
    );
    for case in &cases {
        let m = median_sample(&samples[&(case.binary, case.label)]);
        let size = std::fs::metadata(release.join(case.binary))
            .map(|m| m.len() as f64 / 1_048_576.0)
            .unwrap_or(0.0);
        println!(
            "{:<22} {:<34} {:>8.1} {:>8.1} {:>9.2} {:>8.2} {:>8.1} {:>9} {:>9} {:>7.2} {:>7.2}{}",
            case.binary.trim_start_matches("gobi-"),
            case.label,
            size,
            m.init_ms,
            m.first_ms,
            m.warm_ms,
            m.peak_rss_kib as f64 / 1024.0,
            m.first_requests,
            m.warm_requests,
            m.init_ms / sdk.init_ms,
            m.peak_rss_kib as f64 / sdk.peak_rss_kib as f64,
            if m.errors > 0 {
                format!("  ({} error answers)", m.errors)
            } else {
                String::new()
            }
        );
    }
    Ok(())
}

fn endpoint(name: &str) -> anyhow::Result<String> {
    std::env::var(name).map_err(|_| anyhow::anyhow!("{name} is not set: run `make bench`"))
}

/// Starts `case.binary` under a fresh Runtime API, invokes it once cold and `warm` times warm,
/// reads its peak RSS, and stops it.
async fn measure(
    release: &std::path::Path,
    case: &Case,
    env: &HashMap<String, String>,
    dynamodb: &CountingProxy,
    moto: &CountingProxy,
    warm: usize,
) -> anyhow::Result<Sample> {
    let api = RuntimeApi::start().await?;
    let requests = || dynamodb.count() + moto.count();
    let mut command = tokio::process::Command::new(release.join(case.binary));
    command
        .env_clear()
        .envs(env)
        .envs(
            [
                "PATH",
                "AWS_REGION",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
            ]
            .into_iter()
            .filter_map(|k| std::env::var(k).ok().map(|v| (k, v))),
        )
        .env("AWS_ENDPOINT_URL_DYNAMODB", dynamodb.url())
        .env("AWS_ENDPOINT_URL_SQS", moto.url())
        .env("AWS_ENDPOINT_URL_KMS", moto.url())
        .env("AWS_ENDPOINT_URL_S3", moto.url())
        .env("AWS_ENDPOINT_URL_EVENTBRIDGE", moto.url())
        .env("AWS_LAMBDA_RUNTIME_API", api.address())
        .env("AWS_LAMBDA_FUNCTION_NAME", case.binary)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/bench")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let before_init = requests();
    let started = Instant::now();
    let mut child = command.spawn()?;
    tokio::time::timeout(Duration::from_secs(20), api.ready())
        .await
        .map_err(|_| anyhow::anyhow!("{} did not ask for an event in 20 s", case.binary))?;
    let init_ms = ms(started.elapsed());
    let _init_requests = requests() - before_init;

    let mut sample = Sample {
        init_ms,
        ..Sample::default()
    };
    let mut warm_ms = Vec::new();
    let mut warm_requests = Vec::new();
    for i in 0..=warm {
        let event = (case.event)();
        let before = requests();
        let at = Instant::now();
        let answer = api.invoke(event).await?;
        let took = ms(at.elapsed());
        let sent = requests() - before;
        if answer.error || answer_status(&answer.body) >= 500 {
            sample.errors += 1;
        }
        if i == 0 {
            sample.first_ms = took;
            sample.first_requests = sent;
        } else {
            warm_ms.push(took);
            warm_requests.push(sent);
        }
    }
    sample.warm_ms = median(&mut warm_ms);
    warm_requests.sort_unstable();
    sample.warm_requests = warm_requests
        .get(warm_requests.len() / 2)
        .copied()
        .unwrap_or(0);
    sample.peak_rss_kib = child
        .id()
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok())
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0);
    child.kill().await.ok();
    Ok(sample)
}

/// An HTTP answer's status code (workers' answers have none: 200).
fn answer_status(body: &[u8]) -> u64 {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get("statusCode").and_then(Value::as_u64))
        .unwrap_or(200)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn median(values: &mut [f64]) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(|a, b| a.total_cmp(b));
    values[values.len() / 2]
}

fn median_sample(samples: &[Sample]) -> Sample {
    let pick = |f: &dyn Fn(&Sample) -> f64| {
        let mut values: Vec<f64> = samples.iter().map(f).collect();
        median(&mut values)
    };
    Sample {
        init_ms: pick(&|s| s.init_ms),
        first_ms: pick(&|s| s.first_ms),
        warm_ms: pick(&|s| s.warm_ms),
        peak_rss_kib: pick(&|s| s.peak_rss_kib as f64) as u64,
        first_requests: pick(&|s| s.first_requests as f64) as usize,
        warm_requests: pick(&|s| s.warm_requests as f64) as usize,
        errors: samples.iter().map(|s| s.errors).sum(),
    }
}

/// An API Gateway HTTP API (payload 2.0) event, as `lambda_http` reads it; Function URLs send
/// the same shape.
fn http_event(
    method: &str,
    path: &str,
    query: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Bytes {
    let mut headers = json!({
        "accept": "application/json",
        "host": "abc123.execute-api.us-east-1.amazonaws.com",
        "x-forwarded-proto": "https",
    });
    if let Some(token) = token {
        headers["authorization"] = json!(format!("Bearer {token}"));
    }
    if body.is_some() {
        headers["content-type"] = json!("application/json");
    }
    let query_parameters: serde_json::Map<String, Value> =
        url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())))
            .collect();
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "gobi-bench"},
            "requestId": uuid::Uuid::new_v4().to_string(),
            "routeKey": "$default",
            "stage": "$default",
            "time": "06/Dec/2026:06:00:00 +0000",
            "timeEpoch": 1796536800000u64
        },
        "isBase64Encoded": false
    });
    if !query_parameters.is_empty() {
        event["queryStringParameters"] = Value::Object(query_parameters);
    }
    if let Some(body) = body {
        event["body"] = json!(body.to_string());
    }
    Bytes::from(event.to_string())
}

/// Twilio's signed form post to the webhook's Function URL.
fn twilio_event(path: &str, params: &[(&str, &str)]) -> Bytes {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = gobi_twilio_webhook::signature::compute(
        "twilio-test-token",
        &format!("{WEBHOOK_BASE}{path}"),
        &params,
    );
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    let mut event: Value =
        serde_json::from_slice(&http_event("POST", path, "", None, None)).expect("an event");
    event["headers"]["content-type"] = json!("application/x-www-form-urlencoded");
    event["headers"]["x-twilio-signature"] = json!(signature);
    event["body"] = json!(base64::engine::general_purpose::STANDARD.encode(body));
    event["isBase64Encoded"] = json!(true);
    Bytes::from(event.to_string())
}

/// An SQS event of one record per body.
fn sqs_event(bodies: &[String]) -> Bytes {
    let records: Vec<Value> = bodies
        .iter()
        .map(|body| {
            json!({
                "messageId": uuid::Uuid::new_v4().to_string(),
                "receiptHandle": "AQEB-bench",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1796536800000", "SenderId": "AROAEXAMPLE:bench", "ApproximateFirstReceiveTimestamp": "1796536800100"},
                "messageAttributes": {},
                "md5OfBody": "00000000000000000000000000000000",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:gobi-bench",
                "awsRegion": "us-east-1"
            })
        })
        .collect();
    Bytes::from(json!({"Records": records}).to_string())
}

/// Takes the next of a prepared list, one per invocation, across runs.
fn each<T: Clone + 'static>(
    items: Vec<T>,
    make: impl Fn(T) -> Bytes + 'static,
) -> Box<dyn Fn() -> Bytes> {
    let next = AtomicUsize::new(0);
    Box::new(move || {
        let i = next.fetch_add(1, Ordering::Relaxed);
        make(items[i % items.len()].clone())
    })
}

/// What the events act on: a tenant with an agent answering a number, calls over ninety days,
/// calls for status callbacks, handoffs and claims, an n8n integration and a tool.
struct World {
    app: TestApp,
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
}

impl World {
    async fn set_up(per_case: usize) -> anyhow::Result<Self> {
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
        while handoffs.len() < per_case {
            let received = app
                .sqs
                .receive_message()
                .queue_url(&queue)
                .max_number_of_messages(10)
                .send()
                .await?;
            let messages = received.messages.unwrap_or_default();
            if messages.is_empty() {
                break;
            }
            for message in messages {
                if let Some(body) = message.body {
                    handoffs.push(body);
                }
                if let Some(handle) = message.receipt_handle {
                    app.sqs
                        .delete_message()
                        .queue_url(&queue)
                        .receipt_handle(handle)
                        .send()
                        .await?;
                }
            }
        }
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
        })
    }

    fn cases(&self) -> Vec<Case> {
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
                event: Box::new(|| {
                    http_event(
                        "POST",
                        "/auth/login",
                        "",
                        None,
                        Some(
                            json!({"email": "nobody@bench.example", "password": "wrong-password-1"}),
                        ),
                    )
                }),
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
                label: "empty SQS batch",
                event: Box::new(|| sqs_event(&[])),
            },
            Case {
                binary: "gobi-lead-import",
                label: "empty SQS batch",
                event: Box::new(|| sqs_event(&[])),
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

/// A signed form post to the in-process app (setting up).
fn twilio_request(path: &str, params: &[(&str, &str)]) -> http::Request<axum::body::Body> {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = gobi_twilio_webhook::signature::compute(
        "twilio-test-token",
        &format!("{WEBHOOK_BASE}{path}"),
        &params,
    );
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    http::Request::post(path)
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-twilio-signature", signature)
        .body(axum::body::Body::from(body))
        .expect("a request")
}
