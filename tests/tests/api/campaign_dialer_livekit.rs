//! With a LiveKit SIP outbound trunk configured, the dialer places campaign calls through
//! LiveKit's `CreateSIPParticipant` (the LiveKit stand-in), never through Twilio: the call is
//! recorded and handed to the runtime first (the agent dispatched into the call's room), the
//! callee dialed into that room, and the runtime's `ended` report ends the attempt.

use chrono::Duration;
use gobi_tests::tokens;
use http::StatusCode;
use serde_json::{Value, json};

use crate::dialing::{Dialing, OUTBOUND_TRUNK, move_to, started_through_livekit, to_monday};

const ANSWERS: &str = "+12125550901";
const BUSY: &str = "+12125550902";

impl Dialing {
    /// The tenant's call to `number`.
    async fn call_to(&self, number: &str) -> Value {
        let calls = self.app.calls_of(&self.tenant).await;
        calls
            .iter()
            .find(|c| c["to"] == number)
            .unwrap_or_else(|| panic!("no call to {number}: {calls:?}"))
            .clone()
    }

    /// The attempts on the lead with `number`.
    async fn attempts_of(&self, number: &str) -> Value {
        let answer = self
            .app
            .get(
                &format!(
                    "/api/tenants/{}/campaigns/{}/leads/{}/attempts",
                    self.tenant,
                    self.campaign,
                    number.trim_start_matches('+')
                ),
                &tokens::admin(),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body["data"].clone()
    }

    /// The runtime reports `events` on `call`; the answer's counts.
    async fn report(&self, call: &str, events: Value) -> Value {
        let runtime = tokens::internal("internal_operator", &self.tenant);
        let answer = self
            .app
            .post(
                &format!("/internal/runtime/calls/{call}/events"),
                &runtime,
                json!({ "events": events }),
            )
            .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
        answer.body["data"].clone()
    }
}

#[tokio::test]
async fn calls_go_through_the_livekit_trunk_and_the_runtime_ends_them() {
    let d = started_through_livekit(
        &[ANSWERS, BUSY],
        json!({"variables": {"offer": "10% off"},
            "retry": {"maxAttempts": 2, "busy": {"retry": true, "delayMinutes": 15}}}),
        430,
    )
    .await;
    let monday = to_monday(&d.app, 15, 0);
    d.app.tick().await;
    d.app.drain_dialer().await;

    // LiveKit placed both calls; Twilio none.
    assert_eq!(d.telephony.twilio.dials(), 0);
    let placed = d
        .telephony
        .livekit
        .state
        .lock()
        .unwrap()
        .sip_participants
        .clone();
    assert_eq!(placed.len(), 2);
    let to_answers = placed
        .iter()
        .find(|p| p.sip_call_to == ANSWERS)
        .expect("a call to the lead");
    assert_eq!(to_answers.sip_trunk_id, OUTBOUND_TRUNK);
    assert_eq!(
        to_answers.sip_number, "+15557660430",
        "the campaign's caller id"
    );
    assert!(!to_answers.wait_until_answered);

    // The call is recorded (outbound, its campaign) and its room is the one LiveKit dialed into.
    let call = d.call_to(ANSWERS).await;
    let call_id = call["id"].as_str().unwrap().to_owned();
    assert_eq!(call["direction"], "outbound");
    assert_eq!(call["campaign_id"], json!(d.campaign));
    assert_eq!(call["campaign_attempt"], 1);
    assert!(
        call["phone_number_id"].is_string(),
        "the caller id's number: {call}"
    );
    assert_eq!(to_answers.room_name, format!("call-{call_id}"));
    assert_eq!(
        to_answers.participant_attributes.get("gobi.call_id"),
        Some(&call_id)
    );

    // The handoff dispatches the agent into that room, with the lead's variables.
    assert_eq!(d.app.drain_handoffs().await, 2);
    let dispatch = d.app.dispatch_of(&call_id).await;
    assert_eq!(dispatch["room_name"], to_answers.room_name);
    assert_eq!(dispatch["campaign"]["variables"]["offer"], "10% off");
    let agent_rooms: Vec<String> = d
        .telephony
        .livekit
        .state
        .lock()
        .unwrap()
        .agent_dispatches
        .iter()
        .map(|a| a.room.clone())
        .collect();
    assert!(
        agent_rooms.contains(&to_answers.room_name),
        "{agent_rooms:?}"
    );
    let campaign = d.campaign().await;
    assert_eq!(campaign["liveCalls"], 2, "{campaign}");

    // The runtime reports one answered and hung up, the other busy; re-sent, nothing changes.
    let answered = json!([
        {"event_id": uuid::Uuid::new_v4(), "kind": "answered"},
        {"event_id": uuid::Uuid::new_v4(), "kind": "ended", "reason": "caller_hung_up"}
    ]);
    assert_eq!(d.report(&call_id, answered.clone()).await["accepted"], 2);
    assert_eq!(d.report(&call_id, answered).await["duplicates"], 2);
    let busy_call = d.call_to(BUSY).await;
    let busy_id = busy_call["id"].as_str().unwrap().to_owned();
    d.report(
        &busy_id,
        json!([{"event_id": uuid::Uuid::new_v4(), "kind": "ended", "reason": "busy"}]),
    )
    .await;
    let campaign = d.campaign().await;
    assert_eq!(campaign["liveCalls"], 0, "{campaign}");
    assert_eq!(campaign["outcomes"]["answered"], 1, "{campaign}");
    assert_eq!(campaign["outcomes"]["busy"], 1, "{campaign}");
    assert_eq!(campaign["counts"]["completed"], 1, "{campaign}");
    assert_eq!(campaign["counts"]["retryScheduled"], 1, "{campaign}");

    // The busy lead's retry: LiveKit refuses it (the trunk is gone), so the attempt fails and
    // its call record ends failed; Twilio is still never used.
    d.telephony
        .livekit
        .state
        .lock()
        .unwrap()
        .outbound_trunks
        .clear();
    move_to(&d.app, monday + Duration::minutes(16));
    d.app.tick().await;
    d.app.drain_dialer().await;
    assert_eq!(d.telephony.twilio.dials(), 0);
    let campaign = d.campaign().await;
    assert_eq!(campaign["outcomes"]["failed"], 1, "{campaign}");
    assert_eq!(campaign["counts"]["failed"], 1, "{campaign}");
    d.app.tick().await;
    assert_eq!(d.campaign().await["state"], "completed");
    let attempts = d.attempts_of(BUSY).await;
    assert_eq!(attempts[1]["outcome"], "failed", "{attempts}");
    let calls = d.app.calls_of(&d.tenant).await;
    let retried = calls
        .iter()
        .find(|c| c["to"] == BUSY && c["campaign_attempt"] == 2)
        .unwrap_or_else(|| panic!("the retry's call: {calls:?}"));
    assert_eq!(retried["status"], "failed");
}

#[tokio::test]
async fn a_terminal_disposition_ends_the_leads_campaign() {
    let d = started_through_livekit(
        &[ANSWERS, BUSY],
        json!({"retry": {"maxAttempts": 3,
            "busy": {"retry": true, "delayMinutes": 15},
            "voicemail": {"retry": true, "delayMinutes": 15}}}),
        431,
    )
    .await;
    for (code, terminal) in [("left_message", true), ("not_interested", true)] {
        let defined = d
            .app
            .post(
                &format!("/api/tenants/{}/dispositions", d.tenant),
                &tokens::admin(),
                json!({"code": code, "label": code, "terminal": terminal}),
            )
            .await;
        assert_eq!(defined.status, StatusCode::CREATED, "{}", defined.text);
    }
    let monday = to_monday(&d.app, 15, 0);
    d.app.tick().await;
    d.app.drain_dialer().await;
    let disposition = |call: String, code: &'static str| {
        let d = &d;
        async move {
            let answer = d
                .app
                .post(
                    &format!("/internal/runtime/calls/{call}/disposition"),
                    &tokens::internal("internal_operator", &d.tenant),
                    json!({"code": code}),
                )
                .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
            answer.body["data"].clone()
        }
    };

