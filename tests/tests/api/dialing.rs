//! The dialer stories' shared setup: a tenant with an agent, a caller id and a list of leads, a
//! started campaign over it on GOBI served over HTTP (for the Twilio stand-in's callbacks), and
//! the clock moved to a weekday.

use chrono::{DateTime, Datelike, Duration, Utc};
use gobi_tests::{Telephony, TestApp, spawn_telephony_app_with, tokens};
use http::StatusCode;
use serde_json::{Value, json};

/// Moves the app's clock to the next Monday at `hour`:`minute` UTC.
pub fn to_monday(app: &TestApp, hour: u32, minute: u32) -> DateTime<Utc> {
    let now = app.clock.now();
    let days = (7 - now.weekday().num_days_from_monday()) % 7;
    let target = (now.date_naive() + Duration::days(i64::from(days.max(1))))
        .and_hms_opt(hour, minute, 0)
        .unwrap()
        .and_utc();
    app.clock.advance(target - now);
    target
}

pub fn move_to(app: &TestApp, at: DateTime<Utc>) {
    let now = app.clock.now();
    assert!(at >= now, "the clock only moves forward");
    app.clock.advance(at - now);
}

/// A started campaign and what it runs on.
pub struct Dialing {
    pub app: TestApp,
    pub telephony: Telephony,
    /// GOBI served over HTTP, for the stand-in's callbacks.
    pub base: String,
    pub tenant: String,
    pub campaign: String,
}

/// A tenant with an agent, a caller id, a list of `numbers`, and a started campaign over it.
pub async fn started(numbers: &[&str], campaign: Value, suffix: u32) -> Dialing {
    started_with(numbers, &[], campaign, "", suffix).await
}

/// The same, `consented` leads with written consent, `start_query` on the start.
pub async fn started_with(
    numbers: &[&str],
    consented: &[&str],
    campaign: Value,
    start_query: &str,
    suffix: u32,
) -> Dialing {
    start(
        Vec::new(),
        numbers,
        consented,
        campaign,
        start_query,
        suffix,
    )
    .await
}

/// The LiveKit SIP outbound trunk of [`started_through_livekit`].
pub const OUTBOUND_TRUNK: &str = "ST_outbound0001";

/// The same with a LiveKit SIP outbound trunk configured (and existing at the stand-in): calls
/// go through LiveKit's `CreateSIPParticipant`, not Twilio.
pub async fn started_through_livekit(numbers: &[&str], campaign: Value, suffix: u32) -> Dialing {
    let env = vec![("LIVEKIT_SIP_OUTBOUND_TRUNK_ID", OUTBOUND_TRUNK.to_owned())];
    let d = start(env, numbers, &[], campaign, "", suffix).await;
    d.telephony
        .livekit
        .state
        .lock()
        .unwrap()
        .outbound_trunks
        .insert(OUTBOUND_TRUNK.to_owned());
    d
}

async fn start(
    mut env: Vec<(&'static str, String)>,
    numbers: &[&str],
    consented: &[&str],
    campaign: Value,
    start_query: &str,
    suffix: u32,
) -> Dialing {
    // With LiveKit: an answered call is connected to the voice runtime over SIP.
    env.push((
        "LIVEKIT_SIP_URI",
        "sip:gobi-test.sip.livekit.cloud".to_owned(),
    ));
    let (app, telephony) = spawn_telephony_app_with(true, env).await;
    let base = app.serve().await;
    let tenant = app
        .new_tenant(&format!("Dialing {suffix}"), &format!("dialing-{suffix}"))
        .await;
    // Room for the stories' caps (the default is 10 live calls).
    let raised = app
        .call(
            http::Method::PUT,
            &format!("/api/tenants/{tenant}"),
            Some(&tokens::admin()),
            Some(json!({"maxConcurrentCalls": 100})),
        )
        .await;
    assert_eq!(raised.status, StatusCode::OK, "{}", raised.text);
    let (agent, _) = app.published_agent(&tenant, "Caller").await;
    let caller = format!("+1555766{suffix:04}");
    app.registered_number(&tenant, &caller).await;
    let list = app.new_lead_list(&tenant, "Dial list").await;
    let mut file = String::from("phone,name,plan\n");
    for (i, n) in numbers.iter().enumerate() {
        file.push_str(&format!("{n},Lead {i},gold\n"));
    }
    let imported = app
        .post_csv(
            &format!("/api/tenants/{tenant}/lead-lists/{list}/imports"),
            &tokens::admin(),
            file.as_bytes(),
        )
        .await;
    assert_eq!(imported.status, StatusCode::CREATED);
    app.drain_lead_imports().await;
    for number in consented {
        let consent = app
            .call(
                http::Method::PATCH,
                &format!(
                    "/api/tenants/{tenant}/lead-lists/{list}/leads/{}",
                    number.trim_start_matches('+')
                ),
                Some(&tokens::admin()),
                Some(json!({"consent": {"type": "written", "capturedAt": "2026-01-05T10:00:00Z", "source": "signup form"}})),
            )
            .await;
        assert_eq!(consent.status, StatusCode::OK, "{}", consent.text);
    }
    let mut body = json!({
        "name": "Dialing",
        "agentId": agent,
        "leadListIds": [list],
        "callerIds": [caller],
        "schedule": {
            "windows": [{"days": ["mon", "tue", "wed", "thu", "fri"], "start": "08:00", "end": "21:00"}],
            "timezone": "America/New_York"
        },
        // Ten calls a second: a tick's dials are delivered at once (pacing has its own test).
        "pacing": {"maxConcurrency": 10, "maxCallsPerSecond": 10}
    });
    if let (Value::Object(into), Value::Object(more)) = (&mut body, campaign) {
        into.extend(more);
    }
    let created = app
        .post(
            &format!("/api/tenants/{tenant}/campaigns"),
            &tokens::admin(),
            body,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let campaign = created.body["data"]["id"].as_str().unwrap().to_owned();
    let start = app
        .post(
            &format!("/api/tenants/{tenant}/campaigns/{campaign}/start{start_query}"),
            &tokens::admin(),
            json!({}),
        )
        .await;
    assert_eq!(start.status, StatusCode::OK, "{}", start.text);
    // The lists' leads are enrolled by the dialer worker.
    app.drain_dialer().await;
    Dialing {
        app,
        telephony,
        base,
        tenant,
        campaign,
    }
}

impl Dialing {
    pub async fn campaign(&self) -> Value {
        let answer = self
            .app
            .get(
                &format!("/api/tenants/{}/campaigns/{}", self.tenant, self.campaign),
                &tokens::admin(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body["data"].clone()
    }

    /// A tick, its dial jobs run, and every live call's callback delivered.
    pub async fn round(&self) {
        self.app.tick().await;
        self.app.drain_dialer().await;
        self.telephony.twilio.finish_calls(&self.base).await;
    }
}
