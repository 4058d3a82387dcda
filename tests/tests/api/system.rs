//! Health checks, documentation and the layers every function shares.

use gobi_tests::{TestAppOptions, spawn_app, test_config, tokens};
use http::{Method, StatusCode};

#[tokio::test]
async fn health_answers_without_auth() {
    let app = spawn_app().await;
    let answer = app.call(Method::GET, "/health", None, None).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body["data"]["status"], "ok");
    let db = app.call(Method::GET, "/health/db", None, None).await;
    assert_eq!(db.status, StatusCode::OK, "{}", db.text);
    assert_eq!(db.body["data"]["database"], "dynamodb");
}

#[tokio::test]
async fn health_db_is_503_when_dynamodb_is_unreachable() {
    let config = test_config(&TestAppOptions::default());
    // Nothing listens on port 9 of loopback.
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
        .load()
        .await;
    let state = gobi_system::SystemState {
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        probe_table: config.tables.tenants.clone(),
    };
    let router = gobi_shared::http::layered(gobi_system::router(state), &config);
    let app = gobi_tests::TestApp {
        sqs: aws_sdk_sqs::Client::new(&sdk),
        config,
        env: Default::default(),
        clock: gobi_shared::time::Clock::system(),
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        s3: aws_sdk_s3::Client::new(&sdk),
        kms: aws_sdk_kms::Client::new(&sdk),
        router,
    };
    let started = std::time::Instant::now();
    let answer = app.call(Method::GET, "/health/db", None, None).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.code(), "DATABASE_UNAVAILABLE");
    assert!(
        !answer.text.contains("127.0.0.1"),
        "no internals in the answer"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
}

#[tokio::test]
async fn the_openapi_document_covers_every_route_with_auth_and_errors() {
    let app = spawn_app().await;
    let answer = app
        .call(Method::GET, "/api-docs/swagger.json", None, None)
        .await;
    assert_eq!(answer.status, StatusCode::OK);
    let doc = &answer.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    assert_eq!(
        doc["components"]["securitySchemes"]["bearerAuth"]["scheme"],
        "bearer"
    );
    for (path, method) in [
        ("/health", "get"),
        ("/health/db", "get"),
        ("/api/tenants", "get"),
        ("/api/tenants", "post"),
        ("/api/tenants/{id}", "get"),
        ("/api/tenants/{id}", "put"),
        ("/api/tenants/{id}", "delete"),
        ("/api/tenants/{id}/activate", "patch"),
        ("/auth/register-first-admin", "post"),
        ("/auth/login", "post"),
        ("/auth/bootstrap/user", "post"),
        ("/internal/dev/token", "post"),
    ] {
        let op = &doc["paths"][path][method];
        assert!(op.is_object(), "{method} {path} is documented");
        assert!(
            op["responses"]["500"].is_object(),
            "{method} {path} documents 500"
        );
        if path.starts_with("/api/") {
            assert_eq!(
                op["security"][0]["bearerAuth"],
                serde_json::json!([]),
                "{method} {path} needs a bearer token"
            );
            assert!(op["responses"]["401"].is_object() && op["responses"]["403"].is_object());
        }
    }
    assert!(doc["paths"]["/api/tenants"]["post"]["requestBody"].is_object());
    assert_eq!(
        doc["paths"]["/auth/bootstrap/user"]["post"]["security"][0]["authBootstrapKey"],
        serde_json::json!([])
    );
    assert_eq!(
        doc["paths"]["/internal/dev/token"]["post"]["security"][0]["devBootstrapKey"],
        serde_json::json!([])
    );
    assert_eq!(
        doc["components"]["securitySchemes"]["authBootstrapKey"]["name"],
        "x-auth-bootstrap-key"
    );
    assert!(doc["paths"]["/auth/login"]["post"]["responses"]["429"].is_object());
    assert!(doc["components"]["schemas"]["ErrorBody"].is_object());
    assert!(doc["components"]["schemas"]["CreateTenant"].is_object());
}

#[tokio::test]
async fn swagger_ui_is_served_from_vendored_assets() {
    let app = spawn_app().await;
    let redirect = app.call(Method::GET, "/api-docs", None, None).await;
    assert!(redirect.status.is_redirection());
    let page = app.call(Method::GET, "/api-docs/", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("swagger-ui"));
    assert!(
        !page.text.contains("https://"),
        "no asset comes from the internet"
    );
    let bundle = app
        .call(Method::GET, "/api-docs/swagger-ui-bundle.js", None, None)
        .await;
    assert_eq!(bundle.status, StatusCode::OK);
    assert!(bundle.text.len() > 100_000);
    let initializer = app
        .call(Method::GET, "/api-docs/swagger-initializer.js", None, None)
        .await;
    assert!(initializer.text.contains("/api-docs/swagger.json"));
}