    // During a live call (a machine took it; the agent left a message): the lead is marked, and
    // when the call ends as voicemail, which the policy would retry, the lead is done instead.
    let machine = d.call_to(ANSWERS).await["id"].as_str().unwrap().to_owned();
    assert_eq!(
        disposition(machine.clone(), "left_message").await["lead_closed"],
        true
    );
    d.report(
        &machine,
        json!([{"event_id": uuid::Uuid::new_v4(), "kind": "ended", "reason": "voicemail"}]),
    )
    .await;
    // After the call (busy, a retry due): the retry is called off.
    let busy = d.call_to(BUSY).await["id"].as_str().unwrap().to_owned();
    d.report(
        &busy,
        json!([{"event_id": uuid::Uuid::new_v4(), "kind": "ended", "reason": "busy"}]),
    )
    .await;
    assert_eq!(d.campaign().await["counts"]["retryScheduled"], 1);
    assert_eq!(
        disposition(busy, "not_interested").await["lead_closed"],
        true
    );

    // Each attempt shows its call's disposition.
    let attempts = d.attempts_of(BUSY).await;
    assert_eq!(attempts[0]["disposition"], "not_interested", "{attempts}");
    let campaign = d.campaign().await;
    assert_eq!(campaign["counts"]["completed"], 2, "{campaign}");
    assert_eq!(campaign["counts"]["retryScheduled"], 0, "{campaign}");
    assert_eq!(campaign["outcomes"]["voicemail"], 1, "{campaign}");
    // Past both retry delays, nothing more is dialed.
    move_to(&d.app, monday + Duration::minutes(20));
    d.app.tick().await;
    d.app.drain_dialer().await;
    let placed = d
        .telephony
        .livekit
        .state
        .lock()
        .unwrap()
        .sip_participants
        .len();
    assert_eq!(placed, 2, "no lead dialed again");
    d.app.tick().await;
    assert_eq!(d.campaign().await["state"], "completed");

