//! Phone numbers against DynamoDB Local and the local Twilio and LiveKit stand-ins.
//!
//! Longer than 600 lines on purpose: each test here is a whole story of this area against the
//! local stack (setup, requests, what the stores hold afterwards), and they share one setup.

use gobi_phone_numbers::store::PhoneNumberStore;
use gobi_shared::ids::E164;
use gobi_tests::{
    Answer, LIVEKIT_AGENT, SIP_AUTH_PASSWORD, SIP_AUTH_USERNAME, TestApp, WEBHOOK_BASE, spawn_app,
    spawn_telephony_app, tokens,
};
use http::{Method, StatusCode};
use serde_json::json;

async fn tenant(app: &TestApp, domain: &str) -> String {
    let answer = app
        .post(
            "/api/tenants",
            &tokens::admin(),
            json!({"name": domain, "domain": domain}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body["data"]["id"].as_str().unwrap().to_owned()
}

async fn buy(app: &TestApp, tenant: &str, number: &str) -> Answer {
    app.post(
        &format!("/api/tenants/{tenant}/phone-numbers"),
        &tokens::manager(),
        json!({"number": number, "type": "LOCAL", "label": "Main Office", "provider": "TWILIO"}),
    )
    .await
}

fn store(app: &TestApp) -> PhoneNumberStore {
    PhoneNumberStore::new(app.dynamodb.clone(), &app.config.tables.phone_numbers)
}

async fn make_agent(app: &TestApp, tenant: &str) -> String {
    let body = json!({"name": "Receptionist", "llmProvider": "openai", "llmModel": "gpt-4o-mini", "voiceProvider": "elevenlabs", "voiceId": "v1"});
    let answer = app
        .post(
            &format!("/api/tenants/{tenant}/agents"),
            &tokens::manager(),
            body,
        )
        .await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    answer.body["data"]["id"].as_str().unwrap().to_owned()
}

async fn route(app: &TestApp, number: &str) -> Option<gobi_phone_numbers::store::InboundRoute> {
    store(app)
        .route(&E164::parse(number).unwrap())
        .await
        .unwrap()
}

fn count(list: &Answer) -> u64 {
    list.body["pagination"]["total"].as_u64().unwrap()
}

#[tokio::test]
async fn search_asks_twilio_with_the_filters() {
    let (app, fakes) = spawn_telephony_app(true).await;
    let t = tenant(&app, "search.example").await;
    let answer = app
        .get(
            &format!("/api/tenants/{t}/phone-numbers/available?type=LOCAL&areaCode=415&limit=10"),
            &tokens::manager(),
        )
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
    let first = &answer.body["data"][0];
    assert_eq!(first["phoneNumber"], "+14150100000");
    assert_eq!(first["number"], "+1 415 010 0000");
    assert_eq!(first["type"], "LOCAL");
    assert_eq!(
        first["capabilities"],
        json!({"voice": true, "sms": true, "mms": false})
    );
    let request = fakes
        .twilio
        .state
        .lock()
        .unwrap()
        .requests
        .last()
        .cloned()
        .unwrap();
    assert_eq!(request.path, "AvailablePhoneNumbers/US/Local.json");
    assert_eq!(request.fields["AreaCode"], "415");
    assert_eq!(request.fields["PageSize"], "10");

    let toll_free = app
        .get(
            &format!("/api/tenants/{t}/phone-numbers/available?type=TOLL_FREE&limit=5"),
            &tokens::manager(),
        )
        .await;
    assert_eq!(toll_free.status, StatusCode::OK);
    assert_eq!(
        fakes
            .twilio
            .state
            .lock()
            .unwrap()
            .requests
            .last()
            .unwrap()
            .path,
        "AvailablePhoneNumbers/US/TollFree.json"
    );
    for bad in [
        "areaCode=41",
        "type=LANDLINE",
        "limit=0",
        "country=USA",
        "contains=%3B",
    ] {
        let answer = app
            .get(
                &format!("/api/tenants/{t}/phone-numbers/available?{bad}"),
                &tokens::manager(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{bad}");
    }
    let elsewhere = app
        .get(
            &format!("/api/tenants/{t}/phone-numbers/available?country=GB"),
            &tokens::manager(),
        )
        .await;
    assert_eq!(
        elsewhere.status,
        StatusCode::OK,
        "Twilio's 404 for a country means none available"
    );
    assert_eq!(elsewhere.body["data"], json!([]));
    fakes.twilio.state.lock().unwrap().outage = Some((400, 21211));
    let rejected = app
        .get(
            &format!("/api/tenants/{t}/phone-numbers/available"),
            &tokens::manager(),
        )
        .await;
    assert_eq!(
        (rejected.status, rejected.code()),
        (StatusCode::BAD_REQUEST, "TWILIO_REQUEST_REJECTED")
    );
    assert_eq!(rejected.body["error"]["twilioCode"], 21211);
}

#[tokio::test]
async fn purchase_buys_provisions_stores_and_routes() {
    let (app, fakes) = spawn_telephony_app(true).await;
    let t = tenant(&app, "buyer.example").await;
    let answer = buy(&app, &t, "+15551234567").await;
    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
    let data = &answer.body["data"];
    assert_eq!(data["number"], "+1 555 123 4567");
    assert_eq!(
        (
            data["type"].as_str(),
            data["label"].as_str(),
            data["provider"].as_str()
        ),
        (Some("LOCAL"), Some("Main Office"), Some("TWILIO"))
    );
    assert_eq!(
        (data["isActive"].as_bool(), data["tenantId"].as_str()),
        (Some(true), Some(t.as_str()))
    );
    assert!(data["createdAt"].is_string());
    assert_eq!(
        answer.body["message"],
        "Phone number purchased and created successfully"
    );
    let sid = answer.body["twilio"]["sid"].as_str().unwrap();
    assert!(sid.starts_with("PN") && sid.len() == 34);
    assert_eq!(answer.body["twilio"]["status"], "in-use");
    assert_eq!(answer.body["twilio"]["dateCreated"], "2025-01-20T12:00:00Z");

    // What Twilio was asked.
    let purchases = fakes.twilio.purchases();
    assert_eq!(purchases.len(), 1);
    let form = &purchases[0].fields;
    assert_eq!(form["PhoneNumber"], "+15551234567");
    assert_eq!(
        form["VoiceUrl"],
        format!("{WEBHOOK_BASE}/twilio/webhook/inbound")
    );
    assert_eq!(form["VoiceMethod"], "POST");
    assert_eq!(
        form["StatusCallback"],
        format!("{WEBHOOK_BASE}/twilio/webhook/status")
    );

    // What LiveKit was given: a trunk for the number, a rule sending it to the agent.
    let (trunk_id, trunk, rule) = {
        let lk = fakes.livekit.state.lock().unwrap();
        let (trunk_id, trunk) = lk
            .trunks
            .iter()
            .next()
            .map(|(k, v)| (k.clone(), v.clone()))
            .unwrap();
        (trunk_id, trunk, lk.rules.values().next().cloned().unwrap())
    };
    assert_eq!(trunk.numbers, vec!["+15551234567".to_owned()]);
    // Not open to the world: INVITEs must carry the configured digest credentials.
    assert_eq!(
        (trunk.auth_username.as_str(), trunk.auth_password.as_str()),
        (SIP_AUTH_USERNAME, SIP_AUTH_PASSWORD)
    );
    assert_eq!(rule.trunk_ids, vec![trunk_id.clone()]);
    let agents = &rule.room_config.as_ref().unwrap().agents;
    assert_eq!(agents[0].agent_name, LIVEKIT_AGENT);
    assert_eq!(rule.attributes["gobi.tenant_id"], t);
    assert_eq!(data["livekit"]["trunkId"], trunk_id.as_str());

    // Stored, listed, and routed in one GetItem.
    let phone_id = data["id"].as_str().unwrap();
    let got = app
        .get(
            &format!("/api/tenants/{t}/phone-numbers/{phone_id}"),
            &tokens::reader(),
        )
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["data"]["e164"], "+15551234567");
    let list = app
        .get(
            &format!("/api/tenants/{t}/phone-numbers?isActive=true"),
            &tokens::reader(),
        )
        .await;
    assert_eq!(count(&list), 1);
    // The international form was worked out when the number was stored, so reading numbers
    // loads no libphonenumber metadata; the list shows the stored form.
    let stored = store(&app)
        .find(phone_id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.number.display.as_deref(), Some("+1 555 123 4567"));
    assert_eq!(list.body["data"][0]["number"], "+1 555 123 4567");
    assert_eq!(
        count(
            &app.get(
                &format!("/api/tenants/{t}/phone-numbers?isActive=false"),
                &tokens::reader()
            )
            .await
        ),
        0
    );
    let r = route(&app, "+15551234567").await.unwrap();
    assert_eq!(
        (
            r.tenant_id.to_string(),
            r.phone_number_id.to_string(),
            r.active
        ),
        (t.clone(), phone_id.to_owned(), true)
    );

    // The same tenant buying it again is a conflict, and Twilio is not asked.
    let again = buy(&app, &t, "+1 555 123 4567").await;
    assert_eq!(
        (again.status, again.code()),
        (StatusCode::CONFLICT, "PHONE_NUMBER_EXISTS")
    );
    assert_eq!(fakes.twilio.purchases().len(), 1);
}

#[tokio::test]
async fn an_unavailable_number_stores_nothing() {
    let (app, fakes) = spawn_telephony_app(true).await;
    let t = tenant(&app, "late.example").await;
    fakes
        .twilio
        .state
        .lock()
        .unwrap()
        .unavailable
        .insert("+15550001111".into());
    let answer = buy(&app, &t, "+15550001111").await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::CONFLICT, "NUMBER_NOT_AVAILABLE")
    );
    assert_eq!(answer.body["error"]["twilioCode"], 21452);
    assert_eq!(
        answer.body["error"]["message"],
        "Phone number is no longer available for purchase"
    );
    assert_eq!(
        answer.body["error"]["details"],
        "The phone number is not available"
    );
    assert_eq!(
        count(
            &app.get(&format!("/api/tenants/{t}/phone-numbers"), &tokens::admin())
                .await
        ),
        0
    );
    assert!(route(&app, "+15550001111").await.is_none());
    assert!(fakes.livekit.state.lock().unwrap().calls.is_empty());
}

#[tokio::test]
async fn a_livekit_failure_after_purchase_releases_it() {
    let (app, fakes) = spawn_telephony_app(true).await;
    let t = tenant(&app, "lkfail.example").await;
    fakes.livekit.state.lock().unwrap().fail_rule = true;
    let answer = buy(&app, &t, "+15550002222").await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::BAD_GATEWAY, "LIVEKIT_PROVISIONING_FAILED")
    );
    assert_eq!(answer.body["error"]["details"]["purchase"], "released");
    // Twilio got the number back, LiveKit's trunk was removed, nothing is stored or routed.
    let sid = fakes.twilio.purchases().len();
    assert_eq!(sid, 1);
    assert_eq!(fakes.twilio.releases().len(), 1);
    assert!(fakes.twilio.state.lock().unwrap().owned.is_empty());
    assert!(fakes.livekit.state.lock().unwrap().trunks.is_empty());
    assert_eq!(
        count(
            &app.get(&format!("/api/tenants/{t}/phone-numbers"), &tokens::admin())
                .await
        ),
        0
    );
    assert!(route(&app, "+15550002222").await.is_none());
}

