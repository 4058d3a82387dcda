//! `make dev`'s server, as a newcomer runs it: the `gobi-local serve` binary in a folder whose
//! `.env` is the repository's `.env.example`, on the local stack, with Twilio and LiveKit
//! stand-ins. A signed inbound webhook is answered with TwiML, the server's own handoff worker
//! loop takes the SQS message and makes the dispatch (nothing here runs the worker), and the
//! runtime claims it once over HTTP.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use gobi_infra::{provision, template};
use gobi_tests::{fakes, free_port, workspace_root};
use gobi_twilio_webhook::signature;
use reqwest::StatusCode;
use serde_json::{Value, json};

const AUTH_TOKEN: &str = "dev-server-twilio-token";
const ACCOUNT_SID: &str = "AC0000000000000000000000000000dev1";
const WEBHOOK_BASE: &str = "https://hooks.dev-server.example";
const NUMBER: &str = "+15557659901";

struct Server {
    child: Child,
    base: String,
    log: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The binary `make dev` runs, built as `make dev` builds it.
fn gobi_local() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Only the variables a shell would give: the ones `cargo test` sets for a test make cargo
    // see another build and rebuild the dependencies.
    let kept: Vec<(String, String)> = std::env::vars()
        .filter(|(name, _)| {
            !name.starts_with("CARGO_") || name == "CARGO_HOME" || name == "CARGO_TARGET_DIR"
        })
        .filter(|(name, _)| !matches!(name.as_str(), "OUT_DIR" | "RUSTC" | "RUSTDOC"))
        .collect();
    let built = Command::new(cargo)
        .current_dir(workspace_root())
        .env_clear()
        .envs(kept)
        .args(["build", "-q", "-p", "gobi-infra", "--bin", "gobi-local"])
        .status()
        .expect("cargo runs");
    assert!(built.success(), "gobi-local builds");
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join("debug/gobi-local")
}

