//! Analytics on the local stack: calls opened by Twilio's signed webhook, moved by repeated and
//! out-of-order runtime events, status callbacks and dispositions, counted exactly once per
//! agent, version, number and tenant, in the tenant's own hours and days; and two versions of
//! an agent compared with a z-test.

use axum::body::Body;
use chrono::{Duration, NaiveTime};
use gobi_tests::{TestApp, WEBHOOK_BASE, spawn_telephony_app_with, tokens};
use gobi_twilio_webhook::signature;
use http::{Request, StatusCode};
use serde_json::{Value, json};

const AUTH_TOKEN: &str = "twilio-test-token";

/// A tenant in `timezone` with an agent (version 1 published) answering `number`:
/// (tenant, agent, version).
pub(crate) async fn line(
    app: &TestApp,
    label: &str,
    timezone: &str,
    number: &str,
) -> (String, String, String) {
    let admin = tokens::admin();
    let tenant = app.new_tenant(label, label).await;
    let zoned = app
        .put(
            &format!("/api/tenants/{tenant}"),
            &admin,
            json!({"timezone": timezone}),
        )
        .await;
    assert_eq!(zoned.status, StatusCode::OK, "{}", zoned.text);
    assert_eq!(zoned.body["data"]["timezone"], timezone);
    let (agent, version) = app.published_agent(&tenant, "Reception").await;
    let bought = app
        .post(
            &format!("/api/tenants/{tenant}/phone-numbers"),
            &admin,
            json!({"number": number, "agentId": agent}),
        )
        .await;
    assert_eq!(bought.status, StatusCode::CREATED, "{}", bought.text);
    for (code, success) in [("sale", true), ("no_sale", false)] {
        let defined = app
            .post(
                &format!("/api/tenants/{tenant}/dispositions"),
                &admin,
                json!({"code": code, "label": code, "success": success}),
            )
            .await;
        assert_eq!(defined.status, StatusCode::CREATED, "{}", defined.text);
    }
    (tenant, agent, version)
}

