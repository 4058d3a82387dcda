//! A stand-in for Twilio's REST API (2010-04-01): available numbers, incoming numbers, and
//! outbound calls — placed calls are held live until [`FakeTwilio::finish_calls`] ends them with
//! the outcome chosen for their number and posts Twilio's signed status callback to GOBI.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Form, Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use base64::Engine;
use serde_json::{Value, json};

/// One request the fake received.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: &'static str,
    pub path: String,
    pub fields: BTreeMap<String, String>,
}

#[derive(Debug, Default)]
pub struct TwilioState {
    pub requests: Vec<Received>,
    /// E.164 → SID of the numbers the account owns.
    pub owned: BTreeMap<String, String>,
    /// Numbers that are no longer for sale.
    pub unavailable: HashSet<String>,
    /// Answer every release with a 500.
    pub fail_release: bool,
    /// Answer every request with this status and Twilio error code.
    pub outage: Option<(u16, i64)>,
    next_sid: u64,
    /// Outbound calls placed, in order.
    pub calls: Vec<FakeCall>,
    /// How a call to a number ends (answered by a person when not named).
    pub outcomes: BTreeMap<String, CallOutcome>,
    /// The most calls live at once, overall and to any one number.
    pub max_live: usize,
    pub max_live_to_one_number: usize,
}

/// How a placed call ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CallOutcome {
    Answered,
    Busy,
    NoAnswer,
    Machine,
    Failed,
    /// The call ends but its status callback never arrives.
    Never,
}

/// One outbound call the fake placed.
#[derive(Debug, Clone)]
pub struct FakeCall {
    pub sid: String,
    pub to: String,
    pub from: String,
    pub status_callback: String,
    /// Where Twilio asks for TwiML once the call is answered.
    pub answer_url: String,
    pub machine_detection: bool,
    pub live: bool,
}

impl TwilioState {
    fn live(&self) -> impl Iterator<Item = &FakeCall> {
        self.calls.iter().filter(|c| c.live)
    }
}

/// A fake Twilio account with its credentials.
#[derive(Clone)]
pub struct FakeTwilio {
    pub account_sid: String,
    pub auth_token: String,
    pub state: Arc<Mutex<TwilioState>>,
}

impl FakeTwilio {
    pub fn new(account_sid: &str, auth_token: &str) -> Self {
        Self {
            account_sid: account_sid.into(),
            auth_token: auth_token.into(),
            state: Arc::default(),
        }
    }

    pub fn purchases(&self) -> Vec<Received> {
        self.requests_to("POST")
    }

    pub fn releases(&self) -> Vec<Received> {
        self.requests_to("DELETE")
    }

    fn requests_to(&self, method: &str) -> Vec<Received> {
        self.state
            .lock()
            .unwrap()
            .requests
            .iter()
            .filter(|r| r.method == method)
            .cloned()
            .collect()
    }

    pub fn router(&self) -> Router {
        Router::new()
            .route(
                "/2010-04-01/Accounts/{account}/AvailablePhoneNumbers/{country}/{kind}",
                get(available),
            )
            .route(
                "/2010-04-01/Accounts/{account}/IncomingPhoneNumbers.json",
                get(list_owned).post(purchase),
            )
            .route(
                "/2010-04-01/Accounts/{account}/IncomingPhoneNumbers/{sid}",
                delete(release),
            )
            .route(
                "/2010-04-01/Accounts/{account}/Calls.json",
                axum::routing::post(place_call),
            )
            .with_state(self.clone())
    }

    /// Calls placed to `number` so far.
    pub fn dials_to(&self, number: &str) -> usize {
        self.state
            .lock()
            .unwrap()
            .calls
            .iter()
            .filter(|c| c.to == number)
            .count()
    }

