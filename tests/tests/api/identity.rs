//! The auth function: first admin, login, bootstrap users and dev tokens.
//!
//! Longer than 600 lines on purpose: each test here is a whole story of this area against the
//! local stack (setup, requests, what the stores hold afterwards), and they share one setup.

use gobi_tests::{
    AUTH_BOOTSTRAP_KEY, Answer, DEV_BOOTSTRAP_KEY, TestApp, TestAppOptions, spawn_app,
    spawn_app_with,
};
use http::{Method, Request, StatusCode};
use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn first_admin_body(email: &str) -> Value {
    json!({
        "email": email,
        "password": PASSWORD,
        "name": "First Admin",
        "tenant_name": "Acme Voice Ops",
        "tenant_domain": "acme-ops.example"
    })
}

async fn register_first_admin(app: &TestApp) -> Value {
    let answer = app
        .call(
            Method::POST,
            "/auth/register-first-admin",
            None,
            Some(first_admin_body("Admin@Acme.example")),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body["data"].clone()
}

async fn login(app: &TestApp, body: Value) -> Answer {
    app.call(Method::POST, "/auth/login", None, Some(body))
        .await
}

async fn with_key(
    app: &TestApp,
    path: &str,
    header: &str,
    key: Option<&str>,
    body: Value,
) -> Answer {
    let mut request = Request::post(path).header("content-type", "application/json");
    if let Some(key) = key {
        request = request.header(header, key);
    }
    app.send(
        request
            .body(axum::body::Body::from(body.to_string()))
            .unwrap(),
    )
    .await
}

async fn bootstrap_user(app: &TestApp, key: Option<&str>, body: Value) -> Answer {
    with_key(
        app,
        "/auth/bootstrap/user",
        "x-auth-bootstrap-key",
        key,
        body,
    )
    .await
}

async fn dev_token(app: &TestApp, key: Option<&str>, body: Value) -> Answer {
    with_key(app, "/internal/dev/token", "x-dev-bootstrap-key", key, body).await
}

async fn create_tenant(app: &TestApp, token: &str, domain: &str) -> String {
    let answer = app
        .post(
            "/api/tenants",
            token,
            json!({"name": domain, "domain": domain}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body["data"]["id"].as_str().unwrap().to_owned()
}

/// Reads a token's claims without checking it (the app under test checks it).
fn claims_of(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap()
}

#[tokio::test]
async fn the_bootstrap_story_end_to_end_over_http() {
    let app = spawn_app().await;
    let base = app.serve().await;
    let http = gobi_shared::https::client();

    let first = http
        .post(format!("{base}/auth/register-first-admin"))
        .json(&first_admin_body("admin@acme.example"))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.unwrap();
    let home_tenant = first["data"]["tenant_id"].as_str().unwrap().to_owned();

    let login = http
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": "ADMIN@acme.example", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), 200);
    let login: Value = login.json().await.unwrap();
    let admin_token = login["data"]["token"].as_str().unwrap().to_owned();
    assert_eq!(login["data"]["role"], "internal_admin");
    assert_eq!(
        login["data"]["memberships"][0]["tenant_id"],
        home_tenant.as_str()
    );

    // The admin's token works on a tenant endpoint.
    let tenant = http
        .get(format!("{base}/api/tenants/{home_tenant}"))
        .bearer_auth(&admin_token)
        .send()
        .await
        .unwrap();
    assert_eq!(tenant.status(), 200);
    let customer = http
        .post(format!("{base}/api/tenants"))
        .bearer_auth(&admin_token)
        .json(&json!({"name": "Customer", "domain": "customer.example"}))
        .send()
        .await
        .unwrap();
    assert_eq!(customer.status(), 201);
    let customer: Value = customer.json().await.unwrap();
    let customer_id = customer["data"]["id"].as_str().unwrap().to_owned();

    // A client_viewer for the customer tenant...
    let created = http
        .post(format!("{base}/auth/bootstrap/user"))
        .header("x-auth-bootstrap-key", AUTH_BOOTSTRAP_KEY)
        .json(&json!({
            "email": "viewer@customer.example",
            "password": "another long password",
            "memberships": [{"tenant_id": customer_id, "role": "client_viewer"}]
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // ...logs in and is refused on the first tenant's data.
    let viewer = http
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": "viewer@customer.example", "password": "another long password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(viewer.status(), 200);
    let viewer: Value = viewer.json().await.unwrap();
    assert_eq!(viewer["data"]["tenant_id"], customer_id.as_str());
    let viewer_token = viewer["data"]["token"].as_str().unwrap();
    let refused = http
        .get(format!("{base}/api/tenants/{home_tenant}"))
        .bearer_auth(viewer_token)
        .send()
        .await
        .unwrap();
    assert!(
        matches!(refused.status().as_u16(), 403 | 404),
        "{}",
        refused.status()
    );
    let listed = http
        .get(format!("{base}/api/tenants"))
        .bearer_auth(viewer_token)
        .send()
        .await
        .unwrap();
    assert!(matches!(listed.status().as_u16(), 403 | 404));
    // Asking for the first tenant at login is refused too.
    let scoped = http
        .post(format!("{base}/auth/login"))
        .json(&json!({"email": "viewer@customer.example", "password": "another long password", "tenant_id": home_tenant}))
        .send()
        .await
        .unwrap();
    assert_eq!(scoped.status(), 403);
}

#[tokio::test]
async fn twenty_parallel_first_admin_registrations_create_exactly_one() {
    let app = spawn_app().await;
    let attempts = (0..20).map(|i| {
        let app = &app;
        async move {
            let body = json!({
                "email": format!("admin{i}@acme.example"),
                "password": PASSWORD,
                "tenant_name": format!("Ops {i}"),
                "tenant_domain": format!("ops{i}.example")
            });
            app.call(Method::POST, "/auth/register-first-admin", None, Some(body))
                .await
        }
    });
    let answers = futures::future::join_all(attempts).await;
    let statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        answers
            .iter()
            .filter(|a| a.status != StatusCode::CREATED)
            .all(|a| a.code() == "ALREADY_INITIALIZED"),
        "{statuses:?}"
    );
    // Exactly one tenant was created with the admin.
    let winner = answers
        .iter()
        .find(|a| a.status == StatusCode::CREATED)
        .unwrap();
    let token = winner.body["data"]["token"].as_str().unwrap();
    let tenants = app.get("/api/tenants", token).await;
    assert_eq!(tenants.body["pagination"]["total"], 1);
}

#[tokio::test]
async fn first_admin_is_validated_and_only_once() {
    let app = spawn_app().await;
    let weak = app
        .call(
            Method::POST,
            "/auth/register-first-admin",
            None,
            Some(json!({"email": "nope", "password": "short", "tenant_name": " ", "tenant_domain": "bad domain"})),
        )
        .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    let fields: Vec<&str> = weak.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["email", "password", "tenant_name", "tenant_domain"]
    );

    let grant = register_first_admin(&app).await;
    let claims = claims_of(grant["token"].as_str().unwrap());
    assert_eq!(claims["role"], "internal_admin");
    assert_eq!(claims["is_internal"], true);
    assert_eq!(claims["tenant_id"], grant["tenant_id"]);
    assert_eq!(claims["sub"], grant["user"]["id"]);
    assert_eq!(
        (claims["iss"].as_str(), claims["aud"].as_str()),
        (Some(gobi_tests::ISSUER), Some(gobi_tests::AUDIENCE))
    );
    assert!(claims["exp"].as_i64().unwrap() > chrono::Utc::now().timestamp());
    assert_eq!(grant["user"]["email"], "Admin@Acme.example");
    let text = grant.to_string();
    assert!(
        !text.contains(PASSWORD) && !text.contains("argon2"),
        "no password or hash in answers"
    );

    let again = app
        .call(
            Method::POST,
            "/auth/register-first-admin",
            None,
            Some(first_admin_body("other@acme.example")),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "ALREADY_INITIALIZED");
}

#[tokio::test]
async fn a_bootstrapped_user_closes_first_admin_setup() {
    let app = spawn_app().await;
    let admin = gobi_tests::tokens::admin();
    let tenant = create_tenant(&app, &admin, "early.example").await;
    let created = bootstrap_user(
        &app,
        Some(AUTH_BOOTSTRAP_KEY),
        json!({"email": "early@early.example", "password": PASSWORD, "memberships": [{"tenant_id": tenant, "role": "internal_operator"}]}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let late = app
        .call(
            Method::POST,
            "/auth/register-first-admin",
            None,
            Some(first_admin_body("late@acme.example")),
        )
        .await;
    assert_eq!(late.code(), "ALREADY_INITIALIZED");
}

#[tokio::test]
async fn login_answers_the_same_for_unknown_email_and_wrong_password() {
    let app = spawn_app().await;
    register_first_admin(&app).await;
    let wrong = login(
        &app,
        json!({"email": "admin@acme.example", "password": "not the password at all"}),
    )
    .await;
    let unknown = login(
        &app,
        json!({"email": "ghost@acme.example", "password": "not the password at all"}),
    )
    .await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);
    assert_eq!(wrong.status, unknown.status);
    assert_eq!(wrong.body, unknown.body);
    assert_eq!(wrong.code(), "INVALID_CREDENTIALS");

    // Both cost one Argon2 verification (see auth's password::tests); timing is not asserted
    // here, the machines are shared and noisy.

    let empty = login(&app, json!({"email": "", "password": ""})).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn login_scopes_the_token_to_a_member_tenant() {
    let app = spawn_app().await;
    let first = register_first_admin(&app).await;
    let admin = first["token"].as_str().unwrap().to_owned();
    let home = first["tenant_id"].as_str().unwrap().to_owned();
    let a = create_tenant(&app, &admin, "a.example").await;
    let b = create_tenant(&app, &admin, "b.example").await;
    let created = bootstrap_user(
        &app,
        Some(AUTH_BOOTSTRAP_KEY),
        json!({"email": "ops@a.example", "password": PASSWORD, "name": "Ops", "memberships": [
            {"tenant_id": a, "role": "internal_operator"},
            {"tenant_id": b, "role": "client_viewer"}
        ]}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED);
    assert_eq!(
        created.body["data"]["memberships"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let default = login(
        &app,
        json!({"email": "ops@a.example", "password": PASSWORD}),
    )
    .await;
    assert_eq!(default.status, StatusCode::OK);
    assert_eq!(default.body["data"]["tenant_id"], a.as_str());
    assert_eq!(default.body["data"]["role"], "internal_operator");

    let in_b = login(
        &app,
        json!({"email": "ops@a.example", "password": PASSWORD, "tenant_id": b}),
    )
    .await;
    assert_eq!(in_b.status, StatusCode::OK);
    let claims = claims_of(in_b.body["data"]["token"].as_str().unwrap());
    assert_eq!(
        (claims["tenant_id"].as_str(), claims["role"].as_str()),
        (Some(b.as_str()), Some("client_viewer"))
    );
    assert_eq!(claims["is_internal"], false);

    let not_member = login(
        &app,
        json!({"email": "ops@a.example", "password": PASSWORD, "tenant_id": home}),
    )
    .await;
    assert_eq!(not_member.status, StatusCode::FORBIDDEN);
    assert_eq!(not_member.code(), "NOT_A_MEMBER");

    // Only memberships of the platform tenant (the first admin's) carry the platform account:
    // the operator of tenant A acts on A alone.
    let operator = default.body["data"]["token"].as_str().unwrap();
    assert!(claims_of(operator).get("acct").is_none());
    assert_eq!(
        app.get(&format!("/api/tenants/{a}/agents"), operator)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/api/tenants/{b}/agents"), operator)
            .await
            .code(),
        "TENANT_NOT_FOUND"
    );
    assert_eq!(
        app.get("/api/tenants", operator).await.code(),
        "ACCOUNT_NOT_AUTHORIZED"
    );
    let admin_again = login(
        &app,
        json!({"email": "admin@acme.example", "password": PASSWORD}),
    )
    .await;
    assert_eq!(admin_again.status, StatusCode::OK, "{}", admin_again.text);
    let claims = claims_of(admin_again.body["data"]["token"].as_str().unwrap());
    assert_eq!(claims["acct"], gobi_tests::PLATFORM_ACCOUNT);
    assert_eq!(
        admin_again.body["data"]["acct"],
        gobi_tests::PLATFORM_ACCOUNT
    );
}

#[tokio::test]
async fn first_admin_outside_local_and_test_needs_the_bootstrap_key() {
    for environment in ["production", "staging"] {
        let app = spawn_app_with(TestAppOptions {
            extra: vec![("NODE_ENV", environment.into())],
            ..Default::default()
        })
        .await;
        let path = "/auth/register-first-admin";
        let header = "x-auth-bootstrap-key";
        for key in [None, Some("wrong-key")] {
            let refused = with_key(&app, path, header, key, first_admin_body("a@x.example")).await;
            assert_eq!(
                (refused.status, refused.code()),
                (StatusCode::UNAUTHORIZED, "INVALID_BOOTSTRAP_KEY"),
                "{environment}"
            );
        }
        let created = with_key(
            &app,
            path,
            header,
            Some(AUTH_BOOTSTRAP_KEY),
            first_admin_body("a@x.example"),
        )
        .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let claims = claims_of(created.body["data"]["token"].as_str().unwrap());
        assert_eq!(
            claims["acct"],
            gobi_tests::PLATFORM_ACCOUNT,
            "the platform tenant's admin"
        );

        let unconfigured = spawn_app_with(TestAppOptions {
            extra: vec![
                ("NODE_ENV", environment.into()),
                ("AUTH_BOOTSTRAP_KEY", String::new()),
            ],
            ..Default::default()
        })
        .await;
        let hidden = with_key(
            &unconfigured,
            path,
            header,
            Some(AUTH_BOOTSTRAP_KEY),
            first_admin_body("a@x.example"),
        )
        .await;
        assert_eq!(
            (hidden.status, hidden.code()),
            (StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND")
        );
    }
}

#[tokio::test]
async fn repeated_failures_are_throttled_per_email_and_address() {
    let app = spawn_app().await;
    register_first_admin(&app).await;
    let wrong = json!({"email": "admin@acme.example", "password": "wrong wrong wrong"});
    // A success clears the count.
    for _ in 0..3 {
        assert_eq!(
            login(&app, wrong.clone()).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        login(
            &app,
            json!({"email": "admin@acme.example", "password": PASSWORD})
        )
        .await
        .status,
        StatusCode::OK
    );
    for _ in 0..5 {
        assert_eq!(
            login(&app, wrong.clone()).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    let throttled = login(&app, wrong.clone()).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.code(), "TOO_MANY_LOGIN_ATTEMPTS");
    let retry: u64 = throttled.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // While throttled even the right password waits, whatever the case of the e-mail.
    let right = login(
        &app,
        json!({"email": "ADMIN@acme.example", "password": PASSWORD}),
    )
    .await;
    assert_eq!(right.status, StatusCode::TOO_MANY_REQUESTS);
    // Failures from one place do not lock the account out elsewhere: the count is per e-mail
    // and source address.
    let from =
        |ip: [u8; 4], body: Value| {
            let mut request = Request::post("/auth/login")
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            request.extensions_mut().insert(axum::extract::ConnectInfo(
                std::net::SocketAddr::from((ip, 4000)),
            ));
            app.send(request)
        };
    let elsewhere = from(
        [203, 0, 113, 7],
        json!({"email": "admin@acme.example", "password": PASSWORD}),
    )
    .await;
    assert_eq!(elsewhere.status, StatusCode::OK, "{}", elsewhere.text);
    for _ in 0..5 {
        assert_eq!(
            from([198, 51, 100, 9], wrong.clone()).await.status,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        from([198, 51, 100, 9], wrong.clone()).await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        from(
            [203, 0, 113, 7],
            json!({"email": "admin@acme.example", "password": PASSWORD})
        )
        .await
        .status,
        StatusCode::OK,
        "the other address still logs in"
    );
    // Other e-mails are not affected.
    let other = login(
        &app,
        json!({"email": "someone@acme.example", "password": "wrong wrong wrong"}),
    )
    .await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn concurrent_failures_cannot_exceed_the_limit() {
    let app = spawn_app().await;
    let attempts = (0..12).map(|_| {
        login(
            &app,
            json!({"email": "burst@acme.example", "password": "wrong wrong wrong"}),
        )
    });
    let answers = futures::future::join_all(attempts).await;
    let unauthorized = answers
        .iter()
        .filter(|a| a.status == StatusCode::UNAUTHORIZED)
        .count();
    let throttled = answers
        .iter()
        .filter(|a| a.status == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((unauthorized, throttled), (5, 7));
}

#[tokio::test]
async fn bootstrap_user_negative_paths() {
    let app = spawn_app().await;
    let admin = gobi_tests::tokens::admin();
    let tenant = create_tenant(&app, &admin, "neg.example").await;
    let body = |email: &str| json!({"email": email, "password": PASSWORD, "memberships": [{"tenant_id": tenant, "role": "client_viewer"}]});

    let missing = bootstrap_user(&app, None, body("a@neg.example")).await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::UNAUTHORIZED, "INVALID_BOOTSTRAP_KEY")
    );
    let wrong = bootstrap_user(&app, Some("test-auth-bootstrap-kez"), body("a@neg.example")).await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (StatusCode::UNAUTHORIZED, "INVALID_BOOTSTRAP_KEY")
    );

    let weak = bootstrap_user(
        &app,
        Some(AUTH_BOOTSTRAP_KEY),
        json!({"email": "a@neg.example", "password": "short", "memberships": [{"tenant_id": tenant, "role": "client_viewer"}]}),
    )
    .await;
    assert_eq!(weak.status, StatusCode::BAD_REQUEST);
    assert_eq!(weak.body["error"]["details"][0]["field"], "password");

    let no_tenant = bootstrap_user(
        &app,
        Some(AUTH_BOOTSTRAP_KEY),
        json!({"email": "a@neg.example", "password": PASSWORD, "memberships": [{"tenant_id": uuid::Uuid::now_v7(), "role": "client_viewer"}]}),
    )
    .await;
    assert_eq!(
        (no_tenant.status, no_tenant.code()),
        (StatusCode::NOT_FOUND, "TENANT_NOT_FOUND")
    );
    let bad_role = bootstrap_user(
        &app,
        Some(AUTH_BOOTSTRAP_KEY),
        json!({"email": "a@neg.example", "password": PASSWORD, "memberships": [{"tenant_id": tenant, "role": "superuser"}]}),
    )
    .await;
    assert_eq!(bad_role.status, StatusCode::BAD_REQUEST);
    let empty = bootstrap_user(
        &app,
        Some(AUTH_BOOTSTRAP_KEY),
        json!({"email": "a@neg.example", "password": PASSWORD, "memberships": []}),
    )
    .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);

    // Nothing was written by the refusals: the e-mail is still free.
    let created = bootstrap_user(&app, Some(AUTH_BOOTSTRAP_KEY), body("a@neg.example")).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let duplicate = bootstrap_user(&app, Some(AUTH_BOOTSTRAP_KEY), body("A@NEG.example")).await;
    assert_eq!(
        (duplicate.status, duplicate.code()),
        (StatusCode::CONFLICT, "EMAIL_EXISTS")
    );

    let disabled = spawn_app_with(TestAppOptions {
        extra: vec![("AUTH_BOOTSTRAP_KEY", String::new())],
        ..Default::default()
    })
    .await;
    let refused = bootstrap_user(&disabled, Some(AUTH_BOOTSTRAP_KEY), body("b@neg.example")).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "BOOTSTRAP_DISABLED")
    );
}

#[tokio::test]
async fn dev_tokens_outside_production_only() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Dev", "dev").await;
    let body = json!({"user_id": "user-1", "tenant_id": tenant, "role": "internal_admin", "is_internal": true, "expires_in": "1h"});
    let answer = dev_token(&app, Some(DEV_BOOTSTRAP_KEY), body.clone()).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let token = answer.body["data"]["token"].as_str().unwrap();
    let claims = claims_of(token);
    assert_eq!(
        (claims["sub"].as_str(), claims["tenant_id"].as_str()),
        (Some("user-1"), Some(tenant.as_str()))
    );
    assert!(
        claims.get("acct").is_none(),
        "no platform account unless asked"
    );
    assert_eq!(
        (claims["role"].as_str(), claims["is_internal"].as_bool()),
        (Some("internal_admin"), Some(true))
    );
    let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 3600);
    // Bound to its tenant: reads it, manages no tenants.
    assert_eq!(
        app.get(&format!("/api/tenants/{tenant}"), token)
            .await
            .status,
        StatusCode::OK,
        "the verifier accepts it"
    );
    assert_eq!(
        app.get("/api/tenants", token).await.code(),
        "ACCOUNT_NOT_AUTHORIZED"
    );
    // With the platform account it acts across tenants.
    let mut platform_body = body.clone();
    platform_body["acct"] = json!(gobi_tests::PLATFORM_ACCOUNT);
    let platform = dev_token(&app, Some(DEV_BOOTSTRAP_KEY), platform_body).await;
    assert_eq!(platform.body["data"]["acct"], gobi_tests::PLATFORM_ACCOUNT);
    let platform = platform.body["data"]["token"].as_str().unwrap();
    assert_eq!(
        app.get("/api/tenants", platform).await.status,
        StatusCode::OK
    );
    // A tenant that is not a UUID is refused here, as such a token would be everywhere.
    let mut slug = body.clone();
    slug["tenant_id"] = json!("tenant-1");
    let slug = dev_token(&app, Some(DEV_BOOTSTRAP_KEY), slug).await;
    assert_eq!(
        (
            slug.status,
            slug.body["error"]["details"][0]["field"].as_str()
        ),
        (StatusCode::BAD_REQUEST, Some("tenant_id"))
    );

    for key in [None, Some("wrong")] {
        let refused = dev_token(&app, key, body.clone()).await;
        assert_eq!(
            (refused.status, refused.code()),
            (StatusCode::UNAUTHORIZED, "INVALID_BOOTSTRAP_KEY")
        );
    }
    let bad_expiry = dev_token(
        &app,
        Some(DEV_BOOTSTRAP_KEY),
        json!({"user_id": "u", "role": "client_viewer", "expires_in": "1y"}),
    )
    .await;
    assert_eq!(bad_expiry.status, StatusCode::BAD_REQUEST);

    let production = spawn_app_with(TestAppOptions {
        extra: vec![("NODE_ENV", "production".into())],
        ..Default::default()
    })
    .await;
    for key in [Some(DEV_BOOTSTRAP_KEY), None, Some("wrong")] {
        let hidden = dev_token(&production, key, body.clone()).await;
        assert_eq!(
            (hidden.status, hidden.code()),
            (StatusCode::NOT_FOUND, "ROUTE_NOT_FOUND")
        );
    }
    let unconfigured = spawn_app_with(TestAppOptions {
        extra: vec![("DEV_BOOTSTRAP_KEY", String::new())],
        ..Default::default()
    })
    .await;
    let refused = dev_token(&unconfigured, Some(DEV_BOOTSTRAP_KEY), body).await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::FORBIDDEN, "BOOTSTRAP_DISABLED")
    );
}
