//! Lead lists, their leads and the do-not-call list through the API, and an opt-out heard on a
//! call suppressing the caller at once.

use gobi_domain::calls::{Call, CallStatus, CallStore, Direction};
use gobi_domain::leads::model::LeadList;
use gobi_shared::ids::CallId;
use gobi_tests::{TestApp, spawn_app, tokens};
use http::StatusCode;
use serde_json::json;

async fn list_with_leads(app: &TestApp, tenant: &str, rows: usize) -> String {
    let created = app
        .post(
            &format!("/api/tenants/{tenant}/lead-lists"),
            &tokens::admin(),
            json!({"name": "Renewals", "defaultCountry": "us", "description": "Q2"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["data"]["defaultCountry"], "US");
    let list: LeadList = serde_json::from_value(created.body["data"].clone()).unwrap();
    let mut text = String::from("Phone,Name\n");
    for i in 0..rows {
        text.push_str(&format!("(415) 555-{:04},Lead {i}\n", 1000 + i));
    }
    let imported = app
        .post_csv(
            &format!("/api/tenants/{tenant}/lead-lists/{}/imports", list.id),
            &tokens::admin(),
            text.as_bytes(),
        )
        .await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.text);
    app.drain_lead_imports().await;
    list.id.to_string()
}

#[tokio::test]
async fn lists_show_their_counts_and_leads_page_by_cursor() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Leads", "leads").await;
    let list = list_with_leads(&app, &tenant, 7).await;
    let viewer = tokens::client_viewer(&tenant);

    let got = app
        .get(&format!("/api/tenants/{tenant}/lead-lists/{list}"), &viewer)
        .await;
    assert_eq!(got.status, StatusCode::OK, "{}", got.text);
    assert_eq!(
        got.body["data"]["counts"],
        json!({"total": 7, "valid": 7, "suppressed": 0})
    );
    let all = app
        .get(&format!("/api/tenants/{tenant}/lead-lists"), &viewer)
        .await;
    assert_eq!(all.body["data"].as_array().unwrap().len(), 1);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("?limit=3&cursor={c}"),
            None => "?limit=3".into(),
        };
        let page = app
            .get(
                &format!("/api/tenants/{tenant}/lead-lists/{list}/leads{query}"),
                &viewer,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        for lead in page.body["data"].as_array().unwrap() {
            seen.push(lead["phoneNumber"].as_str().unwrap().to_owned());
        }
        cursor = page.body["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let expected: Vec<String> = (0..7).map(|i| format!("+1415555{:04}", 1000 + i)).collect();
    assert_eq!(seen, expected, "every lead once, in number order");

    let lead = app
        .get(
            &format!("/api/tenants/{tenant}/lead-lists/{list}/leads/14155551003"),
            &viewer,
        )
        .await;
    assert_eq!(lead.body["data"]["name"], "Lead 3");
    assert_eq!(lead.body["data"]["timezone"]["zone"], "America/Los_Angeles");
    let found = app
        .get(
            &format!("/api/tenants/{tenant}/lead-lists/{list}/leads?search=lead%205"),
            &viewer,
        )
        .await;
    assert_eq!(
        found.body["data"].as_array().unwrap().len(),
        1,
        "{}",
        found.text
    );
    let by_number = app
        .get(
            &format!("/api/tenants/{tenant}/lead-lists/{list}/leads?search=555-1006"),
            &viewer,
        )
        .await;
    assert_eq!(
        by_number.body["data"][0]["name"], "Lead 6",
        "{}",
        by_number.text
    );
    let missing = app
        .get(
            &format!("/api/tenants/{tenant}/lead-lists/{list}/leads/14155559999"),
            &viewer,
        )
        .await;
    assert_eq!(
        (missing.status, missing.code()),
        (StatusCode::NOT_FOUND, "LEAD_NOT_FOUND")
    );
    let bad = app
        .get(
            &format!("/api/tenants/{tenant}/lead-lists/{list}/leads?cursor=nope"),
            &viewer,
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{}", bad.text);

    // A viewer reads but does not change; an operator renames.
    let refused = app
        .put(
            &format!("/api/tenants/{tenant}/lead-lists/{list}"),
            &viewer,
            json!({"name": "Mine"}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let renamed = app
        .put(
            &format!("/api/tenants/{tenant}/lead-lists/{list}"),
            &tokens::internal("internal_operator", &tenant),
            json!({"name": "Renewals 2", "defaultCountry": "zz"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::BAD_REQUEST, "{}", renamed.text);
    let renamed = app
        .put(
            &format!("/api/tenants/{tenant}/lead-lists/{list}"),
            &tokens::internal("internal_operator", &tenant),
            json!({"name": "Renewals 2", "defaultCountry": "gb"}),
        )
        .await;
    assert_eq!(renamed.status, StatusCode::OK, "{}", renamed.text);
    assert_eq!(
        (
            renamed.body["data"]["name"].as_str(),
            renamed.body["data"]["defaultCountry"].as_str()
        ),
        (Some("Renewals 2"), Some("GB"))
    );
    assert_eq!(
        renamed.body["data"]["counts"]["total"], 7,
        "counts are not the body's to change"
    );
}

#[tokio::test]
async fn the_do_not_call_list_adds_checks_pages_and_removes() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Dnc", "dnc").await;
    let operator = tokens::internal("internal_operator", &tenant);
    let base = format!("/api/tenants/{tenant}/suppressions");
    for number in ["+14155550201", "+14155550202", "+14155550203"] {
        let added = app
            .post(
                &base,
                &operator,
                json!({"phoneNumber": number, "reason": "manual"}),
            )
            .await;
        assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    }
    // Adding again keeps the first entry.
    let again = app
        .post(
            &base,
            &operator,
            json!({"phoneNumber": "+14155550201", "reason": "complaint", "source": "x"}),
        )
        .await;
    assert_eq!(again.body["data"]["reason"], "manual");
    let invalid = app
        .post(
            &base,
            &operator,
            json!({"phoneNumber": "415-555", "reason": "manual"}),
        )
        .await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);

    let first = app.get(&format!("{base}?limit=2"), &operator).await;
    assert_eq!(first.body["data"].as_array().unwrap().len(), 2);
    let next = first.body["nextCursor"].as_str().unwrap();
    let second = app
        .get(&format!("{base}?limit=2&cursor={next}"), &operator)
        .await;
    assert_eq!(second.body["data"][0]["phoneNumber"], "+14155550203");

    let check = app.get(&format!("{base}/+14155550202"), &operator).await;
    assert_eq!(check.body["data"]["suppressed"], true);
    let removed = app.delete(&format!("{base}/+14155550202"), &operator).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    let check = app.get(&format!("{base}/+14155550202"), &operator).await;
    assert_eq!(check.body["data"]["suppressed"], false);
    let gone = app.delete(&format!("{base}/+14155550202"), &operator).await;
    assert_eq!(
        (gone.status, gone.code()),
        (StatusCode::NOT_FOUND, "SUPPRESSION_NOT_FOUND")
    );
}

#[tokio::test]
async fn an_opt_out_heard_on_a_call_suppresses_the_caller_at_once() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Optout", "optout").await;
    let now = app.clock.now();
    let call = Call {
        id: CallId::new(),
        tenant_id: tenant.parse().unwrap(),
        call_sid: format!("CA{}", uuid::Uuid::new_v4().simple()),
        direction: Direction::Inbound,
        from: "+14158675310".into(),
        to: "+15557650001".into(),
        agent_id: None,
        agent_version_id: None,
        phone_number_id: None,
        timezone: None,
        answered_by: None,
        status: CallStatus::InProgress,
        started_at: now,
        answered_at: None,
        ended_at: None,
        duration_seconds: None,
        dispatch_id: None,
        end_reason: None,
        retention_days: 30,
        legal_hold: None,
        campaign_id: None,
        lead_id: None,
        campaign_attempt: None,
        disposition: None,
        created_at: now,
        updated_at: now,
    };
    CallStore::new(app.dynamodb.clone(), &app.config.tables.calls)
        .open(&call, false)
        .await
        .unwrap();
    let other = app.new_tenant("Other", "other").await;
    let path = format!("/internal/runtime/calls/{}/opt-out", call.id);
    let foreign = app
        .post(
            &path,
            &tokens::internal("internal_operator", &other),
            json!({}),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.text);

    let runtime = tokens::internal("internal_operator", &tenant);
    let heard = app
        .post(&path, &runtime, json!({"note": "please stop calling"}))
        .await;
    assert_eq!(heard.status, StatusCode::OK, "{}", heard.text);
    assert_eq!(heard.body["data"]["reason"], "optOut");
    assert_eq!(heard.body["data"]["source"], format!("call:{}", call.id));
    let check = app
        .get(
            &format!("/api/tenants/{tenant}/suppressions/+14158675310"),
            &runtime,
        )
        .await;
    assert_eq!(check.body["data"]["suppressed"], true);
    // The other tenant's list does not have it.
    let elsewhere = app
        .get(
            &format!("/api/tenants/{other}/suppressions/+14158675310"),
            &tokens::internal("internal_operator", &other),
        )
        .await;
    assert_eq!(elsewhere.body["data"]["suppressed"], false);
}

#[tokio::test]
async fn one_lead_is_added_changed_and_removed_with_the_counts_kept() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("OneLead", "onelead").await;
    let list = list_with_leads(&app, &tenant, 0).await;
    let operator = tokens::internal("internal_operator", &tenant);
    let leads = format!("/api/tenants/{tenant}/lead-lists/{list}/leads");
    app.post(
        &format!("/api/tenants/{tenant}/suppressions"),
        &operator,
        json!({"phoneNumber": "+14155550302", "reason": "optOut"}),
    )
    .await;
    let added = app
        .post(
            &leads,
            &operator,
            json!({"phoneNumber": "(415) 555-0301", "name": "Ann", "timezone": "America/Denver",
                   "consent": {"type": "written", "source": "web form"}, "tags": ["vip"]}),
        )
        .await;
    assert_eq!(added.status, StatusCode::CREATED, "{}", added.text);
    assert_eq!(added.body["data"]["phoneNumber"], "+14155550301");
    assert_eq!(
        added.body["data"]["timezone"],
        json!({"source": "explicit", "zone": "America/Denver"})
    );
    let again = app
        .post(&leads, &operator, json!({"phoneNumber": "+14155550301"}))
        .await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "LEAD_EXISTS")
    );
    let suppressed = app
        .post(&leads, &operator, json!({"phoneNumber": "+14155550302"}))
        .await;
    assert_eq!(suppressed.body["data"]["state"], "suppressed");
    let bad = app
        .post(
            &leads,
            &operator,
            json!({"phoneNumber": "12", "timezone": "Nowhere/Land"}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    let list_path = format!("/api/tenants/{tenant}/lead-lists/{list}");
    assert_eq!(
        app.get(&list_path, &tokens::admin()).await.body["data"]["counts"],
        json!({"total": 2, "valid": 1, "suppressed": 1})
    );

    let changed = app
        .call(
            http::Method::PATCH,
            &format!("{leads}/14155550301"),
            Some(&operator),
            Some(json!({"variables": {"plan": "gold"}, "tags": []})),
        )
        .await;
    assert_eq!(changed.status, StatusCode::OK, "{}", changed.text);
    assert_eq!(changed.body["data"]["variables"], json!({"plan": "gold"}));
    assert_eq!(changed.body["data"]["name"], "Ann", "fields not sent stay");

    let removed = app.delete(&format!("{leads}/14155550302"), &operator).await;
    assert_eq!(removed.status, StatusCode::OK, "{}", removed.text);
    assert_eq!(
        app.get(&list_path, &tokens::admin()).await.body["data"]["counts"],
        json!({"total": 1, "valid": 1, "suppressed": 0})
    );
    let gone = app.get(&format!("{leads}/14155550302"), &operator).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_filtered_page_is_full_however_sparse_the_matches() {
    let app = spawn_app().await;
    let tenant = app.new_tenant("Sparse", "sparse").await;
    let list = list_with_leads(&app, &tenant, 300).await;
    let viewer = tokens::client_viewer(&tenant);
    // "Lead 14" matches 14 and 140..149: eleven leads spread over the list's 300.
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let after = cursor
            .as_ref()
            .map(|c| format!("&cursor={c}"))
            .unwrap_or_default();
        let page = app
            .get(
                &format!(
                    "/api/tenants/{tenant}/lead-lists/{list}/leads?search=Lead%2014&limit=4{after}"
                ),
                &viewer,
            )
            .await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let names: Vec<String> = page.body["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap().to_owned())
            .collect();
        pages.push(names);
        cursor = page.body["nextCursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    let sizes: Vec<usize> = pages.iter().map(Vec::len).collect();
    assert_eq!(&sizes[..3], [4, 4, 3], "{pages:?}");
    assert!(sizes[3..].iter().all(|n| *n == 0), "{pages:?}");
    let mut all: Vec<String> = pages.concat();
    all.sort();
    let mut expected: Vec<String> = std::iter::once(14)
        .chain(140..150)
        .map(|i| format!("Lead {i}"))
        .collect();
    expected.sort();
    assert_eq!(all, expected);
}