    /// Answers every live call as a person would: Twilio requests its answer URL (signed, on
    /// `deliver_to`) and gets TwiML back. The TwiML of each call.
    pub async fn answer_calls(&self, deliver_to: &str) -> Vec<String> {
        let live: Vec<FakeCall> = self.state.lock().unwrap().live().cloned().collect();
        let mut answers = Vec::new();
        for call in live {
            let mut params = vec![
                ("AccountSid".to_owned(), self.account_sid.clone()),
                ("CallSid".to_owned(), call.sid.clone()),
                ("CallStatus".to_owned(), "in-progress".to_owned()),
                ("Direction".to_owned(), "outbound-api".to_owned()),
                ("From".to_owned(), call.from.clone()),
                ("To".to_owned(), call.to.clone()),
            ];
            if call.machine_detection {
                params.push(("AnsweredBy".to_owned(), "human".to_owned()));
            }
            let signature = sign(&self.auth_token, &call.answer_url, &params);
            let url = url::Url::parse(&call.answer_url).expect("answer URL");
            let target = format!(
                "{deliver_to}{}?{}",
                url.path(),
                url.query().unwrap_or_default()
            );
            let answer = gobi_shared::https::client()
                .post(&target)
                .header("x-twilio-signature", signature)
                .form(&params)
                .send()
                .await
                .expect("requesting the answer URL");
            assert!(answer.status().is_success(), "{}", answer.status());
            answers.push(answer.text().await.unwrap_or_default());
        }
        answers
    }

    /// Calls placed so far.
    pub fn dials(&self) -> usize {
        self.state.lock().unwrap().calls.len()
    }

    /// Calls live now.
    pub fn live(&self) -> usize {
        self.state.lock().unwrap().live().count()
    }

    /// Ends every live call, posting its final status callback (except for `Never` numbers),
    /// signed as Twilio signs (over the `StatusCallback` URL GOBI gave), to the same path and
    /// query on `deliver_to` (GOBI served locally). The callbacks delivered.
    pub async fn finish_calls(&self, deliver_to: &str) -> usize {
        let ending: Vec<(FakeCall, CallOutcome)> = {
            let mut state = self.state.lock().unwrap();
            let outcomes = state.outcomes.clone();
            state
                .calls
                .iter_mut()
                .filter(|c| c.live)
                .filter_map(|call| {
                    let outcome = outcomes
                        .get(&call.to)
                        .copied()
                        .unwrap_or(CallOutcome::Answered);
                    // The call ends either way; a `Never` one's callback is lost.
                    call.live = false;
                    (outcome != CallOutcome::Never).then(|| (call.clone(), outcome))
                })
                .collect()
        };
        let client = gobi_shared::https::client();
        for (call, outcome) in &ending {
            let (status, answered_by) = match outcome {
                CallOutcome::Answered => ("completed", Some("human")),
                CallOutcome::Machine => ("completed", Some("machine_end_beep")),
                CallOutcome::Busy => ("busy", None),
                CallOutcome::NoAnswer => ("no-answer", None),
                CallOutcome::Failed | CallOutcome::Never => ("failed", None),
            };
            let mut params = vec![
                ("AccountSid".to_owned(), self.account_sid.clone()),
                ("CallSid".to_owned(), call.sid.clone()),
                ("CallStatus".to_owned(), status.to_owned()),
                ("Direction".to_owned(), "outbound-api".to_owned()),
                ("From".to_owned(), call.from.clone()),
                ("To".to_owned(), call.to.clone()),
                ("CallDuration".to_owned(), "42".to_owned()),
            ];
            if let (Some(by), true) = (answered_by, call.machine_detection) {
                params.push(("AnsweredBy".to_owned(), by.to_owned()));
            }
            let signature = sign(&self.auth_token, &call.status_callback, &params);
            let url = url::Url::parse(&call.status_callback).expect("callback URL");
            let target = format!(
                "{deliver_to}{}?{}",
                url.path(),
                url.query().unwrap_or_default()
            );
            let answer = client
                .post(&target)
                .header("x-twilio-signature", signature)
                .form(&params)
                .send()
                .await
                .expect("delivering a status callback");
            assert!(
                answer.status().is_success(),
                "GOBI refused a status callback: {}",
                answer.status()
            );
        }
        ending.len()
    }