    // The report: a page of leads with their attempts, final outcome and disposition.
    let base = format!("/api/tenants/{}/campaigns/{}/report", d.tenant, d.campaign);
    let first = d
        .app
        .get(&format!("{base}?limit=1"), &tokens::admin())
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text);
    let row = &first.body["data"][0];
    assert_eq!(row["phoneNumber"], ANSWERS, "{}", first.text);
    assert_eq!(row["status"], "completed");
    assert_eq!(row["finalOutcome"], "voicemail");
    assert_eq!(row["disposition"], "left_message");
    assert_eq!(row["attempts"].as_array().unwrap().len(), 1);
    let cursor = first.body["nextCursor"].as_str().expect("a second page");
    let second = d
        .app
        .get(&format!("{base}?limit=1&cursor={cursor}"), &tokens::admin())
        .await;
    let row = &second.body["data"][0];
    assert_eq!(row["phoneNumber"], BUSY, "{}", second.text);
    assert_eq!(row["finalOutcome"], "busy");
    assert_eq!(row["disposition"], "not_interested");
    // A full page may still name a cursor (DynamoDB stops at the limit); what follows is empty.
    if let Some(cursor) = second.body["nextCursor"].as_str() {
        let third = d
            .app
            .get(&format!("{base}?limit=1&cursor={cursor}"), &tokens::admin())
            .await;
        assert_eq!(third.body["data"], json!([]), "{}", third.text);
        assert_eq!(third.body["nextCursor"], Value::Null);
    }
    // As CSV: one row per lead.
    let csv = d
        .app
        .send(
            http::Request::get(&base)
                .header("authorization", format!("Bearer {}", tokens::admin()))
                .header("accept", "text/csv")
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    let lines: Vec<&str> = csv.text.lines().collect();
    assert_eq!(
        lines[0],
        "phoneNumber,leadId,status,skipReason,attempts,finalOutcome,disposition,lastAttemptAt,listId"
    );
    assert_eq!(lines.len(), 3, "{}", csv.text);
    assert!(
        lines[1].starts_with(&format!(
            "{ANSWERS},{},completed,,1,voicemail,left_message,",
            &ANSWERS[1..]
        )),
        "{}",
        lines[1]
    );
    assert!(
        lines[2].starts_with(&format!(
            "{BUSY},{},completed,,1,busy,not_interested,",
            &BUSY[1..]
        )),
        "{}",
        lines[2]
    );
}
