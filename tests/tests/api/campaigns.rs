//! Campaigns through the API: created as drafts with every reference checked against the tenant
//! (agent, lists, caller ids, concurrency within the tenant's cap), changed only as a draft or
//! paused, started (holding their lists), paused, resumed, cancelled (letting the lists go),
//! duplicated, and deleted only as drafts.

use gobi_tests::{TestApp, spawn_app, tokens};
use http::StatusCode;
use serde_json::{Value, json};

struct Setup {
    tenant: String,
    agent: String,
    list: String,
    caller: String,
}

/// A tenant with an agent, a registered number (`+1555765<suffix>`) and an empty lead list.
async fn setup(app: &TestApp, label: &str, suffix: u32) -> Setup {
    let caller = format!("+1555765{suffix:04}");
    let tenant = app.new_tenant(&format!("Campaigns {label}"), label).await;
    let (agent, _) = app.published_agent(&tenant, "Renewals agent").await;
    app.registered_number(&tenant, &caller).await;
    let list = app.new_lead_list(&tenant, "Renewals").await;
    Setup {
        tenant,
        agent,
        list,
        caller,
    }
}

fn body(s: &Setup) -> Value {
    json!({
        "name": "Spring renewals",
        "agentId": s.agent,
        "leadListIds": [s.list],
        "callerIds": [s.caller],
        "schedule": {
            "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "09:00", "end": "17:30"}],
            "timezone": "America/Chicago",
            "blackoutDates": ["2026-12-25"]
        },
        "pacing": {"maxConcurrency": 5, "maxCallsPerSecond": 1},
        "retry": {"maxAttempts": 3,
                  "noAnswer": {"retry": true, "delayMinutes": 60},
                  "busy": {"retry": true, "delayMinutes": 10},
                  "voicemail": {"retry": false, "delayMinutes": 240},
                  "failed": {"retry": true, "delayMinutes": 30}},
        "variables": {"offer": "10% off"}
    })
}