    /// Checks the Basic auth header and the account in the path, as Twilio does.
    fn refusal(&self, headers: &HeaderMap, account: &str) -> Option<Response> {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", self.account_sid, self.auth_token))
        );
        let given = headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if given != expected || account != self.account_sid {
            return Some(error(401, 20003, "Authenticate"));
        }
        if let Some((status, code)) = self.state.lock().unwrap().outage {
            return Some(error(status, code, "Service unavailable"));
        }
        None
    }

    fn record(&self, method: &'static str, path: String, fields: BTreeMap<String, String>) {
        self.state.lock().unwrap().requests.push(Received {
            method,
            path,
            fields,
        });
    }
}

fn error(status: u16, code: i64, message: &str) -> Response {
    let body = json!({
        "code": code,
        "message": message,
        "more_info": format!("https://www.twilio.com/docs/errors/{code}"),
        "status": status
    });
    (StatusCode::from_u16(status).unwrap(), Json(body)).into_response()
}

const DATE: &str = "Mon, 20 Jan 2025 12:00:00 +0000";

fn incoming(sid: &str, number: &str, voice_url: &str) -> Value {
    json!({
        "sid": sid,
        "phone_number": number,
        "friendly_name": number,
        "status": "in-use",
        "voice_url": voice_url,
        "date_created": DATE,
        "date_updated": DATE
    })
}

async fn available(
    State(fake): State<FakeTwilio>,
    headers: HeaderMap,
    Path((account, country, kind)): Path<(String, String, String)>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = fake.refusal(&headers, &account) {
        return r;
    }
    fake.record(
        "GET",
        format!("AvailablePhoneNumbers/{country}/{kind}"),
        query.clone(),
    );
    if !["Local.json", "TollFree.json", "Mobile.json"].contains(&kind.as_str()) {
        return error(404, 20404, "The requested resource was not found");
    }
    if country != "US" {
        return error(404, 20404, "The requested resource was not found");
    }
    let area = query.get("AreaCode").cloned().unwrap_or_else(|| {
        if kind == "TollFree.json" {
            "800".into()
        } else {
            "555".into()
        }
    });
    let size: usize = query
        .get("PageSize")
        .and_then(|s| s.parse().ok())
        .unwrap_or(50)
        .min(50);
    let numbers: Vec<Value> = (0..size.min(3))
        .map(|i| format!("+1{area}010{i:04}"))
        .filter(|n| {
            query
                .get("Contains")
                .is_none_or(|c| n.contains(c.trim_matches('*')))
        })
        .map(|n| {
            json!({
                "friendly_name": format!("({area}) 010-{}", &n[n.len() - 4..]),
                "phone_number": n,
                "locality": "Springfield",
                "region": "IL",
                "iso_country": "US",
                "capabilities": {"voice": true, "SMS": true, "MMS": false}
            })
        })
        .collect();
    Json(json!({"available_phone_numbers": numbers, "uri": "/2010-04-01/..."})).into_response()
}

async fn list_owned(
    State(fake): State<FakeTwilio>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Query(query): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = fake.refusal(&headers, &account) {
        return r;
    }
    fake.record("GET", "IncomingPhoneNumbers".into(), query.clone());
    let state = fake.state.lock().unwrap();
    let numbers: Vec<Value> = state
        .owned
        .iter()
        .filter(|(number, _)| {
            query
                .get("PhoneNumber")
                .is_none_or(|wanted| wanted == *number)
        })
        .map(|(number, sid)| incoming(sid, number, ""))
        .collect();
    Json(json!({"incoming_phone_numbers": numbers})).into_response()
}

