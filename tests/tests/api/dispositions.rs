//! Dispositions: a tenant defines them; the runtime reports one per call (a second replaces
//! it and the timeline says so, a repeat changes nothing), and a `suppress` one puts the other
//! party's number on the do-not-call list.

use gobi_domain::calls::{Call, CallStore, Direction, RingingCall};
use gobi_tests::{TestApp, spawn_app, tokens};
use http::{Method, StatusCode};
use serde_json::{Value, json};

const CALLER: &str = "+14155550188";

/// A tenant with an inbound call from `CALLER`: (tenant, call id).
async fn tenant_with_a_call(app: &TestApp) -> (String, String) {
    let tenant = app.new_tenant("Dispositions", "dispositions").await;
    let call = Call::ringing(
        RingingCall {
            tenant_id: tenant.parse().unwrap(),
            call_sid: format!("CA{}", uuid::Uuid::new_v4().simple()),
            direction: Direction::Inbound,
            from: CALLER.to_owned(),
            to: "+15557650999".to_owned(),
            agent_id: None,
            agent_version_id: None,
            phone_number_id: None,
            retention_days: 30,
            timezone: "UTC".into(),
            answered_by: None,
            campaign: None,
        },
        app.clock.now(),
    );
    CallStore::new(app.dynamodb.clone(), &app.config.tables.calls)
        .open(&call, false)
        .await
        .unwrap();
    (tenant, call.id.to_string())
}

async fn define(app: &TestApp, tenant: &str, body: Value) -> gobi_tests::Answer {
    app.post(
        &format!("/api/tenants/{tenant}/dispositions"),
        &tokens::admin(),
        body,
    )
    .await
}

#[tokio::test]
async fn a_tenant_defines_its_dispositions() {
    let app = spawn_app().await;
    let (tenant, _) = tenant_with_a_call(&app).await;
    let base = format!("/api/tenants/{tenant}/dispositions");
    let created = define(
        &app,
        &tenant,
        json!({"code": "appointment_set", "label": "Appointment set", "success": true, "terminal": true}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["data"]["success"], true);
    assert_eq!(created.body["data"]["suppress"], false);
    let again = define(
        &app,
        &tenant,
        json!({"code": "appointment_set", "label": "Again"}),
    )
    .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "DISPOSITION_EXISTS")
    );
    for bad in [
        json!({"code": "Appointment", "label": "Upper case"}),
        json!({"code": "no-answer", "label": "Dash"}),
        json!({"label": "No code"}),
        json!({"code": "no_label"}),
        json!({"code": "blank", "label": "  "}),
    ] {
        let refused = define(&app, &tenant, bad.clone()).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            refused.text
        );
    }
    define(
        &app,
        &tenant,
        json!({"code": "do_not_call", "label": "Do not call", "suppress": true}),
    )
    .await;
    let listed = app.get(&base, &tokens::client_viewer(&tenant)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let codes: Vec<&str> = listed.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["appointment_set", "do_not_call"]);

    let changed = app
        .call(
            Method::PUT,
            &format!("{base}/appointment_set"),
            Some(&tokens::admin()),
            Some(json!({"label": "Meeting booked", "terminal": false})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(changed.body["data"]["label"], "Meeting booked");
    assert_eq!(changed.body["data"]["success"], true, "unsent fields stay");
    assert_eq!(changed.body["data"]["terminal"], false);
    let renamed = app
        .call(
            Method::PUT,
            &format!("{base}/appointment_set"),
            Some(&tokens::admin()),
            Some(json!({"code": "other"})),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::BAD_REQUEST, "{}", renamed.text);
    // A viewer reads but does not write.
    let viewer = app
        .call(
            Method::DELETE,
            &format!("{base}/do_not_call"),
            Some(&tokens::client_viewer(&tenant)),
            None,
        )
        .await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN, "{}", viewer.text);
    let deleted = app
        .delete(&format!("{base}/do_not_call"), &tokens::admin())
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    let gone = app
        .get(&format!("{base}/do_not_call"), &tokens::admin())
        .await;
    assert_eq!(
        (gone.status, gone.code()),
        (StatusCode::NOT_FOUND, "DISPOSITION_NOT_FOUND")
    );
}