#[tokio::test]
async fn common_layers_add_request_ids_security_headers_and_cors() {
    let app = spawn_app().await;
    let answer = app.get("/api/tenants", &tokens::admin()).await;
    let h = &answer.headers;
    assert!(
        h["x-request-id"]
            .to_str()
            .unwrap()
            .parse::<uuid::Uuid>()
            .is_ok()
    );
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("x-frame-options", "SAMEORIGIN"),
        ("referrer-policy", "no-referrer"),
        (
            "strict-transport-security",
            "max-age=31536000; includeSubDomains",
        ),
        ("cross-origin-opener-policy", "same-origin"),
        ("x-xss-protection", "0"),
    ] {
        assert_eq!(h[name], value, "{name}");
    }
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("default-src 'self'")
    );

    let given = http::Request::get("/health")
        .header("x-request-id", "req-123")
        .body(axum::body::Body::empty())
        .unwrap();
    assert_eq!(
        app.send(given).await.headers["x-request-id"],
        "req-123",
        "a caller's request id is kept"
    );

    let preflight = http::Request::builder()
        .method(Method::OPTIONS)
        .uri("/api/tenants")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization,content-type",
        )
        .body(axum::body::Body::empty())
        .unwrap();
    let answer = app.send(preflight).await;
    assert_eq!(
        answer.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    let foreign = http::Request::get("/health")
        .header("origin", "https://evil.example")
        .body(axum::body::Body::empty())
        .unwrap();
    assert!(
        app.send(foreign)
            .await
            .headers
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[test]
fn the_committed_openapi_document_is_what_the_routers_describe() {
    let path = gobi_infra::openapi::document_path();
    let committed = std::fs::read_to_string(&path).expect("functions/system/openapi.json");
    let generated = gobi_infra::openapi::document_text().unwrap();
    assert!(
        committed == generated,
        "{} is stale: run `make openapi` and commit it",
        path.display()
    );
    assert_eq!(
        gobi_system::DOCUMENT,
        committed,
        "system serves the committed file"
    );
}

/// An app whose DynamoDB is `endpoint` (the real stack's other clients are not needed).
async fn app_with_dynamodb_at(endpoint: &str) -> gobi_tests::TestApp {
    let config = test_config(&TestAppOptions::default());
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::Credentials::for_tests())
        .timeout_config(
            gobi_shared::dynamo::sdk_config()
                .await
                .timeout_config()
                .unwrap()
                .clone(),
        )
        .load()
        .await;
    let clients = gobi_infra::app::Clients {
        dynamodb: aws_sdk_dynamodb::Client::new(&sdk),
        sqs: aws_sdk_sqs::Client::new(&sdk),
        kms: aws_sdk_kms::Client::new(&sdk),
        s3: aws_sdk_s3::Client::new(&sdk),
    };
    let clock = gobi_shared::time::Clock::system();
    let router = gobi_shared::http::layered(
        gobi_infra::app::routes(&config, &clients, &clock).unwrap(),
        &config,
    );
    gobi_tests::TestApp {
        sqs: clients.sqs,
        config,
        env: Default::default(),
        clock,
        dynamodb: clients.dynamodb,
        s3: clients.s3,
        kms: clients.kms,
        router,
    }
}

#[tokio::test]
async fn a_database_that_refuses_or_never_answers_is_a_503_to_retry() {
    // Nothing listens on port 9; the second server accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let held = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = silent.accept().await {
            open.push(socket);
        }
    });
    for endpoint in ["http://127.0.0.1:9", silent_url.as_str()] {
        let app = app_with_dynamodb_at(endpoint).await;
        let answer = app
            .post(
                "/api/tenants",
                &tokens::admin(),
                serde_json::json!({"name": "Down", "domain": "down.example"}),
            )
            .await;
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::SERVICE_UNAVAILABLE, "DEPENDENCY_UNAVAILABLE"),
            "{endpoint}: {}",
            answer.text
        );
        assert_eq!(
            answer.headers["retry-after"],
            gobi_shared::error::DEPENDENCY_RETRY_AFTER_SECONDS.to_string()
        );
        assert!(
            !answer.text.contains("127.0.0.1"),
            "no internals in the answer"
        );
    }
    held.abort();
}
