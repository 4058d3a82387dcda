//! 500 leads in five US zones at `maxConcurrency` 20, each call's outcome drawn at random (a seeded
//! generator, so a failure replays): what the Twilio stand-in saw is checked against the rules —
//! never more than 20 live calls, never a number twice at once, every dial inside the lead's
//! local hours and the law's, every retry inside the budget and after its outcome's delay, and
//! GOBI's counts equal to the stand-in's.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, Duration, Timelike, Utc, Weekday};
use chrono_tz::Tz;
use gobi_tests::fakes::twilio::CallOutcome;
use serde_json::json;

use crate::dialing::{move_to, started, to_monday};

const LEADS: usize = 500;
const MAX_CONCURRENCY: usize = 20;
const MAX_ATTEMPTS: usize = 3;
/// How long a call that never reports holds its lease (the dialer's `LEASE_MINUTES`).
const LEASE_MINUTES: i64 = 90;
/// Campaign time between rounds (shorter than every retry delay, so a retry too early shows).
const ROUND_MINUTES: i64 = 10;

/// A small seeded generator (xorshift64*): the same draws on every run.
struct Draws(u64);

impl Draws {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n
    }

    /// An outcome: answered 30%, no answer 25%, busy 15%, failed 15%, machine 10%, never 5%.
    fn outcome(&mut self) -> CallOutcome {
        match self.below(100) {
            0..30 => CallOutcome::Answered,
            30..55 => CallOutcome::NoAnswer,
            55..70 => CallOutcome::Busy,
            70..85 => CallOutcome::Failed,
            85..95 => CallOutcome::Machine,
            _ => CallOutcome::Never,
        }
    }
}

/// The area codes of the leads, with the zone and the legal evening end of each (Florida's law
/// ends at 20:00, the federal floor at 21:00).
const AREAS: [(&str, Tz, u32); 5] = [
    ("212", chrono_tz::America::New_York, 21),
    ("305", chrono_tz::America::New_York, 20),
    ("312", chrono_tz::America::Chicago, 21),
    ("303", chrono_tz::America::Denver, 21),
    ("213", chrono_tz::America::Los_Angeles, 21),
];

/// One dial the stand-in received, as the test saw it.
struct Dial {
    to: String,
    placed: DateTime<Utc>,
    outcome: CallOutcome,
    /// When its final status reached GOBI (for a call that never reports: its lease's expiry).
    ended: Option<DateTime<Utc>>,
}

/// The retry delay of each outcome, as the campaign sets it (`None`: not retried).
fn delay(outcome: CallOutcome) -> Option<i64> {
    match outcome {
        CallOutcome::Answered | CallOutcome::Machine => None,
        CallOutcome::NoAnswer => Some(45),
        CallOutcome::Busy => Some(25),
        CallOutcome::Failed | CallOutcome::Never => Some(60),
    }
}