#[tokio::test]
async fn one_disposition_per_call_replaced_on_record_and_suppressing_when_it_says_so() {
    let app = spawn_app().await;
    let (tenant, call) = tenant_with_a_call(&app).await;
    define(
        &app,
        &tenant,
        json!({"code": "appointment_set", "label": "Appointment set", "success": true}),
    )
    .await;
    define(
        &app,
        &tenant,
        json!({"code": "do_not_call", "label": "Do not call", "suppress": true, "terminal": true}),
    )
    .await;
    let runtime = tokens::internal("internal_operator", &tenant);
    let report = |body: Value| {
        let app = &app;
        let runtime = runtime.clone();
        let path = format!("/internal/runtime/calls/{call}/disposition");
        async move { app.post(&path, &runtime, body).await }
    };

    let kpis = || async {
        let today = app.clock.now().date_naive();
        let answer = app
            .get(
                &format!("/client/kpis?from={today}&to={today}"),
                &tokens::client_viewer(&tenant),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body["data"]["total"].clone()
    };
    let first =
        report(json!({"code": "appointment_set", "data": {"slot": "2026-11-24T10:00"}})).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let counted = kpis().await;
    assert_eq!(counted["dispositions"], json!({"appointment_set": 1}));
    assert_eq!(counted["successes"], 1);
    assert_eq!(first.body["data"]["replaced"], Value::Null);
    assert_eq!(first.body["data"]["unchanged"], false);
    assert_eq!(first.body["data"]["disposition"]["success"], true);
    // The same report again (a retry) changes nothing.
    let repeat =
        report(json!({"code": "appointment_set", "data": {"slot": "2026-11-24T10:00"}})).await;
    assert_eq!(repeat.body["data"]["unchanged"], true, "{}", repeat.text);
    // Another: it replaces the first.
    let second = report(json!({"code": "do_not_call"})).await;
    assert_eq!(second.status, StatusCode::OK, "{}", second.text);
    assert_eq!(second.body["data"]["replaced"], "appointment_set");
    assert_eq!(second.body["data"]["suppressed"], true);
    // The day's counters follow the call's disposition: the replaced code and success are gone.
    let counted = kpis().await;
    assert_eq!(
        counted["dispositions"],
        json!({"do_not_call": 1}),
        "{counted}"
    );
    assert_eq!(counted["successes"], 0);
    // A code the tenant has not defined.
    let unknown = report(json!({"code": "sold"})).await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "DISPOSITION_NOT_FOUND")
    );
    let oversized = report(json!({"code": "sold", "data": {"blob": "x".repeat(9000)}})).await;
    assert_eq!(
        oversized.status,
        StatusCode::BAD_REQUEST,
        "{}",
        oversized.text
    );

    // The call carries the last one; its timeline has both, the second naming what it replaced.
    let shown = app
        .get(
            &format!("/client/calls/{call}"),
            &tokens::client_viewer(&tenant),
        )
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.text);
    assert_eq!(shown.body["data"]["disposition"]["code"], "do_not_call");
    let events: Vec<&Value> = shown.body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "disposition")
        .collect();
    assert_eq!(events.len(), 2, "{}", shown.text);
    assert_eq!(events[0]["detail"], json!({"code": "appointment_set"}));
    assert_eq!(
        events[1]["detail"],
        json!({"code": "do_not_call", "replaced": "appointment_set"})
    );
    // The caller is on the do-not-call list.
    let check = app
        .get(
            &format!("/api/tenants/{tenant}/suppressions/{CALLER}"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(check.status, StatusCode::OK, "{}", check.text);
    assert_eq!(check.body["data"]["suppressed"], true, "{}", check.text);
    // Another tenant's runtime reaches nothing.
    let other = app.new_tenant("Other", "dispositions-other").await;
    let foreign = app
        .post(
            &format!("/internal/runtime/calls/{call}/disposition"),
            &tokens::internal("internal_operator", &other),
            json!({"code": "appointment_set"}),
        )
        .await;
    assert_eq!(
        (foreign.status, foreign.code()),
        (StatusCode::NOT_FOUND, "CALL_NOT_FOUND")
    );
}

#[tokio::test]
async fn racing_reports_leave_one_disposition_counted_once() {
    let app = spawn_app().await;
    let (tenant, call) = tenant_with_a_call(&app).await;
    for code in ["a", "b", "c"] {
        define(
            &app,
            &tenant,
            json!({"code": code, "label": code, "success": code == "a"}),
        )
        .await;
    }
    let runtime = tokens::internal("internal_operator", &tenant);
    let path = format!("/internal/runtime/calls/{call}/disposition");
    let reports = (0..9).map(|i| {
        let code = ["a", "b", "c"][i % 3];
        app.post(&path, &runtime, json!({"code": code, "data": {"n": i}}))
    });
    for answer in futures::future::join_all(reports).await {
        // Each lands, or (after three lost races) asks to be sent again.
        assert!(
            answer.status == StatusCode::OK || answer.code() == "CONCURRENT_MODIFICATION",
            "{}",
            answer.text
        );
    }
    let shown = app
        .get(
            &format!("/client/calls/{call}"),
            &tokens::client_viewer(&tenant),
        )
        .await;
    let last = shown.body["data"]["disposition"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let today = app.clock.now().date_naive();
    let kpis = app
        .get(
            &format!("/client/kpis?from={today}&to={today}"),
            &tokens::client_viewer(&tenant),
        )
        .await;
    let total = &kpis.body["data"]["total"];
    assert_eq!(total["dispositions"], json!({ last.clone(): 1 }), "{total}");
    assert_eq!(total["successes"], u64::from(last == "a"), "{total}");
}
