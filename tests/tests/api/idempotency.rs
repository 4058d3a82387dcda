//! `Idempotency-Key` on the create routes: a retry with the same key returns the first outcome
//! (and creates nothing twice); the same key with another body is refused; another caller's key
//! is another key.

use std::time::Duration;

use gobi_tests::fakes::{self, n8n::FakeN8n};
use gobi_tests::{AUTH_BOOTSTRAP_KEY, Answer, TestApp, spawn_telephony_app, tokens};
use http::{Request, StatusCode};
use serde_json::{Value, json};

async fn post_with_key(
    app: &TestApp,
    path: &str,
    headers: &[(&str, &str)],
    key: &str,
    body: &Value,
) -> Answer {
    let mut request = Request::post(path)
        .header("content-type", "application/json")
        .header("idempotency-key", key);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    app.send(
        request
            .body(axum::body::Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

/// What is created, where, with which caller headers, from which body.
type Create<'a> = (&'a str, String, Vec<(&'a str, &'a str)>, Value);

#[tokio::test]
async fn every_create_returns_its_first_outcome_to_a_retry_with_the_same_key() {
    let (app, _telephony) = spawn_telephony_app(true).await;
    let n8n = FakeN8n::new(Duration::from_secs(4));
    let n8n_url = fakes::serve(n8n.router(), ([127, 0, 0, 1], 0).into()).await;
    let admin = tokens::admin();
    let bearer = format!("Bearer {admin}");
    let auth = [("authorization", bearer.as_str())];
    let tenant = app.new_tenant("Keys", "keys").await;
    let (agent, _) = app.published_agent(&tenant, "Keyed").await;

    let creates: Vec<Create> = vec![
        (
            "tenant",
            "/api/tenants".into(),
            auth.to_vec(),
            json!({"name": "Once", "domain": "once.example"}),
        ),
        (
            "agent",
            format!("/api/tenants/{tenant}/agents"),
            auth.to_vec(),
            json!({"name": "Once", "llmProvider": "openai", "llmModel": "gpt-4o-mini", "voiceProvider": "elevenlabs", "voiceId": "v1"}),
        ),
        (
            "version",
            format!("/internal/agents/{agent}/versions"),
            auth.to_vec(),
            json!({"notes": "once"}),
        ),
        (
            "bought number",
            format!("/api/tenants/{tenant}/phone-numbers"),
            auth.to_vec(),
            json!({"number": "+15557650201"}),
        ),
        (
            "registered number",
            "/internal/phone-numbers".into(),
            auth.to_vec(),
            json!({"tenant_id": tenant, "e164": "+15557650202", "twilio_sid": format!("PN{}", "c".repeat(32))}),
        ),
        (
            "tool",
            "/internal/tools".into(),
            auth.to_vec(),
            json!({"tenant_id": tenant, "name": "once_tool", "description": "d", "input_schema": {"type": "object"}}),
        ),
        (
            "integration",
            "/internal/integrations/n8n/test".into(),
            auth.to_vec(),
            json!({"tenant_id": tenant, "base_url": n8n_url, "auth_type": "none", "name": "Once n8n"}),
        ),
        (
            "user",
            "/auth/bootstrap/user".into(),
            vec![("x-auth-bootstrap-key", AUTH_BOOTSTRAP_KEY)],
            json!({"email": "once@keys.example", "password": "a long passphrase", "memberships": [{"tenant_id": tenant, "role": "client_viewer"}]}),
        ),
    ];
    for (what, path, headers, body) in &creates {
        let key = format!("create-{}", what.replace(' ', "-"));
        let first = post_with_key(&app, path, headers, &key, body).await;
        assert_eq!(first.status, StatusCode::CREATED, "{what}: {}", first.text);
        assert!(first.headers.get("idempotent-replayed").is_none());
        let again = post_with_key(&app, path, headers, &key, body).await;
        assert_eq!(again.status, StatusCode::CREATED, "{what}: {}", again.text);
        assert_eq!(again.headers["idempotent-replayed"], "true", "{what}");
        assert_eq!(
            again.body, first.body,
            "{what}: the first outcome, not a second object"
        );
        // The same key with another body is a mistake, said plainly.
        let mut other = body.clone();
        other["name"] = json!("Something else");
        let reused = post_with_key(&app, path, headers, &key, &other).await;
        assert_eq!(
            (reused.status, reused.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_KEY_REUSED"),
            "{what}: {}",
            reused.text
        );
    }
    // Nothing was created twice.
    let tenants = app.get("/api/tenants?search=once.example", &admin).await;
    assert_eq!(
        tenants.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        tenants.text
    );
    let agents = app
        .get(&format!("/api/tenants/{tenant}/agents"), &admin)
        .await;
    let named_once = agents.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["name"] == "Once")
        .count();
    assert_eq!(named_once, 1);

    // Another caller's key is another key: its retry is not the first caller's answer.
    let other_admin = tokens::platform(&["admin", "tenant-manager"]);
    let other_bearer = format!("Bearer {other_admin}");
    let theirs = post_with_key(
        &app,
        "/api/tenants",
        &[("authorization", other_bearer.as_str())],
        "create-tenant",
        &creates[0].3,
    )
    .await;
    assert_eq!(theirs.code(), "DOMAIN_EXISTS", "{}", theirs.text);
    // A key must be a plain token.
    let bad = post_with_key(
        &app,
        "/api/tenants",
        &auth,
        "has space",
        &json!({"name": "x", "domain": "x.example"}),
    )
    .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
}
