//! Inbound campaigns: while one runs, calls to its numbers are recorded with the campaign and go
//! to its agent, and a caller found in its lists brings their lead variables to the runtime; a
//! number is held by one running campaign at a time; paused or cancelled, the number answers
//! as before. Nothing is dialed.

use gobi_tests::fakes::twilio::sign;
use gobi_tests::{Telephony, TestApp, WEBHOOK_BASE, spawn_telephony_app_with, tokens};
use http::StatusCode;
use serde_json::{Value, json};

const NUMBER: &str = "+15557650420";
const KNOWN_CALLER: &str = "+12125550777";
const STRANGER: &str = "+12125550778";

struct Inbound {
    app: TestApp,
    telephony: Telephony,
    tenant: String,
    /// The number's own agent.
    reception: String,
    /// The campaign's agent.
    sales: String,
    list: String,
}

async fn inbound_line() -> Inbound {
    let (app, telephony) = spawn_telephony_app_with(
        true,
        vec![(
            "LIVEKIT_SIP_URI",
            "sip:gobi-test.sip.livekit.cloud".to_owned(),
        )],
    )
    .await;
    let admin = tokens::admin();
    let tenant = app.new_tenant("Inbound", "inbound-campaigns").await;
    let (reception, _) = app.published_agent(&tenant, "Reception").await;
    let (sales, _) = app.published_agent(&tenant, "Sales").await;
    let bought = app
        .post(
            &format!("/api/tenants/{tenant}/phone-numbers"),
            &admin,
            json!({"number": NUMBER, "agentId": reception}),
        )
        .await;
    assert_eq!(bought.status, StatusCode::CREATED, "{}", bought.text);
    let list = app.new_lead_list(&tenant, "Customers").await;
    let imported = app
        .post_csv(
            &format!("/api/tenants/{tenant}/lead-lists/{list}/imports"),
            &admin,
            format!("phone,name,plan\n{KNOWN_CALLER},Ada,gold\n").as_bytes(),
        )
        .await;
    assert_eq!(imported.status, StatusCode::CREATED, "{}", imported.text);
    app.drain_lead_imports().await;
    Inbound {
        app,
        telephony,
        tenant,
        reception,
        sales,
        list,
    }
}

