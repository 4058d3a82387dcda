//! The dialer against the Twilio stand-in, with time moved by the clock: leads dialed only inside
//! their local hours and the law's, never a suppressed number (at import or opted out after the
//! lead was queued), Florida's evening and daily cap, status callbacks ending attempts with
//! retries inside the budget, duplicate ticks and jobs never dialing twice, the caps on live
//! calls never passed, and a call that never reports freeing its lease after expiry.

use chrono::{DateTime, Duration, Utc};
use gobi_tests::fakes::twilio::CallOutcome;
use gobi_tests::tokens;
use http::StatusCode;
use serde_json::json;

use crate::dialing::{move_to, started, started_with, to_monday};

#[tokio::test]
async fn leads_are_dialed_inside_their_hours_and_never_when_suppressed() {
    const NY: [&str; 3] = ["+12125550101", "+12125550102", "+12125550103"];
    const MIAMI: &str = "+13055550104";
    const LOS_ANGELES: &str = "+14155550105";
    const OPTED_OUT_LATER: &str = "+12125550106";
    const SUPPRESSED_BEFORE: &str = "+12125550107";
    let mut numbers: Vec<&str> = NY.to_vec();
    numbers.extend([MIAMI, LOS_ANGELES, OPTED_OUT_LATER, SUPPRESSED_BEFORE]);
    let d = started(&numbers, json!({}), 401).await;
    // Monday 14:00 UTC: 09:00 in New York and Miami, 06:00 in Los Angeles.
    let monday = to_monday(&d.app, 14, 0);
    let t = &d.tenant;
    let suppress = async |number: &str| {
        let answer = d
            .app
            .post(
                &format!("/api/tenants/{t}/suppressions"),
                &tokens::admin(),
                json!({"phoneNumber": number, "reason": "optOut"}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::CREATED);
    };
    // On the list after the campaign enrolled it: the tick queues it, the dial job refuses it.
    suppress(SUPPRESSED_BEFORE).await;
    let campaign = d.campaign().await;
    assert_eq!(campaign["enrollment"]["done"], true, "{campaign}");
    assert_eq!(campaign["counts"]["pending"], 7, "{campaign}");

    let report = d.app.tick().await;
    assert_eq!(report.campaigns.queued, 6, "{report:?}");
    // Opted out after being queued: the dial job checks again.
    suppress(OPTED_OUT_LATER).await;
    d.app.drain_dialer().await;
    let twilio = &d.telephony.twilio;
    for number in NY.iter().chain([&MIAMI]) {
        assert_eq!(twilio.dials_to(number), 1, "{number}");
    }
    for never in [OPTED_OUT_LATER, SUPPRESSED_BEFORE, LOS_ANGELES] {
        assert_eq!(twilio.dials_to(never), 0, "{never}");
    }
    assert_eq!(twilio.finish_calls(&d.base).await, 4);

    d.app.tick().await;
    let campaign = d.campaign().await;
    assert_eq!(campaign["counts"]["completed"], 4, "{campaign}");
    assert_eq!(campaign["counts"]["skipped"], 2, "{campaign}");
    assert_eq!(campaign["counts"]["pending"], 1, "{campaign}");
    assert_eq!(campaign["outcomes"]["answered"], 4);
    assert_eq!(campaign["liveCalls"], 0);
    assert_eq!(
        campaign["dialingState"]["state"], "outsideWindow",
        "{campaign}"
    );
    // Los Angeles opens at 08:00 Pacific = 16:00 UTC.
    let opening: DateTime<Utc> = campaign["dialingState"]["nextOpening"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(opening, monday + Duration::hours(2));

    move_to(&d.app, opening);
    d.round().await;
    assert_eq!(twilio.dials_to(LOS_ANGELES), 1);
    d.app.tick().await;
    let campaign = d.campaign().await;
    assert_eq!(campaign["state"], "completed", "{campaign}");
    assert_eq!(campaign["counts"]["completed"], 5);
    assert_eq!(twilio.dials(), 5);
}

#[tokio::test]
async fn florida_is_not_called_after_eight_nor_more_than_three_times_a_day() {
    const MIAMI: &str = "+13055550201";
    let d = started(
        &[MIAMI],
        json!({"retry": {"maxAttempts": 6,
            "noAnswer": {"retry": true, "delayMinutes": 60},
            "busy": {"retry": true, "delayMinutes": 10},
            "voicemail": {"retry": false, "delayMinutes": 60},
            "failed": {"retry": true, "delayMinutes": 10}}}),
        402,
    )
    .await;
    let twilio = &d.telephony.twilio;
    twilio
        .state
        .lock()
        .unwrap()
        .outcomes
        .insert(MIAMI.into(), CallOutcome::Busy);
    // Monday 23:00 UTC is 18:00 in Miami: three busy attempts ten minutes apart.
    let monday = to_monday(&d.app, 23, 0);
    for attempt in 0..3 {
        move_to(&d.app, monday + Duration::minutes(10 * attempt));
        d.round().await;
    }
    assert_eq!(twilio.dials_to(MIAMI), 3);
    // The fourth is due at 18:30, but Florida allows three calls per number per 24 hours.
    for minutes in [30, 40, 90] {
        move_to(&d.app, monday + Duration::minutes(minutes));
        d.round().await;
    }
    assert_eq!(twilio.dials_to(MIAMI), 3, "the daily cap holds");
    // 20:30 in Miami (01:30 UTC): past Florida's 20:00 even with the cap gone; nothing.
    move_to(&d.app, monday + Duration::minutes(150));
    d.round().await;
    assert_eq!(twilio.dials_to(MIAMI), 3);
    let campaign = d.campaign().await;
    assert_eq!(campaign["counts"]["pending"], 1, "{campaign}");
    assert_eq!(campaign["outcomes"]["busy"], 3);
    // A day after the first dial (Tuesday 18:00 in Miami) it is called again.
    move_to(&d.app, monday + Duration::hours(24));
    d.round().await;
    assert_eq!(twilio.dials_to(MIAMI), 4);
    let attempts = d
        .app
        .get(
            &format!(
                "/api/tenants/{}/campaigns/{}/leads/13055550201/attempts",
                d.tenant, d.campaign
            ),
            &tokens::admin(),
        )
        .await;
    assert_eq!(attempts.status, StatusCode::OK, "{}", attempts.text);
    let attempts = attempts.body["data"].as_array().unwrap().clone();
    assert_eq!(attempts.len(), 4);
    assert_eq!(attempts[0]["permit"]["rule"], "FL");
    assert_eq!(attempts[0]["permit"]["window"], 0);
    assert_eq!(
        attempts[0]["permit"]["localTimes"][0],
        format!("{}T18:00:00-05:00", monday.date_naive())
    );
    assert_eq!(attempts[0]["outcome"], "busy");
    assert!(attempts[0]["callSid"].as_str().unwrap().starts_with("CA"));
}

#[tokio::test]
async fn many_leads_never_pass_the_caps_nor_get_dialed_twice_and_silent_calls_free_their_lease() {
    // 60 leads at maxConcurrency 10; each number's outcome chosen by its last digit.
    let numbers: Vec<String> = (0..60)
        .map(|i| format!("+1212555{:04}", 3000 + i))
        .collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let d = started(
        &refs,
        json!({"retry": {"maxAttempts": 2,
            "noAnswer": {"retry": true, "delayMinutes": 5},
            "busy": {"retry": true, "delayMinutes": 5},
            "voicemail": {"retry": false, "delayMinutes": 5},
            "failed": {"retry": true, "delayMinutes": 5}}}),
        403,
    )
    .await;
    let twilio = &d.telephony.twilio;
    {
        let mut state = twilio.state.lock().unwrap();
        for (i, number) in numbers.iter().enumerate() {
            let outcome = match i % 6 {
                0 => CallOutcome::Busy,
                1 => CallOutcome::NoAnswer,
                2 => CallOutcome::Machine,
                3 => CallOutcome::Failed,
                4 => CallOutcome::Never,
                _ => CallOutcome::Answered,
            };
            state.outcomes.insert(number.clone(), outcome);
        }
    }
    let monday = to_monday(&d.app, 15, 0);
    for minute in 0..40 {
        move_to(&d.app, monday + Duration::minutes(minute * 6));
        // Two ticks in a row and every job handled twice: nothing is dialed twice.
        d.app.tick().await;
        d.app.tick().await;
        d.app.drain_dialer_twice().await;
        twilio.finish_calls(&d.base).await;
    }
    {
        let state = twilio.state.lock().unwrap();
        assert!(
            state.max_live <= 10,
            "live calls reached {}",
            state.max_live
        );
        assert_eq!(
            state.max_live_to_one_number, 1,
            "a number was dialed twice at once"
        );
        for (i, number) in numbers.iter().enumerate() {
            let dials = state.calls.iter().filter(|c| &c.to == number).count();
            let expected = match i % 6 {
                2 | 5 => 1, // voicemail (no retry) and answered
                _ => 2,     // the budget of two attempts
            };
            assert_eq!(dials, expected, "{number}");
        }
    }
    // The last silent calls' leases run out; the sweep takes them back and the campaign ends.
    move_to(&d.app, monday + Duration::minutes(40 * 6 + 91));
    d.app.tick().await;
    d.app.tick().await;
    let campaign = d.campaign().await;
    assert_eq!(campaign["state"], "completed", "{campaign}");
    assert_eq!(campaign["liveCalls"], 0);
    assert_eq!(campaign["outcomes"]["noReport"], 20, "{campaign}");
    assert_eq!(campaign["counts"]["completed"], 20);
    assert_eq!(campaign["counts"]["failed"], 40);
}

#[tokio::test]
async fn a_pause_stops_new_dials_at_the_next_tick() {
    let numbers: Vec<String> = (0..8).map(|i| format!("+1212555{:04}", 4000 + i)).collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let d = started(
        &refs,
        json!({"pacing": {"maxConcurrency": 3, "maxCallsPerSecond": 10}}),
        404,
    )
    .await;
    to_monday(&d.app, 15, 0);
    d.round().await;
    assert_eq!(d.telephony.twilio.dials(), 3);
    // Queued by a tick, then paused before the jobs ran: none of them dials.
    d.app.tick().await;
    let paused = d
        .app
        .post(
            &format!("/api/tenants/{}/campaigns/{}/pause", d.tenant, d.campaign),
            &tokens::admin(),
            json!({}),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK);
    d.app.drain_dialer().await;
    d.round().await;
    assert_eq!(d.telephony.twilio.dials(), 3);
    let campaign = d.campaign().await;
    assert_eq!(campaign["counts"]["pending"], 5, "{campaign}");
    // Resumed, the rest are called.
    d.app
        .post(
            &format!("/api/tenants/{}/campaigns/{}/resume", d.tenant, d.campaign),
            &tokens::admin(),
            json!({}),
        )
        .await;
    for _ in 0..3 {
        d.round().await;
    }
    assert_eq!(d.telephony.twilio.dials(), 8);
}

#[tokio::test]
async fn a_marketing_campaign_calls_only_leads_with_written_consent() {
    const CONSENTED: &str = "+12125550501";
    const NOT: &str = "+12125550502";
    let marketing = json!({"purpose": "marketing"});
    let refused = started_with(&[CONSENTED, NOT], &[CONSENTED], marketing.clone(), "", 405).await;
    let campaign = refused.campaign().await;
    assert_eq!(campaign["state"], "paused", "{campaign}");
    assert_eq!(campaign["pauseReason"], "consentMissing");
    assert_eq!(campaign["enrollment"]["noConsent"], 1);
    to_monday(&refused.app, 15, 0);
    refused.round().await;
    assert_eq!(refused.telephony.twilio.dials(), 0, "nothing is dialed");

    let skipping = started_with(
        &[CONSENTED, NOT],
        &[CONSENTED],
        marketing,
        "?skipWithoutConsent=true",
        406,
    )
    .await;
    to_monday(&skipping.app, 15, 0);
    skipping.round().await;
    let twilio = &skipping.telephony.twilio;
    assert_eq!((twilio.dials_to(CONSENTED), twilio.dials_to(NOT)), (1, 0));
    let skipped = skipping
        .app
        .get(
            &format!(
                "/api/tenants/{}/campaigns/{}/leads?status=skipped",
                skipping.tenant, skipping.campaign
            ),
            &tokens::admin(),
        )
        .await;
    assert_eq!(
        skipped.body["data"][0]["phoneNumber"], NOT,
        "{}",
        skipped.text
    );
    assert_eq!(skipped.body["data"][0]["skipReason"], "noConsent");
}

#[tokio::test]
async fn an_answered_campaign_call_is_recorded_and_handed_to_the_runtime() {
    const LEAD: &str = "+12125550601";
    let d = started(
        &[LEAD],
        json!({"variables": {"offer": "10% off", "plan": "silver"}}),
        407,
    )
    .await;
    to_monday(&d.app, 15, 0);
    d.app.tick().await;
    d.app.drain_dialer().await;
    let twiml = d.telephony.twilio.answer_calls(&d.base).await;
    assert_eq!(twiml.len(), 1);
    assert!(twiml[0].contains("<Response>"), "{}", twiml[0]);
    assert!(
        twiml[0].contains("<Dial") && twiml[0].contains("<Sip"),
        "{}",
        twiml[0]
    );
    let calls = d.app.calls_of(&d.tenant).await;
    let call = &calls[0];
    assert_eq!(call["direction"], "outbound", "{call}");
    assert_eq!(call["to"], LEAD);
    // The runtime's dispatch carries the lead and its variables over the campaign's.
    assert_eq!(d.app.drain_handoffs().await, 1);
    let call_id = call["id"].as_str().unwrap();
    let dispatch = d.app.dispatch_of(call_id).await;
    let campaign = &dispatch["campaign"];
    assert_eq!(campaign["campaign_id"], json!(d.campaign), "{dispatch}");
    assert_eq!(campaign["phone_number"], LEAD);
    assert_eq!(campaign["name"], "Lead 0");
    assert_eq!(
        campaign["variables"],
        json!({"offer": "10% off", "plan": "gold"})
    );
    // Twilio asking again (a retry of the same CallSid) opens nothing new.
    d.telephony.twilio.answer_calls(&d.base).await;
    assert_eq!(d.app.calls_of(&d.tenant).await.len(), 1);
    d.telephony.twilio.finish_calls(&d.base).await;
    d.app.tick().await;
    assert_eq!(d.campaign().await["counts"]["completed"], 1);
    // Twilio's final status ends the call record as well as the attempt.
    let ended = d
        .app
        .get(
            &format!("/client/calls/{call_id}?tenant_id={}", d.tenant),
            &tokens::admin(),
        )
        .await;
    assert_eq!(ended.status, StatusCode::OK, "{}", ended.text);
    assert_eq!(ended.body["data"]["status"], "completed", "{}", ended.text);
    assert_eq!(ended.body["data"]["duration_seconds"], 42, "{}", ended.text);
    // It counts once in the campaign's figures, through its record (not again as a dial).
    let figures = d
        .app
        .get(
            &format!("/api/tenants/{}/analytics?groupBy=campaign", d.tenant),
            &tokens::admin(),
        )
        .await;
    let total = &figures.body["data"]["groups"][0]["total"];
    assert_eq!(
        (&total["calls"], &total["answered"], &total["talkSeconds"]),
        (&json!(1), &json!(1), &json!(42)),
        "{}",
        figures.text
    );
}

#[tokio::test]
async fn the_circuit_breaker_pauses_a_campaign_whose_calls_keep_failing() {
    let numbers: Vec<String> = (0..14)
        .map(|i| format!("+1212555{:04}", 7000 + i))
        .collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let d = started(
        &refs,
        json!({"circuitBreaker": {"failurePercent": 50, "window": 10},
               "retry": {"maxAttempts": 1,
                 "noAnswer": {"retry": false, "delayMinutes": 5},
                 "busy": {"retry": false, "delayMinutes": 5},
                 "voicemail": {"retry": false, "delayMinutes": 5},
                 "failed": {"retry": false, "delayMinutes": 5}}}),
        408,
    )
    .await;
    {
        let mut state = d.telephony.twilio.state.lock().unwrap();
        for (i, number) in numbers.iter().enumerate() {
            // Six of the first ten fail: over half.
            let outcome = if i < 6 {
                CallOutcome::Failed
            } else {
                CallOutcome::Answered
            };
            state.outcomes.insert(number.clone(), outcome);
        }
    }
    to_monday(&d.app, 15, 0);
    d.round().await;
    assert_eq!(d.telephony.twilio.dials(), 10);
    d.round().await;
    let campaign = d.campaign().await;
    assert_eq!(campaign["state"], "paused", "{campaign}");
    assert_eq!(campaign["pauseReason"], "circuitBreaker");
    assert_eq!(
        d.telephony.twilio.dials(),
        10,
        "nothing dialed after the trip"
    );
    assert_eq!(campaign["counts"]["pending"], 4);
}

#[tokio::test]
async fn dials_are_spaced_by_max_calls_per_second() {
    let numbers: Vec<String> = (0..3).map(|i| format!("+1212555{:04}", 8000 + i)).collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let d = started(
        &refs,
        json!({"pacing": {"maxConcurrency": 10, "maxCallsPerSecond": 1}}),
        409,
    )
    .await;
    to_monday(&d.app, 15, 0);
    let report = d.app.tick().await;
    assert_eq!(report.campaigns.queued, 3);
    // The second and third jobs are delivered one and two seconds later, not now.
    d.app.drain_dialer().await;
    assert_eq!(d.telephony.twilio.dials(), 1);
}

#[tokio::test]
async fn a_single_call_is_placed_now_under_the_same_guards() {
    let d = started(&["+12125550901"], json!({}), 410).await;
    let campaign = d.campaign().await;
    let (agent, caller) = (
        campaign["agentId"].as_str().unwrap().to_owned(),
        campaign["callerIds"][0].as_str().unwrap().to_owned(),
    );
    let path = format!("/api/tenants/{}/calls", d.tenant);
    let call = |to: &str| json!({"agentId": agent, "to": to, "callerId": caller, "variables": {"reason": "renewal"}});
    // Monday 15:00 UTC: 10:00 in New York.
    to_monday(&d.app, 15, 0);
    let placed = d
        .app
        .post(&path, &tokens::admin(), call("+12125550902"))
        .await;
    assert_eq!(placed.status, StatusCode::CREATED, "{}", placed.text);
    assert!(
        placed.body["data"]["callSid"]
            .as_str()
            .unwrap()
            .starts_with("CA")
    );
    assert_eq!(d.telephony.twilio.dials_to("+12125550902"), 1);
    let single = placed.body["data"]["campaignId"]
        .as_str()
        .unwrap()
        .to_owned();
    let attempts = d
        .app
        .get(
            &format!(
                "/api/tenants/{}/campaigns/{single}/leads/12125550902/attempts",
                d.tenant
            ),
            &tokens::admin(),
        )
        .await;
    assert_eq!(
        attempts.body["data"][0]["permit"]["rule"], "*",
        "{}",
        attempts.text
    );
    // Not in the campaign list.
    let list = d
        .app
        .get(
            &format!("/api/tenants/{}/campaigns", d.tenant),
            &tokens::admin(),
        )
        .await;
    assert_eq!(list.body["data"].as_array().unwrap().len(), 1);

    // Suppressed: refused, never dialed.
    d.app
        .post(
            &format!("/api/tenants/{}/suppressions", d.tenant),
            &tokens::admin(),
            json!({"phoneNumber": "+12125550903", "reason": "optOut"}),
        )
        .await;
    let refused = d
        .app
        .post(&path, &tokens::admin(), call("+12125550903"))
        .await;
    assert_eq!(
        (refused.status, refused.code()),
        (StatusCode::CONFLICT, "NUMBER_SUPPRESSED"),
        "{}",
        refused.text
    );
    // Los Angeles at 07:00: outside the law's hours.
    let early = d
        .app
        .post(&path, &tokens::admin(), call("+14155550904"))
        .await;
    assert_eq!(
        (early.status, early.code()),
        (StatusCode::CONFLICT, "OUTSIDE_CALLING_HOURS"),
        "{}",
        early.text
    );
    assert_eq!(d.telephony.twilio.dials_to("+12125550903"), 0);
    assert_eq!(d.telephony.twilio.dials_to("+14155550904"), 0);
    // A caller id the tenant does not have is refused before anything is written.
    let foreign = d
        .app
        .post(
            &path,
            &tokens::admin(),
            json!({"agentId": agent, "to": "+12125550905", "callerId": "+15550000000"}),
        )
        .await;
    assert_eq!(foreign.status, StatusCode::BAD_REQUEST, "{}", foreign.text);
}
