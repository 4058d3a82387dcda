//! Call records: runtime ingestion, the client read-only API, KPIs from counters, retention and
//! legal hold, against DynamoDB Local.
//!
//! Longer than 600 lines on purpose: each test here is a whole story of this area against the
//! local stack (setup, requests, what the stores hold afterwards), and they share one setup.

use aws_sdk_dynamodb::types::AttributeValue;
use chrono::{Duration, TimeZone, Utc};
use gobi_domain::calls::{Call, CallStatus, CallStore, Direction};
use gobi_infra::aws_requests::as_function;
use gobi_shared::ids::CallId;
use gobi_tests::{TestApp, spawn_app, tokens};
use http::StatusCode;
use serde_json::{Value, json};

async fn tenant(app: &TestApp, domain: &str, retention: u32) -> String {
    let answer = app
        .post(
            "/api/tenants",
            &tokens::admin(),
            json!({"name": domain, "domain": domain, "retentionDays": retention}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    assert_eq!(answer.body["data"]["retentionDays"], retention);
    answer.body["data"]["id"].as_str().unwrap().to_owned()
}

fn store(app: &TestApp) -> CallStore {
    CallStore::new(app.dynamodb.clone(), &app.config.tables.calls)
}

fn call(tenant: &str, started: chrono::DateTime<Utc>, to: &str, retention: u32) -> Call {
    Call {
        id: CallId::from(uuid::Uuid::new_v7(uuid::Timestamp::from_unix(
            uuid::NoContext,
            started.timestamp() as u64,
            started.timestamp_subsec_nanos(),
        ))),
        tenant_id: tenant.parse().unwrap(),
        call_sid: format!("CA{}", uuid::Uuid::new_v4().simple()),
        direction: Direction::Inbound,
        from: "+14158675309".into(),
        to: to.into(),
        agent_id: None,
        agent_version_id: None,
        phone_number_id: None,
        timezone: None,
        answered_by: None,
        status: CallStatus::Ringing,
        started_at: started,
        answered_at: None,
        ended_at: None,
        duration_seconds: None,
        dispatch_id: None,
        end_reason: None,
        retention_days: retention,
        legal_hold: None,
        campaign_id: None,
        lead_id: None,
        campaign_attempt: None,
        disposition: None,
        created_at: started,
        updated_at: started,
    }
}

async fn open(app: &TestApp, call: &Call) {
    assert!(store(app).open(call, false).await.unwrap().1);
}

pub(crate) async fn raw_expiry(app: &TestApp, tenant: &str, sk: String) -> Option<i64> {
    let item = app
        .dynamodb
        .get_item()
        .table_name(&app.config.tables.calls)
        .key("pk", AttributeValue::S(format!("TENANT#{tenant}")))
        .key("sk", AttributeValue::S(sk))
        .send()
        .await
        .unwrap()
        .item
        .expect("item exists");
    item.get("expiresAt")
        .map(|v| v.as_n().unwrap().parse().unwrap())
}

#[tokio::test]
async fn a_calls_full_record_reads_back_once_and_in_order() {
    let app = spawn_app().await;
    let t = tenant(&app, "records.example", 30).await;
    let started = app.clock.now();
    let c = call(&t, started, "+15551110000", 30);
    open(&app, &c).await;
    let runtime = tokens::internal("internal_operator", &t);
    let ids: Vec<String> = (0..4).map(|_| uuid::Uuid::now_v7().to_string()).collect();
    let events = json!({"events": [
        {"event_id": ids[0], "kind": "answered"},
        {"event_id": ids[1], "kind": "agent_joined", "data": {"worker": "w1"}},
        {"event_id": ids[2], "kind": "custom", "name": "sentiment_dropped", "data": {"score": -0.4}},
        {"event_id": ids[3], "kind": "ended", "reason": "caller_hung_up"}
    ]});
    let first = app
        .post(
            &format!("/internal/runtime/calls/{}/events", c.id),
            &runtime,
            events.clone(),
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    assert_eq!(first.body["data"], json!({"accepted": 4, "duplicates": 0}));
    let again = app
        .post(
            &format!("/internal/runtime/calls/{}/events", c.id),
            &runtime,
            events,
        )
        .await;
    assert_eq!(
        again.body["data"],
        json!({"accepted": 0, "duplicates": 4}),
        "re-sending changes nothing"
    );

    // Twenty segments, shuffled, five of them sent twice.
    let mut order: Vec<u32> = (1..=20).collect();
    order.sort_by_key(|n| (n * 7919) % 23);
    let segment = |n: u32| json!({"sequence": n, "speaker": if n.is_multiple_of(2) { "agent" } else { "caller" }, "text": format!("line {n}"), "start_ms": n * 1000, "end_ms": n * 1000 + 900});
    let batch1: Vec<Value> = order[..12].iter().map(|n| segment(*n)).collect();
    let mut batch2: Vec<Value> = order[12..].iter().map(|n| segment(*n)).collect();
    batch2.extend(order[..5].iter().map(|n| segment(*n)));
    let a = app
        .post(
            &format!("/internal/runtime/calls/{}/transcript", c.id),
            &runtime,
            json!({"segments": batch1}),
        )
        .await;
    let b = app
        .post(
            &format!("/internal/runtime/calls/{}/transcript", c.id),
            &runtime,
            json!({"segments": batch2}),
        )
        .await;
    assert_eq!(
        (
            a.body["data"]["accepted"].as_u64(),
            b.body["data"]["accepted"].as_u64(),
            b.body["data"]["duplicates"].as_u64()
        ),
        (Some(12), Some(8), Some(5))
    );
    for scheme in ["file", "ftp", "http", "gs"] {
        let refused = app
            .put(
                &format!("/internal/runtime/calls/{}/recording", c.id),
                &runtime,
                json!({"storage_uri": format!("{scheme}://host/call.wav"), "format": "wav", "duration_seconds": 1, "size_bytes": 1}),
            )
            .await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{scheme}");
    }
    let recording = json!({"storage_uri": "s3://gobi-recordings/records/call.wav", "format": "wav", "duration_seconds": 95, "size_bytes": 1520000});
    assert_eq!(
        app.put(
            &format!("/internal/runtime/calls/{}/recording", c.id),
            &runtime,
            recording.clone()
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.put(
            &format!("/internal/runtime/calls/{}/recording", c.id),
            &runtime,
            recording
        )
        .await
        .status,
        StatusCode::OK
    );

    let viewer = tokens::client_viewer(&t);
    let detail = app.get(&format!("/client/calls/{}", c.id), &viewer).await;
    assert_eq!(detail.status, StatusCode::OK, "{}", detail.text);
    let kinds: Vec<&str> = detail.body["data"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "answered",
            "agent_joined",
            "custom:sentiment_dropped",
            "ended"
        ]
    );
    assert_eq!(detail.body["data"]["end_reason"], "caller_hung_up");
    assert!(
        detail.body["data"]["answered_at"].is_string()
            && detail.body["data"]["ended_at"].is_string()
    );
    let transcript = app
        .get(&format!("/client/calls/{}/transcript", c.id), &viewer)
        .await;
    let sequences: Vec<u64> = transcript.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sequence"].as_u64().unwrap())
        .collect();
    assert_eq!(sequences, (1..=20).collect::<Vec<u64>>());
    assert_eq!(transcript.body["data"][0]["text"], "line 1");
    let rec = app
        .get(&format!("/client/calls/{}/recording", c.id), &viewer)
        .await;
    assert_eq!(
        (
            rec.body["data"]["format"].as_str(),
            rec.body["data"]["duration_seconds"].as_u64()
        ),
        (Some("wav"), Some(95))
    );

    // Everything expires with the call (30 days), written on each item.
    let expiry = (started + Duration::days(30)).timestamp();
    assert_eq!(
        raw_expiry(&app, &t, format!("CALL#{}", c.id)).await,
        Some(expiry)
    );
    assert_eq!(
        raw_expiry(&app, &t, format!("TRANSCRIPT#{}#{:010}", c.id, 3)).await,
        Some(expiry)
    );
    assert_eq!(
        raw_expiry(&app, &t, format!("RECORDING#{}", c.id)).await,
        Some(expiry)
    );

    // Limits and bad input.
    let too_many: Vec<Value> = (0..101)
        .map(|_| json!({"event_id": uuid::Uuid::now_v7(), "kind": "answered"}))
        .collect();
    assert_eq!(
        app.post(
            &format!("/internal/runtime/calls/{}/events", c.id),
            &runtime,
            json!({"events": too_many})
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    let nameless = app
        .post(
            &format!("/internal/runtime/calls/{}/events", c.id),
            &runtime,
            json!({"events": [{"event_id": uuid::Uuid::now_v7(), "kind": "custom"}]}),
        )
        .await;
    assert_eq!(nameless.status, StatusCode::BAD_REQUEST);
    let backwards = app
        .post(&format!("/internal/runtime/calls/{}/transcript", c.id), &runtime, json!({"segments": [{"sequence": 99, "speaker": "agent", "text": "x", "start_ms": 5, "end_ms": 1}]}))
        .await;
    assert_eq!(backwards.status, StatusCode::BAD_REQUEST);
    let empty = app
        .post(
            &format!("/internal/runtime/calls/{}/transcript", c.id),
            &runtime,
            json!({"segments": []}),
        )
        .await;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert_eq!(empty.body["error"]["details"][0]["field"], "segments");
    assert_eq!(
        empty.body["error"]["details"][0]["message"],
        "1 to 200 segments"
    );
}

#[tokio::test]
async fn other_tenants_see_nothing() {
    let app = spawn_app().await;
    let a = tenant(&app, "a-records.example", 90).await;
    let b = tenant(&app, "b-records.example", 90).await;
    let c = call(&a, app.clock.now(), "+15551110001", 90);
    open(&app, &c).await;
    let b_viewer = tokens::client_viewer(&b);
    for path in [
        format!("/client/calls/{}", c.id),
        format!("/client/calls/{}/transcript", c.id),
        format!("/client/calls/{}/recording", c.id),
    ] {
        assert_eq!(
            app.get(&path, &b_viewer).await.code(),
            "CALL_NOT_FOUND",
            "{path}"
        );
    }
    let listed = app.get("/client/calls", &b_viewer).await;
    assert_eq!(listed.body["data"], json!([]));
    assert_eq!(
        app.get(&format!("/client/calls?tenant_id={a}"), &b_viewer)
            .await
            .code(),
        "TENANT_NOT_FOUND"
    );
    let today = app.clock.now().date_naive();
    // Dates beyond what RFC 3339 writes are refused, never a panic.
    for range in [
        "from=+262142-12-31&to=+262142-12-31",
        "from=2026-01-01&to=+262143-12-31",
    ] {
        let far = app
            .get(
                &format!("/client/kpis?{range}&tenant_id={a}"),
                &tokens::admin(),
            )
            .await;
        assert_eq!(far.status, StatusCode::BAD_REQUEST, "{range}: {}", far.text);
    }
    assert_eq!(
        app.get(
            &format!("/client/kpis?from={today}&to={today}&tenant_id={a}"),
            &b_viewer
        )
        .await
        .code(),
        "TENANT_NOT_FOUND"
    );
    let b_kpis = app
        .get(&format!("/client/kpis?from={today}&to={today}"), &b_viewer)
        .await;
    assert_eq!(
        b_kpis.body["data"]["total"]["calls"], 0,
        "A's call never counts for B"
    );
    let a_kpis = app
        .get(
            &format!("/client/kpis?from={today}&to={today}"),
            &tokens::client_viewer(&a),
        )
        .await;
    assert_eq!(a_kpis.body["data"]["total"]["calls"], 1);
    // Without a range: the last 30 days, today last.
    let recent = app.get("/client/kpis", &tokens::client_viewer(&a)).await;
    assert_eq!(recent.status, StatusCode::OK, "{}", recent.text);
    let days = recent.body["data"]["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!(days[29]["date"], today.to_string());
    assert_eq!(
        days[0]["date"],
        (today - chrono::Duration::days(29)).to_string()
    );
    assert_eq!(recent.body["data"]["total"]["calls"], 1);
    // Staff name the tenant; without one they are asked to.
    assert_eq!(
        app.get(&format!("/client/calls?tenant_id={a}"), &tokens::admin())
            .await
            .body["data"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        app.get("/client/calls", &tokens::admin()).await.status,
        StatusCode::BAD_REQUEST
    );
    // Another tenant's runtime cannot write to the call.
    let b_runtime = tokens::internal("internal_operator", &b);
    let crossed = app
        .post(
            &format!("/internal/runtime/calls/{}/events", c.id),
            &b_runtime,
            json!({"events": [{"event_id": uuid::Uuid::now_v7(), "kind": "answered"}]}),
        )
        .await;
    assert_eq!(crossed.code(), "CALL_NOT_FOUND");
    assert_eq!(
        app.get(
            &format!("/client/calls/{}", c.id),
            &tokens::client_viewer(&a)
        )
        .await
        .status,
        StatusCode::OK
    );
}

/// A small deterministic generator, so the month is varied but the same every run.
struct Dice(u64);

impl Dice {
    fn roll(&mut self, sides: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % sides
    }
}

#[tokio::test]
async fn kpis_for_a_month_match_an_independent_count() {
    let app = spawn_app().await;
    let t = tenant(&app, "kpis.example", 365).await;
    let calls = store(&app);
    let month = Utc.with_ymd_and_hms(2026, 10, 1, 8, 0, 0).unwrap();
    let mut dice = Dice(42);
    // day index → (calls, answered, duration, executions, succeeded)
    let mut expected = vec![(0u64, 0u64, 0u64, 0u64, 0u64); 31];
    for n in 0..160 {
        let day = dice.roll(31) as i64;
        let started = month
            + Duration::days(day)
            + Duration::minutes(dice.roll(600) as i64)
            + Duration::milliseconds(n);
        let c = call(&t, started, "+15551112222", 365);
        open(&app, &c).await;
        let e = &mut expected[day as usize];
        e.0 += 1;
        match dice.roll(4) {
            0 => {
                calls
                    .advance(
                        &c,
                        CallStatus::NoAnswer,
                        None,
                        started + Duration::seconds(30),
                    )
                    .await
                    .unwrap();
            }
            1 => {
                calls
                    .advance(&c, CallStatus::Busy, Some(0), started)
                    .await
                    .unwrap();
            }
            _ => {
                let duration = 10 + dice.roll(300) as u32;
                calls
                    .advance(&c, CallStatus::InProgress, None, started)
                    .await
                    .unwrap();
                calls
                    .advance(
                        &c,
                        CallStatus::Completed,
                        Some(duration),
                        started + Duration::seconds(duration.into()),
                    )
                    .await
                    .unwrap();
                // Late and repeated callbacks change nothing.
                calls
                    .advance(&c, CallStatus::InProgress, None, started)
                    .await
                    .unwrap();
                calls
                    .advance(&c, CallStatus::Completed, Some(duration), started)
                    .await
                    .unwrap();
                e.1 += 1;
                e.2 += u64::from(duration);
                for _ in 0..dice.roll(3) {
                    let ok = dice.roll(5) != 0;
                    calls.count_execution(&c, ok).await.unwrap();
                    e.3 += 1;
                    e.4 += u64::from(ok);
                }
            }
        }
    }
    let report = app
        .get(
            "/client/kpis?from=2026-10-01&to=2026-10-31",
            &tokens::client_viewer(&t),
        )
        .await;
    assert_eq!(report.status, StatusCode::OK, "{}", report.text);
    let days = report.body["data"]["days"].as_array().unwrap();
    assert_eq!(days.len(), 31);
    let ratio = |n: u64, d: u64| if d == 0 { 0.0 } else { n as f64 / d as f64 };
    let mut totals = (0, 0, 0, 0, 0);
    for (i, day) in days.iter().enumerate() {
        let (calls, answered, duration, executions, succeeded) = expected[i];
        assert_eq!(day["date"], format!("2026-10-{:02}", i + 1));
        assert_eq!(
            (
                day["calls"].as_u64(),
                day["answered"].as_u64(),
                day["total_duration_seconds"].as_u64(),
                day["tool_executions"].as_u64()
            ),
            (
                Some(calls),
                Some(answered),
                Some(duration),
                Some(executions)
            ),
            "day {}",
            i + 1
        );
        assert!((day["answer_rate"].as_f64().unwrap() - ratio(answered, calls)).abs() < 1e-9);
        assert!(
            (day["average_duration_seconds"].as_f64().unwrap() - ratio(duration, answered)).abs()
                < 1e-9
        );
        assert!(
            (day["tool_success_rate"].as_f64().unwrap() - ratio(succeeded, executions)).abs()
                < 1e-9
        );
        totals = (
            totals.0 + calls,
            totals.1 + answered,
            totals.2 + duration,
            totals.3 + executions,
            totals.4 + succeeded,
        );
    }
    let total = &report.body["data"]["total"];
    assert_eq!(
        (
            total["calls"].as_u64(),
            total["answered"].as_u64(),
            total["total_duration_seconds"].as_u64()
        ),
        (Some(160), Some(totals.1), Some(totals.2))
    );
    assert!(
        (total["tool_success_rate"].as_f64().unwrap() - ratio(totals.4, totals.3)).abs() < 1e-9
    );

    // A 90-day range is answered from the same handful of counter items.
    let wide = app
        .get(
            "/client/kpis?from=2026-09-01&to=2026-11-29",
            &tokens::client_viewer(&t),
        )
        .await;
    assert_eq!(wide.body["data"]["days"].as_array().unwrap().len(), 90);
    assert_eq!(wide.body["data"]["total"]["calls"], 160);
    assert_eq!(
        app.get(
            "/client/kpis?from=2026-10-31&to=2026-10-01",
            &tokens::client_viewer(&t)
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get(
            "/client/kpis?from=2025-01-01&to=2026-10-01",
            &tokens::client_viewer(&t)
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn cursor_paging_returns_each_call_once_newest_first() {
    let app = spawn_app().await;
    let t = tenant(&app, "paging.example", 365).await;
    let base = Utc.with_ymd_and_hms(2026, 11, 1, 0, 0, 0).unwrap();
    let calls = store(&app);
    let mut ids = Vec::new();
    for n in 0..300i64 {
        let number = if n % 3 == 0 {
            "+15553330000"
        } else {
            "+15553331111"
        };
        let c = call(&t, base + Duration::minutes(n), number, 365);
        open(&app, &c).await;
        if n % 5 == 0 {
            calls
                .advance(
                    &c,
                    CallStatus::Completed,
                    Some(20),
                    base + Duration::minutes(n) + Duration::seconds(20),
                )
                .await
                .unwrap();
        }
        ids.push(c.id.to_string());
    }
    let viewer = tokens::client_viewer(&t);
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/client/calls?limit=37&cursor={c}"),
            None => "/client/calls?limit=37".to_owned(),
        };
        let page = app.get(&path, &viewer).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        seen.extend(
            page.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    ids.reverse();
    assert_eq!(seen, ids, "every call once, newest first");

    let completed = app
        .get("/client/calls?status=completed&limit=100", &viewer)
        .await;
    assert_eq!(completed.body["data"].as_array().unwrap().len(), 60);
    let by_number = app
        .get("/client/calls?number=%2B15553330000&limit=100", &viewer)
        .await;
    assert_eq!(by_number.body["data"].as_array().unwrap().len(), 100);
    let window = app
        .get(
            "/client/calls?from=2026-11-01T01:00:00Z&to=2026-11-01T01:59:59Z&limit=100",
            &viewer,
        )
        .await;
    assert_eq!(window.body["data"].as_array().unwrap().len(), 60);
    assert_eq!(
        app.get("/client/calls?cursor=bogus", &viewer).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        app.get("/client/calls?limit=0", &viewer).await.status,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn legal_holds_stop_expiry_and_deletes() {
    let app = spawn_app().await;
    let t = tenant(&app, "hold.example", 10).await;
    let started = app.clock.now();
    let c = call(&t, started, "+15554440000", 10);
    open(&app, &c).await;
    let runtime = tokens::internal("internal_operator", &t);
    app.post(&format!("/internal/runtime/calls/{}/transcript", c.id), &runtime, json!({"segments": [{"sequence": 1, "speaker": "agent", "text": "hi", "start_ms": 0, "end_ms": 500}]})).await;
    let expiry = Some((started + Duration::days(10)).timestamp());
    let call_sk = format!("CALL#{}", c.id);
    let segment_sk = format!("TRANSCRIPT#{}#{:010}", c.id, 1);
    let admin = tokens::admin();

    // A call hold: no expiry, no delete.
    let held = app
        .post(
            &format!("/internal/calls/{}/legal-hold", c.id),
            &admin,
            json!({"reason": "Case 2026-114"}),
        )
        .await;
    assert_eq!(held.status, StatusCode::OK, "{}", held.text);
    assert_eq!(held.body["data"]["legal_hold"]["reason"], "Case 2026-114");
    assert_eq!(held.body["data"]["legal_hold"]["placed_by"], "user-1");
    // The tenant's reader sees that the call is held and since when, not why or by whom.
    let seen = app
        .get(
            &format!("/client/calls/{}", c.id),
            &tokens::client_viewer(&t),
        )
        .await;
    let hold = &seen.body["data"]["legal_hold"];
    assert!(hold["placed_at"].is_string(), "{}", seen.text);
    assert!(
        hold.get("reason").is_none() && hold.get("placed_by").is_none(),
        "{}",
        seen.text
    );
    let staff = app
        .get(&format!("/client/calls/{}?tenant_id={t}", c.id), &admin)
        .await;
    assert_eq!(staff.body["data"]["legal_hold"]["reason"], "Case 2026-114");
    assert_eq!(raw_expiry(&app, &t, call_sk.clone()).await, None);
    assert_eq!(raw_expiry(&app, &t, segment_sk.clone()).await, None);
    let refused = app
        .delete(&format!("/internal/calls/{}", c.id), &admin)
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::CONFLICT, "LEGAL_HOLD_ACTIVE")
    );
    // Lifted: the expiry is back.
    app.delete(&format!("/internal/calls/{}/legal-hold", c.id), &admin)
        .await;
    assert_eq!(raw_expiry(&app, &t, call_sk.clone()).await, expiry);
    assert_eq!(raw_expiry(&app, &t, segment_sk.clone()).await, expiry);

    // A tenant hold covers every call and the tenant itself.
    let tenant_hold = app
        .post(
            &format!("/internal/tenants/{t}/legal-hold"),
            &admin,
            json!({"reason": "Regulator request"}),
        )
        .await;
    assert_eq!(
        tenant_hold.status,
        StatusCode::ACCEPTED,
        "{}",
        tenant_hold.text
    );
    assert_eq!(
        tenant_hold.body["data"]["legalHold"]["reason"],
        "Regulator request"
    );
    assert_eq!(tenant_hold.body["data"]["holdJob"]["state"], "running");
    // The calls are brought in line by the legal-hold worker, in the background.
    assert!(app.drain_legal_hold_jobs().await >= 1);
    assert_eq!(raw_expiry(&app, &t, call_sk.clone()).await, None);
    assert_eq!(
        app.delete(&format!("/internal/calls/{}", c.id), &admin)
            .await
            .code(),
        "LEGAL_HOLD_ACTIVE"
    );
    assert_eq!(
        app.delete(&format!("/api/tenants/{t}?permanent=true"), &admin)
            .await
            .code(),
        "LEGAL_HOLD_ACTIVE"
    );
    // New calls of a held tenant are born without expiry.
    let later = call(&t, started + Duration::minutes(1), "+15554440000", 10);
    assert!(store(&app).open(&later, true).await.unwrap().1);
    assert_eq!(
        raw_expiry(&app, &t, format!("CALL#{}", later.id)).await,
        None
    );
    let lifted = app
        .delete(&format!("/internal/tenants/{t}/legal-hold"), &admin)
        .await;
    assert_eq!(lifted.status, StatusCode::ACCEPTED, "{}", lifted.text);
    app.drain_legal_hold_jobs().await;
    assert_eq!(raw_expiry(&app, &t, call_sk.clone()).await, expiry);

    // Only platform admins place or lift holds; other tokens are refused.
    let viewer = tokens::client_viewer(&t);
    for answer in [
        app.post(
            &format!("/internal/calls/{}/legal-hold", c.id),
            &viewer,
            json!({"reason": "x"}),
        )
        .await,
        app.post(
            &format!("/internal/tenants/{t}/legal-hold"),
            &viewer,
            json!({"reason": "x"}),
        )
        .await,
        app.delete(&format!("/internal/calls/{}", c.id), &viewer)
            .await,
    ] {
        assert_eq!(answer.code(), "ACCOUNT_NOT_AUTHORIZED");
    }
    let manager = app
        .post(
            &format!("/internal/calls/{}/legal-hold", c.id),
            &tokens::manager(),
            json!({"reason": "x"}),
        )
        .await;
    assert_eq!(manager.code(), "INSUFFICIENT_PERMISSIONS");
    assert_eq!(
        app.post(
            &format!("/internal/calls/{}/legal-hold", uuid::Uuid::now_v7()),
            &admin,
            json!({"reason": "x"})
        )
        .await
        .code(),
        "CALL_NOT_FOUND"
    );
    assert_eq!(
        app.post(
            &format!("/internal/tenants/{}/legal-hold", uuid::Uuid::now_v7()),
            &admin,
            json!({"reason": "x"})
        )
        .await
        .code(),
        "TENANT_NOT_FOUND"
    );
    assert_eq!(
        app.post(
            &format!("/internal/calls/{}/legal-hold", c.id),
            &admin,
            json!({"reason": " "})
        )
        .await
        .status,
        StatusCode::BAD_REQUEST
    );

    // A deletion checks the holds once, when it begins; from then on no hold can be placed on
    // the call, so a hold never keeps half a call.
    let doomed = call(&t, started + Duration::minutes(2), "+15554440000", 10);
    open(&app, &doomed).await;
    let tenants =
        gobi_tenants::store::TenantStore::new(app.dynamodb.clone(), &app.config.tables.tenants);
    store(&app)
        .mark_deleting(
            doomed.tenant_id,
            doomed.id,
            tenants.not_held_check(doomed.tenant_id).unwrap(),
            app.clock.now(),
        )
        .await
        .unwrap();
    let late_hold = app
        .post(
            &format!("/internal/calls/{}/legal-hold", doomed.id),
            &admin,
            json!({"reason": "too late"}),
        )
        .await;
    assert_eq!(
        (late_hold.status, late_hold.code()),
        (StatusCode::CONFLICT, "CALL_BEING_DELETED")
    );
    let finished = app
        .delete(&format!("/internal/calls/{}", doomed.id), &admin)
        .await;
    assert_eq!(
        finished.status,
        StatusCode::OK,
        "a retried deletion finishes: {}",
        finished.text
    );

    // With no hold left, the call is deleted with all its data.
    let deleted = app
        .delete(&format!("/internal/calls/{}", c.id), &admin)
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(
        app.get(&format!("/client/calls/{}", c.id), &viewer)
            .await
            .code(),
        "CALL_NOT_FOUND"
    );
    assert!(
        store(&app)
            .transcript(t.parse().unwrap(), c.id)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_call_counts_as_answered_once_whichever_report_comes_first() {
    let app = spawn_app().await;
    let t = tenant(&app, "answer-order.example", 30).await;
    let runtime = tokens::internal("internal_operator", &t);
    let started = app.clock.now() - Duration::minutes(10);
    let runtime_first = call(&t, started, "+15550000101", 30);
    let twilio_first = call(&t, started + Duration::seconds(1), "+15550000102", 30);
    for c in [&runtime_first, &twilio_first] {
        open(&app, c).await;
    }
    // Each report is a new event (its own id) saying the call was answered.
    let report = |c: &Call| {
        let path = format!("/internal/runtime/calls/{}/events", c.id);
        let body = json!({"events": [{"event_id": uuid::Uuid::now_v7(), "kind": "answered", "at": (started + Duration::seconds(5)).to_rfc3339()}]});
        (path, body)
    };
    // The runtime's `answered` first, then Twilio's in-progress and completed callbacks.
    let (path, body) = report(&runtime_first);
    assert_eq!(app.post(&path, &runtime, body).await.status, StatusCode::OK);
    let at = started + Duration::seconds(6);
    let moved = store(&app)
        .advance(&runtime_first, CallStatus::InProgress, None, at)
        .await
        .unwrap()
        .expect("moves forward");
    store(&app)
        .advance(
            &moved,
            CallStatus::Completed,
            Some(60),
            at + Duration::seconds(60),
        )
        .await
        .unwrap()
        .expect("ends");
    // Twilio's in-progress first, then the runtime's `answered` (sent twice).
    let moved = store(&app)
        .advance(&twilio_first, CallStatus::InProgress, None, at)
        .await
        .unwrap()
        .expect("moves forward");
    for _ in 0..2 {
        let (path, body) = report(&twilio_first);
        assert_eq!(app.post(&path, &runtime, body).await.status, StatusCode::OK);
    }
    store(&app)
        .advance(
            &moved,
            CallStatus::Completed,
            Some(30),
            at + Duration::seconds(30),
        )
        .await
        .unwrap()
        .expect("ends");

    let day = started.date_naive();
    let kpis = app
        .get(
            &format!("/client/kpis?from={day}&to={day}"),
            &tokens::client_viewer(&t),
        )
        .await;
    assert_eq!(kpis.status, StatusCode::OK, "{}", kpis.text);
    let total = &kpis.body["data"]["total"];
    assert_eq!(
        (
            total["calls"].as_u64(),
            total["answered"].as_u64(),
            total["total_duration_seconds"].as_u64()
        ),
        (Some(2), Some(2), Some(90)),
        "{}",
        kpis.text
    );
}

#[tokio::test]
async fn a_filtered_call_list_reads_a_bounded_number_of_calls_per_request() {
    use futures::StreamExt;
    let app = spawn_app().await;
    let t = tenant(&app, "bounded-list.example", 3650).await;
    let total = gobi_domain::calls::MAX_CALLS_READ + 200;
    let newest = app.clock.now() - Duration::hours(1);
    // One call a day, so no two share a day's counter; the oldest is the only failed one.
    futures::stream::iter(0..total)
        .map(|n| {
            let app = &app;
            let t = &t;
            async move {
                let c = call(t, newest - Duration::days(n as i64), "+15554440000", 3650);
                open(app, &c).await;
                if n + 1 == total {
                    store(app)
                        .advance(&c, CallStatus::Failed, None, c.started_at)
                        .await
                        .unwrap()
                        .expect("moves forward");
                }
            }
        })
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    let viewer = tokens::client_viewer(&t);
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/client/calls?status=failed&limit=10&cursor={c}"),
            None => "/client/calls?status=failed&limit=10".to_owned(),
        };
        let page = app.get(&path, &viewer).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        pages.push(page.body["data"].as_array().unwrap().len());
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages.len() < 10, "the walk ends");
    }
    // The first request stopped at the bound with nothing found yet and a cursor; the rest of
    // the range holds the one failed call.
    assert_eq!(pages[0], 0, "{pages:?}");
    assert!(pages.len() >= 2, "{pages:?}");
    assert_eq!(pages.iter().sum::<usize>(), 1, "{pages:?}");
}

/// Items of a tenant's call data in the calls table, and how many of them carry an expiry.
async fn expiring_items(app: &TestApp, tenant: &str) -> (usize, usize) {
    let (mut items, mut expiring) = (0, 0);
    let mut start = None;
    loop {
        let page = app
            .dynamodb
            .query()
            .table_name(&app.config.tables.calls)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("TENANT#{tenant}")))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .unwrap();
        for item in page.items() {
            let sk = item["sk"].as_s().unwrap();
            if sk.starts_with("CALL#") || sk.starts_with("TRANSCRIPT#") {
                items += 1;
                expiring += usize::from(item.contains_key("expiresAt"));
            }
        }
        match page.last_evaluated_key {
            Some(key) => start = Some(key),
            None => return (items, expiring),
        }
    }
}

#[tokio::test]
async fn a_tenant_hold_over_two_thousand_calls_is_a_resumable_background_job() {
    use futures::StreamExt;
    let app = spawn_app().await;
    let t = tenant(&app, "big-hold.example", 3650).await;
    let newest = app.clock.now() - Duration::hours(1);
    let calls: Vec<Call> = (0..2000)
        .map(|n| call(&t, newest - Duration::days(n), "+15554440000", 3650))
        .collect();
    futures::stream::iter(&calls)
        .map(|c| open(&app, c))
        .buffer_unordered(16)
        .collect::<Vec<()>>()
        .await;
    // A transcript segment on some calls: every item of a call follows the hold.
    let runtime = tokens::internal("internal_operator", &t);
    for c in calls.iter().step_by(250) {
        let segment = json!({"segments": [{"sequence": 1, "speaker": "agent", "text": "hello", "start_ms": 0, "end_ms": 500}]});
        let answer = app
            .post(
                &format!("/internal/runtime/calls/{}/transcript", c.id),
                &runtime,
                segment,
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    }
    assert_eq!(expiring_items(&app, &t).await, (2008, 2008));

    let admin = tokens::admin();
    let placed = app
        .post(
            &format!("/internal/tenants/{t}/legal-hold"),
            &admin,
            json!({"reason": "Litigation 7"}),
        )
        .await;
    assert_eq!(placed.status, StatusCode::ACCEPTED, "{}", placed.text);
    let job = placed.body["data"]["holdJob"].clone();
    assert_eq!(
        (
            job["state"].as_str(),
            job["holding"].as_bool(),
            job["callsDone"].as_u64()
        ),
        (Some("running"), Some(true), Some(0))
    );

    // A duplicated delivery of the first batch counts nothing twice.
    let due = json!({"type": "tenant.legal_hold_job", "id": uuid::Uuid::now_v7(), "occurred_at": app.clock.now(), "tenant_id": t, "data": {"job_id": job["id"], "calls_done": 0}});
    let worker = gobi_legal_hold_worker::WorkerState::new(
        &app.config,
        app.dynamodb.clone(),
        app.sqs.clone(),
        app.clock.clone(),
    )
    .unwrap();
    let first = as_function(
        "LegalHoldWorkerFunction",
        gobi_legal_hold_worker::handle_message(&worker, &due.to_string()),
    )
    .await
    .unwrap();
    assert_eq!(
        first,
        gobi_legal_hold_worker::Batch::Done {
            calls: gobi_legal_hold_worker::BATCH,
            more: true
        }
    );

    // 2,000 calls in batches of 100 (one message each), resumed from the cursor on the tenant.
    let handled = app.drain_legal_hold_jobs().await;
    assert!(
        handled >= 2000 / gobi_legal_hold_worker::BATCH,
        "{handled} messages"
    );
    let tenant = app.get(&format!("/api/tenants/{t}"), &admin).await;
    let job = &tenant.body["data"]["holdJob"];
    assert_eq!(
        (job["state"].as_str(), job["callsDone"].as_u64()),
        (Some("completed"), Some(2000)),
        "{}",
        tenant.text
    );
    assert!(job["completedAt"].is_string());
    assert_eq!(
        expiring_items(&app, &t).await,
        (2008, 0),
        "no call item keeps an expiry"
    );
    // A late redelivery of a finished job does nothing.
    assert_eq!(
        as_function(
            "LegalHoldWorkerFunction",
            gobi_legal_hold_worker::handle_message(&worker, &due.to_string())
        )
        .await
        .unwrap(),
        gobi_legal_hold_worker::Batch::Skipped
    );

    // Lifting it is a job too, and gives every item its expiry back.
    let lifted = app
        .delete(&format!("/internal/tenants/{t}/legal-hold"), &admin)
        .await;
    assert_eq!(lifted.status, StatusCode::ACCEPTED, "{}", lifted.text);
    assert_eq!(lifted.body["data"]["holdJob"]["holding"], false);
    app.drain_legal_hold_jobs().await;
    assert_eq!(expiring_items(&app, &t).await, (2008, 2008));
    let tenant = app.get(&format!("/api/tenants/{t}"), &admin).await;
    assert_eq!(tenant.body["data"]["holdJob"]["callsDone"], 2000);
}
