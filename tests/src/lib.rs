//! Test kit: an app wired to DynamoDB Local with tables of its own (so tests run in parallel
//! without seeing each other's data), tokens minted with both key types and both seeds' claim
//! vocabularies, and a small request helper.
//!
//! Needs the local stack: `make test` starts it and sets `AWS_ENDPOINT_URL_DYNAMODB`.

pub mod aws_proxy;
pub mod bench;
pub mod fakes;
pub mod lambda_emulator;
mod workers;

use std::collections::HashMap;
use std::path::PathBuf;

use axum::Router;
use axum::body::Body;
use http::{Method, Request, StatusCode};
use http_body_util::BodyExt;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tower::ServiceExt;

use gobi_infra::aws_requests;
use gobi_infra::{app, provision, template};
use gobi_shared::{Config, dynamo, http as gobi_http};

pub const PLATFORM_ACCOUNT: &str = "00000000-0000-0000-0000-000000000000";
pub const JWT_SECRET: &str = "test-secret-for-hs256-0123456789abcdef";
pub const ISSUER: &str = "gobi-test";
pub const AUDIENCE: &str = "gobi";
pub const AUTH_BOOTSTRAP_KEY: &str = "test-auth-bootstrap-key";
pub const DEV_BOOTSTRAP_KEY: &str = "test-dev-bootstrap-key";

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(name)
}

pub fn read_fixture(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap_or_else(|e| panic!("fixture {name}: {e}"))
}

/// How `JWT_PUBLIC_KEY` is given to the app under test.
#[derive(Debug, Clone, Copy)]
pub enum PublicKeyForm {
    Certificate,
    PublicKey,
}