fn fields(answer: &gobi_tests::Answer) -> Vec<String> {
    answer.body["error"]["details"]
        .as_array()
        .map(|d| {
            d.iter()
                .map(|e| e["field"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_campaign_names_only_the_tenants_own_objects() {
    let app = spawn_app().await;
    let s = setup(&app, "refs", 311).await;
    let other = setup(&app, "refs-other", 312).await;
    let path = format!("/api/tenants/{}/campaigns", s.tenant);

    let empty = app.post(&path, &tokens::admin(), json!({})).await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(fields(&empty), ["name", "schedule", "agentId"]);

    let mut foreign = body(&s);
    foreign["agentId"] = json!(other.agent);
    foreign["leadListIds"] = json!([other.list]);
    foreign["callerIds"] = json!(["+15557650999"]);
    foreign["pacing"]["maxConcurrency"] = json!(50);
    let refused = app.post(&path, &tokens::admin(), foreign).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(
        fields(&refused),
        [
            "agentId",
            "leadListIds[0]",
            "callerIds[0]",
            "pacing.maxConcurrency"
        ]
    );

    let mut shapes = body(&s);
    shapes["schedule"]["windows"][0]["end"] = json!("08:00");
    shapes["schedule"]["timezone"] = json!("Mars/Olympus");
    shapes["retry"]["maxAttempts"] = json!(0);
    let refused = app.post(&path, &tokens::admin(), shapes).await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(
        fields(&refused),
        [
            "schedule.windows[0]",
            "schedule.timezone",
            "retry.maxAttempts"
        ]
    );
}

#[tokio::test]
async fn a_campaign_lives_from_draft_to_cancelled_holding_its_lists_while_started() {
    let app = spawn_app().await;
    let s = setup(&app, "life", 313).await;
    let base = format!("/api/tenants/{}/campaigns", s.tenant);
    let viewer = tokens::client_viewer(&s.tenant);

    let created = app.post(&base, &tokens::admin(), body(&s)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let campaign = &created.body["data"];
    assert_eq!(campaign["state"], "draft");
    assert_eq!(campaign["direction"], "outbound");
    assert_eq!(campaign["schedule"]["windows"][0]["start"], "09:00");
    let id = campaign["id"].as_str().unwrap().to_owned();
    let path = format!("{base}/{id}");

    let denied = app.post(&base, &viewer, body(&s)).await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert_eq!(app.get(&path, &viewer).await.status, StatusCode::OK);
    let page = app.get(&format!("{base}?limit=10"), &viewer).await;
    assert_eq!(page.body["data"].as_array().unwrap().len(), 1);

    let renamed = app
        .put(
            &path,
            &tokens::admin(),
            json!({"name": "Spring renewals 2"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    assert_eq!(renamed.body["data"]["name"], "Spring renewals 2");
    assert_eq!(renamed.body["data"]["variables"]["offer"], "10% off");

    let started = app
        .post(&format!("{path}/start"), &tokens::admin(), json!({}))
        .await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text);
    assert_eq!(started.body["data"]["state"], "running");
    assert!(started.body["data"]["startedAt"].is_string());
    let list_path = format!("/api/tenants/{}/lead-lists/{}", s.tenant, s.list);
    for (answer, code) in [
        (
            app.delete(&list_path, &tokens::admin()).await,
            "LEAD_LIST_IN_USE",
        ),
        (
            app.put(&path, &tokens::admin(), json!({"name": "x"})).await,
            "CAMPAIGN_NOT_EDITABLE",
        ),
        (
            app.delete(&path, &tokens::admin()).await,
            "CAMPAIGN_NOT_DRAFT",
        ),
        (
            app.post(&format!("{path}/start"), &tokens::admin(), json!({}))
                .await,
            "CAMPAIGN_STATE_CONFLICT",
        ),
        (
            app.post(&format!("{path}/resume"), &tokens::admin(), json!({}))
                .await,
            "CAMPAIGN_STATE_CONFLICT",
        ),
    ] {
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::CONFLICT, code),
            "{}",
            answer.text
        );
    }

    let paused = app
        .post(&format!("{path}/pause"), &tokens::admin(), json!({}))
        .await;
    assert_eq!(paused.body["data"]["state"], "paused", "{}", paused.text);
    assert_eq!(paused.body["data"]["pauseReason"], "manual");
    let pacing = app
        .put(
            &path,
            &tokens::admin(),
            json!({"pacing": {"maxConcurrency": 2, "maxCallsPerSecond": 1}}),
        )
        .await;
    assert_eq!(pacing.status, StatusCode::OK, "{}", pacing.text);
    let resumed = app
        .post(&format!("{path}/resume"), &tokens::admin(), json!({}))
        .await;
    assert_eq!(resumed.body["data"]["state"], "running");
    assert_eq!(resumed.body["data"]["pauseReason"], Value::Null);

    let cancelled = app
        .post(&format!("{path}/cancel"), &tokens::admin(), json!({}))
        .await;
    assert_eq!(cancelled.body["data"]["state"], "cancelled");
    assert!(cancelled.body["data"]["finishedAt"].is_string());
    let again = app
        .post(&format!("{path}/cancel"), &tokens::admin(), json!({}))
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    // The list is free again.
    assert_eq!(
        app.delete(&list_path, &tokens::admin()).await.status,
        StatusCode::ACCEPTED
    );
}

#[tokio::test]
async fn a_copy_is_a_new_draft_and_a_future_start_is_scheduled() {
    let app = spawn_app().await;
    let s = setup(&app, "copy", 314).await;
    let base = format!("/api/tenants/{}/campaigns", s.tenant);
    let mut later = body(&s);
    later["schedule"]["startAt"] = json!("2030-01-01T00:00:00Z");
    let created = app.post(&base, &tokens::admin(), later).await;
    let id = created.body["data"]["id"].as_str().unwrap().to_owned();
    let started = app
        .post(
            &format!("{base}/{id}/start?skipWithoutConsent=true"),
            &tokens::admin(),
            json!({}),
        )
        .await;
    assert_eq!(
        started.body["data"]["state"], "scheduled",
        "{}",
        started.text
    );
    assert_eq!(started.body["data"]["skipWithoutConsent"], true);

    let copy = app
        .post(
            &format!("{base}/{id}/duplicate"),
            &tokens::admin(),
            json!({}),
        )
        .await;
    assert_eq!(copy.status, StatusCode::CREATED, "{}", copy.text);
    assert_eq!(copy.body["data"]["state"], "draft");
    assert_eq!(copy.body["data"]["name"], "Spring renewals (copy)");
    assert_ne!(copy.body["data"]["id"], json!(id));
    assert_eq!(copy.body["data"]["startedAt"], Value::Null);
    let copy_id = copy.body["data"]["id"].as_str().unwrap();
    let deleted = app
        .delete(&format!("{base}/{copy_id}"), &tokens::admin())
        .await;
    assert_eq!(deleted.status, StatusCode::OK);
    let gone = app
        .get(&format!("{base}/{copy_id}"), &tokens::admin())
        .await;
    assert_eq!(
        (gone.status, gone.code()),
        (StatusCode::NOT_FOUND, "CAMPAIGN_NOT_FOUND")
    );
}

#[tokio::test]
async fn a_filtered_list_reads_on_until_its_page_is_full() {
    let app = spawn_app().await;
    let s = setup(&app, "filtered", 315).await;
    let base = format!("/api/tenants/{}/campaigns", s.tenant);
    // Five drafts, then two started ones (scheduled for later), then two more drafts.
    let mut scheduled = Vec::new();
    for i in 0..9 {
        let mut wanted = body(&s);
        wanted["name"] = json!(format!("Campaign {i}"));
        if (5..7).contains(&i) {
            wanted["schedule"]["startAt"] = json!("2030-01-01T00:00:00Z");
        }
        let created = app.post(&base, &tokens::admin(), wanted).await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        let id = created.body["data"]["id"].as_str().unwrap().to_owned();
        if (5..7).contains(&i) {
            let started = app
                .post(&format!("{base}/{id}/start"), &tokens::admin(), json!({}))
                .await;
            assert_eq!(
                started.body["data"]["state"], "scheduled",
                "{}",
                started.text
            );
            scheduled.push(id);
        }
    }
    // Two a page: the scheduled ones come in one page, past the five drafts before them.
    let page = app
        .get(&format!("{base}?state=scheduled&limit=2"), &tokens::admin())
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let ids: Vec<&str> = page.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, scheduled, "{}", page.text);
    // The rest holds no scheduled campaign.
    let cursor = page.body["nextCursor"].as_str().expect("a cursor");
    let rest = app
        .get(
            &format!("{base}?state=scheduled&limit=2&cursor={cursor}"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(rest.body["data"], json!([]), "{}", rest.text);
    assert_eq!(rest.body["nextCursor"], Value::Null);
    // Unfiltered pages are as long as asked.
    let drafts = app
        .get(&format!("{base}?state=draft&limit=6"), &tokens::admin())
        .await;
    assert_eq!(drafts.body["data"].as_array().unwrap().len(), 6);
}