#[tokio::test]
async fn a_purchase_twilio_will_not_take_back_is_kept_and_finished_by_a_retry() {
    let (app, fakes) = spawn_telephony_app(true).await;
    let t = tenant(&app, "retry.example").await;
    {
        let mut lk = fakes.livekit.state.lock().unwrap();
        lk.fail_trunk = true;
    }
    fakes.twilio.state.lock().unwrap().fail_release = true;
    let answer = buy(&app, &t, "+15550003333").await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::BAD_GATEWAY, "LIVEKIT_PROVISIONING_FAILED")
    );
    assert_eq!(answer.body["error"]["details"]["purchase"], "kept");
    assert_eq!(answer.body["error"]["details"]["status"], "sip_pending");
    let phone_id = answer.body["error"]["details"]["phoneNumberId"]
        .as_str()
        .unwrap()
        .to_owned();

    // Stored as pending; its route exists but does not take calls.
    let pending = app
        .get(
            &format!("/api/tenants/{t}/phone-numbers/{phone_id}"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(pending.body["data"]["status"], "sip_pending");
    assert!(!route(&app, "+15550003333").await.unwrap().active);
    let blocked = app
        .put(
            &format!("/api/tenants/{t}/phone-numbers/{phone_id}"),
            &tokens::admin(),
            json!({"label": "x"}),
        )
        .await;
    assert_eq!(blocked.code(), "PHONE_NUMBER_PROVISIONING");

    // LiveKit is back: posting the number again finishes it without buying it twice.
    fakes.livekit.state.lock().unwrap().fail_trunk = false;
    let retry = buy(&app, &t, "+15550003333").await;
    assert_eq!(retry.status, StatusCode::CREATED, "{}", retry.text);
    assert_eq!(retry.body["data"]["id"], phone_id.as_str());
    assert_eq!(retry.body["data"]["status"], "active");
    assert_eq!(fakes.twilio.purchases().len(), 1);
    assert!(route(&app, "+15550003333").await.unwrap().active);
}

#[tokio::test]
async fn update_relabels_reassigns_and_deactivates() {
    let (app, fakes) = spawn_telephony_app(true).await;
    let t = tenant(&app, "upd.example").await;
    let bought = buy(&app, &t, "+15550004444").await;
    let phone_id = bought.body["data"]["id"].as_str().unwrap().to_owned();
    let old_rule = bought.body["data"]["livekit"]["dispatchRuleId"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/api/tenants/{t}/phone-numbers/{phone_id}");
    let stranger = uuid::Uuid::now_v7().to_string();
    let unknown = app
        .put(&path, &tokens::manager(), json!({"agentId": stranger}))
        .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (StatusCode::NOT_FOUND, "AGENT_NOT_FOUND")
    );
    let agent = make_agent(&app, &t).await;

    let updated = app
        .put(
            &path,
            &tokens::manager(),
            json!({"label": "Support", "agentId": agent}),
        )
        .await;
    assert_eq!(updated.status, StatusCode::OK, "{}", updated.text);
    assert_eq!(
        (
            updated.body["data"]["label"].as_str(),
            updated.body["data"]["agentId"].as_str()
        ),
        (Some("Support"), Some(agent.as_str()))
    );
    let new_rule = updated.body["data"]["livekit"]["dispatchRuleId"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new_rule, old_rule);
    {
        let lk = fakes.livekit.state.lock().unwrap();
        assert!(!lk.rules.contains_key(&old_rule), "the old rule is removed");
        assert_eq!(lk.rules[&new_rule].attributes["gobi.agent_id"], agent);
    }
    assert_eq!(
        route(&app, "+15550004444")
            .await
            .unwrap()
            .agent_id
            .map(|a| a.to_string()),
        Some(agent.clone())
    );

    let off = app
        .put(
            &path,
            &tokens::manager(),
            json!({"isActive": false, "label": null}),
        )
        .await;
    assert_eq!(
        (
            off.body["data"]["isActive"].as_bool(),
            off.body["data"]["label"].is_null()
        ),
        (Some(false), true)
    );
    assert!(!route(&app, "+15550004444").await.unwrap().active);
    let on = app
        .put(&path, &tokens::manager(), json!({"isActive": true}))
        .await;
    assert_eq!(on.body["data"]["isActive"], true);
    let bad = app
        .put(
            &path,
            &tokens::manager(),
            json!({"isActive": null, "label": "x".repeat(101)}),
        )
        .await;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert_eq!(bad.body["error"]["details"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn delete_deactivates_and_release_gives_the_number_back() {
    let (app, fakes) = spawn_telephony_app(true).await;
    let t = tenant(&app, "rel.example").await;
    let bought = buy(&app, &t, "+15550005555").await;
    let phone_id = bought.body["data"]["id"].as_str().unwrap().to_owned();
    let path = format!("/api/tenants/{t}/phone-numbers/{phone_id}");

    let off = app.delete(&path, &tokens::manager()).await;
    assert_eq!(off.status, StatusCode::OK);
    assert_eq!(off.body["data"]["isActive"], false);
    assert!(!route(&app, "+15550005555").await.unwrap().active);
    assert!(fakes.twilio.releases().is_empty());

    let manager = app
        .delete(&format!("{path}?release=true"), &tokens::manager())
        .await;
    assert_eq!(
        (manager.status, manager.code()),
        (StatusCode::FORBIDDEN, "INSUFFICIENT_PERMISSIONS")
    );

    let released = app
        .delete(&format!("{path}?release=true"), &tokens::admin())
        .await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.text);
    assert_eq!(fakes.twilio.releases().len(), 1);
    {
        let lk = fakes.livekit.state.lock().unwrap();
        assert!(lk.trunks.is_empty() && lk.rules.is_empty());
    }
    assert_eq!(
        app.get(&path, &tokens::admin()).await.code(),
        "PHONE_NUMBER_NOT_FOUND"
    );
    assert!(route(&app, "+15550005555").await.is_none());
    // Free again, for anyone.
    let other = tenant(&app, "next.example").await;
    assert_eq!(
        buy(&app, &other, "+15550005555").await.status,
        StatusCode::CREATED
    );
}

#[tokio::test]
async fn two_tenants_racing_for_one_number_leave_one_owner() {
    let (app, fakes) = spawn_telephony_app(true).await;
    let a = tenant(&app, "race-a.example").await;
    let b = tenant(&app, "race-b.example").await;
    let (one, two) = tokio::join!(buy(&app, &a, "+15550006666"), buy(&app, &b, "+15550006666"));
    let mut statuses = [one.status.as_u16(), two.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 409], "{} / {}", one.text, two.text);
    let loser = if one.status == StatusCode::CONFLICT {
        &one
    } else {
        &two
    };
    assert_eq!(loser.code(), "NUMBER_ALREADY_CLAIMED");
    assert_eq!(fakes.twilio.purchases().len(), 1, "only the winner buys");
    let owner = route(&app, "+15550006666")
        .await
        .unwrap()
        .tenant_id
        .to_string();
    let winner = if one.status == StatusCode::CREATED {
        &a
    } else {
        &b
    };
    assert_eq!(&owner, winner);
    let totals = [
        count(
            &app.get(&format!("/api/tenants/{a}/phone-numbers"), &tokens::admin())
                .await,
        ),
        count(
            &app.get(&format!("/api/tenants/{b}/phone-numbers"), &tokens::admin())
                .await,
        ),
    ];
    assert_eq!(totals.iter().sum::<u64>(), 1);
}

#[tokio::test]
async fn roles_and_other_tenants_are_refused() {
    let (app, _fakes) = spawn_telephony_app(true).await;
    let a = tenant(&app, "mine.example").await;
    let b = tenant(&app, "theirs.example").await;
    let bought = buy(&app, &a, "+15550007777").await;
    let phone_id = bought.body["data"]["id"].as_str().unwrap().to_owned();
    let a_viewer = tokens::client_viewer(&a);
    let b_viewer = tokens::client_viewer(&b);

    // A's own viewer reads, never writes.
    assert_eq!(
        app.get(&format!("/api/tenants/{a}/phone-numbers"), &a_viewer)
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(
            &format!("/api/tenants/{a}/phone-numbers/{phone_id}"),
            &a_viewer
        )
        .await
        .status,
        StatusCode::OK
    );
    for answer in [
        app.post(
            &format!("/api/tenants/{a}/phone-numbers"),
            &a_viewer,
            json!({"number": "+15550007778"}),
        )
        .await,
        app.put(
            &format!("/api/tenants/{a}/phone-numbers/{phone_id}"),
            &a_viewer,
            json!({"label": "x"}),
        )
        .await,
        app.delete(
            &format!("/api/tenants/{a}/phone-numbers/{phone_id}"),
            &a_viewer,
        )
        .await,
        app.get(
            &format!("/api/tenants/{a}/phone-numbers/available"),
            &a_viewer,
        )
        .await,
    ] {
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::FORBIDDEN, "INSUFFICIENT_PERMISSIONS"),
            "{}",
            answer.text
        );
    }
    // Another tenant's token sees nothing of A.
    for answer in [
        app.get(&format!("/api/tenants/{a}/phone-numbers"), &b_viewer)
            .await,
        app.get(
            &format!("/api/tenants/{a}/phone-numbers/{phone_id}"),
            &b_viewer,
        )
        .await,
        app.post(
            &format!("/api/tenants/{a}/phone-numbers"),
            &b_viewer,
            json!({"number": "+15550007778"}),
        )
        .await,
        app.put(
            &format!("/api/tenants/{a}/phone-numbers/{phone_id}"),
            &b_viewer,
            json!({"label": "x"}),
        )
        .await,
        app.delete(
            &format!("/api/tenants/{a}/phone-numbers/{phone_id}"),
            &b_viewer,
        )
        .await,
        app.get(
            &format!("/api/tenants/{a}/phone-numbers/available"),
            &b_viewer,
        )
        .await,
    ] {
        assert_eq!(
            (answer.status, answer.code()),
            (StatusCode::NOT_FOUND, "TENANT_NOT_FOUND"),
            "{}",
            answer.text
        );
    }
    // A's number under B's path does not exist, even for staff.
    let crossed = app
        .get(
            &format!("/api/tenants/{b}/phone-numbers/{phone_id}"),
            &tokens::admin(),
        )
        .await;
    assert_eq!(crossed.code(), "PHONE_NUMBER_NOT_FOUND");
    // The internal routes are for internal roles...
    for answer in [
        app.get(&format!("/internal/phone-numbers?tenant_id={a}"), &a_viewer).await,
        app.call(Method::PATCH, &format!("/internal/phone-numbers/{phone_id}/agent"), Some(&b_viewer), Some(json!({"agent_id": null}))).await,
        app.post("/internal/phone-numbers", &b_viewer, json!({"tenant_id": b, "e164": "+15550007779", "twilio_sid": format!("PN{}", "a".repeat(32))})).await,
    ] {
        assert_eq!((answer.status, answer.code()), (StatusCode::FORBIDDEN, "INSUFFICIENT_PERMISSIONS"), "{}", answer.text);
    }
    // ...bound to their own tenant unless they carry the platform account.
    let b_staff = tokens::internal("internal_admin", &b);
    for answer in [
        app.get(&format!("/internal/phone-numbers?tenant_id={a}"), &b_staff).await,
        app.post("/internal/phone-numbers", &b_staff, json!({"tenant_id": a, "e164": "+15550007779", "twilio_sid": format!("PN{}", "a".repeat(32))})).await,
    ] {
        assert_eq!((answer.status, answer.code()), (StatusCode::NOT_FOUND, "TENANT_NOT_FOUND"), "{}", answer.text);
    }
    let moved = app
        .call(
            Method::PATCH,
            &format!("/internal/phone-numbers/{phone_id}/agent"),
            Some(&b_staff),
            Some(json!({"agent_id": null})),
        )
        .await;
    assert_eq!(
        (moved.status, moved.code()),
        (StatusCode::NOT_FOUND, "PHONE_NUMBER_NOT_FOUND"),
        "{}",
        moved.text
    );
    // Platform read-only users read any tenant but do not buy.
    assert_eq!(
        app.get(
            &format!("/api/tenants/{a}/phone-numbers"),
            &tokens::reader()
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        buy_as(&app, &a, &tokens::reader()).await.code(),
        "INSUFFICIENT_PERMISSIONS"
    );
}

async fn buy_as(app: &TestApp, tenant: &str, token: &str) -> Answer {
    app.post(
        &format!("/api/tenants/{tenant}/phone-numbers"),
        token,
        json!({"number": "+15550008888"}),
    )
    .await
}

#[tokio::test]
async fn internal_routing_endpoints() {
    let app = spawn_app().await;
    let t = tenant(&app, "internal.example").await;
    let staff = tokens::internal("internal_operator", &t);
    let sid = |i: u32| format!("PN{i:032x}");
    let mut ids = Vec::new();
    for i in 0..5 {
        let answer = app
            .post(
                "/internal/phone-numbers",
                &staff,
                json!({"tenant_id": t, "e164": format!("+1 555 020 000{i}"), "twilio_sid": sid(i)}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.text);
        assert_eq!(answer.body["data"]["e164"], format!("+1555020000{i}"));
        assert_eq!(answer.body["data"]["status"], "active");
        ids.push(answer.body["data"]["id"].as_str().unwrap().to_owned());
    }
    let dup = app
        .post(
            "/internal/phone-numbers",
            &staff,
            json!({"tenant_id": t, "e164": "+15550200000", "twilio_sid": sid(9)}),
        )
        .await;
    assert_eq!(
        (dup.status, dup.code()),
        (StatusCode::CONFLICT, "NUMBER_ALREADY_CLAIMED")
    );
    let nobody = uuid::Uuid::now_v7();
    let orphan = app
        .post(
            "/internal/phone-numbers",
            &staff,
            json!({"tenant_id": nobody, "e164": "+15550209999", "twilio_sid": sid(8)}),
        )
        .await;
    assert_eq!(
        (orphan.status, orphan.code()),
        (StatusCode::NOT_FOUND, "TENANT_NOT_FOUND")
    );
    assert!(
        route(&app, "+15550209999").await.is_none(),
        "nothing written for a missing tenant"
    );
    let bad = app
        .post(
            "/internal/phone-numbers",
            &staff,
            json!({"tenant_id": t, "e164": "555", "twilio_sid": "nope"}),
        )
        .await;
    assert_eq!(bad.body["error"]["details"].as_array().unwrap().len(), 2);
    let inactive = app
        .post("/internal/phone-numbers", &staff, json!({"tenant_id": t, "e164": "+15550201111", "twilio_sid": sid(7), "status": "inactive"}))
        .await;
    assert_eq!(inactive.body["data"]["is_active"], false);

    // Cursor paging returns each number once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/internal/phone-numbers?tenant_id={t}&limit=2&cursor={c}"),
            None => format!("/internal/phone-numbers?tenant_id={t}&limit=2"),
        };
        let page = app.get(&path, &staff).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        seen.extend(
            page.body["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|n| n["id"].as_str().unwrap().to_owned()),
        );
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 6);
    let unique: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), 6);
    let bad_cursor = app
        .get(
            &format!("/internal/phone-numbers?tenant_id={t}&cursor=zzz"),
            &staff,
        )
        .await;
    assert_eq!(bad_cursor.status, StatusCode::BAD_REQUEST);

    // Agent assignment moves the route with it; the agent must be the tenant's.
    let other = tenant(&app, "other-internal.example").await;
    let foreign_agent = make_agent(&app, &other).await;
    let crossed = app
        .call(
            Method::PATCH,
            &format!("/internal/phone-numbers/{}/agent", ids[0]),
            Some(&staff),
            Some(json!({"agent_id": foreign_agent})),
        )
        .await;
    assert_eq!(crossed.code(), "AGENT_NOT_FOUND");
    let agent = make_agent(&app, &t).await;
    let path = format!("/internal/phone-numbers/{}/agent", ids[0]);
    let assigned = app
        .call(
            Method::PATCH,
            &path,
            Some(&staff),
            Some(json!({"agent_id": agent})),
        )
        .await;
    assert_eq!(assigned.status, StatusCode::OK, "{}", assigned.text);
    assert_eq!(assigned.body["data"]["agent_id"], agent.as_str());
    assert_eq!(
        route(&app, "+15550200000")
            .await
            .unwrap()
            .agent_id
            .map(|a| a.to_string()),
        Some(agent)
    );
    let cleared = app
        .call(
            Method::PATCH,
            &path,
            Some(&staff),
            Some(json!({"agent_id": null})),
        )
        .await;
    assert!(cleared.body["data"]["agent_id"].is_null());
    assert!(
        route(&app, "+15550200000")
            .await
            .unwrap()
            .agent_id
            .is_none()
    );
    let missing_field = app
        .call(Method::PATCH, &path, Some(&staff), Some(json!({})))
        .await;
    assert_eq!(missing_field.status, StatusCode::BAD_REQUEST);
    let unknown = app
        .call(
            Method::PATCH,
            &format!("/internal/phone-numbers/{nobody}/agent"),
            Some(&staff),
            Some(json!({"agent_id": null})),
        )
        .await;
    assert_eq!(unknown.code(), "PHONE_NUMBER_NOT_FOUND");
}

