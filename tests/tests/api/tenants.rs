//! Tenant endpoints against DynamoDB Local: every field, filter, sort and page, every role.
//!
//! Longer than 600 lines on purpose: each test here is a whole story of this area against the
//! local stack (setup, requests, what the stores hold afterwards), and they share one setup.

use gobi_tests::{TestApp, spawn_app, tokens};
use http::StatusCode;
use serde_json::{Value, json};

async fn create(app: &TestApp, body: Value) -> Value {
    let answer = app.post("/api/tenants", &tokens::admin(), body).await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body["data"].clone()
}

fn id(tenant: &Value) -> String {
    tenant["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn create_returns_every_field_with_defaults() {
    let app = spawn_app().await;
    let answer = app
        .post(
            "/api/tenants",
            &tokens::manager(),
            json!({
                "name": "  Example Corp ",
                "domain": "Example.COM",
                "description": "Example company",
                "contactEmail": "admin@example.com",
                "contactPhone": "+1 (555) 123-4567",
                "address": "1 Main St"
            }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    assert_eq!(answer.body["message"], "Tenant created successfully");
    let t = &answer.body["data"];
    assert!(id(t).parse::<uuid::Uuid>().is_ok());
    assert_eq!(t["name"], "Example Corp");
    assert_eq!(t["domain"], "example.com");
    assert_eq!(t["description"], "Example company");
    assert_eq!(t["isActive"], true);
    assert_eq!(t["contactEmail"], "admin@example.com");
    assert_eq!(t["contactPhone"], "+15551234567");
    assert_eq!(t["address"], "1 Main St");
    assert_eq!(t["maxUsers"], 100);
    let created = chrono::DateTime::parse_from_rfc3339(t["createdAt"].as_str().unwrap()).unwrap();
    assert_eq!(t["createdAt"], t["updatedAt"]);
    assert!((chrono::Utc::now() - created.to_utc()).num_seconds().abs() < 60);

    let read = app
        .get(&format!("/api/tenants/{}", id(t)), &tokens::reader())
        .await;
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(&read.body["data"], t);
}

#[tokio::test]
async fn invalid_fields_are_all_reported() {
    let app = spawn_app().await;
    let answer = app
        .post(
            "/api/tenants",
            &tokens::admin(),
            json!({"name": " ", "domain": "not a domain", "contactEmail": "nope", "contactPhone": "12", "maxUsers": 0}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.code(), "VALIDATION_ERROR");
    let fields: Vec<&str> = answer.body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["name", "domain", "contactEmail", "contactPhone", "maxUsers"]
    );

    let missing = app
        .post("/api/tenants", &tokens::admin(), json!({"name": "x"}))
        .await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    assert_eq!(missing.code(), "VALIDATION_ERROR");

    let wrong_type = app
        .post(
            "/api/tenants",
            &tokens::admin(),
            json!({"name": 5, "domain": "a.com"}),
        )
        .await;
    assert_eq!(wrong_type.status, StatusCode::BAD_REQUEST);
    assert_eq!(wrong_type.body["error"]["details"][0]["field"], "name");

    let unknown = app
        .post(
            "/api/tenants",
            &tokens::admin(),
            json!({"name": "x", "domain": "a.com", "plan": "gold"}),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);

    let listed = app.get("/api/tenants", &tokens::admin()).await;
    assert_eq!(listed.body["pagination"]["total"], 0, "nothing was written");
}

#[tokio::test]
async fn malformed_bodies_get_clear_4xx() {
    let app = spawn_app().await;
    let request = |content_type: &str, body: String| {
        http::Request::post("/api/tenants")
            .header("authorization", format!("Bearer {}", tokens::admin()))
            .header("content-type", content_type)
            .body(axum::body::Body::from(body))
            .unwrap()
    };
    let syntax = app
        .send(request("application/json", "{\"name\": ".into()))
        .await;
    assert_eq!(syntax.status, StatusCode::BAD_REQUEST);
    assert_eq!(syntax.code(), "VALIDATION_ERROR");
    let array = app
        .send(request("application/json", "[\"x\", \"a.com\"]".into()))
        .await;
    assert_eq!(
        array.status,
        StatusCode::BAD_REQUEST,
        "a JSON array is not an object"
    );
    assert_eq!(array.code(), "VALIDATION_ERROR");
    let media = app.send(request("text/plain", "{}".into())).await;
    assert_eq!(media.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(media.code(), "UNSUPPORTED_MEDIA_TYPE");
    let big = format!(
        "{{\"name\": \"{}\", \"domain\": \"big.com\"}}",
        "x".repeat(70_000)
    );
    let too_large = app.send(request("application/json", big)).await;
    assert_eq!(too_large.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(too_large.code(), "PAYLOAD_TOO_LARGE");
    let bad_id = app.get("/api/tenants/not-a-uuid", &tokens::admin()).await;
    assert_eq!(bad_id.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_id.code(), "VALIDATION_ERROR");
    let bad_enum = app
        .get("/api/tenants?sortBy=colour", &tokens::admin())
        .await;
    assert_eq!(bad_enum.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad_enum.code(), "VALIDATION_ERROR");
    let unknown_route = app.get("/api/nothing-here", &tokens::admin()).await;
    assert_eq!(unknown_route.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown_route.code(), "ROUTE_NOT_FOUND");
}

#[tokio::test]
async fn duplicate_domains_conflict_case_insensitively() {
    let app = spawn_app().await;
    create(&app, json!({"name": "A", "domain": "dup.example"})).await;
    let again = app
        .post(
            "/api/tenants",
            &tokens::admin(),
            json!({"name": "B", "domain": "DUP.example"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.code(), "DOMAIN_EXISTS");
}

#[tokio::test]
async fn concurrent_creates_with_one_domain_make_exactly_one_tenant() {
    let app = spawn_app().await;
    let token = tokens::admin();
    let attempts = (0..12).map(|i| {
        let (app, token) = (&app, token.clone());
        async move {
            app.post(
                "/api/tenants",
                &token,
                json!({"name": format!("Racer {i}"), "domain": "race.example"}),
            )
            .await
        }
    });
    let answers = futures::future::join_all(attempts).await;
    let created = answers
        .iter()
        .filter(|a| a.status == StatusCode::CREATED)
        .count();
    let conflicts = answers
        .iter()
        .filter(|a| a.status == StatusCode::CONFLICT && a.code() == "DOMAIN_EXISTS")
        .count();
    assert_eq!(
        created,
        1,
        "{:?}",
        answers.iter().map(|a| a.status).collect::<Vec<_>>()
    );
    assert_eq!(conflicts, 11);
    let listed = app.get("/api/tenants?search=race.example", &token).await;
    assert_eq!(listed.body["pagination"]["total"], 1);
}

#[tokio::test]
async fn update_changes_only_what_is_sent_and_moves_the_domain() {
    let app = spawn_app().await;
    let t = create(
        &app,
        json!({"name": "Old", "domain": "old.example", "description": "keep", "address": "1 St"}),
    )
    .await;
    create(&app, json!({"name": "Taken", "domain": "taken.example"})).await;
    let path = format!("/api/tenants/{}", id(&t));

    let answer = app
        .put(
            &path,
            &tokens::manager(),
            json!({"name": "Updated Example Corp", "maxUsers": 200, "address": null}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let u = &answer.body["data"];
    assert_eq!(u["name"], "Updated Example Corp");
    assert_eq!(u["maxUsers"], 200);
    assert_eq!(u["description"], "keep");
    assert_eq!(u["address"], Value::Null);
    assert_eq!(u["createdAt"], t["createdAt"]);
    assert!(u["updatedAt"].as_str().unwrap() >= t["updatedAt"].as_str().unwrap());

    let taken = app
        .put(&path, &tokens::admin(), json!({"domain": "taken.example"}))
        .await;
    assert_eq!(taken.status, StatusCode::CONFLICT);
    assert_eq!(taken.code(), "DOMAIN_EXISTS");

    let moved = app
        .put(&path, &tokens::admin(), json!({"domain": "new.example"}))
        .await;
    assert_eq!(moved.status, StatusCode::OK);
    assert_eq!(moved.body["data"]["domain"], "new.example");
    // The old domain is free again, the new one is claimed.
    create(&app, json!({"name": "Reuse", "domain": "old.example"})).await;
    let clash = app
        .post(
            "/api/tenants",
            &tokens::admin(),
            json!({"name": "Clash", "domain": "new.example"}),
        )
        .await;
    assert_eq!(clash.code(), "DOMAIN_EXISTS");

    let null_name = app
        .put(&path, &tokens::admin(), json!({"name": null}))
        .await;
    assert_eq!(null_name.status, StatusCode::BAD_REQUEST);
    assert_eq!(null_name.body["error"]["details"][0]["field"], "name");

    let missing = app
        .put(
            &format!("/api/tenants/{}", uuid::Uuid::now_v7()),
            &tokens::admin(),
            json!({"name": "x"}),
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.code(), "TENANT_NOT_FOUND");
}

#[tokio::test]
async fn concurrent_updates_all_land() {
    let app = spawn_app().await;
    let t = create(&app, json!({"name": "Busy", "domain": "busy.example"})).await;
    let path = format!("/api/tenants/{}", id(&t));
    let token = tokens::admin();
    let updates = [
        json!({"description": "d"}),
        json!({"address": "a"}),
        json!({"maxUsers": 7}),
        json!({"contactEmail": "x@busy.example"}),
    ];
    let answers =
        futures::future::join_all(updates.iter().map(|u| app.put(&path, &token, u.clone()))).await;
    assert!(
        answers.iter().all(|a| a.status == StatusCode::OK),
        "{answers:?}"
    );
    let now = app.get(&path, &token).await.body["data"].clone();
    assert_eq!(
        (now["description"].clone(), now["address"].clone()),
        (json!("d"), json!("a"))
    );
    assert_eq!(
        (now["maxUsers"].clone(), now["contactEmail"].clone()),
        (json!(7), json!("x@busy.example"))
    );
}

#[tokio::test]
async fn soft_delete_reactivate_and_permanent_delete() {
    let app = spawn_app().await;
    let t = create(&app, json!({"name": "Gone", "domain": "gone.example"})).await;
    let path = format!("/api/tenants/{}", id(&t));

    let soft = app.delete(&path, &tokens::manager()).await;
    assert_eq!(soft.status, StatusCode::OK);
    assert_eq!(soft.body["data"]["isActive"], false);
    assert_eq!(
        app.get(&path, &tokens::admin()).await.body["data"]["isActive"],
        false
    );

    let back = app
        .patch(&format!("{path}/activate"), &tokens::manager())
        .await;
    assert_eq!(back.status, StatusCode::OK);
    assert_eq!(back.body["data"]["isActive"], true);

    let manager_permanent = app
        .delete(&format!("{path}?permanent=true"), &tokens::manager())
        .await;
    assert_eq!(manager_permanent.status, StatusCode::FORBIDDEN);
    assert_eq!(manager_permanent.code(), "INSUFFICIENT_PERMISSIONS");

    let permanent = app
        .delete(&format!("{path}?permanent=true"), &tokens::admin())
        .await;
    assert_eq!(permanent.status, StatusCode::OK);
    let after = app.get(&path, &tokens::admin()).await;
    assert_eq!(after.status, StatusCode::NOT_FOUND);
    assert_eq!(after.code(), "TENANT_NOT_FOUND");
    // The domain is released with the tenant.
    create(&app, json!({"name": "Again", "domain": "gone.example"})).await;

    for answer in [
        app.delete(&path, &tokens::admin()).await,
        app.patch(&format!("{path}/activate"), &tokens::admin())
            .await,
        app.delete(&format!("{path}?permanent=true"), &tokens::admin())
            .await,
    ] {
        assert_eq!(answer.status, StatusCode::NOT_FOUND);
        assert_eq!(answer.code(), "TENANT_NOT_FOUND");
    }
}

#[tokio::test]
async fn list_filters_sorts_and_pages() {
    let app = spawn_app().await;
    let specs = [
        ("Charlie Ltd", "charlie.example", true, 30, "logistics"),
        ("alpha inc", "alpha.example", true, 10, "retail"),
        ("Bravo GmbH", "bravo.example", false, 20, "retail banking"),
        ("Delta Co", "delta.example", true, 40, "energy"),
        ("Echo SA", "echo.example", false, 50, "media"),
    ];
    let mut ids = Vec::new();
    for (name, domain, active, max, description) in specs {
        let t = create(&app, json!({"name": name, "domain": domain, "isActive": active, "maxUsers": max, "description": description})).await;
        ids.push(id(&t));
    }
    let names = |answer: &gobi_tests::Answer| -> Vec<String> {
        answer.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let token = tokens::reader();

    let default = app.get("/api/tenants", &token).await;
    assert_eq!(default.status, StatusCode::OK);
    assert_eq!(
        names(&default),
        [
            "Echo SA",
            "Delta Co",
            "Bravo GmbH",
            "alpha inc",
            "Charlie Ltd"
        ],
        "newest first"
    );
    assert_eq!(
        default.body["pagination"],
        json!({"page": 1, "limit": 10, "total": 5, "totalPages": 1, "hasNext": false, "hasPrev": false})
    );

    let by_name = app
        .get("/api/tenants?sortBy=name&sortOrder=asc", &token)
        .await;
    assert_eq!(
        names(&by_name),
        [
            "alpha inc",
            "Bravo GmbH",
            "Charlie Ltd",
            "Delta Co",
            "Echo SA"
        ]
    );
    let by_domain = app
        .get("/api/tenants?sortBy=domain&sortOrder=desc", &token)
        .await;
    assert_eq!(
        names(&by_domain),
        [
            "Echo SA",
            "Delta Co",
            "Charlie Ltd",
            "Bravo GmbH",
            "alpha inc"
        ]
    );
    let by_users = app
        .get("/api/tenants?sortBy=maxUsers&sortOrder=asc", &token)
        .await;
    assert_eq!(
        names(&by_users),
        [
            "alpha inc",
            "Bravo GmbH",
            "Charlie Ltd",
            "Delta Co",
            "Echo SA"
        ]
    );
    let by_created = app
        .get("/api/tenants?sortBy=createdAt&sortOrder=asc", &token)
        .await;
    assert_eq!(
        names(&by_created),
        [
            "Charlie Ltd",
            "alpha inc",
            "Bravo GmbH",
            "Delta Co",
            "Echo SA"
        ]
    );

    app.put(
        &format!("/api/tenants/{}", ids[0]),
        &tokens::admin(),
        json!({"address": "touched"}),
    )
    .await;
    let by_updated = app
        .get(
            "/api/tenants?sortBy=updatedAt&sortOrder=desc&limit=1",
            &token,
        )
        .await;
    assert_eq!(names(&by_updated), ["Charlie Ltd"]);

    let active = app
        .get(
            "/api/tenants?isActive=true&sortBy=name&sortOrder=asc",
            &token,
        )
        .await;
    assert_eq!(names(&active), ["alpha inc", "Charlie Ltd", "Delta Co"]);
    let inactive = app
        .get(
            "/api/tenants?isActive=false&sortBy=name&sortOrder=asc",
            &token,
        )
        .await;
    assert_eq!(names(&inactive), ["Bravo GmbH", "Echo SA"]);

    let search = app
        .get(
            "/api/tenants?search=RETAIL&sortBy=name&sortOrder=asc",
            &token,
        )
        .await;
    assert_eq!(
        names(&search),
        ["alpha inc", "Bravo GmbH"],
        "search matches description case-insensitively"
    );
    let by_domain_search = app.get("/api/tenants?search=delta.ex", &token).await;
    assert_eq!(names(&by_domain_search), ["Delta Co"]);
    let combined = app
        .get("/api/tenants?search=retail&isActive=false", &token)
        .await;
    assert_eq!(names(&combined), ["Bravo GmbH"]);

    let page2 = app
        .get(
            "/api/tenants?sortBy=name&sortOrder=asc&page=2&limit=2",
            &token,
        )
        .await;
    assert_eq!(names(&page2), ["Charlie Ltd", "Delta Co"]);
    assert_eq!(
        page2.body["pagination"],
        json!({"page": 2, "limit": 2, "total": 5, "totalPages": 3, "hasNext": true, "hasPrev": true})
    );
    let page3 = app
        .get(
            "/api/tenants?sortBy=name&sortOrder=asc&page=3&limit=2",
            &token,
        )
        .await;
    assert_eq!(names(&page3), ["Echo SA"]);
    assert_eq!(page3.body["pagination"]["hasNext"], false);
    let beyond = app.get("/api/tenants?page=9&limit=2", &token).await;
    assert_eq!(beyond.status, StatusCode::OK);
    assert!(names(&beyond).is_empty());

    for bad in [
        "page=0",
        "limit=0",
        "limit=101",
        "isActive=maybe",
        "sortOrder=up",
        "page=x",
    ] {
        let answer = app.get(&format!("/api/tenants?{bad}"), &token).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
        assert_eq!(answer.code(), "VALIDATION_ERROR", "{bad}");
    }
}

#[tokio::test]
async fn roles_decide_who_reads_and_writes() {
    let app = spawn_app().await;
    let t = create(&app, json!({"name": "Roles", "domain": "roles.example"})).await;
    let path = format!("/api/tenants/{}", id(&t));
    let tenant_id = id(&t);

    // Read-only platform user: reads, never writes.
    let reader = tokens::reader();
    assert_eq!(
        app.get("/api/tenants", &reader).await.status,
        StatusCode::OK
    );
    assert_eq!(app.get(&path, &reader).await.status, StatusCode::OK);
    let no_roles = tokens::rs256(&tokens::claims(
        json!({"sub": "u", "acct": gobi_tests::PLATFORM_ACCOUNT}),
    ));
    assert_eq!(
        app.get(&path, &no_roles).await.status,
        StatusCode::OK,
        "no roles still reads"
    );
    for token in [&reader, &no_roles] {
        for answer in [
            app.post(
                "/api/tenants",
                token,
                json!({"name": "x", "domain": "x.example"}),
            )
            .await,
            app.put(&path, token, json!({"name": "x"})).await,
            app.delete(&path, token).await,
            app.patch(&format!("{path}/activate"), token).await,
        ] {
            assert_eq!(answer.status, StatusCode::FORBIDDEN);
            assert_eq!(answer.code(), "INSUFFICIENT_PERMISSIONS");
        }
    }

    // Second seed's staff: internal_operator writes, internal_admin deletes for good.
    let operator = tokens::internal_platform("internal_operator");
    assert_eq!(
        app.put(&path, &operator, json!({"description": "by operator"}))
            .await
            .status,
        StatusCode::OK
    );
    let op_permanent = app
        .delete(&format!("{path}?permanent=true"), &operator)
        .await;
    assert_eq!(op_permanent.code(), "INSUFFICIENT_PERMISSIONS");

    // No platform account: tenant management is refused, another tenant looks absent.
    let elsewhere = gobi_shared::ids::TenantId::new().to_string();
    let outsiders = [
        tokens::client_viewer(&elsewhere),
        tokens::internal("internal_admin", &elsewhere),
        tokens::rs256(&tokens::claims(
            json!({"sub": "u", "roles": ["admin"], "acct": "11111111-1111-1111-1111-111111111111"}),
        )),
        tokens::rs256(&tokens::claims(json!({"sub": "u", "roles": ["admin"]}))),
        tokens::hs256(&tokens::claims(
            json!({"sub": "u", "role": "internal_admin", "is_internal": true}),
        )),
        tokens::hs256(&tokens::claims(
            json!({"sub": "u", "role": "client_viewer", "is_internal": true}),
        )),
    ];
    for token in &outsiders {
        for answer in [
            app.get("/api/tenants", token).await,
            app.delete(&path, token).await,
            app.put(&path, token, json!({"name": "x"})).await,
            app.patch(&format!("{path}/activate"), token).await,
        ] {
            assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.text);
            assert_eq!(answer.code(), "ACCOUNT_NOT_AUTHORIZED");
        }
        assert_eq!(app.get(&path, token).await.code(), "TENANT_NOT_FOUND");
    }
    // The tenant's own tokens read it, and manage it only with the platform account.
    for own in [
        tokens::client_viewer(&tenant_id),
        tokens::internal("internal_admin", &tenant_id),
    ] {
        assert_eq!(app.get(&path, &own).await.status, StatusCode::OK);
        assert_eq!(
            app.put(&path, &own, json!({"name": "x"})).await.code(),
            "ACCOUNT_NOT_AUTHORIZED"
        );
    }

    let admin = tokens::internal_platform("internal_admin");
    assert_eq!(
        app.delete(&format!("{path}?permanent=true"), &admin)
            .await
            .status,
        StatusCode::OK
    );
}