#[tokio::test]
async fn random_outcomes_keep_every_rule_at_the_stand_in() {
    let numbers: Vec<String> = (0..LEADS)
        .map(|i| format!("+1{}555{:04}", AREAS[i % AREAS.len()].0, i))
        .collect();
    let refs: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let d = started(
        &refs,
        json!({
            "pacing": {"maxConcurrency": MAX_CONCURRENCY, "maxCallsPerSecond": MAX_CONCURRENCY},
            "retry": {"maxAttempts": MAX_ATTEMPTS,
                "noAnswer": {"retry": true, "delayMinutes": 45},
                "busy": {"retry": true, "delayMinutes": 25},
                "voicemail": {"retry": false, "delayMinutes": 5},
                "failed": {"retry": true, "delayMinutes": 60}}
        }),
        420,
    )
    .await;
    let twilio = &d.telephony.twilio;
    let mut draws = Draws(0x9E37_79B9_7F4A_7C15);
    let mut dials: Vec<Dial> = Vec::new();
    // Monday 13:00 UTC: 08:00 in New York, 05:00 in Los Angeles.
    let mut now = to_monday(&d.app, 13, 0);
    let mut round = 0;
    let mut nights = 0;
    loop {
        round += 1;
        assert!(round < 400, "the campaign did not finish");
        move_to(&d.app, now);
        d.app.tick().await;
        // Now and then a second tick and every job twice, as EventBridge and SQS may do.
        if draws.below(4) == 0 {
            d.app.tick().await;
            d.app.drain_dialer_twice().await;
        } else {
            d.app.drain_dialer().await;
        }
        let placed: Vec<String> = {
            let state = twilio.state.lock().unwrap();
            state.calls[dials.len()..]
                .iter()
                .map(|c| c.to.clone())
                .collect()
        };
        for to in placed {
            let outcome = draws.outcome();
            dials.push(Dial {
                to,
                placed: now,
                outcome,
                ended: None,
            });
        }
        // Most rounds end the live calls; the rest keep them live over the next tick.
        if draws.below(10) < 7 {
            // Each live call ends with the outcome drawn for it (one live call per number).
            let live: Vec<usize> = {
                let mut state = twilio.state.lock().unwrap();
                let live: Vec<usize> = (0..state.calls.len())
                    .filter(|i| state.calls[*i].live)
                    .collect();
                for i in &live {
                    let to = state.calls[*i].to.clone();
                    state.outcomes.insert(to, dials[*i].outcome);
                }
                live
            };
            twilio.finish_calls(&d.base).await;
            for i in live {
                let dial = &mut dials[i];
                dial.ended = Some(match dial.outcome {
                    CallOutcome::Never => dial.placed + Duration::minutes(LEASE_MINUTES),
                    _ => now,
                });
            }
        }
        let campaign = d.campaign().await;
        if campaign["state"] == "completed" {
            break;
        }
        // Overnight, on to the next opening the campaign names (the clock stays on the rounds).
        now += Duration::minutes(ROUND_MINUTES);
        if campaign["dialingState"]["state"] == "outsideWindow" && twilio.live() == 0 {
            let opening: DateTime<Utc> = campaign["dialingState"]["nextOpening"]
                .as_str()
                .expect("the next opening")
                .parse()
                .unwrap();
            nights += 1;
            while now < opening {
                now += Duration::minutes(ROUND_MINUTES);
            }
        }
    }

    let (max_live, max_live_to_one_number) = {
        let state = twilio.state.lock().unwrap();
        (state.max_live, state.max_live_to_one_number)
    };
    assert!(max_live <= MAX_CONCURRENCY, "live calls reached {max_live}");
    assert_eq!(max_live_to_one_number, 1, "a number dialed twice at once");

    let mut by_number: BTreeMap<&str, Vec<&Dial>> = BTreeMap::new();
    for dial in &dials {
        by_number.entry(&dial.to).or_default().push(dial);
    }
    assert_eq!(by_number.len(), LEADS, "every lead dialed");
    for (number, tries) in &by_number {
        let (_, zone, evening) = AREAS
            .iter()
            .find(|(code, _, _)| number[2..].starts_with(code))
            .expect("an area of the test");
        assert!(
            tries.len() <= MAX_ATTEMPTS,
            "{number}: {} dials",
            tries.len()
        );
        for dial in tries {
            let local = dial.placed.with_timezone(zone);
            assert!(
                !matches!(local.weekday(), Weekday::Sat | Weekday::Sun)
                    && local.hour() >= 8
                    && local.hour() < *evening,
                "{number} dialed at {local}"
            );
        }
        for pair in tries.windows(2) {
            let outcome = pair[0].outcome;
            let wait =
                delay(outcome).unwrap_or_else(|| panic!("{number} redialed after {outcome:?}"));
            let ended = pair[0].ended.expect("the earlier call ended");
            assert!(
                pair[1].placed >= ended + Duration::minutes(wait),
                "{number}: redialed at {} after {outcome:?} ended at {ended}",
                pair[1].placed
            );
        }
        // A lead left with budget and a retried outcome was dialed again.
        let last = tries.last().expect("dialed").outcome;
        assert!(
            tries.len() == MAX_ATTEMPTS || delay(last).is_none(),
            "{number}: {} dials, the last {last:?}",
            tries.len()
        );
    }

    // GOBI's counts are the stand-in's.
    let count =
        |wanted: &[CallOutcome]| dials.iter().filter(|d| wanted.contains(&d.outcome)).count();
    let campaign = d.campaign().await;
    let o = &campaign["outcomes"];
    assert_eq!(o["answered"], count(&[CallOutcome::Answered]), "{campaign}");
    assert_eq!(o["voicemail"], count(&[CallOutcome::Machine]), "{campaign}");
    assert_eq!(o["busy"], count(&[CallOutcome::Busy]), "{campaign}");
    assert_eq!(o["noAnswer"], count(&[CallOutcome::NoAnswer]), "{campaign}");
    assert_eq!(o["failed"], count(&[CallOutcome::Failed]), "{campaign}");
    assert_eq!(o["noReport"], count(&[CallOutcome::Never]), "{campaign}");
    let finished = |wanted: &[CallOutcome]| {
        by_number
            .values()
            .filter(|tries| wanted.contains(&tries.last().unwrap().outcome))
            .count()
    };
    assert_eq!(
        campaign["counts"]["completed"],
        finished(&[CallOutcome::Answered, CallOutcome::Machine]),
        "{campaign}"
    );
    assert_eq!(
        campaign["counts"]["failed"],
        finished(&[
            CallOutcome::NoAnswer,
            CallOutcome::Busy,
            CallOutcome::Failed,
            CallOutcome::Never
        ]),
        "{campaign}"
    );
    assert_eq!(campaign["liveCalls"], 0);
    // The campaign's analytics count every dial that reported, with a call record (answered
    // ones) or without (the rest): a machine is answered and voicemail; a call that never
    // reported is left out.
    let analytics = d
        .app
        .get(
            &format!(
                "/api/tenants/{}/analytics?groupBy=campaign&from={}&to={}",
                d.tenant,
                now.date_naive() - Duration::days(30),
                now.date_naive() + Duration::days(1)
            ),
            &gobi_tests::tokens::admin(),
        )
        .await;
    assert_eq!(analytics.status, http::StatusCode::OK, "{}", analytics.text);
    let figures = &analytics.body["data"]["groups"][0];
    assert_eq!(figures["key"], d.campaign.as_str(), "{}", analytics.text);
    let figures = &figures["total"];
    assert_eq!(
        figures["calls"],
        dials.len() - count(&[CallOutcome::Never]),
        "{figures}"
    );
    assert_eq!(
        figures["answered"],
        count(&[CallOutcome::Answered, CallOutcome::Machine]),
        "{figures}"
    );
    assert_eq!(
        figures["voicemail"],
        count(&[CallOutcome::Machine]),
        "{figures}"
    );
    assert!(
        nights >= 1,
        "the campaign never said it waited for the morning"
    );
    eprintln!(
        "{} dials over {round} rounds of {ROUND_MINUTES} minutes, at most {max_live} live",
        dials.len()
    );
}