async fn start(env: &[(&str, String)]) -> Server {
    let dir = std::env::temp_dir().join(format!("gobi-dev-{}", uuid::Uuid::now_v7()));
    std::fs::create_dir_all(&dir).expect("a folder");
    std::fs::copy(workspace_root().join(".env.example"), dir.join(".env")).expect(".env");
    // gobi-local finds template.yaml from the workspace, as under `make dev`.
    let log = dir.join("server.log");
    let port = free_port();
    let mut command = Command::new(gobi_local());
    command
        .current_dir(&dir)
        .arg("serve")
        .env("PORT", port.to_string())
        .stdout(Stdio::from(std::fs::File::create(&log).expect("log")))
        .stderr(Stdio::from(
            std::fs::File::options()
                .append(true)
                .open(&log)
                .expect("log"),
        ));
    for (name, value) in env {
        command.env(name, value);
    }
    let server = Server {
        child: command.spawn().expect("gobi-local starts"),
        base: format!("http://127.0.0.1:{port}"),
        log,
    };
    let client = gobi_shared::https::client();
    for _ in 0..600 {
        if let Ok(answer) = client.get(format!("{}/health", server.base)).send().await
            && answer.status() == StatusCode::OK
        {
            return server;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("gobi-local did not answer /health: {}", server.log());
}

/// `make token`, against the same `.env`.
fn token(server_dir: &Path, args: &[&str]) -> String {
    let output = Command::new(gobi_local())
        .current_dir(server_dir)
        .arg("token")
        .args(args)
        .output()
        .expect("gobi-local token");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout)
        .expect("utf-8")
        .trim()
        .to_owned()
}

async fn json_call(
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut request = gobi_shared::https::client()
        .request(method, url)
        .bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await.expect("an answer");
    let status = answer.status();
    let body = answer.json().await.unwrap_or(Value::Null);
    (status, body)
}

#[tokio::test]
async fn a_signed_webhook_becomes_a_claimed_dispatch_on_the_dev_server() {
    let twilio = fakes::twilio::FakeTwilio::new(ACCOUNT_SID, AUTH_TOKEN);
    let livekit =
        fakes::livekit::FakeLiveKit::new("APIdevserver", "dev-server-livekit-secret-0123");
    let any_port = ([127, 0, 0, 1], 0).into();
    let twilio_url = fakes::serve(twilio.router(), any_port).await;
    let livekit_url = fakes::serve(livekit.router(), any_port).await;

    // Queues of its own, so other runs on this moto cannot take its messages.
    let sdk = gobi_shared::dynamo::sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let template = template::Template::load(&template::default_path()).expect("template");
    let suffix = uuid::Uuid::now_v7().simple().to_string();
    let handoff = provision::ensure_queue(
        &sqs,
        &template,
        "HandoffQueue",
        &format!("dev-handoff-{suffix}"),
    )
    .await
    .expect("handoff queue");
    let legal_hold = provision::ensure_queue(
        &sqs,
        &template,
        "LegalHoldQueue",
        &format!("dev-hold-{suffix}"),
    )
    .await
    .expect("legal-hold queue");

    let server = start(&[
        ("TABLE_PREFIX", format!("dev{suffix}")),
        ("HANDOFF_QUEUE_URL", handoff),
        ("LEGAL_HOLD_QUEUE_URL", legal_hold),
        ("TWILIO_VALIDATE_SIGNATURE", "true".into()),
        ("TWILIO_API_BASE_URL", twilio_url),
        ("TWILIO_ACCOUNT_SID", ACCOUNT_SID.into()),
        ("TWILIO_AUTH_TOKEN", AUTH_TOKEN.into()),
        ("TWILIO_WEBHOOK_BASE_URL", WEBHOOK_BASE.into()),
        (
            "TWILIO_MEDIA_STREAM_URL",
            "wss://media.dev-server.example/stream".into(),
        ),
        (
            "TWILIO_MEDIA_STREAM_TOKEN",
            "dev-server-stream-token".into(),
        ),
        ("LIVEKIT_URL", livekit_url),
        ("LIVEKIT_API_KEY", livekit.api_key.clone()),
        ("LIVEKIT_API_SECRET", livekit.api_secret.clone()),
        ("LIVEKIT_SIP_AUTH_USERNAME", "gobi-trunk".into()),
        (
            "LIVEKIT_SIP_AUTH_PASSWORD",
            "dev-server-trunk-password".into(),
        ),
    ])
    .await;
    let dir = server
        .log
        .parent()
        .expect("the server's folder")
        .to_path_buf();
    let admin = token(&dir, &[]);
    let base = &server.base;
    let post = |path: &str, body: Value| {
        json_call(
            reqwest::Method::POST,
            format!("{base}{path}"),
            &admin,
            Some(body),
        )
    };

    // A tenant, an agent with version 1 published, and a number bought for it.
    let (status, tenant) = post(
        "/api/tenants",
        json!({"name": "Dev Server", "domain": format!("dev-{suffix}.example")}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    let tenant = tenant["data"]["id"].as_str().expect("tenant id").to_owned();
    let (status, agent) = post(
        &format!("/api/tenants/{tenant}/agents"),
        json!({"name": "Reception", "llmProvider": "openai", "llmModel": "gpt-4o-mini",
               "voiceProvider": "elevenlabs", "voiceId": "v1"}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{agent}");
    let agent = agent["data"]["id"].as_str().expect("agent id").to_owned();
    let (status, version) = post(&format!("/internal/agents/{agent}/versions"), json!({})).await;
    assert_eq!(status, StatusCode::CREATED, "{version}");
    let version = version["data"]["id"]
        .as_str()
        .expect("version id")
        .to_owned();
    let (status, published) = post(
        &format!("/internal/agents/{agent}/versions/{version}/publish"),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{published}");
    let (status, bought) = post(
        &format!("/api/tenants/{tenant}/phone-numbers"),
        json!({"number": NUMBER, "agentId": agent}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{bought}");

    // Twilio's signed inbound webhook.
    let params: Vec<(String, String)> = [
        ("AccountSid", ACCOUNT_SID),
        ("CallSid", "CAdevserver0001"),
        ("From", "+14158675309"),
        ("To", NUMBER),
        ("CallStatus", "ringing"),
        ("Direction", "inbound"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let path = "/twilio/webhook/inbound";
    let signed = signature::compute(AUTH_TOKEN, &format!("{WEBHOOK_BASE}{path}"), &params);
    let answer = gobi_shared::https::client()
        .post(format!("{base}{path}"))
        .header("x-twilio-signature", signed)
        .form(&params)
        .send()
        .await
        .expect("the webhook answers");
    assert_eq!(answer.status(), StatusCode::OK);
    let twiml = answer.text().await.expect("TwiML");
    let call_id = twiml
        .split(r#"<Parameter name="call_id" value=""#)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no call id in {twiml}"))
        .to_owned();

    // The server's handoff worker loop makes the dispatch; wait for it (bounded).
    let mut dispatch = Value::Null;
    for _ in 0..100 {
        let (status, found) = json_call(
            reqwest::Method::GET,
            format!("{base}/internal/runtime/dispatches?call_id={call_id}"),
            &admin,
            None,
        )
        .await;
        if status == StatusCode::OK {
            dispatch = found["data"].clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        dispatch["status"],
        "pending",
        "no dispatch: {}",
        server.log()
    );
    assert_eq!(dispatch["agent_version_id"], version.as_str());
    let dispatch_id = dispatch["id"].as_str().expect("dispatch id").to_owned();

    let (status, claimed) = post(
        "/internal/runtime/dispatches/claim",
        json!({"dispatch_id": dispatch_id}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{claimed}");
    assert_eq!(claimed["data"]["dispatch"]["status"], "claimed");
    assert!(
        claimed["data"]["join_token"]
            .as_str()
            .is_some_and(|t| !t.is_empty())
    );
    let (again, body) = post(
        "/internal/runtime/dispatches/claim",
        json!({"dispatch_id": dispatch_id}),
    )
    .await;
    assert_eq!(
        (again, body["error"]["code"].as_str()),
        (StatusCode::CONFLICT, Some("DISPATCH_ALREADY_CLAIMED"))
    );
}