pub struct TestAppOptions {
    pub public_key: PublicKeyForm,
    pub extra: Vec<(&'static str, String)>,
}

impl Default for TestAppOptions {
    fn default() -> Self {
        Self {
            public_key: PublicKeyForm::Certificate,
            extra: Vec::new(),
        }
    }
}

/// One app on DynamoDB Local, with its own freshly created tables.
pub struct TestApp {
    pub config: Config,
    /// The environment a function binary needs to run as this app (the bench starts them).
    pub env: HashMap<String, String>,
    /// The test's own handoff queue on moto (with a dead-letter queue, as the template has).
    pub sqs: aws_sdk_sqs::Client,
    /// The app's clock: fixed at start, moved by tests instead of sleeping.
    pub clock: gobi_shared::time::Clock,
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub s3: aws_sdk_s3::Client,
    /// moto's KMS, with the app's secrets key.
    pub kms: aws_sdk_kms::Client,
    pub router: Router,
}

fn require_stack() {
    if std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_none() {
        panic!(
            "AWS_ENDPOINT_URL_DYNAMODB is not set: run the tests with `make test`, which starts DynamoDB Local"
        );
    }
}

pub fn test_config(options: &TestAppOptions) -> Config {
    Config::from_map(&test_variables(options)).expect("test config")
}

/// The environment [`test_config`] reads.
pub fn test_variables(options: &TestAppOptions) -> HashMap<String, String> {
    let public_key = match options.public_key {
        PublicKeyForm::Certificate => read_fixture("jwt-certificate.pem"),
        PublicKeyForm::PublicKey => read_fixture("jwt-public.pem"),
    };
    let prefix = format!("t{}", uuid::Uuid::new_v4().simple());
    let mut vars: HashMap<String, String> = [
        ("NODE_ENV", "test".to_owned()),
        ("JWT_SECRET", JWT_SECRET.to_owned()),
        ("JWT_PUBLIC_KEY", public_key),
        ("JWT_ISSUER", ISSUER.to_owned()),
        ("JWT_AUDIENCE", AUDIENCE.to_owned()),
        ("TABLE_PREFIX", prefix),
        ("CORS_ORIGIN", "https://app.example.com".to_owned()),
        ("REQUEST_BODY_LIMIT_BYTES", "65536".to_owned()),
        ("AUTH_BOOTSTRAP_KEY", AUTH_BOOTSTRAP_KEY.to_owned()),
        ("DEV_BOOTSTRAP_KEY", DEV_BOOTSTRAP_KEY.to_owned()),
        // Webhook signatures are checked, as by default; telephony apps bring their own token.
        ("TWILIO_AUTH_TOKEN", "test-twilio-auth-token".to_owned()),
        ("TWILIO_WEBHOOK_BASE_URL", WEBHOOK_BASE.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    for (k, v) in &options.extra {
        vars.insert((*k).to_owned(), v.clone());
    }
    vars
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(TestAppOptions::default()).await
}

pub async fn spawn_app_with(options: TestAppOptions) -> TestApp {
    require_stack();
    let mut env = test_variables(&options);
    let mut config = Config::from_map(&env).expect("test config");
    let sdk = dynamo::sdk_config().await;
    // Clients that record what each function asks of AWS, for the IAM check (tests/tests/iam.rs).
    let dynamodb = aws_requests::dynamodb(&sdk);
    let template = template::Template::load(&template::default_path()).expect("template.yaml");
    provision::ensure_tables(&dynamodb, &template, &config.tables)
        .await
        .expect("creating test tables");
    let sqs = aws_requests::sqs(&sdk);
    let queue_name = format!(
        "{}-handoff",
        config.tables.tenants.trim_end_matches("-tenants")
    );
    config.handoff_queue_url = Some(
        provision::ensure_queue(&sqs, &template, "HandoffQueue", &queue_name)
            .await
            .expect("creating the test queue (moto)"),
    );
    config.legal_hold_queue_url = Some(
        provision::ensure_queue(
            &sqs,
            &template,
            "LegalHoldQueue",
            &format!("{queue_name}-legal-hold"),
        )
        .await
        .expect("creating the test legal-hold queue (moto)"),
    );
    config.lead_import_queue_url = Some(
        provision::ensure_queue(
            &sqs,
            &template,
            "LeadImportQueue",
            &format!("{queue_name}-lead-import"),
        )
        .await
        .expect("creating the test lead-import queue (moto)"),
    );
    config.dialer_queue_url = Some(
        provision::ensure_queue(
            &sqs,
            &template,
            "DialerQueue",
            &format!("{queue_name}-dialer"),
        )
        .await
        .expect("creating the test dialer queue (moto)"),
    );
    config.webhook_queue_url = Some(
        provision::ensure_queue(
            &sqs,
            &template,
            "WebhookQueue",
            &format!("{queue_name}-webhooks"),
        )
        .await
        .expect("creating the test webhook queue (moto)"),
    );
    config.s3_force_path_style = true;
    let s3 = aws_requests::s3(&sdk, true);
    config.imports_bucket = Some(
        provision::ensure_bucket(&s3, &format!("{queue_name}-imports"))
            .await
            .expect("creating the test imports bucket (moto)"),
    );
    let kms = aws_requests::kms(&sdk);
    let alias = format!(
        "alias/{}",
        config.tables.tenants.trim_end_matches("-tenants")
    );
    config.kms_key_id = Some(
        provision::ensure_secrets_key(&kms, &alias)
            .await
            .expect("creating the test key (moto)"),
    );
    for (logical_id, table) in config.tables.by_logical_id() {
        aws_requests::name_resource(table, logical_id);
    }
    for (url, logical_id) in [
        (&config.handoff_queue_url, "HandoffQueue"),
        (&config.legal_hold_queue_url, "LegalHoldQueue"),
        (&config.lead_import_queue_url, "LeadImportQueue"),
        (&config.dialer_queue_url, "DialerQueue"),
        (&config.webhook_queue_url, "WebhookQueue"),
        (&config.imports_bucket, "ImportsBucket"),
        (&config.kms_key_id, "SecretsKey"),
    ] {
        if let Some(url) = url {
            aws_requests::name_resource(url, logical_id);
        }
    }
    for (name, value) in [
        ("HANDOFF_QUEUE_URL", &config.handoff_queue_url),
        ("LEGAL_HOLD_QUEUE_URL", &config.legal_hold_queue_url),
        ("LEAD_IMPORT_QUEUE_URL", &config.lead_import_queue_url),
        ("DIALER_QUEUE_URL", &config.dialer_queue_url),
        ("WEBHOOK_QUEUE_URL", &config.webhook_queue_url),
        ("IMPORTS_BUCKET", &config.imports_bucket),
        ("KMS_KEY_ID", &config.kms_key_id),
    ] {
        if let Some(value) = value {
            env.insert(name.to_owned(), value.clone());
        }
    }
    env.insert("S3_FORCE_PATH_STYLE".into(), "true".into());
    let clients = app::Clients {
        dynamodb: dynamodb.clone(),
        sqs: sqs.clone(),
        s3: s3.clone(),
        kms: kms.clone(),
    };
    let clock = gobi_shared::time::Clock::fixed(chrono::Utc::now());
    let router = gobi_http::layered(
        app::routes(&config, &clients, &clock).expect("routes"),
        &config,
    );
    TestApp {
        config,
        env,
        sqs,
        clock,
        dynamodb,
        s3,
        kms,
        router,
    }
}

/// The fake Twilio and LiveKit an app under test talks to.
pub struct Telephony {
    pub twilio: fakes::twilio::FakeTwilio,
    pub livekit: fakes::livekit::FakeLiveKit,
}

pub const WEBHOOK_BASE: &str = "https://hooks.gobi.example";
pub const LIVEKIT_AGENT: &str = "gobi-test-agent";
/// The digest credentials LiveKit trunks are created with in telephony apps.
pub const SIP_AUTH_USERNAME: &str = "gobi-trunk";
pub const SIP_AUTH_PASSWORD: &str = "trunk-password-0123456789";

/// An app wired to fresh fake Twilio and LiveKit servers (LiveKit left unconfigured when asked).
pub async fn spawn_telephony_app(with_livekit: bool) -> (TestApp, Telephony) {
    spawn_telephony_app_with(with_livekit, Vec::new()).await
}

/// [`spawn_telephony_app`] with more configuration.
pub async fn spawn_telephony_app_with(
    with_livekit: bool,
    more: Vec<(&'static str, String)>,
) -> (TestApp, Telephony) {
    let twilio =
        fakes::twilio::FakeTwilio::new("AC00000000000000000000000000000001", "twilio-test-token");
    let livekit = fakes::livekit::FakeLiveKit::new("APItestkey", "livekit-test-secret-0123456789");
    let any_port = ([127, 0, 0, 1], 0).into();
    let twilio_url = fakes::serve(twilio.router(), any_port).await;
    let livekit_url = fakes::serve(livekit.router(), any_port).await;
    let mut extra = vec![
        ("TWILIO_API_BASE_URL", twilio_url),
        ("TWILIO_ACCOUNT_SID", twilio.account_sid.clone()),
        ("TWILIO_AUTH_TOKEN", twilio.auth_token.clone()),
        ("TWILIO_WEBHOOK_BASE_URL", WEBHOOK_BASE.to_owned()),
        ("LIVEKIT_AGENT_NAME", LIVEKIT_AGENT.to_owned()),
    ];
    if with_livekit {
        extra.push(("LIVEKIT_URL", livekit_url));
        extra.push(("LIVEKIT_API_KEY", livekit.api_key.clone()));
        extra.push(("LIVEKIT_API_SECRET", livekit.api_secret.clone()));
        extra.push(("LIVEKIT_SIP_AUTH_USERNAME", SIP_AUTH_USERNAME.to_owned()));
        extra.push(("LIVEKIT_SIP_AUTH_PASSWORD", SIP_AUTH_PASSWORD.to_owned()));
    }
    extra.extend(more);
    let app = spawn_app_with(TestAppOptions {
        extra,
        ..Default::default()
    })
    .await;
    (app, Telephony { twilio, livekit })
}

/// An answer, with its body parsed as JSON (`Value::Null` when it is empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: StatusCode,
    pub headers: http::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Answer {
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// Serves the app on an ephemeral loopback port, for tests that go over real HTTP; the
    /// server stops with the test's runtime.
    pub async fn serve(&self) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let address = listener.local_addr().expect("address");
        let router = self.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{address}")
    }

    pub async fn send(&self, request: Request<Body>) -> Answer {
        let response = self
            .router
            .clone()
            .oneshot(request)
            .await
            .expect("router never fails");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
            text,
        }
    }

    /// A JSON request; `token` becomes the bearer header when given.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Answer {
        let mut builder = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        let request = match body {
            Some(body) => builder
                .header("content-type", "application/json")
                .body(Body::from(body.to_string())),
            None => builder.body(Body::empty()),
        };
        self.send(request.expect("request")).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Answer {
        self.call(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::POST, path, Some(token), Some(body)).await
    }

    /// POSTs `body` as `text/csv` (a file posted to an import route).
    pub async fn post_csv(&self, path: &str, token: &str, body: &[u8]) -> Answer {
        self.send(
            Request::post(path)
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "text/csv")
                .body(Body::from(body.to_vec()))
                .expect("request"),
        )
        .await
    }

    /// PUTs a file to an upload URL the API handed out (moto's S3 in tests), as a browser or
    /// `curl -T` would; S3's status.
    pub async fn upload(&self, url: &str, body: impl Into<String>) -> StatusCode {
        gobi_shared::https::client()
            .put(url)
            .header("content-type", "text/csv")
            .body(body.into())
            .send()
            .await
            .expect("putting a file to its upload URL")
            .status()
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Answer {
        self.call(Method::PUT, path, Some(token), Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Answer {
        self.call(Method::DELETE, path, Some(token), None).await
    }

    pub async fn patch(&self, path: &str, token: &str) -> Answer {
        self.call(Method::PATCH, path, Some(token), None).await
    }

    /// A new tenant named `name` on a domain of its own (`<label>-<random>.example`); its id.
    pub async fn new_tenant(&self, name: &str, label: &str) -> String {
        let domain = format!("{label}-{}.example", uuid::Uuid::new_v4().simple());
        let answer = self
            .post(
                "/api/tenants",
                &tokens::admin(),
                json!({"name": name, "domain": domain}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// Registers `e164` (a number already bought elsewhere) as `tenant`'s, active: its id.
    pub async fn registered_number(&self, tenant: &str, e164: &str) -> String {
        let digits: String = e164.chars().filter(char::is_ascii_digit).collect();
        let answer = self
            .post(
                "/internal/phone-numbers",
                &tokens::admin(),
                json!({"tenant_id": tenant, "e164": e164, "twilio_sid": format!("PN{digits:0>32}")}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// `tenant`'s calls as `/client/calls` lists them (newest first), read as the platform.
    pub async fn calls_of(&self, tenant: &str) -> Vec<Value> {
        let answer = self
            .get(
                &format!("/client/calls?tenant_id={tenant}"),
                &tokens::admin(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body["data"].as_array().cloned().unwrap_or_default()
    }

    /// The runtime dispatch of call `call_id`, read as the platform.
    pub async fn dispatch_of(&self, call_id: &str) -> Value {
        let answer = self
            .get(
                &format!("/internal/runtime/dispatches?call_id={call_id}"),
                &tokens::admin(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body["data"].clone()
    }

    /// An empty US lead list of `tenant` named `name`: its id.
    pub async fn new_lead_list(&self, tenant: &str, name: &str) -> String {
        let answer = self
            .post(
                &format!("/api/tenants/{tenant}/lead-lists"),
                &tokens::admin(),
                json!({"name": name, "defaultCountry": "US"}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        answer.body["data"]["id"].as_str().unwrap().to_owned()
    }

    /// An agent of `tenant` named `name` with version 1 snapshotted and published:
    /// (agent id, version id).
    pub async fn published_agent(&self, tenant: &str, name: &str) -> (String, String) {
        let admin = tokens::admin();
        let agent = self
            .post(
                &format!("/api/tenants/{tenant}/agents"),
                &admin,
                json!({"name": name, "llmProvider": "openai", "llmModel": "gpt-4o-mini", "voiceProvider": "elevenlabs", "voiceId": "v1"}),
            )
            .await;
        assert_eq!(agent.status, StatusCode::CREATED, "{}", agent.text);
        let agent = agent.body["data"]["id"].as_str().unwrap().to_owned();
        let version = self
            .post(
                &format!("/internal/agents/{agent}/versions"),
                &admin,
                json!({}),
            )
            .await;
        assert_eq!(version.status, StatusCode::CREATED, "{}", version.text);
        let version = version.body["data"]["id"].as_str().unwrap().to_owned();
        let published = self
            .call(
                Method::POST,
                &format!("/internal/agents/{agent}/versions/{version}/publish"),
                Some(&admin),
                None,
            )
            .await;
        assert_eq!(published.status, StatusCode::OK, "{}", published.text);
        (agent, version)
    }
}

pub mod tokens;

/// The workspace's root folder (where `Cargo.toml`, `.env.example` and `infra/` are).
pub fn workspace_root() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the test kit lives in the workspace")
        .to_path_buf()
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}