pub(crate) async fn twilio(app: &TestApp, path: &str, params: &[(&str, &str)]) {
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let signature = signature::compute(AUTH_TOKEN, &format!("{WEBHOOK_BASE}{path}"), &params);
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&params)
        .finish();
    let answer = app
        .send(
            Request::post(path)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-twilio-signature", signature)
                .body(Body::from(body))
                .unwrap(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
}

/// An inbound call to `number` (Twilio's webhook): its id.
pub(crate) async fn ring(app: &TestApp, tenant: &str, sid: &str, number: &str) -> String {
    let form = [
        ("CallSid", sid),
        ("From", "+14158675309"),
        ("To", number),
        ("CallStatus", "ringing"),
    ];
    twilio(app, "/twilio/webhook/inbound", &form).await;
    app.calls_of(tenant)
        .await
        .iter()
        .find(|c| c["call_sid"] == sid)
        .and_then(|c| c["id"].as_str())
        .expect("the call is recorded")
        .to_owned()
}

async fn status(app: &TestApp, sid: &str, status: &str, duration: Option<&str>) {
    let mut form = vec![("CallSid", sid), ("CallStatus", status)];
    if let Some(duration) = duration {
        form.push(("CallDuration", duration));
    }
    twilio(app, "/twilio/webhook/status", &form).await;
}

async fn events(app: &TestApp, tenant: &str, call: &str, events: Value) {
    let answer = app
        .post(
            &format!("/internal/runtime/calls/{call}/events"),
            &tokens::internal("internal_operator", tenant),
            json!({ "events": events }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

async fn dispose(app: &TestApp, tenant: &str, call: &str, code: &str) {
    let answer = app
        .post(
            &format!("/internal/runtime/calls/{call}/disposition"),
            &tokens::internal("internal_operator", tenant),
            json!({ "code": code }),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
}

async fn read(app: &TestApp, path: &str, token: &str) -> Value {
    let answer = app.get(path, token).await;
    assert_eq!(answer.status, StatusCode::OK, "{path}: {}", answer.text);
    answer.body["data"].clone()
}

fn event(id: &str, kind: &str) -> Value {
    json!({"event_id": id, "kind": kind})
}

#[tokio::test]
async fn counters_are_exact_whatever_the_order_and_repeats_in_the_tenants_hours() {
    let (app, _fakes) =
        spawn_telephony_app_with(true, vec![("TWILIO_VALIDATE_SIGNATURE", "true".into())]).await;
    // 03:30 UTC tomorrow: still the evening before in New York.
    let now = app.clock.now();
    let at = (now.date_naive() + Duration::days(1))
        .and_time(NaiveTime::from_hms_opt(3, 30, 0).unwrap())
        .and_utc();
    app.clock.advance(at - now);
    let new_york_day = (at - Duration::hours(5)).date_naive().to_string();
    let utc_day = at.date_naive().to_string();
    let number = "+15557652001";
    let (tenant, agent, version) = line(&app, "analytics", "America/New_York", number).await;
    let viewer = tokens::client_viewer(&tenant);

    // Call 1: answered (the runtime says so twice, with a third answer late), transferred once
    // (re-sent), 75 s (Twilio's final callback twice, then a stale in-progress), disposition
    // no_sale then sale then sale again.
    let first = ring(&app, &tenant, "CAan0001", number).await;
    // Twilio retries the webhook: still one call.
    ring(&app, &tenant, "CAan0001", number).await;
    let a1 = uuid::Uuid::new_v4().to_string();
    let t1 = uuid::Uuid::new_v4().to_string();
    events(
        &app,
        &tenant,
        &first,
        json!([event(&a1, "answered"), event(&t1, "transferred")]),
    )
    .await;
    events(
        &app,
        &tenant,
        &first,
        json!([event(&a1, "answered"), event(&t1, "transferred")]),
    )
    .await;
    events(
        &app,
        &tenant,
        &first,
        json!([event(&uuid::Uuid::new_v4().to_string(), "answered")]),
    )
    .await;
    status(&app, "CAan0001", "completed", Some("75")).await;
    status(&app, "CAan0001", "completed", Some("75")).await;
    status(&app, "CAan0001", "in-progress", None).await;
    dispose(&app, &tenant, &first, "no_sale").await;
    dispose(&app, &tenant, &first, "sale").await;
    dispose(&app, &tenant, &first, "sale").await;
    // Call 2: never answered.
    ring(&app, &tenant, "CAan0002", number).await;
    status(&app, "CAan0002", "no-answer", None).await;
    // Call 3: Twilio's callbacks first (in-progress, then completed at 400 s), the runtime's
    // answer after them.
    let third = ring(&app, &tenant, "CAan0003", number).await;
    status(&app, "CAan0003", "in-progress", None).await;
    status(&app, "CAan0003", "completed", Some("400")).await;
    events(
        &app,
        &tenant,
        &third,
        json!([event(&uuid::Uuid::new_v4().to_string(), "answered")]),
    )
    .await;
    dispose(&app, &tenant, &third, "no_sale").await;

    let expect_totals = |figures: &Value| {
        assert_eq!(figures["calls"], 3, "{figures}");
        assert_eq!(figures["answered"], 2, "{figures}");
        assert_eq!(figures["transfers"], 1, "{figures}");
        assert_eq!(figures["talkSeconds"], 475, "{figures}");
        assert_eq!(figures["averageTalkSeconds"], 237.5, "{figures}");
        // 75 s in the 60-120 s bucket, 400 s in the 300-600 s one.
        assert_eq!(figures["p50TalkSeconds"], 120.0, "{figures}");
        assert_eq!(figures["p90TalkSeconds"], 540.0, "{figures}");
        assert_eq!(figures["successes"], 1, "{figures}");
        assert_eq!(figures["successRate"], 0.5, "{figures}");
        assert_eq!(
            figures["dispositions"],
            json!({"sale": 1, "no_sale": 1}),
            "{figures}"
        );
        assert_eq!(figures["voicemail"], 0, "{figures}");
    };
    for (group_by, key) in [
        ("agent", agent.as_str()),
        ("version", version.as_str()),
        ("number", number),
        ("tenant", "-"),
    ] {
        let report = read(
            &app,
            &format!("/client/analytics?groupBy={group_by}"),
            &viewer,
        )
        .await;
        assert_eq!(report["timezone"], "America/New_York");
        let groups = report["groups"].as_array().unwrap();
        assert_eq!(groups.len(), 1, "{group_by}: {report}");
        assert_eq!(groups[0]["key"], key, "{group_by}");
        expect_totals(&groups[0]["total"]);
        // The default period: the 30 days that end today in New York.
        assert_eq!(report["to"], new_york_day);
        let series = groups[0]["series"].as_array().unwrap();
        assert_eq!(series.len(), 1, "{series:?}");
        assert_eq!(series[0]["period"], new_york_day);
    }
    // By hour: 22:30 the evening before, New York time.
    let hourly = read(
        &app,
        &format!(
            "/client/analytics?groupBy=agent&interval=hour&from={new_york_day}&to={new_york_day}"
        ),
        &viewer,
    )
    .await;
    assert_eq!(
        hourly["groups"][0]["series"][0]["period"],
        format!("{new_york_day}T22")
    );
    expect_totals(&hourly["groups"][0]["series"][0]);
    // The same figures for operators under the tenant.
    let operator = read(
        &app,
        &format!("/api/tenants/{tenant}/analytics?groupBy=agent"),
        &tokens::admin(),
    )
    .await;
    expect_totals(&operator["total"]);
    // KPIs with no parameters: the last 30 days, New York's.
    let kpis = read(&app, "/client/kpis", &viewer).await;
    let days = kpis["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days[29]["date"], new_york_day);
    assert_eq!(days[29]["calls"], 3);
    assert_eq!(kpis["total"]["answered"], 2);

    // A tenant in UTC counts the same moment on the next day.
    let utc_number = "+15557652002";
    let (utc_tenant, _, _) = line(&app, "analytics-utc", "UTC", utc_number).await;
    ring(&app, &utc_tenant, "CAan0101", utc_number).await;
    let utc = read(
        &app,
        &format!("/client/analytics?tenant_id={utc_tenant}"),
        &tokens::admin(),
    )
    .await;
    assert_eq!(utc["to"], utc_day);
    assert_eq!(utc["groups"][0]["series"][0]["period"], utc_day);
    assert_eq!(utc["total"]["calls"], 1);

    // Ranges are bounded and inputs checked.
    for bad in [
        "/client/analytics?interval=hour&from=2026-01-01&to=2026-02-15",
        "/client/analytics?from=2025-01-01&to=2026-06-01",
        "/client/analytics?from=2026-02-02&to=2026-02-01",
        "/client/analytics?groupBy=weather",
    ] {
        let refused = app.get(bad, &viewer).await;
        assert_eq!(
            refused.status,
            StatusCode::BAD_REQUEST,
            "{bad}: {}",
            refused.text
        );
    }
}

#[tokio::test]
async fn two_versions_of_an_agent_are_compared_with_a_z_test() {
    let (app, _fakes) =
        spawn_telephony_app_with(true, vec![("TWILIO_VALIDATE_SIGNATURE", "true".into())]).await;
    let number = "+15557652003";
    let (tenant, agent, first) = line(&app, "compare", "UTC", number).await;
    let admin = tokens::admin();
    // 30 answered calls on version 1, 6 of them sales; then version 2 goes live and sells on
    // 15 of 30.
    let mut sid = 0;
    let mut calls = |sales: usize| {
        let app = &app;
        let tenant = tenant.clone();
        sid += 100;
        let base = sid;
        async move {
            for n in 0..30 {
                let call_sid = format!("CAcmp{:05}", base + n);
                let call = ring(app, &tenant, &call_sid, number).await;
                events(
                    app,
                    &tenant,
                    &call,
                    json!([event(&uuid::Uuid::new_v4().to_string(), "answered")]),
                )
                .await;
                let code = if n < sales { "sale" } else { "no_sale" };
                dispose(app, &tenant, &call, code).await;
            }
        }
    };
    calls(6).await;
    let second = app
        .post(
            &format!("/internal/agents/{agent}/versions"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    let second = second.body["data"]["id"].as_str().unwrap().to_owned();
    let published = app
        .post(
            &format!("/internal/agents/{agent}/versions/{second}/publish"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(published.status, StatusCode::OK, "{}", published.text);
    calls(15).await;

    let path =
        format!("/api/tenants/{tenant}/agents/{agent}/compare?versionA={first}&versionB={second}");
    let compared = read(&app, &path, &admin).await;
    assert_eq!(compared["versionA"]["answered"], 30, "{compared}");
    assert_eq!(compared["versionA"]["successes"], 6);
    assert_eq!(compared["versionB"]["answered"], 30);
    assert_eq!(compared["versionB"]["successes"], 15);
    assert_eq!(compared["notEnoughData"], false);
    // p = 0.2 and 0.5 over 30 each: pooled 0.35, SE = √(0.35·0.65·(2/30)) = 0.123153,
    // z = 0.3 / 0.123153 = 2.43599, two-sided p = 0.014851.
    let z = compared["zTest"]["z"].as_f64().unwrap();
    let p = compared["zTest"]["pValue"].as_f64().unwrap();
    assert!((z - 2.435_993).abs() < 1e-5, "{compared}");
    assert!((p - 0.014_851).abs() < 1e-5, "{compared}");
    assert_eq!(compared["zTest"]["significant"], true);

    // A range with no calls: not enough data, no verdict.
    let empty = read(
        &app,
        &format!("{path}&from=2020-01-01&to=2020-01-31"),
        &admin,
    )
    .await;
    assert_eq!(empty["notEnoughData"], true);
    assert_eq!(empty["zTest"], Value::Null);
    assert_eq!(empty["versionA"]["answered"], 0);
    // Another agent's version is no version of this one.
    let (_, other_version) = app.published_agent(&tenant, "Other").await;
    let foreign = app
        .get(
            &format!("/api/tenants/{tenant}/agents/{agent}/compare?versionA={first}&versionB={other_version}"),
            &admin,
        )
        .await;
    assert_eq!(
        (foreign.status, foreign.code()),
        (StatusCode::NOT_FOUND, "AGENT_VERSION_NOT_FOUND")
    );
}