async fn purchase(
    State(fake): State<FakeTwilio>,
    headers: HeaderMap,
    Path(account): Path<String>,
    Form(form): Form<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = fake.refusal(&headers, &account) {
        return r;
    }
    fake.record("POST", "IncomingPhoneNumbers".into(), form.clone());
    let Some(number) = form.get("PhoneNumber").cloned() else {
        return error(400, 21421, "PhoneNumber is required");
    };
    let voice_url = form.get("VoiceUrl").cloned().unwrap_or_default();
    if !voice_url.starts_with("http") {
        return error(400, 21502, "VoiceUrl is not a valid URL");
    }
    let mut state = fake.state.lock().unwrap();
    if state.unavailable.contains(&number) || state.owned.contains_key(&number) {
        return error(400, 21452, "No phone numbers found");
    }
    state.next_sid += 1;
    let sid = format!("PN{:032x}", state.next_sid);
    state.owned.insert(number.clone(), sid.clone());
    (
        StatusCode::CREATED,
        Json(incoming(&sid, &number, &voice_url)),
    )
        .into_response()
}

async fn release(
    State(fake): State<FakeTwilio>,
    headers: HeaderMap,
    Path((account, sid)): Path<(String, String)>,
) -> Response {
    if let Some(r) = fake.refusal(&headers, &account) {
        return r;
    }
    let sid = sid.trim_end_matches(".json").to_owned();
    fake.record(
        "DELETE",
        format!("IncomingPhoneNumbers/{sid}"),
        BTreeMap::new(),
    );
    let mut state = fake.state.lock().unwrap();
    if state.fail_release {
        return error(500, 20500, "Internal Server Error");
    }
    let before = state.owned.len();
    state.owned.retain(|_, owned| *owned != sid);
    if state.owned.len() == before {
        return error(404, 20404, "The requested resource was not found");
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn place_call(
    State(fake): State<FakeTwilio>,
    headers: HeaderMap,
    Path(account): Path<String>,
    body: axum::body::Bytes,
) -> Response {
    if let Some(r) = fake.refusal(&headers, &account) {
        return r;
    }
    // Repeated keys (StatusCallbackEvent) are allowed, as Twilio reads them.
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let field = |name: &str| {
        pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    fake.record("POST", "Calls".into(), pairs.iter().cloned().collect());
    let (Some(to), Some(from), Some(answer_url)) = (field("To"), field("From"), field("Url"))
    else {
        return error(400, 21205, "To, From and Url are required");
    };
    if !answer_url.starts_with("http") {
        return error(400, 21205, "Url is not a valid URL");
    }
    let mut state = fake.state.lock().unwrap();
    state.next_sid += 1;
    let sid = format!("CA{:032x}", state.next_sid);
    state.calls.push(FakeCall {
        sid: sid.clone(),
        to: to.clone(),
        from: from.clone(),
        status_callback: field("StatusCallback").unwrap_or_default(),
        answer_url: answer_url.clone(),
        machine_detection: field("MachineDetection").is_some(),
        live: true,
    });
    let live = state.live().count();
    let to_one = state.live().filter(|c| c.to == to).count();
    state.max_live = state.max_live.max(live);
    state.max_live_to_one_number = state.max_live_to_one_number.max(to_one);
    (
        StatusCode::CREATED,
        Json(json!({"sid": sid, "status": "queued", "to": to, "from": from, "direction": "outbound-api"})),
    )
        .into_response()
}

/// Twilio's request signature, written here from Twilio's description ("Validating Requests":
/// HMAC-SHA1 with the auth token over the full URL followed by each POST parameter, sorted by
/// name, as name then value; base64), not from GOBI's checker.
pub fn sign(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    use hmac::Mac;
    let mut sorted = params.to_vec();
    sorted.sort();
    let mut text = url.to_owned();
    for (name, value) in &sorted {
        text.push_str(name);
        text.push_str(value);
    }
    let mut mac = hmac::Hmac::<sha1::Sha1>::new_from_slice(auth_token.as_bytes())
        .expect("HMAC takes any key");
    mac.update(text.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}