impl Inbound {
    async fn campaign(&self, name: &str) -> String {
        let created = self
            .app
            .post(
                &format!("/api/tenants/{}/campaigns", self.tenant),
                &tokens::admin(),
                json!({
                    "name": name,
                    "direction": "inbound",
                    "agentId": self.sales,
                    "leadListIds": [self.list],
                    "callerIds": [NUMBER],
                    "variables": {"offer": "10% off", "plan": "silver"}
                }),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
        created.body["data"]["id"].as_str().unwrap().to_owned()
    }

    async fn act(&self, campaign: &str, action: &str) -> gobi_tests::Answer {
        self.app
            .post(
                &format!("/api/tenants/{}/campaigns/{campaign}/{action}", self.tenant),
                &tokens::admin(),
                json!({}),
            )
            .await
    }

    /// A call from `from` to the number (Twilio's webhook, signed as Twilio signs); the call as
    /// recorded.
    async fn call_from(&self, sid: &str, from: &str) -> Value {
        let twilio = &self.telephony.twilio;
        let params: Vec<(String, String)> = [
            ("AccountSid", twilio.account_sid.as_str()),
            ("CallSid", sid),
            ("From", from),
            ("To", NUMBER),
            ("CallStatus", "ringing"),
            ("Direction", "inbound"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let path = "/twilio/webhook/inbound";
        let signature = sign(
            &twilio.auth_token,
            &format!("{WEBHOOK_BASE}{path}"),
            &params,
        );
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(&params)
            .finish();
        let answer = self
            .app
            .send(
                http::Request::post(path)
                    .header("content-type", "application/x-www-form-urlencoded")
                    .header("x-twilio-signature", signature)
                    .body(axum::body::Body::from(body))
                    .unwrap(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        assert!(answer.text.contains("<Dial"), "{}", answer.text);
        let calls = self.app.calls_of(&self.tenant).await;
        calls
            .iter()
            .find(|c| c["call_sid"] == sid)
            .unwrap_or_else(|| panic!("no call {sid}: {calls:?}"))
            .clone()
    }

    /// The runtime's dispatch of `call` (after the handoff worker ran).
    async fn dispatch(&self, call: &Value) -> Value {
        self.app.drain_handoffs().await;
        self.app.dispatch_of(call["id"].as_str().unwrap()).await
    }
}

#[tokio::test]
async fn calls_to_a_running_inbound_campaigns_number_carry_it_and_its_callers_leads() {
    let line = inbound_line().await;
    let spring = line.campaign("Spring inbound").await;

    // A draft holds nothing: the number answers with its own agent.
    let before = line
        .call_from("CA0000000000000000000000000000a001", KNOWN_CALLER)
        .await;
    assert_eq!(before["agent_id"], json!(line.reception));
    assert!(before.get("campaign_id").is_none(), "{before}");

    let started = line.act(&spring, "start").await;
    assert_eq!(started.status, StatusCode::OK, "{}", started.text);
    assert_eq!(started.body["data"]["state"], "running");

    // A known caller: the campaign, its agent, and the lead's variables over the campaign's.
    let known = line
        .call_from("CA0000000000000000000000000000a002", KNOWN_CALLER)
        .await;
    assert_eq!(known["campaign_id"], json!(spring), "{known}");
    assert_eq!(known["agent_id"], json!(line.sales));
    assert_eq!(known["direction"], "inbound");
    let dispatch = line.dispatch(&known).await;
    let context = &dispatch["campaign"];
    assert_eq!(context["campaign_id"], json!(spring), "{dispatch}");
    assert_eq!(context["phone_number"], KNOWN_CALLER);
    assert_eq!(context["name"], "Ada");
    assert_eq!(
        context["variables"],
        json!({"offer": "10% off", "plan": "gold"})
    );
    // A caller in no list: the campaign's variables alone.
    let stranger = line
        .call_from("CA0000000000000000000000000000a003", STRANGER)
        .await;
    assert_eq!(stranger["campaign_id"], json!(spring));
    let context = line.dispatch(&stranger).await["campaign"].clone();
    assert_eq!(context["name"], Value::Null, "{context}");
    assert_eq!(
        context["variables"],
        json!({"offer": "10% off", "plan": "silver"})
    );

    // The tick dials nothing for an inbound campaign and enrols nobody.
    line.app.tick().await;
    assert_eq!(line.app.drain_dialer().await, 0);

    // One number, one running campaign.
    let summer = line.campaign("Summer inbound").await;
    let refused = line.act(&summer, "start").await;
    assert_eq!(refused.status, StatusCode::CONFLICT, "{}", refused.text);
    assert_eq!(refused.body["error"]["code"], "NUMBER_IN_CAMPAIGN");
    let summer_now = line
        .app
        .get(
            &format!("/api/tenants/{}/campaigns/{summer}", line.tenant),
            &tokens::admin(),
        )
        .await;
    assert_eq!(summer_now.body["data"]["state"], "draft", "still a draft");

    // Paused, the number answers as before; the other campaign may take it then.
    assert_eq!(line.act(&spring, "pause").await.status, StatusCode::OK);
    let paused = line
        .call_from("CA0000000000000000000000000000a004", KNOWN_CALLER)
        .await;
    assert!(paused.get("campaign_id").is_none(), "{paused}");
    assert_eq!(paused["agent_id"], json!(line.reception));
    assert_eq!(line.act(&summer, "start").await.status, StatusCode::OK);
    let summer_call = line
        .call_from("CA0000000000000000000000000000a005", KNOWN_CALLER)
        .await;
    assert_eq!(summer_call["campaign_id"], json!(summer));
    // ... and the first cannot resume while it does.
    let resume = line.act(&spring, "resume").await;
    assert_eq!(resume.status, StatusCode::CONFLICT, "{}", resume.text);
    assert_eq!(resume.body["error"]["code"], "NUMBER_IN_CAMPAIGN");

    // Cancelled, the number is let go.
    assert_eq!(line.act(&summer, "cancel").await.status, StatusCode::OK);
    let after = line
        .call_from("CA0000000000000000000000000000a006", KNOWN_CALLER)
        .await;
    assert!(after.get("campaign_id").is_none(), "{after}");
    assert_eq!(line.act(&spring, "resume").await.status, StatusCode::OK);
    let resumed = line
        .call_from("CA0000000000000000000000000000a007", KNOWN_CALLER)
        .await;
    assert_eq!(resumed["campaign_id"], json!(spring));
}

#[tokio::test]
async fn an_inbound_campaign_needs_a_number() {
    let line = inbound_line().await;
    let refused = line
        .app
        .post(
            &format!("/api/tenants/{}/campaigns", line.tenant),
            &tokens::admin(),
            json!({"name": "No number", "direction": "inbound", "agentId": line.sales}),
        )
        .await;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.text);
    assert_eq!(refused.body["error"]["details"][0]["field"], "callerIds");
}

#[tokio::test]
async fn a_scheduled_inbound_campaign_holds_its_number_from_its_start_to_its_end() {
    let line = inbound_line().await;
    let now = line.app.clock.now();
    let (start_at, end_at) = (
        now + chrono::Duration::hours(1),
        now + chrono::Duration::hours(3),
    );
    let created = line
        .app
        .post(
            &format!("/api/tenants/{}/campaigns", line.tenant),
            &tokens::admin(),
            json!({
                "name": "Evening line",
                "direction": "inbound",
                "agentId": line.sales,
                "callerIds": [NUMBER],
                "schedule": {
                    "startAt": start_at, "endAt": end_at,
                    "windows": [{"days": ["mon"], "start": "08:00", "end": "21:00"}],
                    "timezone": "America/New_York"
                }
            }),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let campaign = created.body["data"]["id"].as_str().unwrap().to_owned();
    let started = line.act(&campaign, "start").await;
    assert_eq!(
        started.body["data"]["state"], "scheduled",
        "{}",
        started.text
    );
    let early = line
        .call_from("CA0000000000000000000000000000b001", STRANGER)
        .await;
    assert!(early.get("campaign_id").is_none(), "{early}");

    // Its start comes: the tick runs it and gives it the number.
    line.app.clock.advance(chrono::Duration::minutes(61));
    line.app.tick().await;
    let during = line
        .call_from("CA0000000000000000000000000000b002", STRANGER)
        .await;
    assert_eq!(during["campaign_id"], json!(campaign), "{during}");
    assert_eq!(during["agent_id"], json!(line.sales));

    // Its end comes: completed, the number let go.
    line.app.clock.advance(chrono::Duration::hours(2));
    line.app.tick().await;
    let state = line
        .app
        .get(
            &format!("/api/tenants/{}/campaigns/{campaign}", line.tenant),
            &tokens::admin(),
        )
        .await;
    assert_eq!(state.body["data"]["state"], "completed", "{}", state.text);
    let after = line
        .call_from("CA0000000000000000000000000000b003", STRANGER)
        .await;
    assert!(after.get("campaign_id").is_none(), "{after}");
    assert_eq!(after["agent_id"], json!(line.reception));
}