#[tokio::test]
async fn twilio_problems_are_clear() {
    let app = spawn_app().await;
    let t = tenant(&app, "nocreds.example").await;
    let answer = buy(&app, &t, "+15550009999").await;
    assert_eq!(
        (answer.status, answer.code()),
        (StatusCode::SERVICE_UNAVAILABLE, "TWILIO_NOT_CONFIGURED")
    );
    assert!(route(&app, "+15550009999").await.is_none());

    let (app, fakes) = spawn_telephony_app(false).await;
    let t = tenant(&app, "outage.example").await;
    fakes.twilio.state.lock().unwrap().outage = Some((503, 20503));
    let down = buy(&app, &t, "+15550009998").await;
    assert_eq!(
        (down.status, down.code()),
        (StatusCode::BAD_GATEWAY, "TWILIO_UNAVAILABLE")
    );
    assert!(
        route(&app, "+15550009998").await.is_none(),
        "the reservation is undone"
    );
    fakes.twilio.state.lock().unwrap().outage = Some((401, 20003));
    let creds = buy(&app, &t, "+15550009998").await;
    assert_eq!(creds.code(), "TWILIO_AUTH_FAILED");
    fakes.twilio.state.lock().unwrap().outage = None;
    // Without LiveKit the number is active at once and routes by TwiML.
    let bought = buy(&app, &t, "+15550009998").await;
    assert_eq!(bought.status, StatusCode::CREATED);
    assert!(bought.body["data"]["livekit"].is_null());
    assert!(route(&app, "+15550009998").await.unwrap().active);
    let invalid = buy(&app, &t, "+80536282365").await;
    assert_eq!(invalid.status, StatusCode::BAD_REQUEST);
}
